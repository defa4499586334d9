"""The RaZeR GPU path (NVFP4-RaZeR inference/): the gpt-fast quantizer and the gpt-fast / Marlin
memory images, against the reference quantizer's and packers' own outputs
(tests/data/reference_vectors_semantics.npz, made by tests/reference/generate_semantics_vectors.py)."""

from __future__ import annotations

import numpy as np
import pytest

import datatypes as dt
from datatypes.razer_gpu import (marlin_codes, marlin_decode, pack_gptfast, pack_marlin, unpack_gptfast,
                                 unpack_marlin)
from research_vectors import same
from test_semantics_vectors import vectors


@pytest.fixture(scope="module")
def q():
    return dt.quantize(vectors()["input/wg16"], "razer4_gptfast")


def test_quantizer_matches_the_reference_group_quantizer(q):
    v = vectors()
    n, k = q.shape
    meta = q.meta.reshape(-1)
    neg, is8 = v["gptfast/g128/neg/wg16"], v["gptfast/g128/is8/wg16"]
    assert np.array_equal(meta, 2 * neg.astype(np.int32) + is8)
    assert np.array_equal(q.scales.reshape(-1).view(np.uint32), v["gptfast/g128/scale/wg16"].view(np.uint32))
    idx = q.codes.reshape(-1, 128).astype(np.int32)
    flip = (meta[:, None] >= 2) & (idx != 0) & (idx != 8)
    assert np.array_equal(np.where(flip, idx ^ 8, idx), v["gptfast/g128/idx/wg16"].astype(np.int32))
    chosen = np.take_along_axis(q.candidate_mse.reshape(-1, 4), meta[:, None].astype(np.int64), axis=1)[:, 0]
    assert np.array_equal(chosen.view(np.uint32), v["gptfast/g128/mse/wg16"].view(np.uint32))


def test_gptfast_image_is_the_reference_state_dict(q):
    v = vectors()
    qB, scaling = pack_gptfast(q)
    assert qB.dtype == np.int32 and qB.shape == v["gptfast/g128/qB/wg16"].shape
    assert np.array_equal(qB, v["gptfast/g128/qB/wg16"])
    assert scaling.dtype == np.float16
    assert np.array_equal(scaling.view(np.uint16), v["gptfast/g128/scaling/wg16"].view(np.uint16))


def test_gptfast_kernel_decode_of_the_image_is_dequantize(q):
    nib, s, meta = unpack_gptfast(*pack_gptfast(q))
    assert np.array_equal(nib, q.codes) and np.array_equal(meta, q.meta)
    vals = np.stack([dt.get("razer4_gptfast").code_values(m) for m in range(4)])
    dec = (vals[np.repeat(meta, 128, axis=1), nib] * np.repeat(s, 128, axis=1)).astype(np.float16)
    assert np.array_equal(dec.view(np.uint16), q.dequantize().view(np.uint16))


def test_marlin_image_is_the_reference_packer_output():
    v = vectors()
    codes, scales = v["marlin/g128/codes/wg16"], v["marlin/g128/scales/wg16"]
    B, s = pack_marlin(codes, scales)
    assert np.array_equal(B, v["marlin/g128/B/wg16"])
    assert np.array_equal(s.view(np.uint16), v["marlin/g128/s/wg16"].view(np.uint16))
    c2, s2 = unpack_marlin(B, s, *codes.shape)
    assert np.array_equal(c2, codes) and np.array_equal(s2.view(np.uint16), scales.view(np.uint16))


def test_marlin_codes_of_our_weights_decode_to_dequantize(q):
    codes, scales = marlin_codes(q)
    dec = marlin_decode(*unpack_marlin(*pack_marlin(codes, scales), *q.shape))
    want = q.dequantize()
    # where fp16(s) has mantissa LSB 0, the kernel's 15-bit scale is the fp16 scale: same values
    lsb0 = np.repeat((q.scales.astype(np.float16).view(np.uint16) & 1) == 0, 128, axis=1)
    assert lsb0.mean() > 0.3
    assert np.array_equal(dec[lsb0].astype(np.float32), want[lsb0].astype(np.float32))
    rel = np.abs(dec.astype(np.float64) - want.astype(np.float64)) / np.maximum(np.abs(want.astype(np.float64)), 1e-30)
    assert rel.max() <= 2.0 ** -9


def test_bad_input():
    with pytest.raises(dt.InputError, match="multiple of 128"):
        dt.quantize(np.ones((2, 200), np.float32), "razer4_gptfast", group_size=128)
    with pytest.raises(dt.InputError, match="< 2"):
        pack_gptfast(dt.quantize(np.full((1, 128), 100.0, np.float32), "razer4_gptfast"))
    with pytest.raises(dt.InputError, match="razer4_gptfast"):
        pack_gptfast(dt.quantize(np.ones((1, 128), np.float32), "razer4"))


def test_g16_path_matches_the_reference_and_its_state_dict():
    v = vectors()
    q = dt.quantize(v["input/wh16"], "razer4_gptfast_g16")
    meta = q.meta.reshape(-1)
    assert np.array_equal(meta, 2 * v["gptfast/g16/neg/wh16"].astype(np.int32) + v["gptfast/g16/is8/wh16"])
    assert np.array_equal(q.scales.reshape(-1), v["gptfast/g16/payload/wh16"])
    assert len(np.unique(q.scales)) > 30                  # the inputs exercise the payload range
    assert np.array_equal(q.codes.reshape(-1, 16), v["gptfast/g16/idx/wh16"])
    chosen = np.take_along_axis(q.candidate_mse.reshape(-1, 4), meta[:, None].astype(np.int64), axis=1)[:, 0]
    assert np.array_equal(chosen.view(np.uint32), v["gptfast/g16/mse/wh16"].view(np.uint32))
    qB, scaling = pack_gptfast(q)
    assert np.array_equal(qB, v["gptfast/g16/qB/wh16"])
    assert scaling.dtype == np.int32 and np.array_equal(scaling, v["gptfast/g16/scaling/wh16"])
    u = dt.unpack(q.pack())
    assert same(u.dequantize(), q.dequantize())
