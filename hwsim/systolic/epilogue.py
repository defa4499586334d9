"""The scale epilogue of a systolic array (``epilogue.scales: fixed``; docs/systolic.md section 12).

Quantized GEMMs carry a weight scale per (K-group, output column) and an activation scale per token
(row of A). The array computes integer partial sums; the epilogue turns them into the exact fixed-point
value of the dequantized operands' matmul::

    S_w[g, n] = weight scale of K-group g, column n     signed ``scale_bits``-bit integers, binary
    S_a[m]    = activation scale of token m             point ``scale_frac``: s = S * 2**-scale_frac
    P_f[m, n] = the array's partial sum of row fold f (R consecutive k, all in one K-group g(f))
    Y[m, n]   = wrap_E( sum_f (P_f[m, n] * S_w[g(f), n]) * S_a[m] )      E = ``epilogue.width``

one term per result write, accumulated in the result memory in fold order with two's-complement
wrap-around (like the MAC). ``Y * 2**-(product_frac + 2*scale_frac)`` is the value. The design rules
(``group_size`` a multiple of the array rows; the accumulator holds a whole group's sum) make every
P_f exact, so by distributivity ``Y = wrap_E(S_a[m] * sum_g S_w[g, n] * P_g[m, n])`` with P_g the
exact per-group integer GEMM -- the definition the model (``reference``) uses.

Scales as the quantizers produce them (fp32 or fp16) become fixed point exactly or not at all
(``to_fixed`` refuses a scale that needs more bits): e.g. ``scale_bits`` 58 with ``scale_frac`` 40 hold
every finite fp16 value and every fp32 value of magnitude in [2**-17, 2**17).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np


class ScaleError(ValueError):
    """A scale with no exact fixed-point representation in the design's epilogue (or a bad array)."""


def to_fixed(scales: Any, bits: int, frac: int, what: str = "scales") -> np.ndarray:
    """Exact fixed-point integers (object array of Python ints) of float scales: ``S = s * 2**frac``,
    which must be an integer within signed ``bits`` bits, else ScaleError naming the first bad one."""
    arr = np.asarray(scales)
    if arr.dtype.kind not in "fiu":
        raise ScaleError(f"{what}: expected a float array, got dtype {arr.dtype}")
    flat = arr.astype(np.float64).ravel()          # fp16 / fp32 -> float64 is exact
    if flat.size and not np.all(np.isfinite(flat)):
        raise ScaleError(f"{what}: non-finite scale {flat[~np.isfinite(flat)][0]!r}")
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    out = np.empty(flat.size, dtype=object)
    for i, v in enumerate(flat.tolist()):
        x = Fraction(v) * (1 << frac)
        if x.denominator != 1 or not lo <= x.numerator <= hi:
            why = "is not a multiple of" if x.denominator != 1 else "does not fit"
            raise ScaleError(f"{what}[{tuple(int(j) for j in np.unravel_index(i, arr.shape))}] = {v!r} {why} 2**-{frac} in a signed "
                             f"{bits}-bit fixed-point scale (epilogue.scale_bits / scale_frac)")
        out[i] = int(x.numerator)
    return out.reshape(arr.shape)


def check_fixed(S: Any, bits: int, shape: tuple[int, ...], what: str) -> np.ndarray:
    """Validate fixed-point scale integers (shape, range); returns an object array of Python ints."""
    arr = np.asarray(S, dtype=object)
    if arr.shape != shape:
        raise ScaleError(f"{what}: shape {arr.shape}, expected {shape}")
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    out = np.empty(arr.shape, dtype=object)
    for i, v in enumerate(arr.ravel().tolist()):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= int(v) <= hi:
            raise ScaleError(f"{what}[{tuple(int(j) for j in np.unravel_index(i, arr.shape))}] = {v!r}: must be an integer in "
                             f"{lo}..{hi} (signed {bits}-bit fixed point)")
        out.flat[i] = int(v)
    return out


