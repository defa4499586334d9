"""Bit-pattern equality with the published code on the cases of issue 11 (sign of zero, compute
dtype, the added variants): tests/data/reference_vectors_semantics.npz, made by
tests/reference/generate_semantics_vectors.py. +0.0 and -0.0 differ here."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
from conftest import DATA
from research_vectors import diff_message, same
from research_vectors import heads as _heads
from research_vectors import tokens as _tokens

import datatypes as dt

PATH = DATA / "reference_vectors_semantics.npz"


@lru_cache(maxsize=1)
def vectors() -> dict[str, np.ndarray]:
    with np.load(PATH) as z:
        return {k: z[k] for k in z.files}


CASES = sorted(k for k in vectors() if not k.startswith(("input/", "meta/", "gptfast/", "marlin/", "bitmod_cmse/")))


def ours(key: str) -> np.ndarray:
    v = vectors()
    p = key.split("/")
    x = v[f"input/{p[-1]}"]
    if p[0] == "int":
        return dt.quantize(x, f"int{p[1]}", group_size=128, symmetric=p[2] == "sym").dequantize()
    if p[0] == "codebook":
        return dt.quantize(x, p[1], group_size=128).dequantize()
    if p[0] == "mxfp4":
        return dt.quantize(x, "mxfp4", rule=p[1]).dequantize()
    if p[0] == "mx":
        return dt.quantize(x, {"int8": "mxint8", "fp4_e2m1": "mxfp4"}[p[1]]).dequantize()
    if p[0] in ("nvfp4", "nvfp4_4over6", "mxfp4_razer_weight", "mxfp4_razer_act"):
        return dt.quantize(x, p[0]).dequantize()
    if p[0] == "nvfp4_razer":
        return dt.quantize(x, "nvfp4_razer", outlier=int(p[1][1:])).dequantize()
    if p[0] == "nvfp4_razer_act":
        return dt.quantize(x, "nvfp4_razer_act").dequantize()
    if p[0] == "razer4":
        return dt.quantize(x, "razer4", group_size=int(p[1][1:])).dequantize()
    if p[0] == "mxfp4_razer":
        return dt.quantize(x, "mxfp4_razer").dequantize()
    if p[0] == "bitmod_mx":
        return dt.quantize(x, f"bitmod_{p[1].replace('_', '')}").dequantize()
    if p[0] == "bitmod_int":
        g = None if p[3] == "g-1" else int(p[3][1:])
        return dt.quantize(x, f"bitmod_int{p[1]}", group_size=g, symmetric=p[2] == "sym").dequantize()
    if p[0] == "bitmod":
        return dt.quantize(x, f"bitmod{p[2]}", group_size=128).dequantize()
    if p[0] == "p3llm":
        if p[1] == "a8":
            return dt.quantize(x, "p3llm_fp8", group_size=None if p[2] == "pertoken" else 128).dequantize()
        if p[1] == "q8":
            return dt.quantize(x, "p3llm_fp8", group_size=x.shape[-1]).dequantize()
        if p[1] == "k4":
            g = 64 if p[2] == "g64" else 128
            q = dt.quantize(_tokens(x), "p3llm_kv4", group_size=g, smooth=p[2] == "smooth")
            return _heads(q.dequantize(), x.shape[1])
        if p[1] == "v4":
            q = dt.quantize(_tokens(x), "p3llm_kv4")
            if p[2] == "int":
                return _heads(q.codes.astype(np.int16) - np.repeat(q.meta, 128, axis=1).astype(np.int16), x.shape[1])
            return _heads(q.scales, x.shape[1])
    raise KeyError(key)


@pytest.mark.parametrize("key", CASES)
def test_bit_pattern_equal_to_published_code(key):
    ref = vectors()[key]
    got = ours(key)
    assert got.dtype == ref.dtype, f"{key}: dtype {got.dtype}, reference {ref.dtype}"
    if ref.dtype.kind == "i":
        assert np.array_equal(got, ref), key
    else:
        assert same(got, ref), diff_message(key, got, ref)


def test_the_vectors_hold_negative_zeros_where_this_issue_is_about():
    """The cases exercise the sign of zero: the references produce both zeros."""
    v = vectors()
    for key in ("int/4/sym/g128/z32", "mxfp4/ocp/z32", "nvfp4/z32", "nvfp4_razer_act/v0/zbf", "mx/int8/z32"):
        bits = v[key].astype(np.float32).view(np.uint32)
        assert np.any(bits == 0x80000000) and np.any(bits == 0), key
    assert not np.any(v["razer4/g128/z16"].view(np.uint16) == 0x8000)


@pytest.mark.parametrize("bits", [3, 4])
def test_bitmod_candidate_mse_is_the_error_the_search_compares(bits):
    v = vectors()
    q = dt.quantize(v["input/w16"], f"bitmod{bits}", group_size=128)
    ref = v[f"bitmod_cmse/{bits}/g128/w16"]
    assert q.candidate_mse.shape == ref.shape and q.candidate_mse.dtype == np.float16
    assert same(q.candidate_mse, ref)
    # the winner is the first strictly smallest (from 1e3), as search_datatype keeps it
    best = np.full(ref.shape[:-1], np.float16(1e3))
    want = np.zeros(ref.shape[:-1], np.uint8)
    for i in range(ref.shape[-1]):
        better = ref[..., i] < best
        best[better] = ref[..., i][better]
        want[better] = i
    assert np.array_equal(q.meta, want)


@pytest.mark.parametrize("key", ["fp4_er_pos", "fp4_ea_neg", "fp3_er_neg", "int4", "flint4"])
def test_bitmod_single_table_by_option_name_and_alias(key):
    v = vectors()
    x = v["input/w16"]
    mix = {"fp4_er_pos": "bitmod4", "fp4_ea_neg": "bitmod4", "fp3_er_neg": "bitmod3", "int4": "bitmod_ant4",
           "flint4": "bitmod_ant4"}[key]
    single = dt.quantize(x, f"bitmod.{key}").dequantize()
    by_opt = dt.quantize(x, mix, candidates=key)
    assert same(by_opt.dequantize(), single)
    assert np.isnan(by_opt.candidate_mse[..., [i for i, k in enumerate(dt.get(mix).keys) if k != key]]).all()
    if key not in ("int4",):
        assert dt.get(f"bitmod_{key}") is dt.get(f"bitmod.{key}")
    assert dt.get("bitmod.fp4_sm_pos") is dt.get("bitmod.fp4_er_pos")      # the dev repo's name
    assert dt.get("bitmod_int4") is not dt.get("bitmod.int4")               # quant_int, not the table


@pytest.mark.parametrize("name,opts", [("int4", {"group_size": 128}), ("mxint8", {}), ("nvfp4_razer_act", {}),
                                       ("mxfp4_razer_act", {}), ("bitmod_int4", {})])
def test_negative_zeros_sideband(name, opts):
    """Formats without a -0 code: dequantize() has the reference's -0.0 (from negative_zeros),
    signed_zero=False the codes' own +0, equal in value; pack()/unpack() keep the sideband."""
    x = vectors()["input/z32"]
    q = dt.quantize(x, name, **opts)
    y, h = q.dequantize(), q.dequantize(signed_zero=False)
    assert q.negative_zeros is not None and q.negative_zeros.any()
    assert np.array_equal(np.signbit(y) & (y == 0), q.negative_zeros)
    assert not np.any(np.signbit(h) & (h == 0)) and np.array_equal(y, h)
    assert same(dt.unpack(q.pack()).dequantize(), y)
