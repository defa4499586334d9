"""Results of a systolic simulation: per layer and for the whole workload (tables, JSON, CSV rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..design import Design
from ..report import format_table
from ..workloads import Gemm, Network
from .timing import FoldPlan, scalesim_metrics


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
    closed_form_agrees: bool | None = None  #: cycle mode: the kernel's counts equal the closed forms
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
                "energy_pj_estimate": self.energy, "verified": self.verified,
                "closed_form_agrees": self.closed_form_agrees, "trace": self.plan.trace()}


@dataclass
class SystolicResult:
    design: Design
    workload: Network
    layers: list[LayerResult]
    mode: str
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    compat: str | None = None       #: "scalesim": report SCALE-Sim 3.0.0's fields too
    _scalesim: list | None = field(default=None, repr=False, compare=False)

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
    def closed_form_agrees(self) -> bool | None:
        """Cycle mode: every layer's counted cycles and accesses equal the closed forms (None: analytical)."""
        v = [l.closed_form_agrees for l in self.layers]
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
                "verified": self.verified, "closed_form_agrees": self.closed_form_agrees}

    def scalesim(self) -> list[dict[str, Any]]:
        """SCALE-Sim 3.0.0-compatible report rows (every field of its COMPUTE, BANDWIDTH and
        DETAILED_ACCESS reports, snake_case keys of ``scalesim_io.FIELDS``), one per layer instance: the
        compute-side numbers from SCALE-Sim's fold arithmetic, cycles, stalls and DRAM/SRAM timing from
        the port of its memory system (``scalesim_mem``), configured by the design's ``scalesim`` and
        ``memory`` sections."""
        if self._scalesim is None:
            from . import scalesim_mem as sm

            d = self.design
            ss, m = d.sections["scalesim"], d.memory
            mem = sm.MemConfig(m.ifmap_kb, m.filter_kb, m.ofmap_kb, ss.interface, ss.ifmap_words_per_cycle,
                               ss.filter_words_per_cycle, ss.ofmap_words_per_cycle,
                               ss.ifmap_custom_layout, ss.filter_custom_layout, ss.ifmap_banks, ss.filter_banks,
                               ss.ifmap_bank_ports, ss.filter_bank_ports, ss.ifmap_offset, ss.filter_offset,
                               tuple(int(x) for x in ss.layout.split(",")) if ss.layout else None)
            convs = self.workload.convs
            rows, memo = [], {}
            for i, l in enumerate(self.layers):
                base = l.scalesim()
                conv = convs[i] if i < len(convs) else None
                key = sm.Geometry.of(l.layer, conv)          # identical layers (LLM blocks) run once
                if key not in memo:
                    memo[key] = sm.simulate(l.layer, conv, l.plan.R, l.plan.C, l.plan.dataflow, mem)
                dyn = memo[key]
                total = dyn["compute_cycles"]
                row = {"layer": base["layer"], **base, **dyn}
                row["overall_util_pct"] = (l.layer.M * l.layer.N * l.layer.K * 100) / (total * l.plan.R * l.plan.C)
                for op, key in (("ifmap", "ifmap_sram_reads"), ("filter", "filter_sram_reads"),
                                ("ofmap", "ofmap_sram_writes")):
                    row[f"avg_{op}_sram_bw"] = row[key] / total
                rows.append(row)
            self._scalesim = rows
        return self._scalesim

    def scalesim_report(self) -> list[dict[str, Any]]:
        """``scalesim()`` under SCALE-Sim's own report column names (report.json's "compat")."""
        from .scalesim_io import FIELDS

        return [{"LayerID": i, "Layer name": r["layer"], **{FIELDS[k]: r[k] for k in FIELDS}}
                for i, r in enumerate(self.scalesim())]

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": "systolic", "design": self.design.name, "design_hash": self.design.hash,
               "workload": self.workload.name, "mode": self.mode, "seconds": self.seconds, "stats": self.stats,
               "notes": self.notes, "layers": [l.to_dict() for l in self.layers]}
        if self.compat == "scalesim":
            out["compat"] = {"scalesim": self.scalesim_report()}
        return out

    def render(self) -> str:
        """The text report (``report.txt``)."""
        from .report import render

        return render(self, scalesim=self.compat == "scalesim")

    def layer_rows(self) -> tuple[list[str], list[list[Any]]]:
        """Header and rows of ``layers.csv``."""
        from .report import layer_rows

        return layer_rows(self)

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
            rows.append([d["layer"], f"{d['total_cycles_incl_prefetch']:,}", f"{d['compute_cycles']:,}",
                         f"{d['stall_cycles']:,}", f"{d['overall_util_pct']:.4f}",
                         f"{d['mapping_efficiency_pct']:.4f}", f"{d['compute_util_pct']:.4f}",
                         f"{d['ifmap_sram_reads']:,}", f"{d['filter_sram_reads']:,}",
                         f"{d['ofmap_sram_writes']:,}", f"{d['ifmap_dram_reads']:,}",
                         f"{d['filter_dram_reads']:,}", f"{d['ofmap_dram_writes']:,}"])
        return format_table(["layer", "total incl. prefetch", "total cycles", "stall", "overall util %",
                             "mapping eff %", "compute util %", "SRAM ifmap rd", "SRAM filter rd",
                             "SRAM ofmap wr", "DRAM ifmap rd", "DRAM filter rd", "DRAM ofmap wr"], rows)


