"""The YAML schema of ``kind: butterfly``: one frozen dataclass per section, and the rules across sections.

Example (designs/butterfly/vcu128_be40.yaml)::

    schema: 1
    name: bfly_vcu128_be40
    kind: butterfly
    clock_mhz: 200
    processor: {engines: 40, units: 4}
    memory: {input_bits: 2048, weight_bits: 256, output_bits: 2048}

Choices that the artefact does not fix are parameters here and are marked "(our choice)" in their doc.
Designs are loaded by :func:`hwsim.design.load` (the one loader), which validates these sections and
calls :func:`check`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import SpecError, param


def _pow2(v: int) -> str | None:
    return None if v > 0 and v & (v - 1) == 0 else "must be a power of two"


@dataclass(frozen=True, kw_only=True)
class Processor:
    engines: int = param(positive=True, maximum=4096, doc="P_BE: butterfly engines (all run the same layer)")
    units: int = param(4, positive=True, maximum=64, check=_pow2,
                       doc="P_BU: butterfly units per engine (2*P_BU data banks per RAM set)")
    engines_per_controller: int = param(4, positive=True, doc="BEs sharing one controller (artefact: 4)")
    max_length: int = param(4096, minimum=8, maximum=1 << 16, check=_pow2,
                            doc="elements per RAM set per engine = longest butterfly/FFT (artefact: 4096)")
    popcount_bits: int = param(8, minimum=0, maximum=16,
                               doc="bank map (k mod 2P_BU + popcount of the next bits) mod 2P_BU; "
                                   "artefact: bits 3..10, i.e. 8")
    pipeline_latency: int = param(4, minimum=1, maximum=64,
                                  doc="cycles after the last issue of a stage before the next stage may read (multiply, "
                                      "add/sub, complex add, write; our choice, the RTL follows it)")
    weight_buffer_words: int = param(16384, positive=True,
                                     doc="16-bit words per side of the ping-pong weight buffer "
                                         "(VCU128: 16 banks x 1024)")


@dataclass(frozen=True, kw_only=True)
class Memory:
    input_bits: int = param(2048, positive=True, doc="off-chip input data bits per cycle (HBM 2048, DDR3 64)")
    weight_bits: int = param(256, positive=True, doc="off-chip coefficient bits per cycle (HBM 256, DDR3 64)")
    output_bits: int = param(2048, positive=True, doc="off-chip output bits per cycle (HBM 2048, DDR3 128)")
    off_chip: str = param("hbm", choices=("hbm", "ddr3", "ddr4", "other"), doc="label only")


@dataclass(frozen=True, kw_only=True)
class Arith:
    format: str = param("fp16", choices=("fp16",), doc="datapath format (the artefact is FP16 throughout)")
    subnormals: str = param("ieee", choices=("ieee",),
                            doc="ieee: gradual underflow, round to nearest even (our choice; the Xilinx FP "
                                "IP of the artefact flushes subnormals)")


@dataclass(frozen=True, kw_only=True)
class Compat:
    efficiency: float = param(0.85, positive=True, maximum=1.0,
                              doc="'hardware implementation efficiency' divisor of --compat butterfly-acc")


@dataclass(frozen=True, kw_only=True)
class Energy:
    """Estimate only (illustrative 45 nm-class numbers; set them for a real technology)."""
    flop_pj: float = param(0.4, minimum=0, doc="one FP16 multiply or add, pJ")
    ram_pj_per_access: float = param(0.6, minimum=0, doc="one 16-bit data/weight RAM access, pJ")
    dram_pj_per_byte: float = param(160.0, minimum=0, doc="off-chip, pJ per byte")


SECTIONS = {"processor": Processor, "memory": Memory, "arith": Arith, "compat": Compat, "energy": Energy}


def check(design) -> None:
    """Rules across sections: buses carry whole FP16 elements (the authors' simulator asserts the same:
    bandwidth a multiple of 32 bits for complex data)."""
    src, mem = getattr(design, "source", "<design>"), design.memory
    for key in ("input_bits", "weight_bits", "output_bits"):
        v = getattr(mem, key)
        if v % 32:
            raise SpecError(f"{src}: memory.{key} = {v}: must be a multiple of 32 (one complex FP16 element)")
    p = design.processor
    if p.max_length < 4 * p.units:
        raise SpecError(f"{src}: processor.max_length = {p.max_length}: must be >= 4*units ({4 * p.units})")