def wrap_obj(x: np.ndarray, bits: int) -> np.ndarray:
    """Object array of Python ints reduced to ``bits``-bit two's complement."""
    half, mod = 1 << (bits - 1), 1 << bits
    f = np.frompyfunc(lambda v: ((int(v) + half) % mod) - half, 1, 1)
    return np.asarray(f(x), dtype=object) if np.ndim(x) else f(x)


def reference(a_codes: np.ndarray, w_lanes: np.ndarray, S_w: np.ndarray, S_a: np.ndarray, weight: str,
              activation: str, acc_bits: int, group: int, width: int) -> np.ndarray:
    """The model: exact per-group integer GEMMs (``hwsim.pe.reference_gemm`` on each K-group) scaled and
    summed, ``wrap_E(S_a[m] * sum_g S_w[g, n] * P_g[m, n])``; object array [M, N] of Python ints."""
    from ..pe.model import reference_gemm

    K = a_codes.shape[1]
    Y = None
    for g in range(-(-K // group)):
        k0, k1 = g * group, min(K, (g + 1) * group)
        P = reference_gemm(a_codes[:, k0:k1], w_lanes[k0:k1], weight, activation, acc_bits, checked=True)
        t = P.astype(object) * np.asarray(S_w[g], dtype=object)[None, :]
        Y = t if Y is None else Y + t
    return wrap_obj(Y * np.asarray(S_a, dtype=object)[:, None], width)


def random_scales(rng: np.random.Generator, shape: tuple[int, ...], bits: int, frac: int) -> np.ndarray:
    """Seeded fp16-like scales (11-bit significand, exponents -12..3, a few negative) as fixed point
    (for random workloads; every one exact in the design's representation when frac >= 22)."""
    sig = rng.integers(1 << 10, 1 << 11, size=shape)
    exp = rng.integers(-12 - 10, 3 - 10, size=shape)
    sign = np.where(rng.random(shape) < 0.1, -1, 1)
    out = np.empty(shape, dtype=object)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    for i in range(out.size):
        e = int(exp.flat[i]) + frac
        v = int(sign.flat[i]) * (int(sig.flat[i]) << e if e >= 0 else int(sig.flat[i]) >> -e)
        out.flat[i] = max(lo, min(hi, v))
    return out


def to_float(Y: np.ndarray, frac: int) -> np.ndarray:
    """float64 of fixed-point results (one rounding each, exact when they fit 53 bits)."""
    return np.array([float(Fraction(int(v), 1 << frac)) for v in np.asarray(Y, dtype=object).ravel()],
                    dtype=np.float64).reshape(np.shape(Y))


def is_pow2_scaled(name: str) -> bool:
    """Whether a weight format's group scale is a shared power-of-two exponent: an E8M0 byte per group
    (OCP MX: mxint4, mxfp4, ...; mxfp4_razer*), which ``datatypes`` returns as biased exponent codes."""
    import datatypes as dt

    f = dt.get(name)
    return f.scale_bits == 8 and "E8M0" in str(getattr(f, "scale_rule", ""))


def e8m0_to_float(codes: Any) -> np.ndarray:
    """float64 ``2**(code - 127)`` of E8M0 exponent codes (0 .. 254; 255 is NaN and refused)."""
    c = np.asarray(codes)
    if c.dtype.kind not in "iu" or (c.size and (c.min() < 0 or c.max() > 254)):
        raise ScaleError(f"E8M0 scale codes: expected integers 0..254, got {c.ravel()[:4]!r} (dtype {c.dtype})")
    return np.ldexp(1.0, c.astype(np.int64) - 127)


def random_pow2_scales(rng: np.random.Generator, shape: tuple[int, ...], bits: int, frac: int,
                       lo: int = -12, hi: int = 3) -> np.ndarray:
    """Seeded power-of-two scales ``2**e`` (e uniform in lo..hi, clipped to what the signed ``bits``-bit,
    binary point ``frac`` representation holds) as fixed point: MX E8M0 group scales."""
    e = rng.integers(max(lo, -frac), min(hi, bits - 2 - frac) + 1, size=shape)
    out = np.empty(shape, dtype=object)
    for i in range(out.size):
        out.flat[i] = 1 << (int(e.flat[i]) + frac)
    return out
