"""Sweep files: a base design, parameter ranges and workloads, expanded into points.

::

    sweep: 1
    name: bitmod_like
    base: ../bitmod_like_32x32_os_fp4_e4m3.yaml   # a design file, relative to this file
    # design: {...}                               # ... or the base design inline
    parameters:                                   # a mapping is the product of its entries
      array.dataflow: [ws, os]                    # a list of values
      array.rows: {from: 8, to: 64, times: 2}     # 8, 16, 32, 64 (geometric, inclusive)
      memory.filter_kb: {from: 64, to: 256, step: 64}   # 64, 128, 192, 256 (arithmetic, inclusive)
      zip:                                        # entries advance together (equal lengths)
        operands.weight: [int3, int4, int6]
        operands.accumulator: [int24, int24, int32]
      # product: [E, E, ...]   union: [E, E, ...]   (E: any such mapping; union concatenates)
    workloads: ["llm:llama3-8b,seq=1,phase=decode"]
    mode: analytical                              # or cycle (--mode overrides)
    max_points: 100000                            # points = designs x workloads; --max-points raises it

A parameter is ``section.field`` of the base design's kind (looked up in the kind registry) or a
top-level key (``clock_mhz``, ``name``, ...). Unknown parameters, empty ranges and mismatched zips are
errors of the sweep file; a *value* that the design schema rejects makes that point invalid (reported
with the schema's reason and skipped), not the sweep.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from . import SweepError

SWEEP_VERSION = 1
#: points (designs x workloads) a sweep may have without ``--max-points``
DEFAULT_MAX_POINTS = 100_000
#: values of one range (a typo like step: 0.000001 must not allocate a huge list)
MAX_RANGE = 1_000_000
MODES = ("analytical", "cycle")
_OPS = ("product", "zip", "union")
_TOP_KEYS = ("sweep", "name", "description", "base", "design", "parameters", "workloads", "mode", "max_points")


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Point:
    """One design of the sweep: the parameter values and the design they make (or why they do not)."""

    params: dict[str, Any]
    design: dict[str, Any] | None = None      #: resolved design (plain data), None when invalid
    design_hash: str = ""                     #: the design's hash; for an invalid one a hash of params
    reason: str = ""                          #: why the design is invalid ("" when valid)

    @property
    def valid(self) -> bool:
        return self.design is not None


@dataclass
class Sweep:
    name: str
    source: str
    base: Any                                  #: the base Design
    base_data: dict[str, Any]                  #: the base design as written (points override this)
    parameters: list[str]                      #: parameter paths, in file order
    space: list[dict[str, Any]]                #: one assignment per design point
    workloads: list[str]
    mode: str = "analytical"
    max_points: int = DEFAULT_MAX_POINTS
    description: str = ""
    points: list[Point] = field(default_factory=list)

    @property
    def n_points(self) -> int:
        """Evaluations: design points x workloads."""
        return len(self.space) * len(self.workloads)

    def describe(self, mode: str | None = None) -> str:
        return (f"{self.name}: {len(self.space):,} designs x {len(self.workloads)} workload(s) = "
                f"{self.n_points:,} points ({mode or self.mode}; base {self.base.name}, kind {self.base.kind}; "
                f"parameters {', '.join(self.parameters) or 'none'})")


# ---- kind schema (through the registry) ------------------------------------------------------------
def section_fields(kind: str) -> dict[str, list[str]]:
    """``{section: [field, ...]}`` of a kind, from the kind registry's typed spec."""
    from hwsim import kinds

    sections = kinds.get(kind).sections
    out = {}
    for name, sec in sections.items():
        if dataclasses.is_dataclass(sec):
            out[name] = [f.name for f in dataclasses.fields(sec)]
        else:
            out[name] = list(sec)
    return out


def allowed_parameters(base) -> list[str]:
    """Every parameter path of the base design's kind."""
    resolved = base.resolved()
    secs = section_fields(base.kind)
    top = [k for k, v in resolved.items() if k not in secs and k not in ("schema", "kind") and not isinstance(v, dict)]
    return top + [f"{s}.{f}" for s, fs in secs.items() for f in fs]


