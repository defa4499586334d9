"""How a GEMM maps onto the array (folds) and its exact cycle count and memory accesses (docs/systolic.md);
SCALE-Sim 3.0.0's own fold arithmetic for the compatible report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..layers import WorkloadError


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
    #: cycles from a memory read address to its data at the array: 1, or 2 with
    #: ``array.register_memory_outputs`` (the whole schedule then runs one cycle later)
    read_latency: int = 1

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
        c = self.read_latency + self.folds * self.fold_cycles
        return c + self.R if self.dataflow == "os" else c

    @property
    def last_write_cycle(self) -> int:
        """Cycle of the last result write. Fold lengths are fixed (full R and C), so with a partly used
        last column fold (ws/is) the last write comes C - cols_used cycles before the schedule ends."""
        if self.dataflow == "os":
            return self.cycles - 1
        return self.cycles - 1 - (self.C - self.last_cols)

    def write_cycles(self) -> np.ndarray:
        """Cycle in which each result element Y[m, n] is (finally) written, int64 [M, N] (closed form of
        docs/systolic.md sections 4-5): a per-element timing oracle for RTL testbenches."""
        R, C, L, P = self.R, self.C, self.L, self.fold_cycles
        m = np.arange(self.M, dtype=np.int64)[:, None]
        n = np.arange(self.N, dtype=np.int64)[None, :]
        if self.dataflow == "os":
            f = (n // C) * self.n_inner + m // R
            return self.read_latency + (f + 1) * P + (R - 1 - m % R)
        if self.dataflow == "ws":
            t, col = m, n
        else:
            t, col = n, m
        f = (col // C) * self.n_inner + (self.n_inner - 1)        # last row fold of the column fold
        return self.read_latency + f * P + R + t + L * R + col % C

    @property
    def last_rows(self) -> int:
        """Array rows used by the last inner fold (every other inner fold uses all R)."""
        return self.rows_dim - self.R * (self.n_inner - 1)

    @property
    def last_cols(self) -> int:
        """Array columns used by the last outer fold."""
        return self.cols_dim - self.C * (self.n_outer - 1)

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
        rows = np.where(idx % self.n_inner == self.n_inner - 1, self.last_rows, self.R).astype(np.int64)
        cols = np.where(idx // self.n_inner == self.n_outer - 1, self.last_cols, self.C).astype(np.int64)
        macs = rows * cols * self.T
        P = self.fold_cycles
        return {"start": self.read_latency + idx * P, "cycles": np.full(F, P, np.int64), "rows": rows, "cols": cols,
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
        lr, lc = self.last_rows, self.last_cols
        return {"fold_order": "column folds outer, row folds inner", "outer_folds": self.n_outer,
                "inner_folds": self.n_inner, "fold_cycles": self.fold_cycles,
                "first_fold_start": self.read_latency,
                "rows_per_inner_fold": [int(self.R), lr] if self.n_inner > 1 else [lr],
                "cols_per_outer_fold": [int(self.C), lc] if self.n_outer > 1 else [lc],
                "drain_tail": self.R if self.dataflow == "os" else 0}


#: Most folds per layer of the SCALE-Sim-compatible report (its averages run over every fold).
MAX_COMPAT_FOLDS = 10 ** 7


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
    if F > MAX_COMPAT_FOLDS:
        raise WorkloadError(f"GEMM M={plan.M} N={plan.N} K={plan.K} has {F:,} folds on the {R}x{C} array; "
                         f"the SCALE-Sim-compatible report averages per fold and takes at most "
                         f"{MAX_COMPAT_FOLDS:,}")
    if plan.dataflow == "os":
        per_fold, util_cycles = T + R + C - 2, T + R + C - 2
    else:
        per_fold, util_cycles = 2 * R + C + T - 2, 2 * R + 2 * C + T - 3
    compute = F * per_fold - 1
    from .. import aot
    from .scalesim_mem import KERNELS

    map_eff, comp_util = aot.load(KERNELS).fold_float_averages(plan.used_rows(), plan.used_cols(), int(R * C),
                                                               int(T), int(util_cycles))
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


