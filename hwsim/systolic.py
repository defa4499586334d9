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
except the OS output drain, which overlaps the next fold. One cycle after ``start`` issues the first
memory read; ``done`` rises at the edge that ends the last result write::

    cycles(ws/is) = 1 + F * fold_cycles          cycles(os) = 1 + F * fold_cycles + R

``mode="cycle"`` runs the Numba kernels of hwsim.systolic_kernels, which advance the clock and move
operands through the PE registers, and checks the result bit-exactly against a numpy reference;
``mode="analytical"`` uses the closed forms above (tests check they are equal, cycle for cycle, and that
every memory-access count is equal). DRAM traffic, stall cycles and energy are estimates from a
documented model (labelled as such); compute cycles are exact for the microarchitecture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

import datatypes as dt

from . import pe as pe_mod
from . import systolic_kernels as K_
from .design import Design, DesignError
from .energy import EnergyTable
from .pe import PEError, PEFormat, pe_format, wrap
from .report import Progress, format_table
from .workloads import Conv, Gemm, Network, WorkloadError, network, parse

#: mode="auto" runs the cycle-level kernels when a workload needs at most this many PE-cycles
#: (one instance of every layer), else the analytical mode.
AUTO_CYCLE_LIMIT = 3e8


class SimulationError(RuntimeError):
    """The cycle-level model disagreed with the numpy reference or with its own closed forms (a bug)."""


