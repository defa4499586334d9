"""Functional models of the HSA's decode GEMV lanes (MXINT4 x integer activations), its RMSNorm unit and
its RoPE unit, each with the order of operations it defines, and numpy references written independently
(vectorised) with the same order: the models must equal them bit for bit (tests/test_hsa.py).

GEMV lane (decode mode), per output n, blocks b = 0, 1, ... of 32 weights along K in order::

    p    = sum_k code[n, k] * x[k]             exact integer (|p| < 2**23): the 32 PEs and the adder tree
    s    = E[n, b] - 127 - 2 + F               E: the block's E8M0 exponent code; 2: the element's 1.2
                                               fixed point; F: decode.acc_frac_bits
    c    = p << s  if s >= 0  else  p >> -s    arithmetic shift (floor): the per-block dequantisation
    acc  = (acc + c) mod 2**acc_bits           two's complement accumulator (wraps)

so y[n] = acc * 2**-F (times the activation scale, applied outside). The block exponent is applied once
per 32 products, never per element: that is the "negligible dequantisation overhead".

RMSNorm unit (float32, ``L`` lanes; every operation rounds to float32, no fused multiply-add)::

    a[j]  = 0;  for i = 0 .. d-1:  a[i mod L] += x[i] * x[i]       lane-strided sums of squares
    tree: for h = L/2, L/4, .., 1:  a[j] = a[j] + a[j + h]  (j < h)
    m = a[0] * fl32(1/d);  t = m + fl32(eps);  r = 1 / sqrt(t)       (sqrt and the division correctly
                                                                      rounded, one after the other)
    y[i] = (x[i] * r) * g[i]

RoPE unit (float32): for each pair (x1, x2) of a head -- (i, i + hd/2) for ``pairing: half`` (the
Hugging Face Llama convention) or (2i, 2i + 1) for ``interleaved`` -- with c, s from the table::

    y1 = x1 * c - x2 * s;   y2 = x2 * c + x1 * s

The table holds fl32(cos(p * theta**(-2i/hd))) and fl32(sin(...)) computed in float64
(:func:`rope_table`, the unit's ROM contents; the model and the reference read the same table).
"""

from __future__ import annotations

import numpy as np

from datatypes._jit import njit

BLOCK = 32
#: MXINT4 code 8 (-8) is never produced by the quantizer; E8M0 code 255 is NaN in the OCP format.
_BAD_CODE, _NAN_SCALE = 8, 255


class FunctionalError(ValueError):
    """Operands a functional model cannot take (the message names the operand and what is allowed)."""


