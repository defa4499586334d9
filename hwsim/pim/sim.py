"""The ``pim`` simulator: ``build(design) -> PimSimulator``; ``sim.run(workload, mode, compat, seed)``.

Every kernel is lowered to the command stream HBM-PIM's host issues (PIMSimulator's ``PIMKernel``: park,
SB->AB, CRF programming, per tile the GRF_A broadcast and the all-bank column commands that trigger the
PIM blocks, GRF_B->bank, AB->SB) and run on a command-level engine, in tCK: the native HBM2 engine
(:mod:`.hbm2`: row and column command buses, open page, FCFS per-bank queues, event-driven) in native
runs, the DRAMSim2 re-implementation (:mod:`.engine`) under ``compat="pimsimulator"``. The non-PIM
baseline is PIMSimulator's traffic: the host streams every operand through the normal read path, then
writes the result (on the same engine as the PIM run).

* ``mode="cycle"`` (and ``auto``): the design's DRAM timings, tFAW enforced when ``dram.faw`` (it is by
  default), and the functional result of the PIM blocks (gemv / add / mul / relu on seeded FP16 data,
  checked bit-for-bit against the numpy FP16 reference of the same operation order).
* ``compat="pimsimulator"``: PIMSimulator b464dde's own accounting (its DRAMSim2 controller never fills
  its activation window, so tFAW is off); the numbers under ``compat`` use its printed names.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import compat as C
from . import engine
from .spec import as_design
from .workload import Kernel, parse

COMPAT = {"pimsimulator": "SAITPublic/PIMSimulator b464dde"}
FUNCTIONAL_LIMIT = 1 << 25       #: operand elements up to which cycle mode also checks the PIM results
MODES = ("auto", "cycle")


class PimRunError(ValueError):
    """A run option that cannot be used (mode, compat name)."""


def dramsim_config(design: Any, compat: bool) -> dict:
    """The design's DRAM section as DRAMSim2 ini values (the engine's parameters)."""
    d = design.dram
    cfg = dict(C.HBM2_SAMSUNG)
    cfg.update(BL=d.bl, RL=d.rl, WL=d.wl, tCCDS=d.tccd_s, tCCDL=d.tccd_l, tRCDRD=d.trcd_rd, tRCDWR=d.trcd_wr,
               tRAS=d.tras, tRRDS=d.trrd_s, tRRDL=d.trrd_l, tRC=d.trc, tRP=d.trp, tRTPS=d.trtp_s,
               tRTPL=d.trtp_l, tWR=d.twr, tWTRS=d.twtr_s, tWTRL=d.twtr_l, tRTRS=d.trtrs, tRFC=d.trfc,
               tREFI=d.trefi if d.refresh else C.NO_REFRESH_TREFI, tXAW=d.tfaw,
               NUM_BANKS=d.bank_groups * d.banks_per_group, NUM_BANK_GROUPS=d.bank_groups,
               TRANS_QUEUE_DEPTH=d.trans_queue, CMD_QUEUE_DEPTH=d.cmd_queue, RANKS=d.ranks,
               BANK_QUEUE_DEPTH=d.bank_queue)
    return cfg


@dataclass
class KernelResult:
    kernel: Kernel
    pim_cycles: int
    nonpim_cycles: int
    pim_stats: dict
    nonpim_stats: dict
    functional: dict | None = None

    @property
    def speedup(self) -> float:
        return self.nonpim_cycles / self.pim_cycles if self.pim_cycles else float("inf")


@dataclass
class PimResult:
    design_name: str
    design_hash: str
    workload: str
    mode: str
    compat: str | None
    tck_ns: float
    channels: int
    kernels: list[KernelResult]
    energy: dict = field(default_factory=dict)
    seed: int = 0
    design: Any = None          #: the design object (``write_run`` writes its resolved YAML)

    @property
    def cycles(self) -> int:
        return sum(k.pim_cycles * k.kernel.count for k in self.kernels)

    @property
    def nonpim_cycles(self) -> int:
        return sum(k.nonpim_cycles * k.kernel.count for k in self.kernels)

    def _stats(self) -> dict:
        tot = {n: 0 for n in engine.STAT_NAMES}
        for k in self.kernels:
            for n in engine.STAT_NAMES:
                tot[n] += k.pim_stats[n] * k.kernel.count
        macs = sum(k.kernel.macs * k.kernel.count for k in self.kernels)
        cyc = self.cycles
        s = {"cycles": cyc, "seconds": cyc * self.tck_ns * 1e-9, "nonpim_cycles": self.nonpim_cycles,
             "speedup": (self.nonpim_cycles / cyc) if cyc else None, "macs": macs,
             "commands": tot, "pseudo_channels": self.channels}
        s["host_bytes"] = (tot["rd"] + tot["wr"] - tot["col_ab"]) * 32
        s["pim_internal_bytes"] = tot["col_ab"] * 32 * 8
        s["achieved_internal_gbps"] = s["pim_internal_bytes"] / s["seconds"] / 1e9 if cyc else 0.0
        if self.energy:
            s["energy_pj_estimate"] = self.energy
        func = [k.functional for k in self.kernels if k.functional is not None]
        if func:
            s["bit_exact"] = all(f["bit_exact"] for f in func)
        return s

    def to_dict(self) -> dict:
        d = {"design": self.design_name, "design_hash": self.design_hash, "workload": self.workload,
             "mode": self.mode, "seed": self.seed, "stats": self._stats(),
             "layers": [dict(zip(self.layer_rows()[0], row)) for row in self.layer_rows()[1]]}
        if self.compat:
            d["compat"] = {"simulator": COMPAT[self.compat], "fixture": "PIMBenchFixture",
                           "kernels": [{"kernel": k.kernel.describe(), "count": k.kernel.count,
                                        "Cycle (PIM disabled)": k.nonpim_cycles,
                                        "Cycle (PIM enabled)": k.pim_cycles,
                                        "Speed-up": float(np.float32(k.nonpim_cycles) / np.float32(k.pim_cycles))}
                                       for k in self.kernels]}
        return d

    def layer_rows(self) -> tuple[list[str], list[list]]:
        header = ["name", "op", "n", "k", "batch", "count", "pim_cycles", "nonpim_cycles", "speedup",
                  "act", "rd", "wr", "ref", "bit_exact"]
        rows = []
        for k in self.kernels:
            f = k.functional
            rows.append([k.kernel.name, k.kernel.op, k.kernel.n, k.kernel.k, k.kernel.batch, k.kernel.count,
                         k.pim_cycles, k.nonpim_cycles, round(k.speedup, 4), k.pim_stats["act"],
                         k.pim_stats["rd"], k.pim_stats["wr"], k.pim_stats["ref"],
                         "" if f is None else ("yes" if f["bit_exact"] else "NO")])
        return header, rows

    def render(self) -> str:
        from ..report import format_table
        s = self._stats()
        lines = [f"design {self.design_name} ({self.design_hash}), kind pim, {self.channels} pseudo-channels, "
                 f"tCK {self.tck_ns:g} ns",
                 f"workload {self.workload}, mode {self.mode}" + (f", compat {self.compat}" if self.compat else ""),
                 f"PIM cycles      {s['cycles']:,} tCK ({s['seconds'] * 1e6:.3f} us)",
                 f"non-PIM cycles  {s['nonpim_cycles']:,} tCK (host streams operands, PIMSimulator's baseline"
                 + (")" if self.compat else ", on the native HBM2 engine)"),
                 "DRAM engine     " + ("DRAMSim2 as PIMSimulator runs it (hwsim.pim.engine)" if self.compat else
                                      "native HBM2: row + column command buses, open page, FCFS per-bank queues "
                                      "(hwsim.pim.hbm2)"),
                 f"speed-up        {s['speedup']:.3f}" if s["speedup"] else "speed-up        -",
                 "commands        " + ", ".join(f"{n} {v:,}" for n, v in s["commands"].items()),
                 f"internal bandwidth {s['achieved_internal_gbps']:.1f} GB/s (all-bank column commands x 8 banks x 32 B)"]
        if "bit_exact" in s:
            lines.append(f"functional: PIM blocks vs numpy FP16 reference, bit-exact: {'yes' if s['bit_exact'] else 'NO'}")
        if self.energy:
            lines.append("energy (estimate, AttAcc pJ/bit table): " +
                         ", ".join(f"{k} {v / 1e6:.3f} uJ" for k, v in self.energy.items()))
        if self.compat:
            lines.append(f"compat {self.compat}: numbers as {COMPAT[self.compat]} PIMBenchFixture prints them")
        h, rows = self.layer_rows()
        lines += ["", format_table(h, rows)]
        return "\n".join(lines) + "\n"


class PimSimulator:
    def __init__(self, design: Any):
        self.design = as_design(design)

    # -- one kernel
    def _kernel(self, k: Kernel, cfg: dict, faw: bool, seed: int, functional: bool, compat: bool) -> KernelResult:
        from . import block
        ch = self.design.dram.pseudo_channels
        func = None
        if compat:
            pim, pst = C.pim_cycles(k.op, k.n, k.k, k.batch, ch, cfg, faw)
        elif self.design.pim.unit == "p3llm":
            from .p3llm import p3_cycles
            if k.op != "gemv":
                raise PimRunError(f"{getattr(self.design, 'source', 'design')}: pim.unit = p3llm runs GEMV "
                                  f"and attention (gemv / llm workloads), not {k.op}")
            pim, pst = p3_cycles(k, ch, cfg, self.design.pim.lanes, faw)
            pst = pst * ch
        elif functional:
            func = block.run_functional(k, ch, seed, cfg, faw)
            pim, pst = func.pop("cycles"), func.pop("stats") * ch
        else:
            pim, pst = block.native_cycles(k, ch, cfg, faw)
            pst = pst * ch
        non, nst = C.nonpim_cycles(k.op, k.n, k.k, k.batch, ch, cfg, faw, native=not compat)
        return KernelResult(k, pim, non, dict(zip(engine.STAT_NAMES, map(int, pst))),
                            dict(zip(engine.STAT_NAMES, map(int, nst))), func)

    def run(self, workload: str, mode: str = "auto", compat: str | None = None, seed: int = 0) -> PimResult:
        from ..layers import check_seed
        check_seed(seed)       # an integer 0..2**32-1, as --seed
        if mode not in MODES:
            raise PimRunError(f"mode = {mode!r}: allowed for kind pim: {', '.join(MODES)}")
        if compat is not None and compat not in COMPAT:
            raise PimRunError(f"compat = {compat!r}: allowed for kind pim: {', '.join(COMPAT)}")
        name, kernels = parse(workload)
        d = self.design
        cfg = dramsim_config(d, compat is not None)
        faw = bool(d.dram.faw) and compat is None
        if compat is not None and d.pim.unit != "hbm-pim":
            raise PimRunError(f"compat = {compat!r} reproduces HBM-PIM; this design has pim.unit = {d.pim.unit!r}")
        # the functional check runs seeded data through every block: only for single kernels of a size
        # whose operands fit comfortably in memory (larger ones report cycles only)
        functional = (compat is None and d.pim.unit == "hbm-pim" and all(k.count == 1 for k in kernels)
                      and all(k.n * (k.k if k.op == "gemv" else 1) * k.batch <= FUNCTIONAL_LIMIT for k in kernels))
        cache: dict[tuple, KernelResult] = {}
        out = []
        for k in kernels:
            key = (k.op, k.n, k.k, k.batch)
            if key not in cache:
                cache[key] = self._kernel(k, cfg, faw, seed, functional, compat is not None)
            r = cache[key]
            out.append(dataclasses.replace(r, kernel=k))
        res = PimResult(d.name, d.hash, name, "cycle" if mode == "auto" else mode, compat, d.dram.tck_ns,
                        d.dram.pseudo_channels, out, seed=seed, design=d)
        res.energy = energy_estimate(res, d)
        return res


def energy_estimate(res: PimResult, design: Any) -> dict:
    """Energy from command counts (an estimate: AttAcc's per-bit table, accelerators.md A.3)."""
    e = design.energy
    d = design.dram
    row_bits = d.bursts_per_row * d.burst_bytes * 8
    tot = {n: 0 for n in engine.STAT_NAMES}
    macs = 0
    for k in res.kernels:
        for n in engine.STAT_NAMES:
            tot[n] += k.pim_stats[n] * k.kernel.count
        macs += k.kernel.macs * k.kernel.count
    blocks = design.pim.blocks_per_pch
    acts = (tot["act"] - tot["act_ab"]) + tot["act_ab"] * blocks
    col_bits_bank = (tot["rd"] + tot["wr"] - tot["col_ab"] + tot["col_ab"] * blocks) * d.burst_bytes * 8
    host_bits = (tot["rd"] + tot["wr"] - tot["col_ab"]) * d.burst_bytes * 8
    return {"activation": acts * row_bits * e.act_pj_per_bit,
            "bank_access": col_bits_bank * e.cell_pj_per_bit,
            "host_path": host_bits * e.host_path_pj_per_bit,
            "pim_alu": macs * e.mac_pj}


def build(design: Any) -> PimSimulator:
    return PimSimulator(design)
