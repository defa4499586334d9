"""RaZeR formats: bit-exact against the published reference (golden vectors), the per-code
hardware decode under every selector, the packed memory images, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import datatypes as dt
from research_vectors import same, vectors

E2M1_MAG = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]


def e2m1(code: int) -> float:
    """Standard E2M1 decode of a nibble (spec §1.3), written out independently."""
    mag = E2M1_MAG[code & 7]
    return -mag if code & 8 else mag


# ---- golden vectors --------------------------------------------------------------------------------
@pytest.mark.parametrize("g", [128, 32])
def test_razer4_matches_quant_fp4_razer(g):
    v = vectors()
    assert same(dt.quantize(v["input/w16"], "razer4", group_size=g).dequantize(), v[f"razer4/g{g}/w16"])


def test_razer4_output_is_fp16():
    q = dt.quantize(vectors()["input/w16"], "razer4")
    assert q.dequantize().dtype == np.float16


def test_mxfp4_razer_matches_quant_mxfp4_razer():
    v = vectors()
    assert same(dt.quantize(v["input/w16"], "mxfp4_razer").dequantize(), v["mxfp4_razer/g32/w16"])


@pytest.mark.parametrize("outlier", [8, 7])
@pytest.mark.parametrize("inp", ["wbf", "actbf"])
def test_nvfp4_razer_matches_quant_nvfp4_razer_e3m3(outlier, inp):
    v = vectors()
    q = dt.quantize(v[f"input/{inp}"], "nvfp4_razer", outlier=outlier)
    assert same(q.dequantize(), v[f"nvfp4_razer/o{outlier}/{inp}"])


@pytest.mark.parametrize("inp", ["wbf", "actbf"])
def test_nvfp4_razer_act_matches_v0_quant_nvfp4_razer_e4m3(inp):
    v = vectors()
    assert same(dt.quantize(v[f"input/{inp}"], "nvfp4_razer_act").dequantize(), v[f"nvfp4_razer_act/v0/{inp}"])


def test_golden_vectors_contain_symmetric_ties():
    """The bf16 inputs have groups where +5 and -5 tie mathematically; the reference's fp32
    summation order decides them, so these vectors do test the summation order."""
    x = vectors()["input/actbf"].reshape(-1, 16)
    sym = [np.intersect1d(np.abs(g[g > 0]), np.abs(g[g < 0])).size > 0 for g in x]
    assert sum(sym) > 10


# ---- hardware decode ----------------------------------------------------------------------------------
def test_razer4_code_values_every_code_every_selector():
    f = dt.get("razer4")
    assert f.n_meta == 4
    for meta, (sign, fix) in enumerate([(1, 5), (-1, 5), (1, 8), (-1, 8)]):
        vals = f.code_values(meta)
        for c in range(16):
            want = 0.0 if c == 8 else fix if c == 0 else e2m1(c)
            assert vals[c] == sign * want, (meta, c)


@pytest.mark.parametrize("name,specials", [("nvfp4_razer", [5, -5, 8, -8]), ("mxfp4_razer", [5, -5, 8, -8])])
def test_canonical_code_values(name, specials):
    f = dt.get(name)
    assert f.n_meta == 4
    for meta, sv in enumerate(specials):
        vals = f.code_values(meta)
        assert vals[0] == sv and vals[8] == 0.0
        assert all(vals[c] == e2m1(c) for c in range(16) if c not in (0, 8))


def test_nvfp4_razer_outlier_7_code_values():
    f = dt.get("nvfp4_razer")
    assert [f.code_values(m, outlier=7)[0] for m in range(4)] == [5, -5, 7, -7]


def test_nvfp4_razer_act_code_values():
    f = dt.get("nvfp4_razer_act")
    assert f.n_meta == 2
    assert f.code_values(0)[0] == 5 and f.code_values(1)[0] == -5
    assert all(f.code_values(m)[8] == 0 for m in range(2))


@pytest.mark.parametrize("name", ["razer4", "nvfp4_razer", "nvfp4_razer_act", "mxfp4_razer"])
def test_code_values_are_exact_fixed_point(name):
    f = dt.get(name)
    for meta in range(f.n_meta):
        vals = f.code_values(meta)
        ints, frac = dt.exact_fixed_point(vals)
        assert frac == 1                       # every value is a multiple of 0.5
        assert [i / 2 for i in ints] == list(vals)


def _x(seed=0, shape=(24, 256), scale=0.05):
    rng = np.random.default_rng(seed)
    x = (rng.standard_t(5, size=shape) * scale).astype(np.float32)
    x[2, :128] = 0.0
    return x


def test_razer4_dequantize_is_code_value_times_scale():
    x = _x()
    q = dt.quantize(x, "razer4")
    f = q.format
    vals = np.stack([f.code_values(m) for m in range(4)]).astype(np.float32)
    meta = np.repeat(q.meta, 128, axis=1)
    scale = np.repeat(q.scales, 128, axis=1)
    want = (vals[meta, q.codes] * scale).astype(np.float16)      # one fp32 product, one fp16 rounding
    assert same(q.dequantize(), want)
    # every code is used in some group and the special only at nibble 0
    assert set(np.unique(q.codes)) <= set(range(16))


def test_nvfp4_razer_dequantize_is_code_value_times_scales():
    x = _x(1)
    q = dt.quantize(x, "nvfp4_razer")
    import ml_dtypes
    bs = q.scales.view(ml_dtypes.float8_e4m3fn).astype(np.float32)
    f = q.format
    vals = np.stack([f.code_values(m) for m in range(4)]).astype(np.float32)
    meta = np.repeat(q.meta, 16, axis=1)
    prod = (vals[meta, q.codes] * np.repeat(bs, 16, axis=1)) * np.float32(q.tensor_scale)
    want = prod.astype(ml_dtypes.bfloat16).astype(np.float32)
    assert same(q.dequantize(), want)


# ---- packed memory images ------------------------------------------------------------------------------
def test_razer4_fp16_pack_is_the_g128_kernel_image():
    """Decode the packed words exactly as the razer_cuda kernel does (spec §3.6(a))."""
    x = _x(2, scale=0.3)
    q = dt.quantize(x, "razer4", scale="fp16")
    p = q.pack()
    assert p.meta is None and p.scales.dtype == np.uint16
    words = p.scales
    fix = np.where(words & 0x4000, np.float16(8.0), np.float16(5.0))
    s_clean = (words & ~np.uint16(0x4000)).view(np.float16)
    nib = np.empty((x.shape[0], x.shape[1]), np.uint8)
    nib[:, 0::2] = p.data & 0xF
    nib[:, 1::2] = p.data >> 4
    table = np.array([e2m1(c) for c in range(16)], np.float16)
    base = np.where(nib == 0, np.repeat(fix, 128, axis=1), table[nib])
    decoded = (base.astype(np.float32) * np.repeat(s_clean, 128, axis=1).astype(np.float32)).astype(np.float16)
    assert same(decoded + np.float16(0.0), q.dequantize())     # (+ 0: the kernel's zero is 0; ours +0.0)
    u = dt.unpack(p)
    assert np.array_equal(u.codes, q.codes) and np.array_equal(u.meta, q.meta)
    assert same(u.scales, q.scales) and same(u.dequantize(), q.dequantize())


def test_razer4_fp16_scale_selection_equals_reference_selection():
    x = _x(3)
    a = dt.quantize(x, "razer4")
    b = dt.quantize(x, "razer4", scale="fp16")
    assert np.array_equal(a.codes, b.codes) and np.array_equal(a.meta, b.meta)
    assert np.array_equal(b.scales, a.scales.astype(np.float16).astype(np.float32))


def test_razer4_fp32_pack_round_trip():
    q = dt.quantize(_x(4), "razer4")
    u = dt.unpack(q.pack())
    assert same(u.dequantize(), q.dequantize())


def test_nvfp4_razer_e3m3_pack_is_the_g16_scale_byte():
    x = _x(5)
    q = dt.quantize(x, "nvfp4_razer", block_scale="e3m3")
    p = q.pack()
    b = p.scales
    payload = (b & 0x3F).astype(np.int64)
    e, m = payload >> 3, payload & 7
    scale = np.where(e == 0, m * 2.0 ** -5, 2.0 ** (e - 3.0) * (1 + m / 8.0))   # E3M3, bias 3
    import ml_dtypes
    as_e4m3 = (payload.astype(np.uint8).view(ml_dtypes.float8_e4m3fn).astype(np.float64) * 16)
    assert np.array_equal(scale, as_e4m3)            # "an E4M3 code with top exponent bit 0, x16"
    special = np.where(b & 0x40, 8.0, 5.0) * np.where(b & 0x80, -1.0, 1.0)
    nib = np.empty(x.shape, np.uint8)
    nib[:, 0::2] = p.data & 0xF
    nib[:, 1::2] = p.data >> 4
    table = np.array([e2m1(c) for c in range(16)])
    vals = np.where(nib == 0, np.repeat(special, 16, axis=1), table[nib])
    prod = (vals.astype(np.float32) * np.repeat(scale, 16, axis=1).astype(np.float32)) * np.float32(q.tensor_scale)
    assert same(prod.astype(ml_dtypes.bfloat16).astype(np.float32) + np.float32(0.0), q.dequantize())
    u = dt.unpack(p)
    assert np.array_equal(u.codes, q.codes) and np.array_equal(u.meta, q.meta) and np.array_equal(u.scales, q.scales)


def test_nvfp4_razer_e3m3_equals_e4m3_when_every_block_scale_is_at_least_quarter():
    """The E3M3 payload grid equals the E4M3 grid from 0.25 up (spec §3.4), so with every
    candidate block scale >= 0.25 both options agree."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((16, 128)).astype(np.float32)
    gs = np.abs(x).max() / np.float32(168.0)
    bmax = np.abs(x / gs).reshape(-1, 16).max(axis=1)
    assert (bmax / 8 >= 0.25).all()                      # precondition: both scale classes >= 0.25
    a = dt.quantize(x, "nvfp4_razer")
    b = dt.quantize(x, "nvfp4_razer", block_scale="e3m3")
    assert np.array_equal(a.codes, b.codes) and np.array_equal(a.meta, b.meta)
    assert same(a.dequantize(), b.dequantize())
    import ml_dtypes
    assert np.array_equal(a.scales.view(ml_dtypes.float8_e4m3fn).astype(np.float64),
                          dt.get("nvfp4_razer")._e3m3[b.scales].astype(np.float64))