# ---- mapping and timing ----------------------------------------------------------------------------
@dataclass(frozen=True)
class FoldPlan:
    """How one GEMM instance maps onto the array, and its exact cycle count."""

    dataflow: str
    R: int
    C: int
    L: int
    M: int
    N: int
    K: int

    @property
    def rows_dim(self) -> int:
        """GEMM dimension spread over the array rows (ws/is: K, os: M)."""
        return self.M if self.dataflow == "os" else self.K

    @property
    def cols_dim(self) -> int:
        """GEMM dimension spread over the array columns (ws/os: N, is: M)."""
        return self.M if self.dataflow == "is" else self.N

    @property
    def T(self) -> int:
        """Streamed (temporal) dimension: ws M, is N, os K."""
        return {"ws": self.M, "is": self.N, "os": self.K}[self.dataflow]

    @property
    def n_inner(self) -> int:
        return -(-self.rows_dim // self.R)

    @property
    def n_outer(self) -> int:
        return -(-self.cols_dim // self.C)

    @property
    def folds(self) -> int:
        return self.n_inner * self.n_outer

    @property
    def fold_cycles(self) -> int:
        R, C, L, T = self.R, self.C, self.L, self.T
        if self.dataflow == "os":
            return T + R + C + L - 3
        return R + T + L * R + C - 1

    @property
    def cycles(self) -> int:
        """Exact cycles from ``start`` to ``done`` for one instance."""
        c = 1 + self.folds * self.fold_cycles
        return c + self.R if self.dataflow == "os" else c

    @property
    def last_write_cycle(self) -> int:
        """Cycle of the last result write. Fold lengths are fixed (full R and C), so with a partly used
        last column fold (ws/is) the last write comes C - cols_used cycles before the schedule ends."""
        if self.dataflow == "os":
            return self.cycles - 1
        return self.cycles - 1 - (self.C - int(self.used_cols()[-1]))

    def write_cycles(self) -> np.ndarray:
        """Cycle in which each result element Y[m, n] is (finally) written, int64 [M, N] (closed form of
        docs/systolic.md sections 4-5): a per-element timing oracle for RTL testbenches."""
        R, C, L, P = self.R, self.C, self.L, self.fold_cycles
        m = np.arange(self.M, dtype=np.int64)[:, None]
        n = np.arange(self.N, dtype=np.int64)[None, :]
        if self.dataflow == "os":
            f = (n // C) * self.n_inner + m // R
            return 1 + (f + 1) * P + (R - 1 - m % R)
        if self.dataflow == "ws":
            t, col = m, n
        else:
            t, col = n, m
        f = (col // C) * self.n_inner + (self.n_inner - 1)        # last row fold of the column fold
        return 1 + f * P + R + t + L * R + col % C

    def used_rows(self) -> np.ndarray:
        """Array rows used by each inner fold."""
        u = np.full(self.n_inner, self.R, np.int64)
        u[-1] = self.rows_dim - self.R * (self.n_inner - 1)
        return u

    def used_cols(self) -> np.ndarray:
        u = np.full(self.n_outer, self.C, np.int64)
        u[-1] = self.cols_dim - self.C * (self.n_outer - 1)
        return u

    def fold_table(self, limit: int | None = None) -> dict[str, np.ndarray]:
        """Per-fold trace (execution order): start cycle, cycles, used rows/cols, MACs, utilisation.
        ``limit`` caps the number of folds returned (the plan itself is O(1) in size)."""
        F = self.folds if limit is None else min(self.folds, limit)
        idx = np.arange(F, dtype=np.int64)
        ur, uc = self.used_rows(), self.used_cols()
        rows = ur[idx % self.n_inner]
        cols = uc[idx // self.n_inner]
        macs = rows * cols * self.T
        P = self.fold_cycles
        return {"start": 1 + idx * P, "cycles": np.full(F, P, np.int64), "rows": rows, "cols": cols,
                "macs": macs, "utilization": macs / float(self.R * self.C * P)}

    def sram_accesses(self) -> dict[str, int]:
        """Element accesses of one instance: reads per operand, result writes and accumulate reads."""
        M, N, K, R, C = self.M, self.N, self.K, self.R, self.C
        kf = -(-K // R)
        if self.dataflow == "ws":
            return {"weight_reads": K * N, "activation_reads": M * K * -(-N // C),
                    "output_writes": M * N * kf, "output_reads": M * N * (kf - 1)}
        if self.dataflow == "is":
            return {"weight_reads": N * K * -(-M // C), "activation_reads": K * M,
                    "output_writes": M * N * kf, "output_reads": M * N * (kf - 1)}
        return {"weight_reads": K * N * -(-M // R), "activation_reads": M * K * -(-N // C),
                "output_writes": M * N, "output_reads": 0}

    def trace(self) -> dict[str, Any]:
        """Compact trace (size independent of the number of folds)."""
        ur, uc = self.used_rows(), self.used_cols()
        return {"fold_order": "column folds outer, row folds inner", "outer_folds": self.n_outer,
                "inner_folds": self.n_inner, "fold_cycles": self.fold_cycles, "first_fold_start": 1,
                "rows_per_inner_fold": [int(self.R), int(ur[-1])] if self.n_inner > 1 else [int(ur[-1])],
                "cols_per_outer_fold": [int(self.C), int(uc[-1])] if self.n_outer > 1 else [int(uc[-1])],
                "drain_tail": self.R if self.dataflow == "os" else 0}


def scalesim_metrics(plan: FoldPlan) -> dict[str, Any]:
    """SCALE-Sim 3.0.0's compute report and SRAM counts for one layer, from its own fold arithmetic.

    SCALE-Sim (CALC bandwidth mode, no stalls) builds per fold a demand matrix of
    ws/is: 2R + C + T - 2 rows, os: T + R + C - 2 rows, and reports the index of the last row
    (``max(ofmap_serviced_cycles)``), one fewer than the row count (SCALE-Sim issue #125). Its per-fold
    compute utilisation divides by ws/is: 2R + 2C + T - 3, os: T + R + C - 2 cycles. Its OS ofmap
    write count adds R + C per fold (``ofmap_writes += shape[0] + shape[1]``). All reproduced as is.
    """
    R, C, T = plan.R, plan.C, plan.T
    F = plan.folds
    if plan.dataflow == "os":
        per_fold, util_cycles = T + R + C - 2, T + R + C - 2
    else:
        per_fold, util_cycles = 2 * R + C + T - 2, 2 * R + 2 * C + T - 3
    compute = F * per_fold - 1
    map_eff, comp_util = K_.fold_float_averages(plan.used_rows(), plan.used_cols(), R * C, T, util_cycles)
    M, N, K = plan.M, plan.N, plan.K
    kf = -(-K // R)
    if plan.dataflow == "ws":
        ifm, flt, ofm = M * K * -(-N // C), K * N, M * N * kf
    elif plan.dataflow == "is":
        ifm, flt, ofm = K * M, N * K * -(-M // C), M * N * kf
    else:
        ifm, flt, ofm = M * K * -(-N // C), K * N * -(-M // R), M * N + F * (R + C)
    return {"compute_cycles": compute, "stall_cycles": 0,
            "overall_util_pct": (M * N * K * 100) / (compute * R * C),
            "mapping_efficiency_pct": map_eff * 100, "compute_util_pct": comp_util * 100,
            "ifmap_sram_reads": ifm, "filter_sram_reads": flt, "ofmap_sram_writes": ofm}


# ---- results ---------------------------------------------------------------------------------------
@dataclass
class LayerResult:
    """One layer (all ``repeat`` instances). Cycle and access counts are totals over the instances."""

    layer: Gemm
    plan: FoldPlan
    mode: str                       #: "cycle" (kernel run) or "analytical"
    compute_cycles: int             #: exact for the microarchitecture (all instances)
    stall_cycles: int               #: estimate: DRAM transfer time not hidden behind compute
    sram: dict[str, int]            #: element accesses (all instances)
    sram_bytes: dict[str, float]
    dram_bytes: dict[str, float]    #: estimate (DRAM model)
    energy: dict[str, float]        #: estimate (pJ)
    compulsory_bytes: float = 0.0       #: A + W + Y once per instance (all instances)
    output: np.ndarray | None = None    #: int64 [M, N] of the simulated instance (None without data)
    verified: bool | None = None        #: outputs compared bit-exactly with the numpy reference
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return self.layer.name

    @property
    def cycles(self) -> int:
        return self.compute_cycles + self.stall_cycles

    @property
    def macs(self) -> int:
        return self.layer.macs

    @property
    def utilization(self) -> float:
        """Useful MACs / (PEs x total cycles)."""
        return self.macs / (self.plan.R * self.plan.C * self.cycles)

    @property
    def mapping_efficiency(self) -> float:
        """Mean over folds of the fraction of PEs that hold a mapped element."""
        p = self.plan
        return p.rows_dim * p.cols_dim / (p.folds * p.R * p.C)

    @property
    def dram_total(self) -> float:
        return sum(self.dram_bytes.values())

    @property
    def required_bandwidth(self) -> float:
        """DRAM bytes per compute cycle needed for no stalls."""
        return self.dram_total / self.compute_cycles

    def scalesim(self) -> dict[str, Any]:
        """SCALE-Sim 3.0.0-compatible numbers of one instance (see scalesim_metrics)."""
        d = scalesim_metrics(self.plan)
        d["layer"] = self.name
        return d

    def to_dict(self) -> dict[str, Any]:
        l = self.layer
        return {"name": l.name, "kind": l.kind, "M": l.M, "N": l.N, "K": l.K, "repeat": l.repeat,
                "mode": self.mode, "cycles": self.cycles, "compute_cycles": self.compute_cycles,
                "stall_cycles_estimate": self.stall_cycles, "macs": self.macs,
                "utilization": self.utilization, "mapping_efficiency": self.mapping_efficiency,
                "folds_per_instance": self.plan.folds, "cycles_per_instance": self.plan.cycles,
                "sram_accesses": self.sram, "sram_bytes": self.sram_bytes,
                "dram_bytes_estimate": self.dram_bytes, "required_dram_bytes_per_cycle": self.required_bandwidth,
                "energy_pj_estimate": self.energy, "verified": self.verified, "trace": self.plan.trace()}


@dataclass
class SystolicResult:
    design: Design
    workload: Network
    layers: list[LayerResult]
    mode: str
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def outputs(self) -> list[np.ndarray | None]:
        return [l.output for l in self.layers]

    @property
    def compute_cycles(self) -> int:
        return sum(l.compute_cycles for l in self.layers)

    @property
    def stall_cycles(self) -> int:
        return sum(l.stall_cycles for l in self.layers)

    @property
    def cycles(self) -> int:
        """Total cycles: exact compute cycles + estimated DRAM stall cycles (0 with memory.backing: none)."""
        return self.compute_cycles + self.stall_cycles

    @property
    def macs(self) -> int:
        return sum(l.macs for l in self.layers)

    @property
    def pes(self) -> int:
        return self.design.array.rows * self.design.array.cols

    @property
    def utilization(self) -> float:
        return self.macs / (self.pes * self.cycles)

    @property
    def mapping_efficiency(self) -> float:
        """MAC-weighted mean of the layers' mapping efficiencies."""
        return sum(l.mapping_efficiency * l.macs for l in self.layers) / self.macs

    @property
    def energy_pj(self) -> dict[str, float]:
        keys = self.layers[0].energy.keys()
        return {k: sum(l.energy[k] for l in self.layers) for k in keys}

    @property
    def sram(self) -> dict[str, int]:
        return {k: sum(l.sram[k] for l in self.layers) for k in self.layers[0].sram}

    @property
    def dram_bytes(self) -> dict[str, float]:
        return {k: sum(l.dram_bytes[k] for l in self.layers) for k in self.layers[0].dram_bytes}

    @property
    def verified(self) -> bool | None:
        v = [l.verified for l in self.layers]
        return None if all(x is None for x in v) else all(x for x in v if x is not None)

    @property
    def stats(self) -> dict[str, Any]:
        clock = self.design.clock_mhz
        dram = sum(self.dram_bytes.values())
        return {"cycles": self.cycles, "compute_cycles": self.compute_cycles,
                "stall_cycles_estimate": self.stall_cycles, "macs": self.macs,
                "utilization": self.utilization, "mapping_efficiency": self.mapping_efficiency,
                "sram_accesses": self.sram, "dram_bytes_estimate": self.dram_bytes,
                "required_dram_bytes_per_cycle": dram / self.compute_cycles,
                "energy_pj_estimate": self.energy_pj, "time_us": self.cycles / clock,
                "verified": self.verified}

    def scalesim(self) -> list[dict[str, Any]]:
        """SCALE-Sim 3.0.0-compatible report rows, one per layer instance shape."""
        return [l.scalesim() for l in self.layers]

    def to_dict(self) -> dict[str, Any]:
        return {"design": self.design.name, "design_hash": self.design.hash, "workload": self.workload.name,
                "mode": self.mode, "seconds": self.seconds, "stats": self.stats, "notes": self.notes,
                "layers": [l.to_dict() for l in self.layers]}

    def table(self) -> str:
        rows = []
        for l in self.layers:
            rows.append([l.name, f"{l.layer.M}x{l.layer.N}x{l.layer.K}", str(l.layer.repeat),
                         f"{l.compute_cycles:,}", f"{l.stall_cycles:,}", f"{100 * l.utilization:.1f}",
                         f"{100 * l.mapping_efficiency:.1f}", f"{l.dram_total / 1e6:.3f}",
                         f"{l.energy['total_pj'] / 1e6:.3f}",
                         {True: "yes", False: "NO", None: "-"}[l.verified]])
        if len(self.layers) > 1:
            rows.append(["total", "", "", f"{self.compute_cycles:,}", f"{self.stall_cycles:,}",
                         f"{100 * self.utilization:.1f}", f"{100 * self.mapping_efficiency:.1f}",
                         f"{sum(self.dram_bytes.values()) / 1e6:.3f}",
                         f"{self.energy_pj['total_pj'] / 1e6:.3f}",
                         {True: "yes", False: "NO", None: "-"}[self.verified]])
        return format_table(["layer", "MxNxK", "x", "compute cyc", "stall cyc*", "util %", "map eff %",
                             "DRAM MB*", "energy uJ*", "bit-exact"], rows, align="llrrrrrrrl")

    def scalesim_table(self) -> str:
        rows = []
        for d in self.scalesim():
            rows.append([d["layer"], f"{d['compute_cycles']:,}", f"{d['overall_util_pct']:.4f}",
                         f"{d['mapping_efficiency_pct']:.4f}", f"{d['compute_util_pct']:.4f}",
                         f"{d['ifmap_sram_reads']:,}", f"{d['filter_sram_reads']:,}",
                         f"{d['ofmap_sram_writes']:,}"])
        return format_table(["layer", "compute cycles", "overall util %", "mapping eff %", "compute util %",
                             "ifmap reads", "filter reads", "ofmap writes"], rows)


# ---- the simulator ---------------------------------------------------------------------------------
def _bytes(elements: int, bits: int) -> float:
    return elements * bits / 8.0


class SystolicSim:
    """A built systolic design. ``run(workload)`` simulates it; see the module docstring."""

    def __init__(self, design: Design):
        if design.kind != "systolic":
            raise DesignError(f"{design.source}: kind = {design.kind!r}: SystolicSim needs kind systolic")
        self.design = design
        a = design.array
        self.R, self.C, self.L, self.dataflow = a.rows, a.cols, a.pe_latency, a.dataflow
        if self.dataflow not in ("ws", "os", "is"):
            raise DesignError(f"{design.source}: array.dataflow = {self.dataflow!r}: allowed: ws, os, is")
        ops = design.operands
        try:
            self.wfmt: PEFormat = pe_format(ops.weight)
        except PEError as e:
            raise DesignError(f"{design.source}: operands.weight = {ops.weight!r}: no PE for this format: {e}") from None
        try:
            self.afmt: PEFormat = pe_format(ops.activation)
        except PEError as e:
            raise DesignError(f"{design.source}: operands.activation = {ops.activation!r}: no PE for this "
                              f"format: {e}") from None
        try:
            self.acc_bits = pe_mod.accumulator_bits(ops.accumulator)
        except PEError as e:
            raise DesignError(f"{design.source}: operands.accumulator = {ops.accumulator!r}: {e}") from None
        pw = pe_mod.product_width(self.wfmt, self.afmt)
        if self.acc_bits < pw:
            raise DesignError(f"{design.source}: operands.accumulator = {ops.accumulator!r}: one product of "
                              f"{self.wfmt.name} ({self.wfmt.width}-bit decode) and {self.afmt.name} "
                              f"({self.afmt.width}-bit decode) needs {pw} bits; use int<N> with N >= {pw}")
        gs = ops.group_size
        if gs is not None and (isinstance(gs, bool) or gs <= 0):
            raise DesignError(f"{design.source}: operands.group_size = {gs!r}: must be a positive integer or null")
        allowed = dt.get(self.wfmt.name).group_sizes
        if allowed is not None and gs is not None and gs not in allowed:
            raise DesignError(f"{design.source}: operands.group_size = {gs!r}: format {self.wfmt.name} allows "
                              f"group sizes {', '.join('null' if a is None else str(a) for a in allowed)}")
        self.frac_bits = self.wfmt.frac_bits + self.afmt.frac_bits
        self.energy = EnergyTable.from_design(design)
        mem = design.memory
        self.backing = mem.backing
        self.sram_bytes = {"ifmap": mem.ifmap_kb * 1024, "filter": mem.filter_kb * 1024,
                           "ofmap": mem.ofmap_kb * 1024}
        if self.backing == "dram":
            self._check_min_tiles()

    # -- memory description ------------------------------------------------------------------------
    def _need(self) -> dict[str, tuple[float, str]]:
        """Smallest double-buffered on-chip working set per SRAM (bytes, what) with DRAM backing."""
        R, C = self.R, self.C
        wb, ab, ob = self.wfmt.bits, self.afmt.bits, self.acc_bits
        if self.dataflow == "ws":
            return {"filter": (2 * _bytes(R * C, wb), f"the double-buffered {R}x{C} weight tile"),
                    "ifmap": (2 * _bytes(R, ab), f"two rows of {R} activations"),
                    "ofmap": (2 * _bytes(C, ob), f"two rows of {C} accumulators")}
        if self.dataflow == "is":
            return {"ifmap": (2 * _bytes(R * C, ab), f"the double-buffered {R}x{C} activation tile"),
                    "filter": (2 * _bytes(R, wb), f"two rows of {R} weights"),
                    "ofmap": (2 * _bytes(C, ob), f"two rows of {C} accumulators")}
        return {"ifmap": (2 * _bytes(R, ab), f"two columns of {R} activations"),
                "filter": (2 * _bytes(C, wb), f"two rows of {C} weights"),
                "ofmap": (2 * _bytes(C, ob), f"two rows of {C} results")}

    def _check_min_tiles(self) -> None:
        for mem, (need, what) in self._need().items():
            if need > self.sram_bytes[mem]:
                raise DesignError(f"{self.design.source}: memory.{mem}_kb = {self.sram_bytes[mem] // 1024}: "
                                  f"too small for {what} ({need / 1024:g} KiB)")

    def check_fits(self, layer: Gemm) -> None:
        """With ``memory.backing: none`` a layer's operands and results must fit in the SRAMs."""
        if self.backing != "none":
            return
        need = {"ifmap": _bytes(layer.M * layer.K, self.afmt.bits),
                "filter": _bytes(layer.K * layer.N, self.wfmt.bits),
                "ofmap": _bytes(layer.M * layer.N, self.acc_bits)}
        what = {"ifmap": f"A ({layer.M}x{layer.K} {self.afmt.name})",
                "filter": f"W ({layer.K}x{layer.N} {self.wfmt.name})",
                "ofmap": f"Y ({layer.M}x{layer.N} int{self.acc_bits})"}
        for mem, b in need.items():
            if b > self.sram_bytes[mem]:
                raise WorkloadError(
                    f"{layer.source or 'workload'}: layer {layer.name!r} does not fit the memory of "
                    f"{self.design.source}: {what[mem]} needs {b / 1024:g} KiB but memory.{mem}_kb = "
                    f"{self.sram_bytes[mem] // 1024} and memory.backing = none (operands must be resident); "
                    f"use a smaller layer or a design with backing: dram")

    def dram_model(self, plan: FoldPlan, plan_a_elems: int = 0) -> dict[str, float]:
        """DRAM bytes of one instance (estimate). An operand is fetched once if its reuse footprint fits
        in half its SRAM (the other half prefetches), else once per reuse; output partial sums that do not
        fit in half the output SRAM spill (written every row fold, read back for accumulation).
        ``plan_a_elems``: distinct activation elements (a conv's input, not its im2col matrix)."""
        if self.backing == "none":
            return {"weight_read": 0.0, "activation_read": 0.0, "output_write": 0.0, "output_read": 0.0}
        M, N, K, R, C = plan.M, plan.N, plan.K, self.R, self.C
        wb, ab, ob = self.wfmt.bits, self.afmt.bits, self.acc_bits
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
        return FoldPlan(self.dataflow, self.R, self.C, self.L, layer.M, layer.N, layer.K)

    def _layer_result(self, layer: Gemm, plan: FoldPlan, mode: str, sram: dict[str, int]) -> LayerResult:
        rep = layer.repeat
        sram = {k: v * rep for k, v in sram.items()}
        sb = {"weight_read": _bytes(sram["weight_reads"], self.wfmt.bits),
              "activation_read": _bytes(sram["activation_reads"], self.afmt.bits),
              "output_write": _bytes(sram["output_writes"], self.acc_bits),
              "output_read": _bytes(sram["output_reads"], self.acc_bits)}
        dram = {k: v * rep for k, v in self.dram_model(plan, layer.activation_elements).items()}
        compute = plan.cycles * rep
        if self.backing == "dram":
            dram_cycles = math.ceil(sum(dram.values()) / self.design.memory.dram_bytes_per_cycle)
            stall = max(0, dram_cycles - compute)
        else:
            stall = 0
        energy = self.energy.estimate(layer.macs, sb["weight_read"] + sb["activation_read"] + sb["output_read"],
                                      sb["output_write"], sum(dram.values()), self.R * self.C * (compute + stall))
        comp = rep * (_bytes(layer.activation_elements, self.afmt.bits) + _bytes(layer.K * layer.N, self.wfmt.bits)
                      + _bytes(layer.M * layer.N, self.acc_bits))
        return LayerResult(layer=layer, plan=plan, mode=mode, compute_cycles=compute, stall_cycles=stall,
                           sram=sram, sram_bytes=sb, dram_bytes=dram, energy=energy, compulsory_bytes=comp)

    # -- operands ----------------------------------------------------------------------------------
    def random_operands(self, layer: Gemm, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Seeded uniformly random decodable codes: A [M, K] activations, W [K, N] weights."""
        rng = np.random.default_rng(seed)
        av = np.flatnonzero(self.afmt.valid).astype(np.uint8)
        wv = np.flatnonzero(self.wfmt.valid).astype(np.uint8)
        a = av[rng.integers(0, len(av), size=(layer.M, layer.K))]
        w = wv[rng.integers(0, len(wv), size=(layer.K, layer.N))]
        return a, w

    def quantized_operands(self, layer: Gemm, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Seeded normal floats quantized with the design's formats (weights per output channel, groups of
        ``operands.group_size`` along K; activations per token): codes A [M, K], W [K, N]."""
        def group(name, want):
            f = dt.get(name)
            return want if f.group_sizes is None or want in f.group_sizes else f.default_group_size

        rng = np.random.default_rng(seed)
        x = rng.standard_normal((layer.M, layer.K)).astype(np.float32)
        wt = rng.standard_normal((layer.N, layer.K)).astype(np.float32) * 0.05
        qa = dt.quantize(x, self.afmt.name, group_size=group(self.afmt.name, None))
        qw = dt.quantize(wt, self.wfmt.name, group_size=group(self.wfmt.name, self.design.operands.group_size))
        return qa.codes, np.ascontiguousarray(qw.codes.T)

    def _check_data(self, layer: Gemm, data) -> tuple[np.ndarray, np.ndarray]:
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

    def reference(self, a_codes: np.ndarray, w_codes: np.ndarray) -> np.ndarray:
        """Exact ``wrap(decode(A) @ decode(W))``: float64 BLAS when every partial sum is below 2**53
        (then exact), else an int64 loop (exact modulo 2**64, then wrapped)."""
        a = self.afmt.decoded(a_codes)
        w = self.wfmt.decoded(w_codes)
        amax = max(abs(self.afmt.lo), abs(self.afmt.hi))
        wmax = max(abs(self.wfmt.lo), abs(self.wfmt.hi))
        if amax * wmax * a.shape[1] < 2 ** 53:
            y = np.rint(a.astype(np.float64) @ w.astype(np.float64)).astype(np.int64)
            return wrap(y, self.acc_bits)
        return K_.exact_matmul_int(a, w, np.int64(64 - self.acc_bits))

    # -- running -----------------------------------------------------------------------------------
    def run_layer_cycle(self, layer: Gemm, a_codes: np.ndarray, w_codes: np.ndarray,
                        write_cycles: bool = False):
        """Advance the array clock through one instance of ``layer``; returns (Y int64 [M, N], counters
        [stationary reads, streaming reads, output writes, output reads, cycles, last write cycle]) and,
        with ``write_cycles``, also the cycle of the (last) write of each Y element (int64 [M, N])."""
        dt, sh = self.register_dtype()
        a = np.ascontiguousarray(self.afmt.decoded(a_codes), dtype=dt)
        w = np.ascontiguousarray(self.wfmt.decoded(w_codes), dtype=dt)
        sho = np.int64(64 - self.acc_bits)
        cnt = np.zeros(K_.N_COUNTERS, np.int64)
        R, C, L = np.int64(self.R), np.int64(self.C), np.int64(self.L)
        if self.dataflow == "ws":
            out = np.zeros((layer.M, layer.N), np.int64)
            wc = np.full((layer.M, layer.N), -1, np.int64)
            K_.stationary_kernel(w, a, out, wc, R, C, L, sh, sho, cnt)
        elif self.dataflow == "is":
            out_t = np.zeros((layer.N, layer.M), np.int64)
            wc_t = np.full((layer.N, layer.M), -1, np.int64)
            K_.stationary_kernel(np.ascontiguousarray(a.T), np.ascontiguousarray(w.T), out_t, wc_t, R, C, L, sh,
                                 sho, cnt)
            out, wc = np.ascontiguousarray(out_t.T), np.ascontiguousarray(wc_t.T)
        else:
            out = np.zeros((layer.M, layer.N), np.int64)
            wc = np.full((layer.M, layer.N), -1, np.int64)
            K_.output_stationary_kernel(a, w, out, wc, R, C, L, sh, sho, cnt)
        return (out, cnt, wc) if write_cycles else (out, cnt)

    def register_dtype(self) -> tuple[type, np.int64]:
        """Storage of the PE registers in the kernels and the wrap shift within it: int32 when the
        accumulator is at most 32 bits (decoded operands are at most 32 bits), else int64."""
        if self.acc_bits <= 32:
            return np.int32, np.int64(0 if self.acc_bits == 32 else 64 - self.acc_bits)
        return np.int64, np.int64(64 - self.acc_bits)

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
            operands: str = "random", progress: bool | None = None) -> SystolicResult:
        """Simulate ``workload`` (spec string, Gemm, Conv, Network or list of layers).

        mode: "cycle" (advance the clock; outputs + bit-exact check), "analytical" (closed forms; outputs
        only if ``data`` is given, computed by the reference), "auto" (cycle when at most
        AUTO_CYCLE_LIMIT PE-cycles). ``data``: for a one-layer workload, (A codes [M, K], W codes [K, N]);
        for a conv layer also (input codes [H, W, C], filter codes [R, S, C, N]). Without data the
        cycle mode simulates seeded operands (``operands="random"``: uniform over the decodable codes;
        ``"quantized"``: normal floats quantized with the design's formats). Instances of a repeated
        layer have identical schedules; one is simulated and its counts multiplied.
        """
        import time

        t0 = time.perf_counter()
        net = self._as_network(workload)
        if mode not in ("auto", "cycle", "analytical"):
            raise WorkloadError(f"mode = {mode!r}: allowed: auto, cycle, analytical")
        if operands not in ("random", "quantized"):
            raise WorkloadError(f"operands = {operands!r}: allowed: random, quantized")
        notes = []
        if mode == "auto":
            pc = self.pe_cycles(net)
            mode = "cycle" if pc <= AUTO_CYCLE_LIMIT else "analytical"
            if mode == "analytical":
                notes.append(f"auto mode: {pc:.3g} PE-cycles > {AUTO_CYCLE_LIMIT:.0e}; analytical mode "
                             f"(equal to the cycle-level model by construction and by test)")
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
                out, cnt = self.run_layer_cycle(layer, *codes)
                sram = self._counters_to_sram(cnt)
                if (int(cnt[K_.CYCLES]) != plan.cycles or int(cnt[K_.LAST_WRITE]) != plan.last_write_cycle
                        or sram != plan.sram_accesses()):
                    raise SimulationError(f"{layer.describe()}: cycle-level counts {cnt.tolist()} disagree with "
                                          f"the closed forms ({plan.cycles} cycles, {plan.sram_accesses()})")
                lr = self._layer_result(layer, plan, "cycle", sram)
                lr.output = out
                if check:
                    ref = self.reference(*codes)
                    lr.verified = bool(np.array_equal(out, ref))
                    if not lr.verified:
                        raise SimulationError(f"{layer.describe()}: cycle-level outputs differ from the numpy "
                                              f"reference at {int((out != ref).sum())} positions")
            else:
                lr = self._layer_result(layer, plan, "analytical", plan.sram_accesses())
                if codes is not None:
                    lr.output = self.reference(*codes)
            lr.seconds = time.perf_counter() - t1
            results.append(lr)
            bar.step(layer.name)
        return SystolicResult(design=self.design, workload=net, layers=results, mode=mode,
                              seconds=time.perf_counter() - t0, notes=notes)

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
        x = self.afmt.check_codes(data[0], "input codes")
        f = self.wfmt.check_codes(data[1], "filter codes")
        return conv.im2col(x, self.zero_code()), conv.weights_as_matrix(f)


def _is_conv_data(data, conv: Conv) -> bool:
    try:
        return np.ndim(data[0]) == 3 and np.ndim(data[1]) == 4
    except Exception:
        return False


def build(design: Design) -> SystolicSim:
    return SystolicSim(design)
