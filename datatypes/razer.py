"""RaZeR (Redundant Zero Remapping): FP4 E2M1 whose redundant zero code decodes to a special value
chosen per group from a small set (spec §3). Four variants, each bit-exact with its reference:

``razer4`` (§3.3, variant A; ``quant_fp4_razer`` of abdelfattah-lab/BitMoD-MXFP4-NVFP4 @ e5eb8da):
    input rounded to fp16 (the reference quantizes fp16 weights; done inside the kernel for float32
    input), then fp32 math per group:
    for the candidates [+5, -5, +8, -8] in this order:
        scale = fp32(amax / qmax), qmax = 6 (for +-5) or 8 (for +-8)
        L     = midpoint RTN of fp32(w / scale) on sorted(E2M1 levels + {special}) (spec §1.1)
        err   = fp32(mean(fp32(fp32(L * scale) - w) ** 2))
    the first candidate with the strictly smallest err wins (running best starts at 1e4);
    w_hat = fp16(fp32(L * scale)).  Option scale='fp16' stores the winner's scale rounded to fp16
    (the RaZeR v1 GPU format, spec §3.6(a)) and dequantizes with it: w_hat = fp16(L * fp16(scale)).
``nvfp4_razer`` (§3.4, variant B; ``quant_nvfp4_razer_e3m3`` of yc2367/NVFP4-RaZeR @ 82ecc9a):
    gs = fp32(amax(|w|) / 168) per tensor, ws = w / gs; per block of 16, bmax = max|ws|, and for
    the candidates [+5, -5, +o, -o] (o = option outlier, 8 or 7):
        bs  = E4M3_RNE(clamp(bmax / qmax, 2**-5, 28)), qmax = 6 (for +-5) or o
        L   = midpoint RTN of fp32(ws / bs) on sorted(E2M1 + {special});  err = mean((L*bs - ws)**2)
    best by strict < (start +inf); w_hat = bf16(fp32(fp32(L * bs) * gs)).  Option
    block_scale='e3m3' rounds bs onto the 6-bit E3M3 grid of the g16 kernel payload instead.
``nvfp4_razer_act`` (§3.5, variant C, the intended v0 semantics of ``quant_nvfp4_razer_e4m3`` at
    the initial commit ba19e52; HEAD's selection metric ``mean((q - bs)**2)`` is a bug):
    gs = fp32(amax / 2688), xs = w / gs; per block bs = E4M3_RNE(clamp(max|xs| / 6, 2**-9, 448)),
    xb = xs / bs, qf = sign(xb) * RTN(|xb|, {0,.5,1,1.5,2,3,4,6}) (ties to the smaller magnitude);
    for sv in [-5, +5]: q = qf where |xb - qf| < |xb - sv| else sv; err = mean((q*bs - xs)**2);
    best by strict < (start +inf); w_hat = bf16(fp32(fp32(q * bs) * gs)).
``mxfp4_razer`` (§3.8, variant D; ``quant_mxfp4_razer`` of BitMoD-MXFP4-NVFP4 @ e5eb8da):
    input rounded to fp16; per block of 32, e = max(floor(log2 amax) - 2, -127) (E8M0),
    xs = w / 2**e; candidates [+5, -5, +8, -8] with L = RTN(xs) on sorted(E2M1 + {special}),
    err = mean((xs - L)**2), start 1e4, strict <; w_hat = fp16(L * 2**e).

Errors are fp32 means over the group, summed in exactly PyTorch's CPU order (torchops.torch_sum_f32):
with bf16/fp16 inputs a group often holds both +v and -v, the +5 and -5 candidates then have
mathematically equal errors, and the reference keeps whichever its fp32 rounding makes smaller.

Codes (the hardware view; spec §3.6): the canonical RaZeR nibble order of the ``razer_cuda``
kernels: nibble 0x0 = the special value, 0x8 = zero, every other nibble = standard E2M1
(sign-magnitude, magnitudes 0.5 1 1.5 2 3 4 6). ``meta`` = the candidate index in the order listed
above: bit 0 = special is negative, bit 1 = special is the large one (8 / o); for nvfp4_razer_act
(specials -5, +5) meta = 1 means -5.

``razer4`` codes are the g128 kernel's memory image (§3.6(a)): in a group whose special is negative
the scale carries the sign, so every nibble other than 0x0 / 0x8 has its sign bit inverted; the
decode is value = (nibble == 0 ? fix : E2M1(nibble)) * signed scale. ``pack()`` with scale='fp16'
writes one fp16 word per group: |scale| with bit 15 = special negative and bit 14 = special is 8
(the packer requires |scale| < 2). ``nvfp4_razer`` with block_scale='e3m3' packs the g16 kernel's
scale byte: bits 5..0 = E3M3 payload (bias 3; the E4M3 code of scale/16), bit 6 = special is o,
bit 7 = special negative (with 'e4m3', the reference's scales, the E4M3 byte and the selector). ``nvfp4_razer_act`` ``pack()`` writes the E4M3 scale code with its (otherwise
unused) sign bit = special negative. ``mxfp4_razer`` stores its E8M0 byte and the 2-bit selector.
``code_values(meta)`` is the decode of every nibble in units of the stored (positive) scale.
"""

from __future__ import annotations

import numpy as np

from ._jit import intrinsic, njit, types

