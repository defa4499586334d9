"""YAML designs: the single source of truth for a hardware design.

    design = hwsim.design.load("designs/sa_ws_8x8_int8.yaml")
    design.name, design.kind, design.array.rows, design.operands.weight
    design.resolved()      # plain dict with every default filled in
    design.hash            # 12 hex digits of the resolved design; keys build directories

A kind's sections are the frozen dataclasses its spec module registers (:mod:`hwsim.kinds`,
:mod:`hwsim.spec`); the loader validates each section against its class, then the kind's ``check``
(rules across sections). Every error names the file, the key path, the bad value and what is allowed.
YAML is read with a safe loader that also rejects duplicate keys and bounds alias expansion.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from . import kinds
from .spec import SpecError, build_section, param, short

SCHEMA_VERSION = 1
#: Largest design file read (bytes) and most YAML alias uses (no billion-laughs expansion).
MAX_FILE_BYTES = 1 << 20
MAX_ALIASES = 100

DesignError = SpecError
"""A design file that cannot be used; the message names file, key path, value and what is allowed."""

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99}")


def _design_name(value: str) -> str | None:
    if _NAME.fullmatch(value):
        return None
    return ("expected 1-100 characters of letters, digits, _ . + - (not starting with . + -): it names "
            "files and folders (build/<name>-<hash>/, results/.../<name>-...)")


@dataclass(frozen=True, kw_only=True)
class Common:
    """Top-level keys every kind has."""

    schema: int = param(choices=(SCHEMA_VERSION,), doc="schema version")
    name: str = param(check=_design_name, doc="design name; artefacts are written under build/<name>-<hash>/")
    kind: str = param(choices=tuple(kinds.KINDS), doc="accelerator family")
    description: str = param("", doc="free text")
    clock_mhz: float = param(500.0, positive=True, doc="clock frequency, MHz")
    verify: bool = param(False, doc="part of the regression of every level")


@dataclass(frozen=True)
class Design:
    name: str
    kind: str
    schema: int
    description: str
    clock_mhz: float
    verify: bool
    sections: Mapping[str, Any] = field(repr=False)
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
            out[k] = dataclasses.asdict(s)
        return out

    @property
    def hash(self) -> str:
        canon = json.dumps(self.resolved(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canon.encode()).hexdigest()[:12]

    def to_yaml(self) -> str:
        # libyaml's emitter when PyYAML has it: the same text, ~3x faster (matters for batch simulate)
        return yaml.dump(self.resolved(), Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False)

    def replace(self, **sections: Mapping[str, Any]) -> "Design":
        """A new design with some section keys changed (validated like a loaded file), e.g.
        ``d.replace(array={"rows": 16})``."""
        data = self.resolved()
        for k, v in sections.items():
            data[k] = {**data[k], **v} if isinstance(data.get(k), dict) and isinstance(v, Mapping) else v
        return from_dict(data, self.source)


def from_dict(data: Any, source: str = "<string>") -> Design:
    if not isinstance(data, dict):
        raise DesignError(f"{source}: a design must be a YAML mapping, got {type(data).__name__}")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in kinds.KINDS:
        raise DesignError(f"{source}: kind = {short(kind)}: allowed: {', '.join(kinds.KINDS)}")
    k = kinds.get(kind)
    section_classes = k.sections
    common = [f.name for f in dataclasses.fields(Common)]
    unknown = sorted(str(key) for key in set(data) - set(common) - set(section_classes))
    if unknown:
        raise DesignError(f"{source}: {unknown[0][:40]}: unknown key for kind {kind}; allowed: "
                          f"{', '.join(common + list(section_classes))}")
    top = build_section(Common, {key: v for key, v in data.items() if key in common}, source, "")
    sections = {name: build_section(cls, data.get(name), source, name) for name, cls in section_classes.items()}
    design = Design(name=top.name, kind=kind, schema=top.schema, description=top.description,
                    clock_mhz=top.clock_mhz, verify=top.verify, sections=sections, source=source)
    check = getattr(k.load("spec"), "check", None)
    if check is not None:
        check(design)
    return design


class _Loader(yaml.SafeLoader):
    """Safe YAML with duplicate keys rejected and alias uses bounded."""

    def __init__(self, stream):
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"more than {MAX_ALIASES} alias uses (*name); a design needs few", mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {short(key, 40)} (a key may appear once in a mapping)",
                    key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML safely (duplicate keys rejected, aliases bounded); errors name file and line."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as e:
        where = f":{e.problem_mark.line + 1}" if e.problem_mark is not None else ""
        raise DesignError(f"{source}{where}: not valid YAML: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise DesignError(f"{source}: not valid YAML: {short(str(e), 200)}") from None


def loads(text: str, source: str = "<string>") -> Design:
    return from_dict(parse_yaml(text, source), source)


def load(path: str | Path) -> Design:
    """Load and validate a design file."""
    p = Path(path)
    if not p.is_file():
        raise DesignError(f"{p}: no such design file")
    if p.stat().st_size > MAX_FILE_BYTES:
        raise DesignError(f"{p}: {p.stat().st_size:,} bytes; a design file is at most {MAX_FILE_BYTES:,} bytes")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DesignError(f"{p}: not a UTF-8 text file (byte {e.start}); a design is a YAML file") from None
    except OSError as e:
        raise DesignError(f"{p}: cannot read: {e.strerror}") from None
    return loads(text, str(p))


def catalog(root: str | Path | None = None) -> list[tuple[Path, Design]]:
    """Every design file under ``root`` (default: the repository's designs/), loaded; YAML files that are
    not designs (no top-level ``kind``, e.g. sweep files) are skipped, a broken design is an error."""
    root = Path(root) if root is not None else Path(__file__).resolve().parents[1] / "designs"
    out = []
    for p in sorted(root.rglob("*.yaml")):
        data = parse_yaml(p.read_text(encoding="utf-8"), str(p))
        if isinstance(data, dict) and "kind" in data:
            out.append((p, from_dict(data, str(p))))
    return out
