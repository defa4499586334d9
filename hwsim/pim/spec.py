"""The ``pim`` kind's YAML sections (typed, validated by :mod:`hwsim.spec`).

Example (``designs/pim/hbm_pim_64pch.yaml``)::

    schema: 1
    name: hbm_pim_64pch
    kind: pim
    dram: {pseudo_channels: 64}            # every other key: PIMSimulator's HBM2 ini (the defaults)
    pim: {unit: hbm-pim}                   # 8 blocks per pseudo-channel, 16 FP16 lanes

Defaults are the values of PIMSimulator b464dde's ``ini/HBM2_samsung_2M_16B_x64.ini`` (tCK = 1 ns) so
that a design with only ``pseudo_channels`` set is the published configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from ..spec import SpecError, param


def _pow2(v: Any) -> str | None:
    return None if v > 0 and (v & (v - 1)) == 0 else "must be a power of two"


@dataclass(frozen=True, kw_only=True)
class Dram:
    standard: str = param("hbm2", choices=("hbm2",), doc="DRAM standard")
    pseudo_channels: int = param(64, positive=True, check=_pow2, doc="pseudo-channels (each one controller)")
    ranks: int = param(2, positive=True, check=_pow2, doc="ranks (stack IDs) per pseudo-channel; PIM uses rank 0")
    bank_groups: int = param(4, positive=True, check=_pow2, doc="bank groups per rank")
    banks_per_group: int = param(4, positive=True, check=_pow2, doc="banks per bank group")
    rows: int = param(16384, choices=(16384,),
                      doc="rows per bank (the HBM-PIM address map -- PIMSimulator's, with mode and CRF triggers "
                          "at rows 0x17FF..0x3FFF -- is built for 16384)")
    bursts_per_row: int = param(32, choices=(32,),
                                doc="column bursts per row, 1 KB / 32 B (the kernels' weight and operand layouts "
                                    "are built for 32)")
    burst_bytes: int = param(32, choices=(32,), doc="bytes per column access (64 bit x BL4)")
    tck_ns: float = param(1.0, positive=True, doc="DRAM clock period, ns (PIMSimulator: 1 ns, 2 Gbps)")
    rl: int = param(20, positive=True, doc="read latency, tCK")
    wl: int = param(8, positive=True, doc="write latency, tCK")
    bl: int = param(4, choices=(2, 4, 8), doc="burst length (data bus busy BL/2 tCK)")
    tccd_s: int = param(2, positive=True, doc="column to column, different bank group")
    tccd_l: int = param(4, positive=True, doc="column to column, same bank group (all-bank PIM spacing)")
    trcd_rd: int = param(14, positive=True, doc="ACT to RD")
    trcd_wr: int = param(10, positive=True, doc="ACT to WR")
    tras: int = param(33, positive=True, doc="ACT to PRE")
    trp: int = param(14, positive=True, doc="PRE to ACT")
    trc: int = param(47, positive=True, doc="ACT to ACT, same bank")
    trrd_s: int = param(4, positive=True, doc="ACT to ACT, different bank group")
    trrd_l: int = param(6, positive=True, doc="ACT to ACT, same bank group")
    tfaw: int = param(16, positive=True, doc="four-activation window")
    faw: bool = param(True, doc="enforce tFAW (PIMSimulator never fills its window: compat mode ignores it)")
    trtp_s: int = param(4, positive=True, doc="RD to PRE (short)")
    trtp_l: int = param(5, positive=True, doc="RD to PRE (long)")
    twr: int = param(16, positive=True, doc="write recovery")
    twtr_s: int = param(4, positive=True, doc="WR to RD, different bank group")
    twtr_l: int = param(9, positive=True, doc="WR to RD, same bank group")
    trtrs: int = param(1, minimum=0, doc="rank to rank switch")
    trefi: int = param(3900, positive=True, doc="refresh interval, tCK")
    trfc: int = param(350, positive=True, doc="refresh cycle time, tCK")
    refresh: bool = param(True, doc="issue all-bank refresh every tREFI")
    trans_queue: int = param(64, positive=True, doc="transaction queue depth per pseudo-channel (native: "
                                                    "requests admitted and not yet issued)")
    cmd_queue: int = param(64, positive=True, doc="command queue depth per rank (compat mode's DRAMSim2 controller)")
    bank_queue: int = param(16, positive=True, doc="per-bank request queue depth (native HBM2 controller)")


@dataclass(frozen=True, kw_only=True)
class Pim:
    unit: str = param("hbm-pim", choices=("hbm-pim", "p3llm"), doc="PIM unit: HBM-PIM FP16 block or P3-LLM lanes")
    blocks_per_pch: int = param(8, positive=True, doc="PIM blocks per pseudo-channel (one per bank pair)")
    lanes: int = param(16, positive=True, doc="lanes per block (HBM-PIM: 16 FP16)")
    grf_a: int = param(8, positive=True, doc="GRF_A registers (256 bit each)")
    grf_b: int = param(8, positive=True, doc="GRF_B registers (256 bit each)")
    crf: int = param(32, positive=True, doc="CRF entries (32-bit instructions)")
    weight_bits: int = param(16, choices=(4, 8, 16), doc="weight bits per element in the bank (P3-LLM: 4)")
    kv_bits: int = param(16, choices=(4, 8, 16), doc="KV-cache bits per element (P3-LLM: 4)")
    activation: str = param("fp16", choices=("fp16", "fp8_e4m3"), doc="activation format broadcast to GRF_A")


@dataclass(frozen=True, kw_only=True)
class Energy:
    """Energy per access (estimates: PIMSimulator's ini has every IDD = 0). Defaults: AttAcc's table
    (accelerators.md A.3): cell ACT/PRE 0.11 and RD/WR 0.44 pJ/bit, bank->BG mux 1.01, BG mux->GIO 1.23,
    TSV 0.5, interposer 0.3 pJ/bit; ALU 0.32 pJ per MAC."""
    act_pj_per_bit: float = param(0.11, minimum=0, doc="row activation+precharge, pJ per bit of the row")
    cell_pj_per_bit: float = param(0.44, minimum=0, doc="column RD/WR at the bank, pJ/bit")
    host_path_pj_per_bit: float = param(1.01 + 1.23 + 0.5 + 0.3, minimum=0,
                                        doc="bank -> BG mux -> GIO -> TSV -> interposer, pJ/bit (host accesses)")
    mac_pj: float = param(0.32, minimum=0, doc="one lane MAC (or add/mul), pJ")


SECTIONS: dict[str, type] = {"dram": Dram, "pim": Pim, "energy": Energy}
TOP = ("schema", "name", "kind", "description", "clock_mhz", "verify")


@dataclass(frozen=True)
class PimDesign:
    """A loaded ``pim`` design (used when the caller hands a path or a mapping to :func:`as_design`)."""
    name: str
    dram: Dram
    pim: Pim
    energy: Energy
    source: str = "<design>"

    @property
    def kind(self) -> str:
        return "pim"

    def resolved(self) -> dict:
        import dataclasses
        return {"schema": 1, "name": self.name, "kind": "pim",
                **{k: dataclasses.asdict(getattr(self, k)) for k in SECTIONS}}

    def to_yaml(self) -> str:
        import yaml
        return yaml.safe_dump(self.resolved(), sort_keys=False)

    @property
    def hash(self) -> str:
        import hashlib
        import json
        return hashlib.sha256(json.dumps(self.resolved(), sort_keys=True).encode()).hexdigest()[:12]


def check(design: Any) -> None:
    """Rules across sections."""
    d, p = design.dram, design.pim
    src = getattr(design, "source", "<design>")
    if d.refresh and d.trefi <= d.trfc:
        raise SpecError(f"{src}: dram.trefi = {d.trefi}: must exceed dram.trfc = {d.trfc} (else the rank "
                        f"refreshes forever)")
    if d.bank_groups * d.banks_per_group < 10:
        raise SpecError(f"{src}: dram.bank_groups x dram.banks_per_group = {d.bank_groups * d.banks_per_group}: "
                        f"HBM-PIM's mode entry activates banks 0, 1, 8 and 9, so at least 16 banks are needed")
    banks = d.bank_groups * d.banks_per_group
    if p.blocks_per_pch * 2 != banks:
        raise SpecError(f"{getattr(design, 'source', '<design>')}: pim.blocks_per_pch = {p.blocks_per_pch}: "
                        f"must be banks / 2 = {banks // 2} (one block per even/odd bank pair)")


def from_mapping(raw: Mapping, src: str = "<design>"):
    """A pim design from a mapping, through :func:`hwsim.design.from_dict` (the one loader: common keys,
    name rules, this kind's sections and :func:`check`); ``schema``, ``kind`` and ``name`` may be left out."""
    from hwsim import design

    if not isinstance(raw, Mapping):
        raise SpecError(f"{src}: a design must be a mapping, got {type(raw).__name__}")
    return design.from_dict({"schema": 1, "kind": "pim", "name": "pim", **dict(raw)}, src)


def load(path: str | Path):
    """A pim design file (:func:`hwsim.design.load`)."""
    from hwsim import design

    return design.load(path)


def as_design(design: Any) -> Any:
    """A path, a mapping, or an already-loaded design object with ``dram``/``pim`` sections."""
    if isinstance(design, (str, Path)):
        from hwsim import for_kind

        return for_kind(design, "pim")
    if isinstance(design, Mapping):
        return from_mapping(design)
    for k in ("dram", "pim"):
        if not hasattr(design, k):
            raise TypeError(f"design: expected a pim design (sections dram, pim), got {type(design).__name__}")
    if not hasattr(design, "energy"):
        design = PimDesign(name=getattr(design, "name", "pim"), dram=design.dram, pim=design.pim,
                           energy=Energy())
    return design


def section_names(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]
