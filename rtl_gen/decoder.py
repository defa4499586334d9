"""Datatype decoder: code (+ group metadata) in, exact fixed-point value out. Combinational.

    dec = Decoder("fp4_range")            # any format with a hardware decoder (rtl_gen.arith)
    dec.code      In(bits)                 the element code
    dec.meta      In(meta_bits)            group metadata (only when the format takes it)
    dec.value     Out(signed(width))       value * 2**-frac_bits is the exact decoded value
    dec.invalid   Out(1)                   the code has no value (NaN/unused); value is 0 then

The decoder is generated from the format object's ``code_values(meta)`` (``rtl_gen.arith.decode_table``),
so formats registered later (RaZeR, BitMoD, ...) get a decoder without new code. Where the table has
an arithmetic structure (two's complement INT, asymmetric INT with a zero point, sign/exponent/mantissa
minifloats such as E2M1 and E4M3) the decoder computes it and looks up only the exception codes (e.g.
the negative-zero code of a supernormal E2M1 variant); otherwise it is a case statement on
{meta, code}. ``style="table"`` forces the lookup table (tests check both give the same values).
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

import datatypes as dt

from . import arith
from .errors import NoDecoderError, RTLError, discard_on_error

STYLES = ("auto", "structured", "table")


class Decoder(wiring.Component):
    """Combinational decoder of one number format (see the module docstring).

    Parameters: ``fmt`` (name or Format), ``use_meta`` (None = the format's default, see
    ``arith.default_use_meta``), ``style`` ("auto" | "structured" | "table").
    Properties read by simulators and testbenches: ``table`` (FixedPointTable), ``structure``,
    ``frac_bits``, ``width``, ``latency`` (0 cycles: combinational).
    """

    latency = 0

    @discard_on_error
    def __init__(self, fmt: str | dt.Format, *, use_meta: bool | None = None, style: str = "auto"):
        if style not in STYLES:
            raise RTLError(f"decoder style {style!r}: allowed {', '.join(STYLES)}")
        self.table = arith.decode_table(fmt, use_meta)
        t = self.table
        structure = arith.find_structure(t) if style != "table" else arith.Structure("table")
        if style == "structured" and structure.kind == "table":
            raise NoDecoderError(f"format {t.format!r} has no arithmetic structure (INT, asymmetric INT or "
                                 f"sign/exponent/mantissa with few exceptions); use style 'table' or 'auto'")
        if structure.kind == "table" and t.n_meta * t.n_codes > arith.MAX_TABLE_ENTRIES:
            raise NoDecoderError(
                f"format {t.format!r}: a lookup-table decoder would need {t.n_meta} x {t.n_codes} entries "
                f"(limit {arith.MAX_TABLE_ENTRIES}) and the table has no arithmetic structure")
        self.structure = structure
        members = {"code": In(t.bits), "value": Out(signed(t.width)), "invalid": Out(1)}
        if t.use_meta:
            members["meta"] = In(t.meta_bits)
        super().__init__(members)

    @property
    def frac_bits(self) -> int:
        return self.table.frac_bits

    @property
    def width(self) -> int:
        return self.table.width

    def ports_doc(self) -> dict:
        """What ports.json says about this unit beyond its ports."""
        return {"arithmetic": {"format": self.table.format, "code_bits": self.table.bits,
                               "meta_bits": self.table.meta_bits, "n_meta": self.table.n_meta,
                               "width": self.width, "frac_bits": self.frac_bits,
                               "structure": self.structure.describe()}}

    def summary(self) -> str:
        return f"decoder {self.table.describe()}; {self.structure.describe()}; combinational"

    def elaborate(self, platform):
        m = Module()
        t, s = self.table, self.structure
        code = self.code
        meta = self.meta if t.use_meta else Const(0, 1)
        ints, valid = t.ints, t.valid

        def row_value(c: int):
            """Value of code c as a function of meta (a constant when every row agrees)."""
            vals = [ints[r][c] for r in range(t.n_meta)]
            if len(set(vals)) == 1:
                return Const(vals[0], signed(t.width))
            out = Signal(signed(t.width), name=f"exc_{c:x}")
            with m.Switch(meta):
                for r, v in enumerate(vals):
                    with m.Case(r):
                        m.d.comb += out.eq(v)
            return out

        if s.kind == "table":
            with m.Switch(Cat(code, meta) if t.use_meta else code):
                for r in range(t.n_meta):
                    for c in range(t.n_codes):
                        if ints[r][c] != 0:
                            with m.Case(c | (r << t.bits)):
                                m.d.comb += self.value.eq(ints[r][c])
        else:
            formula = Signal(signed(t.width))
            if s.kind == "int":
                m.d.comb += formula.eq(code.as_signed() << s.shift)
            elif s.kind == "offset":
                m.d.comb += formula.eq((code - meta) << s.shift)
            else:  # minifloat: sign / exponent field / mantissa, subnormals at field 0
                bits, eb, mb = t.bits, s.ebits, s.mbits
                sign = code[bits - 1]
                fieldv = code[mb:bits - 1]
                man = code[:mb] if mb else Const(0, 1)
                mag = Signal(t.width)
                with m.Switch(fieldv):
                    with m.Case(0):
                        m.d.comb += mag.eq(man)
                    for f in range(1, 1 << eb):
                        with m.Case(f):
                            m.d.comb += mag.eq(Cat(man, Const(1, 1)) << (f - 1) if mb else Const(1 << (f - 1)))
                m.d.comb += formula.eq(Mux(sign, -mag, mag) << s.shift)
            m.d.comb += self.value.eq(formula)
            if s.exceptions:
                with m.Switch(code):
                    for c in s.exceptions:
                        with m.Case(c):
                            m.d.comb += self.value.eq(row_value(c))

        # invalid: codes that are NaN for some metadata value, and metadata values >= n_meta
        bad_codes = [c for c in range(t.n_codes) if not all(valid[r][c] for r in range(t.n_meta))]
        if bad_codes:
            with m.Switch(code):
                for c in bad_codes:
                    with m.Case(c):
                        rows = [not valid[r][c] for r in range(t.n_meta)]
                        if all(rows):
                            m.d.comb += self.invalid.eq(1)
                        else:
                            mask = sum(1 << r for r, b in enumerate(rows) if b)
                            m.d.comb += self.invalid.eq(Const(mask, 1 << t.meta_bits).bit_select(meta, 1))
        if t.use_meta and t.n_meta < (1 << t.meta_bits):
            with m.If(meta >= t.n_meta):
                m.d.comb += [self.value.eq(0), self.invalid.eq(1)]
        return m


def component(design) -> Decoder:
    """The registry's RTL hook of ``kind: decoder``."""
    d = design.decoder
    return Decoder(d.format, use_meta={"auto": None, "none": False, "group": True}[d.meta], style=d.style)
