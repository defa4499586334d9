"""Minifloats (ExMy) with explicit round-to-nearest-even and overflow rules, plus the narrow-float
helpers other formats use for their scales (E4M3, E8M0, bfloat16).

Formats (names as ml_dtypes, codes = ml_dtypes bit patterns, so ``codes.view(ml_dtypes.<type>)`` is
the same array ml_dtypes produces):

    float4_e2m1fn  E2M1, bias 1, no Inf/NaN          max 6      overflow: saturate
    float6_e2m3fn  E2M3, bias 1, no Inf/NaN          max 7.5    overflow: saturate
    float6_e3m2fn  E3M2, bias 3, no Inf/NaN          max 28     overflow: saturate
    float8_e4m3fn  E4M3, bias 7, NaN = S.1111.111    max 448    overflow: NaN
    float8_e5m2    E5M2, bias 15, IEEE Inf/NaN       max 57344  overflow: Inf

Encoding of a finite float32 v (exact, integer arithmetic on its bit pattern): with E = max(floor(log2
|v|), 1 - bias), q = round_half_even(|v| * 2**(M - E)), where q == 2**(M+1) carries into the next
binade; a result above the largest finite value overflows (saturate / NaN / Inf as the format defines,
or ``overflow="saturate"``).
The sign is kept, including that of zero (-0.0 and negative values that round to zero give -0).

``scaling="absmax"`` (default) divides each group by the fp32 scale absmax / max_finite first, like
every other format of the library; ``scaling="none"`` is the plain cast (what ml_dtypes does).
"""

from __future__ import annotations

import math

import numpy as np
from ._jit import njit, types
from ._jit import intrinsic

from .format import Format, check_choice, unique_levels
from .registry import register

STYLE_FINITE, STYLE_FN, STYLE_IEEE = 0, 1, 2   # no Inf/NaN | only all-ones NaN | IEEE Inf/NaN


@intrinsic
def f32_bits(typingctx, x):
    """The IEEE bit pattern of a float32 as uint32 (a register bitcast)."""
    if x != types.float32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.uint32))

    return types.uint32(types.float32), codegen


@njit(cache=True, inline="always")
def encode(v, mbits, bias, max_mag, sign_shift, overflow_code):
    """Code of finite float32 ``v`` in a minifloat with ``mbits`` mantissa bits and exponent ``bias``,
    rounded to nearest, ties to even, exactly (integer arithmetic on the float32 bit pattern).

    ``max_mag`` is the largest finite magnitude code; larger results give ``overflow_code``
    (without sign). The sign is kept, zero included."""
    u = np.int64(f32_bits(np.float32(v)))
    sign = (u >> 31) << sign_shift
    a = u & 0x7FFFFFFF
    e32 = a >> 23
    if e32 == 0:                       # zero or a float32 subnormal (below every target's range)
        return np.uint8(sign)
    e = e32 - 127
    if e >= 1 - bias:                  # normal in the target: round the mantissa, carry into exponent
        sh = 23 - mbits
        r = (a + ((1 << (sh - 1)) - 1) + ((a >> sh) & 1)) >> sh
        mag = r - ((127 - bias) << mbits)
    else:                              # subnormal in the target: round the significand
        sh = 23 - mbits + (1 - bias - e)
        if sh > 25:
            return np.uint8(sign)
        m = (a & 0x7FFFFF) | 0x800000
        mag = (m + ((1 << (sh - 1)) - 1) + ((m >> sh) & 1)) >> sh
    if mag > max_mag:
        return np.uint8(sign | overflow_code)
    return np.uint8(sign | mag)


@njit(cache=True, inline="always")
def log2_f32(a):
    """float32 log2 as PyTorch computes it on CPU: the exact log2 rounded to float32 (so the floor or
    ceil of it equals torch.floor/ceil(torch.log2(a)), including just below/above powers of two)."""
    return np.float32(np.log2(np.float64(a)))


