"""P3-LLM operand formats (spec §6.1), bit-exact with ``wkvaq_quant/quantize/quantizer.py`` of
yc2367/P3-LLM @ ef63537. The reference quantizers compute in the dtype of the tensor they are given:
option ``compute="input"`` (default) does the same, so float16 input is quantized op by op in fp16
(as PyTorch computes it: each op in float32, rounded to fp16) and gives float16 output, and float32
input (or float64, bfloat16: cast to float32 first) is computed in float32 and gives float32
output. ``compute="fp16"`` / ``"fp32"`` force one (fp16 rounds the input to fp16 first, as the
model does). The formulas below write fp16(...) for that rounding (the identity in fp32).
(``p3llm_score8`` is always fp16: ``p_quant_per_block`` casts its input to fp16.)

``p3llm_fp8`` -- FP8-E4M3 activations (``a_quant_per_token``; per token = group_size None, the
    default; ``q_quant_per_head`` = group_size head_dim):
        s = max(fp16(amax / 448), fp16(1e-6));  y = fp16(x / s)
        q = E4M3 value of y, round to nearest even (the reference's exponent/mantissa formula,
            exponent clamped at -6, is exactly that), with the sign of x (torch.sign: +0 for
            x = -0.0, so -0.0 only for negative x that round to 0);  x_hat = fp16(q * s)
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
from .format import Format, unique_levels
from .minifloat import E4M3, encode
from .registry import register
from .format import DEFAULT, check_choice
from .torchops import as_fp16_values, f16r, fp16_input_lazy, raise_fp16_overflow

_E4M3_MIN_SCALE = np.float32(np.float16(1e-6))
_MIN_SCALE_F32 = np.float32(1e-6)


@njit(cache=True, inline="always")
def _r(x, half):
    """One op's result in the compute dtype: fp16 rounding, or float32 as is."""
    return f16r(x) if half else x


class _ComputeDtype(Format):
    """P3-LLM formats compute in the input's dtype (option ``compute``)."""

    output_dtype = "float16 for float16 input (compute='fp16'), float32 otherwise (compute='fp32')"

    def quantize(self, x, group_size=DEFAULT, **options):
        if options.get("compute", "input") == "input":
            dtype = getattr(x, "dtype", None)
            options["compute"] = "fp16" if dtype == np.float16 else "fp32"
        return super().quantize(x, group_size, **options)

    def _validate_options(self, opts):
        check_choice(self, opts, "compute", ("input", "fp16", "fp32"))

    def _prepare_input_opts(self, arr, opts):
        if opts["compute"] == "fp32":
            return arr.astype(np.float32, copy=False)
        return fp16_input_lazy(arr)

    @staticmethod
    def _half(opts) -> bool:
        return opts["compute"] != "fp32"

    @staticmethod
    def _min_scale(opts):
        return _E4M3_MIN_SCALE if opts["compute"] != "fp32" else _MIN_SCALE_F32

    @staticmethod
    def _out(out, opts):
        return out.astype(np.float16) if opts["compute"] != "fp32" else out
E4M3_MAX_CODE = E4M3.max_code          # 0x7E = 448


# ---- FP8-E4M3 per token -----------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _fp8_kernel(x, g, smin, half, codes, scales):
    rows, cols = x.shape
    ok = True
    for r in range(rows):
        for j in range(scales.shape[1]):
            s = j * g
            xg = x[r, s:min(s + g, cols)]
            amax = np.float32(0.0)
            for i in range(xg.shape[0]):
                a = abs(_r(xg[i], half))
                amax = a if a > amax else amax
            ok = ok and amax <= np.float32(65504.0)
            sc = max(_r(amax / np.float32(448.0), half), smin)
            scales[r, j] = sc
            for i in range(xg.shape[0]):
                v = _r(xg[i], half)
                y = _r(v / sc, half)
                c = encode(y, 3, 7, E4M3_MAX_CODE, 7, np.uint8(0x7F))
                # the sign is torch.sign(x): +0 for x = -0.0, -1 for any x < 0 (even if y is -0)
                if v == np.float32(0.0):
                    c = np.uint8(0)
                elif v < np.float32(0.0):
                    c = c | np.uint8(0x80)
                codes[r, s + i] = c
    return ok or not half


