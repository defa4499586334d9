"""OCP microscaling formats: MXFP4 (E2M1 elements) and MXINT8, 32 elements per E8M0 shared scale.

MXFP4, rule "ocp" (microxcaling / ``quant_mxfp4_naive``; spec §3.8):
    e = clamp(floor(log2(amax)) - 2, -127, 127)     # 2 = emax of E2M1; amax 0 -> log2(2**-126)
    q = e2m1_round(w / 2**e), clamped to +-6
MXFP4, rule "better" (``quant_mxfp4`` of NVFP4-RaZeR; spec §3.8): scale first, round the exponent up
so nothing overflows:
    e = clamp(ceil(log2(fp32(amax / 6))), -126, 127),   q = e2m1_round(w / 2**e)
MXINT8 (microxcaling, ``ElemFormat.int8``: 1.6 fixed point, emax 0):
    e = clamp(floor(log2(amax)), -127, 127),  q = clamp(round_half_away(w / 2**e * 64), -127, 127)

``e2m1_round`` is the reference "formula" rounding (spec §1.2), computed step by step in float32:
    p = max(floor(log2(|x|)), 0);  m = x / 2**p * 2;  m = sign(m) * floor(|m| + 0.5);  q = m * 2**p / 2
i.e. nearest E2M1 value with ties away from zero (2.5 -> 3), unlike the codebook quantizer (2.5 -> 2).
log2 is PyTorch's float32 log2 (exact log2 rounded to float32). Dequantized values q * 2**e are exact
in float32 and in the bfloat16 the reference casts to.
"""

from __future__ import annotations

import numpy as np
from ._jit import njit

from .format import Format, check_choice
from .minifloat import E2M1, log2_f32
from .registry import register

#: E2M1 code of each |value| * 2 in 0..12 (magnitudes 0, .5, 1, 1.5, 2, 3, 4, 6); 255 = not a value.
_E2M1_CODE_OF_TWICE = np.array([0, 1, 2, 3, 4, 255, 5, 255, 6, 255, 255, 255, 7], dtype=np.uint8)


@njit(cache=True, inline="always")
def e2m1_round(x):
    """Reference formula rounding of float32 ``x`` to E2M1 (ties away from zero), float32 result.

    The binade p = max(floor(log2 |x|), 0) is found by comparisons (exact), where the reference takes
    the floor of PyTorch's float32 log2. The two differ only for |x| a few ulps below a power of two,
    where log2 rounds up to the integer; there both choices round |x| to that power of two, so the
    result is identical (tests/test_mx.py checks this around every power of two).
    """
    a = abs(x)
    if a < np.float32(8.0):
        p2 = np.float32(1.0) + np.float32(a >= np.float32(2.0)) + np.float32(2.0) * np.float32(a >= np.float32(4.0))
    else:
        p2 = np.float32(2.0) ** np.floor(log2_f32(a))
    m = x / p2 * np.float32(2.0)
    m = np.float32(np.sign(m)) * np.floor(abs(m) + np.float32(0.5))
    return m * p2 / np.float32(2.0)


@njit(cache=True, inline="always")
def e2m1_code(q, lut):
    """E2M1 code of an E2M1 value ``q`` (|q| <= 6); zero (either sign) gives code 0."""
    c = lut[np.int64(abs(q) * np.float32(2.0))]
    return c | np.uint8(8) if q < 0 else c


@njit(cache=True, error_model="numpy")
def _mxfp4_kernel(x, g, better, lut, codes, scales):
    rows, cols = x.shape
    tiny = np.float32(2.0 ** -126)
    six = np.float32(6.0)
    for r in range(rows):
        for j in range(scales.shape[1]):
            s = j * g
            e = min(s + g, cols)
            amax = np.float32(0.0)
            for k in range(s, e):
                a = abs(x[r, k])
                amax = a if a > amax else amax
            if better:
                sc = amax / six
                ex = np.ceil(log2_f32(sc + tiny if sc == np.float32(0.0) else sc))
                ex = min(max(ex, np.float32(-126.0)), np.float32(127.0))
            else:
                ex = np.floor(log2_f32(amax + tiny if amax == np.float32(0.0) else amax)) - np.float32(2.0)
                ex = min(max(ex, np.float32(-127.0)), np.float32(127.0))
            scales[r, j] = np.uint8(np.int64(ex) + 127)
            p = np.float32(2.0) ** ex
            for k in range(s, e):
                q = e2m1_round(x[r, k] / p)
                if not better:
                    q = min(max(q, -six), six)
                codes[r, k] = e2m1_code(q, lut)


