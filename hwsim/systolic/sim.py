"""Systolic-array simulator (``kind: systolic``): cycle-level, analytical and SCALE-Sim-compatible.

    sim = hwsim.build("designs/sa_ws_8x8_int8.yaml")
    res = sim.run("gemm:20,13,30")                 # mode="auto": cycle-level when small enough
    res.cycles, res.compute_cycles, res.utilization, res.layers[0].sram, res.energy_pj
    res.outputs[0]                                  # int64 [M, N]: wrap(decode(A) @ decode(W))
    res.scalesim()                                  # SCALE-Sim 3.0.0-compatible per-layer numbers

The microarchitecture (docs/systolic.md) is an R x C array of PEs (hwsim.pe) with one of three dataflows.
Every layer is a GEMM ``Y[M, N] = A[M, K] @ W[K, N]`` split into *folds* (tiles that fit the array):

=====  ==========  ==========  ======  ==================  ===========================================
flow   array rows  array cols  stream  stationary in PEs   fold cycles (L = pe_latency)
=====  ==========  ==========  ======  ==================  ===========================================
ws     K           N           M       W tile              R + M + L*R + C - 1   (load, stream, drain)
is     K           M           N       A^T tile            R + N + L*R + C - 1
os     M           N           K       Y tile (accum.)     K + R + C + L - 3     (+ R drain after last)
=====  ==========  ==========  ======  ==================  ===========================================

Folds run back to back (column folds outer, row folds inner, as SCALE-Sim orders them), with no overlap
except the OS output drain, which overlaps the next fold. The cycle after ``start`` issues the first
memory read, whose data reaches the array RL cycles later (RL = 1, or 2 with
``array.register_memory_outputs``); ``done`` rises at the edge that ends the last result write::

    cycles(ws/is) = RL + F * fold_cycles         cycles(os) = RL + F * fold_cycles + R

``mode="cycle"`` runs the Numba kernels of hwsim.systolic.kernels, which advance the clock and move
operands through the PE registers, and checks the result bit-exactly against a numpy reference;
``mode="analytical"`` uses the closed forms above (tests check they are equal, cycle for cycle, and that
every memory-access count is equal). DRAM traffic, stall cycles and energy are estimates from a
documented model (labelled as such); compute cycles are exact for the microarchitecture.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

import datatypes as dt

from ..design import Design
from ..energy import EnergyTable

from ..pe.model import PEError, PEFormat, has_selector, pe_format, reference_gemm, weight_pe_format
from ..report import Progress
from ..workloads import Conv, Gemm, Network, WorkloadError, check_seed, network, parse
from . import epilogue as epi_
from .memory import memories, misfit
from .spec import result_bits
from .result import LayerResult, SystolicResult
from .timing import MAX_COMPAT_FOLDS, FoldPlan

#: mode="auto" runs the cycle-level kernels when a workload needs at most this many PE-cycles
#: (one instance of every layer) and at most AUTO_CYCLE_CLOCKS clock cycles, else the analytical mode.
#: Sized so an auto cycle-level run takes at most about 1 CPU-s (operands, kernel and numpy check; measured
#: 1.4-1.7 G PE-cycles per CPU-s on 8x8, 2.3-4.2 G on 32x32-128x128, benchmarks/bench_systolic.txt).
AUTO_CYCLE_LIMIT = 1e9
#: Small arrays are bound by per-cycle bookkeeping (~2-3e7 clock cycles per CPU-s on 4x4-8x8), not PEs.
AUTO_CYCLE_CLOCKS = 2e7
#: The cycle-level mode holds a layer's A, W and Y (M*K + K*N + M*N elements) in memory: at most this many.
CYCLE_MAX_ELEMENTS = 1 << 26


def _elements(layer: Gemm) -> int:
    return layer.M * layer.K + layer.K * layer.N + layer.M * layer.N


def _bytes(elements: int, bits: int) -> float:
    return elements * bits / 8.0


class SystolicSim:
    """A built systolic design. ``run(workload)`` simulates it; see the module docstring."""

    def __init__(self, design: Design):
        if design.kind != "systolic":
            raise WorkloadError(f"{design.source}: kind = {design.kind!r}: SystolicSim needs kind systolic")
        self.design = design              # validated by hwsim.systolic.spec (types, formats, widths, tiles)
        a, ops, mem = design.array, design.operands, design.memory
        self.R, self.C, self.L, self.dataflow = a.rows, a.cols, a.pe_latency, a.dataflow
        self.read_latency = a.read_latency
        self.wfmt: PEFormat = weight_pe_format(ops.weight)   # selector formats: lanes code | sel << bits
        self.selector = has_selector(ops.weight)
        self.group = ops.group_size
        #: the scale epilogue (hwsim.systolic.epilogue), None when the result is the integer GEMM
        self.epilogue = design.epilogue if design.epilogue.scales == "fixed" else None
        self.res_bits = result_bits(design)
        #: MX formats: the group scale is a shared power-of-two exponent (E8M0 codes from the quantizer)
        self.pow2_scales = epi_.is_pow2_scaled(ops.weight)
        self.code_bits, self.group_bits = weight_storage_bits(design)
        #: the K-group the per-group bits are stored for: group_size, or the format's fixed group (MX: 32)
        wf = dt.get(ops.weight)
        self.storage_group = ops.group_size if ops.group_size is not None or wf.group_sizes is None \
            or None in wf.group_sizes else wf.default_group_size
        self.afmt: PEFormat = pe_format(ops.activation)
        self.acc_bits = ops.acc_bits
        self.frac_bits = self.wfmt.frac_bits + self.afmt.frac_bits
        self.energy = EnergyTable.from_design(design)
        self.backing = mem.backing
        self.sram_bytes = {"ifmap": mem.ifmap_kb * 1024, "filter": mem.filter_kb * 1024,
                           "ofmap": mem.ofmap_kb * 1024}
        self.memories = memories(self.R, self.C, self.dataflow, self.wfmt.bits, self.afmt.bits, self.res_bits,
                                 mem.kb)

    def check_fits(self, layer: Gemm) -> None:
        """With ``memory.backing: none`` a layer's operands and results must fit in the SRAMs, by the
        RTL's rule: each operand's padded lane words within its memory's depth (hwsim.systolic.memory)."""
        if self.backing != "none":
            return
        why = misfit(self.memories, self.R, self.C, self.dataflow, layer.M, layer.N, layer.K,
                     self.design.memory.kb)
        if why:
            raise WorkloadError(
                f"{layer.source or 'workload'}: layer {layer.name!r} does not fit the memory of "
                f"{self.design.source}: {why}, and memory.backing = none (operands must be resident); use a "
                f"smaller layer or a design with backing: dram")

    def dram_model(self, plan: FoldPlan, plan_a_elems: int = 0) -> dict[str, float]:
        """DRAM bytes of one instance (estimate). An operand is fetched once if its reuse footprint fits
        in half its SRAM (the other half prefetches), else once per reuse; output partial sums that do not
        fit in half the output SRAM spill (written every row fold, read back for accumulation).
        ``plan_a_elems``: distinct activation elements (a conv's input, not its im2col matrix)."""
        if self.backing == "none":
            return {"weight_read": 0.0, "activation_read": 0.0, "output_write": 0.0, "output_read": 0.0}
        M, N, K, R, C = plan.M, plan.N, plan.K, self.R, self.C
        wb, ab, ob = self.weight_bits(K), self.afmt.bits, self.acc_bits
        half = {k: v / 2 for k, v in self.sram_bytes.items()}
        kf = -(-K // R)
        A, W, Y = _bytes(plan_a_elems if plan_a_elems else M * K, ab), _bytes(K * N, wb), _bytes(M * N, ob)
        out_w, out_r = Y, 0.0
        if self.dataflow == "ws":
            w_read = W
            a_read = A if A <= half["ifmap"] else A * -(-N // C)
            if _bytes(M * min(C, N), ob) > half["ofmap"]:
                out_w, out_r = Y * kf, Y * (kf - 1)
        elif self.dataflow == "is":
            a_read = A
            w_read = W if W <= half["filter"] else W * -(-M // C)
            if _bytes(N * min(C, M), ob) > half["ofmap"]:
                out_w, out_r = Y * kf, Y * (kf - 1)
        else:
            a_read = A if A <= half["ifmap"] else A * -(-N // C)
            w_read = W if _bytes(K * min(C, N), wb) <= half["filter"] else W * -(-M // R)
        return {"weight_read": w_read, "activation_read": a_read, "output_write": out_w, "output_read": out_r}

    # -- planning ----------------------------------------------------------------------------------
    def plan(self, layer: Gemm) -> FoldPlan:
        return FoldPlan(self.dataflow, self.R, self.C, self.L, layer.M, layer.N, layer.K, self.read_latency)

    def _layer_result(self, layer: Gemm, plan: FoldPlan, mode: str, sram: dict[str, int],
                      cycles: int) -> LayerResult:
        """``sram`` and ``cycles``: one instance's counts (the kernel's in cycle mode, the closed forms'
        in analytical mode)."""
        rep = layer.repeat
        sram = {k: v * rep for k, v in sram.items()}
        sb = {"weight_read": _bytes(sram["weight_reads"], self.weight_bits(layer.K)),
              "activation_read": _bytes(sram["activation_reads"], self.afmt.bits),
              "output_write": _bytes(sram["output_writes"], self.res_bits),
              "output_read": _bytes(sram["output_reads"], self.res_bits)}
        dram = {k: v * rep for k, v in self.dram_model(plan, layer.activation_elements).items()}
        compute = cycles * rep
        if self.backing == "dram":
            dram_cycles = math.ceil(sum(dram.values()) / self.design.memory.dram_bytes_per_cycle)
            stall = max(0, dram_cycles - compute)
        else:
            stall = 0
        energy = self.energy.estimate(layer.macs, sb["weight_read"] + sb["activation_read"] + sb["output_read"],
                                      sb["output_write"], sum(dram.values()), self.R * self.C * (compute + stall))
        comp = rep * (_bytes(layer.activation_elements, self.afmt.bits)
                      + _bytes(layer.K * layer.N, self.weight_bits(layer.K)) + _bytes(layer.M * layer.N, self.res_bits))
        return LayerResult(layer=layer, plan=plan, mode=mode, compute_cycles=compute, stall_cycles=stall,
                           sram=sram, sram_bytes=sb, dram_bytes=dram, energy=energy, compulsory_bytes=comp)

    def weight_bits(self, K: int) -> float:
        """Bits a memory holds per weight of a layer with K inputs (DRAM and SRAM byte counts, estimates):
        the format's code bits plus, per K-group and column, ``group_bits`` (selector, MX exponent, and
        the epilogue's fixed-point scale where it stores one; see ``weight_storage_bits``), averaged over
        the group (``operands.group_size``; when null the format's fixed group, MX: 32, else the whole K).
        Not the RTL's lane width: the array's lanes carry the selector with every code (docs/systolic.md
        sections 8 and 12)."""
        if not self.group_bits:
            return float(self.code_bits)
        G = self.storage_group or K
        return self.code_bits + self.group_bits * (-(-K // G)) / K

    # -- operands ----------------------------------------------------------------------------------
    def random_operands(self, layer: Gemm, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Seeded uniformly random decodable codes: A [M, K] activations, W [K, N] weights."""
        rng = np.random.default_rng(seed)
        av = np.flatnonzero(self.afmt.valid).astype(np.uint8)
        wv = np.flatnonzero(self.wfmt.valid).astype(np.uint8)
        a = av[rng.integers(0, len(av), size=(layer.M, layer.K))]
        w = wv[rng.integers(0, len(wv), size=(layer.K, layer.N))]
        if self.selector and self.group:
            # one selector per (K-group, column), as a quantizer stores it
            f = dt.get(self.wfmt.name)
            sel = rng.integers(0, f.n_meta, size=(-(-layer.K // self.group), layer.N))
            sel = np.repeat(sel, self.group, axis=0)[:layer.K]
            code = w & ((1 << f.bits) - 1)
            ok = self.wfmt.valid[code | (sel << f.bits)]
            code = np.where(ok, code, 0)              # code 0 (+0) is valid under every selector
            w = (code | (sel << f.bits)).astype(np.uint8)
        if self.epilogue is None:
            return a, w
        ep = self.epilogue
        G = -(-layer.K // self.group)
        wscales = epi_.random_pow2_scales if self.pow2_scales else epi_.random_scales
        return (a, w, wscales(rng, (G, layer.N), ep.scale_bits, ep.scale_frac),
                epi_.random_scales(rng, (layer.M,), ep.scale_bits, ep.scale_frac))

    def quantized_operands(self, layer: Gemm, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Seeded normal floats quantized with the design's formats (weights per output channel, groups of
        ``operands.group_size`` along K; activations per token): codes A [M, K], W [K, N]."""
        return self.quantize(*self.quantized_floats(layer, seed))

    @staticmethod
    def quantized_floats(layer: Gemm, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The floats ``quantized_operands`` quantizes: x [M, K] standard normal, W [N, K] normal x 0.05
        (float32, seeded)."""
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((layer.M, layer.K)).astype(np.float32)
        wt = rng.standard_normal((layer.N, layer.K)).astype(np.float32) * 0.05
        return x, wt

    def quantize(self, x: np.ndarray, w_nk: np.ndarray) -> tuple[np.ndarray, ...]:
        """Quantize activations x [M, K] (per token) and a torch-layout weight [N, K] (per output channel,
        groups of ``operands.group_size`` along K) with the design's formats: the operands of ``run``,
        (A codes [M, K], W lanes [K, N]) and with the scale epilogue also the fixed-point scales
        (S_w [G, N], S_a [M]); selector formats carry the group's selector in each lane's high bits."""
        def group(name, want):
            f = dt.get(name)
            return want if f.group_sizes is None or want in f.group_sizes else f.default_group_size

        qa = dt.quantize(x, self.afmt.name, group_size=group(self.afmt.name, None))
        qw = dt.quantize(w_nk, self.wfmt.name, group_size=group(self.wfmt.name, self.design.operands.group_size))
        w = np.ascontiguousarray(qw.codes.T)
        if self.selector:
            g = qw.group_size or w.shape[0]
            sel = np.repeat(np.asarray(qw.meta, np.int64).T, g, axis=0)[:w.shape[0]]
            from ..pe.model import combine_selector

            w = combine_selector(w, sel, self.wfmt.name)
        if self.epilogue is None:
            return qa.codes, w
        ep = self.epilogue
        if (qw.group_size or w.shape[0]) != self.group or np.shape(qa.scales)[1] != 1:
            raise epi_.ScaleError(f"{self.design.source}: the scale epilogue takes weight scales per K-group of "
                                  f"{self.group} and one activation scale per token")
        sw = epi_.e8m0_to_float(qw.scales) if self.pow2_scales else np.asarray(qw.scales)
        if sw.dtype.kind != "f" or qw.tensor_scale is not None:
            raise epi_.ScaleError(f"{self.design.source}: operands.weight = {self.wfmt.name!r}: its scales are "
                                  f"codes ({sw.dtype}{', with a tensor scale' if qw.tensor_scale is not None else ''}); "
                                  f"the epilogue converts float scales and E8M0 exponents only")
        S_w = epi_.to_fixed(sw.T, ep.scale_bits, ep.scale_frac, "weight scales")
        S_a = epi_.to_fixed(np.asarray(qa.scales)[:, 0], ep.scale_bits, ep.scale_frac, "activation scales")
        return qa.codes, w, S_w, S_a

    def _check_data(self, layer: Gemm, data) -> tuple[np.ndarray, ...]:
        if self.epilogue is not None:
            if not (isinstance(data, (tuple, list)) and len(data) == 4):
                raise WorkloadError("data must be (activation codes A[M, K], weight lanes W[K, N], weight "
                                    "scales S_w[G, N], activation scales S_a[M]) for a design with a scale epilogue")
            a, w = self._check_pair(layer, data[:2])
            ep, G = self.epilogue, -(-layer.K // self.group)
            return (a, w, epi_.check_fixed(data[2], ep.scale_bits, (G, layer.N), "weight scales"),
                    epi_.check_fixed(data[3], ep.scale_bits, (layer.M,), "activation scales"))
        return self._check_pair(layer, data)

    def _check_pair(self, layer: Gemm, data) -> tuple[np.ndarray, np.ndarray]:
        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise WorkloadError("data must be a pair (activation codes A[M, K], weight codes W[K, N])")
        a = self.afmt.check_codes(data[0], "activation codes")
        w = self.wfmt.check_codes(data[1], "weight codes")
        if a.shape != (layer.M, layer.K):
            raise WorkloadError(f"layer {layer.name!r}: activation codes have shape {a.shape}, expected "
                                f"(M, K) = {(layer.M, layer.K)}")
        if w.shape != (layer.K, layer.N):
            raise WorkloadError(f"layer {layer.name!r}: weight codes have shape {w.shape}, expected "
                                f"(K, N) = {(layer.K, layer.N)}")
        return a, w

    def reference(self, a_codes: np.ndarray, w_codes: np.ndarray, S_w=None, S_a=None) -> np.ndarray:
        """The exact GEMM of validated codes (hwsim.pe.reference_gemm); with the scale epilogue the exact
        fixed-point result (hwsim.systolic.epilogue.reference, object array of Python ints)."""
        if self.epilogue is not None:
            ep = self.epilogue
            return epi_.reference(a_codes, w_codes, S_w, S_a, self.wfmt.name, self.afmt.name, self.acc_bits,
                                  self.group, ep.width)
        return reference_gemm(a_codes, w_codes, self.wfmt.name, self.afmt.name, self.acc_bits, checked=True)

    # -- running -----------------------------------------------------------------------------------
    def run_layer_cycle(self, layer: Gemm, a_codes: np.ndarray, w_codes: np.ndarray, S_w=None, S_a=None,
                        write_cycles: bool = False):
        """Advance the array clock through one instance of ``layer``; returns (Y int64 [M, N], counters
        [stationary reads, streaming reads, output writes, output reads, cycles, last write cycle]) and,
        with ``write_cycles``, also the cycle of the (last) write of each Y element (int64 [M, N])."""
        # Numba: imported when the clock is advanced, not for the closed forms
        from . import kernels as K_

        dt, sh = self.operand_dtype(), self.register_dtype()[1]
        a = np.ascontiguousarray(self.afmt.decoded(a_codes), dtype=dt)
        w = np.ascontiguousarray(self.wfmt.decoded(w_codes), dtype=dt)
        sho = np.int64(64 - self.acc_bits)
        cnt = np.zeros(K_.N_COUNTERS, np.int64)
        cnt[K_.CYCLES] = self.read_latency - 1      # the kernels' clock starts at the first data cycle - 1
        R, C, L = np.int64(self.R), np.int64(self.C), np.int64(self.L)
        M, N = layer.M, layer.N
        if self.epilogue is not None and self.dataflow == "os":
            out, cnt, wc = self._run_scaled_os(layer, a, w, S_w, S_a, sh, sho)
        elif self.epilogue is not None:
            out, cnt, wc = self._run_scaled(layer, a, w, S_w, S_a, sh, sho)
        elif self.dataflow == "os":
            out = np.zeros((M, N), np.int64)
            wc = np.full((M, N) if write_cycles else (0, 0), -1, np.int64)
            K_.output_stationary_kernel(a, w, out, wc, R, C, L, sh, sho, cnt)
        else:
            # the stationary kernel writes the result memory bank by bank ([array column, streamed index]):
            # Y^T for ws, Y for is
            shape = (N, M) if self.dataflow == "ws" else (M, N)
            out = np.zeros(shape, np.int64)
            wc = np.full(shape if write_cycles else (0, 0), -1, np.int64)
            if self.dataflow == "ws":
                K_.stationary_kernel(w, a, out, wc, R, C, L, sh, sho, cnt)
                out, wc = np.ascontiguousarray(out.T), np.ascontiguousarray(wc.T)
            else:
                K_.stationary_kernel(np.ascontiguousarray(a.T), np.ascontiguousarray(w.T), out, wc, R, C, L, sh,
                                     sho, cnt)
        return (out, cnt, wc) if write_cycles else (out, cnt)

    def _run_scaled(self, layer: Gemm, a: np.ndarray, w: np.ndarray, S_w, S_a, sh, sho):
        """WS / IS with the scale epilogue: the same kernel, run per (column fold, K-group) -- exactly the
        RTL's fold order (column folds outer, row folds inner, a K-group being consecutive row folds) --
        with the clock carried from one call to the next; after each call the epilogue adds P * S_w, and
        after a column fold's last K-group it multiplies by S_a and wraps (Python ints: wider than the
        kernels' int64). ws: the stationary tile is W, streamed A, a column fold is C columns n of Y; is:
        stationary A^T, streamed W^T, a column fold is C rows m of Y."""
        from . import kernels as K_

        M, N, K = layer.M, layer.N, layer.K
        R, C, L = np.int64(self.R), np.int64(self.C), np.int64(self.L)
        cnt = np.zeros(K_.N_COUNTERS, np.int64)
        cnt[K_.CYCLES] = self.read_latency - 1      # the first call's clock starts at the first data cycle - 1
        Y = np.empty((M, N), dtype=object)
        wc = np.full((M, N), -1, np.int64)
        g, width = self.group, self.epilogue.width
        ws = self.dataflow == "ws"
        stat, stream = (w, a) if ws else (np.ascontiguousarray(a.T), np.ascontiguousarray(w.T))
        T, cols = (M, N) if ws else (N, M)
        S_w_o, S_a_o = np.asarray(S_w, dtype=object), np.asarray(S_a, dtype=object)
        for c0 in range(0, cols, self.C):
            c1 = min(cols, c0 + self.C)
            for gi in range(-(-K // g)):
                k0, k1 = gi * g, min(K, (gi + 1) * g)
                P = np.zeros((c1 - c0, T), np.int64)     # result banks: [column, streamed index]
                wcp = np.full((c1 - c0, T), -1, np.int64)
                if c0 or gi:
                    cnt[K_.CYCLES] -= 1           # the kernel starts one cycle after the count it is given
                K_.stationary_kernel(np.ascontiguousarray(stat[k0:k1, c0:c1]), np.ascontiguousarray(stream[:, k0:k1]),
                                     P, wcp, R, C, L, sh, sho, cnt)
                if gi:                            # this call's first row fold accumulates in the RTL too
                    cnt[K_.OUT_READS] += T * (c1 - c0)
                if ws:                            # Y[:, n0:n1] = P^T
                    P, wcp = P.T, wcp.T
                    t = P.astype(object) * S_w_o[gi, c0:c1][None, :]
                    wc[:, c0:c1] = wcp
                else:                             # Y[m0:m1, :] = P
                    t = P.astype(object) * S_w_o[gi][None, :]
                    wc[c0:c1, :] = wcp
                acc = t if gi == 0 else acc + t
            # S_a and the wrap once per column fold: equal to the RTL's per-write wrap(old + P*S_w*S_a)
            # (distributivity; wrapping is a ring homomorphism)
            if ws:
                Y[:, c0:c1] = epi_.wrap_obj(acc * S_a_o[:, None], width)
            else:
                Y[c0:c1, :] = epi_.wrap_obj(acc * S_a_o[c0:c1, None], width)
        return Y, cnt, wc

    def _run_scaled_os(self, layer: Gemm, a: np.ndarray, w: np.ndarray, S_w, S_a, sh, sho):
        """OS with the scale epilogue (docs/systolic.md section 12; rtl_gen.systolic builds it): each PE
        accumulates one K-group's products (acc_bits, like the MAC), then, in the cycle the group's last
        product lands, adds group sum x S_w[g, column] into a ``width``-bit register and clears the
        accumulator; the drained result is multiplied by S_a[row] on its way into the result memory.
        Values: the OS kernel once per K-group (its per-PE accumulators after the group = P_g exactly),
        scaled and summed in Python ints. Clock, write cycles and memory counts: one kernel run over the
        whole K -- the group-end add is in the accumulate stage (no extra cycle), so the fold schedule is
        the plain OS array's, cycle for cycle what the generated RTL does (tests/test_levels.py)."""
        from . import kernels as K_

        M, N, K = layer.M, layer.N, layer.K
        R, C, L = np.int64(self.R), np.int64(self.C), np.int64(self.L)
        g, acc = self.group, None
        for gi in range(-(-K // g)):
            k0, k1 = gi * g, min(K, (gi + 1) * g)
            P = np.zeros((M, N), np.int64)
            K_.output_stationary_kernel(np.ascontiguousarray(a[:, k0:k1]), np.ascontiguousarray(w[k0:k1]), P,
                                        np.full((M, N), -1, np.int64), R, C, L, sh, sho,
                                        np.zeros(K_.N_COUNTERS, np.int64))
            t = P.astype(object) * np.asarray(S_w[gi], dtype=object)[None, :]
            acc = t if acc is None else acc + t
        cnt = np.zeros(K_.N_COUNTERS, np.int64)
        cnt[K_.CYCLES] = self.read_latency - 1      # the kernel's clock starts at the first data cycle - 1
        wc = np.full((M, N), -1, np.int64)
        K_.output_stationary_kernel(a, w, np.zeros((M, N), np.int64), wc, R, C, L, sh, sho, cnt)
        return epi_.wrap_obj(acc * np.asarray(S_a, dtype=object)[:, None], self.epilogue.width), cnt, wc

    def register_dtype(self) -> tuple[type, np.int64]:
        """Storage of the PE registers in the kernels and the wrap shift within it: int32 when the
        accumulator is at most 32 bits (decoded operands are at most 32 bits), else int64."""
        if self.acc_bits <= 32:
            return np.int32, np.int64(0 if self.acc_bits == 32 else 64 - self.acc_bits)
        return np.int64, np.int64(64 - self.acc_bits)

    def operand_dtype(self) -> type:
        """Storage of the decoded operands in the kernels: the narrowest of int8/int16/int32 holding every
        decoded code of both formats when the registers are int32 (register_dtype), else int64 (the
        kernels take int64 operands as the sign of int64 registers)."""
        if self.register_dtype()[0] is np.int64:
            return np.int64
        lo = min(self.afmt.lo, self.wfmt.lo)
        hi = max(self.afmt.hi, self.wfmt.hi)
        for t in (np.int8, np.int16):
            if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max:
                return t
        return np.int32

    def _as_network(self, workload) -> Network:
        if isinstance(workload, Network):
            return workload
        if isinstance(workload, (Gemm, Conv)):
            return network([workload], name=workload.name)
        if isinstance(workload, str):
            return parse(workload)
        if isinstance(workload, Sequence):
            return network(workload)
        raise WorkloadError(f"workload must be a spec string, Gemm, Conv, Network or list of layers, "
                            f"got {type(workload).__name__}")

    def pe_cycles(self, workload) -> int:
        """PE-cycles the cycle-level mode advances (one instance of every layer)."""
        net = self._as_network(workload)
        return sum(self.plan(l).cycles for l in net.layers) * self.R * self.C

    def run(self, workload, mode: str = "auto", data=None, seed: int = 0, check: bool = True,
            operands: str = "random", progress: bool | None = None, compat: str | None = None
            ) -> SystolicResult:
        """Simulate ``workload`` (spec string, Gemm, Conv, Network or list of layers).

        mode: "cycle" (advance the clock; outputs + bit-exact check), "analytical" (closed forms; outputs
        only if ``data`` is given, computed by the reference), "auto" (cycle when at most
        AUTO_CYCLE_LIMIT PE-cycles and AUTO_CYCLE_CLOCKS cycles: about 1 CPU-s at most). ``data``: for a
        one-layer workload, (A codes [M, K], W codes [K, N]);
        for a conv layer also (input codes [H, W, C], filter codes [R, S, C, N]). Without data the
        cycle mode simulates seeded operands (``operands="random"``: uniform over the decodable codes;
        ``"quantized"``: normal floats quantized with the design's formats). Instances of a repeated
        layer have identical schedules; one is simulated and its counts multiplied.
        """
        import time

        t0 = time.perf_counter()
        check_seed(seed)
        net = self._as_network(workload)
        if mode not in ("auto", "cycle", "analytical"):
            raise WorkloadError(f"mode = {mode!r}: allowed: auto, cycle, analytical")
        if compat not in (None, "scalesim"):
            raise WorkloadError(f"compat = {compat!r}: the systolic kind reproduces scalesim (SCALE-Sim 3.0.0)")
        if operands not in ("random", "quantized"):
            raise WorkloadError(f"operands = {operands!r}: allowed: random, quantized")
        notes = []
        big = max(net.layers, key=_elements)
        if mode == "auto":
            pc = self.pe_cycles(net)
            clocks = pc / (self.R * self.C)
            mode = "cycle" if (pc <= AUTO_CYCLE_LIMIT and clocks <= AUTO_CYCLE_CLOCKS
                               and _elements(big) <= CYCLE_MAX_ELEMENTS) else "analytical"
            if mode == "analytical":
                why = (f"{pc:.3g} PE-cycles > {AUTO_CYCLE_LIMIT:.0e}" if pc > AUTO_CYCLE_LIMIT else
                       f"{clocks:.3g} clock cycles > {AUTO_CYCLE_CLOCKS:.0e}" if clocks > AUTO_CYCLE_CLOCKS else
                       f"more than {CYCLE_MAX_ELEMENTS:,} operand and result elements")
                notes.append(f"auto mode: {why}; analytical mode "
                             f"(equal to the cycle-level model by construction and by test)")
        if mode == "cycle" and _elements(big) > CYCLE_MAX_ELEMENTS:
            raise WorkloadError(f"{big.source or 'workload'}: layer {big.name!r}: the cycle-level mode holds "
                                f"M*K + K*N + M*N = {_elements(big):,} operand and result elements; at most "
                                f"{CYCLE_MAX_ELEMENTS:,} (use mode analytical)")
        if compat == "scalesim":
            worst = max(net.layers, key=lambda l: self.plan(l).folds)
            if self.plan(worst).folds > MAX_COMPAT_FOLDS:
                raise WorkloadError(f"{worst.source or 'workload'}: layer {worst.name!r} has "
                                    f"{self.plan(worst).folds:,} folds on the {self.R}x{self.C} array; the "
                                    f"SCALE-Sim-compatible report averages per fold and takes at most "
                                    f"{MAX_COMPAT_FOLDS:,}")
        if data is not None and len(net.layers) != 1:
            raise WorkloadError("data can only be given for a one-layer workload")
        for l in net.layers:
            self.check_fits(l)
        show = progress if progress is not None else (len(net.layers) > 200 or mode == "cycle" and
                                                      self.pe_cycles(net) > 2e8)
        bar = Progress(len(net.layers), f"{self.design.name} {mode}", enabled=show)
        results = []
        for i, layer in enumerate(net.layers):
            t1 = time.perf_counter()
            plan = self.plan(layer)
            conv = net.convs[i] if i < len(net.convs) else None
            codes = None
            if data is not None:
                codes = self._conv_data(conv, layer, data) if conv is not None and _is_conv_data(data, conv) \
                    else self._check_data(layer, data)
            if mode == "cycle":
                if codes is None:
                    codes = (self.random_operands(layer, seed + i) if operands == "random"
                             else self.quantized_operands(layer, seed + i))
                from . import kernels as K_

                out, cnt = self.run_layer_cycle(layer, *codes)
                sram = self._counters_to_sram(cnt)
                lr = self._layer_result(layer, plan, "cycle", sram, int(cnt[K_.CYCLES]))
                lr.output = out
                # the kernel's own counts, compared with the closed forms (can say NO)
                lr.closed_form_agrees = (int(cnt[K_.CYCLES]) == plan.cycles
                                         and int(cnt[K_.LAST_WRITE]) == plan.last_write_cycle
                                         and sram == plan.sram_accesses())
                if check:
                    lr.verified = bool(np.array_equal(out, self.reference(*codes)))
            else:
                lr = self._layer_result(layer, plan, "analytical", plan.sram_accesses(), plan.cycles)
                if codes is not None:
                    lr.output = self.reference(*codes)
            lr.seconds = time.perf_counter() - t1
            results.append(lr)
            bar.step(layer.name)
        return SystolicResult(design=self.design, workload=net, layers=results, mode=mode,
                              seconds=time.perf_counter() - t0, notes=notes, compat=compat)

    def _counters_to_sram(self, cnt: np.ndarray) -> dict[str, int]:
        stat, stream, ow, orr = (int(x) for x in cnt[:4])
        if self.dataflow == "ws":
            w, a = stat, stream
        elif self.dataflow == "is":
            a, w = stat, stream
        else:
            a, w = stream, stat
        return {"weight_reads": w, "activation_reads": a, "output_writes": ow, "output_reads": orr}

    def zero_code(self) -> int:
        """The activation code that decodes to 0 (used for padding)."""
        z = np.flatnonzero(self.afmt.valid & (self.afmt.decode == 0))
        if not len(z):
            raise PEError(f"{self.afmt.name} has no code for zero; convolution padding needs one")
        return int(z[0])

    def _conv_data(self, conv: Conv, layer: Gemm, data) -> tuple[np.ndarray, np.ndarray]:
        if self.epilogue is not None:
            raise WorkloadError(f"{self.design.source}: convolution data on a design with a scale epilogue: "
                                f"give the im2col GEMM operands with their scales instead")
        x = self.afmt.check_codes(data[0], "input codes")
        f = self.wfmt.check_codes(data[1], "filter codes")
        return conv.im2col(x, self.zero_code()), conv.weights_as_matrix(f)


def _is_conv_data(data, conv: Conv) -> bool:
    try:
        return np.ndim(data[0]) == 3 and np.ndim(data[1]) == 4
    except Exception:
        return False


def weight_storage_bits(design: Design) -> tuple[int, int]:
    """(code bits per weight, bits per K-group and column) a memory holds for the design's weights:
    the format's code; per group its selector (RaZeR/BitMoD: ``meta_bits``), its shared exponent (MX:
    the format's 8-bit E8M0 scale, always stored with the codes) and, with the scale epilogue and a
    format whose scale is not an exponent, the epilogue's ``scale_bits`` fixed-point weight scale."""
    f = dt.get(design.operands.weight)
    per_group = (f.n_meta - 1).bit_length() if has_selector(f.name) else 0
    if epi_.is_pow2_scaled(f.name):
        per_group += f.scale_bits
    elif design.epilogue.scales == "fixed":
        per_group += design.epilogue.scale_bits
    return f.bits, per_group


def build(design) -> SystolicSim:
    """A simulator for a systolic design (a Design, a YAML or SCALE-Sim .cfg path, or a mapping)."""
    from .. import for_kind

    return SystolicSim(for_kind(design, "systolic"))
