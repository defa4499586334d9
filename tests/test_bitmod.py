"""BitMoD formats: bit-exact against the HPCA artifact (and the dev repo for INT8 double-quantized
scales), code tables under every selector, packing, the numpy benchmark reference, bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import datatypes as dt
from research_vectors import keys, same, vectors

MIXTURE = {"mixed_bitmod": ("bitmod{b}", {}), "mixed_er": ("bitmod{b}", {"candidates": "er"}),
           "mixed_ea": ("bitmod{b}", {"candidates": "ea"}), "mixed_ant": ("bitmod_ant{b}", {})}


@pytest.mark.parametrize("key", keys("bitmod/"))
def test_search_datatype(key):
    _, dtype, bits, g, _ = key.split("/")
    fmt, opts = MIXTURE[dtype]
    g = int(g[1:])
    q = dt.quantize(vectors()["input/w16"], fmt.format(b=bits), group_size=None if g == -1 else g, **opts)
    assert same(q.dequantize(), vectors()[key])


@pytest.mark.parametrize("key", keys("bitmod_single/"))
def test_quant_datatype_single_tables(key):
    table = key.split("/")[1]
    q = dt.quantize(vectors()["input/w16"], f"bitmod.{table}", group_size=128)
    assert same(q.dequantize(), vectors()[key])


@pytest.mark.parametrize("key", keys("bitmod_dq/"))
def test_double_quantized_scales_search(key):
    _, bits, g, _ = key.split("/")
    q = dt.quantize(vectors()["input/w16"], f"bitmod{bits}", group_size=int(g[1:]), double_quant=True)
    assert same(q.dequantize(), vectors()[key])


@pytest.mark.parametrize("key", keys("bitmod_single_dq/"))
def test_double_quantized_scales_single(key):
    q = dt.quantize(vectors()["input/w16"], f"bitmod.{key.split('/')[1]}", group_size=128, double_quant=True)
    assert same(q.dequantize(), vectors()[key])


def test_vector_counts():
    """Every searched mixture, bit width and group size of the generator is present."""
    assert len(keys("bitmod/")) == 24 and len(keys("bitmod_single/")) == 20
    assert len(keys("bitmod_dq/")) == 4 and len(keys("bitmod_single_dq/")) == 5


# ---- tables / hardware decode ---------------------------------------------------------------------
FP4 = [0, 1, 2, 3, 4, 6, 8, 12]          # x2 units, magnitude code 0..7 (spec §4.1)
FP3 = [0, 1, 2, 4]


def test_bitmod4_code_values_every_code_every_selector():
    f = dt.get("bitmod4")
    assert f.n_meta == 4 and f.bits == 4
    for meta, special in enumerate([10, -10, 16, -16]):
        vals = f.code_values(meta)
        for c in range(16):
            want = special if c == 8 else (-FP4[c & 7] if c & 8 else FP4[c & 7])
            assert vals[c] == want, (meta, c)


def test_bitmod3_code_values_every_code_every_selector():
    f = dt.get("bitmod3")
    assert f.n_meta == 4 and f.bits == 3
    for meta, special in enumerate([3, -3, 6, -6]):
        vals = f.code_values(meta)
        for c in range(8):
            want = special if c == 4 else (-FP3[c & 3] if c & 4 else FP3[c & 3])
            assert vals[c] == want, (meta, c)


def test_ant_code_values():
    f = dt.get("bitmod_ant4")
    assert list(f.code_values(0)[:8]) == list(range(8))
    assert list(f.code_values(1)[:8]) == [0, 1, 2, 3, 4, 6, 8, 16]
    assert np.isnan(f.code_values(0)[8]) and np.isnan(f.code_values(1)[8])   # -0 unused


@pytest.mark.parametrize("name", [n for n in dt.formats() if n.startswith("bitmod")])
def test_levels_match_reference_tables_and_are_integers(name):
    f = dt.get(name)
    for meta in range(f.n_meta):
        vals = f.code_values(meta)
        finite = vals[np.isfinite(vals)]
        ints, frac = dt.exact_fixed_point(finite)
        assert frac == 0 and ints == [int(v) for v in finite]


def test_single_table_levels_are_the_reference_lists():
    from datatypes.bitmod import TABLES
    for key, levels in TABLES.items():
        vals = dt.get(f"bitmod.{key}").code_values(0)
        assert sorted(vals[np.isfinite(vals)].tolist()) == sorted(levels)


def _w(seed=0, shape=(16, 256)):
    rng = np.random.default_rng(seed)
    return (rng.standard_t(5, size=shape) * 0.03).astype(np.float16).astype(np.float32)


def test_dequantize_is_fp16_of_code_value_times_scale():
    q = dt.quantize(_w(), "bitmod4")
    f = q.format
    vals = np.stack([f.code_values(m) for m in range(4)]).astype(np.float32)
    v = vals[np.repeat(q.meta, 128, axis=1), q.codes]
    want = (v.astype(np.float16) * np.repeat(q.scales, 128, axis=1).astype(np.float16))  # numpy fp16 product
    assert same(q.dequantize(), want)
    assert q.dequantize().dtype == np.float16


def test_double_quant_storage():
    w = _w(1)
    q = dt.quantize(w, "bitmod4", double_quant=True)
    assert q.scales.dtype == np.uint8
    assert q.tensor_scale.shape == (16, 2)          # per row: s_ch for qmax 12 and qmax 16
    f = q.format
    vals = np.stack([f.code_values(m) for m in range(4)]).astype(np.float16)
    cls = np.where(q.meta < 2, 0, 1)
    sch = np.take_along_axis(q.tensor_scale, cls, axis=1).astype(np.float16)
    v = vals[np.repeat(q.meta, 128, axis=1), q.codes]
    want = (v * np.repeat(sch, 128, axis=1)) * np.repeat(q.scales, 128, axis=1).astype(np.float16)
    assert same(q.dequantize(), want)
    assert q.bits_per_element() == 4 + (8 + 2) / 128 + 2 * 16 / 256


@pytest.mark.parametrize("name,opts", [("bitmod4", {}), ("bitmod3", {"double_quant": True}),
                                       ("bitmod_ant4", {}), ("bitmod.fp6_e3m2", {})])
def test_pack_round_trip(name, opts):
    q = dt.quantize(_w(2, (8, 300)), name, **opts)
    p = q.pack()
    u = dt.unpack(p)
    assert np.array_equal(u.codes, q.codes)
    assert same(u.dequantize(), q.dequantize())
    if not opts.get("double_quant"):
        assert p.scales.dtype == np.float16


def test_bits_per_element():
    assert dt.quantize(_w(), "bitmod4").bits_per_element() == 4 + (16 + 2) / 128
    assert dt.quantize(_w(), "bitmod3").bits_per_element() == 3 + (16 + 2) / 128
    assert dt.quantize(_w(), "bitmod_ant4").bits_per_element() == 4 + (16 + 1) / 128
    assert dt.quantize(_w(), "bitmod.fp4").bits_per_element() == 4 + 16 / 128


def test_candidates_option_restricts_meta():
    w = _w(3)
    assert set(np.unique(dt.quantize(w, "bitmod4", candidates="er").meta)) <= {0, 1}
    assert set(np.unique(dt.quantize(w, "bitmod4", candidates="ea").meta)) <= {2, 3}


# ---- numpy benchmark reference ----------------------------------------------------------------------
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.mark.parametrize("name", ["bitmod4", "razer4"])
def test_benchmark_numpy_reference_agrees(name):
    from refs_research import CASES

    fn = {n: f for n, _, f in CASES}[name]
    for x in (vectors()["input/w16"].astype(np.float32), _w(4, (64, 512))):
        assert same(fn(x), dt.quantize(x, name, group_size=128).dequantize())


# ---- properties -----------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), log_scale=st.floats(-6, 2))
def test_single_table_equals_numpy_fp16_quantizer(seed, log_scale):
    """bitmod.<table> equals quant_datatype written with numpy float16 arithmetic (numpy rounds
    every fp16 op once, like PyTorch)."""
    from datatypes.bitmod import TABLES

    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((4, 128)) * 10.0 ** log_scale).astype(np.float16)
    key = ["fp4", "fp3_ea_neg", "int4", "flint4", "fp4_er_pos"][seed % 5]
    L = np.array(TABLES[key], np.float16)
    mids = ((L[:-1].astype(np.float64) + L[1:]) / 2).astype(np.float16)
    scale = np.clip(np.abs(w).max(axis=1, keepdims=True) / np.float16(np.abs(L).max()), np.float16(1e-5), np.float16(1e4))
    want = L[np.searchsorted(mids, w / scale, side="left")] * scale
    assert same(dt.quantize(w, f"bitmod.{key}").dequantize(), want)


# ---- bad input -------------------------------------------------------------------------------------
def test_bad_options():
    with pytest.raises(dt.FormatError):
        dt.quantize(_w(), "bitmod4", double_quant="yes")
    with pytest.raises(dt.FormatError):
        dt.quantize(_w(), "bitmod4", candidates="sp")
    with pytest.raises(dt.FormatError, match="candidates"):
        dt.quantize(_w(), "bitmod_ant4", candidates="er")
    with pytest.raises(dt.FormatError, match="does not take"):
        dt.quantize(_w(), "bitmod.fp4", candidates="fp4")


def test_bad_input():
    w = _w()
    w[0, 0] = 7e4
    with pytest.raises(dt.InputError, match="fp16"):
        dt.quantize(w, "bitmod4")
    with pytest.raises(dt.InputError, match="fp16"):
        dt.quantize(w, "bitmod4", double_quant=True)
    with pytest.raises(dt.InputTypeError):
        dt.quantize(np.ones((2, 128), np.int32), "bitmod4")
    with pytest.raises(dt.FormatError, match="group_size"):
        dt.quantize(_w(), "bitmod4", group_size=0)
