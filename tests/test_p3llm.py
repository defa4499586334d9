"""P3-LLM operand formats: bit-exact against the reference quantizer (golden vectors), independent
oracles (ml_dtypes for E4M3, exact arithmetic for the score rounding), packing, bad input."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from research_vectors import heads as _heads
from research_vectors import same, vectors
from research_vectors import tokens as _tokens

import datatypes as dt
from datatypes.p3llm import score_round


# ---- golden vectors -----------------------------------------------------------------------------
def test_fp8_per_token():
    v = vectors()
    assert same(dt.quantize(v["input/act16"], "p3llm_fp8").dequantize(), v["p3llm/a8/pertoken/act16"])


def test_fp8_per_group_128():
    v = vectors()
    assert same(dt.quantize(v["input/act16"], "p3llm_fp8", group_size=128).dequantize(), v["p3llm/a8/g128/act16"])


def test_fp8_query_per_head():
    v = vectors()
    assert same(dt.quantize(v["input/q16"], "p3llm_fp8", group_size=128).dequantize(), v["p3llm/q8/q16"])


@pytest.mark.parametrize("case,opts", [("plain", {}), ("smooth", {"smooth": True}), ("g64", {"group_size": 64})])
def test_kv4_keys(case, opts):
    v = vectors()
    q = dt.quantize(_tokens(v["input/k16"]), "p3llm_kv4", **opts)
    assert same(_heads(q.dequantize(), 4), v[f"p3llm/k4/{case}/k16"])


def test_kv4_values_integer_codes_and_scales():
    v = vectors()
    q = dt.quantize(_tokens(v["input/v16"]), "p3llm_kv4")
    ints = q.codes.astype(np.int16) - np.repeat(q.meta, 128, axis=1)
    assert np.array_equal(_heads(ints, 4), v["p3llm/v4/int/v16"])
    assert same(_heads(q.scales, 4), v["p3llm/v4/scale/v16"])


@pytest.mark.parametrize("name", ["score", "score_any"])
def test_score_round(name):
    v = vectors()
    assert np.array_equal(score_round(v[f"input/{name}"]).view(np.uint16), v[f"p3llm/p8/{name}"].view(np.uint16))


def test_score8_format():
    v = vectors()
    q = dt.quantize(v["input/score"], "p3llm_score8")
    assert np.array_equal(q.dequantize().view(np.uint16), v["p3llm/p8/score"].view(np.uint16))


# ---- independent oracles --------------------------------------------------------------------------
def test_score_round_every_fp16_value():
    """Exhaustive over the 63488 finite fp16 patterns: round |x| half up to 4 mantissa bits of its
    fp16 binade (subnormals: steps of 2**-18), written with exact float64 arithmetic."""
    h = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    h = h[np.isfinite(h)]
    a = np.abs(h.astype(np.float64))
    e = np.floor(np.log2(np.where(a > 0, a, 1.0)))
    step = 2.0 ** (np.maximum(e, -14) - 4)
    want = np.floor(a / step + 0.5) * step * np.where(np.signbit(h), -1, 1)
    got = score_round(h)
    ok = np.isfinite(got)
    assert np.array_equal(got.astype(np.float64)[ok], want[ok])
    # the values that round past 65504 carry into the all-ones exponent: +-inf
    assert (~ok).sum() == 64 and np.all(np.abs(want[~ok]) == 65536.0)
    assert np.array_equal(np.sign(got[~ok].astype(np.float64)), np.sign(want[~ok]))


def test_fp8_codes_are_ml_dtypes_e4m3_of_fp16_ratio():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((8, 96)) * 10.0 ** rng.uniform(-4, 3, (8, 1))).astype(np.float16)
    q = dt.quantize(x, "p3llm_fp8")
    s = (np.abs(x).max(axis=1, keepdims=True) / np.float16(448)).clip(np.float16(1e-6))
    y = x / s                                                          # fp16 division
    assert np.array_equal(q.codes, y.astype(ml_dtypes.float8_e4m3fn).view(np.uint8))
    assert same(q.dequantize(), (y.astype(ml_dtypes.float8_e4m3fn).astype(np.float16) * s))


def test_score8_code_values_every_code():
    f = dt.get("p3llm_score8")
    vals = f.code_values()
    for c in range(256):
        e, m = c >> 4, c & 15
        want = m * 2.0 ** -18 if e == 0 else 2.0 ** (e - 15) * (1 + m / 16)
        assert vals[c] == want
    ints, frac = dt.exact_fixed_point(vals)
    assert frac == 18


def test_kv4_code_values_every_zero_point():
    f = dt.get("p3llm_kv4")
    assert f.n_meta == 16
    for zp in range(16):
        assert list(f.code_values(zp)) == [c - zp for c in range(16)]


def test_fp8_code_values_are_e4m3():
    vals = dt.get("p3llm_fp8").code_values()
    ref = np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn).astype(np.float64)
    assert np.array_equal(vals, ref, equal_nan=True)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), log_scale=st.floats(-3, 3))
def test_kv4_equals_numpy_fp16_formula(seed, log_scale):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((3, 128)) * 10.0 ** log_scale + rng.uniform(-2, 2)).astype(np.float16)
    lo, hi = x.min(axis=1, keepdims=True), x.max(axis=1, keepdims=True)
    s = ((hi - lo) / np.float16(15)).clip(np.float16(1e-6))
    zp = np.clip(np.round(-lo / s), 0, 15)
    qq = np.clip(np.round(x / s) + zp, 0, 15)
    want = (qq - zp) * s
    q = dt.quantize(x, "p3llm_kv4")
    assert same(q.dequantize(), want)
    assert np.array_equal(q.codes, qq.astype(np.uint8)) and np.array_equal(q.meta, zp.astype(np.uint8))


# ---- packing, storage -------------------------------------------------------------------------------
@pytest.mark.parametrize("name,opts", [("p3llm_fp8", {}), ("p3llm_kv4", {}), ("p3llm_kv4", {"smooth": True}),
                                       ("p3llm_score8", {})])
def test_pack_round_trip(name, opts):
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (6, 256)).astype(np.float32) if name == "p3llm_score8" else \
        rng.standard_normal((6, 256)).astype(np.float32)
    q = dt.quantize(x, name, **opts)
    u = dt.unpack(q.pack())
    assert np.array_equal(u.codes, q.codes)
    assert np.array_equal(u.dequantize().view(np.uint16), q.dequantize().view(np.uint16))


def test_bits_per_element():
    x = np.random.default_rng(2).standard_normal((4, 256)).astype(np.float16)
    assert dt.quantize(x, "p3llm_fp8").bits_per_element() == 8 + 16 / 256
    assert dt.quantize(x, "p3llm_kv4").bits_per_element() == 4 + (16 + 4) / 128
    assert dt.quantize(x, "p3llm_kv4", smooth=True).bits_per_element() == 4 + (16 + 4) / 128 + 16 / 4
    # float32 input is computed in fp32 (as the reference does): fp32 scales
    x32 = x.astype(np.float32)
    assert dt.quantize(x32, "p3llm_fp8").bits_per_element() == 8 + 32 / 256
    assert dt.quantize(x32, "p3llm_kv4", smooth=True).bits_per_element() == 4 + (32 + 4) / 128 + 32 / 4


def test_smoothing_zero_channel_gives_zero():
    x = np.random.default_rng(3).standard_normal((8, 128)).astype(np.float32)
    x[:, 5] = 0.0
    out = dt.quantize(x, "p3llm_kv4", smooth=True).dequantize()
    assert np.isfinite(out.astype(np.float32)).all() and not out[:, 5].any()


# ---- bad input -------------------------------------------------------------------------------------
def test_score8_rejects_values_outside_its_range():
    with pytest.raises(dt.InputError, match="1.96875"):
        dt.quantize(np.array([[0.5, -0.25]], np.float32), "p3llm_score8")
    with pytest.raises(dt.InputError, match="1.96875"):
        dt.quantize(np.array([[1.97, 0.1]], np.float32), "p3llm_score8")
    q = dt.quantize(np.array([[1.96, 0.0]], np.float32), "p3llm_score8")   # rounds to 1.9375: fits
    assert q.dequantize()[0, 0] == np.float16(1.9375)


def test_bad_options_and_input():
    with pytest.raises(dt.FormatError):
        dt.quantize(np.ones((2, 128), np.float32), "p3llm_kv4", smooth=1)
    with pytest.raises(dt.InputError, match="fp16"):
        dt.quantize(np.full((2, 128), 1e5, np.float32), "p3llm_fp8", compute="fp16")
    with pytest.raises(dt.FormatError, match="compute"):
        dt.quantize(np.ones((2, 128), np.float32), "p3llm_fp8", compute="bf16")
    with pytest.raises(dt.InputTypeError):
        dt.quantize(np.ones((2, 8), np.int8), "p3llm_fp8")
