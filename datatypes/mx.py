"""OCP microscaling formats: MXFP4 (E2M1 elements), MXINT8 and MXINT4, 32 elements per E8M0 shared scale.

MXFP4, rule "ocp" (microxcaling / ``quant_mxfp4_naive``; spec §3.8):
    e = clamp(floor(log2(amax)) - 2, -127, 127)     # 2 = emax of E2M1; amax 0 -> log2(2**-126)
    q = e2m1_round(w / 2**e), clamped to +-6
MXFP4, rule "better" (``quant_mxfp4`` of NVFP4-RaZeR; spec §3.8): scale first, round the exponent up
so nothing overflows:
    e = clamp(ceil(log2(fp32(amax / 6))), -126, 127),   q = e2m1_round(w / 2**e)
MXINT8 (microxcaling, ``ElemFormat.int8``: 1.6 fixed point, emax 0):
    e = clamp(floor(log2(amax)), -127, 127),  q = clamp(round_half_away(w / 2**e * 64), -127, 127)
MXINT4 (microxcaling, ``ElemFormat.int4``: 1.2 fixed point, emax 0; not in the OCP v1.0 spec, which
defines MXINT8 only -- the edge-LLM accelerators that use "MXINT4" follow this extension):
    e = clamp(floor(log2(amax)), -127, 127),  q = clamp(round_half_away(w / 2**e * 4), -7, 7)

``e2m1_round`` is the reference "formula" rounding (spec §1.2), computed step by step in float32:
    p = max(floor(log2(|x|)), 0);  m = x / 2**p * 2;  m = sign(m) * floor(|m| + 0.5);  q = m * 2**p / 2
i.e. nearest E2M1 value with ties away from zero (2.5 -> 3), unlike the codebook quantizer (2.5 -> 2).
log2 is PyTorch's float32 log2 (exact log2 rounded to float32). Dequantized values q * 2**e are exact
in float32 and in the bfloat16 the reference casts to.
"""

from __future__ import annotations

import numpy as np
from ._jit import njit

from .format import Format, check_choice, per_element, unique_levels
from .minifloat import E2M1, absmax_f32, ceil_log2_f32, exp2_f32, f32_bits, floor_log2_f32, log2_f32
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
    m = torch_sign(m) * np.floor(abs(m) + np.float32(0.5))
    return m * p2 / np.float32(2.0)


@njit(cache=True, inline="always")
def torch_sign(m):
    """torch.sign of a float32: -1, +1, or +0 for either zero (so sign(-0.0) * 0 = +0.0, and a
    negative value that rounds to zero gives -1 * 0 = -0.0)."""
    return np.float32(m > np.float32(0.0)) - np.float32(m < np.float32(0.0))


@njit(cache=True, inline="always")
def e2m1_code(q, lut):
    """E2M1 code of an E2M1 value ``q`` (|q| <= 6), sign bit from the float's sign bit, so -0.0
    gives the negative-zero code 0x8 (as ml_dtypes / torch casts do). The table index is bounded
    (|q| > 6, inf or NaN read the last entry), never a read outside the table."""
    t = abs(q) * np.float32(2.0)
    c = lut[np.int64(t)] if t < np.float32(lut.shape[0]) else lut[lut.shape[0] - 1]
    return c | np.uint8(8) if f32_bits(q) >> 31 else c


#: The formula rounding on |v| as thresholds: magnitude code = #{t in T : |v| >= t}. Exactly the
#: reference's float32 steps (ties away from zero), including its one float32 quirk: just below 0.25,
#: 2|v| + 0.5 rounds up to 1.0, so 0.25 - 2**-26 already rounds to 0.5 (tests/test_mx.py derives
#: these by bisection from e2m1_round and checks every float32 near each threshold).
E2M1_FORMULA_THRESHOLDS = np.array([0.25 - 2.0 ** -26, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0], dtype=np.float32)


