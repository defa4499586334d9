"""Functional model of the butterfly accelerator in FP16: butterfly factors and layers, the FFT as the
Butterfly Unit computes it, and FABNet's FBfly block.

Two arithmetics, both exact functions of FP16 inputs:

* ``hardware`` -- the operation order of the Butterfly Unit (``butterfly_unit_opt``), every multiply
  and every add rounded to FP16 (IEEE binary16, round to nearest even, gradual underflow; numpy's
  float16 ufuncs are correctly rounded for one + - * because float32 has 24 >= 2*11+2 bits):
    linear mode (one real 2x2 block [[w1, w3], [w2, w4]]):
      y_lo = fp16(fp16(x1 w1) + fp16(x2 w3)),  y_hi = fp16(fp16(x1 w2) + fp16(x2 w4))
    FFT mode (one complex radix-2 butterfly, twiddle W = Wr + i Wi on the upper input):
      t_r = fp16(fp16(x2r Wr) - fp16(x2i Wi)),  t_i = fp16(fp16(x2r Wi) + fp16(x2i Wr))
      y_lo = (fp16(x1r + t_r), fp16(x1i + t_i)),  y_hi = (fp16(x1r - t_r), fp16(x1i - t_i))
* ``reference`` -- float64 throughout (the oracle for the error bound).

Conventions (spec B.1/B.3): decreasing stride n/2 ... 1; a twiddle tensor ``tw[log n, n/2, 2, 2]`` in
torch_butterfly order (``tw[idx][b*s + j]`` is the 2x2 block of the pair (2sb + j, 2sb + j + s) at
stride s = n/2 >> idx; y_lo = t00 x_lo + t01 x_hi, y_hi = t10 x_lo + t11 x_hi).
The FFT uses the BU's x1 +- W x2 form with decreasing stride and no bit-reversal stage: stage of stride s,
block b has W = exp(-2 pi i br(b) / (n / s)) (br: bit reversal over log2(n / 2s) bits), which gives
``np.fft.fft(x)`` in bit-reversed order (the artefact's testbench feeds this form the torch_butterfly
``fft_no_br`` twiddles; see docs/butterfly.md for why those are not a DFT and what we do instead).
"""

from __future__ import annotations

import math

import numpy as np

F16 = np.float16


class FunctionalError(ValueError):
    """Bad shapes / sizes for the functional model."""


def _log2(n: int, what: str) -> int:
    if not isinstance(n, (int, np.integer)) or n < 2 or n & (n - 1):
        raise FunctionalError(f"{what} = {n!r}: must be a power of two >= 2")
    return int(n).bit_length() - 1


def bitrev(n: int) -> np.ndarray:
    """Bit-reversal permutation of range(n) (n a power of two)."""
    b = _log2(n, "n")
    i = np.arange(n)
    r = np.zeros(n, dtype=np.int64)
    for k in range(b):
        r |= ((i >> k) & 1) << (b - 1 - k)
    return r


