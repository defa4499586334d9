"""Format registry: canonical names, aliases, and lookup with close-match suggestions."""

from __future__ import annotations

import difflib

from typing import TYPE_CHECKING

import numpy as np

from .errors import FormatError, InputError
from .format import Format

if TYPE_CHECKING:
    from .qtensor import PackedTensor, QuantizedTensor

_FORMATS: dict[str, Format] = {}
_ALIASES: dict[str, str] = {}


def register(fmt: Format, aliases: tuple[str, ...] = ()) -> Format:
    key = fmt.name.lower()
    if key in _FORMATS or key in _ALIASES:
        raise RuntimeError(f"format name {fmt.name!r} registered twice")
    _FORMATS[key] = fmt
    for a in aliases:
        a = a.lower()
        if a in _FORMATS or a in _ALIASES:
            raise RuntimeError(f"alias {a!r} registered twice")
        _ALIASES[a] = key
    return fmt


def formats(bits: int | None = None, family: str | None = None) -> list[str]:
    """Canonical format names in registration order, optionally only those of ``bits`` / ``family``."""
    return [n for n, f in _FORMATS.items()
            if (bits is None or f.bits == bits) and (family is None or f.family == family)]


def aliases() -> dict[str, str]:
    """alias -> canonical name."""
    return dict(_ALIASES)


def get(name: str | Format) -> Format:
    """The format object for a name or alias (case-insensitive); a Format passes through."""
    if isinstance(name, Format):
        return name
    if not isinstance(name, str):
        raise FormatError(f"format must be a name (str) or a Format, got {type(name).__name__}")
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key in _FORMATS:
        return _FORMATS[key]
    close = difflib.get_close_matches(key, list(_FORMATS) + list(_ALIASES), n=4, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise FormatError(f"unknown format {name!r}{hint} (datatypes.formats() lists all {len(_FORMATS)})")


def unpack(packed: "PackedTensor") -> "QuantizedTensor":
    """Rebuild the QuantizedTensor from its memory image."""
    from .qtensor import QuantizedTensor, unpack_codes

    fmt = get(packed.format)
    rows = int(np.prod(packed.shape[:-1], dtype=np.int64))
    if packed.data.shape[0] != rows:
        raise InputError(f"packed data has {packed.data.shape[0]} rows, shape {packed.shape} needs {rows}")
    codes = unpack_codes(packed.data, packed.bits, packed.shape[-1]).reshape(packed.shape)
    scales, meta = fmt.unpack_group_data(packed.scales, packed.meta, dict(packed.options))
    return QuantizedTensor(format=fmt, codes=codes, scales=scales, meta=meta,
                           group_size=packed.group_size, tensor_scale=packed.tensor_scale,
                           options=dict(packed.options))
