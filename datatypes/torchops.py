"""PyTorch CPU arithmetic, replicated inside Numba kernels: fp16 / bf16 rounding and the fp32 sum.

The published reference quantizers are PyTorch code; matching them bit for bit needs the exact
result of each tensor op. Two things are not plain IEEE float32 arithmetic:

1. fp16 / bf16 ops. PyTorch computes an fp16 (or bf16) tensor operation on CPU by converting the operands to float32,
doing the operation in float32 and rounding the result to the narrow type (round to nearest, ties to
even). Kernels here replicate that op by op: ``f16r(a / b)`` is torch's ``a / b`` on half tensors,
provided ``a`` and ``b`` are float32 values that are exactly representable in fp16.

``f16r(x)``: nearest fp16 value of float32 ``x`` (ties to even, overflow to +-inf, the sign of zero
kept), as a float32. Normal range: round the float32 significand to 10 bits on the bit pattern;
subnormal range (|x| < 2**-14): fixed quantum 2**-24, obtained exactly as ``(|x| + 0.75) - 0.75`` in
float32 (0.75 has ulp 2**-24).

2. Reductions. ``x.sum(-1)`` / ``x.mean(-1)`` (= sum / n) of float32 rows, and of fp16 rows (which
the CPU mean casts to float32 first), use the summation order of ATen's ``cascade_sum``
(aten/src/ATen/native/cpu/SumKernel.cpp): rows of at least 8 elements are read as 8-lane float32
vectors (AVX2 ``Vectorized<float>``), summed lane-wise by ``row_sum`` (4 interleaved accumulators,
``multi_row_sum`` cascade levels of 16), the tail elements added to a scalar starting at 0, then
the 8 lanes added to it in order; shorter rows use the same ``row_sum`` on scalars.
:func:`torch_sum_f32` reproduces that order exactly (checked against PyTorch 2.13 on an AVX2 CPU
for row lengths 1 .. 70000). It matters: with fp16/bf16 inputs, candidate codebooks whose errors
are mathematically equal (e.g. a group holding both +v and -v) are told apart only by the rounding
of the sum, and the reference then keeps whichever its own order makes smaller.
"""

from __future__ import annotations

import numpy as np

from ._jit import intrinsic, njit, types
from .minifloat import f32_bits  # noqa: F401  (float32 -> uint32 bitcast, re-exported)


