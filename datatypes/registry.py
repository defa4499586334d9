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
    """Rebuild the QuantizedTensor from its memory image. The image is checked against the layout the
    format writes (code bytes per row, scale/metadata shape and dtype per group, metadata values,
    finite scales): a mismatched image is an InputError, never a read past an array."""
    from .qtensor import QuantizedTensor, unpack_codes

    fmt = get(packed.format)
    shape = tuple(packed.shape)
    if not shape or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0 for n in shape):
        raise InputError(f"packed shape {packed.shape!r}: expected a tuple of positive integers")
    rows = int(np.prod(shape[:-1], dtype=np.int64))
    ref = _reference_image(fmt, shape[-1], packed.group_size, dict(packed.options))
    data = np.asarray(packed.data)
    want = (rows, ref.data.shape[1])
    if data.dtype != np.uint8 or data.shape != want:
        raise InputError(f"packed data is {data.dtype} {data.shape}; format {fmt.name!r} with shape {shape} "
                         f"stores uint8 {want}")
    if packed.bits != fmt.bits:
        raise InputError(f"packed bits = {packed.bits!r}; format {fmt.name!r} has {fmt.bits}-bit codes")
    lead = shape[:-1]
    parts = {}
    for what, got, exp in (("scales", packed.scales, ref.scales), ("meta", packed.meta, ref.meta)):
        if exp is None:
            if got is not None:
                raise InputError(f"packed {what}: format {fmt.name!r} stores none, got an array")
            parts[what] = None
            continue
        arr = None if got is None else np.asarray(got)
        want = lead + exp.shape[1:]
        if arr is None or arr.dtype != exp.dtype or arr.shape != want:
            have = "none" if arr is None else f"{arr.dtype} {arr.shape}"
            raise InputError(f"packed {what} is {have}; format {fmt.name!r} with shape {shape} and group size "
                             f"{packed.group_size} stores {exp.dtype} {want}")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise InputError(f"packed {what} hold non-finite values (inf/NaN); a quantized image has finite scales")
        parts[what] = arr
    ts = packed.tensor_scale
    if (ref.tensor_scale is None) != (ts is None):
        raise InputError(f"packed tensor_scale = {type(ts).__name__}; format {fmt.name!r} stores "
                         f"{'none' if ref.tensor_scale is None else 'one'}")
    if ts is not None and not np.isfinite(np.asarray(ts, dtype=np.float64)).all():
        raise InputError("packed tensor_scale is not finite")
    codes = unpack_codes(data, packed.bits, shape[-1]).reshape(shape)
    scales, meta = fmt.unpack_group_data(parts["scales"], parts["meta"], dict(packed.options))
    # metadata that selects a value table (n_meta > 1) must name one of the format's tables
    if meta is not None and meta.size and fmt.n_meta > 1 and meta.dtype.kind in "iu" and int(meta.max()) >= fmt.n_meta:
        raise InputError(f"packed metadata value {int(meta.max())} is out of range: format {fmt.name!r} "
                         f"has {fmt.n_meta} metadata values")
    nz = getattr(packed, "negative_zeros", None)
    if nz is not None:
        n = int(np.prod(shape, dtype=np.int64))
        nz = np.asarray(nz)
        if nz.dtype != np.uint8 or nz.size != -(-n // 8):
            raise InputError(f"packed negative_zeros is {nz.dtype} of {nz.size} bytes; shape {shape} needs uint8 "
                             f"of {-(-n // 8)} (one bit per element)")
        nz = np.unpackbits(nz.reshape(-1), count=n, bitorder="little").astype(bool).reshape(shape)
    return QuantizedTensor(format=fmt, codes=codes, scales=scales, meta=meta,
                           group_size=packed.group_size, tensor_scale=packed.tensor_scale,
                           options=dict(packed.options), negative_zeros=nz)


_REF_CACHE: dict = {}


def _reference_image(fmt: Format, cols: int, group_size, options: dict) -> "PackedTensor":
    """The memory image the format writes for one row of ``cols`` zeros (the layout unpack expects)."""
    key = (fmt.name, cols, group_size, repr(sorted(options.items())))
    if key not in _REF_CACHE:
        _REF_CACHE[key] = fmt.quantize(np.zeros((1, cols), np.float32), group_size, **options).pack()
    return _REF_CACHE[key]
