"""The YAML schema of ``kind: decoder``: one number-format decoder (code + group metadata -> exact value)."""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import format_name, param
from .spec import META, STYLE


@dataclass(frozen=True, kw_only=True)
class Decoder:
    format: str = param(check=format_name, doc="number format (datatypes name)")
    meta: str = param("auto", choices=META,
                      doc="group-metadata input: auto = the format's default, none, group")
    style: str = param("auto", choices=STYLE,
                       doc="auto = arithmetic where the format has structure, else lookup table")


SECTIONS = {"decoder": Decoder}
