"""MXFP4 / MXINT8 / NVFP4 structure (bit-exactness against the references is in test_reference_vectors)."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import datatypes as dt
from research_vectors import same


def test_mxfp4_codes_are_e2m1_and_scales_e8m0():
    x = np.random.default_rng(0).standard_normal((4, 64)).astype(np.float32)
    for rule in ("ocp", "better"):
        q = dt.quantize(x, "mxfp4", rule=rule)
        assert q.scales.dtype == np.uint8 and q.scales.shape == (4, 2)
        vals = np.arange(16, dtype=np.uint8).view(ml_dtypes.float4_e2m1fn).astype(np.float32)
        p = np.exp2(q.scales.astype(np.float64) - 127)
        y = vals[q.codes] * np.repeat(p, 32, axis=1)
        assert np.array_equal(y.astype(np.float32).view(np.uint32), q.dequantize().view(np.uint32))
        # negative zero (code 0x8, as ml_dtypes casts): exactly the negative inputs that round to 0
        assert np.array_equal(q.codes == 8, (x < 0) & (np.abs(y) == 0))


def test_mxfp4_rules_differ_as_specified():
    # a block whose max is 7: OCP takes 2^(floor(log2 7) - 2) = 1 and clamps 7 to 6;
    # 'better' takes 2^ceil(log2(7/6)) = 2, so 7 -> 3.5 -> 4 (ties away) -> 8
    x = np.zeros((1, 32), np.float32)
    x[0, 0] = 7.0
    x[0, 1] = 2.5
    ocp = dt.quantize(x, "mxfp4", rule="ocp")
    better = dt.quantize(x, "mxfp4", rule="better")
    assert ocp.scales[0, 0] == 127 and better.scales[0, 0] == 128
    assert ocp.dequantize()[0, :2].tolist() == [6.0, 3.0]      # 2.5 -> 3: ties away from zero
    assert better.dequantize()[0, :2].tolist() == [8.0, 3.0]   # 1.25: tie of 1 and 1.5 -> 1.5 -> 3


def test_mxint8_elements_and_scale():
    x = np.zeros((1, 32), np.float32)
    x[0, :4] = [1.5, -1.0, 0.0078125 * 1.5, 0.3]
    q = dt.quantize(x, "mxint8")
    assert q.scales[0, 0] == 127                    # floor(log2 1.5) = 0
    codes = q.codes[0, :4].astype(np.int8)
    assert codes.tolist() == [96, -64, 1, 19]       # 1.5*64, -64, 0.75 -> 1 (away), 19.2 -> 19
    assert q.dequantize()[0, :4].tolist() == [1.5, -1.0, 0.015625, 19 / 64]


@pytest.mark.parametrize("name, g", [("mxfp4", 32), ("mxint8", 32), ("nvfp4", 16)])
def test_fixed_block_sizes(name, g):
    x = np.ones((2, 64), np.float32)
    assert dt.quantize(x, name).n_groups == 64 // g
    with pytest.raises(dt.FormatError, match=f"allowed {g}"):
        dt.quantize(x, name, group_size=128)
    with pytest.raises(dt.FormatError, match="needs a group size"):
        dt.quantize(x, name, group_size=None)


def test_nvfp4_structure():
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((8, 64)) * 0.1).astype(np.float32)
    q = dt.quantize(x, "nvfp4")
    gs = np.float32(np.abs(x).max() / np.float32(2688.0))
    assert q.tensor_scale == float(gs)
    bs = q.scales.view(ml_dtypes.float8_e4m3fn).astype(np.float32)
    e2m1 = np.arange(16, dtype=np.uint8).view(ml_dtypes.float4_e2m1fn).astype(np.float32)
    y = (e2m1[q.codes] * np.repeat(bs, 16, axis=1)) * gs
    assert same(q.dequantize(), y.astype(ml_dtypes.bfloat16).astype(np.float32))
    assert q.bits_per_element() == 4 + 8 / 16 + 32 / x.size


def test_nvfp4_all_zero_tensor_gives_zeros():
    q = dt.quantize(np.zeros((2, 32), np.float32), "nvfp4")
    assert same(q.dequantize(), np.zeros((2, 32), np.float32))


def test_e2m1_round_equals_the_reference_formula_around_every_power_of_two():
    """Our exact binade equals the reference's floor(float32 log2) where it matters: the results
    agree for every float32 within 2000 ulps of each power of two from 2^-8 to 2^6 (and a sweep)."""
    from numba import njit

    from datatypes.mx import e2m1_round

    @njit
    def ours(v):
        out = np.empty_like(v)
        for i in range(v.size):
            out[i] = e2m1_round(v[i])
        return out

    def reference(v):   # torch's steps, float32, with log2 = exact log2 rounded to float32
        a = np.abs(v)
        p = np.maximum(np.floor(np.log2(np.where(a == 0, 1, a).astype(np.float64)).astype(np.float32)), 0)
        p2 = np.exp2(p).astype(np.float32)
        m = v / p2 * np.float32(2)
        m = np.sign(m) * np.floor(np.abs(m) + np.float32(0.5))
        return m * p2 / np.float32(2)

    centres = np.exp2(np.arange(-8, 7)).astype(np.float32).view(np.int32)
    bits = (centres[:, None] + np.arange(-2000, 2001, dtype=np.int32)[None, :]).ravel()
    v = np.concatenate([bits.view(np.float32), np.linspace(0, 40, 200001, dtype=np.float32)])
    v = np.concatenate([v, -v])
    assert np.array_equal(ours(v), reference(v))


@pytest.mark.parametrize("name", ["mxfp4", "mxint8", "nvfp4"])
def test_every_code_round_trips(name):
    """Blocks holding every code's value at unit scale (the block maximum pins the scale to 1)."""
    f = dt.get(name)
    g = f.default_group_size
    vals = f.code_values()
    # every code but -0 (0x8), which negative values rounding to 0 produce (an input -0.0 gives +0,
    # as torch.sign(-0.0) = 0): checked at the end
    codes = np.nonzero(np.isfinite(vals) & ~((vals == 0) & np.signbit(vals)))[0]
    top = vals[codes].max()
    if name == "nvfp4":                   # unit block scale needs block max 6 and tensor scale 1
        top_t = 6.0 * 448                 # a block at 448 * 6 pins gs = 1; other blocks at max 6
        blocks = [np.full(g, 0.0) for _ in range(1)]
        blocks[0][0] = top_t
    else:
        blocks = []
    per = g - 1
    for s in range(0, len(codes), per):
        chunk = vals[codes[s:s + per]]
        blocks.append(np.concatenate([chunk, [top], np.zeros(per - len(chunk))]))
    x = np.concatenate(blocks).astype(np.float32)[None, :]
    q = dt.quantize(x, name)
    start = g if name == "nvfp4" else 0
    got = q.codes[0, start:].reshape(-1, g)[:, :per].ravel()[:len(codes)]
    assert np.array_equal(vals[got], vals[codes])
    assert same(q.dequantize()[0, start:], x[0, start:])
    negz = np.nonzero((vals == 0) & np.signbit(vals))[0]
    if negz.size:
        y = x.copy()
        y[0, -1] = -1e-3 * float(top)                   # rounds to zero at unit scale
        qy = dt.quantize(y, name)
        assert qy.codes[0, -1] == negz[0] and np.signbit(qy.dequantize()[0, -1])


