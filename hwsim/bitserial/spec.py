"""YAML sections of a ``kind: bitserial`` design (typed, validated once by :mod:`hwsim.spec`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import SpecError, build_section, param

PES = ("bitmod", "bitvert")
BITMOD_FORMATS = ("bitmod3", "bitmod4", "int4", "int6")
BITVERT_PRUNING = ("none", "round_avg", "zero_point_shift")
COMPAT_BITMOD = ("bitmod", "bitmod-lossless", "ant", "olive", "fp16", "design")
COMPAT_BITSIM = ("stripes", "bitvert", "pragmatic", "bitlet", "bitwave")


@dataclass(frozen=True, kw_only=True)
class Array:
    pe: str = param(choices=PES, doc="PE type: bitmod (4-lane FP16 x term-serial weights) or bitvert "
                                     "(16-lane INT8 x bit-column-serial weights)")
    rows: int = param(positive=True, maximum=1024, doc="PE rows (output channels)")
    cols: int = param(positive=True, maximum=1024, doc="PE columns (tokens)")


@dataclass(frozen=True, kw_only=True)
class Weights:
    format: str = param("bitmod4", doc="bitmod PE: bitmod3, bitmod4, int4, int6 (8-bit group scales); bitvert PE: int8")
    group_size: int = param(128, positive=True, doc="bitmod: weights per scale group (a multiple of 4)")
    pruning: str = param("none", choices=BITVERT_PRUNING, doc="bitvert: BBS binary pruning (datatypes.bbs)")
    n_pruned: int = param(4, minimum=0, maximum=6, doc="bitvert: bit columns pruned per group of 16")
    outlier_fraction: float = param(0.0, minimum=0.0, maximum=1.0,
                                    doc="bitvert: fraction of output channels kept at 8 bits (largest |w|)")
    kv_bits: int = param(8, choices=(4, 6, 8), doc="KV cache (attention 'weights') as INT of this width")


@dataclass(frozen=True, kw_only=True)
class Memory:
    weight_kb: int = param(512, positive=True, doc="weight SRAM (KiB)")
    input_kb: int = param(512, positive=True, doc="input/output SRAM (KiB)")
    dram_bits_per_cycle: int = param(256, positive=True, doc="DRAM bandwidth (bits per cycle, DDR included)")


@dataclass(frozen=True, kw_only=True)
class Energy:
    pe_pj: float = param(0.56, positive=True, doc="energy per PE per busy cycle (pJ, before the 1.5 P&R factor)")
    pe_area_um2: float = param(1507.7, positive=True, doc="PE area (um^2)")
    dram_pj_per_bit: float = param(18.75, positive=True, doc="DRAM energy per bit (1200 pJ / 64 bit)")
    sram_read_pj_per_bit: float = param(0.1812, positive=True,
                                        doc="SRAM read energy per bit (CACTI 28 nm, 512 KiB x 8 banks: 92.79 pJ / 512 bit)")
    sram_write_pj_per_bit: float = param(0.1628, positive=True,
                                         doc="SRAM write energy per bit (CACTI 28 nm: 83.35 pJ / 512 bit)")


@dataclass(frozen=True, kw_only=True)
class Compat:
    bitmod_design: str = param("bitmod", choices=COMPAT_BITMOD,
                               doc="--compat bitmod-*: the artefact's design script, or 'design' (this design's "
                                   "array, lanes and weight bits)")
    bitsim_design: str = param("bitvert", choices=COMPAT_BITSIM, doc="--compat bitsim: the BitSim design class")
    bitvert_mode: str = param("ol_eager", choices=("no_bbs", "bbs", "lsb", "ol_eager", "ol"),
                              doc="--compat bitsim with bitvert: the test_bitvert.py mode")
    bitwave_bits: int = param(6, minimum=1, maximum=8, doc="--compat bitsim with bitwave: w_prec")


SECTIONS: dict[str, type] = {"array": Array, "weights": Weights, "memory": Memory, "energy": Energy,
                             "compat": Compat}


def check(design) -> None:
    """Rules across sections."""
    src = getattr(design, "source", getattr(design, "name", "design"))
    a, w = design.array, design.weights
    if a.pe == "bitvert" and w.format != "int8":
        raise SpecError(f"{src}: weights.format = {w.format!r}: the bitvert PE takes int8 (BBS-pruned) weights")
    if a.pe == "bitmod":
        if w.format not in BITMOD_FORMATS:
            raise SpecError(f"{src}: weights.format = {w.format!r}: allowed for the bitmod PE: "
                            f"{', '.join(BITMOD_FORMATS)}")
        if w.group_size % 4:
            raise SpecError(f"{src}: weights.group_size = {w.group_size}: must be a multiple of the 4 lanes")
        if w.pruning != "none":
            raise SpecError(f"{src}: weights.pruning = {w.pruning!r}: BBS pruning needs the bitvert PE")


def sections_from_mapping(raw: dict, src: str = "design") -> dict:
    """Validate a raw YAML mapping's sections (used when the registry's loader is not available)."""
    return {k: build_section(cls, raw.get(k), src, k) for k, cls in SECTIONS.items()}