@njit(cache=True, inline="always")
def floor_log2_f32(a):
    """floor(log2_f32(a)) for a finite float32 a > 0, from the exponent field where the float32 log2
    cannot round up to the next integer (the rare rest takes the log2 path)."""
    u = np.int64(f32_bits(np.float32(a)))
    field = (u >> 23) & 0xFF
    mant = u & 0x7FFFFF
    if field == 0 or mant >= 0x7FFF00:
        return np.floor(log2_f32(a))
    return np.float32(field - 127)


@njit(cache=True, inline="always")
def ceil_log2_f32(a):
    """ceil(log2_f32(a)) for a finite float32 a > 0 (as floor_log2_f32, for the round-down side)."""
    u = np.int64(f32_bits(np.float32(a)))
    field = (u >> 23) & 0xFF
    mant = u & 0x7FFFFF
    if field == 0 or (mant != 0 and mant < 0x100):
        return np.ceil(log2_f32(a))
    return np.float32(field - 127 + (1 if mant != 0 else 0))


@njit(cache=True, inline="always")
def exp2_f32(e):
    """2**e as float32 for an integer-valued e in [-149, 127] (bit construction for normal results)."""
    i = np.int64(e)
    if i >= -126:
        return bits_to_f32(np.int64(i + 127) << 23)
    return np.float32(2.0) ** np.float32(e)


@intrinsic
def bits_to_f32(typingctx, u):
    """float32 whose bit pattern is the low 32 bits of the int64 ``u``."""
    if u != types.int64:
        return None

    def codegen(context, builder, signature, args):
        lo = builder.trunc(args[0], context.get_value_type(types.uint32))
        return builder.bitcast(lo, context.get_value_type(types.float32))

    return types.float32(types.int64), codegen


@njit(cache=True, inline="always")
def absmax_f32(xg, n):
    """max |xg[:n]| of float32 values (finite: validated before any kernel), with 8 independent
    running maxima so that the loop vectorizes (max is exact, so the order does not matter; a
    single running max is a loop-carried select chain that does not)."""
    z = np.float32(0.0)
    a0 = z
    a1 = z
    a2 = z
    a3 = z
    a4 = z
    a5 = z
    a6 = z
    a7 = z
    n8 = n - n % 8
    for k in range(0, n8, 8):
        v0 = abs(xg[k])
        v1 = abs(xg[k + 1])
        v2 = abs(xg[k + 2])
        v3 = abs(xg[k + 3])
        v4 = abs(xg[k + 4])
        v5 = abs(xg[k + 5])
        v6 = abs(xg[k + 6])
        v7 = abs(xg[k + 7])
        a0 = v0 if v0 > a0 else a0
        a1 = v1 if v1 > a1 else a1
        a2 = v2 if v2 > a2 else a2
        a3 = v3 if v3 > a3 else a3
        a4 = v4 if v4 > a4 else a4
        a5 = v5 if v5 > a5 else a5
        a6 = v6 if v6 > a6 else a6
        a7 = v7 if v7 > a7 else a7
    for k in range(n8, n):
        v = abs(xg[k])
        a0 = v if v > a0 else a0
    a0 = a1 if a1 > a0 else a0
    a2 = a3 if a3 > a2 else a2
    a4 = a5 if a5 > a4 else a4
    a6 = a7 if a7 > a6 else a6
    a0 = a2 if a2 > a0 else a0
    a4 = a6 if a6 > a4 else a4
    return a4 if a4 > a0 else a0