def test_formula_thresholds_are_the_formula():
    """The mxfp4 kernel rounds by thresholds on |v|; they are the points where the reference formula
    (e2m1_round, float32 steps) changes value: derived here by bisection over bit patterns, and
    every float32 within 64 ulps of each threshold rounds the same both ways."""
    from datatypes.mx import E2M1_FORMULA_THRESHOLDS, e2m1_round

    mags = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]
    for i, t in enumerate(E2M1_FORMULA_THRESHOLDS):
        lo, hi = 0, int(np.float32(mags[i + 1]).view(np.uint32))
        while lo < hi:
            mid = (lo + hi) // 2
            if float(e2m1_round(np.uint32(mid).view(np.float32))) >= mags[i + 1]:
                hi = mid
            else:
                lo = mid + 1
        assert np.uint32(lo).view(np.float32) == t
        near = (np.arange(-64, 65) + int(t.view(np.uint32))).astype(np.uint32).view(np.float32)
        for a in near:
            want = abs(float(e2m1_round(a)))
            code = int(np.sum(a >= E2M1_FORMULA_THRESHOLDS))
            assert mags[code] == want, (a, code, want)


def test_fast_log2_floor_ceil_equal_the_float32_log2():
    from numba import njit

    from datatypes.minifloat import ceil_log2_f32, exp2_f32, floor_log2_f32, log2_f32

    @njit
    def both(a):
        fl = np.empty(a.shape, np.float32)
        ce = np.empty(a.shape, np.float32)
        rf = np.empty(a.shape, np.float32)
        rc = np.empty(a.shape, np.float32)
        for i in range(a.shape[0]):
            fl[i] = floor_log2_f32(a[i])
            ce[i] = ceil_log2_f32(a[i])
            rf[i] = np.floor(log2_f32(a[i]))
            rc[i] = np.ceil(log2_f32(a[i]))
        return fl, ce, rf, rc

    pows = np.arange(-149, 128)
    centers = np.exp2(pows.astype(np.float64)).astype(np.float32).view(np.uint32).astype(np.int64)
    near = (centers[:, None] + np.arange(-80, 81)[None, :]).ravel()
    near = near[(near > 0) & (near < 0x7F800000)].astype(np.uint32).view(np.float32)
    rnd = np.random.default_rng(0).integers(1, 0x7F800000, 50000).astype(np.uint32).view(np.float32)
    a = np.concatenate([near, rnd])
    fl, ce, rf, rc = both(a)
    assert np.array_equal(fl, rf) and np.array_equal(ce, rc)

    @njit
    def e2(es):
        out = np.empty(es.shape, np.float32)
        for i in range(es.shape[0]):
            out[i] = exp2_f32(es[i])
        return out

    es = np.arange(-149, 128).astype(np.float32)
    assert np.array_equal(e2(es), np.exp2(es.astype(np.float64)).astype(np.float32))
