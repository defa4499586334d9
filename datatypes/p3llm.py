"""P3-LLM operand formats (spec §6.1), bit-exact with ``wkvaq_quant/quantize/quantizer.py`` of
yc2367/P3-LLM @ ef63537. The model runs in fp16, so every op is fp16 as PyTorch computes it (each
op in float32, rounded to fp16; the input is rounded to fp16 first).

``p3llm_fp8`` -- FP8-E4M3 activations (``a_quant_per_token``; per token = group_size None, the
    default; ``q_quant_per_head`` = group_size head_dim):
        s = max(fp16(amax / 448), fp16(1e-6));  y = fp16(x / s)
        q = E4M3 value of y, round to nearest even (the reference's exponent/mantissa formula,
            exponent clamped at -6, is exactly that);  x_hat = fp16(q * s)
    codes = E4M3 bit patterns (ml_dtypes float8_e4m3fn), scales = s.
``p3llm_kv4`` -- INT4 asymmetric KV cache (``k_quant_per_token`` / ``v_quant_per_token``; groups of
    128 along the hidden dimension of one token, i.e. rows = tokens):
        s  = max(fp16(fp16(max - min) / 15), fp16(1e-6));  zp = clamp(round(fp16(-min / s)), 0, 15)
        q  = clamp(round(fp16(x / s)) + zp, 0, 15);       x_hat = fp16((q - zp) * s)
    (round = half to even). codes = q, scales = s, meta = zp. Option ``smooth=True`` is the
    dynamic per-channel key smoothing (``--apply_k_scale``, pre-RoPE): k_scale[c] = max over all
    rows (the prefill tokens) of |x[:, c]|; x is divided by it (fp16) before quantization and
    x_hat multiplied by it after; ``tensor_scale`` holds k_scale (one fp16 value per column).
``p3llm_score8`` -- the 8-bit attention score P' = P * v_scale fed to the P.V product
    (``p_quant_per_block``): the fp16 bit pattern keeps its top 10 bits (sign, 5 exponent, 4
    mantissa) and rounds half up on the 6 dropped bits (a carry propagates into the exponent).
    The 8-bit code is unsigned E4M4 with bias 15 (bits 13..6 of the rounded fp16 pattern): it
    holds 0 <= P' < 1.96875, the range where that emulation is an 8-bit format (spec §6.1 notes
    the emulation itself never limits the exponent); other values are an InputError.
    :func:`score_round` is the emulation on any finite input.

Deviation (documented): a smoothed key channel that is zero in every token divides 0/0 in the
reference (NaN); here it quantizes to 0.
"""

from __future__ import annotations

import numpy as np
from ._jit import njit

from .errors import FormatError, InputError
from .format import Format
from .minifloat import E4M3, encode
from .registry import register
from .torchops import as_fp16_values, f16r, fp16_input_lazy, raise_fp16_overflow

_E4M3_MIN_SCALE = np.float32(np.float16(1e-6))
E4M3_MAX_CODE = E4M3.max_code          # 0x7E = 448


# ---- FP8-E4M3 per token -----------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _fp8_kernel(x, g, smin, codes, scales):
    rows, cols = x.shape
    ok = True
    for r in range(rows):
        for j in range(scales.shape[1]):
            s = j * g
            xg = x[r, s:min(s + g, cols)]
            amax = np.float32(0.0)
            for i in range(xg.shape[0]):
                a = abs(f16r(xg[i]))
                amax = a if a > amax else amax
            ok = ok and amax <= np.float32(65504.0)
            sc = max(f16r(amax / np.float32(448.0)), smin)
            scales[r, j] = sc
            for i in range(xg.shape[0]):
                y = f16r(f16r(xg[i]) / sc)
                codes[r, s + i] = encode(y, 3, 7, E4M3_MAX_CODE, 7, np.uint8(0x7F))
    return ok