@njit(cache=True, error_model="numpy")
def _mxfp4_kernel(x, g, better, th, codes, scales):
    """codes = formula-rounded E2M1 of x / 2**e by thresholds on |x| * 2**-e (exact: a power-of-two
    scale makes x / p and x * (1 / p) the same correctly rounded value); sign bit for x / p < 0 (so
    -0.0 and values that underflow to -0.0 give +0, as torch.sign does). Values beyond 6 saturate
    to code 7, which is the 'ocp' clamp; the 'better' rule never exceeds 6 (+ rounding)."""
    rows, cols = x.shape
    tiny = np.float32(2.0 ** -126)
    six = np.float32(6.0)
    t0, t1, t2, t3, t4, t5, t6 = th[0], th[1], th[2], th[3], th[4], th[5], th[6]
    for r in range(rows):
        xr = x[r]
        cr = codes[r]
        for j in range(scales.shape[1]):
            s = j * g
            e = min(s + g, cols)
            amax = absmax_f32(xr[s:e], e - s)
            if better:
                sc = amax / six
                ex = ceil_log2_f32(sc + tiny if sc == np.float32(0.0) else sc)
                ex = min(max(ex, np.float32(-126.0)), np.float32(127.0))
            else:
                ex = floor_log2_f32(amax + tiny if amax == np.float32(0.0) else amax) - np.float32(2.0)
                ex = min(max(ex, np.float32(-127.0)), np.float32(127.0))
            scales[r, j] = np.uint8(np.int64(ex) + 127)
            inv = exp2_f32(-ex)
            for k in range(s, e):
                v = xr[k] * inv
                a = abs(v)
                c = ((a >= t0) + (a >= t1) + (a >= t2) + (a >= t3) + (a >= t4) + (a >= t5) + (a >= t6)
                     + 8 * (v < np.float32(0.0)))
                cr[k] = np.uint8(c)


@njit(cache=True, error_model="numpy")
def _mxint_kernel(x, g, mul, qmax, mask, codes, scales):
    """MXINT<b>: E8M0 scale floor(log2 amax) (element emax 0), elements round_half_away(w / 2**e * mul)
    clamped to +-qmax, stored as b-bit two's complement (``mask``). MXINT8: mul 64, qmax 127;
    MXINT4: mul 4, qmax 7 (microxcaling ``ElemFormat.int8`` / ``int4``)."""
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
                m = x[r, k] / p * mul
                m = torch_sign(m) * np.floor(abs(m) + np.float32(0.5))
                m = min(max(m, -qmax), qmax)
                codes[r, k] = np.uint8(np.int64(m) & mask)


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
        self.levels = unique_levels(E2M1.table)
        self._table = E2M1.table.copy()
        self._table32 = self._table.astype(np.float32)   # code 0x8 = -0.0 (negative inputs rounding to 0)

    def _validate_options(self, opts):
        check_choice(self, opts, "rule", ("ocp", "better"))

    def _kernel(self, x, g, opts, codes, scales):
        _mxfp4_kernel(x, g, opts["rule"] == "better", E2M1_FORMULA_THRESHOLDS, codes, scales)


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
        self.levels = unique_levels(self._table[np.isfinite(self._table)])
        self._table32 = np.nan_to_num(self._table).astype(np.float32)

    #: element fixed point: value = code / mul; largest |code|
    mul, qmax = 64.0, 127

    def _kernel(self, x, g, opts, codes, scales):
        _mxint_kernel(x, g, np.float32(self.mul), np.float32(self.qmax), np.int64((1 << self.bits) - 1),
                      codes, scales)

    def _negative_zeros(self, x, g, codes, scales, meta, opts):
        # microxcaling: sign(m) * floor(|m| + 0.5) is -0.0 for a negative m (not -0.0) rounding to 0
        p = np.exp2(per_element(scales.astype(np.float32) - np.float32(127), g, x.shape[1]))
        return ((x / p * np.float32(self.mul)) < 0) & (codes == 0)


class MXINT4(MXINT8):
    name = "mxint4"
    bits = 4
    description = "MXINT4 (microxcaling int4): 4-bit two's complement 1.2 fixed point, E8M0 scale per 32"
    rounding = "nearest multiple of 2**-2 (microxcaling 'nearest')"
    overflow = "clamp; to +-7/4 (code -8 never produced)"
    mul, qmax = 4.0, 7

    def __init__(self):
        c = np.arange(16, dtype=np.float64)
        self._table = np.where(c >= 8, c - 16, c) / 4.0
        self._table[8] = np.nan
        self.levels = unique_levels(self._table[np.isfinite(self._table)])
        self._table32 = np.nan_to_num(self._table).astype(np.float32)


register(MXFP4(), ("mxfp4_e2m1",))
register(MXINT8())
register(MXINT4())

