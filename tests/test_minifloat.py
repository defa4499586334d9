"""Minifloats against ml_dtypes: every code, and every float32 edge case we can enumerate."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import datatypes as dt
from research_vectors import same
from datatypes.minifloat import E4M3, e4m3_rne, round_to_bf16

ORACLE = {
    "float4_e2m1fn": ml_dtypes.float4_e2m1fn,
    "float6_e2m3fn": ml_dtypes.float6_e2m3fn,
    "float6_e3m2fn": ml_dtypes.float6_e3m2fn,
    "float8_e4m3fn": ml_dtypes.float8_e4m3fn,
    "float8_e5m2": ml_dtypes.float8_e5m2,
}


def cast_codes(name: str, x: np.ndarray, **opts) -> np.ndarray:
    return dt.quantize(np.asarray(x, np.float32).reshape(1, -1), name, scaling="none", **opts).codes[0]


def oracle_codes(name: str, x: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float32).astype(ORACLE[name]).view(np.uint8)


def edge_cases(name: str) -> np.ndarray:
    f = dt.get(name)
    v = f.levels
    mids = (v[1:] + v[:-1]) / 2
    mx = float(np.abs(v).max())
    pts = np.concatenate([v, mids, [mx * 1.0625, mx * 1.125, mx * 1.5, mx * 4, 1e30, 1e-30, 1e-45, 0.0, -0.0]])
    pts = np.concatenate([pts, -pts]).astype(np.float32)
    up = np.nextafter(pts, np.float32(np.inf))
    dn = np.nextafter(pts, np.float32(-np.inf))
    return np.concatenate([pts, up, dn])


@pytest.mark.parametrize("name", list(ORACLE))
def test_decode_table_matches_ml_dtypes(name):
    f = dt.get(name)
    codes = np.arange(1 << f.bits, dtype=np.uint8)
    ref = codes.view(ORACLE[name]).astype(np.float64)
    assert np.array_equal(f.code_values(), ref, equal_nan=True)


@pytest.mark.parametrize("name", list(ORACLE))
def test_every_code_round_trips(name):
    f = dt.get(name)
    vals = f.code_values()
    ok = np.isfinite(vals)
    codes = np.arange(1 << f.bits)[ok]
    assert np.array_equal(cast_codes(name, vals[ok]), codes)


@pytest.mark.parametrize("name", list(ORACLE))
def test_edge_cases_match_ml_dtypes(name):
    x = edge_cases(name)
    assert np.array_equal(cast_codes(name, x), oracle_codes(name, x))


@pytest.mark.parametrize("name", list(ORACLE))
def test_float32_bit_pattern_sweep_matches_ml_dtypes(name):
    # every 65537th float32 bit pattern (65,537 values spread over all exponents and both signs)
    bits = np.arange(0, 2 ** 32, 65537, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    x = x[np.isfinite(x)]
    assert np.array_equal(cast_codes(name, x), oracle_codes(name, x))


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=1, max_size=64),
       st.sampled_from(list(ORACLE)))
def test_random_values_match_ml_dtypes(vals, name):
    x = np.array(vals, np.float32)
    assert np.array_equal(cast_codes(name, x), oracle_codes(name, x))


def test_overflow_rules():
    big = np.float32([1e6, -1e6])
    assert list(cast_codes("float8_e4m3fn", big)) == [0x7F, 0xFF]                  # NaN
    assert list(cast_codes("float8_e5m2", big)) == [0x7C, 0xFC]                    # Inf
    assert list(cast_codes("float4_e2m1fn", big)) == [0x7, 0xF]                    # saturate
    assert list(cast_codes("float8_e4m3fn", big, overflow="saturate")) == [0x7E, 0xFE]
    assert list(cast_codes("float8_e5m2", big, overflow="saturate")) == [0x7B, 0xFB]
    # 464 is the tie between 448 and the NaN slot 480: ties to even keeps 448
    assert list(cast_codes("float8_e4m3fn", np.float32([464.0, np.nextafter(np.float32(464), np.float32(1e9))]))) == [0x7E, 0x7F]


def test_absmax_scaling():
    x = np.float32([[0.1, -0.35, 0.7, 0.0]])
    q = dt.quantize(x, "float8_e4m3fn", group_size=None)
    s = np.float32(0.7) / np.float32(448)
    assert q.scales[0, 0] == s
    ref = (x / s).astype(ml_dtypes.float8_e4m3fn).astype(np.float32) * s
    assert same(q.dequantize(), ref)


def test_e4m3_rne_helper_and_bf16_rounding():
    v = np.abs(edge_cases("float8_e4m3fn"))
    v = v[v <= 448]
    assert np.array_equal(e4m3_rne(v), v.astype(ml_dtypes.float8_e4m3fn).astype(np.float32))
    x = np.random.default_rng(0).standard_normal(10000).astype(np.float32) * 1e3
    x = np.concatenate([x, (np.arange(1, 1000, dtype=np.uint32) << 15 | 0x3F800000).view(np.float32)])
    assert np.array_equal(round_to_bf16(x), x.astype(ml_dtypes.bfloat16).astype(np.float32))
    assert E4M3.max_finite == 448.0


def test_unique_levels_is_np_unique_bit_for_bit():
    """datatypes.format.unique_levels (used for the level tables built at import, without numpy.ma) returns
    np.unique's array bit for bit, signed zeros included, on random arrays with many repeats."""
    import numpy as np

    from datatypes.format import unique_levels

    rng = np.random.default_rng(7)
    pool = np.array([-0.0, 0.0, 1.5, -1.5, 3.0, 6.0, -6.0, 0.5, -0.5, 2.0 ** -9], np.float64)
    for n in [0, 1, 2, 3, 17, 256, 1000]:
        for dtype in (np.float64, np.float32):
            x = rng.choice(pool, n).astype(dtype)
            a, b = unique_levels(x), np.unique(x)
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), (n, dtype, a, b)
