"""RTL generators: Amaranth components for datatype decoders, MAC processing elements and systolic
arrays, Verilog emission keyed by the design hash, and Yosys area reports.

    from rtl_gen import Decoder, MacDatapath, ProcessingElement, SystolicArray, emit, component_for
    from rtl_gen.arith import MacSpec, decode_table     # the arithmetic contract (numpy only)

``rtl_gen.arith`` and ``rtl_gen.errors`` import no Amaranth; the components are imported on first use.
"""

from __future__ import annotations

from typing import Any

from .errors import NoDecoderError, RTLError, UnsupportedKindError, WidthError

_LAZY = {
    "Decoder": ".decoder", "MacDatapath": ".pe", "ProcessingElement": ".pe",
    "SystolicArray": ".systolic", "SystolicConfig": ".systolic",
    "emit": ".verilog", "component_for": ".verilog", "Artefacts": ".verilog", 
    "synthesize": ".area",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'rtl_gen' has no attribute {name!r}")


__all__ = ["NoDecoderError", "RTLError", "UnsupportedKindError", "WidthError", *_LAZY]
