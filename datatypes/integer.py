"""Integer formats int2 .. int8, symmetric (default) or asymmetric with a zero point.

Exactly the reference ``qdq_weight_sym`` / ``qdq_weight_asym`` of the SF4 study (spec §2.4), fp32:

symmetric (codes = two's complement b-bit):
    wmax  = fp32(max(|max(w)|, |min(w)|) * quantile), 0 -> 1
    scale = fp32(wmax / (2**(b-1) - 1))
    q     = clamp(round_half_even(fp32(w / scale)), -2**(b-1), 2**(b-1) - 1)
    w_hat = scale * q
asymmetric (codes = unsigned q, meta = zero point):
    wmin  = fp32(min(min(w), 0) * quantile),  wmax = fp32(max(max(w), 0) * quantile), both 0 -> -1, +1
    scale = fp32((wmax - wmin) / (2**b - 1)),  zp = round_half_even(fp32(-wmin / scale))
    q     = clamp(round_half_even(fp32(w / scale)) + zp, 0, 2**b - 1)
    w_hat = scale * (q - zp)
"""

from __future__ import annotations

import numpy as np
from ._jit import njit

from .errors import FormatError
from .format import Format, check_quantile
from .registry import register


@njit(cache=True, error_model="numpy")
def _quantize_sym(x, g, bits, quantile, codes, scales):
    rows, cols = x.shape
    qmax = np.float32((1 << (bits - 1)) - 1)
    qmin = np.float32(-(1 << (bits - 1)))
    mask = (1 << bits) - 1
    for r in range(rows):
        for j in range(scales.shape[1]):
            s = j * g
            e = min(s + g, cols)
            hi = x[r, s]
            lo = x[r, s]
            for k in range(s, e):
                v = x[r, k]
                hi = v if v > hi else hi
                lo = v if v < lo else lo
            wmax = max(abs(hi), abs(lo)) * quantile
            if wmax == np.float32(0.0):
                wmax = np.float32(1.0)
            scale = wmax / qmax
            scales[r, j] = scale
            for k in range(s, e):
                q = min(max(np.rint(x[r, k] / scale), qmin), qmax)
                codes[r, k] = np.uint8(np.int32(q) & mask)


@njit(cache=True, error_model="numpy")
def _quantize_asym(x, g, bits, quantile, codes, scales, zps):
    rows, cols = x.shape
    qmax = np.float32((1 << bits) - 1)
    zero = np.float32(0.0)
    for r in range(rows):
        for j in range(scales.shape[1]):
            s = j * g
            e = min(s + g, cols)
            hi = zero
            lo = zero
            for k in range(s, e):
                v = x[r, k]
                hi = v if v > hi else hi
                lo = v if v < lo else lo
            wmin = lo * quantile
            wmax = hi * quantile
            if wmin == zero and wmax == zero:
                wmin = np.float32(-1.0)
                wmax = np.float32(1.0)
            scale = (wmax - wmin) / qmax
            zp = np.rint(-wmin / scale)
            scales[r, j] = scale
            zps[r, j] = np.uint8(zp)
            for k in range(s, e):
                q = min(max(np.rint(x[r, k] / scale) + zp, zero), qmax)
                codes[r, k] = np.uint8(q)


@njit(cache=True)
def _dequantize(codes, scales, zps, g, bits, symmetric, out):
    rows, cols = codes.shape
    half = 1 << (bits - 1)
    for r in range(rows):
        for k in range(cols):
            c = np.int32(codes[r, k])
            if symmetric:
                q = c - ((c & half) << 1)          # sign-extend the b-bit two's complement code
            else:
                q = c - np.int32(zps[r, k // g])
            out[r, k] = scales[r, k // g] * np.float32(q)


class IntFormat(Format):
    family = "int"
    options = {"symmetric": True, "quantile": 1.0}
    rounding = "round half to even of fp32(w / scale) (torch.round)"
    ties = "to even"
    overflow = "clamp; to the code range (symmetric: -2**(b-1) reachable only by clipping)"

    def __init__(self, bits: int):
        self.bits = bits
        self.name = f"int{bits}"
        self.description = f"{bits}-bit integer, symmetric (two's complement) or asymmetric (zero point)"
        self.scale_rule = (f"per group, fp32, not quantized: symmetric absmax / {(1 << (bits - 1)) - 1}; "
                           f"asymmetric (max(w,0) - min(w,0)) / {(1 << bits) - 1} with a {bits}-bit zero point")
        self.levels = np.arange(-(1 << (bits - 1)), 1 << (bits - 1), dtype=np.float64)
        self.n_meta = 1 << bits
        self.meta_bits = bits  # the asymmetric zero point (symmetric stores no metadata)

    def _validate_options(self, opts):
        check_quantile(self, opts)
        if not isinstance(opts["symmetric"], (bool, np.bool_)):
            raise FormatError(f"format {self.name!r}: option symmetric={opts['symmetric']!r} must be True or False")

    def code_values(self, meta: int | None = None) -> np.ndarray:
        """Symmetric: two's-complement value of each code (meta None). Asymmetric: code - zero point
        (meta = the group's zero point)."""
        c = np.arange(1 << self.bits, dtype=np.float64)
        if meta is None:
            return np.where(c >= (1 << (self.bits - 1)), c - (1 << self.bits), c)
        return c - meta

    def _quantize2d(self, x, g, opts):
        rows, cols = x.shape
        n_groups = -(-cols // g)
        codes = np.empty((rows, cols), dtype=np.uint8)
        scales = np.empty((rows, n_groups), dtype=np.float32)
        q = np.float32(opts["quantile"])
        if opts["symmetric"]:
            _quantize_sym(x, g, self.bits, q, codes, scales)
            return codes, scales, None, None
        zps = np.empty((rows, n_groups), dtype=np.uint8)
        _quantize_asym(x, g, self.bits, q, codes, scales, zps)
        return codes, scales, zps, None

    def _dequantize2d(self, codes, scales, meta, g, tensor_scale, opts):
        out = np.empty(codes.shape, dtype=np.float32)
        zps = meta if meta is not None else np.zeros((1, 1), np.uint8)
        _dequantize(codes, scales, zps, g, self.bits, bool(opts["symmetric"]), out)
        return out


for _b in range(2, 9):
    register(IntFormat(_b))
