"""Quantized sparse MLPs (LogicNets neurons) and their conversion into LUT netlists.

A :class:`QuantMLP` layer: neuron ``n`` reads the inputs ``idx[n]`` (ascending; the fan-in may differ per
neuron), decodes their codes to values with the previous layer's quantizer, and computes, in float32 and in
this order::

    acc = sum_k w[n, k] * v[idx[n][k]]            (k ascending)
    y   = acc * a[n] + c[n]                       (a, c: per-neuron affine -- batch norm folded)
    q   = clip(round_half_even(y / s), lo, hi)    (the layer's output quantizer)
    code = q + offset                             (offset binary: offset = 2**(b-1) - narrow if signed)

:func:`to_netlist` enumerates every input combination of every neuron (LogicNets'
``calculate_truth_tables``) and evaluates it with **the same Numba kernel** (:func:`_neuron_codes`) that
:meth:`QuantMLP.forward_codes` uses, so the netlist and the quantized model agree on every input by
construction; the tests assert it. :func:`shrink` is Logic Shrinkage: it ranks every (neuron, input) pair of
a layer by how much the real-valued (pre-quantization) table changes with that input and removes the lowest
fraction; on the netlist, inputs a table does not depend on are removed exactly (the free optimisation).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from numba import njit

from .netlist import MAX_ADDRESS_BITS, Layer, LutNet, NetlistError


@dataclass(frozen=True)
class Quantizer:
    """``code = clip(round_half_even(y / scale), lo, hi) + offset``; value of a code = (code - offset) * scale."""

    bits: int
    signed: bool
    scale: float
    narrow: bool = False

    @property
    def lo(self) -> int:
        return -(1 << (self.bits - 1)) + int(self.narrow) if self.signed else 0

    @property
    def hi(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def offset(self) -> int:
        """Offset binary (LogicNets ``quant.py::get_bin_str``): ``2**(b-1) - narrow`` when signed."""
        return (1 << (self.bits - 1)) - int(self.narrow) if self.signed else 0

    def values(self) -> np.ndarray:
        """float32 value of every code 0..2**bits-1 (codes outside [lo, hi] + offset decode linearly too)."""
        return ((np.arange(1 << self.bits) - self.offset) * np.float32(self.scale)).astype(np.float32)

    def describe(self) -> dict:
        return {"bits": self.bits, "signed": self.signed, "narrow": self.narrow, "scale": float(self.scale)}


@dataclass
class QLayer:
    n_in: int
    indptr: np.ndarray          #: int64 [n_out + 1]
    indices: np.ndarray         #: int32, ascending per neuron
    weights: np.ndarray         #: float32, aligned with ``indices``
    a: np.ndarray               #: float32 [n_out]
    c: np.ndarray               #: float32 [n_out]
    out: Quantizer

    @property
    def n_out(self) -> int:
        return len(self.indptr) - 1


@dataclass
class QuantMLP:
    """Input quantizer (decodes the input codes) and the layers."""

    inp: Quantizer
    layers: list[QLayer]
    meta: dict = field(default_factory=dict)

    def quantizers(self) -> list[Quantizer]:
        return [self.inp] + [layer.out for layer in self.layers]

    def forward_codes(self, x_codes: np.ndarray, all_layers: bool = False):
        """The quantized model on input codes [N, n_in]: output codes uint8 [N, n_out] per layer."""
        cur = np.asarray(x_codes)
        outs = []
        for i, layer in enumerate(self.layers):
            vals = self.quantizers()[i].values()[cur.astype(np.int64)]          # float32 [N, n_in]
            y = np.empty((cur.shape[0], layer.n_out), np.uint8)
            q = layer.out
            for n in range(layer.n_out):
                ix = layer.indices[layer.indptr[n]:layer.indptr[n + 1]]
                V = np.ascontiguousarray(vals[:, ix])
                y[:, n] = _neuron_codes(V, layer.weights[layer.indptr[n]:layer.indptr[n + 1]],
                                        layer.a[n], layer.c[n], np.float32(q.scale), q.lo, q.hi, q.offset)
            cur = y
            outs.append(y)
        return outs if all_layers else cur


@njit(cache=True)
def _neuron_pre(V, w, a, c):
    """Real-valued neuron output before quantization, float32, inputs summed in ascending order."""
    S, F = V.shape
    y = np.empty(S, np.float32)
    for s in range(S):
        acc = np.float32(0.0)
        for k in range(F):
            acc += w[k] * V[s, k]
        y[s] = acc * a + c
    return y


@njit(cache=True)
def _neuron_codes(V, w, a, c, scale, lo, hi, offset):
    """Output codes of one neuron for the value rows ``V[S, F]`` (see the module docstring)."""
    y = _neuron_pre(V, w, a, c)
    out = np.empty(len(y), np.uint8)
    for s in range(len(y)):
        q = np.rint(y[s] / scale)                 # round half to even (torch.round)
        if q < lo:
            q = lo
        elif q > hi:
            q = hi
        out[s] = np.int64(q) + offset
    return out


def enumerate_values(vals: np.ndarray, F: int, b: int) -> np.ndarray:
    """float32 [2**(F*b), F]: row ``addr`` holds the decoded value of every input of the address, input 0 in
    the most significant bits (LogicNets' case-key order)."""
    addr = np.arange(1 << (F * b), dtype=np.int64)
    cols = [(addr >> (b * (F - 1 - k))) & ((1 << b) - 1) for k in range(F)]
    return np.ascontiguousarray(np.stack([vals[c] for c in cols], axis=1).astype(np.float32)) if F else \
        np.zeros((1, 0), np.float32)


def to_netlist(model: QuantMLP, max_address_bits: int = MAX_ADDRESS_BITS) -> LutNet:
    """Truth tables of every neuron by enumeration (see the module docstring)."""
    layers = []
    qs = model.quantizers()
    for i, layer in enumerate(model.layers):
        qi, qo = qs[i], layer.out
        fan = np.diff(layer.indptr)
        if fan.size and int(fan.max()) * qi.bits > max_address_bits:
            n = int(np.argmax(fan))
            raise NetlistError(f"layer {i}: neuron {n}: fan-in {int(fan[n])} x {qi.bits} bits = "
                               f"{int(fan[n]) * qi.bits} address bits > the limit {max_address_bits}")
        vals = qi.values()
        tables = []
        cache: dict[int, np.ndarray] = {}
        for n in range(layer.n_out):
            F = int(fan[n])
            if F not in cache:
                cache[F] = enumerate_values(vals, F, qi.bits)
            sl = slice(layer.indptr[n], layer.indptr[n + 1])
            tables.append(_neuron_codes(cache[F], layer.weights[sl], layer.a[n], layer.c[n], np.float32(qo.scale),
                                        qo.lo, qo.hi, qo.offset))
        layers.append(Layer(n_in=layer.n_in, b_in=qi.bits, b_out=qo.bits, indptr=layer.indptr,
                            indices=layer.indices, tables=np.concatenate(tables), signed_out=qo.signed,
                            narrow_out=qo.narrow))
    meta = dict(model.meta) | {"quantizers": [q.describe() for q in qs]}
    return LutNet(layers, meta, max_address_bits=max_address_bits)


# -- Logic Shrinkage ---------------------------------------------------------------------------------------
def input_importance(model: QuantMLP, i: int) -> tuple[np.ndarray, np.ndarray]:
    """(importance, depends) per (neuron, input) entry of layer ``i`` (aligned with its ``indices``).

    importance: Logic Shrinkage's saliency generalised to multi-bit inputs -- the mean over all addresses of
    ``|t(a) - mean_u t(a with input k set to u)|`` on the real-valued (pre-quantization) table ``t``; for
    1-bit inputs this is half of ``mean |t(a) - t(a ^ bit_k)|``, the published saliency up to a constant.
    depends: whether the *quantized* table changes with the input at all (False: exact removal is free)."""
    layer = model.layers[i]
    qi = model.quantizers()[i]
    qo = layer.out
    vals = qi.values()
    b = qi.bits
    imp = np.zeros(len(layer.indices), np.float64)
    dep = np.zeros(len(layer.indices), bool)
    for n in range(layer.n_out):
        sl = slice(layer.indptr[n], layer.indptr[n + 1])
        F = sl.stop - sl.start
        if F == 0:
            continue
        V = enumerate_values(vals, F, b)
        pre = _neuron_pre(V, layer.weights[sl], layer.a[n], layer.c[n]).astype(np.float64)
        codes = _neuron_codes(V, layer.weights[sl], layer.a[n], layer.c[n], np.float32(qo.scale), qo.lo,
                              qo.hi, qo.offset)
        t = pre.reshape((1 << b,) * F)
        tq = codes.reshape((1 << b,) * F)
        for k in range(F):
            imp[sl.start + k] = float(np.mean(np.abs(t - t.mean(axis=k, keepdims=True))))
            dep[sl.start + k] = bool(np.any(tq != np.take(tq, [0], axis=k)))
    return imp, dep


def drop_inputs(layer: QLayer, keep: np.ndarray) -> QLayer:
    """The layer with only the (neuron, input) entries where ``keep`` is True."""
    fan = np.diff(layer.indptr)
    owner = np.repeat(np.arange(layer.n_out), fan)
    new_fan = np.bincount(owner[keep], minlength=layer.n_out)
    return replace(layer, indptr=np.concatenate([[0], np.cumsum(new_fan)]).astype(np.int64),
                   indices=layer.indices[keep].astype(np.int32), weights=layer.weights[keep].astype(np.float32))


@dataclass(frozen=True)
class ShrinkReport:
    layer: int
    before: int              #: (neuron, input) connections before
    independent: int         #: inputs the quantized table did not depend on (netlist.remove_unused_inputs
                             #: removes them exactly after conversion)
    removed_ranked: int      #: lowest-importance inputs removed by the fraction
    after: int


def shrink(model: QuantMLP, fraction: float, layers: list[int] | None = None,
           min_fanin: int = 1) -> tuple[QuantMLP, list[ShrinkReport]]:
    """Logic Shrinkage (LUT-input pruning): per layer, remove the ``fraction`` of (neuron, input)
    connections with the lowest importance (ranked globally within the layer, never leaving a neuron below
    ``min_fanin``). Returns a new model (retrain it to recover accuracy, then convert with
    :func:`to_netlist`; :func:`hwsim.lutnet.netlist.remove_unused_inputs` then removes, exactly, the inputs
    a table does not depend on) and what was removed."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"shrink fraction = {fraction!r}: allowed 0 <= fraction < 1")
    new_layers, reports = [], []
    for i, layer in enumerate(model.layers):
        if layers is not None and i not in layers:
            new_layers.append(layer)
            continue
        imp, dep = input_importance(model, i)
        fan = np.diff(layer.indptr)
        owner = np.repeat(np.arange(layer.n_out), fan)
        keep = np.ones(len(imp), bool)
        exact = int((~dep).sum())
        budget = int(round(fraction * len(imp)))
        ranked = 0
        left = np.bincount(owner[keep], minlength=layer.n_out)
        for e in np.argsort(imp, kind="stable"):
            if budget <= 0:
                break
            if keep[e] and left[owner[e]] > min_fanin:
                keep[e] = False
                left[owner[e]] -= 1
                budget -= 1
                ranked += 1
        new_layers.append(drop_inputs(layer, keep))
        reports.append(ShrinkReport(i, len(imp), exact, ranked, int(keep.sum())))
    return QuantMLP(model.inp, new_layers, dict(model.meta)), reports
