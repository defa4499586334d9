"""Workloads in the form the published BitSim simulator (yc2367/BitSim 6845fad ``sim/``) reads them.

BitSim loads, per model, a ``matmul.json`` of operand shapes (x: input, y: weight, z: output) and
INT8 weight tensors from its authors' data root. This module holds small synthetic models named
like the artefact's (the model name selects BitSim's refetch policy), their seeded INT8 weights
and BitVert outlier-channel lists, and the layer parser that mirrors BitSim's
``LayerDim._get_layer_info`` (name filter and ``rstrip('.ops')`` included). Plain NumPy, so the
reference generator can load it too.
"""

from __future__ import annotations

import numpy as np

#: model -> ordered [(matmul.json key, x_shape, y_shape, z_shape, weight sigma)]
_CONV = "conv"


def _conv(name, b, ci, hi, co, k, ho, sigma):
    return (name + ".ops", [b, ci, hi, hi], [co, ci, k, k], [b, co, ho, ho], sigma)


def _fc(name, b, s, ci, co, sigma):
    x = [b, ci] if s is None else [b, s, ci]
    z = [b, co] if s is None else [b, s, co]
    return (name + ".ops", x, [ci, co], z, sigma)


BITSIM_MODELS: dict[str, list] = {
    "resnet34": [
        _conv("conv1", 1, 3, 32, 16, 7, 16, 30.0),
        _conv("layer1.0.conv1", 1, 16, 16, 32, 3, 16, 12.0),
        _conv("layer1.0.conv2", 1, 32, 16, 32, 3, 16, 6.0),
        _conv("layer2.0.conv1", 1, 32, 16, 64, 1, 8, 20.0),
        _conv("layer3.0.conv1", 1, 256, 32, 256, 3, 32, 9.0),
        _fc("fc", 1, None, 256, 10, 25.0),
    ],
    "vit-small": [
        _fc("blocks.0.attn.qkv", 1, 17, 64, 192, 14.0),
        ("blocks.0.attn.matmul_qk.ops", [1, 17, 64], [64, 17], [1, 17, 17], 0.0),
        _fc("blocks.0.attn.proj", 1, 17, 64, 64, 7.0),
        _fc("blocks.0.mlp.fc1", 1, 17, 64, 256, 22.0),
        _fc("blocks.0.mlp.fc2", 1, 17, 256, 64, 5.0),
        _fc("blocks.1.attn.qkv", 1, 17, 64, 192, 40.0),
        _fc("blocks.1.mlp.fc1", 1, 17, 64, 256, 3.0),
        _fc("head.fc", 1, 17, 64, 100, 18.0),
    ],
    "bert-mrpc": [
        _fc("encoder.layer.0.attention.self.query", 1, 32, 128, 128, 10.0),
        _fc("encoder.layer.0.attention.self.key", 1, 32, 128, 128, 16.0),
        _fc("encoder.layer.0.attention.self.value", 1, 32, 128, 128, 4.0),
        _fc("encoder.layer.0.attention.output.dense", 1, 32, 128, 128, 10.0),
        _fc("encoder.layer.0.intermediate.dense", 1, 32, 128, 512, 10.0),
        _fc("classifier", 1, None, 128, 2, 30.0),
    ],
    "bigfc": [
        _fc("fc1", 1, 512, 1024, 1024, 11.0),
        _fc("fc2", 1, 512, 1024, 512, 60.0),
        _fc("fc3", 1, 512, 512, 48, 2.0),
    ],
}


def matmul_json(model: str) -> dict:
    return {k: {"x_shape": x, "y_shape": y, "z_shape": z} for k, x, y, z, _ in BITSIM_MODELS[model]}


def bitsim_weights(model: str, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded INT8 weights (int64 arrays) of every layer BitSim keeps, in BitSim's stored layout:
    FC ``[cin, cout]``, conv ``[cout, cin, k, k]``. Rounded normals clipped to [-128, 127], with one
    row of -128 and one all-zero block so both corner paths are exercised."""
    rng = np.random.default_rng([seed, sum(map(ord, model))])
    names, _, _, _ = parse_matmul_json(matmul_json(model))
    sig = {k[: -len(".ops")]: s for k, _, _, _, s in BITSIM_MODELS[model]}
    out = {}
    for k, _, y, _, _ in BITSIM_MODELS[model]:
        name = k.rstrip(".ops")
        if name not in names:
            continue
        w = np.clip(np.round(rng.normal(0.0, sig[k[: -len(".ops")]], size=y)), -128, 127).astype(np.int64)
        flat = w.reshape(-1)
        flat[: min(16, flat.size)] = -128
        if flat.size > 256:
            flat[64:128] = 0
        out[name] = w
    return out


def outlier_channels(model: str, eager: bool, seed: int = 0) -> dict[str, list[int]]:
    """BitVert ``nonzero_channels.json``: per layer the outlier output channels (a few percent; one
    layer left out, as the published lists do for some layers)."""
    rng = np.random.default_rng([seed, sum(map(ord, model)), 4 if eager else 2])
    names, wd, _, _ = parse_matmul_json(matmul_json(model))
    out = {}
    for i, n in enumerate(names):
        if i == 1:
            continue
        cout = wd[n][-1]
        cnt = int(rng.integers(0, max(2, cout // (6 if eager else 10))))
        out[n] = sorted(int(c) for c in rng.choice(cout, size=cnt, replace=False))
    return out


def parse_matmul_json(layer_dim_list: dict):
    """BitSim ``LayerDim._get_layer_info``: (names, weight_dim, input_dim, output_dim)."""
    names, wd, idim, od = [], {}, {}, {}
    for key, d in layer_dim_list.items():
        n = key.rstrip(".ops")
        if "conv" in n:
            bi, ci, hi, wi = d["x_shape"]
            bo, co, ho, wo = d["z_shape"]
            k = d["y_shape"][2]
            names.append(n)
            wd[n], idim[n], od[n] = [k, k, ci, co], [bi, wi, hi, ci], [bo, ho, wo, co]
        elif any(s in n for s in ("fc", "classifier", "proj", "qkv", "query", "key", "value", "linear")):
            names.append(n)
            if len(d["x_shape"]) == 2:
                bi, ci = d["x_shape"]
                bo, co = d["z_shape"]
                wd[n], idim[n], od[n] = [ci, co], [bi, 1, ci], [bo, 1, co]
            elif len(d["y_shape"]) == 4:
                bi, ci, hi, wi = d["x_shape"]
                bo, co, ho, wo = d["z_shape"]
                k = d["y_shape"][2]
                wd[n], idim[n], od[n] = [k, k, ci, co], [bi, wi, hi, ci], [bo, ho, wo, co]
            else:
                bi, si, ci = d["x_shape"]
                bo, so, co = d["z_shape"]
                wd[n], idim[n], od[n] = [ci, co], [bi, si, ci], [bo, so, co]
    return names, wd, idim, od