# ---- parameter expressions -------------------------------------------------------------------------
def _values(src: str, path: str, spec: Any) -> list[Any]:
    where = f"{src}: parameters.{path}"
    if isinstance(spec, list):
        if not spec:
            raise SweepError(f"{where} = []: empty list; give at least one value")
        return list(spec)
    if isinstance(spec, dict):
        keys = set(spec)
        if not keys <= {"from", "to", "step", "times"} or not {"from", "to"} <= keys or \
                len(keys & {"step", "times"}) != 1:
            raise SweepError(f"{where} = {_short(spec)}: a range is {{from: A, to: B, step: S}} (arithmetic) or "
                             f"{{from: A, to: B, times: F}} (geometric), both inclusive")
        a, b = spec["from"], spec["to"]
        for k in spec:
            v = spec[k]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise SweepError(f"{where}.{k} = {_short(v)}: expected a finite number")
        if "step" in spec:
            s = spec["step"]
            if s <= 0:
                raise SweepError(f"{where}.step = {s!r}: must be > 0")
            n = int(math.floor((b - a) / s + 1e-9)) + 1 if b >= a else 0
            if n > MAX_RANGE:
                raise SweepError(f"{where} = {_short(spec)}: {n:,} values; a range has at most {MAX_RANGE:,}")
            out = [a + i * s for i in range(n)]
            if all(isinstance(x, int) for x in (a, s)):
                out = [int(x) for x in out]
        else:
            f = spec["times"]
            if f <= 1:
                raise SweepError(f"{where}.times = {f!r}: must be > 1")
            if a <= 0:
                raise SweepError(f"{where}.from = {a!r}: a geometric range starts at a positive number")
            out, x = [], a
            while x <= b * (1 + 1e-12):
                out.append(x)
                x = x * f
            if isinstance(a, int) and isinstance(f, int):
                out = [int(v) for v in out]
        if not out:
            raise SweepError(f"{where} = {_short(spec)}: empty range (from {a} > to {b})")
        return out
    raise SweepError(f"{where} = {_short(spec)}: expected a list of values or a range "
                     f"{{from: A, to: B, step: S | times: F}}")


def _check_mapping(src: str, expr: Any, where: str) -> None:
    if not isinstance(expr, dict):
        raise SweepError(f"{src}: {where} = {_short(expr)}: expected a mapping of parameter: values")
    if not expr:
        raise SweepError(f"{src}: {where}: empty mapping; give at least one parameter")


def _operands(src: str, key: str, val: Any, where: str) -> list:
    """The sub-expressions of a product/zip/union: a list of mappings, or (zip/product) one mapping of
    parameter: values, each parameter its own sub-expression."""
    subs = val if isinstance(val, list) else [{k: v} for k, v in val.items()] if isinstance(val, dict) else None
    if not subs:
        raise SweepError(f"{src}: {where}.{key} = {_short(val)}: expected a non-empty list of parameter "
                         f"mappings (or for zip/product a mapping of parameter: values)")
    return subs


def _count(src: str, expr: Any, allowed: set[str], where: str) -> int:
    """The number of assignments ``expr`` expands to, without expanding it (same checks as _expand)."""
    _check_mapping(src, expr, where)
    total = 1
    for key, val in expr.items():
        if key in _OPS:
            subs = _operands(src, key, val, where)
            ns = [_count(src, x, allowed, f"{where}.{key}[{i}]") for i, x in enumerate(subs)]
            if key == "zip":
                if len(set(ns)) != 1:
                    raise SweepError(f"{src}: {where}.zip: entries have different lengths "
                                     f"({', '.join(map(str, ns))}); zip needs equal lengths")
                total *= ns[0]
            else:
                total *= math.prod(ns) if key == "product" else sum(ns)
            continue
        _check_name(src, key, allowed, where)
        total *= len(_values(src, key, val))
    return total


