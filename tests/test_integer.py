"""int2..int8: codes, the symmetric and asymmetric schemes (bit-exactness is in test_reference_vectors)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import datatypes as dt
from research_vectors import same

BITS = range(2, 9)


@pytest.mark.parametrize("bits", BITS)
def test_code_values_are_twos_complement(bits):
    f = dt.get(f"int{bits}")
    vals = f.code_values()
    expect = [c - (1 << bits) if c >> (bits - 1) else c for c in range(1 << bits)]
    assert list(vals) == expect
    assert list(f.code_values(meta=3)) == [c - 3 for c in range(1 << bits)]


@pytest.mark.parametrize("bits", BITS)
def test_every_symmetric_code_round_trips(bits):
    # a group holding every integer -(2^(b-1)-1) .. 2^(b-1)-1 has scale exactly 1
    qmax = (1 << (bits - 1)) - 1
    x = np.arange(-qmax, qmax + 1, dtype=np.float32)[None, :]
    q = dt.quantize(x, f"int{bits}", group_size=None)
    assert q.scales[0, 0] == 1.0
    assert np.array_equal(dt.get(f"int{bits}").code_values()[q.codes[0]], x[0])
    assert same(q.dequantize(), x)


@pytest.mark.parametrize("bits", BITS)
def test_every_asymmetric_code_round_trips(bits):
    qmax = (1 << bits) - 1
    x = np.arange(0, qmax + 1, dtype=np.float32)[None, :] - 3   # min -3 -> zero point 3, scale 1
    q = dt.quantize(x, f"int{bits}", group_size=None, symmetric=False)
    assert q.scales[0, 0] == 1.0 and q.meta[0, 0] == 3
    assert np.array_equal(q.codes[0], np.arange(qmax + 1))
    assert same(q.dequantize(), x)


@given(st.lists(st.floats(-100, 100, width=32), min_size=1, max_size=200), st.sampled_from(list(BITS)),
       st.booleans())
def test_range_and_error_bound(vals, bits, symmetric):
    x = np.array(vals, np.float32)[None, :]
    q = dt.quantize(x, f"int{bits}", group_size=None, symmetric=symmetric)
    s = float(q.scales[0, 0])
    err = np.abs(q.dequantize().astype(np.float64) - x)
    assert np.all(err <= s / 2 * (1 + 1e-5) + 1e-30)   # nothing is clipped without a clip ratio
    if symmetric:
        assert np.all(q.codes < (1 << bits))
        assert q.meta is None
    else:
        assert 0 <= int(q.meta[0, 0]) < (1 << bits)


def test_ties_round_to_even():
    # scale 1 (group max 7 for int4): 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> 0, -1.5 -> -2
    x = np.float32([[0.5, 1.5, 2.5, -0.5, -1.5, 7.0]])
    assert list(dt.quantize(x, "int4", group_size=None).dequantize()[0]) == [0, 2, 2, 0, -2, 7]


def test_bits_per_element_counts_the_zero_point():
    x = np.ones((1, 128), np.float32)
    assert dt.quantize(x, "int4").bits_per_element() == 4 + 32 / 128
    assert dt.quantize(x, "int4", symmetric=False).bits_per_element() == 4 + (32 + 4) / 128
