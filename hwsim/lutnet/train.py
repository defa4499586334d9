"""Quantization-aware training of a LogicNets-style sparse MLP in numpy, on scikit-learn's bundled digits.

    data = digits(in_bits=2)                       # offline: sklearn.datasets.load_digits, 80/20 stratified
    res = train(TrainConfig(sizes=[64, 64, 32, 32, 10], fanin=[3, 3, 3, 4], bits=[2, 2, 2, 2, 3]), data)
    res.model (QuantMLP), res.float_acc, res.quant_acc

Dataset (docs/lutnet.md): 1797 x 64 integer pixels 0..16, 10 classes; split ``train_test_split(test_size=0.2,
stratify=y, random_state=0)``; fixed input quantizer ``code = min(2**b - 1, floor(x * 2**b / 17))`` (the input
codes are the network's input; their value is ``code / (2**b - 1)``).

Model: per layer a random fixed fan-in mask (LogicNets ``RandomFixedSparsityMask2D``: a random permutation's
first F inputs per neuron, seeded), masked weights, a per-neuron affine (a, c) -- batch norm during training,
folded into (a, c) at export -- and the output quantizer (hidden: unsigned ``bits``, scale ``hidden_max /
(2**b - 1)``, LogicNets' QuantReLU; last: signed offset binary, scale ``out_max / 2**(b-1)``, QuantHardTanh).
Quantizers use the straight-through estimator (gradient passed inside the clip range). Adam, softmax cross
entropy on the dequantized outputs, seeded; the float model (same masks, no quantizers, ReLU) is trained the
same way for the comparison. Accuracy of the quantized model is measured with the deployed kernel
(:meth:`QuantMLP.forward_codes`), argmax over output codes (first maximum wins).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .model import QLayer, Quantizer, QuantMLP


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray      #: uint8 input codes [N, n_in]
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    in_bits: int
    n_classes: int


def digits(in_bits: int = 2) -> Dataset:
    """scikit-learn's bundled handwritten digits, quantized to ``in_bits``-bit codes (no download)."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise RuntimeError("the digits workload needs scikit-learn (pip install scikit-learn; it is in the "
                           "project's test extra)") from None
    if not 1 <= in_bits <= 8:
        raise ValueError(f"digits in_bits = {in_bits!r}: allowed 1..8")
    d = load_digits()
    x = np.minimum((1 << in_bits) - 1, np.floor(d.data * (1 << in_bits) / 17)).astype(np.uint8)
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=0.2, stratify=d.target, random_state=0)
    return Dataset("digits", xtr, ytr.astype(np.int64), xte, yte.astype(np.int64), in_bits, 10)


@dataclass(frozen=True)
class TrainConfig:
    sizes: tuple[int, ...] = (64, 64, 32, 32, 10)    #: n_in, then neurons per layer
    fanin: tuple[int, ...] = (3, 3, 3, 4)            #: per layer
    bits: tuple[int, ...] = (2, 2, 2, 2, 3)          #: input bits, then output bits per layer
    epochs: int = 60
    batch: int = 64
    lr: float = 0.02
    hidden_max: float = 1.61                         #: LogicNets QuantReLU max_val
    out_max: float = 1.33                            #: LogicNets output QuantHardTanh max_val
    seed: int = 0

    def check(self) -> None:
        L = len(self.sizes) - 1
        if L < 1 or len(self.fanin) != L or len(self.bits) != L + 1:
            raise ValueError(f"train config: sizes {self.sizes} needs {L} fan-ins and {L + 1} bit widths, got "
                             f"{len(self.fanin)} and {len(self.bits)}")


@dataclass
class TrainResult:
    model: QuantMLP
    float_acc: float
    quant_acc: float
    seconds: float
    history: list = field(default_factory=list)


def random_masks(sizes, fanin, rng) -> list[np.ndarray]:
    """Per layer, per neuron: the sorted first F entries of a random permutation of the inputs."""
    out = []
    for i in range(len(sizes) - 1):
        n_in, n_out, F = sizes[i], sizes[i + 1], min(fanin[i], sizes[i])
        out.append(np.stack([np.sort(rng.permutation(n_in)[:F]) for _ in range(n_out)]).astype(np.int32))
    return out