@njit(cache=True)
def _scaled_f16_kernel(codes, scales, g, table, out):
    rows, cols = codes.shape
    for r in range(rows):
        for i in range(cols):
            out[r, i] = f16r(table[codes[r, i]] * scales[r, i // g])


class P3LLMFP8(Format):
    name = "p3llm_fp8"
    family = "p3llm"
    bits = 8
    description = "P3-LLM FP8-E4M3 activations: per-token (or per-group) fp16 absmax / 448 scale; fp16"
    default_group_size = None
    options = {}
    rounding = "round to nearest, ties to even (E4M3 grid, exponent clamped at -6), on fp16(x / s)"
    ties = "to even"
    overflow = "none; amax maps to 448"
    scale_rule = "per token (group): fp16 amax / 448, at least fp16(1e-6); fp16, not quantized"
    output_dtype = "float16"
    scale_bits = 16

    def __init__(self):
        self.levels = np.unique(E4M3.table[np.isfinite(E4M3.table)])
        self._table = E4M3.table.copy()
        self._table32 = np.nan_to_num(self._table).astype(np.float32)

    def code_values(self, meta: int = 0) -> np.ndarray:
        return self._table.copy()

    def _prepare_input(self, arr):
        return fp16_input_lazy(arr)

    def _quantize2d(self, x, g, opts):
        rows, cols = x.shape
        codes = np.empty((rows, cols), np.uint8)
        scales = np.empty((rows, -(-cols // g)), np.float32)
        if not _fp8_kernel(x, g, _E4M3_MIN_SCALE, codes, scales):
            raise_fp16_overflow(x)
        return codes, scales, None, None

    def _dequantize2d(self, codes, scales, meta, g, tensor_scale, opts):
        out = np.empty(codes.shape, np.float32)
        _scaled_f16_kernel(codes, scales, g, self._table32, out)
        return out.astype(np.float16)

    def pack_group_data(self, scales, meta, opts):
        return (None if scales is None else scales.astype(np.float16)), meta

    def unpack_group_data(self, scales, meta, opts):
        return (None if scales is None else np.asarray(scales).astype(np.float32)), meta


# ---- INT4 asymmetric KV cache ---------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _kv4_kernel(x, g, kscale, smooth, smin, codes, scales, zps):
    rows, cols = x.shape
    buf = np.empty(g, np.float32)
    fifteen = np.float32(15.0)
    zero = np.float32(0.0)
    ok = True
    for r in range(rows):
        for j in range(scales.shape[1]):
            s = j * g
            xg = x[r, s:min(s + g, cols)]
            n = xg.shape[0]
            for i in range(n):
                v = f16r(xg[i])
                ok = ok and abs(v) <= np.float32(65504.0)
                if smooth:
                    ks = kscale[s + i]
                    v = f16r(v / ks) if ks != zero else zero
                buf[i] = v
            lo = buf[0]
            hi = buf[0]
            for i in range(n):
                lo = min(lo, buf[i])
                hi = max(hi, buf[i])
            sc = max(f16r(f16r(hi - lo) / fifteen), smin)
            zp = min(max(np.rint(f16r(-lo / sc)), zero), fifteen)
            scales[r, j] = sc
            zps[r, j] = np.uint8(zp)
            for i in range(n):
                q = min(max(np.rint(f16r(buf[i] / sc)) + zp, zero), fifteen)
                codes[r, s + i] = np.uint8(q)
    return ok


@njit(cache=True)
def _kv4_dequant(codes, scales, zps, g, kscale, smooth, out):
    rows, cols = codes.shape
    for r in range(rows):
        for i in range(cols):
            j = i // g
            v = f16r((np.float32(codes[r, i]) - np.float32(zps[r, j])) * scales[r, j])
            if smooth:
                v = f16r(v * kscale[i])
            out[r, i] = v


class P3LLMKV4(Format):
    name = "p3llm_kv4"
    family = "p3llm"
    bits = 4
    description = ("P3-LLM INT4 asymmetric KV cache: per token, groups of 128, fp16 scale + 4-bit zero "
                   "point; optional per-channel key smoothing")
    default_group_size = 128
    options = {"smooth": False}
    rounding = "round half to even of fp16(x / s) (torch.round), plus the zero point"
    ties = "to even"
    overflow = "clamp; to codes 0..15"
    scale_rule = ("per token group: fp16(max - min) / 15 (at least fp16(1e-6)), zero point "
                  "clamp(round(-min / s), 0, 15); smooth=True: columns divided by their max |x| over rows")
    output_dtype = "float16"
    scale_bits = 16
    meta_bits = 4
    tensor_scale_bits = 16
    n_meta = 16

    def __init__(self):
        self.levels = np.arange(16, dtype=np.float64)

    def _validate_options(self, opts):
        if not isinstance(opts["smooth"], (bool, np.bool_)):
            raise FormatError(f"format 'p3llm_kv4': option smooth={opts['smooth']!r} must be True or False")

    def code_values(self, meta: int = 0) -> np.ndarray:
        """Integer value (code - zero point) of each code under zero point ``meta``; x_hat = value * s."""
        return np.arange(16, dtype=np.float64) - int(meta)

    def _prepare_input(self, arr):
        return fp16_input_lazy(arr)

    def _quantize2d(self, x, g, opts):
        rows, cols = x.shape
        ng = -(-cols // g)
        codes = np.empty((rows, cols), np.uint8)
        scales = np.empty((rows, ng), np.float32)
        zps = np.empty((rows, ng), np.uint8)
        smooth = bool(opts["smooth"])
        if smooth:
            kscale, finite = as_fp16_values(np.abs(x).max(axis=0))
            if not finite:
                raise_fp16_overflow(x)
        else:
            kscale = np.ones(1, np.float32)
        if not _kv4_kernel(x, g, kscale, smooth, _E4M3_MIN_SCALE, codes, scales, zps):
            raise_fp16_overflow(x)
        return codes, scales, zps, (kscale if smooth else None)

    def _dequantize2d(self, codes, scales, meta, g, tensor_scale, opts):
        out = np.empty(codes.shape, np.float32)
        smooth = bool(opts["smooth"])
        ks = np.asarray(tensor_scale, np.float32) if smooth else np.ones(1, np.float32)
        _kv4_dequant(codes, scales, meta, g, ks, smooth, out)
        return out.astype(np.float16)

    def pack_group_data(self, scales, meta, opts):
        return (None if scales is None else scales.astype(np.float16)), meta

    def unpack_group_data(self, scales, meta, opts):
        return (None if scales is None else np.asarray(scales).astype(np.float32)), meta


# ---- 8-bit attention score ------------------------------------------------------------------------
def score_round(x) -> np.ndarray:
    """``p_quant_per_block(x, 8)`` on any finite input: fp16 cast, then keep the top 10 bits of the
    fp16 pattern, rounding half up on the dropped 6 bits (int16 arithmetic). Returns float16."""
    h = np.asarray(x).astype(np.float16)
    b = h.view(np.int16).astype(np.int32)
    r = (b & 0xFFC0) + np.where((b & 0x3F) > 31, 64, 0)
    return ((r + 0x8000) % 0x10000 - 0x8000).astype(np.int16).view(np.float16)


class P3LLMScore8(Format):
    name = "p3llm_score8"
    family = "p3llm"
    bits = 8
    description = "P3-LLM 8-bit attention score P' = P * v_scale: unsigned E4M4 (bias 15), fp16 round half up"
    default_group_size = None
    options = {}
    rounding = "fp16 cast (RNE), then the top 4 mantissa bits, rounding half up on the 6 dropped bits"
    ties = "half up (away from zero)"
    overflow = "error; the code holds 0 <= x < 1.96875 (use datatypes.p3llm.score_round beyond)"
    scale_rule = "none"
    output_dtype = "float16"
    scale_bits = 0
    #: the values this 8-bit code holds (0 <= x < 1.96875; larger ones round to 2.0 and beyond)
    input_range = (0.0, 1.96875)

    def __init__(self):
        c = np.arange(256, dtype=np.uint16) << 6
        self._table = c.view(np.float16).astype(np.float64)
        self.levels = self._table.copy()

    def code_values(self, meta: int = 0) -> np.ndarray:
        return self._table.copy()

    def _prepare_input(self, arr):
        return arr     # rounded by score_round (fp16 cast of the original values)

    def _quantize2d(self, x, g, opts):
        r = score_round(x)
        bits = r.view(np.uint16)
        bad = (bits >> 14) != 0            # negative, or rounded to 2.0 or more
        if bad.any():
            i = tuple(int(v) for v in np.argwhere(bad)[0])
            raise InputError(f"p3llm_score8 holds 0 <= x < 1.96875 (unsigned E4M4, bias 15); x{list(i)} = "
                             f"{float(x[i]):g} is outside (datatypes.p3llm.score_round emulates any value)")
        return ((bits >> 6) & 0xFF).astype(np.uint8), None, None, None

    def _dequantize2d(self, codes, scales, meta, g, tensor_scale, opts):
        return (codes.astype(np.uint16) << 6).view(np.float16)


register(P3LLMFP8(), ("p3llm_a8",))
register(P3LLMKV4())
register(P3LLMScore8())