class MinifloatSpec:
    """Bit layout of an ExMy minifloat and its exact decode table."""

    def __init__(self, ebits: int, mbits: int, bias: int, style: int):
        self.ebits, self.mbits, self.bias, self.style = ebits, mbits, bias, style
        self.bits = 1 + ebits + mbits
        self.table = np.array([self._decode(c) for c in range(1 << self.bits)])
        finite = self.table[np.isfinite(self.table)]
        self.max_finite = float(finite.max())
        self.max_code = int(np.nonzero(self.table == self.max_finite)[0][0])
        self.nan_code = {STYLE_FINITE: None, STYLE_FN: (1 << (self.bits - 1)) - 1,
                         STYLE_IEEE: ((1 << ebits) - 1) << mbits | (1 << (mbits - 1))}[style]
        self.inf_code = ((1 << ebits) - 1) << mbits if style == STYLE_IEEE else None

    def _decode(self, code: int) -> float:
        sign = -1.0 if code >> (self.ebits + self.mbits) else 1.0
        field = (code >> self.mbits) & ((1 << self.ebits) - 1)
        man = code & ((1 << self.mbits) - 1)
        top = (1 << self.ebits) - 1
        if self.style == STYLE_IEEE and field == top:
            return sign * math.inf if man == 0 else math.nan
        if self.style == STYLE_FN and field == top and man == (1 << self.mbits) - 1:
            return math.nan
        if field == 0:
            return sign * math.ldexp(man, 1 - self.bias - self.mbits)
        return sign * math.ldexp((1 << self.mbits) | man, field - self.bias - self.mbits)

    def overflow_code(self, rule: str) -> int:
        return {"saturate": self.max_code, "nan": self.nan_code, "inf": self.inf_code}[rule]

    def encode_array(self, x: np.ndarray, overflow: str = "default") -> np.ndarray:
        """Codes of a float array (finite values), round-to-nearest-even."""
        rule = default_overflow(self) if overflow == "default" else overflow
        flat = np.ascontiguousarray(x, dtype=np.float32).ravel()
        out = np.empty(flat.shape, dtype=np.uint8)
        _encode_array(flat, self.mbits, self.bias, self.max_code, self.bits - 1,
                      np.uint8(self.overflow_code(rule)), out)
        return out.reshape(np.shape(x))


def default_overflow(spec: MinifloatSpec) -> str:
    return {STYLE_FINITE: "saturate", STYLE_FN: "nan", STYLE_IEEE: "inf"}[spec.style]


@njit(cache=True)
def _encode_array(flat, mbits, bias, max_mag, sign_shift, overflow_code, out):
    for i in range(flat.shape[0]):
        out[i] = encode(flat[i], mbits, bias, max_mag, sign_shift, overflow_code)


@njit(cache=True, error_model="numpy")
def _quantize_kernel(x, g, mbits, bias, max_finite, max_mag, sign_shift, overflow_code, scaled, codes, scales):
    rows, cols = x.shape
    maxf = np.float32(max_finite)
    for r in range(rows):
        for j in range(scales.shape[1]):
            s = j * g
            e = min(s + g, cols)
            scale = np.float32(1.0)
            if scaled:
                scale = absmax_f32(x[r, s:e], e - s) / maxf
                if scale == np.float32(0.0):
                    scale = np.float32(1.0)   # all-zero group: plain cast keeps the zeros' signs
            scales[r, j] = scale
            for k in range(s, e):
                codes[r, k] = encode(x[r, k] / scale, mbits, bias, max_mag, sign_shift, overflow_code)