@njit(cache=True)
def _scaled_f16_kernel(codes, scales, g, table, half, out):
    rows, cols = codes.shape
    for r in range(rows):
        for i in range(cols):
            out[r, i] = _r(table[codes[r, i]] * scales[r, i // g], half)


class P3LLMFP8(_ComputeDtype):
    name = "p3llm_fp8"
    family = "p3llm"
    bits = 8
    description = ("P3-LLM FP8-E4M3 activations: per-token (or per-group) absmax / 448 scale; computed in "
                   "the input dtype (fp16 or fp32)")
    default_group_size = None
    options = {"compute": "input"}
    rounding = "round to nearest, ties to even (E4M3 grid, exponent clamped at -6), on x / s in the compute dtype"
    ties = "to even"
    overflow = "none; amax maps to 448"
    scale_rule = ("per token (group): amax / 448, at least 1e-6, in the compute dtype (fp16 or fp32), "
                  "not quantized")
    scale_bits = 16

    def __init__(self):
        self.levels = unique_levels(E4M3.table[np.isfinite(E4M3.table)])
        self._table = E4M3.table.copy()
        self._table32 = np.nan_to_num(self._table).astype(np.float32)

    def code_values(self, meta: int = 0) -> np.ndarray:
        return self._table.copy()

    def storage_bits(self, opts):
        return (16 if self._half(opts) else 32), 0, 0

    def _quantize2d(self, x, g, opts):
        rows, cols = x.shape
        codes = np.empty((rows, cols), np.uint8)
        scales = np.empty((rows, -(-cols // g)), np.float32)
        if not _fp8_kernel(x, g, self._min_scale(opts), self._half(opts), codes, scales):
            raise_fp16_overflow(x)
        return codes, scales, None, None

    def _dequantize2d(self, codes, scales, meta, g, tensor_scale, opts):
        out = np.empty(codes.shape, np.float32)
        _scaled_f16_kernel(codes, scales, g, self._table32, self._half(opts), out)
        return self._out(out, opts)

    def pack_group_data(self, scales, meta, opts):
        if not self._half(opts):
            return scales, meta
        return (None if scales is None else scales.astype(np.float16)), meta

    def unpack_group_data(self, scales, meta, opts):
        return (None if scales is None else np.asarray(scales).astype(np.float32)), meta


# ---- INT4 asymmetric KV cache ---------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _kv4_kernel(x, g, kscale, smooth, smin, half, codes, scales, zps):
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
                v = _r(xg[i], half)
                ok = ok and abs(v) <= np.float32(65504.0)
                if smooth:
                    ks = kscale[s + i]
                    v = _r(v / ks, half) if ks != zero else zero
                buf[i] = v
            lo = buf[0]
            hi = buf[0]
            for i in range(n):
                lo = min(lo, buf[i])
                hi = max(hi, buf[i])
            sc = max(_r(_r(hi - lo, half) / fifteen, half), smin)
            zp = min(max(np.rint(_r(-lo / sc, half)), zero), fifteen)
            scales[r, j] = sc
            zps[r, j] = np.uint8(zp)
            for i in range(n):
                q = min(max(np.rint(_r(buf[i] / sc, half)) + zp, zero), fifteen)
                codes[r, s + i] = np.uint8(q)
    return ok or not half


@njit(cache=True)
def _kv4_dequant(codes, scales, zps, g, kscale, smooth, half, out):
    rows, cols = codes.shape
    for r in range(rows):
        for i in range(cols):
            j = i // g
            v = _r((np.float32(codes[r, i]) - np.float32(zps[r, j])) * scales[r, j], half)
            if smooth:
                v = _r(v * kscale[i], half)
            out[r, i] = v


class P3LLMKV4(_ComputeDtype):
    name = "p3llm_kv4"
    family = "p3llm"
    bits = 4
    description = ("P3-LLM INT4 asymmetric KV cache: per token, groups of 128, fp16 scale + 4-bit zero "
                   "point; optional per-channel key smoothing")
    default_group_size = 128
    options = {"smooth": False, "compute": "input"}
    rounding = "round half to even of x / s in the compute dtype (torch.round), plus the zero point"
    ties = "to even"
    overflow = "clamp; to codes 0..15"
    scale_rule = ("per token group: (max - min) / 15 in the compute dtype (at least 1e-6), zero point "
                  "clamp(round(-min / s), 0, 15); smooth=True: columns divided by their max |x| over rows")
    scale_bits = 16
    meta_bits = 4
    tensor_scale_bits = 16
    n_meta = 16

    def __init__(self):
        self.levels = np.arange(16, dtype=np.float64)

    def _validate_options(self, opts):
        super()._validate_options(opts)
        if not isinstance(opts["smooth"], (bool, np.bool_)):
            raise FormatError(f"format 'p3llm_kv4': option smooth={opts['smooth']!r} must be True or False")

    def storage_bits(self, opts):
        b = 16 if self._half(opts) else 32
        return b, 4, b

    def code_values(self, meta: int = 0) -> np.ndarray:
        """Integer value (code - zero point) of each code under zero point ``meta``; x_hat = value * s."""
        return np.arange(16, dtype=np.float64) - int(meta)

    def _quantize2d(self, x, g, opts):
        rows, cols = x.shape
        ng = -(-cols // g)
        codes = np.empty((rows, cols), np.uint8)
        scales = np.empty((rows, ng), np.float32)
        zps = np.empty((rows, ng), np.uint8)
        smooth = bool(opts["smooth"])
        half = self._half(opts)
        if smooth:
            if half:
                kscale, finite = as_fp16_values(np.abs(x).max(axis=0))
                if not finite:
                    raise_fp16_overflow(x)
            else:
                kscale = np.abs(x).max(axis=0).astype(np.float32)
        else:
            kscale = np.ones(1, np.float32)
        if not _kv4_kernel(x, g, kscale, smooth, self._min_scale(opts), half, codes, scales, zps):
            raise_fp16_overflow(x)
        return codes, scales, zps, (kscale if smooth else None)

    def _dequantize2d(self, codes, scales, meta, g, tensor_scale, opts):
        out = np.empty(codes.shape, np.float32)
        smooth = bool(opts["smooth"])
        ks = np.asarray(tensor_scale, np.float32) if smooth else np.ones(1, np.float32)
        _kv4_dequant(codes, scales, meta, g, ks, smooth, self._half(opts), out)
        return self._out(out, opts)

    def pack_group_data(self, scales, meta, opts):
        if not self._half(opts):
            return scales, meta
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
