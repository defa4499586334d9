"""The processing element: exact operand decoders and MAC (``model``), its streaming cycle model
(``stream``), and the YAML schemas of ``kind: pe`` and ``kind: decoder`` (RTL units). The names below
are imported on first use."""

from __future__ import annotations

from typing import Any

_MODEL = ("PEError", "PEFormat", "pe_format", "pe_formats", "product_width", "accumulator_bits",
          "min_accumulator_bits", "reference_gemm", "fixed_point_to_float", "MAX_DECODE_BITS",
          "weight_pe_format", "has_selector", "combine_selector")


def __getattr__(name: str) -> Any:
    if name in _MODEL:
        from . import model

        return getattr(model, name)
    if name == "wrap":
        from ..arith import wrap

        return wrap
    raise AttributeError(f"module 'hwsim.pe' has no attribute {name!r}")