@njit(cache=True)
def _dequantize_kernel(codes, scales, g, table, out):
    rows, cols = codes.shape
    for r in range(rows):
        for k in range(cols):
            out[r, k] = table[codes[r, k]] * scales[r, k // g]


class MinifloatFormat(Format):
    family = "minifloat"
    rounding = "round to nearest, ties to even (IEEE 754 roundTiesToEven), exact"
    ties = "to even"
    default_group_size = 128

    def __init__(self, name: str, ebits: int, mbits: int, bias: int, style: int, description: str):
        self.name = name
        self.spec = MinifloatSpec(ebits, mbits, bias, style)
        self.bits = self.spec.bits
        self.description = description
        table = self.spec.table
        self.levels = unique_levels(table[np.isfinite(table)])
        self._default_overflow = default_overflow(self.spec)
        allowed = ["saturate"] + ([self._default_overflow] if self._default_overflow != "saturate" else [])
        self._overflow_choices = tuple(allowed)
        self.overflow = {"saturate": f"saturate; to +-{self.spec.max_finite:g} (no Inf/NaN codes)",
                         "nan": f"NaN; above {self.spec.max_finite:g} (option overflow='saturate' clamps)",
                         "inf": f"Inf; above {self.spec.max_finite:g} (option overflow='saturate' clamps)"
                         }[self._default_overflow]
        self.options = {"scaling": "absmax", "overflow": self._default_overflow}
        self.scale_rule = (f"scaling='absmax': per group fp32 absmax / {self.spec.max_finite:g} (not quantized); "
                           "scaling='none': no scale (plain cast)")
        self._table32 = np.where(np.isnan(table), np.nan, table).astype(np.float32)

    def _validate_options(self, opts):
        check_choice(self, opts, "scaling", ("absmax", "none"))
        check_choice(self, opts, "overflow", self._overflow_choices)

    def code_values(self, meta: int = 0) -> np.ndarray:
        return self.spec.table.copy()

    def _overflow_is_nonfinite(self, opts) -> bool:
        return opts["overflow"] in ("nan", "inf") and opts["scaling"] == "none"

    def _quantize2d(self, x, g, opts):
        rows, cols = x.shape
        scaled = opts["scaling"] == "absmax"
        if not scaled:
            g = cols
        codes = np.empty((rows, cols), dtype=np.uint8)
        scales = np.empty((rows, -(-cols // g)), dtype=np.float32)
        sp = self.spec
        _quantize_kernel(x, g, sp.mbits, sp.bias, sp.max_finite, sp.max_code, sp.bits - 1,
                         np.uint8(sp.overflow_code(opts["overflow"])), scaled, codes, scales)
        return codes, (scales if scaled else None), None, None

    def _dequantize2d(self, codes, scales, meta, g, tensor_scale, opts):
        out = np.empty(codes.shape, dtype=np.float32)
        if scales is None:
            scales, g = np.ones((codes.shape[0], 1), np.float32), codes.shape[1]
        _dequantize_kernel(codes, scales, g, self._table32, out)
        return out


E2M1 = MinifloatSpec(2, 1, 1, STYLE_FINITE)
E4M3 = MinifloatSpec(4, 3, 7, STYLE_FN)


def e4m3_rne(v: np.ndarray) -> np.ndarray:
    """float32 values rounded to the nearest E4M3 (fn) value, ties to even (torch's
    ``.to(torch.float8_e4m3fn).to(float32)`` for 0 <= v <= 448)."""
    return E4M3.table[E4M3.encode_array(v, "saturate")].astype(np.float32)


def round_to_bf16(x: np.ndarray) -> np.ndarray:
    """float32 -> nearest bfloat16 (ties to even), returned as float32 (torch ``.to(bfloat16)``)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    r = (u + np.uint32(0x7FFF) + ((u >> 16) & np.uint32(1))) & np.uint32(0xFFFF0000)
    return r.view(np.float32)


for _args, _aliases in [
    (("float4_e2m1fn", 2, 1, 1, STYLE_FINITE, "OCP FP4 E2M1 minifloat (RNE cast; cf. codebook 'fp4_basic')"),
     ("fp4_e2m1fn",)),
    (("float6_e2m3fn", 2, 3, 1, STYLE_FINITE, "OCP FP6 E2M3 minifloat"), ("e2m3", "fp6_e2m3")),
    (("float6_e3m2fn", 3, 2, 3, STYLE_FINITE, "OCP FP6 E3M2 minifloat"), ("e3m2", "fp6_e3m2")),
    (("float8_e4m3fn", 4, 3, 7, STYLE_FN, "FP8 E4M3 (fn: no Inf, one NaN)"), ("e4m3", "fp8_e4m3")),
    (("float8_e5m2", 5, 2, 15, STYLE_IEEE, "FP8 E5M2 (IEEE-like Inf/NaN)"), ("e5m2", "fp8_e5m2")),
]:
    register(MinifloatFormat(*_args), _aliases)