# ---- GEMV (decode lanes) ---------------------------------------------------------------------------
def _check_gemv(w_codes, w_scales, x, acc_bits, frac_bits):
    w_codes = np.asarray(w_codes)
    w_scales = np.asarray(w_scales)
    x = np.asarray(x)
    if w_codes.ndim != 2 or w_codes.dtype != np.uint8:
        raise FunctionalError(f"weight codes: expected uint8 [N, K] MXINT4 codes, got {w_codes.dtype} {w_codes.shape}")
    N, K = w_codes.shape
    if K % BLOCK or K == 0:
        raise FunctionalError(f"weight codes: K = {K}: must be a positive multiple of the MX block {BLOCK}")
    if w_scales.shape != (N, K // BLOCK) or w_scales.dtype != np.uint8:
        raise FunctionalError(f"weight scales: expected uint8 [{N}, {K // BLOCK}] E8M0 codes, got "
                              f"{w_scales.dtype} {w_scales.shape}")
    if np.any(w_codes > 15) or np.any(w_codes == _BAD_CODE):
        raise FunctionalError("weight codes: MXINT4 codes are 0..15 without 8 (-8 is not an MXINT4 value)")
    if np.any(w_scales == _NAN_SCALE):
        raise FunctionalError("weight scales: E8M0 code 255 is NaN; allowed 0..254")
    if x.shape != (K,) or not np.issubdtype(x.dtype, np.integer):
        raise FunctionalError(f"activations: expected integers [{K}], got {x.dtype} {x.shape}")
    if x.size and (x.min() < -(1 << 15) or x.max() >= 1 << 15):
        raise FunctionalError("activations: at most 16-bit signed integers")
    if not 16 <= acc_bits <= 48 or not 0 <= frac_bits <= 40:
        raise FunctionalError(f"acc_bits = {acc_bits}, frac_bits = {frac_bits}: allowed 16..48 and 0..40")
    return w_codes, w_scales, x.astype(np.int64)


@njit(cache=True)
def _gemv_kernel(codes, scales, x, acc_bits, frac_bits, out):
    N, K = codes.shape
    mask = (np.int64(1) << acc_bits) - 1
    half = np.int64(1) << (acc_bits - 1)
    for n in range(N):
        acc = np.int64(0)
        for b in range(K // 32):
            p = np.int64(0)
            for k in range(b * 32, b * 32 + 32):
                c = np.int64(codes[n, k])
                if c >= 8:
                    c -= 16
                p += c * x[k]
            s = np.int64(scales[n, b]) - 127 - 2 + frac_bits
            if s >= acc_bits:
                contrib = np.int64(0)
            elif s >= 0:
                contrib = (p & (mask >> s)) << s
            else:
                contrib = p >> min(-s, 63)
            acc = (acc + contrib) & mask
        out[n] = acc - (acc & half) * 2
    return out


def gemv_mxint4(w_codes, w_scales, x, acc_bits: int = 32, frac_bits: int = 16) -> np.ndarray:
    """The decode lanes' GEMV: int64 [N] accumulator values (y = acc * 2**-frac_bits) of MXINT4 weights
    ``w_codes`` uint8 [N, K] (row n = output n, quantized along K), E8M0 ``w_scales`` uint8 [N, K/32] and
    integer activations ``x`` [K]."""
    c, s, xv = _check_gemv(w_codes, w_scales, x, acc_bits, frac_bits)
    return _gemv_kernel(c, s, xv, np.int64(acc_bits), np.int64(frac_bits), np.empty(c.shape[0], np.int64))


def gemv_mxint4_reference(w_codes, w_scales, x, acc_bits: int = 32, frac_bits: int = 16) -> np.ndarray:
    """numpy reference of :func:`gemv_mxint4` (vectorised: all block sums, all shifts, one modular sum)."""
    c, s, xv = _check_gemv(w_codes, w_scales, x, acc_bits, frac_bits)
    N, K = c.shape
    vals = c.astype(np.int64)
    vals[vals >= 8] -= 16
    p = (vals.reshape(N, K // BLOCK, BLOCK) * xv.reshape(1, K // BLOCK, BLOCK)).sum(axis=2)
    sh = s.astype(np.int64) - 129 + frac_bits
    mask = (1 << acc_bits) - 1
    left = np.clip(sh, 0, acc_bits - 1)
    contrib = np.where(sh >= acc_bits, 0,
                       np.where(sh >= 0, np.left_shift(p & np.right_shift(mask, left), left),
                                np.right_shift(p, np.minimum(-sh, 63).clip(0))))
    acc = contrib.sum(axis=1) & mask                       # modular sum = the wrapping accumulator
    return np.where(acc >= 1 << (acc_bits - 1), acc - (1 << acc_bits), acc)


# ---- RMSNorm ---------------------------------------------------------------------------------------
def _check_vec(x, g, what):
    x = np.asarray(x)
    if x.dtype != np.float32 or x.ndim != 2 or x.shape[1] == 0:
        raise FunctionalError(f"{what}: expected float32 [tokens, d], got {x.dtype} {x.shape}")
    if g is not None:
        g = np.asarray(g)
        if g.dtype != np.float32 or g.shape != (x.shape[1],):
            raise FunctionalError(f"{what} gain: expected float32 [{x.shape[1]}], got {g.dtype} {g.shape}")
    return x, g


@njit(cache=True)
def _rmsnorm_kernel(x, g, lanes, inv_d, eps, out):
    T, d = x.shape
    acc = np.zeros(lanes, np.float32)
    for t in range(T):
        for j in range(lanes):
            acc[j] = np.float32(0.0)
        for i in range(d):
            sq = x[t, i] * x[t, i]
            acc[i % lanes] = acc[i % lanes] + sq
        h = lanes // 2
        while h >= 1:
            for j in range(h):
                acc[j] = acc[j] + acc[j + h]
            h //= 2
        m = acc[0] * inv_d
        v = m + eps
        s = np.float32(np.sqrt(np.float64(v)))
        r = np.float32(np.float64(1.0) / np.float64(s))
        for i in range(d):
            out[t, i] = (x[t, i] * r) * g[i]
    return out


def _rms_args(x, g, lanes, eps):
    if not isinstance(lanes, (int, np.integer)) or lanes < 1 or lanes & (lanes - 1):
        raise FunctionalError(f"lanes = {lanes!r}: a power of two")
    x, g = _check_vec(x, g, "RMSNorm input")
    return x, g, np.float32(1.0 / x.shape[1]), np.float32(eps)


def rmsnorm(x, g, lanes: int = 16, eps: float = 1e-5) -> np.ndarray:
    """The RMSNorm unit: float32 [T, d] -> float32 [T, d] (order of operations: module docstring)."""
    x, g, inv_d, e = _rms_args(x, g, lanes, eps)
    return _rmsnorm_kernel(x, g, int(lanes), inv_d, e, np.empty_like(x))


def rmsnorm_reference(x, g, lanes: int = 16, eps: float = 1e-5) -> np.ndarray:
    """numpy reference of :func:`rmsnorm` (lane vectors, float32 numpy operations)."""
    x, g, inv_d, e = _rms_args(x, g, lanes, eps)
    T, d = x.shape
    chunks = -(-d // lanes)
    sq = np.zeros((T, chunks * lanes), np.float32)
    sq[:, :d] = x * x
    acc = np.zeros((T, lanes), np.float32)
    for c in range(chunks):
        acc = acc + sq[:, c * lanes:(c + 1) * lanes]
    while acc.shape[1] > 1:
        h = acc.shape[1] // 2
        acc = acc[:, :h] + acc[:, h:]
    r = np.float32(1.0) / np.sqrt(acc[:, 0] * inv_d + e)
    return (x * r[:, None]) * g


def rmsnorm_float64(x, g, eps: float = 1e-5) -> np.ndarray:
    """RMSNorm in float64 (the mathematical op, for the error bound test)."""
    x64 = np.asarray(x, np.float64)
    return x64 / np.sqrt((x64 * x64).mean(axis=1, keepdims=True) + eps) * np.asarray(g, np.float64)


# ---- RoPE ------------------------------------------------------------------------------------------
def rope_table(positions, head_dim: int, theta: float = 10000.0) -> tuple[np.ndarray, np.ndarray]:
    """The unit's ROM: fl32(cos), fl32(sin) [len(positions), head_dim/2] of p * theta**(-2i/head_dim),
    computed in float64."""
    if head_dim <= 0 or head_dim % 2:
        raise FunctionalError(f"head_dim = {head_dim}: a positive even number")
    pos = np.asarray(positions, np.float64).reshape(-1, 1)
    inv = theta ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    ang = pos * inv
    return np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)


@njit(cache=True)
def _rope_kernel(x, cos, sin, interleaved, out):
    T, H, D = x.shape
    half = D // 2
    for t in range(T):
        for h in range(H):
            for i in range(half):
                i1 = 2 * i if interleaved else i
                i2 = 2 * i + 1 if interleaved else i + half
                c = cos[t, i]
                s = sin[t, i]
                x1 = x[t, h, i1]
                x2 = x[t, h, i2]
                out[t, h, i1] = x1 * c - x2 * s
                out[t, h, i2] = x2 * c + x1 * s
    return out


def _rope_args(x, cos, sin, pairing):
    x = np.asarray(x)
    if x.dtype != np.float32 or x.ndim != 3 or x.shape[2] % 2 or x.shape[2] == 0:
        raise FunctionalError(f"RoPE input: expected float32 [tokens, heads, head_dim (even)], got {x.dtype} {x.shape}")
    T, _, D = x.shape
    for name, t in (("cos", cos), ("sin", sin)):
        if np.asarray(t).dtype != np.float32 or np.shape(t) != (T, D // 2):
            raise FunctionalError(f"RoPE {name} table: expected float32 [{T}, {D // 2}], got {np.shape(t)}")
    if pairing not in ("half", "interleaved"):
        raise FunctionalError(f"pairing = {pairing!r}: allowed: half, interleaved")
    return x, np.asarray(cos), np.asarray(sin)


def rope(x, cos, sin, pairing: str = "half") -> np.ndarray:
    """The RoPE unit on float32 [T, heads, head_dim] with the table rows of the T positions."""
    x, c, s = _rope_args(x, cos, sin, pairing)
    return _rope_kernel(x, c, s, pairing == "interleaved", np.empty_like(x))


def rope_reference(x, cos, sin, pairing: str = "half") -> np.ndarray:
    """numpy reference of :func:`rope` (rotate-half / interleaved slices, float32 numpy operations)."""
    x, c, s = _rope_args(x, cos, sin, pairing)
    c, s = c[:, None, :], s[:, None, :]
    if pairing == "interleaved":
        x1, x2 = x[..., 0::2], x[..., 1::2]
    else:
        h = x.shape[2] // 2
        x1, x2 = x[..., :h], x[..., h:]
    y1 = x1 * c - x2 * s
    y2 = x2 * c + x1 * s
    out = np.empty_like(x)
    if pairing == "interleaved":
        out[..., 0::2], out[..., 1::2] = y1, y2
    else:
        out[..., :h], out[..., h:] = y1, y2
    return out