from .errors import FormatError, InputError
from .format import Format, check_choice, per_element, unique_levels
from .minifloat import E2M1, E4M3, STYLE_FINITE, MinifloatSpec, absmax_f32, encode, log2_f32
from .mx import e2m1_round
from .registry import register
from .torchops import (SUM_SCRATCH, bf16r, f16r, fp16_input, fp16_input_lazy, raise_fp16_overflow,
                       torch_mean_f32)

#: E2M1 magnitudes by magnitude code 0..7.
E2M1_MAG = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])
#: The 15 signed E2M1 levels and the midpoints of the magnitudes.
BASE_LEVELS = unique_levels(np.concatenate([-E2M1_MAG, E2M1_MAG]))
MAG_MIDS = ((E2M1_MAG[:-1] + E2M1_MAG[1:]) / 2).astype(np.float32)
#: E3M3 (bias 3, no Inf/NaN): the 6-bit payload of the g16 kernel's scale byte.
E3M3 = MinifloatSpec(3, 3, 3, STYLE_FINITE)
#: Largest finite E4M3 magnitude code (448).
E4M3_MAX_CODE = E4M3.max_code

SPECIAL_CODE = 0
ZERO_CODE = 8


def canonical_values(special: float, negate: bool = False) -> np.ndarray:
    """Decoded value of each canonical RaZeR nibble (0x0 = special, 0x8 = 0, others E2M1),
    optionally with every value negated (razer4 groups whose scale carries the special's sign)."""
    v = E2M1.table.astype(np.float64).copy()
    v[SPECIAL_CODE] = special
    if negate:
        v = -v
    v[ZERO_CODE] = 0.0          # +0.0 under either sign: the reference's L * scale is +0 there
    return v


#: float32 bit patterns of the E2M1 magnitude midpoints .25 .75 1.25 1.75 2.5 3.5 5 (for a
#: non-negative float32, comparing bit patterns as integers is comparing the values).
_MID_BITS = tuple(int(v) for v in MAG_MIDS.view(np.uint32))


@intrinsic
def _e2m1_index_ir(typingctx, a, ties_down):
    """E2M1 magnitude code (int32) of float32 ``a`` by the midpoint rule, as 32-bit LLVM IR (8
    lanes per AVX2 compare): with b = bits(|a|) (+1 for a < 0 unless ``ties_down``), the code is
    #{m in midpoints : b > bits(m)} (non-negative floats order as their bit patterns)."""
    if a != types.float32 or not isinstance(ties_down, types.Boolean):
        return None

    def codegen(context, builder, signature, args):
        from llvmlite import ir                     # only when Numba compiles (keeps `import datatypes` light)

        i32 = ir.IntType(32)
        x, td = args
        u = builder.bitcast(x, i32)
        b = builder.and_(u, ir.Constant(i32, 0x7FFFFFFF))
        neg = builder.icmp_signed("<", u, ir.Constant(i32, 0))
        isneg = builder.and_(neg, builder.icmp_signed("!=", b, ir.Constant(i32, 0)))   # a < 0 (not -0.0)
        bump = builder.and_(isneg, builder.not_(builder.trunc(td, ir.IntType(1))))
        b = builder.add(b, builder.zext(bump, i32))
        acc = ir.Constant(i32, 0)
        for m in _MID_BITS:
            acc = builder.add(acc, builder.zext(builder.icmp_signed(">", b, ir.Constant(i32, m)), i32))
        return acc

    return types.int32(types.float32, types.boolean), codegen


@njit(cache=True, inline="always")
def _e2m1_index(a, ties_down_in_magnitude):
    """E2M1 magnitude code (0..7) of the level nearest to float32 ``a`` by the midpoint rule.

    Ties: toward -inf for the signed midpoint quantizer (so toward the smaller magnitude for a > 0
    and the larger for a < 0), or always toward the smaller magnitude if
    ``ties_down_in_magnitude``. |a| >= m is |a| + 1ulp > m, so a negative ``a`` compares its bit
    pattern plus one."""
    return _e2m1_index_ir(np.float32(a), ties_down_in_magnitude)


@njit(cache=True, inline="always")
def _e2m1_mag(i):
    """E2M1 magnitude of magnitude code i: 0 .5 1 1.5 2 3 4 6."""
    f = np.float32(i)
    return (np.float32(0.5) * f + np.float32(0.5) * max(f - np.float32(4.0), np.float32(0.0))
            + max(f - np.float32(6.0), np.float32(0.0)))


@njit(cache=True, inline="always")
def _nibble(i, negative):
    """Canonical RaZeR nibble of a non-special level with magnitude code i."""
    if i == 0:
        return np.uint8(ZERO_CODE)
    return np.uint8(i | 8) if negative else np.uint8(i)