@njit(cache=True, error_model="numpy")
def _mxint8_kernel(x, g, codes, scales):
    rows, cols = x.shape
    tiny = np.float32(2.0 ** -126)
    for r in range(rows):
        for j in range(scales.shape[1]):
            s = j * g
            e = min(s + g, cols)
            amax = np.float32(0.0)
            for k in range(s, e):
                a = abs(x[r, k])
                amax = a if a > amax else amax
            ex = np.floor(log2_f32(amax + tiny if amax == np.float32(0.0) else amax))
            ex = min(max(ex, np.float32(-127.0)), np.float32(127.0))
            scales[r, j] = np.uint8(np.int64(ex) + 127)
            p = np.float32(2.0) ** ex
            for k in range(s, e):
                m = x[r, k] / p * np.float32(64.0)
                m = np.float32(np.sign(m)) * np.floor(abs(m) + np.float32(0.5))
                m = min(max(m, np.float32(-127.0)), np.float32(127.0))
                codes[r, k] = np.uint8(np.int64(m) & 0xFF)


@njit(cache=True)
def _dequantize_kernel(codes, scale_codes, g, table, out):
    rows, cols = codes.shape
    for r in range(rows):
        for k in range(cols):
            p = np.float32(2.0) ** np.float32(np.int64(scale_codes[r, k // g]) - 127)
            out[r, k] = table[codes[r, k]] * p


class MXFormat(Format):
    family = "microscaling"
    default_group_size = 32
    group_sizes = (32,)
    scale_bits = 8
    output_dtype = "bfloat16"

    def _quantize2d(self, x, g, opts):
        rows, cols = x.shape
        codes = np.empty((rows, cols), dtype=np.uint8)
        scales = np.empty((rows, -(-cols // g)), dtype=np.uint8)
        self._kernel(x, g, opts, codes, scales)
        return codes, scales, None, None

    def _dequantize2d(self, codes, scales, meta, g, tensor_scale, opts):
        out = np.empty(codes.shape, dtype=np.float32)
        _dequantize_kernel(codes, scales, g, self._table32, out)
        return out

    def code_values(self, meta: int = 0) -> np.ndarray:
        return self._table.copy()


class MXFP4(MXFormat):
    name = "mxfp4"
    bits = 4
    description = "OCP MXFP4: E2M1 elements, E8M0 scale per 32"
    options = {"rule": "ocp"}
    rounding = "nearest E2M1 value by the reference formula (float32 steps)"
    ties = "away from zero"
    overflow = "clamp (ocp) / none (better); rule 'ocp' clamps to +-6, rule 'better' rounds the scale up"
    scale_rule = ("E8M0 per 32 (scales = biased exponent codes, 2**(code-127)); rule 'ocp': "
                  "floor(log2 amax) - 2; rule 'better': ceil(log2(amax / 6))")

    def __init__(self):
        self.levels = np.unique(E2M1.table)
        self._table = E2M1.table.copy()
        self._table[8] = np.nan                 # -0 is never produced
        self._table32 = np.nan_to_num(self._table).astype(np.float32)

    def _validate_options(self, opts):
        check_choice(self, opts, "rule", ("ocp", "better"))

    def _kernel(self, x, g, opts, codes, scales):
        _mxfp4_kernel(x, g, opts["rule"] == "better", _E2M1_CODE_OF_TWICE, codes, scales)


class MXINT8(MXFormat):
    name = "mxint8"
    bits = 8
    description = "OCP MXINT8: 8-bit two's complement 1.6 fixed point, E8M0 scale per 32"
    options = {}
    rounding = "nearest multiple of 2**-6 (microxcaling 'nearest')"
    ties = "away from zero"
    overflow = "clamp; to +-127/64 (code -128 never produced)"
    scale_rule = "E8M0 per 32: floor(log2 amax) (element emax 0)"

    def __init__(self):
        c = np.arange(256, dtype=np.float64)
        self._table = np.where(c >= 128, c - 256, c) / 64.0
        self._table[128] = np.nan
        self.levels = np.unique(self._table[np.isfinite(self._table)])
        self._table32 = np.nan_to_num(self._table).astype(np.float32)

    def _kernel(self, x, g, opts, codes, scales):
        _mxint8_kernel(x, g, codes, scales)


register(MXFP4(), ("mxfp4_e2m1",))
register(MXINT8())

