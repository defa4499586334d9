"""IEEE binary16 arithmetic on integer codes (Numba): the PIM lanes' multiply and add.

Every operation is exact then rounded once to nearest, ties to even, with gradual underflow
(subnormals in and out) and overflow to infinity -- what numpy's float16 arithmetic gives (it computes
in float32, whose 24-bit significand makes the second rounding innocuous for + and x). NaN results are
the one canonical quiet NaN 0x7E00 (numpy's NaN payloads depend on the host CPU; the RTL emits 0x7E00).
A MAC is ``add(mul(a, b), c)``: two roundings, as PIMSimulator's ``half`` code (``a * b + c``) does.
"""

from __future__ import annotations

import numpy as np
from numba import njit

QNAN = 0x7E00


@njit(cache=True, inline="always")
def _is_nan(x):
    return (x & 0x7C00) == 0x7C00 and (x & 0x03FF) != 0


@njit(cache=True, inline="always")
def _is_inf(x):
    return (x & 0x7FFF) == 0x7C00


@njit(cache=True, inline="always")
def _sig_exp(x):
    """|x| = sig * 2**exp (x finite)."""
    e = (x >> 10) & 0x1F
    m = x & 0x3FF
    if e == 0:
        return np.int64(m), np.int64(-24)
    return np.int64(m | 0x400), np.int64(e - 25)


@njit(cache=True)
def round_to_f16(sign, sig, exp):
    """The binary16 code of (-1)**sign * sig * 2**exp (sig >= 0 integer), rounded to nearest even."""
    if sig == 0:
        return np.uint16(sign << 15)
    p = 0
    t = sig
    while t > 1:
        t >>= 1
        p += 1
    shift = p - 10
    if -24 - exp > shift:
        shift = -24 - exp
    if shift > 0:
        q = sig >> shift
        rem = sig - (q << shift)
        half = np.int64(1) << (shift - 1)
        if rem > half or (rem == half and (q & 1) == 1):
            q += 1
    else:
        q = sig << (-shift)
    e2 = exp + shift
    if q >= 2048:
        q >>= 1
        e2 += 1
    if q < 1024:                      # subnormal (e2 == -24)
        return np.uint16((sign << 15) | q)
    be = e2 + 25
    if be >= 31:
        return np.uint16((sign << 15) | 0x7C00)
    return np.uint16((sign << 15) | (be << 10) | (q - 1024))


@njit(cache=True)
def mul(a, b):
    a = np.int64(a)
    b = np.int64(b)
    if _is_nan(a) or _is_nan(b):
        return np.uint16(QNAN)
    s = ((a ^ b) >> 15) & 1
    if _is_inf(a) or _is_inf(b):
        if (a & 0x7FFF) == 0 or (b & 0x7FFF) == 0:
            return np.uint16(QNAN)
        return np.uint16((s << 15) | 0x7C00)
    sa, ea = _sig_exp(a)
    sb, eb = _sig_exp(b)
    return round_to_f16(s, sa * sb, ea + eb)


@njit(cache=True)
def add(a, b):
    a = np.int64(a)
    b = np.int64(b)
    if _is_nan(a) or _is_nan(b):
        return np.uint16(QNAN)
    if _is_inf(a) or _is_inf(b):
        if _is_inf(a) and _is_inf(b) and ((a ^ b) & 0x8000) != 0:
            return np.uint16(QNAN)
        return np.uint16(a if _is_inf(a) else b)
    sa, ea = _sig_exp(a)
    sb, eb = _sig_exp(b)
    va = sa << (ea + 24)
    vb = sb << (eb + 24)
    if a & 0x8000:
        va = -va
    if b & 0x8000:
        vb = -vb
    v = va + vb
    if v == 0:
        # exact zero: -0 only when both are -0 (round to nearest)
        return np.uint16(0x8000 if (a & 0x8000) and (b & 0x8000) else 0)
    s = 1 if v < 0 else 0
    return round_to_f16(s, -v if v < 0 else v, -24)


@njit(cache=True)
def mac(a, b, c):
    return add(mul(a, b), c)


@njit(cache=True)
def vmul(a, b):
    out = np.empty(a.shape[0], np.uint16)
    for i in range(a.shape[0]):
        out[i] = mul(a[i], b[i])
    return out


@njit(cache=True)
def vadd(a, b):
    out = np.empty(a.shape[0], np.uint16)
    for i in range(a.shape[0]):
        out[i] = add(a[i], b[i])
    return out


def canon(codes: np.ndarray) -> np.ndarray:
    """numpy float16 results with every NaN replaced by the canonical 0x7E00 (for comparisons)."""
    c = np.asarray(codes).view(np.uint16).copy()
    c[((c & 0x7C00) == 0x7C00) & ((c & 0x3FF) != 0)] = QNAN
    return c