def test_nvfp4_razer_e4m3_pack_keeps_e4m3_scales_and_selectors():
    """The fake quantizer's E4M3 block scales (here one below 0.25, which the 6-bit payload cannot
    hold) are packed as E4M3 bytes with the selector beside them, losslessly."""
    x = np.ones((1, 32), np.float32)
    x[0, 0] = 1000.0
    x[0, 17] = 1.3
    q = dt.quantize(x, "nvfp4_razer")
    p = q.pack()
    assert np.array_equal(p.scales, q.scales) and np.array_equal(p.meta, q.meta)
    assert same(dt.unpack(p).dequantize(), q.dequantize())


def test_nvfp4_razer_act_pack_sign_bit():
    x = _x(7)
    q = dt.quantize(x, "nvfp4_razer_act")
    p = q.pack()
    assert np.array_equal(p.scales >> 7, q.meta) and np.array_equal(p.scales & 0x7F, q.scales)
    u = dt.unpack(p)
    assert same(u.dequantize(), q.dequantize())


def test_mxfp4_razer_pack_round_trip_and_bits():
    q = dt.quantize(_x(8), "mxfp4_razer")
    u = dt.unpack(q.pack())
    assert same(u.dequantize(), q.dequantize())
    assert q.bits_per_element() == 4 + (8 + 2) / 32


