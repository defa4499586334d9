"""Typed design sections: a frozen dataclass per YAML section, validated in one place.

A kind declares each section of its YAML schema as a frozen, keyword-only dataclass whose fields carry
their rule with :func:`param`::

    @dataclass(frozen=True, kw_only=True)
    class Array:
        rows: int = param(positive=True, doc="PE rows")
        dataflow: str = param(choices=("ws", "os", "is"), doc="weight / output / input stationary")
        pe_latency: int = param(1, positive=True, doc="cycles from operands in to partial sum out")

The annotation is the YAML type (``int``, ``float`` -- an integer is accepted and stored as float --,
``str``, ``bool``, ``X | None``). :func:`build_section` checks a raw mapping against the class and
returns an instance; every error is a :class:`SpecError` that names the file, the key path, the bad
value (shortened) and what is allowed. Nothing else validates design values again.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Mapping

REQUIRED: Any = dataclasses.MISSING


class SpecError(ValueError):
    """A design value that cannot be used; the message names file, key path, value and what is allowed."""


@dataclass(frozen=True)
class Rule:
    choices: tuple | None = None
    minimum: float | None = None          #: inclusive lower bound (numbers)
    maximum: float | None = None          #: inclusive upper bound (numbers)
    positive: bool = False                #: strictly > 0 (numbers)
    check: Callable[[Any], str | None] | None = None   #: extra check: returns an error text or None
    doc: str = ""


def param(default: Any = REQUIRED, *, choices=None, minimum=None, maximum=None, positive: bool = False,
          check: Callable[[Any], str | None] | None = None, doc: str = "") -> Any:
    """A section field with its validation rule (see the module docstring)."""
    rule = Rule(tuple(choices) if choices is not None else None, minimum, maximum, positive, check, doc)
    return dataclasses.field(default=default, metadata={"rule": rule})


def short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: error messages never embed a huge value."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_NAMES = {int: "integer", float: "number", str: "string", bool: "true/false", type(None): "null"}


def _types(annotation: Any) -> tuple[type, ...]:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return tuple(t for a in typing.get_args(annotation) for t in _types(a))
    return (annotation,)


def type_name(ts: tuple[type, ...]) -> str:
    return " or ".join(_NAMES.get(t, getattr(t, "__name__", str(t))) for t in ts)


def _check(src: str, path: str, value: Any, ts: tuple[type, ...], rule: Rule) -> Any:
    def fail(why: str) -> SpecError:
        return SpecError(f"{src}: {path} = {short(value)}: {why}")

    accepted = ts + ((int,) if float in ts else ())
    # bool is an int in Python; never accept it for a number, nor a number for a bool
    if isinstance(value, bool) and bool not in ts:
        raise fail(f"expected {type_name(ts)}")
    if not isinstance(value, accepted):
        raise fail(f"expected {type_name(ts)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise fail("must be a finite number")
        if float in ts and int not in ts:
            value = float(value)
    if rule.choices is not None and value not in rule.choices:
        raise fail(f"allowed: {', '.join(map(str, rule.choices))}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if rule.positive and not value > 0:
            raise fail("must be > 0")
        if rule.minimum is not None and value < rule.minimum:
            raise fail(f"must be >= {rule.minimum:g}")
        if rule.maximum is not None and value > rule.maximum:
            raise fail(f"must be <= {rule.maximum:g}")
    if rule.check is not None:
        why = rule.check(value)
        if why:
            raise fail(why)
    return value


@functools.lru_cache(maxsize=None)
def fields_of(cls: type) -> list[tuple[dataclasses.Field, tuple[type, ...], Rule]]:
    """The fields of a section class with their accepted types and rules (computed once per class)."""
    hints = typing.get_type_hints(cls)
    return [(f, _types(hints[f.name]), f.metadata.get("rule", Rule())) for f in dataclasses.fields(cls)]


def build_section(cls: type, given: Any, src: str, path: str) -> Any:
    """Validate one YAML mapping against a section class and return the (frozen) instance."""
    flds = fields_of(cls)
    names = [f.name for f, _, _ in flds]
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise SpecError(f"{src}: {path} must be a mapping of {', '.join(names)}, got {short(given)}")
    unknown = sorted(str(k) for k in set(given) - set(names))
    if unknown:
        raise SpecError(f"{src}: {path}.{unknown[0][:40]}: unknown key; allowed in {path}: {', '.join(names)}")
    values = {}
    for f, ts, rule in flds:
        key = f"{path}.{f.name}" if path else f.name
        if f.name in given:
            values[f.name] = _check(src, key, given[f.name], ts, rule)
        elif f.default is REQUIRED:
            raise SpecError(f"{src}: {key} is missing ({rule.doc}; {type_name(ts)})")
    return cls(**values)


def format_name(value: str) -> str | None:
    """Check of a field naming a number format of the datatypes library."""
    import datatypes

    try:
        datatypes.get(value)
    except ValueError as e:
        return str(e)
    return None


def describe(cls: type) -> list[tuple[str, str, str, str]]:
    """(field, type, default, doc) rows for documentation and ``--help`` texts."""
    rows = []
    for f, ts, rule in fields_of(cls):
        default = "required" if f.default is REQUIRED else repr(f.default)
        doc = rule.doc + (f" (one of {', '.join(map(str, rule.choices))})" if rule.choices else "")
        rows.append((f.name, type_name(ts), default, doc))
    return rows
