"""Cycle-level model of the bit-serial PEs and arrays (the timing contract the RTL implements).

BitVert PE (``lanes`` = 16 INT8 activations, one weight group of 16 INT8 integers + a per-group
constant ``o``; result ``sum(a * s) - o * sum(a)``):
  * column j (0 = LSB .. 7 = MSB, two's complement, MSB weighted -2**7) is *constant* when all 16
    bits are equal. A non-constant column costs one cycle: per half of 8 lanes the scheduler
    picks the ones (<= 4) or, when there are more than 4, the zeros (<= 4) and uses
    half_sum - picked (bi-directional sparsity); 4 muxes per half always suffice.
  * the constant columns and the zero-point constant fold into one signed constant
    ``k = sum_{constant all-ones columns} w_j - o`` (w_7 = -128), applied in one extra cycle as
    ``k * sum(a)`` when ``k != 0``.
  * group cycles ``c = max(1, #non-constant columns + (k != 0))``.
BitMoD PE (``lanes`` = 4 FP16 activations as exact fixed point a * 2**24; weights as integer
levels of the group's table; a group of ``group_size`` weights = group_size / 4 steps):
  * per weight a list of signed power-of-two *terms*: FP/BitMoD tables: one term per set bit of
    |level| (FP4 levels 0,1,2,3,4,6,8,12 and the specials 10, 16 have at most 2); INT tables:
    the non-zero radix-4 Booth digits (INT8: at most 4; INT6: 3; INT4: 2).
  * a step costs ``max(1, max over the 4 lanes of #terms)`` cycles (one term per lane per cycle);
  * after the group's last step the group sum is multiplied by the unsigned 8-bit group scale
    one scale bit per cycle (``scale_bits`` = 8 cycles, MSB first) and added to the output.
Arrays: rows = output channels, columns = tokens (weights shared along a row's columns, so all
columns of a row take the same cycles); all PEs advance in lock-step, so a step (a group for
BitVert, a 4-weight step for BitMoD) costs the maximum over the rows. A tile's first load costs
one cycle; further groups are latched in the last compute cycle of the previous one:

    tile cycles = 1 + sum over steps of max over rows (+ scale_bits per group for BitMoD)

Layer cycles = sum over row tiles of tile cycles x ceil(tokens / cols). The functional outputs
are exact integers (int64), equal to numpy on the decoded integers.
"""

from __future__ import annotations

import numpy as np

BITVERT_LANES = 16
BITMOD_LANES = 4
SCALE_BITS = 8


class ModelError(ValueError):
    pass


# ---- BitVert ------------------------------------------------------------------------------------------
def _planes_twos(s: np.ndarray) -> np.ndarray:
    u = (np.asarray(s, np.int64) & 0xFF).astype(np.uint8)
    return np.unpackbits(u[..., None], axis=-1, bitorder="little")  # [..., 8], index j = bit j


def bitvert_group_info(stored: np.ndarray, offsets: np.ndarray):
    """stored: [..., G, 16] INT8 integers; offsets: [..., G]. Returns (cycles [..., G], nonconst mask
    [..., G, 8], k [..., G]) of every group."""
    s = np.asarray(stored, np.int64)
    if s.shape[-1] != BITVERT_LANES:
        raise ModelError(f"bitvert groups must have {BITVERT_LANES} weights, got {s.shape[-1]}")
    if s.size and (s.min() < -128 or s.max() > 127):
        raise ModelError("bitvert stored weights must be INT8 in [-128, 127]")
    p = _planes_twos(s)                     # [..., G, 16, 8]
    ones = p.sum(axis=-2, dtype=np.int64)   # [..., G, 8]
    nonconst = (ones != 0) & (ones != BITVERT_LANES)
    colw = np.array([1, 2, 4, 8, 16, 32, 64, -128], np.int64)
    k = ((ones == BITVERT_LANES) * colw).sum(axis=-1) - np.asarray(offsets, np.int64)
    c = np.maximum(1, nonconst.sum(axis=-1) + (k != 0))
    return c, nonconst, k


