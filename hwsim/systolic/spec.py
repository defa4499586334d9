"""The YAML schema of ``kind: systolic``: one frozen dataclass per section, and the rules across sections.

Every value is checked here, once; the simulator and the RTL generator take the typed sections as they
are (the RTL generator adds only its own build limits: array size, memory depth, ``backing: none``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..energy import EnergyTable
from ..spec import SpecError, format_name, param
from ..widths import accumulator_rule


@dataclass(frozen=True, kw_only=True)
class Array:
    rows: int = param(positive=True, maximum=1 << 16, doc="PE rows")
    cols: int = param(positive=True, maximum=1 << 16, doc="PE columns")
    dataflow: str = param(choices=("ws", "os", "is"), doc="weight / output / input stationary")
    pe_latency: int = param(1, positive=True, maximum=64,
                            doc="PE latency, cycles from operands in to partial sum out (II = 1); the RTL "
                                "registers the product from 2 on and the decoded operands from 3 on")
    register_memory_outputs: bool = param(False, doc="an output register on every memory read port the array "
                                                     "reads (operands, accumulate-on-write): read latency 2, "
                                                     "one more cycle per layer")

    @property
    def read_latency(self) -> int:
        """Cycles from a memory read address to its data at the array (1, or 2 with registered outputs)."""
        return 2 if self.register_memory_outputs else 1


@dataclass(frozen=True, kw_only=True)
class Operands:
    weight: str = param("int8", check=format_name, doc="weight format (datatypes name)")
    activation: str = param("int8", check=format_name, doc="activation format")
    accumulator: str = param("int32", check=accumulator_rule(64, "the array accumulates exactly in int64 kernels and wraps"),
                             doc="accumulator int<N> (wraps)")
    group_size: int | None = param(None, positive=True, doc="weight quantization group (None: per row)")

    @property
    def acc_bits(self) -> int:
        return int(self.accumulator[3:])


@dataclass(frozen=True, kw_only=True)
class Memory:
    ifmap_kb: int = param(64, positive=True, maximum=1 << 30, doc="input SRAM, KiB")
    filter_kb: int = param(64, positive=True, maximum=1 << 30, doc="weight SRAM, KiB")
    ofmap_kb: int = param(64, positive=True, maximum=1 << 30, doc="output SRAM, KiB")
    dram_bytes_per_cycle: float = param(32, positive=True, doc="DRAM bandwidth, bytes/cycle")
    backing: str = param("dram", choices=("dram", "none"),
                         doc="dram: SRAMs are double-buffered tiles of DRAM operands; none: each layer's "
                             "operands and results live entirely in the SRAMs (the RTL-verified designs)")

    @property
    def kb(self) -> tuple[int, int, int]:
        return (self.ifmap_kb, self.filter_kb, self.ofmap_kb)


def _layout_row(v) -> str | None:
    if v == "":
        return None
    parts = [x.strip() for x in str(v).split(",")]
    if len(parts) != 20 or not all(x.lstrip("-").isdigit() for x in parts):
        return "expected 20 comma-separated integers (a SCALE-Sim layout row without its name)"
    return None


@dataclass(frozen=True, kw_only=True)
class ScaleSim:
    """How ``--compat scalesim`` configures SCALE-Sim 3.0.0's memory model (a .cfg file sets it)."""

    interface: str = param("calc", choices=("calc", "user"),
                           doc="SCALE-Sim InterfaceBandwidth: calc (it estimates DRAM bandwidth) or user "
                               "(the words/cycle below; stalls when they do not suffice)")
    ifmap_words_per_cycle: int = param(10, positive=True, maximum=1 << 20,
                                       doc="USER: ifmap SRAM fill rate ([layout] IfmapSRAMBankBandwidth)")
    filter_words_per_cycle: int = param(10, positive=True, maximum=1 << 20,
                                        doc="USER: filter SRAM fill rate ([layout] FilterSRAMBankBandwidth)")
    ofmap_words_per_cycle: int = param(10, positive=True, maximum=1 << 20,
                                       doc="USER: ofmap SRAM drain rate ([architecture_presets] Bandwidth)")
    ifmap_custom_layout: bool = param(False, doc="[layout] IfmapCustomLayout: the ifmap SRAM lines follow the "
                                                 "layout row (scalesim.layout) and bank conflicts stall (USER)")
    filter_custom_layout: bool = param(False, doc="[layout] FilterCustomLayout: as ifmap_custom_layout, filter SRAM")
    ifmap_banks: int = param(1, positive=True, maximum=1 << 20, doc="[layout] IfmapSRAMBankNum")
    ifmap_bank_ports: int = param(2, positive=True, maximum=1 << 20, doc="[layout] IfmapSRAMBankPort")
    filter_banks: int = param(1, positive=True, maximum=1 << 20, doc="[layout] FilterSRAMBankNum")
    filter_bank_ports: int = param(2, positive=True, maximum=1 << 20, doc="[layout] FilterSRAMBankPort")
    ifmap_offset: int = param(0, minimum=0, maximum=1 << 50, doc="[architecture_presets] IfmapOffset")
    filter_offset: int = param(10000000, minimum=0, maximum=1 << 50, doc="[architecture_presets] FilterOffset "
                               "(with a custom filter layout it decides the order of SRAM words in a line)")
    layout: str = param("", check=_layout_row, doc="the layout row SCALE-Sim applies to every layer (the first "
                        "row of its layout CSV): 20 comma-separated integers, the CSV's columns after the name")