@intrinsic
def bits_f32(typingctx, u):
    """float32 whose bit pattern is the low 32 bits of the integer ``u``."""
    if not isinstance(u, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        from llvmlite import ir                     # only when Numba compiles

        v = args[0]
        if u.bitwidth > 32:
            v = builder.trunc(v, ir.IntType(32))
        return builder.bitcast(v, context.get_value_type(types.float32))

    return types.float32(u), codegen


@intrinsic
def f16r(typingctx, x):
    """float32 -> nearest float16 value (RNE), returned as float32; overflow to +-inf, the sign of
    zero kept. Emitted as 32-bit integer / float LLVM IR with selects only (no branches, no 64-bit
    lanes), so loops calling it vectorize 8 wide:
        normal range (|x| >= 2**-14): round the float32 significand to 10 bits on the bit pattern,
            (|u| + 0xFFF + bit13) & ~0x1FFF, beyond 65504 -> inf;
        subnormal range: fixed quantum 2**-24, (|x| + 0.75) - 0.75 in float32 (0.75 has ulp 2**-24).
    tests/test_torchops.py compares it with numpy's float16 conversion."""
    if x != types.float32:
        return None

    def codegen(context, builder, signature, args):
        from llvmlite import ir                     # only when Numba compiles

        i32 = ir.IntType(32)
        f32 = ir.FloatType()

        def c(v):
            return ir.Constant(i32, v - (1 << 32) if v >= (1 << 31) else v)

        u = builder.bitcast(args[0], i32)
        sign = builder.and_(u, c(0x80000000))
        ab = builder.and_(u, c(0x7FFFFFFF))
        a = builder.bitcast(ab, f32)
        t = builder.fsub(builder.fadd(a, ir.Constant(f32, 0.75)), ir.Constant(f32, 0.75))
        sub = builder.or_(builder.bitcast(t, i32), sign)
        lsb = builder.and_(builder.lshr(ab, c(13)), c(1))
        r = builder.and_(builder.add(builder.add(ab, c(0x0FFF)), lsb), c(0x7FFFE000))
        r = builder.select(builder.icmp_signed(">", r, c(0x477FE000)), c(0x7F800000), r)   # > 65504: inf
        nrm = builder.or_(r, sign)
        small = builder.icmp_signed("<", ab, c(0x38800000))                                 # |x| < 2**-14
        return builder.bitcast(builder.select(small, sub, nrm), f32)

    return types.float32(types.float32), codegen


@njit(cache=True, inline="always")
def bf16r(x):
    """float32 -> nearest bfloat16 value (RNE), returned as float32 (finite inputs)."""
    u = np.int64(f32_bits(x))
    return bits_f32((u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000)


@njit(cache=True)
def _f16r_array(x, out):
    for i in range(x.shape[0]):
        out[i] = f16r(x[i])


def f16_round(x: np.ndarray) -> np.ndarray:
    """numpy wrapper of :func:`f16r` (float32 array in, float32 array of fp16 values out)."""
    flat = np.ascontiguousarray(x, dtype=np.float32).ravel()
    out = np.empty_like(flat)
    _f16r_array(flat, out)
    return out.reshape(np.shape(x))


@njit(cache=True)
def _widen_f16_bits(h, out):
    for i in range(h.shape[0]):
        b = np.int64(h[i])
        e = (b >> 10) & 0x1F
        m = b & 0x3FF
        if e == 0:
            v = np.float32(m) * np.float32(2.0 ** -24)
        elif e == 31:
            v = np.float32(np.inf) if m == 0 else np.float32(np.nan)
        else:
            v = bits_f32(((e + 112) << 23) | (m << 13))
        out[i] = -v if b >> 15 else v


def as_fp16_values(arr: np.ndarray) -> tuple[np.ndarray, bool]:
    """``arr`` rounded to fp16 (torch ``.to(float16)``, RNE) and widened exactly to float32;
    also whether every value stayed finite (|x| < 65520)."""
    if arr.dtype == np.float16:
        out = np.empty(arr.shape, np.float32)
        _widen_f16_bits(np.ascontiguousarray(arr).view(np.uint16).ravel(), out.reshape(-1))
        return out, True
    if arr.dtype == np.float32:
        out = f16_round(arr)
    else:                                   # float64: one direct rounding, as torch does
        with np.errstate(over="ignore"):
            out = arr.astype(np.float16).astype(np.float32)
    return out, bool(np.isfinite(out).all())


#: float32 lanes of ATen's Vectorized<float> on AVX2, and row_sum's interleave factor.
SUM_LANES = 8
SUM_ILP = 4
#: Size of the scratch array torch_sum_f32 needs.
SUM_SCRATCH = 4 * SUM_ILP * SUM_LANES + SUM_LANES


@njit(cache=True)
def _ceil_log2(x):
    if x <= 2:
        return 1
    v = x - 1
    n = 0
    while v > 0:
        v >>= 1
        n += 1
    return n


@njit(cache=True, inline="always")
def _add_ilp_block(acc, buf, i, lanes):
    """Level-0 accumulators += block ``i`` of SUM_ILP elements (ATen's inner ``row_sum`` loop)."""
    for k in range(SUM_ILP):
        base = (i * SUM_ILP + k) * lanes
        for l in range(lanes):
            acc[0, k, l] += buf[base + l]


@njit(cache=True)
def _row_sum(buf, size, lanes, scratch):
    """ATen ``row_sum`` of ``size`` elements of ``lanes`` float32 each (element i = buf[i*lanes :
    (i+1)*lanes]), lane-wise, with ``multi_row_sum``'s cascade; result in scratch[:lanes]."""
    num_levels = 4
    size_ilp = size // SUM_ILP
    level_power = max(4, _ceil_log2(size_ilp) // num_levels)
    level_step = 1 << level_power
    level_mask = level_step - 1
    acc = scratch[SUM_LANES:SUM_LANES + num_levels * SUM_ILP * lanes].reshape((num_levels, SUM_ILP, lanes))
    acc[:] = np.float32(0.0)
    i = 0
    while i + level_step <= size_ilp:
        for _ in range(level_step):
            _add_ilp_block(acc, buf, i, lanes)
            i += 1
        for j in range(1, num_levels):
            for k in range(SUM_ILP):
                for l in range(lanes):
                    acc[j, k, l] += acc[j - 1, k, l]
                    acc[j - 1, k, l] = np.float32(0.0)
            if (i & (level_mask << (j * level_power))) != 0:
                break
    while i < size_ilp:
        _add_ilp_block(acc, buf, i, lanes)
        i += 1
    for j in range(1, num_levels):
        for k in range(SUM_ILP):
            for l in range(lanes):
                acc[0, k, l] += acc[j, k, l]
    for i in range(size_ilp * SUM_ILP, size):
        base = i * lanes
        for l in range(lanes):
            acc[0, 0, l] += buf[base + l]
    for k in range(1, SUM_ILP):
        for l in range(lanes):
            acc[0, 0, l] += acc[0, k, l]
    for l in range(lanes):
        scratch[l] = acc[0, 0, l]


@njit(cache=True, inline="always")
def _sum_short(buf, vec_size):
    """Fast path of torch_sum_f32 for 4 <= vec_size < 64 whole 8-lane vectors (no cascade level
    completes): 4 interleaved lane accumulators, the leftover vectors into the first, then combined."""
    z = np.float32(0.0)
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = z
    b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = z
    c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = z
    d0 = d1 = d2 = d3 = d4 = d5 = d6 = d7 = z
    size_ilp = vec_size // 4
    for i in range(size_ilp):
        p = i * 32
        a0 += buf[p]; a1 += buf[p + 1]; a2 += buf[p + 2]; a3 += buf[p + 3]          # noqa: E702
        a4 += buf[p + 4]; a5 += buf[p + 5]; a6 += buf[p + 6]; a7 += buf[p + 7]      # noqa: E702
        b0 += buf[p + 8]; b1 += buf[p + 9]; b2 += buf[p + 10]; b3 += buf[p + 11]    # noqa: E702
        b4 += buf[p + 12]; b5 += buf[p + 13]; b6 += buf[p + 14]; b7 += buf[p + 15]  # noqa: E702
        c0 += buf[p + 16]; c1 += buf[p + 17]; c2 += buf[p + 18]; c3 += buf[p + 19]  # noqa: E702
        c4 += buf[p + 20]; c5 += buf[p + 21]; c6 += buf[p + 22]; c7 += buf[p + 23]  # noqa: E702
        d0 += buf[p + 24]; d1 += buf[p + 25]; d2 += buf[p + 26]; d3 += buf[p + 27]  # noqa: E702
        d4 += buf[p + 28]; d5 += buf[p + 29]; d6 += buf[p + 30]; d7 += buf[p + 31]  # noqa: E702
    for i in range(size_ilp * 4, vec_size):
        p = i * 8
        a0 += buf[p]; a1 += buf[p + 1]; a2 += buf[p + 2]; a3 += buf[p + 3]          # noqa: E702
        a4 += buf[p + 4]; a5 += buf[p + 5]; a6 += buf[p + 6]; a7 += buf[p + 7]      # noqa: E702
    a0 = ((a0 + b0) + c0) + d0
    a1 = ((a1 + b1) + c1) + d1
    a2 = ((a2 + b2) + c2) + d2
    a3 = ((a3 + b3) + c3) + d3
    a4 = ((a4 + b4) + c4) + d4
    a5 = ((a5 + b5) + c5) + d5
    a6 = ((a6 + b6) + c6) + d6
    a7 = ((a7 + b7) + c7) + d7
    return a0, a1, a2, a3, a4, a5, a6, a7


@njit(cache=True)
def torch_sum_f32(buf, n, scratch):
    """Sum of the float32 values buf[:n] in the order of PyTorch's CPU sum kernel (AVX2 build).
    ``scratch``: float32 work array of at least SUM_SCRATCH elements (allocate once per kernel)."""
    if n < SUM_LANES:
        _row_sum(buf, n, 1, scratch)
        return scratch[0]
    vec_size = n // SUM_LANES
    final = np.float32(0.0)
    for k in range(vec_size * SUM_LANES, n):
        final += buf[k]
    if vec_size < 64:
        a0, a1, a2, a3, a4, a5, a6, a7 = _sum_short(buf, vec_size)
        return (((((((final + a0) + a1) + a2) + a3) + a4) + a5) + a6) + a7
    _row_sum(buf, vec_size, SUM_LANES, scratch)
    for l in range(SUM_LANES):
        final += scratch[l]
    return final


@njit(cache=True)
def torch_mean_f32(buf, n, scratch):
    """``x.mean(-1)`` of a float32 row as PyTorch computes it on CPU: the sum above, divided by n."""
    return torch_sum_f32(buf, n, scratch) / np.float32(n)


def fp16_input_lazy(arr: np.ndarray) -> np.ndarray:
    """Input of an fp16-semantics kernel: float32 arrays pass through (the kernel applies
    :func:`f16r` to every element it reads, which is the same as ``x.to(float16)``); float16 is
    widened exactly; float64 is rounded to fp16 directly (one rounding, as torch does) and widened."""
    if arr.dtype == np.float32:
        return arr
    return fp16_input(arr)


def fp16_input(arr: np.ndarray) -> np.ndarray:
    """Input of an fp16-semantics quantizer: ``arr`` rounded to fp16 and widened (:func:`as_fp16_values`);
    values beyond the fp16 range are refused (:func:`raise_fp16_overflow`)."""
    out, finite = as_fp16_values(arr)
    if not finite:
        raise_fp16_overflow(arr)
    return out


def raise_fp16_overflow(arr: np.ndarray):
    from .errors import InputError

    raise InputError(f"input has values beyond the fp16 range (max |x| = {float(np.abs(arr).max()):g}; "
                     "values of magnitude 65520 or more round to inf); this format quantizes fp16 values")
