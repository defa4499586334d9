"""BBS: Bi-directional Bit-level Sparsity (BitVert, MICRO 2024; spec §5) on integer weights.

Binary pruning, bit-exact with yc2367/BBS-MICRO @ e53aebf (``binary_pruning.py``, ``bit_flip.py``):

``round_avg`` (``roundAvg_fc``; two's complement): per group, r = number of bit columns right
    below the sign column that equal it in every element (at most bits - 5), p = bits - n_pruned + r;
    if p < bits the low bits - p bits of every element are replaced by c = round_half_even(mean of
    their unsigned values). The low columns become constant (fully skippable) and the r columns are
    redundant sign extension: n_pruned "free" columns per group.
``zero_point_shift`` (``zeroPointShifting_fc``; sign-magnitude): for every offset o in
    [-2**(const_bits-1), 2**(const_bits-1) - 1] in increasing order: s = clamp(x + o, +-(2**(bits-1) - 1)),
    z = leading all-zero magnitude columns, p = bits - n_pruned + z, t = 1 + z; if p < bits the
    magnitude becomes the nearest n * 2**(bits-p), n < 2**(p-t) (ties to the smaller n, saturating);
    x_hat = s' - o. The offset with the smallest sum of squared errors wins (strict <, so ties keep
    the most negative offset). The hardware computes sum(a * s') - o * sum(a).
``bit_flip`` (BitWave's bit flip, ``bitFlip_fc``; sign-magnitude, the baseline): every all-zero
    magnitude column above the prune pointer pushes it down by one (p = bits - n_pruned + #), t =
    1 + the last such column, and the magnitude bits t.. are rounded as above. (As the reference,
    -2**(bits-1) is first mapped to -(2**(bits-1) - 1).)

Groups are ``group_size`` consecutive elements along the last axis (a row shorter than the group
is one group, as the reference does; otherwise the row length must be a multiple of the group).

The hardware view:

:func:`column_view` -- per sub-group of 8 weights (the BitVert PE's half) and bit column: the number
    of ones; a column with more than half ones is inverted (the PE adds the zeros' activations and
    subtracts from the sum of all), so the effectual bits of the column are min(ones, 8 - ones).
    :class:`ColumnStats` summarises bit sparsity, bi-directional sparsity and effectual bits per
    column (at most 4 by construction: the PE's 4 adder inputs per sub-group).
:func:`encode` / :func:`decode` -- a compressed tensor: every weight keeps exactly bits - n_pruned
    bit columns, plus per-group metadata, and the decode restores the pruned integers exactly:
    round_avg (two's complement): d = min(r, n_pruned) in ceil(log2(min(n_pruned, bits-5) + 1)) bits
        and the constant low bits c in n_pruned - d bits; kept: the sign column and columns
        1 + d .. bits - n_pruned + d - 1.
    zero_point_shift (sign-magnitude of s' = x_hat + o): the offset o in const_bits bits (two's
        complement) and d = min(z, n_pruned) in bit_length(n_pruned) bits; kept: the sign and
        magnitude columns 1 + d .. bits - n_pruned + d - 1 (all others are zero).
    bit_flip (sign-magnitude): a bits-1 bit mask of the stored magnitude columns (all non-zero
        columns of the group, then the first zero ones to make bits - n_pruned - 1); kept: the sign
        and those columns.
    ``Encoded.total_bits`` is the exact size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ._jit import njit

from .errors import FormatError, InputError, InputTypeError

METHODS = ("round_avg", "zero_point_shift", "bit_flip")
MIN_BITS, MAX_BITS = 3, 16


# ---- validation -------------------------------------------------------------------------------------
def _as_int_array(w: Any, bits: int) -> np.ndarray:
    """Integer weights as int32 (at least 1-D); floats must hold integers; range checked."""
    if isinstance(w, (str, bytes)):
        raise InputTypeError(f"BBS takes an array of integers, not {type(w).__name__}")
    a = np.asarray(w)
    if a.dtype.kind == "b" or a.dtype.kind not in "iuf":
        raise InputTypeError(f"BBS takes integer weights (an integer array, or floats holding integers); "
                             f"got dtype {a.dtype}")
    if a.ndim == 0:
        raise InputError("BBS takes an array with at least one axis (groups run along the last)")
    if a.size == 0:
        raise InputError(f"the weight array is empty (shape {a.shape})")
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise InputError("the weights contain NaN or Inf; BBS takes integers")
        frac = a != np.round(a)
        if frac.any():
            i = tuple(int(v) for v in np.argwhere(frac)[0])
            raise InputError(f"BBS takes integer weights; element {list(i)} = {a[i]!r} is not an integer "
                             "(quantize to INT first, e.g. datatypes.quantize(w, 'int8'))")
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    mn, mx = a.min(), a.max()
    if mn < lo or mx > hi:
        bad = mn if mn < lo else mx
        raise InputError(f"weights must be {bits}-bit signed integers in [{lo}, {hi}]; found {bad}")
    return np.ascontiguousarray(a, dtype=np.int32)


def _check_params(bits: int, group_size: int, n_pruned: int, method: str, const_bits: int | None = None):
    for name, v in (("bits", bits), ("group_size", group_size), ("n_pruned", n_pruned)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise FormatError(f"BBS {method}: {name} must be an integer, got {v!r}")
    if not MIN_BITS <= bits <= MAX_BITS:
        raise FormatError(f"BBS {method}: bits={bits} is not supported (weights of {MIN_BITS}..{MAX_BITS} bits)")
    if group_size < 1:
        raise FormatError(f"BBS {method}: group_size must be a positive integer, got {group_size}")
    top = bits - 1 if method == "round_avg" else bits - 2
    if not 1 <= n_pruned <= top:
        why = ("" if method == "round_avg" else
               " (with bits - 1 pruned columns the reference never prunes: its test pointer t reaches p)")
        raise FormatError(f"BBS {method}: n_pruned={n_pruned} must be in 1..{top} for {bits}-bit weights{why}")
    if const_bits is not None:
        if isinstance(const_bits, bool) or not isinstance(const_bits, (int, np.integer)) or not 1 <= const_bits <= bits:
            raise FormatError(f"BBS {method}: const_bits={const_bits!r} must be an integer in 1..{bits}")


def _groups(a: np.ndarray, group_size: int, method: str) -> tuple[np.ndarray, int]:
    c = a.shape[-1]
    g = c if c < group_size else group_size
    if c % g:
        raise FormatError(f"BBS {method}: the row length {c} is not a multiple of group_size={group_size} "
                          "(a row shorter than the group is one group)")
    return a.reshape(-1, g), g


# ---- kernels (on groups: int32 [G, g]) ---------------------------------------------------------------
@njit(cache=True)
def _round_half_down_n(v, step, nmax):
    """n minimizing (n*step - v)**2 over 0..nmax, ties to the smaller n (the reference's strict <)."""
    k = v // step
    rem = v - k * step
    if 2 * rem > step:
        k += 1
    return min(k, nmax)


@njit(cache=True)
def _round_avg_kernel(x, bits, n_pruned, out, r_out, c_out):
    G, g = x.shape
    mask = (1 << bits) - 1
    u = np.empty(g, np.int64)
    for gi in range(G):
        for k in range(g):
            u[k] = x[gi, k] & mask
        r = 0
        for i in range(1, bits - 4):
            sb = bits - 1
            cb = bits - 1 - i
            same = True
            for k in range(g):
                if ((u[k] >> sb) & 1) != ((u[k] >> cb) & 1):
                    same = False
                    break
            if not same:
                break
            r += 1
        p = bits - n_pruned + r
        r_out[gi] = r
        c_out[gi] = 0
        if p >= bits:
            for k in range(g):
                out[gi, k] = x[gi, k]
            continue
        low = bits - p
        lmask = (1 << low) - 1
        s = 0
        for k in range(g):
            s += u[k] & lmask
        q = s // g
        rem = s - q * g
        if 2 * rem > g or (2 * rem == g and (q & 1) == 1):
            q += 1
        c_out[gi] = q
        for k in range(g):
            v = (u[k] & ~lmask) | q
            out[gi, k] = v - (1 << bits) if v >> (bits - 1) else v


@njit(cache=True)
def _prune_mag(mag, bits, n_pruned, z):
    """Zero-point-shifting rounding of one magnitude (columns 1..z known zero); -1 if unprocessed."""
    p = bits - n_pruned + z
    t = 1 + z
    if p >= bits or t >= p:
        return -1
    step = 1 << (bits - p)
    nmax = (1 << (p - t)) - 1
    return _round_half_down_n(mag, step, nmax) * step


@njit(cache=True)
def _zps_kernel(x, bits, n_pruned, const_bits, out, o_out, z_out):
    G, g = x.shape
    vmax = (1 << (bits - 1)) - 1
    omin = -(1 << (const_bits - 1))
    omax = 1 << (const_bits - 1)
    cand = np.empty(g, np.int64)
    for gi in range(G):
        best = 10000000          # the reference: float32 sums of squares (exact here) from 1e7
        for o in range(omin, omax):
            acc = 0
            for k in range(g):
                s = min(max(x[gi, k] + o, -vmax), vmax)
                acc |= abs(s)
            bl = 0
            while (acc >> bl) > 0:
                bl += 1
            z = bits - 1 - bl
            err = 0
            for k in range(g):
                s = min(max(x[gi, k] + o, -vmax), vmax)
                m = abs(s)
                nm = _prune_mag(m, bits, n_pruned, z)
                if nm < 0:
                    nm = m
                v = (-nm if s < 0 else nm) - o
                cand[k] = v
                d = v - x[gi, k]
                err += d * d
            if err < best:       # strict <: ties keep the most negative offset
                best = err
                o_out[gi] = o
                z_out[gi] = z
                for k in range(g):
                    out[gi, k] = cand[k]


@njit(cache=True)
def _bit_flip_kernel(x, bits, n_pruned, out, mask_out):
    G, g = x.shape
    vmax = (1 << (bits - 1)) - 1
    for gi in range(G):
        acc = 0
        for k in range(g):
            acc |= min(abs(x[gi, k]), vmax)
        p = bits - n_pruned
        for i in range(1, bits):
            if p > i and ((acc >> (bits - 1 - i)) & 1) == 0:
                p += 1
        t = 1
        for i in range(1, bits):
            if p > i and ((acc >> (bits - 1 - i)) & 1) == 0:
                t = i + 1
        for k in range(g):
            v = x[gi, k]
            m = min(abs(v), vmax)
            if p < bits and t < p:
                tm = (1 << (bits - t)) - 1
                step = 1 << (bits - p)
                nmax = (1 << (p - t)) - 1
                m = (m & ~tm) | (_round_half_down_n(m & tm, step, nmax) * step)
            out[gi, k] = -m if v < 0 else m


# ---- results ----------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Pruned:
    """Pruned integer weights and the per-group parameters of the method.

    values: the pruned integers (int32, the input's shape); stored: the integers the PE multiplies
    (zero_point_shift: values + offset), one per weight; offsets: per-group o (0 unless
    zero_point_shift); shift: per-group r (round_avg) or z (zero_point_shift) or 0; const: per-group
    c (round_avg) or 0."""

    method: str
    bits: int
    group_size: int
    n_pruned: int
    const_bits: int | None
    values: np.ndarray
    offsets: np.ndarray
    shift: np.ndarray
    const: np.ndarray
    original: np.ndarray = field(repr=False)

    @property
    def representation(self) -> str:
        return "twos" if self.method == "round_avg" else "sign_magnitude"

    @property
    def stored(self) -> np.ndarray:
        if self.method != "zero_point_shift":
            return self.values
        g2 = self.values.reshape(-1, self.group_size)
        return (g2 + self.offsets[:, None]).reshape(self.values.shape)

    def mse(self) -> float:
        d = self.values.astype(np.float64) - self.original
        return float(np.mean(d * d))

    def column_view(self, subgroup: int = 8, representation: str = "twos") -> "ColumnStats":
        return column_view(self.stored, self.bits, subgroup, representation)

    def encode(self) -> "Encoded":
        return encode(self)


def _prepare(w, bits, group_size, n_pruned, method, const_bits=None):
    _check_params(bits, group_size, n_pruned, method, const_bits)
    a = _as_int_array(w, bits)
    x, g = _groups(a, group_size, method)
    return a, x, g


def round_avg(w: Any, bits: int = 8, group_size: int = 16, n_pruned: int = 4) -> Pruned:
    """Binary pruning by rounded averaging (two's complement), bit-exact with ``roundAvg_fc``."""
    a, x, g = _prepare(w, bits, group_size, n_pruned, "round_avg")
    out = np.empty_like(x)
    r = np.empty(x.shape[0], np.int64)
    c = np.empty(x.shape[0], np.int64)
    _round_avg_kernel(x, bits, n_pruned, out, r, c)
    return Pruned("round_avg", bits, g, n_pruned, None, out.reshape(a.shape), np.zeros(x.shape[0], np.int64),
                  r, c, a)


def zero_point_shift(w: Any, bits: int = 8, group_size: int = 16, n_pruned: int = 4, const_bits: int = 5) -> Pruned:
    """Binary pruning by zero-point shifting (sign-magnitude + a per-group const_bits offset),
    bit-exact with ``zeroPointShifting_fc``."""
    a, x, g = _prepare(w, bits, group_size, n_pruned, "zero_point_shift", const_bits)
    out = np.zeros_like(x)
    o = np.zeros(x.shape[0], np.int64)
    z = np.zeros(x.shape[0], np.int64)
    _zps_kernel(x, bits, n_pruned, const_bits, out, o, z)
    return Pruned("zero_point_shift", bits, g, n_pruned, const_bits, out.reshape(a.shape), o, z,
                  np.zeros(x.shape[0], np.int64), a)


def bit_flip(w: Any, bits: int = 8, group_size: int = 16, n_pruned: int = 4) -> Pruned:
    """BitWave's bit flip (sign-magnitude zero-column pruning), bit-exact with ``bitFlip_fc``."""
    a, x, g = _prepare(w, bits, group_size, n_pruned, "bit_flip")
    out = np.empty_like(x)
    m = np.zeros(x.shape[0], np.int64)
    _bit_flip_kernel(x, bits, n_pruned, out, m)
    return Pruned("bit_flip", bits, g, n_pruned, None, out.reshape(a.shape), np.zeros(x.shape[0], np.int64),
                  np.zeros(x.shape[0], np.int64), np.zeros(x.shape[0], np.int64), a)


def prune(w: Any, method: str, **kwargs: Any) -> Pruned:
    """``method`` one of 'round_avg', 'zero_point_shift', 'bit_flip' (keyword arguments as each)."""
    fns = {"round_avg": round_avg, "zero_point_shift": zero_point_shift, "bit_flip": bit_flip}
    if method not in fns:
        raise FormatError(f"unknown BBS method {method!r}; one of {', '.join(METHODS)}")
    return fns[method](w, **kwargs)


# ---- bit columns ------------------------------------------------------------------------------------
def bit_planes(ints: np.ndarray, bits: int, representation: str = "twos") -> np.ndarray:
    """Bit columns, MSB (column 0: sign) first: uint8 [bits, *shape]. ``representation``: 'twos'
    (two's complement) or 'sign_magnitude' (column 0 = sign, then the magnitude)."""
    v = np.asarray(ints, dtype=np.int64)
    if representation == "twos":
        u = v & ((1 << bits) - 1)
    elif representation == "sign_magnitude":
        u = np.where(v < 0, (1 << (bits - 1)) | np.minimum(-v, (1 << (bits - 1)) - 1), v)
    else:
        raise FormatError(f"representation must be 'twos' or 'sign_magnitude', got {representation!r}")
    shifts = np.arange(bits - 1, -1, -1).reshape((bits,) + (1,) * v.ndim)
    return ((u[None] >> shifts) & 1).astype(np.uint8)


@dataclass(frozen=True)
class ColumnStats:
    """Bit-column statistics of integer weights processed bit-serially in sub-groups.

    ones / effectual: int [n_subgroups, bits] (effectual = min(ones, size - ones): a column with
    more than half ones is inverted); sizes: elements per sub-group."""

    bits: int
    subgroup: int
    representation: str
    ones: np.ndarray
    effectual: np.ndarray
    sizes: np.ndarray

    @property
    def total_bits(self) -> int:
        return int(self.sizes.sum()) * self.bits

    @property
    def bit_sparsity(self) -> float:
        """Fraction of zero bits (what a one-directional zero-skipping PE skips)."""
        return 1.0 - float(self.ones.sum()) / self.total_bits

    @property
    def bbs_sparsity(self) -> float:
        """Fraction of skippable bits with per-column inversion (bi-directional)."""
        return 1.0 - float(self.effectual.sum()) / self.total_bits

    @property
    def effectual_per_column(self) -> float:
        """Mean effectual bits per (sub-group, column)."""
        return float(self.effectual.mean())

    @property
    def max_effectual_per_column(self) -> int:
        return int(self.effectual.max())

    @property
    def inverted_fraction(self) -> float:
        return float((self.ones * 2 > self.sizes[:, None]).mean())

    @property
    def skippable_columns(self) -> float:
        """Fraction of (sub-group, column) pairs with no effectual bit (all 0 or all 1)."""
        return float((self.effectual == 0).mean())


def column_view(ints: Any, bits: int = 8, subgroup: int = 8, representation: str = "twos") -> ColumnStats:
    """Bi-directional column view of integer weights: sub-groups of ``subgroup`` consecutive elements
    along the last axis (a shorter tail sub-group per row), per bit column the ones and the
    effectual bits after inversion of majority-one columns (BitVert ``scheduler_bitvert.v``: count
    > half inverts; exactly half does not)."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not MIN_BITS <= bits <= MAX_BITS:
        raise FormatError(f"column_view: bits={bits!r} is not supported ({MIN_BITS}..{MAX_BITS})")
    if isinstance(subgroup, bool) or not isinstance(subgroup, (int, np.integer)) or subgroup < 1:
        raise FormatError(f"column_view: subgroup must be a positive integer, got {subgroup!r}")
    a = _as_int_array(ints, bits)
    rows = a.reshape(-1, a.shape[-1])
    c = rows.shape[1]
    nsub = -(-c // subgroup)
    pad = nsub * subgroup - c
    planes = bit_planes(rows, bits, representation)                      # [bits, R, C]
    if pad:
        planes = np.concatenate([planes, np.zeros(planes.shape[:2] + (pad,), np.uint8)], axis=2)
    ones = planes.reshape(bits, rows.shape[0], nsub, subgroup).sum(axis=3, dtype=np.int64)
    ones = ones.reshape(bits, -1).T                                      # [R*nsub, bits]
    sizes = np.full(nsub, subgroup, np.int64)
    sizes[-1] = subgroup - pad
    sizes = np.tile(sizes, rows.shape[0])
    eff = np.minimum(ones, sizes[:, None] - ones)
    return ColumnStats(bits, subgroup, representation, ones, eff, sizes)


# ---- compressed encoding ----------------------------------------------------------------------------
def _ubits(n: int) -> int:
    """Bits of an unsigned field holding 0..n."""
    return int(n).bit_length()


@dataclass(frozen=True, eq=False)
class Encoded:
    """A BBS-compressed tensor. ``columns``: uint8 [bits - n_pruned, *shape], the kept bit columns
    of every weight, MSB first (row 0 = the sign); ``meta``: per group, name -> int array;
    ``meta_bits``: per group, name -> field width (an array when the width varies by group)."""

    method: str
    shape: tuple[int, ...]
    bits: int
    group_size: int
    n_pruned: int
    const_bits: int | None
    columns: np.ndarray
    meta: dict[str, np.ndarray]
    meta_bits: dict[str, Any]

    @property
    def weight_bits(self) -> int:
        return int(self.columns.size)

    @property
    def metadata_bits(self) -> int:
        n_groups = int(np.prod(self.shape)) // self.group_size
        total = 0
        for w in self.meta_bits.values():
            total += int(np.sum(w)) if isinstance(w, np.ndarray) else int(w) * n_groups
        return total

    @property
    def total_bits(self) -> int:
        """Exact size of the compressed tensor: kept columns + per-group metadata."""
        return self.weight_bits + self.metadata_bits

    @property
    def bits_per_weight(self) -> float:
        return self.total_bits / float(np.prod(self.shape))


def _kept_columns(planes: np.ndarray, d: np.ndarray, keep: int) -> np.ndarray:
    """The sign column and, per group, columns 1 + d .. keep + d - 1: uint8 [keep, G, g]."""
    idx = np.concatenate([np.zeros((1, d.size), np.int64), np.arange(1, keep)[:, None] + d[None, :]])
    return np.take_along_axis(planes, idx[:, :, None], axis=0)


def encode(p: Pruned) -> Encoded:
    """Compress pruned weights (see the module docstring for the layout); decode() inverts it."""
    B, N, g = p.bits, p.n_pruned, p.group_size
    keep = B - N
    groups = p.stored.reshape(-1, g)
    G = groups.shape[0]
    if p.method == "round_avg":
        planes = bit_planes(groups, B, "twos")                     # [B, G, g]
        d = np.minimum(p.shift, N).astype(np.int64)
        cols = _kept_columns(planes, d, keep)
        lowmask = (1 << (N - d)) - 1
        low = (groups.astype(np.int64) & ((1 << B) - 1)) & lowmask[:, None]
        if not np.all(low == low[:, :1]):
            raise InputError("round_avg encode: the low bits are not constant in every group (not pruned?)")
        meta = {"d": d, "c": low[:, 0].copy()}
        meta_bits = {"d": _ubits(min(N, max(B - 5, 0))), "c": (N - d).astype(np.int64)}
    elif p.method == "zero_point_shift":
        planes = bit_planes(groups, B, "sign_magnitude")
        d = np.minimum(p.shift, N).astype(np.int64)
        cols = _kept_columns(planes, d, keep)
        mags = np.abs(groups.astype(np.int64))
        if np.any(mags >> (B - 1 - d)[:, None]) or np.any(mags & ((1 << (N - d)) - 1)[:, None]):
            raise InputError("zero_point_shift encode: columns outside the kept range are not zero")
        meta = {"offset": p.offsets.astype(np.int64), "d": d}
        meta_bits = {"offset": p.const_bits, "d": _ubits(N)}
    elif p.method == "bit_flip":
        planes = bit_planes(groups, B, "sign_magnitude")
        nz = planes[1:].any(axis=2)                                # [B-1, G] non-zero magnitude columns
        if np.any(nz.sum(axis=0) > keep - 1):
            raise InputError("bit_flip encode: more non-zero columns than bits - n_pruned - 1")
        order = np.argsort(~nz, axis=0, kind="stable")[:keep - 1]  # non-zero columns first, in order
        sel = np.sort(order, axis=0)                               # stored columns, ascending
        mask = np.zeros((B - 1, G), bool)
        np.put_along_axis(mask, sel, True, axis=0)
        cols = np.empty((keep, G, g), np.uint8)
        cols[0] = planes[0]
        cols[1:] = np.take_along_axis(planes[1:], sel[:, :, None], axis=0)
        meta = {"mask": (mask.T.astype(np.int64) << np.arange(B - 2, -1, -1)).sum(axis=1)}
        meta_bits = {"mask": B - 1}
    else:   # pragma: no cover - Pruned is built only by the functions above
        raise FormatError(f"unknown method {p.method!r}")
    return Encoded(p.method, tuple(p.values.shape), B, g, N, p.const_bits, cols.reshape((keep,) + p.values.shape),
                   meta, meta_bits)


def decode(e: Encoded) -> np.ndarray:
    """The pruned integers (int32, original shape) from a compressed tensor."""
    B, N, g = e.bits, e.n_pruned, e.group_size
    keep = B - N
    cols = e.columns.reshape(keep, -1, g).astype(np.int64)
    G = cols.shape[1]
    if e.method == "round_avg":
        d, c = e.meta["d"][:, None], e.meta["c"][:, None]
        sign = cols[0]
        u = sign << (B - 1)
        u = u | (sign * (((1 << d) - 1) << (B - 1 - d)))          # d copies of the sign
        for k in range(1, keep):                                   # column k + d
            u = u | (cols[k] << (B - 1 - (k + d)))
        u = u | c                                                  # the constant low N - d bits
        vals = np.where(u >> (B - 1), u - (1 << B), u)
    elif e.method == "zero_point_shift":
        d, o = e.meta["d"], e.meta["offset"]
        mag = np.zeros((G, g), np.int64)
        for k in range(1, keep):
            mag = (mag << 1) | cols[k]
        mag = mag << (N - d)[:, None]
        vals = np.where(cols[0] == 1, -mag, mag) - o[:, None]
    elif e.method == "bit_flip":
        maskv = e.meta["mask"].astype(np.int64)
        stored = ((maskv[:, None] >> np.arange(B - 2, -1, -1)[None, :]) & 1).astype(bool)   # [G, B-1]
        pos = np.argsort(~stored, axis=1, kind="stable")[:, :keep - 1] + 1                    # ascending
        mag = np.zeros((G, g), np.int64)
        for k in range(keep - 1):
            mag = mag | (cols[1 + k] << (B - 1 - pos[:, k])[:, None])
        vals = np.where(cols[0] == 1, -mag, mag)
    else:
        raise FormatError(f"unknown method {e.method!r}")
    return vals.reshape(e.shape).astype(np.int32)