@njit(cache=True, inline="always")
def _select4(t, aA, aB, iA, iB, n, sA, sB, big, bigmid, init, err, scratch):
    """The candidate search shared by razer4, nvfp4_razer and mxfp4_razer.

    Element k: target value t[k], scaled values aA[k] = t/sA-ish (class A, specials +-5) and aB[k]
    (class B, specials +-big), their E2M1 magnitude codes iA/iB. Candidates in order [+5, -5, +big,
    -big]; q = the special where aA (aB) lies in its capture interval, else the E2M1 level;
    err = mean((q * s - t)**2) in fp32 with PyTorch's summation order; the first strictly smallest
    (starting from ``init``) wins. Returns the candidate index.

    A candidate's squared errors equal its class's base (E2M1-only) errors except at the elements
    its special captures, so each class's base errors are computed once; a candidate that captures
    nothing has exactly the base array, hence the base sum (same values, same order)."""
    f4_5, f5_5 = np.float32(4.5), np.float32(5.5)
    five = np.float32(5.0)
    zero = np.float32(0.0)
    eA = err[0]
    eB = err[1]
    buf = err[2]
    n0 = 0
    n1 = 0
    n2 = 0
    n3 = 0
    for k in range(n):
        w = t[k]
        a = aA[k]
        b = aB[k]
        vA = _e2m1_mag(iA[k])
        vB = _e2m1_mag(iB[k])
        lA = -vA if a < zero else vA
        lB = -vB if b < zero else vB
        dA = lA * sA - w
        dB = lB * sB - w
        eA[k] = dA * dA
        eB[k] = dB * dB
        n0 += (a > f4_5) & (a <= f5_5)
        n1 += (a > -f5_5) & (a <= -f4_5)
        n2 += b > bigmid
        n3 += b <= -bigmid
    baseA = torch_mean_f32(eA, n, scratch) if (n0 == 0 or n1 == 0) else np.float32(0.0)
    baseB = torch_mean_f32(eB, n, scratch) if (n2 == 0 or n3 == 0) else np.float32(0.0)
    best = init
    c = 0
    for cand in range(4):
        cnt = n0 if cand == 0 else (n1 if cand == 1 else (n2 if cand == 2 else n3))
        if cnt == 0:
            e = baseA if cand < 2 else baseB
        else:
            if cand < 2:
                sv = five if cand == 0 else -five
                for k in range(n):
                    a = aA[k]
                    hit = (a > f4_5) & (a <= f5_5) if cand == 0 else (a > -f5_5) & (a <= -f4_5)
                    d = sv * sA - t[k]
                    buf[k] = d * d if hit else eA[k]
            else:
                sv = big if cand == 2 else -big
                for k in range(n):
                    b = aB[k]
                    hit = b > bigmid if cand == 2 else b <= -bigmid
                    d = sv * sB - t[k]
                    buf[k] = d * d if hit else eB[k]
            e = torch_mean_f32(buf, n, scratch)
        if e < best:
            best = e
            c = cand
    return c


@njit(cache=True, inline="always")
def _codes4(c, aA, aB, iA, iB, n, bigmid, flip, out, off):
    """Canonical nibbles of candidate c (see _select4); ``flip``: invert the sign bit of every
    non-special non-zero nibble (razer4 groups whose scale carries a negative special's sign)."""
    if c == 0:
        lo, hi = np.float32(4.5), np.float32(5.5)
    elif c == 1:
        lo, hi = np.float32(-5.5), np.float32(-4.5)
    elif c == 2:
        lo, hi = bigmid, np.float32(np.inf)
    else:
        lo, hi = np.float32(-np.inf), -bigmid
    xs = aA if c < 2 else aB
    ii = iA if c < 2 else iB
    fl = np.int32(1) if flip else np.int32(0)
    o = out[off:off + n]
    # branch-free (selects only) so that the loop vectorizes
    for k in range(n):
        a = xs[k]
        i = np.int32(ii[k])
        hit = (a > lo) & (a <= hi)
        code = i + ((np.int32(a < np.float32(0.0)) ^ fl) << 3)
        code = np.int32(ZERO_CODE) if i == 0 else code
        o[k] = np.uint8(np.int32(SPECIAL_CODE) if hit else code)


# ---- razer4 ----------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _razer4_kernel(x, g, codes, scales, meta):
    """Returns False if some input value overflows fp16."""
    rows, cols = x.shape
    ok = True
    scratch = np.empty(SUM_SCRATCH, np.float32)
    t = np.empty(g, np.float32)
    x6 = np.empty(g, np.float32)
    x8 = np.empty(g, np.float32)
    i6 = np.empty(g, np.int32)
    i8 = np.empty(g, np.int32)
    err = np.empty((4, g), np.float32)
    eight, seven = np.float32(8.0), np.float32(7.0)
    for r in range(rows):
        row = codes[r]
        for j in range(scales.shape[1]):
            s = j * g
            n = min(s + g, cols) - s
            xg = x[r, s:s + n]     # 1-D view: plain indexing lets the loops vectorize
            amax = f16r(absmax_f32(xg, n))   # = max |fp16(x)|: fp16 rounding is monotonic
            ok = ok and amax <= np.float32(65504.0)
            if amax == np.float32(0.0):
                # 0/0 in the reference: no level matches, every candidate reconstructs 0 with
                # error 0, so the first one (+5) is kept
                scales[r, j] = np.float32(0.0)
                meta[r, j] = 0
                for k in range(n):
                    row[s + k] = ZERO_CODE
                continue
            s6 = amax / np.float32(6.0)
            s8 = amax / np.float32(8.0)
            for k in range(n):
                w = f16r(xg[k])    # the input as the reference's fp16 weights
                t[k] = w
                a6 = w / s6
                a8 = w / s8
                x6[k] = a6
                x8[k] = a8
                i6[k] = _e2m1_index(a6, False)
                i8[k] = _e2m1_index(a8, False)
            c = _select4(t, x6, x8, i6, i8, n, s6, s8, eight, seven, np.float32(1e4), err, scratch)
            meta[r, j] = c
            scales[r, j] = s6 if c < 2 else s8
            _codes4(c, x6, x8, i6, i8, n, seven, (c & 1) == 1, row, s)
    return ok


@njit(cache=True)
def _dequant_f16_kernel(codes, scales, meta, g, values, out):
    """out = fp16(values[meta, code] * scale) (product in fp32, one rounding to fp16)."""
    rows, cols = codes.shape
    for r in range(rows):
        for k in range(cols):
            j = k // g
            out[r, k] = f16r(values[meta[r, j], codes[r, k]] * scales[r, j])


