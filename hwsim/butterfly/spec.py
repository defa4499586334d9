"""The YAML schema of ``kind: butterfly``: one frozen dataclass per section, and the rules across sections.

Example (designs/butterfly/vcu128_be40.yaml)::

    schema: 1
    name: bfly_vcu128_be40
    kind: butterfly
    clock_mhz: 200
    processor: {engines: 40, units: 4}
    memory: {input_bits: 2048, weight_bits: 256, output_bits: 2048}

Choices that the artefact does not fix are parameters here and are marked "(our choice)" in their doc.
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


# ---- a design object for this kind (used until hwsim.design.load dispatches through the registry) ----
_TOP = {"schema": (int, None), "name": (str, None), "kind": (str, None), "description": (str, ""),
        "clock_mhz": ((int, float), 200.0), "verify": (bool, False)}


@dataclass(frozen=True)
class ButterflyDesign:
    name: str
    source: str
    clock_mhz: float
    processor: Processor
    memory: Memory
    arith: Arith
    compat: Compat
    energy: Energy
    description: str = ""
    verify: bool = False
    kind: str = "butterfly"

    def resolved(self) -> dict:
        import dataclasses as dc
        out = {"schema": 1, "name": self.name, "kind": self.kind, "description": self.description,
               "clock_mhz": self.clock_mhz, "verify": self.verify}
        for sec in SECTIONS:
            out[sec] = dc.asdict(getattr(self, sec))
        return out

    def to_yaml(self) -> str:
        import yaml
        return yaml.safe_dump(self.resolved(), sort_keys=False)

    @property
    def hash(self) -> str:
        import hashlib
        import json
        text = json.dumps(self.resolved(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def from_dict(data, source: str = "<dict>") -> ButterflyDesign:
    """Validate a design mapping of kind butterfly (every error names source, key, value, what is allowed)."""
    from collections.abc import Mapping

    from ..spec import build_section, short
    if not isinstance(data, Mapping):
        raise SpecError(f"{source}: a design must be a mapping, got {short(data)}")
    unknown = sorted(set(map(str, data)) - set(_TOP) - set(SECTIONS))
    if unknown:
        raise SpecError(f"{source}: {unknown[0]}: unknown key; allowed: {', '.join([*_TOP, *SECTIONS])}")
    top = {}
    for key, (ts, default) in _TOP.items():
        v = data.get(key, default)
        if v is None:
            raise SpecError(f"{source}: {key} is missing")
        if isinstance(v, bool) and ts is not bool or not isinstance(v, ts):
            raise SpecError(f"{source}: {key} = {short(v)}: wrong type")
        top[key] = v
    if top["schema"] != 1:
        raise SpecError(f"{source}: schema = {short(top['schema'])}: allowed: 1")
    if top["kind"] != "butterfly":
        raise SpecError(f"{source}: kind = {short(top['kind'])}: this loader reads kind: butterfly")
    if not top["clock_mhz"] > 0:
        raise SpecError(f"{source}: clock_mhz = {short(top['clock_mhz'])}: must be > 0")
    secs = {k: build_section(cls, data.get(k), source, k) for k, cls in SECTIONS.items()}
    d = ButterflyDesign(name=top["name"], source=source, clock_mhz=float(top["clock_mhz"]),
                        description=top["description"], verify=top["verify"], **secs)
    check(d)
    return d


def load(path) -> ButterflyDesign:
    from pathlib import Path

    import yaml
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except OSError as e:
        raise SpecError(f"{p}: cannot read: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise SpecError(f"{p}: not valid YAML: {str(e).splitlines()[0]}") from None
    return from_dict(data, str(p))
