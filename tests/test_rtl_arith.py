"""The arithmetic contract of the RTL (rtl_gen.arith) and the PE cycle model (hwsim.pe.stream), checked
against the datatypes model and plain Python integers. No simulator involved."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import datatypes as dt
from hwsim.pe.stream import pe_timing
from rtl_gen import arith
from rtl_gen.errors import NoDecoderError, UnsupportedKindError, WidthError

SMALL = [n for n in dt.formats() if dt.get(n).bits <= 8]


def _modes(name):
    f = dt.get(name)
    return [False, True] if f.n_meta > 1 else [False]


@pytest.mark.parametrize("name", SMALL)
def test_decode_table_is_exact_for_every_format_and_metadata(name):
    """Every code under every metadata value: int * 2**-frac equals code_values exactly (NaN -> 0,
    invalid); formats without a decoder are exactly those with Inf codes."""
    f = dt.get(name)
    for use_meta in _modes(name):
        rows = [f.code_values(m) for m in range(f.n_meta)] if use_meta else [f.code_values()]
        if any(np.isinf(r).any() for r in rows):
            with pytest.raises(NoDecoderError, match="Inf"):
                arith.decode_table(f, use_meta)
            continue
        t = arith.decode_table(f, use_meta)
        assert t.use_meta == use_meta and t.n_meta == len(rows)
        for m, row in enumerate(rows):
            for c, v in enumerate(row):
                got = Fraction(t.ints[m][c], 1 << t.frac_bits)
                if math.isnan(v):
                    assert t.ints[m][c] == 0 and not t.valid[m][c]
                else:
                    assert got == Fraction(float(v)) and t.valid[m][c], (name, m, c)
        # the width is the smallest two's complement that holds every value
        lo, hi = t.lo, t.hi
        assert -(1 << (t.width - 1)) <= lo and hi < (1 << (t.width - 1))
        assert t.width == 2 or not (-(1 << (t.width - 2)) <= lo and hi < (1 << (t.width - 2)))
        # the chosen structure reproduces the table (find_structure checks this itself; the
        # vectorised decode is what hwsim and the checker use)
        arith.find_structure(t)
        codes = np.tile(np.arange(t.n_codes), t.n_meta)
        metas = np.repeat(np.arange(t.n_meta), t.n_codes)
        val, inv = t.decode(codes, metas if use_meta else None)
        assert np.array_equal(val, np.where(t.valid_array(), t.array(), 0).ravel())
        assert np.array_equal(inv, ~t.valid_array().ravel())


def test_known_formats_have_decoders():
    """Guards the loop above against an empty registry."""
    have = set(arith.hardware_formats(8))
    assert {"int4", "int8", "fp4_basic", "fp4_range", "nf4", "sf4_5", "float8_e4m3fn", "mxfp4"} <= have
    assert "float8_e5m2" not in have


@pytest.mark.parametrize("name,use_meta,kind,shape,exceptions", [
    ("int4", False, "int", (0, 0), ()),
    ("int4", True, "offset", (0, 0), ()),
    ("fp4_basic", False, "minifloat", (2, 1), ()),
    ("fp4_range", False, "minifloat", (2, 1), (0x8,)),          # -0 code -> +8
    ("fp4_log", False, "minifloat", (3, 0), ()),
    ("float8_e4m3fn", False, "minifloat", (4, 3), (0x7F, 0xFF)),  # NaN codes -> 0
    ("mxint8", False, "int", (0, 0), (0x80,)),
    ("nf4", False, "table", (0, 0), ()),
])
def test_structure_detection(name, use_meta, kind, shape, exceptions):
    s = arith.find_structure(arith.decode_table(name, use_meta))
    assert s.kind == kind and (s.ebits, s.mbits) == shape and s.exceptions == exceptions


class _Synthetic(dt.Format):
    family = "test"

    def __init__(self, bits, values, n_meta=1, name="synthetic"):
        self.name, self.bits, self._v, self.n_meta = name, bits, values, n_meta

    def code_values(self, meta=0):
        return np.asarray(self._v, dtype=np.float64)


def test_no_decoder_reasons():
    with pytest.raises(NoDecoderError, match="at most 8 bits"):
        arith.decode_table(_Synthetic(12, np.zeros(4096)))
    with pytest.raises(NoDecoderError, match="66-bit"):                  # 2**-64 .. 1 needs 66 bits
        arith.decode_table(_Synthetic(2, [0.0, 2.0 ** -64, 1.0, -1.0]))
    with pytest.raises(NoDecoderError, match="no group metadata"):
        arith.decode_table("fp4_basic", use_meta=True)
    # an activation format that needs metadata cannot feed the PE
    with pytest.raises(NoDecoderError, match="activation format"):
        arith.MacSpec.make("int4", _Synthetic(4, np.arange(16.0), n_meta=2), 32)


def test_mac_widths_and_errors():
    sp = arith.MacSpec.make("int4", "int8", "int16")
    # products of INT4 x INT8 span [-8*127, -8*-128] = [-1016, 1024]: 12 bits, not 11
    assert sp.product_width == 12 and sp.product_frac == 0
    assert arith.signed_width(-1016, 1024) == 12 and arith.signed_width(-1016, 1023) == 11
    sp = arith.MacSpec.make("fp4_range", "float8_e4m3fn", 24)
    assert (sp.weight.frac_bits, sp.activation.frac_bits, sp.product_frac) == (1, 9, 10)
    assert sp.product_width == 23                                       # 16 * 448 * 2**10 = 2**22 * 1.75
    with pytest.raises(WidthError, match="use int23 or wider"):
        arith.MacSpec.make("fp4_range", "float8_e4m3fn", "int22")
    with pytest.raises(WidthError, match="impossible"):
        arith.MacSpec.make("int4", "int8", 129)
    with pytest.raises(WidthError, match="int<N>"):
        arith.MacSpec.make("int4", "int8", "i32")
    with pytest.raises(UnsupportedKindError, match="integer"):
        arith.MacSpec.make("int4", "int8", "fp32")
    assert arith.MacSpec.make("sf4_5", "int8", "int40").product_width == 35
    assert arith.MacSpec.make("sf4_5", "float8_e4m3fn", "int100").acc_width == 100   # > 64: exact Python ints


def test_rtl_decode_matches_the_systolic_pe_model():
    """hwsim.pe (the systolic array's PE model) and rtl_gen.arith decode every format both accept
    to the same integers and binary point, and wrap accumulators the same way."""
    from hwsim import pe as spe

    names = spe.pe_formats()
    assert {"int4", "int8", "fp4_basic", "float8_e4m3fn", "sf4_5"} <= set(names)
    for name in names:
        p = spe.pe_format(name)
        t = arith.decode_table(name, use_meta=False)
        assert t.frac_bits == p.frac_bits, name
        assert np.array_equal(t.valid_array()[0], p.valid), name
        assert np.array_equal(t.array()[0], np.where(p.valid, p.decode, 0)), name
    x = np.random.default_rng(0).integers(-(1 << 62), 1 << 62, 1000, dtype=np.int64)
    for bits in (2, 12, 33, 63, 64):
        assert np.array_equal(arith.wrap(x, bits), spe.wrap(x, bits))


def _py_wrap(x, w):
    return ((x + (1 << (w - 1))) % (1 << w)) - (1 << (w - 1))


@settings(max_examples=60, deadline=None)
@given(width=st.integers(2, 128), data=st.data())
def test_wrap_and_accumulate_match_python_ints(width, data):
    lim = 1 << (width - 1)
    pw = data.draw(st.integers(2, width))
    plim = 1 << (pw - 1)
    prods = data.draw(st.lists(st.integers(-plim, plim - 1), min_size=1, max_size=200))
    last = data.draw(st.lists(st.booleans(), min_size=len(prods), max_size=len(prods)))
    last[-1] = True
    spec = arith.MacSpec(weight=None, activation=None, acc_width=width, product_width=pw, product_frac=0)
    got = spec.accumulate(arith.int_array(prods, pw), np.array(last))
    want, acc = [], 0
    for p, l in zip(prods, last):
        acc += p
        if l:
            want.append(_py_wrap(acc, width))
            acc = 0
    assert [int(v) for v in got] == want
    assert all(-lim <= v < lim for v in want)


def test_accumulator_wraps_at_the_boundary():
    sp = arith.MacSpec.make("int4", "int8", "int12")                   # products need 12 bits
    # (-8) * (-128) = 1024 twice = 2048 = 2**11 -> wraps to -2048 in 12 bits
    out = sp.accumulate(sp.products([8, 8], [0x80, 0x80]), [False, True])
    assert out.tolist() == [-2048]
    out = sp.accumulate(sp.products([8, 8, 7], [0x80, 0x80, 1]), [False, False, True])
    assert out.tolist() == [-2041]


def test_pe_timing_by_hand():
    # stage 1, no stalls: element k accepted in cycle k; output after a last at cycle k+1
    i, o, c = pe_timing([False, True, True], 1)
    assert i.tolist() == [0, 1, 2] and o.tolist() == [2, 3] and c == 4
    # stage 2: latency 2
    i, o, c = pe_timing([False, True, True], 2)
    assert o.tolist() == [3, 4] and c == 5
    # a gap in the input and back-pressure on the output
    i, o, c = pe_timing([True, True], 1, in_valid=[0, 1, 1], out_ready=[1, 1, 0, 0, 1])
    # elem0 at c1 -> o.valid c2 (ready 0), c3 (ready 0): stall blocks elem1 until c4
    assert i.tolist() == [1, 4] and o.tolist() == [4, 5] and c == 6
