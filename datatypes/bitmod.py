"""BitMoD (HPCA 2025): per-group mixture of low-precision datatypes, in fp16 arithmetic (spec §4).

Bit-exact with ``bitmod_quant/quant_utils/quant_weight.py`` of abdelfattah-lab/BitMoD-HPCA-25 @
e445a5f (``quant_datatype``, ``search_datatype``) and, for the option ``double_quant=True``, with
``wiki_c4_ppl/quant_utils/quant_weight_double.py`` of yc2367/BitMoD @ b18cacb (spec §4.3).

Everything is fp16 as PyTorch computes it (each op in float32, rounded to fp16; the input is rounded
to fp16 first, inside the kernels for float32 input). Per group of ``group_size`` elements and per candidate datatype (levels L, ascending,
FP4 in the code's "x2" integer units, FP3 in its own units):

    scale = clamp(fp16(amax(|w|) / qmax), fp16(1e-5), fp16(1e4))     qmax = max |L|
    x     = fp16(w / scale);   q = L[#{i : x > (L[i] + L[i+1]) / 2}]  (ties to the lower level)
    w_hat = fp16(q * scale)
    err   = fp16(mean(fp16(fp16(w_hat - w) ** 2)))                     mean = fp32 sum / n

``bitmod3`` / ``bitmod4`` try the candidates [er_pos, er_neg, ea_pos, ea_neg] in this order and keep
the first with the strictly smallest err (running best starts at fp16(1e3)); ``meta`` = the
index of the winner in that list (option ``candidates='er'`` / ``'ea'`` searches only the first /
last two, as 'mixed_er' / 'mixed_ea' do). ``bitmod_ant3`` / ``bitmod_ant4`` are the ANT baseline
mixture [int, flint4 | fp3]. ``bitmod.<table>`` is one table alone (``quant_datatype``).

``candidate_mse`` (on the quantized tensor): per group the fp16 err of every candidate as the search
compared it, shape (..., groups, len(candidates list)), NaN for candidates not searched. Option
``candidates`` also takes one key of the list (e.g. ``bitmod4`` with ``candidates="fp4_er_pos"``):
that table alone, which is ``quant_datatype`` (also the format ``bitmod.<key>``, alias ``bitmod_<key>`` except for int3/int4, whose ``bitmod_int3``/``bitmod_int4`` are ``quant_int``;
the dev repo's names ``fp3_sp_*``/``fp3_sr_*``/``fp4_sm_*``/``fp4_sr_*`` are aliases of the artifact's
``fp3_er_*``/``fp3_ea_*``/``fp4_er_*``/``fp4_ea_*``).

``double_quant=True`` (spec §4.3, the dev repo's INT8 second-level scales): the elements are still
rounded with the fp16 scale above (without the [1e-5, 1e4] clamp: the dev code has none), but
dequantized through an unsigned 8-bit group scale:
    s_ch  = fp16(max over the row's groups of scale / 255)      per row and per qmax
    q_g   = clamp(round_half_even(fp16(scale / s_ch)), 0, 255)  per group
    w_hat = fp16(fp16(q * s_ch) * q_g)
and the candidate errors are measured on that w_hat. ``scales`` then holds q_g (uint8) and
``tensor_scale`` the per-row s_ch, shape (rows, number of distinct qmax). (One deviation: a group
whose scale is 0 in a row whose s_ch underflows to 0 gives 0/0 = NaN in the reference; here q_g = 0
and the group dequantizes to 0.)

The fp32 sum inside the mean follows PyTorch's CPU order (torchops.torch_sum_f32): the squared
errors are fp16 values, often subnormal, and the fp16-rounded means of different candidates tie
often, so the tie rule (first candidate) and the exact rounding decide many groups.

Codes (hardware view, spec §4.1): sign-magnitude; the magnitude field indexes the non-negative
levels of the table's symmetric part (FP4: 0,1,2,3,4,6,8,12; FP3: 0,1,2,4; INT: 0..2**(b-1)-1); the
negative-zero code (1000 / 100) decodes to the group's special value. ``code_values(meta)`` gives the
levels in the table's units (value = level * scale).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from ._jit import njit

from .errors import FormatError
from .format import Format, check_choice, unique_levels
from .registry import register
from .minifloat import absmax_f32, log2_f32
from .torchops import (SUM_SCRATCH, bits_f32, f16r, f32_bits, fp16_input, fp16_input_lazy, raise_fp16_overflow,
                       torch_mean_f32)

# ---- level tables (spec §4.1; exactly as in the artifact's quant_weight.py) -----------------------
TABLES: dict[str, list[float]] = {
    "int3": [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0],
    "fp3": [-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0],
    "fp3_er_pos": [-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0],
    "fp3_er_neg": [-4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0],
    "fp3_ea_pos": [-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0, 6.0],
    "fp3_ea_neg": [-6.0, -4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0],
    "int4": [-7.0, -6.0, -5.0, -4.0, -3.0, -2.0, -1.0, 0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
    "fp4": [-12.0, -8.0, -6.0, -4.0, -3.0, -2.0, -1.0, 0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0],
    "flint4": [-16.0, -8.0, -6.0, -4.0, -3.0, -2.0, -1.0, 0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 16.0],
    "fp4_er_pos": [-12.0, -8.0, -6.0, -4.0, -3.0, -2.0, -1.0, 0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 12.0],
    "fp4_er_neg": [-12.0, -10.0, -8.0, -6.0, -4.0, -3.0, -2.0, -1.0, 0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0],
    "fp4_ea_pos": [-12.0, -8.0, -6.0, -4.0, -3.0, -2.0, -1.0, 0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0],
    "fp4_ea_neg": [-16.0, -12.0, -8.0, -6.0, -4.0, -3.0, -2.0, -1.0, 0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0],
    "int5": [float(v) for v in range(-15, 16)],
    "flint5": [-64.0, -32.0, -24.0, -16.0, -14.0, -12.0, -10.0, -8.0, -7.0, -6.0, -5.0, -4.0, -3.0, -2.0, -1.0,
               0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 14.0, 16.0, 24.0, 32.0, 64.0],
    "fp5_e2m2": [-28.0, -24.0, -20.0, -16.0, -14.0, -12.0, -10.0, -8.0, -7.0, -6.0, -5.0, -4.0, -3.0, -2.0,
                 -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 14.0, 16.0, 20.0, 24.0, 28.0],
    "fp5_e3m1": [-192.0, -128.0, -96.0, -64.0, -48.0, -32.0, -24.0, -16.0, -12.0, -8.0, -6.0, -4.0, -3.0, -2.0,
                 -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0, 96.0, 128.0, 192.0],
    "int6": [float(v) for v in range(-31, 32)],
    "fp6_e2m3": [-60.0, -56.0, -52.0, -48.0, -44.0, -40.0, -36.0, -32.0, -30.0, -28.0, -26.0, -24.0, -22.0,
                 -20.0, -18.0, -16.0, -15.0, -14.0, -13.0, -12.0, -11.0, -10.0, -9.0, -8.0, -7.0, -6.0, -5.0,
                 -4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0,
                 13.0, 14.0, 15.0, 16.0, 18.0, 20.0, 22.0, 24.0, 26.0, 28.0, 30.0, 32.0, 36.0, 40.0, 44.0, 48.0,
                 52.0, 56.0, 60.0],
    "fp6_e3m2": [-448.0, -384.0, -320.0, -256.0, -224.0, -192.0, -160.0, -128.0, -112.0, -96.0, -80.0, -64.0,
                 -56.0, -48.0, -40.0, -32.0, -28.0, -24.0, -20.0, -16.0, -14.0, -12.0, -10.0, -8.0, -7.0, -6.0,
                 -5.0, -4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 14.0,
                 16.0, 20.0, 24.0, 28.0, 32.0, 40.0, 48.0, 56.0, 64.0, 80.0, 96.0, 112.0, 128.0, 160.0, 192.0,
                 224.0, 256.0, 320.0, 384.0, 448.0],
}
TABLE_ALIASES = {"fp5_e2m2": ("fp5",), "fp6_e2m3": ("fp6",)}

#: Candidate lists of search_datatype (artifact names), in the reference's order.
MIXTURES = {
    "bitmod3": ["fp3_er_pos", "fp3_er_neg", "fp3_ea_pos", "fp3_ea_neg"],
    "bitmod4": ["fp4_er_pos", "fp4_er_neg", "fp4_ea_pos", "fp4_ea_neg"],
    "bitmod_ant3": ["int3", "fp3"],
    "bitmod_ant4": ["int4", "flint4"],
}
SUBSETS = {"bitmod": (0, 1, 2, 3), "er": (0, 1), "ea": (2, 3)}

SCALE_MIN = float(np.float16(1e-5))   # the reference's clamp bounds, cast to fp16
SCALE_MAX = float(np.float16(1e4))


class Table:
    """One candidate datatype: its symmetric base levels, the special value (if any), the code of
    every base level and of the special, and the interval (lo, hi] of x captured by the special."""

    def __init__(self, key: str, levels: list[float]):
        lv = np.asarray(levels, dtype=np.float64)
        if not np.all(np.diff(lv) > 0):
            raise ValueError(f"levels of {key} are not ascending")
        present = set(lv.tolist())
        extra = [v for v in lv.tolist() if v != 0 and -v not in present]
        if len(extra) > 1:
            raise ValueError(f"{key}: more than one unpaired level")
        self.key = key
        self.levels = lv
        self.qmax = float(np.abs(lv).max())
        self.special = extra[0] if extra else None
        self.base = np.array([v for v in lv.tolist() if v != self.special])
        mags = sorted(v for v in self.base.tolist() if v >= 0)
        n_codes = 2 * len(mags)
        self.bits = int(math.ceil(math.log2(n_codes)))
        if n_codes != 1 << self.bits:
            raise ValueError(f"{key}: {len(mags)} magnitudes do not fill a sign-magnitude code space")
        half = 1 << (self.bits - 1)
        self.base_codes = np.array([mags.index(v) if v >= 0 else half | mags.index(-v) for v in self.base.tolist()],
                                   dtype=np.uint8)
        self.special_code = half
        if self.special is not None:
            below = self.base[self.base < self.special]
            above = self.base[self.base > self.special]
            self.lo = (below.max() + self.special) / 2 if below.size else -np.inf
            self.hi = (self.special + above.min()) / 2 if above.size else np.inf
        else:
            self.lo = self.hi = np.nan
        # decoded value of every code (NaN: the negative-zero code of a table without a special)
        self.values = np.full(1 << self.bits, np.nan)
        self.values[self.base_codes] = self.base
        if self.special is not None:
            self.values[half] = self.special


ALL_TABLES = {k: Table(k, v) for k, v in TABLES.items()}


def _f16(v: float) -> np.float32:
    return np.float32(np.float16(v))


# ---- kernels --------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _class_scales(x, g, qmax, lo, hi, clamp, out):
    """out[r, j, k] = clamp(fp16(amax(group) / qmax[k]), lo, hi) for every group and scale class
    (no clamp when ``clamp`` is False: the dev repo's double-quantization code has none). ``x`` may
    hold float32 values not yet rounded to fp16: amax is rounded (rounding is monotonic). Returns
    False if some value overflows fp16."""
    rows, cols = x.shape
    ok = True
    for r in range(rows):
        for j in range(out.shape[1]):
            s = j * g
            xg = x[r, s:min(s + g, cols)]
            amax = f16r(absmax_f32(xg, xg.shape[0]))
            ok = ok and amax <= np.float32(65504.0)
            for k in range(qmax.shape[0]):
                sc = f16r(amax / qmax[k])
                out[r, j, k] = min(max(sc, lo), hi) if clamp else sc
    return ok


@njit(cache=True, error_model="numpy")
def _double_quant(cls_scales, s_ch, q_g):
    """s_ch[r, k] = fp16(max_j scale / 255); q_g[r, j, k] = clamp(rne(fp16(scale / s_ch)), 0, 255)."""
    rows, ng, nk = cls_scales.shape
    for r in range(rows):
        for k in range(nk):
            m = np.float32(0.0)
            for j in range(ng):
                v = cls_scales[r, j, k]
                m = v if v > m else m
            sc = f16r(m / np.float32(255.0))
            s_ch[r, k] = sc
            for j in range(ng):
                v = cls_scales[r, j, k]
                if v == np.float32(0.0):
                    q_g[r, j, k] = np.float32(0.0)   # the reference: 0/0 -> NaN whenever s_ch is 0 too
                else:
                    q = np.rint(f16r(v / sc))          # v / 0 = inf: clamped to 255 like the reference
                    q_g[r, j, k] = min(q, np.float32(255.0)) if q > np.float32(0.0) else np.float32(0.0)


@njit(cache=True, inline="always")
def _dq(level, sc, sch, qg, dq):
    """fp16 dequantized value of a level: fp16(level * scale), or with double quantization
    fp16(fp16(level * s_ch) * q_g)."""
    if dq:
        return f16r(f16r(level * sch) * qg)
    return f16r(level * sc)


@njit(cache=True, inline="always")
def _sel(cond, v):
    return v if cond else np.float32(0.0)


_UNITS = np.float32(2.0 ** 24)     # fp16 values are multiples of 2**-24
_SMALL = 1 << 24                   # a sum below 1.0 (2**24 units) is exact in fp32, in any order


@njit(cache=True, error_model="numpy", inline="always")
def _class_errors(w, n, sc, sch, qg, dq, mb, st, n_mags, lo_a, hi_a, lo_b, hi_b, xs, idx, ebase, cap, mc, half):
    """One group, one scale class: xs = fp16(w / scale); idx = the nearest level (midpoint rule,
    ties toward -inf; float32, signed); ebase = fp16(fp16(w_hat - w)**2); cap = 1 / 2 where xs lies
    in the capture interval (lo, hi] of the class's first / second special value, else 0; mc = the
    sign-magnitude code of idx (the magnitude's rank = the number of midpoints below it, | ``half``
    for a negative non-zero level).

    mb: the magnitude midpoints (padded with NaN, which no value exceeds), st: the steps between
    consecutive magnitudes; for negative x, |x| >= m is tested as nextup(|x|) > m.
    Returns the sum of ebase in units of 2**-24 (each term clamped to 2**24)."""
    zero = np.float32(0.0)
    one = np.float32(1.0)
    # (loops are kept simple and separate so that each one vectorizes)
    for i in range(n):
        xs[i] = f16r(w[i] / sc)
    if n_mags <= 8:
        m0, m1, m2, m3, m4, m5, m6 = mb[0], mb[1], mb[2], mb[3], mb[4], mb[5], mb[6]
        s0, s1, s2, s3, s4, s5, s6 = st[0], st[1], st[2], st[3], st[4], st[5], st[6]
        for i in range(n):
            a = xs[i]
            neg = a < zero
            b = bits_f32(np.int64(f32_bits(abs(a))) + (1 if neg else 0))    # |a|, or the next float up
            mag = (_sel(b > m0, s0) + _sel(b > m1, s1) + _sel(b > m2, s2) + _sel(b > m3, s3)
                   + _sel(b > m4, s4) + _sel(b > m5, s5) + _sel(b > m6, s6))
            cnt = (np.uint8(b > m0) + np.uint8(b > m1) + np.uint8(b > m2) + np.uint8(b > m3) + np.uint8(b > m4)
                   + np.uint8(b > m5) + np.uint8(b > m6))
            idx[i] = -mag if neg else mag               # the signed level (codes come from it)
            mc[i] = (cnt | half) if neg & (cnt > 0) else cnt
            cap[i] = np.int8(1) if (a > lo_a) & (a <= hi_a) else (np.int8(2) if (a > lo_b) & (a <= hi_b) else np.int8(0))
    else:
        for i in range(n):
            a = xs[i]
            b = bits_f32(np.int64(f32_bits(abs(a))) + (1 if a < zero else 0))
            cnt = np.uint8(0)
            mag = zero
            for t in range(n_mags - 1):
                if b > mb[t]:
                    cnt += np.uint8(1)
                    mag += st[t]
            idx[i] = -mag if a < zero else mag
            mc[i] = (cnt | half) if (a < zero) & (cnt > 0) else cnt
            cap[i] = np.int8(1) if (a > lo_a) & (a <= hi_a) else (np.int8(2) if (a > lo_b) & (a <= hi_b) else np.int8(0))
    if dq:
        for i in range(n):
            d = f16r(f16r(f16r(idx[i] * sch) * qg) - w[i])
            ebase[i] = f16r(d * d)
    else:
        for i in range(n):
            d = f16r(f16r(idx[i] * sc) - w[i])
            ebase[i] = f16r(d * d)
    total = 0
    for i in range(n):
        e = ebase[i]
        total += np.int32((e if e < one else one) * _UNITS)
    if sc == zero:
        # double_quant (unclamped) scale 0: w / 0 is NaN for w = 0, which matches no interval in
        # the reference, so the level is 0
        total = 0
        for i in range(n):
            if xs[i] != xs[i]:
                idx[i] = zero
                mc[i] = np.uint8(0)
                d = f16r(_dq(zero, sc, sch, qg, dq) - w[i])
                ebase[i] = f16r(d * d)
            e = ebase[i]
            total += np.int32((e if e < one else one) * _UNITS)
    return total


@njit(cache=True, error_model="numpy", inline="always")
def _special_errors(w, n, v0, v1, cap, ebase, esp, ids):
    """Squared errors of the elements captured by the class's special values v0 (cap 1) / v1
    (cap 2), and per special: the change of the error sum (units of 2**-24) and whether all its
    captured errors are below 1. Few elements are captured: their indices are collected first
    (a scalar loop; a vectorized one would evaluate every element)."""
    one = np.float32(1.0)
    m = 0
    for i in range(n):
        ids[m] = i
        m += 1 if cap[i] != 0 else 0
    d0 = 0
    d1 = 0
    big0 = 0
    big1 = 0
    for t in range(m):
        i = ids[t]
        c = cap[i]
        d = f16r((v0 if c == 1 else v1) - w[i])
        e = f16r(d * d)
        esp[i] = e
        eb = ebase[i]
        du = np.int32((e if e < one else one) * _UNITS) - np.int32((eb if eb < one else one) * _UNITS)
        big = 1 if e >= one else 0
        if c == 1:
            d0 += du
            big0 += big
        else:
            d1 += du
            big1 += big
    return d0, d1, big0 == 0, big1 == 0


@njit(cache=True, error_model="numpy", inline="always")
def _codes(slot, cap, mc, half, row, s, n):
    """Sign-magnitude codes of one group: the negative-zero code where the chosen special value
    (cap == slot, slot 0 = none) captured the element, else the class's code of the level (``mc``,
    from :func:`_class_errors`)."""
    for i in range(n):
        row[s + i] = half if (slot > 0) & (cap[i] == slot) else mc[i]


@njit(cache=True, error_model="numpy")
def _search_kernel(x, g, cls_scales, qmax, smin, smax, s_ch, q_g, dq, mid_bits, steps, n_mags, cls_sp,
                   cand_cls, cand_slot, cand_sv, cand_lo, cand_hi, half, codes, meta, chosen_cls, cmse):
    """Per group: the first candidate with the strictly smallest fp16 mean squared error.

    A candidate differs from its scale class's base table only at the elements its special value
    captures, so each class is evaluated once and each candidate's error is the class's base errors
    with those elements replaced. Sums below 1.0 are exact in fp32 whatever the order and are
    computed in integers; larger ones follow PyTorch's summation order."""
    rows, cols = x.shape
    scratch = np.empty(SUM_SCRATCH, np.float32)
    n_cls = mid_bits.shape[0]
    n_cand = cand_cls.shape[0]
    xs = np.empty((n_cls, g), np.float32)
    idx = np.empty((n_cls, g), np.float32)
    ebase = np.empty((n_cls, g), np.float32)
    cap = np.zeros((n_cls, g), np.int8)
    mc = np.zeros((n_cls, g), np.uint8)
    esp = np.empty((n_cls, g), np.float32)          # squared errors with the special values
    totals = np.empty(n_cls, np.int64)
    delta = np.zeros((n_cls, 2), np.int64)
    small_sp = np.ones((n_cls, 2), np.bool_)
    buf = np.empty(g, np.float32)
    wv = np.empty(g, np.float32)
    ids = np.empty(g, np.int64)
    inv_units = np.float32(2.0 ** -24)
    ok = True
    for r in range(rows):
        for j in range(cls_scales.shape[1]):
            s = j * g
            n = min(s + g, cols) - s
            xg = x[r, s:s + n]
            for i in range(n):
                wv[i] = f16r(xg[i])          # the input as the reference's fp16 weights
            amax = absmax_f32(wv, n)
            ok = ok and amax <= np.float32(65504.0)
            if not dq:                       # (double_quant needs every scale of the row first)
                for k in range(n_cls):
                    sc = f16r(amax / qmax[k])
                    cls_scales[r, j, k] = min(max(sc, smin), smax)
            for k in range(n_cls):
                sc = cls_scales[r, j, k]
                sch = s_ch[r, k]
                qg = q_g[r, j, k]
                a0 = cls_sp[k, 0]
                a1 = cls_sp[k, 1]
                lo_a = cand_lo[a0] if a0 >= 0 else np.float32(np.nan)
                hi_a = cand_hi[a0] if a0 >= 0 else np.float32(np.nan)
                lo_b = cand_lo[a1] if a1 >= 0 else np.float32(np.nan)
                hi_b = cand_hi[a1] if a1 >= 0 else np.float32(np.nan)
                totals[k] = _class_errors(
                    wv, n, sc, sch, qg, dq, mid_bits[k], steps[k], n_mags[k],
                    lo_a, hi_a, lo_b, hi_b, xs[k], idx[k], ebase[k], cap[k], mc[k], half)
                delta[k, 0] = 0
                delta[k, 1] = 0
                small_sp[k, 0] = True
                small_sp[k, 1] = True
                if a0 >= 0:
                    v0 = _dq(cand_sv[a0], sc, sch, qg, dq)
                    v1 = _dq(cand_sv[a1], sc, sch, qg, dq) if a1 >= 0 else np.float32(0.0)
                    delta[k, 0], delta[k, 1], small_sp[k, 0], small_sp[k, 1] = _special_errors(
                        wv, n, v0, v1, cap[k], ebase[k], esp[k], ids)
            best = np.float32(1000.0)
            c = 0
            for ci in range(n_cand):
                k = cand_cls[ci]
                slot = cand_slot[ci]
                tot = totals[k] + (delta[k, slot] if slot >= 0 else 0)
                if tot < _SMALL and (slot < 0 or small_sp[k, slot]):
                    e = f16r(np.float32(tot) * inv_units / np.float32(n))
                else:
                    eb = ebase[k]
                    for i in range(n):
                        buf[i] = eb[i]
                    if slot >= 0:
                        ck = cap[k]
                        for i in range(n):
                            if ck[i] == slot + 1:
                                buf[i] = esp[k, i]
                    e = f16r(torch_mean_f32(buf, n, scratch))
                cmse[r, j, ci] = e
                if e < best:
                    best = e
                    c = ci
            meta[r, j] = c
            k = cand_cls[c]
            chosen_cls[r, j] = k
            _codes(cand_slot[c] + 1, cap[k], mc[k], half, codes[r], s, n)
    return ok