class _RazerBase(Format):
    family = "razer"
    bits = 4
    rounding = "nearest level: midpoints of the candidate's sorted levels, compared in float32"
    ties = "to the lower level (toward -inf)"
    overflow = "saturate; to the extreme level of the candidate"

    def __init__(self):
        self.levels = BASE_LEVELS.copy()


class Razer4(_RazerBase):
    name = "razer4"
    description = ("FP4-RaZeR (variant A): E2M1 + one special value per group from {+5,-5,+8,-8}, "
                   "2-bit selector; fp16 in, fp16 out")
    default_group_size = 128
    options = {"scale": "fp32"}
    scale_rule = ("per group: fp32 amax / 6 (special +-5) or amax / 8 (special +-8); scale='fp16' "
                  "stores it rounded to fp16 (the v1 kernel format: sign + bit 14 carry the selector)")
    output_dtype = "float16"
    scale_bits = 32
    meta_bits = 2
    n_meta = 4
    SPECIALS = (5.0, -5.0, 8.0, -8.0)

    def __init__(self):
        super().__init__()
        self._values = np.stack([canonical_values(abs(sv), negate=sv < 0) for sv in self.SPECIALS])
        self._values32 = self._values.astype(np.float32)

    def _validate_options(self, opts):
        check_choice(self, opts, "scale", ("fp32", "fp16"))

    def storage_bits(self, opts):
        # fp16 words carry the selector in the sign bit and bit 14
        return (16, 0, 0) if opts["scale"] == "fp16" else (32, 2, 0)

    def code_values(self, meta: int = 0) -> np.ndarray:
        """Value of each nibble in units of |scale| under selector ``meta`` (0: +5, 1: -5, 2: +8, 3: -8);
        for a negative special every value is negated (the kernel multiplies by a negative scale)."""
        return self._values[int(meta)].copy()

    def _prepare_input(self, arr):
        return fp16_input_lazy(arr)

    def _quantize2d(self, x, g, opts):
        rows, cols = x.shape
        ng = -(-cols // g)
        codes = np.empty((rows, cols), dtype=np.uint8)
        scales = np.empty((rows, ng), dtype=np.float32)
        meta = np.empty((rows, ng), dtype=np.uint8)
        if not _razer4_kernel(x, g, codes, scales, meta):
            raise_fp16_overflow(x)
        if opts["scale"] == "fp16":
            scales = scales.astype(np.float16).astype(np.float32)
        return codes, scales, meta, None

    def _dequantize2d(self, codes, scales, meta, g, tensor_scale, opts):
        out = np.empty(codes.shape, dtype=np.float32)
        _dequant_f16_kernel(codes, scales, meta, g, self._values32, out)
        return out.astype(np.float16)

    def pack_group_data(self, scales, meta, opts):
        if opts["scale"] != "fp16" or scales is None:
            return scales, meta
        words = scales.astype(np.float16).view(np.uint16)
        if np.any(words & 0xC000):
            big = float(np.abs(scales).max())
            raise InputError(f"razer4: the packed fp16 scale word keeps bit 14 for the selector, so "
                             f"|scale| must be < 2 (group absmax < 12); largest scale here is {big:g}")
        m = meta.astype(np.uint16)
        return (words | ((m & 1) << 15) | ((m >> 1) << 14)).astype(np.uint16), None

    def unpack_group_data(self, scales, meta, opts):
        if opts["scale"] != "fp16" or scales is None or meta is not None:
            return scales, meta
        w = np.asarray(scales, dtype=np.uint16)
        meta = (((w >> 15) & 1) | (((w >> 14) & 1) << 1)).astype(np.uint8)
        return (w & np.uint16(0x3FFF)).view(np.float16).astype(np.float32), meta


# ---- nvfp4_razer (weights, g16) ----------------------------------------------------------------------
@njit(cache=True, inline="always")
def _block_scale(v, lo, hi, bias, max_code):
    """Code of clamp(v, lo, hi) rounded to nearest-even on an E{4|3}M3 grid (bias 7: E4M3, 3: E3M3;
    ``max_code``: the largest finite magnitude code, never reached after the clamp)."""
    return encode(min(max(v, lo), hi), 3, bias, max_code, 7, np.uint8(0x7E))


@njit(cache=True, error_model="numpy")
def _nvfp4_razer_kernel(x, g, gs, o, bias, max_code, table, codes, scales, meta):
    rows, cols = x.shape
    scratch = np.empty(SUM_SCRATCH, np.float32)
    ws = np.empty(g, np.float32)
    x6 = np.empty(g, np.float32)
    xo = np.empty(g, np.float32)
    i6 = np.empty(g, np.int32)
    io = np.empty(g, np.int32)
    err = np.empty((4, g), np.float32)
    of = np.float32(o)
    omid = (np.float32(6.0) + of) / np.float32(2.0)
    smin = np.float32(2.0 ** -5)
    smax = np.float32(28.0)
    for r in range(rows):
        row = codes[r]
        for j in range(scales.shape[1]):
            s = j * g
            n = min(s + g, cols) - s
            xg = x[r, s:s + n]
            bmax = np.float32(0.0)
            for k in range(n):
                ws[k] = xg[k] / gs
                a = abs(ws[k])
                bmax = a if a > bmax else bmax
            c6 = _block_scale(bmax / np.float32(6.0), smin, smax, bias, max_code)
            co = _block_scale(bmax / of, smin, smax, bias, max_code)
            b6 = table[c6]
            bo = table[co]
            for k in range(n):
                a6 = ws[k] / b6
                ao = ws[k] / bo
                x6[k] = a6
                xo[k] = ao
                i6[k] = _e2m1_index(a6, False)
                io[k] = _e2m1_index(ao, False)
            c = _select4(ws, x6, xo, i6, io, n, b6, bo, of, omid, np.float32(np.inf), err, scratch)
            meta[r, j] = c
            scales[r, j] = c6 if c < 2 else co
            _codes4(c, x6, xo, i6, io, n, omid, False, row, s)


@njit(cache=True)
def _dequant_bf16_kernel(codes, scale_codes, meta, g, gs, values, table, out):
    """out = bf16(fp32(values[meta, code] * block_scale) * gs)."""
    rows, cols = codes.shape
    for r in range(rows):
        for k in range(cols):
            j = k // g
            out[r, k] = bf16r((values[meta[r, j], codes[r, k]] * table[scale_codes[r, j]]) * gs)


class NVFP4Razer(_RazerBase):
    name = "nvfp4_razer"
    description = ("NVFP4-RaZeR weights (variant B): E2M1 + special from {+5,-5,+o,-o} per 16, "
                   "E4M3-rounded block scale in [2^-5, 28], fp32 tensor scale; bf16 out")
    default_group_size = 16
    group_sizes = (16,)
    options = {"outlier": 8, "block_scale": "e4m3"}
    scale_rule = ("per 16 of w / gs: E4M3 RNE of clamp(bmax / qmax, 2^-5, 28), qmax 6 (+-5) or o "
                  "(block_scale='e3m3': the 6-bit E3M3 payload grid); gs = fp32 amax / 168 per tensor")
    output_dtype = "bfloat16"
    scale_bits = 8
    meta_bits = 0
    tensor_scale_bits = 32
    n_meta = 4

    def __init__(self):
        super().__init__()
        self._e4m3 = np.nan_to_num(E4M3.table).astype(np.float32)
        self._e3m3 = E3M3.table.astype(np.float32)

    def _validate_options(self, opts):
        o = opts["outlier"]
        if isinstance(o, bool) or o not in (7, 8):
            raise FormatError(f"format 'nvfp4_razer': option outlier={o!r} must be 8 (default) or 7 "
                              "(the reference's w_outlier settings)")
        check_choice(self, opts, "block_scale", ("e4m3", "e3m3"))

    def storage_bits(self, opts):
        # e3m3: one byte = 6-bit payload + the 2 selector bits; e4m3: an 8-bit scale + 2 bits
        return (8, 0, 32) if opts["block_scale"] == "e3m3" else (8, 2, 32)

    def specials(self, outlier: int = 8) -> tuple[float, ...]:
        return (5.0, -5.0, float(outlier), -float(outlier))

    def code_values(self, meta: int = 0, outlier: int = 8) -> np.ndarray:
        """Value of each nibble in block-scale units under selector ``meta`` (0: +5, 1: -5, 2: +o,
        3: -o; o = the ``outlier`` option, 8 by default)."""
        return canonical_values(self.specials(outlier)[int(meta)])

    def _table(self, opts):
        return self._e3m3 if opts["block_scale"] == "e3m3" else self._e4m3

    def _quantize2d(self, x, g, opts):
        rows, cols = x.shape
        ng = -(-cols // g)
        codes = np.full((rows, cols), ZERO_CODE, dtype=np.uint8)
        scales = np.empty((rows, ng), dtype=np.uint8)
        meta = np.zeros((rows, ng), dtype=np.uint8)
        e3 = opts["block_scale"] == "e3m3"
        bias, max_code = (3, E3M3.max_code) if e3 else (7, E4M3_MAX_CODE)
        gs = np.float32(np.abs(x).max() / np.float32(168.0))
        if gs == 0:   # all-zero tensor: the reference divides 0/0; we return zeros
            scales[:] = _block_scale_code(np.float32(2.0 ** -5), bias)
            return codes, scales, meta, 0.0
        _nvfp4_razer_kernel(x, g, gs, int(opts["outlier"]), bias, max_code, self._table(opts), codes, scales, meta)
        return codes, scales, meta, float(gs)

    def _dequantize2d(self, codes, scales, meta, g, tensor_scale, opts):
        values = np.stack([self.code_values(m, opts["outlier"]) for m in range(4)]).astype(np.float32)
        out = np.empty(codes.shape, dtype=np.float32)
        _dequant_bf16_kernel(codes, scales, meta, g, np.float32(tensor_scale), values, self._table(opts), out)
        return out

    def pack_group_data(self, scales, meta, opts):
        """block_scale='e3m3': the g16 kernel's scale byte (bits 5..0 = E3M3 payload, bit 6 = special
        is o, bit 7 = negative). block_scale='e4m3' (the fake quantizer's scales, 79 values, which the
        6-bit payload cannot hold): the E4M3 code bytes and the selectors as stored."""
        if scales is None or opts["block_scale"] != "e3m3":
            return scales, meta
        m = meta.astype(np.uint8)
        return (scales.astype(np.uint8) | ((m >> 1) << 6) | ((m & 1) << 7)).astype(np.uint8), None

    def unpack_group_data(self, scales, meta, opts):
        if scales is None or meta is not None or opts["block_scale"] != "e3m3":
            return scales, meta
        b = np.asarray(scales, dtype=np.uint8)
        meta = (((b >> 7) & 1) | (((b >> 6) & 1) << 1)).astype(np.uint8)
        return (b & np.uint8(0x3F)).astype(np.uint8), meta


def _block_scale_code(v, bias) -> np.uint8:
    spec = E3M3 if bias == 3 else E4M3
    return spec.encode_array(np.asarray([v], np.float32), "saturate")[0]


# ---- nvfp4_razer_act (activations / KV, g16, v0 semantics) ----------------------------------------
@njit(cache=True, error_model="numpy")
def _nvfp4_razer_act_kernel(x, g, gs, table, codes, scales, meta):
    rows, cols = x.shape
    scratch = np.empty(SUM_SCRATCH, np.float32)
    xs = np.empty(g, np.float32)
    xb = np.empty(g, np.float32)
    qf = np.empty(g, np.float32)
    mi = np.empty(g, np.int32)
    err = np.empty((2, g), np.float32)
    five = np.float32(5.0)
    zero = np.float32(0.0)
    smin = np.float32(2.0 ** -9)
    smax = np.float32(448.0)
    for r in range(rows):
        for j in range(scales.shape[1]):
            s = j * g
            n = min(s + g, cols) - s
            xg = x[r, s:s + n]
            bmax = zero
            for k in range(n):
                xs[k] = xg[k] / gs
                a = abs(xs[k])
                bmax = a if a > bmax else bmax
            c = encode(min(max(bmax / np.float32(6.0), smin), smax), 3, 7, E4M3_MAX_CODE, 7, np.uint8(0x7E))
            scales[r, j] = c
            bs = table[c]
            for k in range(n):
                v = xs[k] / bs
                xb[k] = v
                i = _e2m1_index(v, True)
                mi[k] = i
                m = _e2m1_mag(i)
                # sign(v) * level: +-0 for v = 0 or a level of 0
                q = -m if v < zero else (m if v > zero else zero)
                qf[k] = q
                dq = abs(v - q)
                qn = q if dq < abs(v + five) else -five
                qp = q if dq < abs(v - five) else five
                dn = qn * bs - xs[k]
                dp = qp * bs - xs[k]
                err[0, k] = dn * dn
                err[1, k] = dp * dp
            en = torch_mean_f32(err[0], n, scratch)
            ep = torch_mean_f32(err[1], n, scratch)
            neg = not (ep < en)          # candidates [-5, +5], strict <: a tie keeps -5
            meta[r, j] = 1 if neg else 0
            sv = -five if neg else five
            for k in range(n):
                v = xb[k]
                if not (abs(v - qf[k]) < abs(v - sv)):
                    codes[r, s + k] = SPECIAL_CODE
                else:
                    codes[r, s + k] = _nibble(mi[k], v < zero)


class NVFP4RazerAct(_RazerBase):
    name = "nvfp4_razer_act"
    description = ("NVFP4-RaZeR activations/KV (variant C, intended v0 semantics): E2M1 + special "
                   "-5 or +5 per 16, E4M3 block scale (its sign bit = the selector); bf16 out")
    default_group_size = 16
    group_sizes = (16,)
    options = {}
    rounding = ("E2M1 by midpoints of |x| (ties to the smaller magnitude); an element becomes the "
                "special value unless its E2M1 level is strictly closer")
    ties = "to the smaller magnitude; equidistant to the special value: the special value"
    overflow = "saturate; to +-6 (or the special)"
    scale_rule = "E4M3 per 16 of x / gs: clamp(bmax / 6, 2^-9, 448); gs = fp32 amax / 2688 per tensor"
    output_dtype = "bfloat16"
    scale_bits = 8
    meta_bits = 0
    tensor_scale_bits = 32
    n_meta = 2

    def __init__(self):
        super().__init__()
        self._e4m3 = np.nan_to_num(E4M3.table).astype(np.float32)
        self._values = np.stack([canonical_values(5.0), canonical_values(-5.0)])

    def code_values(self, meta: int = 0) -> np.ndarray:
        """Value of each nibble in block-scale units; meta 1 = special -5, 0 = +5."""
        return self._values[int(meta)].copy()

    def _quantize2d(self, x, g, opts):
        rows, cols = x.shape
        ng = -(-cols // g)
        codes = np.full((rows, cols), ZERO_CODE, dtype=np.uint8)
        scales = np.empty((rows, ng), dtype=np.uint8)
        meta = np.ones((rows, ng), dtype=np.uint8)
        gs = np.float32(np.abs(x).max() / np.float32(2688.0))
        if gs == 0:
            scales[:] = _block_scale_code(np.float32(2.0 ** -9), 7)
            return codes, scales, meta, 0.0
        _nvfp4_razer_act_kernel(x, g, gs, self._e4m3, codes, scales, meta)
        return codes, scales, meta, float(gs)

    def _dequantize2d(self, codes, scales, meta, g, tensor_scale, opts):
        out = np.empty(codes.shape, dtype=np.float32)
        _dequant_bf16_kernel(codes, scales, meta, g, np.float32(tensor_scale), self._values.astype(np.float32),
                             self._e4m3, out)
        return out

    def _negative_zeros(self, x, g, codes, scales, meta, opts):
        # v0: w_q_unsigned * sign(xb) is -0.0 for a negative xb rounding to 0 (torch.sign(-0.0) = 0);
        # the canonical nibbles have one zero (0x8), so dequantize() takes the sign from here
        gs = np.float32(np.abs(x).max() / np.float32(2688.0))
        if gs == 0:
            return None
        xb = (x / gs) / per_element(self._e4m3[scales], g, x.shape[1])
        return (xb < 0) & (codes == ZERO_CODE)

    def pack_group_data(self, scales, meta, opts):
        """E4M3 scale code with its sign bit (scales are positive) = special is -5."""
        if scales is None:
            return scales, meta
        return (scales.astype(np.uint8) | (meta.astype(np.uint8) << 7)).astype(np.uint8), None

    def unpack_group_data(self, scales, meta, opts):
        if scales is None or meta is not None:
            return scales, meta
        b = np.asarray(scales, dtype=np.uint8)
        return (b & np.uint8(0x7F)).astype(np.uint8), (b >> 7).astype(np.uint8)


# ---- mxfp4_razer (g32, E8M0) ------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _mxfp4_razer_kernel(x, g, codes, scales, meta):
    rows, cols = x.shape
    scratch = np.empty(SUM_SCRATCH, np.float32)
    xs = np.empty(g, np.float32)
    ii = np.empty(g, np.int32)
    err = np.empty((4, g), np.float32)
    one = np.float32(1.0)
    eight, seven = np.float32(8.0), np.float32(7.0)
    tiny = np.float32(2.0 ** -126)
    for r in range(rows):
        row = codes[r]
        for j in range(scales.shape[1]):
            s = j * g
            n = min(s + g, cols) - s
            xg = x[r, s:s + n]
            amax = np.float32(0.0)
            for k in range(n):
                a = abs(xg[k])
                amax = a if a > amax else amax
            ex = np.floor(log2_f32(amax + tiny if amax == np.float32(0.0) else amax)) - np.float32(2.0)
            ex = max(ex, np.float32(-127.0))
            scales[r, j] = np.uint8(np.int64(ex) + 127)
            p = np.float32(2.0) ** ex
            for k in range(n):
                a = xg[k] / p
                xs[k] = a
                ii[k] = _e2m1_index(a, False)
            # error (xs - q)**2 = (q * 1 - xs)**2: the shared search with scale 1 on xs
            c = _select4(xs, xs, xs, ii, ii, n, one, one, eight, seven, np.float32(1e4), err, scratch)
            meta[r, j] = c
            _codes4(c, xs, xs, ii, ii, n, seven, False, row, s)


@njit(cache=True)
def _dequant_mx_f16_kernel(codes, scale_codes, meta, g, values, out):
    rows, cols = codes.shape
    for r in range(rows):
        for k in range(cols):
            j = k // g
            p = np.float32(2.0) ** np.float32(np.int64(scale_codes[r, j]) - 127)
            out[r, k] = f16r(values[meta[r, j], codes[r, k]] * p)


class MXFP4Razer(_RazerBase):
    name = "mxfp4_razer"
    description = ("MXFP4-RaZeR (variant D, Aug 2025): E2M1 + special from {+5,-5,+8,-8} per 32, "
                   "E8M0 scale (OCP floor rule); fp16 in, fp16 out")
    default_group_size = 32
    group_sizes = (32,)
    options = {}
    scale_rule = "E8M0 per 32 (scales = biased exponent codes): max(floor(log2 amax) - 2, -127)"
    output_dtype = "float16"
    scale_bits = 8
    meta_bits = 2
    n_meta = 4
    SPECIALS = (5.0, -5.0, 8.0, -8.0)

    def __init__(self):
        super().__init__()
        self._values = np.stack([canonical_values(sv) for sv in self.SPECIALS])

    def code_values(self, meta: int = 0) -> np.ndarray:
        """Value of each nibble in units of 2**(scale - 127) under selector ``meta`` (0: +5, 1: -5,
        2: +8, 3: -8)."""
        return self._values[int(meta)].copy()

    def _prepare_input(self, arr):
        return fp16_input(arr)

    def _quantize2d(self, x, g, opts):
        rows, cols = x.shape
        ng = -(-cols // g)
        codes = np.empty((rows, cols), dtype=np.uint8)
        scales = np.empty((rows, ng), dtype=np.uint8)
        meta = np.empty((rows, ng), dtype=np.uint8)
        _mxfp4_razer_kernel(x, g, codes, scales, meta)
        return codes, scales, meta, None

    def _dequantize2d(self, codes, scales, meta, g, tensor_scale, opts):
        out = np.empty(codes.shape, dtype=np.float32)
        _dequant_mx_f16_kernel(codes, scales, meta, g, self._values.astype(np.float32), out)
        return out.astype(np.float16)


# ---- mxfp4_razer_weight / mxfp4_razer_act (variant E, NVFP4-RaZeR HEAD) --------------------------------
@njit(cache=True, error_model="numpy")
def _mxfp4_razer_e_kernel(x, g, specials, codes, scales, meta, negz, mse):
    """Returns False if some group needs more than the E2M1 range (scale exponent clamped at -31)."""
    rows, cols = x.shape
    scratch = np.empty(SUM_SCRATCH, np.float32)
    ws = np.empty(g, np.float32)
    qf = np.empty(g, np.float32)
    err = np.empty(g, np.float32)
    ns = specials.shape[0]
    six = np.float32(6.0)
    tiny = np.float32(2.0 ** -126)
    zero = np.float32(0.0)
    ok = True
    for r in range(rows):
        for j in range(scales.shape[1]):
            s = j * g
            n = min(s + g, cols) - s
            xg = x[r, s:s + n]
            amax = zero
            for k in range(n):
                a = abs(xg[k])
                amax = a if a > amax else amax
            sc = amax / six
            ex = np.ceil(log2_f32(sc + tiny if sc == zero else sc))
            ex = min(max(ex, np.float32(-31.0)), np.float32(31.0))
            scales[r, j] = np.uint8(np.int64(ex) + 127)
            p = np.float32(2.0) ** ex
            for k in range(n):
                v = xg[k] / p
                ws[k] = v
                q = e2m1_round(v)
                ok = ok and abs(q) <= six
                qf[k] = q
            best = np.float32(np.inf)
            c = 0
            for ci in range(ns):
                sv = specials[ci]
                for k in range(n):
                    v = ws[k]
                    q = qf[k] if abs(v - qf[k]) < abs(v - sv) else sv
                    d = q - v
                    err[k] = d * d
                e = torch_mean_f32(err, n, scratch)
                mse[r, j, ci] = e
                if e < best:
                    best = e
                    c = ci
            meta[r, j] = c
            sv = specials[c]
            for k in range(n):
                v = ws[k]
                q = qf[k]
                if not (abs(v - q) < abs(v - sv)):
                    codes[r, s + k] = SPECIAL_CODE
                    negz[r, s + k] = False
                else:
                    i = np.int64(abs(q) * np.float32(2.0))
                    mag = i if i <= 4 else (i + 4) // 2 if i <= 8 else 7       # 2|q| -> magnitude code
                    codes[r, s + k] = _nibble(mag, q < zero)
                    negz[r, s + k] = (mag == 0) and (v < zero)
    return ok


class MXFP4RazerE(_RazerBase):
    """MXFP4-RaZeR variant E (``quant_mxfp4_razer`` of NVFP4-RaZeR @ 82ecc9a)."""

    default_group_size = 32
    group_sizes = (32,)
    options = {}
    rounding = ("E2M1 by the reference formula (ties away from zero, sign of x); an element becomes "
                "the special value unless its E2M1 value is strictly closer")
    ties = "away from zero; equidistant to the special value: the special value"
    overflow = "none; the scale exponent is rounded up so that max |x| / 2**e <= 6"
    scale_rule = ("E8M0 per 32 (scales = biased exponent codes): ceil(log2(amax / 6)) clamped to "
                  "[-31, 31]")
    output_dtype = "bfloat16"
    scale_bits = 8

    def __init__(self, name: str, specials: tuple[float, ...], description: str):
        super().__init__()
        self.name = name
        self.SPECIALS = specials
        self.description = description
        self.n_meta = len(specials)
        self.meta_bits = 1 if len(specials) == 2 else 2
        self._specials32 = np.array(specials, np.float32)
        self._values = np.stack([canonical_values(sv) for sv in specials])

    def code_values(self, meta: int = 0) -> np.ndarray:
        """Value of each canonical nibble in units of 2**(scale - 127) under selector ``meta`` (the
        index into SPECIALS, the reference's search order)."""
        return self._values[int(meta)].copy()

    def _quantize2d(self, x, g, opts):
        rows, cols = x.shape
        ng = -(-cols // g)
        codes = np.empty((rows, cols), dtype=np.uint8)
        scales = np.empty((rows, ng), dtype=np.uint8)
        meta = np.empty((rows, ng), dtype=np.uint8)
        negz = np.zeros((rows, cols), dtype=np.bool_)
        mse = np.empty((rows, ng, len(self.SPECIALS)), dtype=np.float32)
        if not _mxfp4_razer_e_kernel(x, g, self._specials32, codes, scales, meta, negz, mse):
            raise InputError(f"{self.name}: a block's max |x| is below 6 * 2**-31 (the reference clamps the "
                             "scale exponent at -31, so its elements exceed the E2M1 range); scale the input up")
        return codes, scales, meta, None, {"negative_zeros": negz, "candidate_mse": mse}

    def _dequantize2d(self, codes, scales, meta, g, tensor_scale, opts):
        out = np.empty(codes.shape, dtype=np.float32)
        _dequant_mx_f32_kernel(codes, scales, meta, g, self._values.astype(np.float32), out)
        return bf16r_array(out)


@njit(cache=True)
def _dequant_mx_f32_kernel(codes, scale_codes, meta, g, values, out):
    rows, cols = codes.shape
    for r in range(rows):
        for k in range(cols):
            j = k // g
            p = np.float32(2.0) ** np.float32(np.int64(scale_codes[r, j]) - 127)
            out[r, k] = values[meta[r, j], codes[r, k]] * p


def bf16r_array(x: np.ndarray) -> np.ndarray:
    from .minifloat import round_to_bf16

    return round_to_bf16(x)


register(Razer4(), ("fp4_razer", "razer"))
register(NVFP4Razer(), ("nvfp4_razer_e3m3",))
register(NVFP4RazerAct(), ("nvfp4_razer_e4m3",))
register(MXFP4Razer())
register(MXFP4RazerE("mxfp4_razer_weight", (-5.0, 5.0, -3.5, 3.5),
                     "MXFP4-RaZeR weights (variant E, NVFP4-RaZeR HEAD): E2M1 + special from {-5,+5,-3.5,+3.5} "
                     "per 32, E8M0 scale (ceil rule); bf16 out"))
register(MXFP4RazerE("mxfp4_razer_act", (-5.0, 5.0),
                     "MXFP4-RaZeR activations (variant E, is_act=True): E2M1 + special -5 or +5 per 32, "
                     "E8M0 scale (ceil rule); bf16 out"))