def bitvert_pe_trace(acts: np.ndarray, stored: np.ndarray, offset: int) -> list[tuple[int, int]]:
    """The PE's cycle-by-cycle operation on one group: [(column or -1 for the constant, added value)]."""
    a = np.asarray(acts, np.int64)
    s = np.asarray(stored, np.int64)
    c, nonconst, k = bitvert_group_info(s[None], np.array([offset]))
    p = _planes_twos(s)
    out = []
    total = int(a.sum())
    for j in range(8):
        if not nonconst[0, j]:
            continue
        v = 0
        for h in range(2):
            bits = p[8 * h:8 * h + 8, j]
            aa = a[8 * h:8 * h + 8]
            n1 = int(bits.sum())
            if n1 <= 4:
                v += int(aa[bits == 1].sum())
            else:
                v += int(aa.sum()) - int(aa[bits == 0].sum())
        out.append((j, (-v if j == 7 else v) << j))
    if k[0] != 0:
        out.append((-1, int(k[0]) * total))
    if not out:
        out.append((-2, 0))
    assert len(out) == int(c[0])
    return out


# ---- BitMoD -------------------------------------------------------------------------------------------
def booth4_terms(v: np.ndarray, bits: int) -> np.ndarray:
    """Number of non-zero radix-4 Booth digits of ``bits``-bit two's complement integers."""
    v = np.asarray(v, np.int64)
    u = v & ((1 << bits) - 1)
    n = np.zeros(v.shape, np.int64)
    prev = np.zeros(v.shape, np.int64)
    for i in range(0, bits, 2):
        b0 = (u >> i) & 1
        b1 = (u >> (i + 1)) & 1 if i + 1 < bits else (u >> (bits - 1)) & 1
        d = -2 * b1 + b0 + prev
        n += d != 0
        prev = b1
    return n


def bitmod_terms(levels: np.ndarray, int_table: bool, bits: int) -> np.ndarray:
    lv = np.asarray(levels, np.int64)
    if int_table:
        return booth4_terms(lv, bits)
    m = np.abs(lv)
    n = np.zeros(lv.shape, np.int64)
    for i in range(6):
        n += (m >> i) & 1
    return n


def bitmod_group_cycles(terms: np.ndarray, group_size: int) -> np.ndarray:
    """terms: [..., K] per weight -> per-step cycles [..., K/4] (max over the 4 lanes, at least 1)."""
    t = np.asarray(terms)
    if t.shape[-1] % BITMOD_LANES:
        raise ModelError(f"K = {t.shape[-1]} is not a multiple of the {BITMOD_LANES} BitMoD lanes")
    return np.maximum(1, t.reshape(t.shape[:-1] + (-1, BITMOD_LANES)).max(axis=-1))


def fp16_fixed(a: np.ndarray) -> np.ndarray:
    """FP16 activations as exact integers a * 2**24 (int64)."""
    x = np.asarray(a, np.float16)
    if not np.all(np.isfinite(x)):
        raise ModelError("FP16 activations must be finite")
    return (x.astype(np.float64) * 2.0 ** 24).astype(np.int64)


# ---- arrays -------------------------------------------------------------------------------------------
def array_cycles(step_cycles: np.ndarray, rows: int, per_group_extra: int = 0, groups: int = 0) -> np.ndarray:
    """step_cycles: [N, S] per output channel and step -> cycles of each row tile [ceil(N/rows)]."""
    sc = np.asarray(step_cycles, np.int64)
    N, S = sc.shape
    R = -(-N // rows)
    pad = np.zeros((R * rows, S), np.int64)
    pad[:N] = sc
    per_step = pad.reshape(R, rows, S).max(axis=1)
    return 1 + per_step.sum(axis=1) + per_group_extra * groups
