"""BBS: binary pruning bit-exact against BBS-MICRO, the compressed encoding (exact size, exact
decode), the bi-directional column view against a brute-force count, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datatypes import FormatError, InputError, InputTypeError, bbs
from research_vectors import keys, vectors

BITS = {"ints8": 8, "ints6": 6}


def _run(key):
    p = key.split("/")
    method, name, g, n = p[1], p[2], int(p[3][1:]), int(p[4][1:])
    w = vectors()[f"input/{name}"]
    if method == "ra":
        return bbs.round_avg(w, BITS[name], g, n)
    if method == "bf":
        return bbs.bit_flip(w, BITS[name], g, n)
    return bbs.zero_point_shift(w, BITS[name], g, n, int(p[5][1:]))


@pytest.mark.parametrize("key", keys("bbs/"))
def test_matches_reference(key):
    assert np.array_equal(_run(key).values, vectors()[key])


def test_vector_count():
    assert len(keys("bbs/ra/")) == 20 and len(keys("bbs/bf/")) == 20 and len(keys("bbs/zps/")) == 16


@pytest.mark.parametrize("key", keys("bbs/"))
def test_encode_decode_exact_and_size(key):
    p = _run(key)
    e = p.encode()
    assert np.array_equal(bbs.decode(e), p.values)
    n = p.values.size
    groups = n // p.group_size
    keep = p.bits - p.n_pruned
    assert e.columns.shape == (keep,) + p.values.shape
    if p.method == "round_avg":
        d = np.minimum(p.shift, p.n_pruned)
        meta = groups * int(min(p.n_pruned, p.bits - 5)).bit_length() + int(np.sum(p.n_pruned - d))
    elif p.method == "zero_point_shift":
        meta = groups * (p.const_bits + int(p.n_pruned).bit_length())
    else:
        meta = groups * (p.bits - 1)
    assert e.total_bits == n * keep + meta


# ---- structure of the pruned weights -----------------------------------------------------------------
def _planes(v, bits, rep):
    return bbs.bit_planes(v, bits, rep)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 5), sd=st.sampled_from([0.7, 3.0, 20.0, 60.0]))
def test_round_avg_low_columns_constant(seed, n, sd):
    rng = np.random.default_rng(seed)
    w = np.clip(np.round(rng.standard_normal((4, 64)) * sd), -128, 127).astype(np.int16)
    p = bbs.round_avg(w, 8, 16, n)
    planes = _planes(p.values, 8, "twos").reshape(8, -1, 16)
    for gi in range(planes.shape[1]):
        r = int(p.shift[gi])
        for col in range(8 - n + r, 8):                 # pruned columns: constant over the group
            assert len(set(planes[col, gi].tolist())) == 1
        for col in range(1, r + 1):                     # redundant sign extension
            assert np.array_equal(planes[col, gi], planes[0, gi])
    assert np.array_equal(bbs.decode(p.encode()), p.values)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 6), c=st.integers(1, 6))
def test_zero_point_shift_structure(seed, n, c):
    rng = np.random.default_rng(seed)
    w = np.clip(np.round(rng.standard_t(3, (3, 64)) * 12), -128, 127).astype(np.int16)
    p = bbs.zero_point_shift(w, 8, 16, n, c)
    s = p.stored.reshape(-1, 16)
    assert np.all(np.abs(s) <= 127)
    o = p.offsets
    assert np.all((o >= -(1 << (c - 1))) & (o < (1 << (c - 1))))
    for gi in range(s.shape[0]):
        z = int(p.shift[gi])
        if 8 - n + z < 8:
            assert np.all(np.abs(s[gi]) % (1 << (n - z)) == 0)    # the pruned low columns are zero
    assert np.array_equal(bbs.decode(p.encode()), p.values)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 6))
def test_bit_flip_keeps_at_most_bits_minus_n_columns(seed, n):
    rng = np.random.default_rng(seed)
    w = np.clip(np.round(rng.standard_t(3, (3, 64)) * 8), -128, 127).astype(np.int16)
    p = bbs.bit_flip(w, 8, 16, n)
    planes = _planes(p.values, 8, "sign_magnitude")[1:].reshape(7, -1, 16)
    assert np.all(planes.any(axis=2).sum(axis=0) <= 8 - n - 1)
    assert np.array_equal(bbs.decode(p.encode()), p.values)


# ---- column view --------------------------------------------------------------------------------
def test_column_view_against_brute_force():
    rng = np.random.default_rng(0)
    w = rng.integers(-128, 128, size=(3, 20))                  # 20 = 8 + 8 + a tail of 4
    cv = bbs.column_view(w, 8, 8)
    k = 0
    for row in w:
        for s0 in range(0, 20, 8):
            sub = row[s0:s0 + 8]
            for col in range(8):
                ones = sum(((int(v) & 0xFF) >> (7 - col)) & 1 for v in sub)
                assert cv.ones[k, col] == ones
                assert cv.effectual[k, col] == (len(sub) - ones if 2 * ones > len(sub) else ones)
            k += 1
    assert cv.total_bits == 60 * 8
    assert cv.max_effectual_per_column <= 4


def test_column_view_inversion_rule():
    # five ones in a column of 8: inverted (3 effectual); exactly four: not inverted (4)
    col5 = np.array([[-1, -1, -1, -1, -1, 0, 0, 0]])
    col4 = np.array([[-1, -1, -1, -1, 0, 0, 0, 0]])
    assert bbs.column_view(col5, 8).effectual[0].tolist() == [3] * 8
    assert bbs.column_view(col4, 8).effectual[0].tolist() == [4] * 8
    assert bbs.column_view(col5, 8).bbs_sparsity == 1 - 3 / 8


def test_bbs_sparsity_at_least_half():
    w = np.random.default_rng(1).integers(-128, 128, size=(16, 64))
    cv = bbs.column_view(w, 8)
    assert cv.bbs_sparsity >= 0.5 and cv.bbs_sparsity >= cv.bit_sparsity - 1e-12


# ---- bad input -------------------------------------------------------------------------------------
def test_non_integer_input():
    with pytest.raises(InputError, match="not an integer"):
        bbs.round_avg(np.array([[1.5, 2.0] * 8]), 8, 16, 2)
    with pytest.raises(InputTypeError):
        bbs.round_avg(np.array([[True, False] * 8]), 8, 16, 2)
    with pytest.raises(InputTypeError):
        bbs.column_view(np.array(["1"]), 8)


def test_out_of_range():
    with pytest.raises(InputError, match=r"\[-128, 127\]"):
        bbs.zero_point_shift(np.array([[200] * 16]), 8, 16, 4)
    with pytest.raises(InputError, match=r"\[-32, 31\]"):
        bbs.round_avg(np.array([[40] * 16]), 6, 16, 2)


def test_unsupported_parameters():
    w = np.zeros((2, 32), np.int8)
    with pytest.raises(FormatError, match="bits=2"):
        bbs.round_avg(w, 2, 16, 1)
    with pytest.raises(FormatError, match="bits=17"):
        bbs.bit_flip(w, 17, 16, 1)
    with pytest.raises(FormatError, match="n_pruned=7"):
        bbs.zero_point_shift(w, 8, 16, 7)          # bits - 1: the reference never prunes
    with pytest.raises(FormatError, match="n_pruned=7"):
        bbs.bit_flip(w, 8, 16, 7)
    with pytest.raises(FormatError, match="n_pruned=8"):
        bbs.round_avg(w, 8, 16, 8)
    with pytest.raises(FormatError, match="const_bits"):
        bbs.zero_point_shift(w, 8, 16, 4, const_bits=9)
    with pytest.raises(FormatError, match="multiple of group_size"):
        bbs.round_avg(np.zeros((2, 40), np.int8), 8, 16, 2)
    with pytest.raises(FormatError, match="unknown BBS method"):
        bbs.prune(w, "magnitude")


def test_short_row_is_one_group():
    w = np.arange(-6, 6).reshape(1, 12)
    p = bbs.round_avg(w, 8, 16, 2)
    assert p.group_size == 12 and p.offsets.shape == (1,)
