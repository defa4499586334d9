"""Design -> component -> Verilog artefacts.

    comp = component_for(design)          # validates everything first (errors before any build)
    art = emit(design)                    # build/<name>-<hash>/{<name>.v, ports.json, design.resolved.yaml}

Every file is written atomically (temporary file + rename) and ``ports.json`` -- the file readers
key on -- is written last, after the Verilog has been checked against it, so a directory with a
``ports.json`` always holds a complete, matching set. Re-emitting an unchanged design rewrites
identical bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amaranth.back import verilog
from amaranth.lib import data, stream, wiring

from hwsim import kinds
from hwsim.design import Design
from hwsim.report import atomic_write

from .errors import RTLError, UnsupportedKindError

def component_for(design: Design) -> wiring.Component:
    """The Amaranth component of a design, from its kind's registered generator (hwsim.kinds); RTLError
    subclasses (naming the design file) for anything without RTL. Nothing is built or written."""
    kind = kinds.get(design.kind)
    if kind.rtl is None:
        raise UnsupportedKindError(
            f"{design.source}: kind {design.kind!r} has no RTL generator yet; kinds with RTL: "
            f"{', '.join(k.name for k in kinds.with_role('rtl'))}")
    try:
        return kind.load("rtl")(design)
    except RTLError as e:
        if str(e).startswith(design.source):
            raise
        raise type(e)(f"{design.source}: {e}") from None


def _shape_desc(shape: Any) -> dict[str, Any]:
    if isinstance(shape, data.Layout):
        fields = {}
        if isinstance(shape, data.StructLayout):
            for name, f in shape:
                s = f.shape if not isinstance(f.shape, data.Layout) else None
                sig = s is not None and hasattr(s, "signed") and s.signed
                fields[name] = {"offset": f.offset, "width": f.width, "signed": bool(sig)}
        return {"width": shape.size, "signed": False, "fields": fields}
    from amaranth import Shape

    s = Shape.cast(shape)
    return {"width": s.width, "signed": s.signed, "fields": {}}


def describe_ports(comp: wiring.Component, top: str) -> dict[str, Any]:
    """The ports.json document: every port (name as in the Verilog, direction, width, signedness),
    the stream groups with payload field offsets, timing properties and the arithmetic."""
    ports = []
    for path, member, _value in comp.signature.flatten(comp):
        desc = _shape_desc(member.shape)
        ports.append({"name": "__".join(map(str, path)), "direction": "input" if member.flow == wiring.In else "output",
                      "width": desc["width"], "signed": desc["signed"]})
    streams = {}
    for name, member in comp.signature.members.items():
        if member.is_signature and isinstance(member.signature, stream.Signature):
            pay = _shape_desc(member.signature.members["payload"].shape)
            streams[name] = {"role": "sink" if member.flow == wiring.In else "source",
                             "valid": f"{name}__valid", "ready": f"{name}__ready", "payload": f"{name}__payload",
                             **pay}
    members = comp.signature.members
    control = None
    if "start" in members and "done" in members and members["start"].flow == wiring.In \
            and members["done"].flow == wiring.Out:
        control = {"start": "start", "done": "done"}
    clocked = getattr(comp, "latency", 0) > 0 or control is not None
    if clocked:
        ports = [{"name": "clk", "direction": "input", "width": 1, "signed": False},
                 {"name": "rst", "direction": "input", "width": 1, "signed": False}] + ports
    doc: dict[str, Any] = {"top": top, "unit": type(comp).__name__, "clock": "clk" if clocked else None,
                           "reset": "rst" if clocked else None, "ports": ports, "streams": streams,
                           "control": control,
                           "timing": {"latency": getattr(comp, "latency", 0),
                                      "initiation_interval": getattr(comp, "initiation_interval", 1)}}
    if hasattr(comp, "ports_doc"):          # what each unit adds about itself (arithmetic, memories, ...)
        doc |= comp.ports_doc()
    return doc


def to_verilog(comp: wiring.Component, top: str) -> str:
    """Verilog text of a component (no source-location attributes, so it is reproducible)."""
    return verilog.convert(comp, name=top, emit_src=False)


def verilog_ports(text: str, top: str) -> list[str]:
    """Port names in the header of module ``top``."""
    mobj = re.search(r"\bmodule\s+" + re.escape(top) + r"\s*\(([^)]*)\)", text)
    if not mobj:
        raise RuntimeError(f"generated Verilog has no module {top!r}")
    return [p.strip() for p in mobj.group(1).split(",") if p.strip()]


@dataclass(frozen=True)
class Artefacts:
    directory: Path
    verilog: Path
    ports: Path
    resolved: Path | None
    top: str
    hash: str
    verilog_sha256: str


def artefact_dir(design: Design, root: str | Path = "build") -> Path:
    return Path(root) / f"{design.name}-{design.hash}"


def emit(design: Design, root: str | Path = "build", component: wiring.Component | None = None) -> Artefacts:
    """Write build/<name>-<hash>/{<name>.v, ports.json, design.resolved.yaml} (see module docstring).
    ``component``: the design's component if the caller already built it (``component_for``)."""
    comp = component if component is not None else component_for(design)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", design.name):
        raise UnsupportedKindError(f"{design.source}: name {design.name!r} is not a Verilog module name "
                                   f"(letters, digits, underscores; not starting with a digit)")
    return emit_component(comp, design.name, root, design)


def emit_component(comp: wiring.Component, top: str, root: str | Path = "build",
                   design: Design | None = None) -> Artefacts:
    """Emit any component (e.g. one built from a format that is not registered): without a design
    the directory is ``<root>/<top>-<first 12 hex of the Verilog SHA-256>`` and no
    design.resolved.yaml is written."""
    text = to_verilog(comp, top)
    ports = describe_ports(comp, top)
    in_header = sorted(verilog_ports(text, top))
    described = sorted(p["name"] for p in ports["ports"])
    if in_header != described:
        raise RuntimeError(f"ports.json {described} does not match the Verilog header {in_header}")
    sha = hashlib.sha256(text.encode()).hexdigest()
    d = artefact_dir(design, root) if design is not None else Path(root) / f"{top}-{sha[:12]}"
    ports |= {"design": design.name if design else top, "kind": design.kind if design else type(comp).__name__,
              "design_hash": design.hash if design else None, "verilog": f"{top}.v", "verilog_sha256": sha}
    vpath = atomic_write(d / f"{top}.v", text)
    rpath = atomic_write(d / "design.resolved.yaml", design.to_yaml()) if design is not None else None
    ppath = atomic_write(d / "ports.json", json.dumps(ports, indent=2) + "\n")
    return Artefacts(directory=d, verilog=vpath, ports=ppath, resolved=rpath, top=top,
                     hash=design.hash if design else sha[:12], verilog_sha256=sha)