def test_bits_per_element():
    x = _x(9)
    assert dt.quantize(x, "razer4", scale="fp16").bits_per_element() == 4 + 16 / 128
    assert dt.quantize(x, "razer4").bits_per_element() == 4 + (32 + 2) / 128
    assert dt.quantize(x, "nvfp4_razer", block_scale="e3m3").bits_per_element() == 4 + 8 / 16 + 32 / x.size
    assert dt.quantize(x, "nvfp4_razer_act").bits_per_element() == 4 + 8 / 16 + 32 / x.size


# ---- properties ---------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(-4, 4))
def test_razer4_power_of_two_scaling_invariance(seed, k):
    """Scaling the input by 2**k scales amax, the scale, every error (by 4**k) exactly, so the same
    candidates win and the output scales by 2**k (inputs kept in the fp16 normal range)."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((4, 256)) * 0.5 + 0.01).astype(np.float16).astype(np.float32)
    x = np.where(np.abs(x) < 2.0 ** -8, np.float32(2.0 ** -8), x)
    a = dt.quantize(x, "razer4")
    b = dt.quantize(x * np.float32(2.0 ** k), "razer4")
    assert np.array_equal(a.meta, b.meta) and np.array_equal(a.codes, b.codes)
    assert same(a.dequantize().astype(np.float32) * np.float32(2.0 ** k), b.dequantize().astype(np.float32))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_nvfp4_razer_act_special_only_where_not_strictly_farther(seed):
    """v0 semantics: an element is the special value iff its E2M1 level is not strictly closer."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((2, 64)) * 3).astype(np.float32)
    q = dt.quantize(x, "nvfp4_razer_act")
    import ml_dtypes
    bs = np.repeat(q.scales.view(ml_dtypes.float8_e4m3fn).astype(np.float32), 16, axis=1)
    xb = (x / np.float32(q.tensor_scale)) / bs
    sv = np.where(np.repeat(q.meta, 16, axis=1) == 1, np.float32(-5.0), np.float32(5.0))
    special = q.codes == 0
    # the E2M1 level of the other elements, and that it is strictly closer than the special
    lv = np.array([e2m1(c) if c not in (0, 8) else 0.0 for c in range(16)], np.float32)[q.codes]
    assert np.all(np.abs(xb - lv)[~special] < np.abs(xb - sv)[~special])


