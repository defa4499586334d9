"""The Butterfly Processor simulator: ``build(design).run(workload, mode, compat, seed) -> Result``.

Organisation (spec B.3): P_BE engines run the same layer on different vectors (a *run* = up to P_BE
vectors at once, one per engine), all fed by one coefficient stream. Per run and engine: S2P load
(one element per cycle), log2 N stages issued by the index generator (bank conflicts stall), P2S drain
(one element per cycle, LayerNorm / shortcut add fused in that path at no extra cycle). Off-chip buses
limit load / drain (``memory.input_bits`` / ``output_bits`` shared by the active engines) and the
coefficient stream (``memory.weight_bits``).

Schedule of runs (the timing contract; ``mode="cycle"`` steps it run by run with every phase's exact
cycle count, ``mode="analytical"`` uses the steady-state closed form):

* linear mode: RAM sets A/B ping-pong: run r loads into set r mod 2 once run r-1's load and run
  r-2's drain are done; compute in order; drain in order.
* FFT mode: one run holds both sets (real / imaginary): load r waits for drain r-1 (no overlap).
* coefficients: if one layer's coefficients fit one side of the weight buffer they are loaded once,
  before the layer's first compute (in parallel with its first load); otherwise every run streams its
  stack's coefficients and a stage cannot issue faster than they arrive.
* layers run one after the other (a layer's outputs go off-chip before the next layer starts).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from . import compat as _compat
from . import engine
from .workloads import Layer, Workload, WorkloadError, parse

MODES = ("auto", "cycle", "analytical")
COMPAT = {_compat.NAME: _compat.REFERENCE}
WORD_BITS = 16


class SimError(WorkloadError):
    """A run that cannot be simulated (names the option and what is allowed)."""


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


@dataclass
class LayerStats:
    name: str
    mode: str
    length: int
    vectors: int
    stacks: int
    runs: int
    cycles: int
    load_cycles: int            #: sum over runs of S2P/input phases
    compute_cycles: int         #: sum over runs of stage phases (issue + pipeline drain)
    drain_cycles: int           #: sum over runs of P2S/output phases
    weight_cycles: int          #: cycles of the coefficient stream (once, or per run if streamed)
    conflict_cycles: int        #: extra issue cycles from bank conflicts, per engine, whole layer
    butterflies: int
    bu_utilization: float
    ram_reads: int              #: data-RAM element accesses, all engines (complex = 2)
    ram_writes: int
    weight_buffer_reads: int    #: 16-bit words read from the weight buffer (broadcast: counted once)
    weight_buffer_writes: int
    dram_read_bytes: int        #: input data + coefficients
    dram_write_bytes: int
    flops: int
    energy_pj: float            #: estimate (design energy section)
    weights_streamed: bool

    def values(self) -> list:
        return [self.name, self.mode, self.length, self.vectors, self.stacks, self.runs, self.cycles,
                self.load_cycles, self.compute_cycles, self.drain_cycles, self.conflict_cycles,
                self.bu_utilization, self.ram_reads, self.ram_writes, self.weight_buffer_reads,
                self.dram_read_bytes, self.dram_write_bytes, self.energy_pj]

    def row(self) -> list:
        v = self.values()
        v[11], v[17] = f"{v[11]:.4f}", f"{v[17]:.1f}"
        return v


HEADER = ["layer", "mode", "length", "vectors", "stacks", "runs", "cycles", "load", "compute", "drain",
          "conflict", "bu_util", "ram_reads", "ram_writes", "wbuf_reads", "dram_read_B", "dram_write_B",
          "energy_pJ_est"]


@dataclass
class Result:
    design: Any
    workload: Workload
    mode: str
    layers: list[LayerStats]
    compat: dict | None = None
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def block_cycles(self) -> int:
        return sum(layer.cycles for layer in self.layers)

    @property
    def cycles(self) -> int:
        return self.workload.repeat * self.block_cycles

    def stats(self) -> dict:
        d, rep = self.design, self.workload.repeat
        p = d.processor
        bfly = rep * sum(x.butterflies for x in self.layers)
        return {"cycles": self.cycles, "block_cycles": self.block_cycles, "blocks": rep,
                "latency_ms": self.cycles / (d.clock_mhz * 1e3),
                "butterflies": bfly, "bu_utilization": bfly / (p.engines * p.units * self.cycles),
                "conflict_cycles": rep * sum(x.conflict_cycles for x in self.layers),
                "ram_reads": rep * sum(x.ram_reads for x in self.layers),
                "ram_writes": rep * sum(x.ram_writes for x in self.layers),
                "weight_buffer_reads": rep * sum(x.weight_buffer_reads for x in self.layers),
                "dram_read_bytes": rep * sum(x.dram_read_bytes for x in self.layers),
                "dram_write_bytes": rep * sum(x.dram_write_bytes for x in self.layers),
                "flops": rep * sum(x.flops for x in self.layers),
                "energy_pj_estimate": rep * sum(x.energy_pj for x in self.layers)}

    def to_dict(self) -> dict:
        out = {"design": self.design.name, "design_hash": self.design.hash, "kind": "butterfly",
               "workload": self.workload.text, "mode": self.mode, "stats": self.stats(),
               "layers": [dict(zip(HEADER, layer.values())) | {"weights_streamed": layer.weights_streamed,
                                                                  "butterflies": layer.butterflies}
                          for layer in self.layers]}
        if self.compat is not None:     # keyed by the compat name, as the systolic kind does
            out["compat"] = {_compat.NAME: self.compat}
        return out

    def layer_rows(self) -> tuple[list[str], list[list]]:
        return list(HEADER), [x.row() for x in self.layers]

    def render(self) -> str:
        from ..report import format_table
        d, s = self.design, self.stats()
        p = d.processor
        lines = [f"design {d.name} ({d.hash}): butterfly, P_BE {p.engines} x P_BU {p.units} "
                 f"({4 * p.engines * p.units} FP16 multipliers), {d.clock_mhz:g} MHz",
                 f"workload {self.workload.text}: {len(self.layers)} layers per block x {s['blocks']} blocks, "
                 f"mode {self.mode}",
                 f"cycles {s['cycles']}  ({s['latency_ms']:.4f} ms)  BU utilisation {s['bu_utilization']:.3f}  "
                 f"bank-conflict cycles {s['conflict_cycles']}",
                 f"off-chip read {s['dram_read_bytes']} B, write {s['dram_write_bytes']} B; data RAM "
                 f"{s['ram_reads']} reads / {s['ram_writes']} writes; energy {s['energy_pj_estimate'] / 1e6:.3f} uJ "
                 f"(estimate)", ""]
        h, rows = self.layer_rows()
        lines.append(format_table(h, rows))
        if self.compat is not None:
            c = self.compat
            lines += ["", f"--compat {_compat.NAME} ({c['simulator']}): cycles {c['network_run_cost']:g}, "
                          f"overall latency {c['overall_latency_ms']!r} ms (cycles / {c['frequency']:g} MHz / "
                          f"{c['efficiency']})",
                      "  per layer (one block): " + ", ".join(f"{k} {v:g}" for k, v in c["layer_cycles"].items())]
        return "\n".join(lines) + "\n"


class ButterflySim:
    def __init__(self, design):
        self.design = design

    # ---- one layer ---------------------------------------------------------------------------------
    def layer(self, L: Layer, mode: str) -> LayerStats:
        d = self.design
        p, mem, en = d.processor, d.memory, d.energy
        n = L.length
        try:
            engine.check_length(n, p.units, p.max_length)
        except ValueError as e:
            raise SimError(f"layer {L.name}: {e} (processor.max_length / processor.units)") from None
        fft = L.mode == "fft"
        ci, co = (2 if L.complex_in else 1), (2 if L.complex_out else 1)
        stages = engine.log2(n)
        closed = mode == "analytical"
        issue = (engine.stage_issue_cycles_closed if closed else engine.stage_issue_cycles)(
            n, p.units, p.popcount_bits)
        # coefficient words per stage and per stack: FFT one complex twiddle per butterfly, linear 2x2 block
        words_stage = n if fft else 2 * n
        words_stack = words_stage * stages
        stacks_total_words = words_stack * L.stacks
        streamed = stacks_total_words > p.weight_buffer_words
        stage_w = _ceil(words_stage * WORD_BITS, mem.weight_bits)
        stage_cycles = [max(c, stage_w) if streamed else c for c in issue]
        compute = sum(stage_cycles) + p.pipeline_latency * stages
        weight_once = 0 if streamed else _ceil(stacks_total_words * WORD_BITS, mem.weight_bits)
        blocks = _ceil(L.vectors, p.engines)
        runs = blocks * L.stacks
        drained = L.drained

        def active(r: int) -> int:
            return min(p.engines, L.vectors - (r // L.stacks) * p.engines)

        def t_load(v: int) -> int:
            return max(n, _ceil(n * v * WORD_BITS * ci, mem.input_bits))

        def t_drain(v: int) -> int:   # P2S: one element per cycle (or the bus) + the last RAM read
            return max(drained, _ceil(drained * v * WORD_BITS * co, mem.output_bits)) + engine.DRAIN_LATENCY

        if mode == "analytical":
            # run types: full blocks (P_BE vectors) and one partial block, each `stacks` runs
            full, part = divmod(L.vectors, p.engines)
            kinds = [(v, cnt * L.stacks) for v, cnt in ((p.engines, full), (part, 1 if part else 0)) if cnt]
            load_sum = sum(cnt * t_load(v) for v, cnt in kinds)
            drain_sum = sum(cnt * t_drain(v) for v, cnt in kinds)
            v0 = kinds[0][0]
            if fft:   # serial runs: exact
                cycles = load_sum + runs * compute + drain_sum + max(0, weight_once - t_load(v0))
            else:     # ping-pong steady state: per run max(load, compute, drain, (load+compute+drain)/2)
                first = max(t_load(v0), weight_once) + compute + t_drain(v0)

                def period(v):
                    a, b = t_load(v), t_drain(v)
                    return max(a, compute, b, (a + compute + b + 1) // 2)
                cycles = first + sum(cnt * period(v) for v, cnt in kinds) - period(v0)
        else:
            le = ce = 0
            de = [0, 0]           # drain end of runs r-1, r-2
            load_sum = drain_sum = 0
            for r in range(runs):
                v = active(r)
                tl, td = t_load(v), t_drain(v)
                ls = max(le, de[0] if fft else de[1])
                le = ls + tl
                cs = max(le, ce, weight_once)
                ce = cs + compute
                ds = max(ce, de[0])
                de = [ds + td, de[0]]
                load_sum += tl
                drain_sum += td
            cycles = de[0]
        bfly = L.butterflies
        planes = 2 if fft else 1
        vec_runs = L.vectors * L.stacks
        ram_reads = vec_runs * planes * (n * stages + drained)
        ram_writes = vec_runs * planes * (n + n * stages)
        wbuf_reads = runs * words_stack
        wbuf_writes = runs * words_stack if streamed else stacks_total_words
        dram_r = 2 * (vec_runs * n * ci + wbuf_writes)
        dram_w = 2 * vec_runs * drained * co
        flops = bfly * (10 if fft else 6)
        energy = flops * en.flop_pj + (ram_reads + ram_writes + wbuf_reads + wbuf_writes) * en.ram_pj_per_access \
            + (dram_r + dram_w) * en.dram_pj_per_byte
        return LayerStats(
            name=L.name, mode=L.mode, length=n, vectors=L.vectors, stacks=L.stacks, runs=runs, cycles=cycles,
            load_cycles=load_sum, compute_cycles=runs * compute, drain_cycles=drain_sum,
            weight_cycles=(runs * sum(stage_w for _ in issue)) if streamed else weight_once,
            conflict_cycles=runs * (sum(issue) - stages * (n // (2 * p.units))), butterflies=bfly,
            bu_utilization=bfly / (p.engines * p.units * cycles), ram_reads=ram_reads, ram_writes=ram_writes,
            weight_buffer_reads=wbuf_reads, weight_buffer_writes=wbuf_writes, dram_read_bytes=dram_r,
            dram_write_bytes=dram_w, flops=flops, energy_pj=energy, weights_streamed=streamed)

    # ---- compat --------------------------------------------------------------------------------------
    def compat(self, w: Workload) -> dict:
        d = self.design
        bw = (d.memory.input_bits, d.memory.weight_bits, d.memory.output_bits)
        kw = dict(p_be=d.processor.engines, p_bu=d.processor.units, bw=bw, frequency=d.clock_mhz,
                  efficiency=d.compat.efficiency)
        if w.shape is not None:
            s = w.shape
            return _compat.fabnet(s["hidden"], s["ffn"], s["seq"], s["layers"], **kw)
        kind, n_in, n_out, b = w.single
        return _compat.single_layer(kind, n_in, n_out, b, **kw)

    # ---- the protocol -------------------------------------------------------------------------------
    def run(self, workload: str | Workload, mode: str = "auto", compat: str | None = None,
            seed: int = 0) -> Result:
        from ..layers import check_seed
        check_seed(seed)       # an integer 0..2**32-1, as --seed
        if mode not in MODES:
            raise SimError(f"mode = {mode!r}: allowed: {', '.join(MODES)}")
        if compat is not None and compat not in COMPAT:
            raise SimError(f"--compat {compat!r}: allowed for kind butterfly: {', '.join(COMPAT)}")
        w = workload if isinstance(workload, Workload) else parse(workload)
        m = "cycle" if mode == "auto" else mode
        t0 = time.perf_counter()
        layers = [self.layer(L, m) for L in w.layers]
        c = self.compat(w) if compat else None
        return Result(self.design, w, m, layers, c, time.perf_counter() - t0)


def build(design) -> ButterflySim:
    """A simulator for a butterfly design (a :class:`hwsim.design.Design`, a YAML path, or a mapping)."""
    from .. import for_kind

    return ButterflySim(for_kind(design, "butterfly"))