@dataclass(frozen=True, kw_only=True)
class Rtl:
    """How the generated RTL meets the outside world (rtl_gen.systolic, rtl_gen.hostbus, docs/fpga.md)."""

    host_bus: str = param("wide", choices=("wide", "wishbone", "axi4lite"),
                          doc="host side of the top: wide (full-width host port, shape inputs and start/busy/"
                              "done as ports), wishbone (Wishbone classic, 32-bit) or axi4lite (AXI4-Lite, "
                              "32-bit): CSRs for start/busy/done/shape/cycles and a window onto the memories")
    debug_ports: bool | None = param(None, doc="expose the mon_write debug bus at the top (default: true with "
                                               "host_bus wide, false with a bus)")


@dataclass(frozen=True, kw_only=True)
class Epilogue:
    """The scale epilogue (hwsim.systolic.epilogue, docs/systolic.md section 12)."""

    scales: str = param("none", choices=("none", "fixed"),
                        doc="none: the array's integer GEMM is the result; fixed: each result write adds "
                            "partial sum x weight scale (K-group, column) x activation scale (row), exactly")
    scale_bits: int = param(58, minimum=2, maximum=64, doc="signed fixed-point width of one scale")
    scale_frac: int = param(40, minimum=0, maximum=96, doc="binary point of the scales (s = S * 2**-frac)")
    width: int = param(160, minimum=2, maximum=256, doc="result width (two's complement, wraps)")


SECTIONS = {"array": Array, "operands": Operands, "memory": Memory, "energy": EnergyTable,
            "scalesim": ScaleSim, "epilogue": Epilogue, "rtl": Rtl}


def result_bits(design) -> int:
    """Width of one result-memory lane: the epilogue's width when it scales, else the accumulator."""
    ep = design.epilogue
    return ep.width if ep.scales == "fixed" else design.operands.acc_bits


def check(design) -> None:
    """Rules across sections: both formats have an exact PE decoder, the accumulator holds one product,
    the group size is one the weight format allows, and with DRAM backing the SRAMs hold the smallest
    double-buffered tiles."""
    import datatypes as dt

    from ..pe.model import PEError, min_accumulator_bits, pe_format, product_width, weight_pe_format

    src, ops = design.source, design.operands
    fmts = {}
    for role in ("weight", "activation"):
        name = getattr(ops, role)
        try:
            fmts[role] = (weight_pe_format if role == "weight" else pe_format)(name)
        except PEError as e:
            raise SpecError(f"{src}: operands.{role} = {name!r}: no PE for this format: {e}") from None
    w, a = fmts["weight"], fmts["activation"]
    pw = product_width(w, a)
    if ops.acc_bits < pw:
        raise SpecError(f"{src}: operands.accumulator = {ops.accumulator!r}: one product of {w.name} "
                        f"({w.width}-bit decode) and {a.name} ({a.width}-bit decode) needs {pw} bits; use "
                        f"int<N> with N >= {pw}")
    allowed = dt.get(w.name).group_sizes
    if allowed is not None and ops.group_size is not None and ops.group_size not in allowed:
        raise SpecError(f"{src}: operands.group_size = {ops.group_size!r}: format {w.name} allows group "
                        f"sizes {', '.join('null' if g is None else str(g) for g in allowed)}")
    ep = design.epilogue
    if ep.scales == "fixed":
        R = design.array.rows
        if ops.group_size is None or design.array.dataflow != "os" and ops.group_size % R:
            raise SpecError(f"{src}: operands.group_size = {ops.group_size!r}: with epilogue.scales = fixed "
                            f"the K-group must be set and, in dataflow ws and is, a multiple of array.rows = {R} "
                            f"(each row fold in one group)")
        need = min_accumulator_bits(w, a, ops.group_size)
        if ops.acc_bits < need:
            raise SpecError(f"{src}: operands.accumulator = {ops.accumulator!r}: with epilogue.scales = fixed "
                            f"the accumulator holds a whole K-group's sum exactly ({ops.group_size} products of "
                            f"{w.name} x {a.name}: int{need} or wider)")
        if ep.width < ops.acc_bits:
            raise SpecError(f"{src}: epilogue.width = {ep.width}: at least the accumulator's {ops.acc_bits} bits")
    mem = design.memory
    if mem.backing == "dram":
        for key, (need, what) in min_tiles(design.array, w.bits, a.bits, result_bits(design)).items():
            have = getattr(mem, key) * 1024
            if need > have:
                raise SpecError(f"{src}: memory.{key} = {getattr(mem, key)}: too small for {what} "
                                f"({need / 1024:g} KiB)")


def min_tiles(array: Array, wb: int, ab: int, ob: int) -> dict[str, tuple[float, str]]:
    """Smallest double-buffered on-chip working set per SRAM (bytes, what) with DRAM backing."""
    R, C = array.rows, array.cols
    if array.dataflow == "ws":
        return {"filter_kb": (2 * R * C * wb / 8, f"the double-buffered {R}x{C} weight tile"),
                "ifmap_kb": (2 * R * ab / 8, f"two rows of {R} activations"),
                "ofmap_kb": (2 * C * ob / 8, f"two rows of {C} accumulators")}
    if array.dataflow == "is":
        return {"ifmap_kb": (2 * R * C * ab / 8, f"the double-buffered {R}x{C} activation tile"),
                "filter_kb": (2 * R * wb / 8, f"two rows of {R} weights"),
                "ofmap_kb": (2 * C * ob / 8, f"two rows of {C} accumulators")}
    return {"ifmap_kb": (2 * R * ab / 8, f"two columns of {R} activations"),
            "filter_kb": (2 * C * wb / 8, f"two rows of {C} weights"),
            "ofmap_kb": (2 * C * ob / 8, f"two rows of {C} results")}