@njit(cache=True)
def _dequant_kernel(codes, meta, scales, s_ch, cand_cls, g, values, dq, out):
    """out = fp16(value * scale) or fp16(fp16(value * s_ch[class]) * q_g)."""
    rows, cols = codes.shape
    for r in range(rows):
        for i in range(cols):
            j = i // g
            c = meta[r, j]
            v = values[c, codes[r, i]]
            if dq:
                out[r, i] = f16r(f16r(v * s_ch[r, cand_cls[c]]) * scales[r, j])
            else:
                out[r, i] = f16r(v * scales[r, j])


# ---- formats ----------------------------------------------------------------------------------------
class BitMoDFormat(Format):
    """A BitMoD-style per-group search over candidate tables (one candidate = a single table)."""

    family = "bitmod"
    rounding = "nearest level: midpoints compared with fp16(w / scale); every op in fp16 (PyTorch semantics)"
    ties = "to the lower level (toward -inf); candidate ties: the first in list order"
    overflow = "saturate; to the extreme level"
    default_group_size = 128
    output_dtype = "float16"

    def __init__(self, name: str, keys: list[str], description: str, subsets: dict | None = None):
        self.name = name
        self.keys = list(keys)
        self.tables = [ALL_TABLES[k] for k in keys]
        self.bits = max(t.bits for t in self.tables)
        if any(t.bits != self.bits for t in self.tables):
            raise ValueError(f"{name}: candidates of different widths")
        self.description = description
        # option candidates: a named subset of the list (search_datatype's 'mixed_*'), or one table
        # of the list by its key (quant_datatype's single datatype, searched alone)
        self.subsets = None
        self.options = {"double_quant": False}
        if len(keys) > 1:
            self.subsets = dict(subsets) if subsets else {"all": tuple(range(len(keys)))}
            for i, k in enumerate(keys):
                self.subsets[k] = (i,)
            self.options["candidates"] = next(iter(self.subsets))
        self.n_meta = len(keys)
        self.meta_bits = 0 if len(keys) == 1 else int(math.ceil(math.log2(len(keys))))
        self.levels = unique_levels(np.concatenate([t.levels for t in self.tables]))
        # scale classes: distinct (qmax, base table) pairs, in first-use order
        cls_keys: list[tuple] = []
        self.cand_cls = []
        for t in self.tables:
            ck = (t.qmax, tuple(t.base.tolist()))
            if ck not in cls_keys:
                cls_keys.append(ck)
            self.cand_cls.append(cls_keys.index(ck))
        self.cls_qmax = np.array([c[0] for c in cls_keys], dtype=np.float32)
        nm = max(len([v for v in c[1] if v >= 0]) for c in cls_keys)
        self._mid_bits = np.full((len(cls_keys), max(nm - 1, 7)), np.nan, np.float32)
        self._steps = np.zeros((len(cls_keys), max(nm - 1, 7)), np.float32)
        self._n_mags = np.zeros(len(cls_keys), np.int64)
        for ci, (qm, base) in enumerate(cls_keys):
            mags = np.array(sorted(v for v in base if v >= 0))
            # (all BitMoD levels are integers; the magnitude code of a level is its rank among
            # mags, i.e. the number of midpoints below it, which _class_errors counts)
            assert np.all(mags == np.round(mags)) and mags[0] == 0
            mids = np.array([_f16((mags[i] + mags[i + 1]) / 2) for i in range(len(mags) - 1)], np.float32)
            self._mid_bits[ci, :len(mids)] = mids
            self._steps[ci, :len(mids)] = np.diff(mags)
            self._n_mags[ci] = len(mags)
        self._cand_sv = np.array([np.nan if t.special is None else t.special for t in self.tables], np.float32)
        self._cand_lo = np.array([t.lo for t in self.tables], np.float32)
        self._cand_hi = np.array([t.hi for t in self.tables], np.float32)
        self._values = np.stack([t.values for t in self.tables])
        self._values32 = np.nan_to_num(self._values).astype(np.float32)
        units = "x2 integer units (E2M1 value = level / 2)" if any(k.startswith("fp4") for k in keys) else \
            "the table's own units"
        self.scale_rule = (f"per group: fp16 amax / qmax (qmax {', '.join(f'{q:g}' for q in self.cls_qmax)}), "
                           f"clamped to [1e-5, 1e4]; levels in {units}; double_quant=True: uint8 group "
                           "scales times an fp16 per-row scale")

    # ---- metadata / storage
    def _validate_options(self, opts):
        if not isinstance(opts["double_quant"], (bool, np.bool_)):
            raise FormatError(f"format {self.name!r}: option double_quant={opts['double_quant']!r} must be True or False")
        if self.subsets:
            check_choice(self, opts, "candidates", tuple(self.subsets))

    def storage_bits(self, opts):
        return (8 if opts["double_quant"] else 16), self.meta_bits, 16

    def code_values(self, meta: int = 0) -> np.ndarray:
        """Level of every code (the table's units) under candidate ``meta`` (index into the
        candidate list; NaN = the negative-zero code of a table without a special value)."""
        return self._values[int(meta)].copy()

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["candidates"] = list(self.keys)
        return d

    def pack_group_data(self, scales, meta, opts):
        """fp16 scale words (double_quant: the uint8 group scales) and the selector as stored."""
        if scales is None or opts["double_quant"]:
            return scales, meta
        return scales.astype(np.float16), meta

    def unpack_group_data(self, scales, meta, opts):
        if scales is None or opts["double_quant"]:
            return scales, meta
        return np.asarray(scales).astype(np.float32), meta

    def _prepare_input(self, arr):
        return fp16_input_lazy(arr)

    def _candidates(self, opts) -> np.ndarray:
        if self.subsets:
            return np.array(self.subsets[opts["candidates"]], dtype=np.int64)
        return np.arange(len(self.keys), dtype=np.int64)

    def _quantize2d(self, x, g, opts):
        rows, cols = x.shape
        ng = -(-cols // g)
        n_cls = self.cls_qmax.shape[0]
        cls_scales = np.empty((rows, ng, n_cls), np.float32)
        dq = bool(opts["double_quant"])
        if dq:
            if not _class_scales(x, g, self.cls_qmax, np.float32(SCALE_MIN), np.float32(SCALE_MAX), False, cls_scales):
                raise_fp16_overflow(x)

        s_ch = np.zeros((rows, n_cls), np.float32)
        q_g = np.zeros((rows, ng, n_cls), np.float32)
        if dq:
            _double_quant(cls_scales, s_ch, q_g)
        cand = self._candidates(opts)
        codes = np.empty((rows, cols), np.uint8)
        sel = np.empty((rows, ng), np.uint8)
        chosen_cls = np.empty((rows, ng), np.int64)
        cmse_sel = np.empty((rows, ng, len(cand)), np.float32)
        cand_cls = np.asarray(self.cand_cls, np.int64)[cand]
        # per class: the (up to two) searched candidates with a special value, and each
        # candidate's slot among them (-1: no special value)
        cls_sp = np.full((n_cls, 2), -1, np.int64)
        slot = np.full(len(cand), -1, np.int64)
        for ci, k in enumerate(cand_cls):
            if not np.isnan(self._cand_sv[cand[ci]]):
                fs = int(np.sum(cls_sp[k] >= 0))
                cls_sp[k, fs] = ci
                slot[ci] = fs
        ok = _search_kernel(x, g, cls_scales, self.cls_qmax, np.float32(SCALE_MIN), np.float32(SCALE_MAX), s_ch, q_g, dq, self._mid_bits, self._steps, self._n_mags, cls_sp,
                       cand_cls, slot, self._cand_sv[cand], self._cand_lo[cand], self._cand_hi[cand],
                       np.uint8(1 << (self.bits - 1)), codes, sel, chosen_cls, cmse_sel)
        if not ok:
            raise_fp16_overflow(x)
        meta = cand[sel].astype(np.uint8)
        src = q_g if dq else cls_scales
        scales = np.take_along_axis(src, chosen_cls[..., None], axis=2)[..., 0]
        scales = scales.astype(np.uint8) if dq else scales.astype(np.float32)
        cmse = np.full((rows, ng, len(self.keys)), np.nan, np.float16)
        cmse[:, :, cand] = cmse_sel.astype(np.float16)    # exact: the errors are fp16 values
        return codes, scales, (meta if len(self.keys) > 1 else None), (s_ch if dq else None), {"candidate_mse": cmse}

    def _dequantize2d(self, codes, scales, meta, g, tensor_scale, opts):
        rows = codes.shape[0]
        if meta is None:
            meta = np.zeros((rows, scales.shape[1]), np.uint8)
        dq = bool(opts["double_quant"])
        s_ch = np.asarray(tensor_scale, np.float32).reshape(rows, -1) if dq else np.zeros((1, 1), np.float32)
        out = np.empty(codes.shape, np.float32)
        _dequant_kernel(codes, meta, scales.astype(np.float32), s_ch, np.asarray(self.cand_cls, np.int64), g,
                        self._values32, dq, out)
        return out.astype(np.float16)


register(BitMoDFormat("bitmod3", MIXTURES["bitmod3"],
                      "BitMoD 3-bit: per-group best of FP3 (E2M0) + special {+3,-3,+6,-6}; fp16", SUBSETS))
register(BitMoDFormat("bitmod4", MIXTURES["bitmod4"],
                      "BitMoD 4-bit: per-group best of FP4 (E2M1) + special {+5,-5,+8,-8} (E2M1 units); fp16",
                      SUBSETS))
register(BitMoDFormat("bitmod_ant3", MIXTURES["bitmod_ant3"], "ANT baseline (BitMoD code): per-group INT3 or FP3"))
register(BitMoDFormat("bitmod_ant4", MIXTURES["bitmod_ant4"], "ANT baseline (BitMoD code): per-group INT4 or FLINT4"))
#: the dev repo's (yc2367/BitMoD) names of the artifact's tables (spec §4.1)
DEV_NAMES = {"fp3_er_pos": ("fp3_sp_pos",), "fp3_er_neg": ("fp3_sp_neg",), "fp3_ea_pos": ("fp3_sr_pos",),
             "fp3_ea_neg": ("fp3_sr_neg",), "fp4_er_pos": ("fp4_sm_pos",), "fp4_er_neg": ("fp4_sm_neg",),
             "fp4_ea_pos": ("fp4_sr_pos",), "fp4_ea_neg": ("fp4_sr_neg",)}
for _key in TABLES:
    _names = (_key,) + TABLE_ALIASES.get(_key, ()) + DEV_NAMES.get(_key, ())
    register(BitMoDFormat(f"bitmod.{_key}", [_key], f"BitMoD single datatype {_key} (quant_datatype); fp16"),
             tuple(f"bitmod.{a}" for a in _names[1:])
             # (bitmod_int3 / bitmod_int4 are quant_int, a different quantizer: no underscore alias)
             + tuple(f"bitmod_{a}" for a in (_key,) + TABLE_ALIASES.get(_key, ()) if a not in ("int3", "int4")))


# ---- BitMoD's own MX (quant_mx) ----------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _bitmod_mx_kernel(x, g, mids, lut, scale, codes, scales):
    """quant_mx, fp32 on fp16 values: e = floor(log2 amax); x = fp32(fp32(w / 2**e) / scale);
    level = midpoint RTN (ties toward -inf); code = lut[index]."""
    rows, cols = x.shape
    n_mid = mids.shape[0]
    for r in range(rows):
        for j in range(scales.shape[1]):
            s = j * g
            n = min(s + g, cols) - s
            xg = x[r, s:s + n]
            amax = absmax_f32(xg, n)
            if amax == np.float32(0.0):
                # 2**-inf = 0: 0 / 0 matches no interval, the level is 0 (code of level 0)
                scales[r, j] = np.uint8(0)
                zi = 0
                for i in range(n_mid):
                    if mids[i] < np.float32(0.0):
                        zi += 1
                for k in range(n):
                    codes[r, s + k] = lut[zi]
                continue
            ex = np.floor(log2_f32(amax))
            scales[r, j] = np.uint8(np.int64(ex) + 127)
            p = np.float32(2.0) ** ex
            for k in range(n):
                v = (xg[k] / p) / scale
                idx = 0
                for i in range(n_mid):
                    idx += 1 if v > mids[i] else 0
                codes[r, s + k] = lut[idx]


@njit(cache=True)
def _bitmod_mx_dequant(codes, scale_codes, g, values, scale, out):
    rows, cols = codes.shape
    for r in range(rows):
        for k in range(cols):
            p = np.float32(2.0) ** np.float32(np.int64(scale_codes[r, k // g]) - 127)
            out[r, k] = f16r((values[codes[r, k]] * scale) * p)


class BitMoDMX(Format):
    """``quant_mx`` of BitMoD-HPCA-25 @ e445a5f: an MX-style power-of-two scale per 32 with the BitMoD
    level tables (not OCP MX: the exponent is floor(log2 amax) and the element scale 2 / qmax)."""

    family = "bitmod"
    default_group_size = 32
    group_sizes = (32,)
    options = {}
    rounding = "nearest level: midpoints compared with fp32(fp32(w / 2**e) / (2 / qmax)) (fp32 math)"
    ties = "to the lower level (toward -inf)"
    overflow = "saturate; to the extreme level"
    output_dtype = "float16"
    scale_bits = 8

    def __init__(self, key: str):
        t = ALL_TABLES[key]
        self.key = key
        self.name = f"bitmod_mx{key}"
        self.bits = t.bits
        self.table = t
        self.levels = t.levels.copy()
        self.description = (f"BitMoD's own MX (quant_mx, '{'mx_' + key}'): {key} levels, shared 2**floor(log2 amax) "
                            "per 32 times 2 / qmax; fp16 in, fp16 out")
        self.scale = np.float32(1.0 / (t.qmax / 2.0))
        self.scale_rule = (f"E8M0 per 32 (scales = biased exponent codes): floor(log2 amax); element unit "
                           f"fp32(2 / {t.qmax:g}) = {float(self.scale):.9g}")
        self._mids = np.array([(t.levels[i] + t.levels[i + 1]) / 2 for i in range(len(t.levels) - 1)], np.float32)
        codes = np.zeros(len(t.levels), np.uint8)
        half = 1 << (t.bits - 1)
        for i, v in enumerate(t.levels.tolist()):
            codes[i] = t.base_codes[list(t.base.tolist()).index(v)]
        self._lut = codes
        self._values = t.values.copy()
        self._values32 = np.nan_to_num(t.values).astype(np.float32)
        assert half == t.special_code

    def code_values(self, meta: int = 0) -> np.ndarray:
        """Level of every sign-magnitude code (the table's units; value = level * 2/qmax * 2**e);
        NaN = the unused negative-zero code."""
        return self._values.copy()

    def _prepare_input(self, arr):
        return fp16_input(arr)

    def _quantize2d(self, x, g, opts):
        rows, cols = x.shape
        codes = np.empty((rows, cols), np.uint8)
        scales = np.empty((rows, -(-cols // g)), np.uint8)
        _bitmod_mx_kernel(x, g, self._mids, self._lut, self.scale, codes, scales)
        return codes, scales, None, None

    def _dequantize2d(self, codes, scales, meta, g, tensor_scale, opts):
        out = np.empty(codes.shape, np.float32)
        _bitmod_mx_dequant(codes, scales, g, self._values32, self.scale, out)
        return out.astype(np.float16)


# ---- BitMoD's quant_int / quant_int_asym ----------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _bitmod_int_kernel(x, g, bits, symmetric, smin, smax, codes, scales, zps):
    rows, cols = x.shape
    zero = np.float32(0.0)
    mask = (1 << bits) - 1
    for r in range(rows):
        for j in range(scales.shape[1]):
            s = j * g
            xg = x[r, s:min(s + g, cols)]
            n = xg.shape[0]
            if symmetric:
                qmax = np.float32((1 << (bits - 1)) - 1)
                sc = min(max(f16r(absmax_f32(xg, n) / qmax), smin), smax)
                scales[r, j] = sc
                for k in range(n):
                    q = min(max(np.rint(f16r(xg[k] / sc)), -qmax), qmax)
                    codes[r, s + k] = np.uint8(np.int32(q) & mask)
            else:
                qmax = np.float32((1 << bits) - 1)
                lo = xg[0]
                hi = xg[0]
                for k in range(n):
                    lo = min(lo, xg[k])
                    hi = max(hi, xg[k])
                sc = min(max(f16r(f16r(hi - lo) / qmax), smin), smax)
                zp = min(max(np.rint(f16r(-lo / sc)), zero), qmax)
                scales[r, j] = sc
                zps[r, j] = np.uint8(zp)
                for k in range(n):
                    q = min(max(np.rint(f16r(xg[k] / sc)) + zp, zero), qmax)
                    codes[r, s + k] = np.uint8(q)


@njit(cache=True)
def _bitmod_int_dequant(codes, scales, zps, g, bits, symmetric, out):
    rows, cols = codes.shape
    half = 1 << (bits - 1)
    for r in range(rows):
        for k in range(cols):
            c = np.int32(codes[r, k])
            j = k // g
            q = c - ((c & half) << 1) if symmetric else c - np.int32(zps[r, j])
            out[r, k] = f16r(np.float32(q) * scales[r, j])


class BitMoDInt(Format):
    """``quant_int`` (symmetric, levels -qmax..qmax) and ``quant_int_asym`` of BitMoD-HPCA-25 @ e445a5f,
    in fp16 arithmetic: unlike ``bitmod.int3`` / ``bitmod.int4`` (the level-table quantizer, midpoint
    ties toward -inf), this divides and rounds half to even."""

    family = "bitmod"
    default_group_size = 128
    options = {"symmetric": True}
    rounding = "round half to even of fp16(w / scale) (torch.round), fp16 ops"
    ties = "to even"
    overflow = "clamp; to -qmax..qmax (symmetric) / 0..2**b - 1 (asymmetric)"
    output_dtype = "float16"
    scale_bits = 16

    def __init__(self, bits: int):
        self.bits = bits
        self.name = f"bitmod_int{bits}"
        q = (1 << (bits - 1)) - 1
        self.description = (f"BitMoD INT{bits} (quant_int: symmetric -{q}..{q}; symmetric=False: quant_int_asym "
                            f"with a {bits}-bit zero point); fp16 in, fp16 out")
        self.scale_rule = (f"per group, fp16: symmetric amax / {q}; asymmetric (max - min) / {(1 << bits) - 1} "
                           "(min/max of the group, not including 0), both clamped to [1e-5, 1e4]")
        self.levels = np.arange(-q, q + 1, dtype=np.float64)
        self.n_meta = 1 << bits
        self.meta_bits = bits

    def _validate_options(self, opts):
        if not isinstance(opts["symmetric"], (bool, np.bool_)):
            raise FormatError(f"format {self.name!r}: option symmetric={opts['symmetric']!r} must be True or False")

    def storage_bits(self, opts):
        return 16, (0 if opts["symmetric"] else self.bits), 0

    def code_values(self, meta: int | None = None) -> np.ndarray:
        """Symmetric (meta None): two's-complement value of each code, NaN for -2**(b-1) (never
        produced). Asymmetric: code - zero point (meta)."""
        c = np.arange(1 << self.bits, dtype=np.float64)
        if meta is None:
            v = np.where(c >= (1 << (self.bits - 1)), c - (1 << self.bits), c)
            v[1 << (self.bits - 1)] = np.nan
            return v
        return c - meta

    def _prepare_input(self, arr):
        return fp16_input(arr)

    def _quantize2d(self, x, g, opts):
        rows, cols = x.shape
        ng = -(-cols // g)
        codes = np.empty((rows, cols), np.uint8)
        scales = np.empty((rows, ng), np.float32)
        zps = np.zeros((rows, ng), np.uint8)
        sym = bool(opts["symmetric"])
        _bitmod_int_kernel(x, g, self.bits, sym, np.float32(SCALE_MIN), np.float32(SCALE_MAX), codes, scales, zps)
        return codes, scales, (None if sym else zps), None

    def _negative_zeros(self, x, g, codes, scales, meta, opts):
        # symmetric: fp16(q * scale) with q = round(w / scale) = -0.0 for a negative w rounding to 0
        return np.signbit(x) & (codes == 0) if opts["symmetric"] else None

    def _dequantize2d(self, codes, scales, meta, g, tensor_scale, opts):
        out = np.empty(codes.shape, np.float32)
        sym = bool(opts["symmetric"])
        zps = meta if meta is not None else np.zeros((1, 1), np.uint8)
        _bitmod_int_dequant(codes, scales, zps, g, self.bits, sym, out)
        return out.astype(np.float16)

    def pack_group_data(self, scales, meta, opts):
        return (None if scales is None else scales.astype(np.float16)), meta

    def unpack_group_data(self, scales, meta, opts):
        return (None if scales is None else np.asarray(scales).astype(np.float32)), meta


for _key in ("fp3", "fp4", "int3", "int4"):
    register(BitMoDMX(_key))
for _b in (3, 4):
    register(BitMoDInt(_b))
