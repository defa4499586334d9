"""Bit-accurate functional models of low-precision number formats.

    import datatypes as dt
    dt.formats()                      # names
    f = dt.get("sf4")                 # format object (aliases allowed)
    q = dt.quantize(x, "sf4", group_size=128)
    q.codes, q.scales, q.meta, q.dequantize(), q.pack(); dt.unpack(packed)
"""

from __future__ import annotations

from typing import Any

from .errors import FormatError, InputError, InputTypeError
from .format import DEFAULT, Format, exact_fixed_point, group_layout
from .qtensor import PackedTensor, QuantizedTensor
from .registry import aliases, formats, get, unpack

# Importing a family module registers its formats (order = order of datatypes.formats()).
from . import codebook, integer, minifloat, mx, nvfp4  # noqa: E402,F401
from . import bbs, bitmod, p3llm, razer, razer_gpu  # noqa: E402,F401


def quantize(x: Any, fmt: str | Format, group_size: Any = DEFAULT, **options: Any) -> QuantizedTensor:
    """Quantize ``x`` (real floats, groups along the last axis) to format ``fmt``.

    ``group_size``: elements per group (default: the format's own; None = one group per row).
    ``options``: format-specific (see ``get(fmt).options``); unknown options are an error.
    """
    return get(fmt).quantize(x, group_size, **options)


__all__ = [
    "DEFAULT", "Format", "FormatError", "InputError", "InputTypeError", "PackedTensor",
    "QuantizedTensor", "aliases", "exact_fixed_point", "formats", "get", "group_layout",
    "quantize", "unpack",
]