def _quantizers(cfg: TrainConfig) -> list[Quantizer]:
    qs = [Quantizer(cfg.bits[0], False, 1.0 / ((1 << cfg.bits[0]) - 1))]
    L = len(cfg.sizes) - 1
    for i in range(L):
        b = cfg.bits[i + 1]
        if i < L - 1:
            qs.append(Quantizer(b, False, cfg.hidden_max / ((1 << b) - 1)))
        else:
            qs.append(Quantizer(b, True, cfg.out_max / (1 << (b - 1))))
    return qs


class _Net:
    """Masked dense layers with batch norm and (optionally) STE quantizers; numpy float32 training."""

    def __init__(self, cfg: TrainConfig, masks, quant: bool, rng):
        self.cfg, self.cfg0, self.quant = cfg, cfg, quant
        self.qs = _quantizers(cfg)
        self.M, self.W, self.g, self.beta, self.rm, self.rv = [], [], [], [], [], []
        for i, idx in enumerate(masks):
            n_out, n_in = len(idx), cfg.sizes[i]
            M = np.zeros((n_out, n_in), np.float32)
            for n, r in enumerate(idx):
                M[n, r] = 1.0
            fan = np.maximum(M.sum(1, keepdims=True), 1.0)
            self.M.append(M)
            self.W.append((rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / fan)).astype(np.float32) * M)
            self.g.append(np.ones(n_out, np.float32))
            self.beta.append(np.zeros(n_out, np.float32))
            self.rm.append(np.zeros(n_out, np.float32))
            self.rv.append(np.ones(n_out, np.float32))
        self.params = self.W + self.g + self.beta
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def _act(self, i, y):
        last = i == len(self.W) - 1
        if not self.quant:
            return (y, np.ones_like(y)) if last else (np.maximum(y, 0), (y > 0).astype(np.float32))
        q = self.qs[i + 1]
        r = y / np.float32(q.scale)
        pass_ = ((r >= q.lo - 0.5) & (r <= q.hi + 0.5)).astype(np.float32)
        return (np.clip(np.rint(r), q.lo, q.hi) * np.float32(q.scale)).astype(np.float32), pass_

    def forward(self, x, train: bool):
        h = x
        cache = []
        for i in range(len(self.W)):
            z = h @ self.W[i].T
            if train:
                mu, var = z.mean(0), z.var(0)
                self.rm[i] = 0.9 * self.rm[i] + 0.1 * mu
                self.rv[i] = 0.9 * self.rv[i] + 0.1 * var
            else:
                mu, var = self.rm[i], self.rv[i]
            inv = 1.0 / np.sqrt(var + 1e-5)
            zh = (z - mu) * inv
            y = zh * self.g[i] + self.beta[i]
            a, d = self._act(i, y)
            cache.append((h, zh, inv, d))
            h = a
        return h, cache

    def step(self, x, yl):
        out, cache = self.forward(x, True)
        logits = out * 4.0
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        B = len(x)
        loss = -np.mean(np.log(p[np.arange(B), yl] + 1e-12))
        grad = p
        grad[np.arange(B), yl] -= 1
        grad = (grad * 4.0 / B).astype(np.float32)
        gW, gg, gb = [None] * len(self.W), [None] * len(self.W), [None] * len(self.W)
        for i in reversed(range(len(self.W))):
            h, zh, inv, d = cache[i]
            gy = grad * d
            gg[i] = (gy * zh).sum(0)
            gb[i] = gy.sum(0)
            gzh = gy * self.g[i]
            gz = inv * (gzh - gzh.mean(0) - zh * (gzh * zh).mean(0))     # batch-norm backward
            gW[i] = (gz.T @ h) * self.M[i]
            grad = gz @ self.W[i]
        self.t += 1
        lr, b1, b2 = self.cfg.lr, 0.9, 0.999
        for j, gpar in enumerate(gW + gg + gb):
            self.m[j] = b1 * self.m[j] + (1 - b1) * gpar
            self.v[j] = b2 * self.v[j] + (1 - b2) * gpar * gpar
            mh = self.m[j] / (1 - b1 ** self.t)
            vh = self.v[j] / (1 - b2 ** self.t)
            self.params[j] -= (lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
        return loss

    def accuracy(self, x, y) -> float:
        out, _ = self.forward(x, False)
        return float(np.mean(np.argmax(out, 1) == y))

    def export(self, masks) -> QuantMLP:
        layers = []
        for i, idx in enumerate(masks):
            inv = (1.0 / np.sqrt(self.rv[i] + 1e-5)).astype(np.float32)
            a = (self.g[i] * inv).astype(np.float32)
            c = (self.beta[i] - self.rm[i] * a).astype(np.float32)
            n_out = len(idx)
            fan = np.array([len(r) for r in idx])
            flat = np.concatenate([np.asarray(r, np.int64) for r in idx]).astype(np.int32)
            owner = np.repeat(np.arange(n_out), fan)
            layers.append(QLayer(n_in=self.cfg.sizes[i], indptr=np.concatenate([[0], np.cumsum(fan)]).astype(np.int64),
                                 indices=flat, weights=self.W[i][owner, flat].astype(np.float32), a=a, c=c,
                                 out=self.qs[i + 1]))
        return QuantMLP(self.qs[0], layers, {"trainer": "hwsim.lutnet.train", "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.cfg0.__dict__.items()}})


def _fit(net: _Net, data: Dataset, x, xt, cfg: TrainConfig, rng, history, tag) -> None:
    n = len(x)
    for ep in range(cfg.epochs):
        if ep == int(cfg.epochs * 0.6) or ep == int(cfg.epochs * 0.85):
            net.cfg = TrainConfig(**(net.cfg.__dict__ | {"lr": net.cfg.lr * 0.3}))
        perm = rng.permutation(n)
        loss = 0.0
        for s in range(0, n, cfg.batch):
            b = perm[s:s + cfg.batch]
            loss += net.step(x[b], data.y_train[b]) * len(b)
        history.append((tag, ep, loss / n))


def decode_inputs(data: Dataset, codes: np.ndarray) -> np.ndarray:
    return (codes.astype(np.float32) / np.float32((1 << data.in_bits) - 1)).astype(np.float32)


def train(cfg: TrainConfig, data: Dataset, masks: list[np.ndarray] | None = None,
          train_float: bool = True) -> TrainResult:
    """Train the float model and the quantized model (same seed, same masks); returns the exported
    quantized model and the test accuracies. ``masks``: per layer a list of ascending input-index arrays
    per neuron (fan-ins may differ; default: random fixed fan-in)."""
    cfg.check()
    if cfg.bits[0] != data.in_bits or cfg.sizes[0] != data.x_train.shape[1]:
        raise ValueError(f"train config: input {cfg.sizes[0]} x {cfg.bits[0]} bits does not match the dataset "
                         f"{data.x_train.shape[1]} x {data.in_bits} bits")
    t0 = time.perf_counter()
    rng = np.random.default_rng(cfg.seed)
    if masks is None:
        masks = [list(m) for m in random_masks(cfg.sizes, cfg.fanin, rng)]
    x, xt = decode_inputs(data, data.x_train), decode_inputs(data, data.x_test)
    history: list = []
    float_acc = float("nan")
    if train_float:
        fnet = _Net(cfg, [_pad(m) for m in masks], False, np.random.default_rng(cfg.seed + 1))
        _fit(fnet, data, x, xt, cfg, np.random.default_rng(cfg.seed + 2), history, "float")
        float_acc = fnet.accuracy(xt, data.y_test)
    qnet = _Net(cfg, [_pad(m) for m in masks], True, np.random.default_rng(cfg.seed + 1))
    _fit(qnet, data, x, xt, cfg, np.random.default_rng(cfg.seed + 2), history, "quant")
    model = qnet.export(masks)
    model.meta["dataset"] = data.name
    pred = np.argmax(model.forward_codes(data.x_test), 1)
    return TrainResult(model, float_acc, float(np.mean(pred == data.y_test)), time.perf_counter() - t0, history)


def _pad(mask_rows) -> list[np.ndarray]:
    return [np.asarray(r, np.int64) for r in mask_rows]


def retrain(model: QuantMLP, cfg: TrainConfig, data: Dataset) -> TrainResult:
    """Retrain the quantized model on the connectivity of ``model`` (after :func:`model.shrink`)."""
    masks = [[layer.indices[layer.indptr[n]:layer.indptr[n + 1]] for n in range(layer.n_out)]
             for layer in model.layers]
    return train(cfg, data, masks=masks, train_float=False)
