"""The YAML schema of ``kind: pe``: one multiply-accumulate processing element (stream in, accumulator out)."""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import format_name, param
from ..widths import accumulator_rule

META = ("auto", "none", "group")
STYLE = ("auto", "structured", "table")


@dataclass(frozen=True, kw_only=True)
class Operands:
    weight: str = param(check=format_name, doc="weight format (datatypes name)")
    activation: str = param("int8", check=format_name, doc="activation format")
    accumulator: str = param("int32", check=accumulator_rule(128, "the PE accumulates in two's complement and wraps"),
                              doc="accumulator int<N> (wraps)")
    weight_meta: str = param("auto", choices=META, doc="weight group-metadata input")


@dataclass(frozen=True, kw_only=True)
class PE:
    stages: int = param(1, choices=(1, 2), doc="pipeline stages = latency in cycles")
    weight_style: str = param("auto", choices=STYLE, doc="weight decoder style")


SECTIONS = {"operands": Operands, "pe": PE}