def _check_name(src: str, key: Any, allowed: set[str], where: str) -> None:
    if not isinstance(key, str) or key not in allowed:
        import difflib

        near = difflib.get_close_matches(str(key), sorted(allowed), n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise SweepError(f"{src}: {where}.{key}: unknown parameter{hint}; allowed: {', '.join(sorted(allowed))}")


def _product(parts: list[list[dict]]) -> list[dict]:
    out: list[dict] = [{}]
    for p in parts:
        out = [{**a, **b} for a in out for b in p]
    return out


def _expand(src: str, expr: Any, allowed: set[str], where: str, seen: list[str]) -> list[dict]:
    if isinstance(expr, list):           # a list of expressions (inside product/zip/union)
        raise SweepError(f"{src}: {where}: expected a mapping, got a list")
    _check_mapping(src, expr, where)
    parts = []
    for key, val in expr.items():
        if key in _OPS:
            subs = _operands(src, key, val, where)
            spaces = [_expand(src, s, allowed, f"{where}.{key}[{i}]", seen) for i, s in enumerate(subs)]
            if key == "product":
                parts.append(_product(spaces))
            elif key == "union":
                parts.append([p for s in spaces for p in s])
            else:
                lens = {len(s) for s in spaces}
                if len(lens) != 1:
                    raise SweepError(f"{src}: {where}.zip: entries have different lengths "
                                     f"({', '.join(str(len(s)) for s in spaces)}); zip needs equal lengths")
                parts.append([{k: v for d in row for k, v in d.items()} for row in zip(*spaces)])
            continue
        _check_name(src, key, allowed, where)
        if key not in seen:
            seen.append(key)
        parts.append([{key: v} for v in _values(src, key, val)])
    return _product(parts)


def apply(base: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The base design (plain data, as written: a point with no parameters is the base design itself,
    with the same hash) with ``params`` (``section.field`` or top-level keys) set."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for path, v in params.items():
        sec, dot, key = path.partition(".")
        if dot:
            if not isinstance(out.get(sec), dict):
                out[sec] = {}
            out[sec][key] = v
        else:
            out[sec] = v
    return out


def params_hash(params: dict[str, Any]) -> str:
    canon = json.dumps(params, sort_keys=True, default=str, separators=(",", ":"))
    return "x" + hashlib.sha256(canon.encode()).hexdigest()[:11]


def make_points(sweep: Sweep) -> list[Point]:
    """Build every design of the space through the design schema (``hwsim.design.from_dict``); a point
    whose values the schema rejects is kept as invalid, with the schema's one-line reason."""
    from hwsim.design import from_dict

    base = sweep.base_data
    points = []
    for params in sweep.space:
        try:
            d = from_dict(apply(base, params), source="point")
        except ValueError as e:
            points.append(Point(params, None, params_hash(params), str(e)))
            continue
        points.append(Point(params, d.resolved(), d.hash))
    sweep.points = points
    return points


# ---- loading ----------------------------------------------------------------------------------------
def loads(data: Any, source: str = "<string>", base_dir: Path | None = None, max_points: int | None = None) -> Sweep:
    """A sweep from parsed YAML (the space is expanded, the designs are not built: see make_points).
    ``max_points`` overrides the file's limit (``--max-points``); a larger sweep is an error before
    anything is expanded."""
    from hwsim.design import from_dict, load, parse_yaml

    src = source
    if not isinstance(data, dict):
        raise SweepError(f"{src}: a sweep file must be a YAML mapping, got {type(data).__name__}")
    unknown = [k for k in data if k not in _TOP_KEYS]
    if unknown:
        raise SweepError(f"{src}: {unknown[0]}: unknown key; allowed: {', '.join(_TOP_KEYS)}")
    if data.get("sweep") != SWEEP_VERSION:
        raise SweepError(f"{src}: sweep = {_short(data.get('sweep'))}: expected {SWEEP_VERSION} (the sweep-file version)")
    if ("base" in data) == ("design" in data):
        raise SweepError(f"{src}: give exactly one of base (a design file) or design (an inline design)")
    if "base" in data:
        b = data["base"]
        if not isinstance(b, str) or not b:
            raise SweepError(f"{src}: base = {_short(b)}: expected a design file path")
        p = Path(b)
        if not p.is_absolute() and base_dir is not None:
            p = base_dir / p
        base = load(p)
        base_data = parse_yaml(p.read_text(encoding="utf-8"), str(p))
    else:
        base = from_dict(data["design"], f"{src}: design")
        base_data = data["design"]
    name = data.get("name", Path(src).stem)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]*", name):
        raise SweepError(f"{src}: name = {_short(name)}: expected letters, digits and _ . + - (it names the "
                         f"default output directory results/sweep/<name>)")
    mode = data.get("mode", "analytical")
    if mode not in MODES:
        raise SweepError(f"{src}: mode = {_short(mode)}: allowed: {', '.join(MODES)}")
    mp = data.get("max_points", DEFAULT_MAX_POINTS)
    if isinstance(mp, bool) or not isinstance(mp, int) or mp < 1:
        raise SweepError(f"{src}: max_points = {_short(mp)}: expected a positive integer")
    wl = data.get("workloads")
    from hwsim import kinds

    has_sim = kinds.get(base.kind).simulator is not None
    if wl is None and has_sim:
        raise SweepError(f"{src}: workloads is missing: a list of workload specs (gemm:M,N,K, llm:<preset>,...)")
    wl = [] if wl is None else wl
    if isinstance(wl, str):
        wl = [wl]
    if not isinstance(wl, list) or not all(isinstance(w, str) and w.strip() for w in wl):
        raise SweepError(f"{src}: workloads = {_short(wl)}: expected a list of workload spec strings")
    if has_sim and not wl:
        raise SweepError(f"{src}: workloads = []: empty; give at least one workload")
    if not has_sim and wl:
        raise SweepError(f"{src}: workloads: kind {base.kind} has no simulator (kinds with one: "
                         f"{', '.join(k.name for k in kinds.with_role('simulator'))}); drop workloads and "
                         f"sweep its area with --area")
    if len(set(wl)) != len(wl):
        raise SweepError(f"{src}: workloads: {_short([w for w in wl if wl.count(w) > 1][0])} is listed twice")
    if has_sim:
        from hwsim.workloads import parse

        for w in wl:
            try:
                parse(w)
            except ValueError as e:
                raise SweepError(f"{src}: workloads: {e}") from None
    allowed = set(allowed_parameters(base))
    seen: list[str] = []
    params = data.get("parameters")
    n = 1 if params in (None, {}) else _count(src, params, allowed, "parameters")
    limit = max_points if max_points is not None else mp
    if n * max(len(wl), 1) > limit:
        raise SweepError(f"{src}: {n * max(len(wl), 1):,} points (designs x workloads) exceed the limit of {limit:,}; "
                         f"pass --max-points {n * max(len(wl), 1)} to run them")
    space = [{}] if params in (None, {}) else _expand(src, params, allowed, "parameters", seen)
    return Sweep(name=name, source=src, base=base, base_data=base_data, parameters=seen, space=space, workloads=wl or ["-"],
                 mode=mode, max_points=mp, description=str(data.get("description", "")))


def load_sweep(path: str | Path, max_points: int | None = None) -> Sweep:
    """Load a sweep file (safe YAML: duplicate keys rejected, aliases bounded; at most 1 MiB)."""
    from hwsim.design import MAX_FILE_BYTES, parse_yaml

    p = Path(path)
    if not p.is_file():
        raise SweepError(f"{p}: no such sweep file")
    if p.stat().st_size > MAX_FILE_BYTES:
        raise SweepError(f"{p}: {p.stat().st_size:,} bytes; a sweep file is at most {MAX_FILE_BYTES:,} bytes")
    try:
        text = p.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError) as e:
        raise SweepError(f"{p}: cannot read it as UTF-8 text ({type(e).__name__})") from None
    return loads(parse_yaml(text, str(p)), str(p), p.parent, max_points=max_points)
