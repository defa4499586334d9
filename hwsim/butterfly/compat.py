"""``--compat butterfly-acc``: the authors' simulator (SamsungLabs/Butterfly_Acc @ 1bb951f,
``hardware/npu_design/simulator/``), reproduced in closed form with the same floating-point values.

What it counts, per layer (spec B.4; every quirk kept on purpose):

* FFT layer (``run_fft``): always of length ``hidden`` (rounded up to a power of two), over ``seq``
  vectors -- also the "2nd-dimension" FFT, which really runs over the sequence;
  ``F = max(compute, RAM reads) + max(input, coefficients)`` per run and
  ``F + (R - 2) * max(F, out)`` for R = ceil(seq / P_BE) runs (one run too few: the last drain is assumed
  to overlap the next layer).
* butterfly linear layer (``run_bfly``): a three-stage load / compute / drain pipeline,
  ``A + B + [R >= 3] ((R - 3) max(A, B, out) + max(B, out))`` with R = ceil(seq / P_BE) * nstacks.
* no pipeline fill, no LayerNorm / shortcut / GELU cost; latency = layers * cycles / f / efficiency.

All divisions are Python true divisions as in the reference, so the numbers (floats) are identical.
The reference's own asserts (data BRAM sized by max(FFN, seq)) are raised here as :class:`CompatError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..layers import WorkloadError

NAME = "butterfly-acc"
REFERENCE = "SamsungLabs/Butterfly_Acc 1bb951f"
BIT_WIDTH = 16


class CompatError(WorkloadError):
    """A configuration the authors' simulator cannot run (it would fail one of its asserts)."""


def ceil_power2(x: int) -> int:
    if x < 2:
        raise CompatError(f"--compat {NAME}: size {x}: the reference needs >= 2 (ceil_power2)")
    return 2 << ((x - 1).bit_length() - 1)