# ---- bad input --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,g", [("nvfp4_razer", 32), ("nvfp4_razer_act", 128), ("mxfp4_razer", 16)])
def test_group_size_not_allowed(name, g):
    with pytest.raises(dt.FormatError, match="does not allow group_size"):
        dt.quantize(_x(), name, group_size=g)


@pytest.mark.parametrize("opts", [{"outlier": 6}, {"outlier": True}, {"block_scale": "e5m2"}])
def test_nvfp4_razer_bad_options(opts):
    with pytest.raises(dt.FormatError):
        dt.quantize(_x(), "nvfp4_razer", **opts)


def test_razer4_bad_scale_option_and_unknown_option():
    with pytest.raises(dt.FormatError):
        dt.quantize(_x(), "razer4", scale="bf16")
    with pytest.raises(dt.FormatError, match="does not take"):
        dt.quantize(_x(), "razer4", outlier=8)


@pytest.mark.parametrize("name", ["razer4", "mxfp4_razer"])
def test_fp16_formats_reject_values_beyond_fp16(name):
    x = _x()
    x[0, 0] = 1e6
    with pytest.raises(dt.InputError, match="fp16"):
        dt.quantize(x, name)


def test_razer4_pack_needs_scale_below_two():
    x = _x(scale=10.0)
    with pytest.raises(dt.InputError, match="bit 14"):
        dt.quantize(x, "razer4", scale="fp16").pack()


def test_all_zero_input():
    z = np.zeros((2, 128), np.float32)
    for name in ("razer4", "nvfp4_razer", "nvfp4_razer_act", "mxfp4_razer"):
        q = dt.quantize(z, name)
        assert not q.dequantize().astype(np.float32).any()
        assert (q.codes == 8).all()
