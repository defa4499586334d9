"""YAML designs: the single source of truth for a hardware design.

    design = hwsim.design.load("designs/sa_ws_8x8_int8.yaml")
    design.name, design.kind, design.array.rows, design.operands.weight
    design.resolved()      # plain dict with every default filled in
    design.hash            # 12 hex digits of the resolved design; keys build directories

The schema is declarative: each kind lists its sections and fields (type, default, allowed values).
Every error names the file, the key path, the bad value and what is allowed. Only ``yaml.safe_load``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from .energy import DEFAULTS as _ENERGY

SCHEMA_VERSION = 1
REQUIRED = object()


class DesignError(ValueError):
    """A design file that cannot be used; the message names file, key path, value and what is allowed."""


@dataclass(frozen=True)
class Field:
    type: type | tuple[type, ...]
    default: Any = REQUIRED
    choices: tuple | None = None
    minimum: float | None = None          #: inclusive lower bound (numbers)
    positive: bool = False                #: strictly > 0 (numbers)
    check: Callable[[Any], str | None] | None = None   #: extra check: returns an error text or None
    doc: str = ""


def _format_name(value: Any) -> str | None:
    import datatypes

    try:
        datatypes.get(value)
    except ValueError as e:
        return str(e)
    return None


def _accumulator(value: Any) -> str | None:
    if value in ("fp32", "fp16", "bf16"):
        return None
    if isinstance(value, str) and value.startswith("int") and value[3:].isdigit() and 2 <= int(value[3:]) <= 64:
        return None
    return "expected int<bits> (2..64) or fp32/fp16/bf16"


#: Sections common to every kind (top-level scalar keys).
COMMON: dict[str, Field] = {
    "schema": Field(int, choices=(SCHEMA_VERSION,), doc="schema version"),
    "name": Field(str, doc="design name; artefacts are written under build/<name>-<hash>/"),
    "kind": Field(str, doc="accelerator family"),
    "description": Field(str, default="", doc="free text"),
    "clock_mhz": Field((int, float), default=500.0, positive=True, doc="clock frequency, MHz"),
    "verify": Field(bool, default=False, doc="part of the three-level regression"),
}

#: kind -> section -> field -> Field. Kinds are added with register_kind().
KINDS: dict[str, dict[str, dict[str, Field]]] = {}


def register_kind(kind: str, sections: dict[str, dict[str, Field]]) -> None:
    KINDS[kind] = sections


register_kind("systolic", {
    "array": {
        "rows": Field(int, positive=True, doc="PE rows"),
        "cols": Field(int, positive=True, doc="PE columns"),
        "dataflow": Field(str, choices=("ws", "os", "is"), doc="weight / output / input stationary"),
        "pe_latency": Field(int, default=1, positive=True,
                            doc="PE latency, cycles from operands in to partial sum out (II = 1)"),
    },
    "operands": {
        "weight": Field(str, default="int8", check=_format_name, doc="weight format (datatypes name)"),
        "activation": Field(str, default="int8", check=_format_name, doc="activation format"),
        "accumulator": Field(str, default="int32", check=_accumulator, doc="accumulator type"),
        "group_size": Field((int, type(None)), default=None, doc="weight quantization group (None: per row)"),
    },
    "memory": {
        "ifmap_kb": Field(int, default=64, positive=True, doc="input SRAM, KiB"),
        "filter_kb": Field(int, default=64, positive=True, doc="weight SRAM, KiB"),
        "ofmap_kb": Field(int, default=64, positive=True, doc="output SRAM, KiB"),
        "dram_bytes_per_cycle": Field((int, float), default=32, positive=True, doc="DRAM bandwidth, bytes/cycle"),
        "backing": Field(str, default="dram", choices=("dram", "none"),
                         doc="dram: SRAMs are double-buffered tiles of DRAM operands; none: each layer's "
                             "operands and results live entirely in the SRAMs (the RTL-verified designs)"),
    },
    "energy": {
        "mac_pj": Field((int, float), default=_ENERGY["mac_pj"], minimum=0, doc="energy per MAC, pJ"),
        "sram_read_pj_per_byte": Field((int, float), default=_ENERGY["sram_read_pj_per_byte"], minimum=0, doc="SRAM read, pJ/byte"),
        "sram_write_pj_per_byte": Field((int, float), default=_ENERGY["sram_write_pj_per_byte"], minimum=0, doc="SRAM write, pJ/byte"),
        "dram_pj_per_byte": Field((int, float), default=_ENERGY["dram_pj_per_byte"], minimum=0, doc="DRAM transfer, pJ/byte"),
        "idle_pe_pj": Field((int, float), default=_ENERGY["idle_pe_pj"], minimum=0, doc="per PE per cycle (clock/leakage), pJ"),
    },
})

# RTL units (generators in rtl_gen/; formats without a hardware decoder and impossible widths are
# reported by rtl_gen before any build).
_META = ("auto", "none", "group")


def _rtl_accumulator(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith("int") and value[3:].isdigit() and 2 <= int(value[3:]) <= 128:
        return None
    return "expected int<bits> (2..128): the PE accumulates in two's complement and wraps"
_STYLE = ("auto", "structured", "table")
register_kind("decoder", {
    "decoder": {
        "format": Field(str, check=_format_name, doc="number format (datatypes name)"),
        "meta": Field(str, default="auto", choices=_META,
                      doc="group-metadata input: auto = the format's default, none, group"),
        "style": Field(str, default="auto", choices=_STYLE,
                       doc="auto = arithmetic where the format has structure, else lookup table"),
    },
})
register_kind("pe", {
    "operands": {
        "weight": Field(str, check=_format_name, doc="weight format (datatypes name)"),
        "activation": Field(str, default="int8", check=_format_name, doc="activation format"),
        "accumulator": Field(str, default="int32", check=_rtl_accumulator, doc="accumulator int<N> (wraps)"),
        "weight_meta": Field(str, default="auto", choices=_META, doc="weight group-metadata input"),
    },
    "pe": {
        "stages": Field(int, default=1, choices=(1, 2), doc="pipeline stages = latency in cycles"),
        "weight_style": Field(str, default="auto", choices=_STYLE, doc="weight decoder style"),
    },
})


class _Section:
    """Read-only attribute view of one resolved section."""

    def __init__(self, path: str, values: Mapping[str, Any]):
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"design section {self._path!r} has no key {key!r}; "
                                 f"it has {', '.join(self._values)}") from None

    def __setattr__(self, key, value):
        raise dataclasses.FrozenInstanceError(f"design section {self._path!r} is read-only")

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def asdict(self) -> dict[str, Any]:
        return dict(self._values)

    def __repr__(self) -> str:
        return f"{self._path}({', '.join(f'{k}={v!r}' for k, v in self._values.items())})"


@dataclass(frozen=True)
class Design:
    name: str
    kind: str
    schema: int
    description: str
    clock_mhz: float
    verify: bool
    sections: Mapping[str, _Section] = field(repr=False)
    source: str = field(default="<string>", compare=False)

    def __getattr__(self, key: str) -> Any:
        sections = object.__getattribute__(self, "sections")
        if key in sections:
            return sections[key]
        raise AttributeError(f"design {self.name!r} (kind {self.kind}) has no section {key!r}; "
                             f"it has {', '.join(sections)}")

    def resolved(self) -> dict[str, Any]:
        """The design with every default filled in, as plain data (what design.resolved.yaml holds)."""
        out: dict[str, Any] = {"schema": self.schema, "name": self.name, "kind": self.kind,
                               "description": self.description, "clock_mhz": self.clock_mhz,
                               "verify": self.verify}
        for k, s in self.sections.items():
            out[k] = s.asdict()
        return out

    @property
    def hash(self) -> str:
        canon = json.dumps(self.resolved(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canon.encode()).hexdigest()[:12]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.resolved(), sort_keys=False)


def _type_name(t) -> str:
    ts = t if isinstance(t, tuple) else (t,)
    names = {int: "integer", float: "number", str: "string", bool: "true/false", type(None): "null"}
    return " or ".join(names.get(x, x.__name__) for x in ts)


def _check_value(src: str, path: str, value: Any, f: Field) -> Any:
    def fail(why: str) -> DesignError:
        return DesignError(f"{src}: {path} = {value!r}: {why}")

    types = f.type if isinstance(f.type, tuple) else (f.type,)
    # bool is an int in Python; never accept it for a number, nor a number for a bool
    if isinstance(value, bool) and bool not in types:
        raise fail(f"expected {_type_name(f.type)}")
    if not isinstance(value, types):
        raise fail(f"expected {_type_name(f.type)}")
    if f.choices is not None and value not in f.choices:
        raise fail(f"allowed: {', '.join(map(str, f.choices))}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if f.positive and not value > 0:
            raise fail("must be > 0")
        if f.minimum is not None and value < f.minimum:
            raise fail(f"must be >= {f.minimum}")
    if f.check is not None:
        why = f.check(value)
        if why:
            raise fail(why)
    return float(value) if types == (int, float) else value


def _resolve_section(src: str, path: str, given: Any, fields: dict[str, Field]) -> dict[str, Any]:
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise DesignError(f"{src}: {path} must be a mapping of {', '.join(fields)}, got {given!r}")
    unknown = sorted(set(given) - set(fields))
    if unknown:
        raise DesignError(f"{src}: {path}.{unknown[0]}: unknown key; allowed in {path}: {', '.join(fields)}")
    out = {}
    for key, f in fields.items():
        if key in given:
            out[key] = _check_value(src, f"{path}.{key}", given[key], f)
        elif f.default is REQUIRED:
            raise DesignError(f"{src}: {path}.{key} is missing ({f.doc}; {_type_name(f.type)})")
        else:
            out[key] = f.default
    return out


def from_dict(data: Any, source: str = "<string>") -> Design:
    if not isinstance(data, dict):
        raise DesignError(f"{source}: a design must be a YAML mapping, got {type(data).__name__}")
    kind = data.get("kind")
    if kind not in KINDS:
        raise DesignError(f"{source}: kind = {kind!r}: allowed: {', '.join(KINDS)}")
    sections = KINDS[kind]
    unknown = sorted(set(data) - set(COMMON) - set(sections))
    if unknown:
        raise DesignError(f"{source}: {unknown[0]}: unknown key for kind {kind}; allowed: "
                          f"{', '.join(list(COMMON) + list(sections))}")
    top = _resolve_section(source, "(top level)", {k: v for k, v in data.items() if k in COMMON}, COMMON)
    resolved = {name: _Section(name, _resolve_section(source, name, data.get(name), fields))
                for name, fields in sections.items()}
    return Design(name=top["name"], kind=kind, schema=top["schema"], description=top["description"],
                  clock_mhz=top["clock_mhz"], verify=top["verify"], sections=resolved, source=source)


def loads(text: str, source: str = "<string>") -> Design:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise DesignError(f"{source}: not valid YAML: {e}") from None
    return from_dict(data, source)


def load(path: str | Path) -> Design:
    """Load and validate a design file."""
    p = Path(path)
    if not p.is_file():
        raise DesignError(f"{p}: no such design file")
    return loads(p.read_text(), str(p))
