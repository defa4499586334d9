"""Bit-exact agreement with the published reference implementations.

tests/data/reference_vectors.npz holds outputs of the reference PyTorch functions themselves
(llm-datatypes quant_weight, NVFP4-RaZeR quant_mxfp4*/quant_nvfp4, microxcaling _quantize_mx), made by
tests/reference/generate_vectors.py. Every case must match with np.array_equal.
"""

from __future__ import annotations

import numpy as np
import pytest

import datatypes as dt
from conftest import DATA
from research_vectors import diff_message, same

with np.load(DATA / "reference_vectors.npz") as _z:
    CASES = sorted(k for k in _z.files if not k.startswith(("input/", "meta/")))


def ours(key: str, inputs: dict[str, np.ndarray]) -> np.ndarray:
    p = key.split("/")
    if p[0] == "codebook":
        fmt, grouping, inp = p[1:]
        g = None if grouping == "perrow" else 128
        opts = {"quantile": 0.9} if grouping.endswith("q0.9") else {}
        return dt.quantize(inputs[inp], fmt, group_size=g, **opts).dequantize()
    if p[0] == "int":
        bits, scheme, grouping, inp = p[1:]
        opts = {"symmetric": scheme == "sym"}
        if grouping.endswith("q0.9"):
            opts["quantile"] = 0.9
        return dt.quantize(inputs[inp], f"int{bits}", group_size=128, **opts).dequantize()
    if p[0] == "mxfp4":
        return dt.quantize(inputs[p[2]], "mxfp4", rule=p[1]).dequantize()
    if p[0] == "nvfp4":
        return dt.quantize(inputs[p[1]], "nvfp4").dequantize()
    if p[0] == "mx":
        fmt = {"int8": "mxint8", "fp4_e2m1": "mxfp4"}[p[1]]
        return dt.quantize(inputs[p[2]], fmt).dequantize()
    raise KeyError(key)


def test_every_codebook_and_int_key_is_covered():
    keys = {k.split("/")[1] for k in CASES if k.startswith("codebook/")}
    assert keys == set(dt.formats(family="codebook"))
    assert {int(k.split("/")[1]) for k in CASES if k.startswith("int/")} == set(range(2, 9))


@pytest.mark.parametrize("key", CASES)
def test_bit_exact_with_reference(key, reference_vectors):
    inputs = {k[6:]: v for k, v in reference_vectors.items() if k.startswith("input/")}
    ref = reference_vectors[key]
    got = ours(key, inputs)
    assert got.shape == ref.shape
    assert got.dtype == np.float32
    if not same(got, ref):
        pytest.fail(diff_message(key, got, ref))
