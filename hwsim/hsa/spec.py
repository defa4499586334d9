"""The YAML schema of ``kind: hsa``: the hybrid systolic array (HSA) edge-LLM accelerator of Chen, Mun,
Meng, Abdelfattah, Seo (ISLPED 2025, arXiv 2507.09010), as far as its text could be read (the abstract
and the first figure's caption; see docs/hsa.md). One frozen dataclass per YAML section.

Stated by the paper: a systolic array for the compute-bound prefill, a decode mode that is fully used
under edge DRAM bandwidth, MXINT4 weights, RMSNorm and RoPE units. Every number below is ours and the
design files mark it ``# ASSUMED``.

Example (designs/hsa/hsa_8x8_mxint4_lpddr4x.yaml)::

    kind: hsa
    array: {rows: 8, cols: 8, dataflow: ws}
    operands: {weight: mxint4, activation: int8, accumulator: int32, block: 32}
    memory: {ifmap_kb: 64, filter_kb: 64, ofmap_kb: 64, dram_bytes_per_cycle: 34}
    decode: {lanes: null, lane_width: 32}          # null: rate-matched to DRAM
    norm: {lanes: 16}
    rope: {lanes: 8}
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..spec import SpecError, format_name, param
from ..widths import accumulator_rule


def _pow2(v: int) -> str | None:
    return None if v > 0 and v & (v - 1) == 0 else "must be a power of two"


@dataclass(frozen=True, kw_only=True)
class Array:
    rows: int = param(positive=True, maximum=1024, doc="PE rows of the systolic array (prefill GEMM mode)")
    cols: int = param(positive=True, maximum=1024, doc="PE columns")
    dataflow: str = param("ws", choices=("ws", "os", "is"), doc="prefill dataflow (weight/output/input stationary)")
    pe_latency: int = param(1, positive=True, maximum=64, doc="PE latency in the prefill mode (II = 1)")


@dataclass(frozen=True, kw_only=True)
class Operands:
    weight: str = param("mxint4", choices=("mxint4",), doc="weight format: MXINT4 (4-bit elements, E8M0 per block)")
    activation: str = param("int8", check=format_name, doc="activation format of the GEMM/GEMV modes")
    accumulator: str = param("int32", check=accumulator_rule(64, "the prefill array accumulates exactly in int64"),
                             doc="prefill PE accumulator int<N> (wraps)")
    block: int = param(32, choices=(32,), doc="MX block: weights sharing one E8M0 exponent (along K)")

    @property
    def bits_per_weight(self) -> float:
        """Storage of one weight in DRAM: the 4-bit element plus its share of the 8-bit exponent."""
        return 4 + 8 / self.block


@dataclass(frozen=True, kw_only=True)
class Memory:
    ifmap_kb: int = param(64, positive=True, maximum=1 << 20, doc="activation SRAM, KiB (prefill tiles)")
    filter_kb: int = param(64, positive=True, maximum=1 << 20, doc="weight SRAM, KiB (prefill tiles)")
    ofmap_kb: int = param(64, positive=True, maximum=1 << 20, doc="output SRAM, KiB")
    dram_bytes_per_cycle: float = param(32, positive=True, maximum=1 << 16,
                                        doc="DRAM bandwidth in bytes per accelerator cycle (a whole number "
                                            "of bits per cycle)")
    dram_latency: int = param(100, minimum=0, maximum=1 << 16,
                              doc="decode mode: cycles from a layer's first request to its first DRAM data")

    @property
    def dram_bits_per_cycle(self) -> int:
        return round(self.dram_bytes_per_cycle * 8)


@dataclass(frozen=True, kw_only=True)
class Decode:
    lanes: int | None = param(None, positive=True, maximum=1 << 12,
                              doc="GEMV dot-product lanes (null: rate-matched, ceil(DRAM bits per cycle / "
                                  "bits of one lane's beat))")
    lane_width: int = param(32, choices=(8, 16, 32), doc="PEs per lane: weights of one block a lane takes per cycle")
    lane_latency: int = param(2, minimum=1, maximum=64,
                              doc="cycles from a lane's last beat to its result (the generated lane, rtl_gen.hsa: "
                                  "2 -- block sum, then shift-accumulate)")
    acc_bits: int = param(32, minimum=16, maximum=48, doc="GEMV output accumulator width (two's complement, wraps)")
    acc_frac_bits: int = param(16, minimum=0, maximum=40, doc="fractional bits of the GEMV accumulator")
    kv_bits: int = param(8, choices=(4, 8, 16), doc="KV-cache element bits streamed from DRAM in decode attention")


@dataclass(frozen=True, kw_only=True)
class Norm:
    lanes: int = param(16, positive=True, maximum=1024, check=_pow2, doc="RMSNorm lanes (elements per cycle)")
    format: str = param("float32", choices=("float32",), doc="RMSNorm unit number format")
    rsqrt_latency: int = param(16, minimum=1, maximum=256, doc="cycles of the reciprocal square root")
    eps: float = param(1e-5, positive=True, doc="RMSNorm epsilon")


@dataclass(frozen=True, kw_only=True)
class Rope:
    lanes: int = param(8, positive=True, maximum=1024, doc="RoPE lanes (element pairs rotated per cycle)")
    format: str = param("float32", choices=("float32",), doc="RoPE unit number format")
    latency: int = param(3, minimum=1, maximum=64, doc="pipeline latency (multiply, add, write)")
    theta: float = param(10000.0, positive=True, doc="RoPE base")
    pairing: str = param("half", choices=("half", "interleaved"),
                         doc="element pairs: (i, i + hd/2) (Hugging Face Llama) or (2i, 2i + 1)")


@dataclass(frozen=True, kw_only=True)
class Area:
    """An area table (mm^2); every entry is an estimate and ``source`` says where it comes from."""

    pe_mm2: float = param(250e-6, positive=True, doc="one prefill PE (int8 x int4 MAC, int32 accumulator, registers)")
    lane_mm2: float = param(2e-3, minimum=0, doc="one GEMV lane's extra logic (adder tree, shifter, accumulator)")
    sram_mm2_per_kb: float = param(1.5e-3, minimum=0, doc="on-chip SRAM per KiB")
    norm_lane_mm2: float = param(4e-3, minimum=0, doc="one RMSNorm lane (fp32 multiply-add)")
    norm_fixed_mm2: float = param(0.01, minimum=0, doc="RMSNorm reduction tree and reciprocal square root")
    rope_lane_mm2: float = param(6e-3, minimum=0, doc="one RoPE lane (4 fp32 multipliers, 2 adders)")
    other_mm2: float = param(0.02, minimum=0, doc="control, DRAM interface, buffers not listed")
    source: str = param("assumed", doc="where the numbers come from (assumed / a synthesis run)")


SECTIONS = {"array": Array, "operands": Operands, "memory": Memory, "decode": Decode, "norm": Norm,
            "rope": Rope, "area": Area}


def beat_bits(design, elem_bits: float | None = None) -> int:
    """Bits one GEMV lane consumes per cycle: ``lane_width`` weight elements and, for MXINT4, the share
    of the block exponent (a 32-wide lane takes one whole block: 32 x 4 + 8 = 136 bits)."""
    w = design.decode.lane_width
    if elem_bits is None:
        return w * 4 + 8 * w // design.operands.block
    return int(w * elem_bits)


def decode_lanes(design) -> int:
    """Lanes of the GEMV mode: as configured, or rate-matched (enough for the DRAM bandwidth)."""
    d = design.decode
    if d.lanes is not None:
        return d.lanes
    return max(1, math.ceil(design.memory.dram_bits_per_cycle / beat_bits(design)))


def check(design) -> None:
    """Rules across sections: the DRAM delivers a whole number of bits per cycle, the GEMV lanes are PEs
    of the array, the activation format has a PE decoder, and the prefill array is a valid systolic
    design (its own checks)."""
    src = design.source
    mem = design.memory
    bits = mem.dram_bytes_per_cycle * 8
    if abs(bits - round(bits)) > 1e-9:
        raise SpecError(f"{src}: memory.dram_bytes_per_cycle = {mem.dram_bytes_per_cycle!r}: must be a whole "
                        f"number of bits per cycle (a multiple of 0.125)")
    lanes = decode_lanes(design)
    pes = design.array.rows * design.array.cols
    if lanes * design.decode.lane_width > pes:
        raise SpecError(f"{src}: decode.lanes = {design.decode.lanes!r}: {lanes} lanes x {design.decode.lane_width} "
                        f"PEs = {lanes * design.decode.lane_width} > the {pes} PEs of the array (the GEMV mode "
                        f"reuses the array's PEs); use fewer lanes or a larger array")
    from ..pe.model import PEError, pe_format

    try:
        a = pe_format(design.operands.activation)
    except PEError as e:
        raise SpecError(f"{src}: operands.activation = {design.operands.activation!r}: no PE for this format: "
                        f"{e}") from None
    if a.frac_bits or a.width > 16:
        raise SpecError(f"{src}: operands.activation = {design.operands.activation!r}: the GEMV lanes take "
                        f"integer activations of at most 16 bits")
    from .prefill import prefill_design

    prefill_design(design)        # raises SpecError naming this file if the prefill array is invalid