def _dram(bw: int, height: int, width: int, bits: int) -> int:
    if bw % bits:
        raise CompatError(f"--compat {NAME}: off-chip bandwidth {bw} bits is not a multiple of {bits}")
    return int(math.ceil(width * height / (bw // bits)))


@dataclass
class Counters:
    """The reference's access counters (``num_read_access`` / ``num_write_access``), same names."""
    indata_dram: list = field(default_factory=lambda: [0, 0])
    coef_dram: list = field(default_factory=lambda: [0, 0])
    outdata_dram: list = field(default_factory=lambda: [0, 0])
    data_bram_a_0: list = field(default_factory=lambda: [0, 0])
    data_bram_b_0: list = field(default_factory=lambda: [0, 0])
    coef_bram: list = field(default_factory=lambda: [0, 0])

    def as_dict(self) -> dict:
        return {k: list(v) for k, v in self.__dict__.items()}


class ButterflyAccCompat:
    """The reference ``Butterfly_Accelerator`` state (sizes, bandwidths, run_cycles, counters)."""

    def __init__(self, hidden: int, seq: int, ffn: int, p_bu: int, p_be: int,
                 bw_in: int, bw_coef: int, bw_out: int):
        self.hidden_dim = ceil_power2(hidden)
        self.ffn_inner_dim = ceil_power2(ffn)
        self.num_len = seq
        self.pbu, self.pbe = p_bu, p_be
        self.bw_in, self.bw_coef, self.bw_out = bw_in, bw_coef, bw_out
        self.max_length = max(ceil_power2(self.ffn_inner_dim), ceil_power2(seq))
        self.run_cycles = 0
        self.c = Counters()

    # the data BRAM: width 16 x 2 P_BU banks, height max_length / (2 P_BU)
    def _bram_check(self, n: int) -> None:
        if n > self.max_length:
            raise CompatError(f"--compat {NAME}: a length-{n} layer does not fit the reference's data BRAM "
                              f"(sized by max(ffn, seq) = {self.max_length}); the reference asserts here")

    def _data_bram(self, n: int, stages: int):
        depth = (1 * BIT_WIDTH) / (BIT_WIDTH * 2 * self.pbu)
        reads = 0
        for _ in range(stages):
            reads += depth * n
        w = depth * n
        for bank in (self.c.data_bram_a_0, self.c.data_bram_b_0):
            bank[1] += w
            for _ in range(stages):
                bank[0] += depth * n
            bank[0] += depth * n            # P2S read-out
        return reads

    def _accumulate(self, first, count: int, step, first_done: bool = False):
        """run_cycles += first, then += step ``count`` times, with the reference's float results: one
        multiplication when every value is an integer (then exact), else the same repeated additions."""
        start = self.run_cycles
        if not first_done:
            self.run_cycles += first
        if count > 0:
            if float(step).is_integer() and float(self.run_cycles).is_integer():
                self.run_cycles += count * step
            else:
                for _ in range(count):
                    self.run_cycles += step
        return self.run_cycles - start

    def run_fft(self, complex_input: bool, complex_output: bool, is_last: bool = False):
        n, log = self.hidden_dim, self.hidden_dim.bit_length() - 1
        self._bram_check(n)
        num_run = int(math.ceil(float(self.num_len) / self.pbe))
        din = _dram(self.bw_in, n, self.pbe, (2 if complex_input else 1) * BIT_WIDTH)
        self.c.indata_dram[0] += din
        inp = max(din, n)
        dcoef = _dram(self.bw_coef, log, n, 2 * BIT_WIDTH)
        self.c.coef_dram[0] += dcoef
        bcoef = (n * 2 * BIT_WIDTH) / (2 * BIT_WIDTH * 4 * self.pbu) * log
        self.c.coef_bram[1] += bcoef
        wgt = max(dcoef, bcoef)
        reads = self._data_bram(n, log)
        compute = n / (2 * self.pbu) * log
        f = max(compute, reads) + max(inp, wgt)
        dout = _dram(self.bw_out, n, self.pbe, (2 if complex_output else 1) * BIT_WIDTH)
        self.c.outdata_dram[1] += dout
        out = max(dout, n)
        runs = num_run - (0 if is_last else 1)
        cycles = self._accumulate(f, runs - 1, max(f, out))
        return cycles, {"input_data": inp, "weight_data": wgt, "compute": max(compute, reads),
                        "output_data": out, "runs": num_run}

    def run_bfly(self, height: int, width1: int, width2: int, is_last: bool = False):
        multi = int(width2 / width1) if width1 < width2 else 1
        num_run = int(math.ceil(float(height) / self.pbe)) * multi
        w, log = width1, width1.bit_length() - 1
        self._bram_check(w)
        din = _dram(self.bw_in, w, self.pbe, BIT_WIDTH)
        self.c.indata_dram[0] += din
        inp = max(din, w)
        dcoef = _dram(self.bw_coef, log, 2 * w, BIT_WIDTH)
        self.c.coef_dram[0] += dcoef
        bcoef = (2 * w * BIT_WIDTH) / (2 * BIT_WIDTH * 4 * self.pbu) * log
        self.c.coef_bram[1] += bcoef
        a = max(inp, max(dcoef, bcoef))
        reads = self._data_bram(w, log)
        b = max(w / (2 * self.pbu) * log, reads)
        dout = _dram(self.bw_out, w, self.pbe, BIT_WIDTH)
        self.c.outdata_dram[1] += dout
        out = max(dout, w)
        runs = num_run - (0 if is_last else 1)
        start = self.run_cycles
        self.run_cycles += a
        self.run_cycles += b
        if runs >= 2:
            self._accumulate(0, runs - 2, max(a, b, out), first_done=True)
            self.run_cycles += max(b, out)
        return self.run_cycles - start, {"input_weight": a, "compute": b, "output_data": out, "runs": num_run}


def fabnet(hidden: int, ffn: int, seq: int, layers: int, *, p_be: int, p_bu: int, bw: tuple[int, int, int],
           frequency: float = 200, efficiency: float = 0.85) -> dict:
    """``simulator_bfly.simulation`` for any FABNet shape: the reference's numbers under its own names."""
    acc = ButterflyAccCompat(hidden, seq, ffn, p_bu, p_be, *bw)
    names = ("fft_1st_dim", "fft_2nd_dim", "bfly_ffn1", "bfly_ffn2")
    calls = (lambda: acc.run_fft(False, True), lambda: acc.run_fft(True, False),
             lambda: acc.run_bfly(acc.num_len, acc.hidden_dim, acc.ffn_inner_dim),
             lambda: acc.run_bfly(acc.num_len, acc.ffn_inner_dim, acc.hidden_dim))
    per_layer, parts = [], {}
    for name, call in zip(names, calls):
        cyc, part = call()
        per_layer.append(cyc)
        parts[name] = part
    network_run_cost = layers * acc.run_cycles
    ms_per_clock = (1.0 / frequency / 1000) / efficiency
    return {"simulator": REFERENCE, "hidden_dim": acc.hidden_dim, "ffn_inner_dim": acc.ffn_inner_dim,
            "num_len": seq, "num_layer": layers, "parallesm_be": p_be, "parallesm_bu": p_bu,
            "indata_dram_bw": bw[0], "coef_dram_bw": bw[1], "outdata_dram_bw": bw[2],
            "frequency": frequency, "efficiency": efficiency,
            "layer_cycles": dict(zip(names, per_layer)), "layer_parts": parts,
            "run_cycles": acc.run_cycles, "network_run_cost": network_run_cost,
            "overall_latency_ms": network_run_cost * ms_per_clock, "counters": acc.c.as_dict()}


def single_layer(kind: str, n_in: int, n_out: int, seq: int, *, p_be: int, p_bu: int,
                 bw: tuple[int, int, int], frequency: float = 200, efficiency: float = 0.85,
                 complex_input: bool = True, complex_output: bool = True) -> dict:
    """One ``run_fft`` (length n_in) or one ``run_bfly`` (n_in -> n_out) of the reference, alone."""
    if kind == "fft":
        acc = ButterflyAccCompat(n_in, seq, n_in, p_bu, p_be, *bw)
        cyc, part = acc.run_fft(complex_input, complex_output)
    else:
        acc = ButterflyAccCompat(n_in, seq, max(n_in, n_out), p_bu, p_be, *bw)
        cyc, part = acc.run_bfly(seq, ceil_power2(n_in), ceil_power2(n_out))
    ms_per_clock = (1.0 / frequency / 1000) / efficiency
    return {"simulator": REFERENCE, "call": "run_fft" if kind == "fft" else "run_bfly", "num_len": seq,
            "parallesm_be": p_be, "parallesm_bu": p_bu, "indata_dram_bw": bw[0], "coef_dram_bw": bw[1],
            "outdata_dram_bw": bw[2], "frequency": frequency, "efficiency": efficiency,
            "layer_cycles": {kind: cyc}, "layer_parts": {kind: part},
            "run_cycles": acc.run_cycles, "network_run_cost": acc.run_cycles,
            "overall_latency_ms": acc.run_cycles * ms_per_clock, "counters": acc.c.as_dict()}