def pairs(n: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) indices of the n/2 pairs at a stride, in twiddle order b*s + j."""
    k = np.arange(n // 2)
    lo = (k // stride) * 2 * stride + k % stride
    return lo, lo + stride


# ---- butterfly matrices (linear mode) -------------------------------------------------------------
def random_twiddle(n: int, rng: np.random.Generator, nstacks: int = 1, scale: float | None = None) -> np.ndarray:
    """Twiddles [nstacks, log n, n/2, 2, 2] in FP16, drawn like torch_butterfly's 'randn' init
    (std 1/sqrt(2) per factor so that the product keeps the scale)."""
    log_n = _log2(n, "n")
    s = (1 / math.sqrt(2)) if scale is None else scale
    return (rng.standard_normal((nstacks, log_n, n // 2, 2, 2)) * s).astype(F16)


def factor_dense(tw_stage: np.ndarray, n: int, stride: int) -> np.ndarray:
    """The n x n matrix of one butterfly factor (float64)."""
    lo, hi = pairs(n, stride)
    F = np.zeros((n, n))
    t = tw_stage.astype(np.float64)
    F[lo, lo], F[lo, hi], F[hi, lo], F[hi, hi] = t[:, 0, 0], t[:, 0, 1], t[:, 1, 0], t[:, 1, 1]
    return F


def dense(tw: np.ndarray) -> np.ndarray:
    """B = F_last ... F_first (float64) of one stack tw[log n, n/2, 2, 2], decreasing stride."""
    log_n = tw.shape[0]
    n = 1 << log_n
    B = np.eye(n)
    for idx in range(log_n):
        B = factor_dense(tw[idx], n, n >> (idx + 1)) @ B
    return B


def butterfly_linear(x: np.ndarray, tw: np.ndarray, arith: str = "hardware") -> np.ndarray:
    """One stack: x[..., n] (FP16 for hardware) through log n factors. Returns [..., n]."""
    log_n = tw.shape[0]
    n = 1 << log_n
    if x.shape[-1] != n or tw.shape != (log_n, n // 2, 2, 2):
        raise FunctionalError(f"butterfly_linear: x[..., {x.shape[-1]}] and twiddles {tw.shape} do not match "
                              f"(need x[..., n], tw[log n, n/2, 2, 2])")
    if arith == "reference":
        return x.astype(np.float64) @ dense(tw).T
    if arith != "hardware":
        raise FunctionalError(f"arith = {arith!r}: allowed: hardware, reference")
    y = np.asarray(x, dtype=F16).copy()
    tw = tw.astype(F16)
    for idx in range(log_n):
        lo, hi = pairs(n, n >> (idx + 1))
        x1, x2, t = y[..., lo], y[..., hi], tw[idx]
        y_lo = x1 * t[:, 0, 0] + x2 * t[:, 0, 1]     # float16 ufuncs: each op rounded
        y_hi = x1 * t[:, 1, 0] + x2 * t[:, 1, 1]
        y[..., lo], y[..., hi] = y_lo, y_hi
    return y


def butterfly_layer(x: np.ndarray, tw: np.ndarray, out_features: int, bias: np.ndarray | None = None,
                    arith: str = "hardware") -> np.ndarray:
    """torch_butterfly ``Butterfly(in, out)`` with nstacks = tw.shape[0]: pad x to n, each stack, concat,
    truncate to out_features, add bias (hardware: one FP16 add)."""
    nstacks, log_n = tw.shape[:2]
    n = 1 << log_n
    if x.shape[-1] > n:
        raise FunctionalError(f"butterfly_layer: in_features {x.shape[-1]} > n = {n}")
    dt = F16 if arith == "hardware" else np.float64
    xp = np.zeros(x.shape[:-1] + (n,), dtype=dt)
    xp[..., :x.shape[-1]] = x
    y = np.concatenate([butterfly_linear(xp, tw[k], arith) for k in range(nstacks)], axis=-1)[..., :out_features]
    if bias is not None:
        y = y + bias.astype(dt)
    return y


# ---- FFT (FFT mode) ---------------------------------------------------------------------------------
def fft_twiddles(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per stage (decreasing stride) and pair, the complex twiddle W (float64) and FP16 (Wr, Wi)."""
    log_n = _log2(n, "n")
    W = np.zeros((log_n, n // 2), dtype=np.complex128)
    for idx in range(log_n):
        s = n >> (idx + 1)
        nb = n // (2 * s)
        b = np.arange(n // 2) // s
        br = bitrev(nb)[b] if nb > 1 else np.zeros_like(b)
        W[idx] = np.exp(-2j * np.pi * br / (n // s))
    return W, np.stack([W.real.astype(F16), W.imag.astype(F16)], axis=-1)


def fft_bitreversed(xr: np.ndarray, xi: np.ndarray | None = None, arith: str = "hardware"):
    """FFT over the last axis without bit reversal: returns (re, im) with out[k] = X[bitrev(k)]."""
    n = xr.shape[-1]
    log_n = _log2(n, "FFT length")
    W, W16 = fft_twiddles(n)
    if arith == "reference":
        y = xr.astype(np.float64) + (0 if xi is None else 1j * xi.astype(np.float64))
        y = np.array(y, dtype=np.complex128)
        for idx in range(log_n):
            lo, hi = pairs(n, n >> (idx + 1))
            t = y[..., hi] * W[idx]
            y[..., lo], y[..., hi] = y[..., lo] + t, y[..., lo] - t
        return y.real, y.imag
    if arith != "hardware":
        raise FunctionalError(f"arith = {arith!r}: allowed: hardware, reference")
    re = np.asarray(xr, dtype=F16).copy()
    im = np.zeros_like(re) if xi is None else np.asarray(xi, dtype=F16).copy()
    for idx in range(log_n):
        lo, hi = pairs(n, n >> (idx + 1))
        wr, wi = W16[idx, :, 0], W16[idx, :, 1]
        x1r, x1i, x2r, x2i = re[..., lo], im[..., lo], re[..., hi], im[..., hi]
        tr = x2r * wr - x2i * wi
        ti = x2r * wi + x2i * wr
        re[..., lo], im[..., lo] = x1r + tr, x1i + ti
        re[..., hi], im[..., hi] = x1r - tr, x1i - ti
    return re, im


# ---- error bound -------------------------------------------------------------------------------------
U16 = 2.0 ** -11  # unit roundoff of binary16


def linear_bound(x: np.ndarray, tw: np.ndarray) -> np.ndarray:
    """A rigorous bound of |hardware - exact| for butterfly_linear (per output), from the running
    error analysis: each stage's y = fl(fl(a w) + fl(b v)) has |err| <= u(|a w| + |b v|)(2 + u) + u|y|
    plus the propagated error of its inputs (through |W|). Subnormal outputs add 2^-25 per op."""
    log_n = tw.shape[0]
    n = 1 << log_n
    a = np.abs(x.astype(np.float64))
    e = np.zeros_like(a)
    tiny = 2.0 ** -25
    for idx in range(log_n):
        lo, hi = pairs(n, n >> (idx + 1))
        t = np.abs(tw[idx].astype(np.float64))
        new_a, new_e = a.copy(), e.copy()
        for row, dst in ((0, lo), (1, hi)):
            m = a[..., lo] * t[:, row, 0] + a[..., hi] * t[:, row, 1]
            prop = e[..., lo] * t[:, row, 0] + e[..., hi] * t[:, row, 1]
            rnd = m * U16 * (2 + U16) + (m + prop) * U16 * (1 + U16) ** 2 + 3 * tiny
            new_a[..., dst] = m + prop
            new_e[..., dst] = prop + rnd
        a, e = new_a, new_e
    return e


def fft_bound(xr: np.ndarray, xi: np.ndarray | None = None) -> np.ndarray:
    """Rigorous-enough per-output bound of the hardware FFT error: the linear bound of the equivalent
    real 4x4 block form is majorised by running magnitudes with the FP16 twiddle error (|W16 - W| <= u)."""
    n = xr.shape[-1]
    log_n = n.bit_length() - 1
    a = np.abs(xr.astype(np.float64)) + (0 if xi is None else np.abs(xi.astype(np.float64)))
    e = np.zeros_like(a)
    tiny = 2.0 ** -25
    for idx in range(log_n):
        lo, hi = pairs(n, n >> (idx + 1))
        m2 = a[..., hi] * (1 + 2 * U16)
        # product W x2: 2 mults + 1 add per component, then the final add
        t_err = e[..., hi] * (1 + 2 * U16) + m2 * (4 * U16) + a[..., hi] * 2 * U16 + 2 * tiny
        out = a[..., lo] + m2 + t_err
        err = e[..., lo] + t_err + out * 2 * U16 + 2 * tiny
        a = a.copy(); e = e.copy()
        a[..., lo] = a[..., hi] = out
        e[..., lo] = e[..., hi] = err
    return e


# ---- quantized butterfly weights ---------------------------------------------------------------------
def quantize_twiddle(tw: np.ndarray, fmt: str, group_size: int | None = 128) -> np.ndarray:
    """Twiddles through a library format (``datatypes.quantize(...).dequantize()``; groups along the
    flattened 2x2 blocks of a stage), returned in FP16 as the BU reads them."""
    import datatypes as dt
    flat = tw.astype(np.float32).reshape(-1, tw.shape[-3] * 4)
    q = dt.quantize(flat, fmt, group_size=group_size)
    return np.asarray(q.dequantize(), dtype=np.float32).reshape(tw.shape).astype(F16)


# ---- FABNet blocks -----------------------------------------------------------------------------------
def _q(x) -> np.ndarray:
    """IEEE FP16 rounding (round to nearest even): the hardware arithmetic's rounding."""
    return np.asarray(x).astype(F16)


def qtorch_fp16(x) -> np.ndarray:
    """qtorch 0.3.0 ``float_quantize(x, exp=5, man=10, rounding="nearest")`` (CPU kernel
    ``quant_cpu.cpp: float_quantize``), bit for bit, on float32 values -- the artefact's quantizer:

    * normal range: add half an ulp to the float32 bit pattern and clear the 13 low bits (ties round
      away from zero, not to even);
    * exponent above 2^16 saturates to +-131008 (qtorch reserves no exponent for infinity; inf and NaN
      inputs saturate too);
    * below 2^-14: float32 (x + sign 2^-14), rounded as above, minus sign 2^-14 (both float32 operations).
    Returns float32 (131008 > the IEEE FP16 maximum)."""
    a = np.ascontiguousarray(x, dtype=np.float32)
    bits = a.view(np.uint32)
    exp = ((bits & np.uint32(0x7FFFFFFF)) >> np.uint32(23)).astype(np.int32) - 127
    sub = exp < -14
    mask, half = np.uint32((1 << 13) - 1), np.uint32(1 << 12)

    def rnd(b):
        return (b + half) & ~mask                      # uint32 arithmetic wraps like C

    q = rnd(bits)
    qexp = (q & np.uint32(0x7FFFFFFF)) >> np.uint32(23)
    over = (q != 0) & (qexp > 143)
    q = np.where(over, (bits & np.uint32(0x80000000)) | np.uint32((143 << 23) | 0x7FE000), q)
    out = q.view(np.float32).copy()
    if sub.any():
        shift = ((np.uint32((127 - 14) << 23)) | (bits[sub] & np.uint32(0x80000000))).view(np.float32)
        val = (a[sub] + shift).astype(np.float32)
        out[sub] = rnd(val.view(np.uint32)).view(np.float32) - shift
    return out.reshape(np.shape(a))


def _qa(x) -> np.ndarray:
    """The artefact's quantization point: the value as PyTorch float32 holds it, then qtorch."""
    return qtorch_fp16(np.asarray(x, dtype=np.float64).astype(np.float32))


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5, q=None) -> np.ndarray:
    """LayerNorm over the last axis, computed in float64 from FP16 inputs, rounded once to FP16
    (our choice for the LN unit of the P2S path; the artefact quantizes after LN)."""
    v = x.astype(np.float64)
    mu = v.mean(-1, keepdims=True)
    var = ((v - mu) ** 2).mean(-1, keepdims=True)
    return (q or _q)((v - mu) / np.sqrt(var + eps) * gamma.astype(np.float64) + beta.astype(np.float64))


def gelu(x: np.ndarray, q=None) -> np.ndarray:
    """Exact (erf) GELU of FP16 inputs, float64 inside, rounded once to FP16."""
    from math import erf
    v = x.astype(np.float64)
    return (q or _q)(0.5 * v * (1 + np.vectorize(erf)(v / math.sqrt(2))))


def fbfly_params(rng: np.random.Generator, d: int, h: int) -> dict:
    """Random FBfly-block parameters (FP16): LayerNorms, B1 = Butterfly(d, h), B2 = Butterfly(h, d)."""
    dp, hp = 1 << (d - 1).bit_length(), 1 << (h - 1).bit_length()
    return {"ln1": (_q(1 + 0.1 * rng.standard_normal(d)), _q(0.1 * rng.standard_normal(d))),
            "ln2": (_q(1 + 0.1 * rng.standard_normal(d)), _q(0.1 * rng.standard_normal(d))),
            "tw1": random_twiddle(dp, rng, nstacks=max(1, -(-h // dp))), "b1": _q(0.1 * rng.standard_normal(h)),
            "tw2": random_twiddle(hp, rng, nstacks=1), "b2": _q(0.1 * rng.standard_normal(d))}


def fft2_real(x: np.ndarray, arith: str) -> np.ndarray:
    """Re(FFT2(x)) over (sequence, hidden) in natural order. hardware: FFT over hidden (real in),
    then over the sequence (complex in), each in BU order, bit reversal as an address permutation."""
    S, d = x.shape
    if arith == "artefact":
        return np.fft.fft2(x.astype(np.float64)).real
    re, im = fft_bitreversed(x, None, "hardware")                 # [S, d] bit-reversed along d
    re, im = re[:, np.argsort(bitrev(d))], im[:, np.argsort(bitrev(d))]
    re2, _ = fft_bitreversed(re.T.copy(), im.T.copy(), "hardware")   # [d, S] bit-reversed along S
    return re2[:, np.argsort(bitrev(S))].T


def fbfly_block(x: np.ndarray, p: dict, arith: str = "hardware") -> np.ndarray:
    """FABNet FBfly block on x[S, d] (FP16), pre-LN:
        X <- q(X + q(Re FFT2(q(LN1 X))));  X <- q(X + q(B2 q(GELU(q(B1 q(LN2 X))))))
    ``artefact``: the artefact's rounding points (after LN, mixing, each linear, GELU, residual) with
    qtorch's quantizer (:func:`qtorch_fp16`; float64 between them, then float32), returning float32. ``hardware``: the same points, with the FFTs and butterfly layers in the
    BU's FP16 operation order (bias added with one FP16 add)."""
    if arith not in ("artefact", "hardware"):
        raise FunctionalError(f"arith = {arith!r}: allowed: artefact, hardware")
    S, d = x.shape
    _log2(S, "sequence length"), _log2(d, "hidden")
    q = _qa if arith == "artefact" else _q
    f = lambda t: np.asarray(t, np.float64)
    x = q(x)
    h = p["b1"].shape[0]
    mix = q(fft2_real(layer_norm(x, *p["ln1"], q=q), arith))
    x = q(f(x) + f(mix))
    a = layer_norm(x, *p["ln2"], q=q)
    if arith == "hardware":
        y1 = q(butterfly_layer(a, p["tw1"], h, p["b1"], "hardware"))
        g = gelu(y1, q)
        y2 = q(butterfly_layer(g, p["tw2"], d, p["b2"], "hardware"))
    else:
        y1 = q(butterfly_layer(f(a), p["tw1"], h, p["b1"], "reference"))
        g = gelu(y1, q)
        y2 = q(butterfly_layer(f(g), p["tw2"], d, p["b2"], "reference"))
    return q(f(x) + f(y2))


def attention_block(x: np.ndarray, p: dict, heads: int) -> np.ndarray:
    """FABNet's softmax block (dense Q/K/V/O and dense FFN, as the released code has it), rounded to FP16
    where ``model_quant.py`` / ``attention_quant.py`` quantize: after LN, Q, K, V, the attention output
    (softmax(QK^T / sqrt(dh)) V, whose scores and probabilities stay unrounded), the output projection,
    each FFN linear, GELU and the residuals, with qtorch's quantizer (:func:`qtorch_fp16`); float64
    between them, then float32 (the artefact: PyTorch float32). Returns float32."""
    S, d = x.shape
    dh = d // heads
    x = _qa(x)
    f = lambda t: t.astype(np.float64)
    a = f(layer_norm(x, *p["ln1"], q=_qa))
    q, k, v = (_qa(a @ f(p[w]) + f(p["b" + w])) for w in ("wq", "wk", "wv"))
    q, k, v = (f(t).reshape(S, heads, dh).transpose(1, 0, 2) for t in (q, k, v))
    s = q @ k.transpose(0, 2, 1) / math.sqrt(dh)
    s = np.exp(s - s.max(-1, keepdims=True))
    pr = s / s.sum(-1, keepdims=True)
    ctx = f(_qa(pr @ v)).transpose(1, 0, 2).reshape(S, d)
    o = _qa(ctx @ f(p["wo"]) + f(p["bo"]))
    x = _qa(f(x) + f(o))
    a = f(layer_norm(x, *p["ln2"], q=_qa))
    y1 = gelu(_qa(a @ f(p["w1"]) + f(p["bf1"])), _qa)
    y2 = _qa(f(y1) @ f(p["w2"]) + f(p["bf2"]))
    return _qa(f(x) + f(y2))


def block_types(n_blocks: int, att_layer: int = -1) -> list[str]:
    """FABNet's arrangement (``--fabnet_att_layer k``): k = -1 -> every block FBfly; k >= 0 -> block idx
    (0-based) is FBfly iff n_blocks - (idx + 1) < k, i.e. the last k blocks are FBfly, the first
    n_blocks - k are softmax-attention blocks."""
    if att_layer < 0:
        return ["fbfly"] * n_blocks
    return ["fbfly" if n_blocks - (i + 1) < att_layer else "softmax" for i in range(n_blocks)]


def attention_params(rng: np.random.Generator, d: int, h: int) -> dict:
    """Random FP16 parameters of the softmax block (dense projections and FFN)."""
    s = 1 / math.sqrt(d)
    p = {"ln1": (_q(np.ones(d)), _q(np.zeros(d))), "ln2": (_q(np.ones(d)), _q(np.zeros(d)))}
    for w in ("wq", "wk", "wv", "wo"):
        p[w] = _q(rng.standard_normal((d, d)) * s)
        p["b" + w] = _q(0.02 * rng.standard_normal(d))
    p["bo"] = p.pop("bwo")
    p["w1"], p["bf1"] = _q(rng.standard_normal((d, h)) * s), _q(0.02 * rng.standard_normal(h))
    p["w2"], p["bf2"] = _q(rng.standard_normal((h, d)) / math.sqrt(h)), _q(0.02 * rng.standard_normal(d))
    return p


def quantize_params(p: dict, fmt: str, group_size: int | None = 128) -> dict:
    """An FBfly parameter set with its butterfly twiddles through a library format (see quantize_twiddle)."""
    return {**p, "tw1": quantize_twiddle(p["tw1"], fmt, group_size), "tw2": quantize_twiddle(p["tw2"], fmt, group_size)}


def fabnet_forward(x: np.ndarray, params: list[dict], heads: int = 1, att_layer: int = -1,
                   arith: str = "hardware") -> np.ndarray:
    """The encoder blocks of FABNet on x[S, d]: block types by :func:`block_types`; FBfly blocks take
    fbfly_params-style dicts, softmax blocks attention_params-style dicts."""
    for kind, p in zip(block_types(len(params), att_layer), params):
        x = fbfly_block(x, p, arith) if kind == "fbfly" else attention_block(x, p, heads)
    return x
