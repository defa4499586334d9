"""Numba kernels of the cycle-level model (one pass over a layer's weight codes)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def bitmod_tile_cycles(codes, meta, lut, group_size, rows, out_tiles, out_stats):
    """codes [N, K] uint8, meta [N, K // group_size] (selector per group), lut [n_meta, 256] terms.
    out_tiles[t] += 1 + sum_steps max_rows max(1, max_lanes terms) + 8 per group, per row tile t.
    out_stats: [0] sum over (row, step) of the row's own step cycles, [1] sum of the tile's step
    cycles x rows present, [2] sum of terms, [3] sum over (row, step) of 4 x own step cycles."""
    N, K = codes.shape
    S = K // 4
    R = (N + rows - 1) // rows
    for t in range(R):
        r0 = t * rows
        r1 = min(N, r0 + rows)
        total = 1
        for s in range(S):
            g = (s * 4) // group_size
            mx = 1
            for r in range(r0, r1):
                m = lut[meta[r, g], codes[r, 4 * s]]
                for l in range(1, 4):
                    v = lut[meta[r, g], codes[r, 4 * s + l]]
                    out_stats[2] += v
                    if v > m:
                        m = v
                out_stats[2] += lut[meta[r, g], codes[r, 4 * s]]
                own = m if m > 1 else 1
                out_stats[0] += own
                out_stats[3] += 4 * own
                if own > mx:
                    mx = own
            out_stats[1] += mx * (r1 - r0)
            total += mx
        total += 8 * (K // group_size)
        out_tiles[t] = total


@njit(cache=True)
def bitvert_tile_cycles(cyc, rows, out_tiles, out_stats):
    """cyc [N, G] per-group PE cycles -> per row tile 1 + sum_groups max_rows; stats as above."""
    N, G = cyc.shape
    R = (N + rows - 1) // rows
    for t in range(R):
        r0 = t * rows
        r1 = min(N, r0 + rows)
        total = 1
        for g in range(G):
            mx = 1
            for r in range(r0, r1):
                v = cyc[r, g]
                out_stats[0] += v
                if v > mx:
                    mx = v
            out_stats[1] += mx * (r1 - r0)
            total += mx
        out_tiles[t] = total


# ---- BitSim compat: per-tile statistics of the data-dependent designs -------------------------------
BITSIM_BITVERT, BITSIM_PRAGMATIC, BITSIM_BITLET, BITSIM_BITWAVE = 0, 1, 2, 3


def _spread_table():
    t = np.zeros(256, np.uint64)
    for b in range(256):
        v = 0
        for j in range(8):
            if (b >> j) & 1:
                v |= 1 << (8 * j)
        t[b] = v
    return t


_SPREAD = _spread_table()
_POPC = np.array([bin(b).count("1") for b in range(256)], np.int64)


def _sm_table():
    """two's complement byte -> BitSim's sign-magnitude byte (-128 -> -127)."""
    t = np.zeros(256, np.int64)
    for b in range(256):
        w = b - 256 if b >= 128 else b
        if w == -128:
            w = -127
        t[b] = (-w) | 128 if w < 0 else w
    return t


_SM = _sm_table()
_SM_POPC = _POPC[_SM]


@njit(cache=True)
def bitsim_tile_stats(wm, H, dp, design, n_skipped, prec_p, out, spread, popc, sm, sm_popc):
    """wm [cout, A, L] INT8 weights, any integer dtype (designs 0 and 2 read their two's complement
    byte, 1 and 3 BitSim's sign-magnitude byte with -128 -> -127) in BitSim's tiling order (tiles:
    H rows x dp along L, for every A). out[0] += sum of per-tile cycles; out[1] effectual bits,
    out[2] total-op units, out[3] min-intra, out[4] max-intra, out[5] elements (BitWave's
    n_skipped / prec_p term). One pass, row by row (contiguous reads); a tile's cycles are the
    maximum over its rows of the row's own (row, chunk) statistic, kept per (a, chunk) in ``tmax``.
    Plane counts of a row chunk are summed 8 at a time (one byte lane per bit plane, ``spread``);
    dp <= 255."""
    cout, A, L = wm.shape
    R = (cout + H - 1) // H
    C = (L + dp - 1) // dp
    o0 = 0
    o1 = 0
    o2 = 0
    o3 = 0
    o4 = 0
    ceil_half = np.empty(256, np.int64)          # ceil(count / (dp / 2)) for every count
    for cnt in range(256):
        ceil_half[cnt] = (2 * cnt + dp - 1) // dp
    tmax = np.zeros(A * C, np.int64)
    bt = np.zeros(L, np.int64)                   # designs 1, 3: a row's sign-magnitude bytes
    pc = np.zeros(L, np.int64)                   # and their popcounts (branch-free, vectorizes)
    for r in range(R):
        r0 = r * H
        r1 = min(cout, r0 + H)
        tmax[:] = 0
        for row in range(r0, r1):
            for a in range(A):
                if design == 1 or design == 3:
                    for l in range(L):
                        v = np.int64(wm[row, a, l])
                        neg = np.int64(v < 0)
                        m = min(abs(v), 127)             # -128 -> -127
                        x = m - ((m >> 1) & 0x55)
                        x = (x & 0x33) + ((x >> 2) & 0x33)
                        bt[l] = m | (neg << 7)
                        pc[l] = ((x + (x >> 4)) & 0x0F) + neg
                for c in range(C):
                    l0 = c * dp
                    l1 = min(L, l0 + dp)
                    if design == 0 or design == 2:     # two's complement plane counts of the row chunk
                        acc = np.uint64(0)
                        for l in range(l0, l1):
                            acc += spread[wm[row, a, l] & 0xFF]
                        if design == 0:                # BitVert without BBS: sum of ceil(count / (dp/2))
                            s = 0
                            for j in range(8):
                                s += ceil_half[np.int64((acc >> np.uint64(8 * j)) & np.uint64(0xFF))]
                        else:                          # Bitlet: the row's largest plane count
                            mn = 1 << 30
                            s = 0
                            for j in range(8):
                                cnt = np.int64((acc >> np.uint64(8 * j)) & np.uint64(0xFF))
                                o1 += cnt
                                s = max(s, cnt)
                                mn = min(mn, cnt)
                            o3 += mn
                            o4 += s
                    elif (design == 1 or design == 3) and l1 - l0 == 8:    # 8-wide chunks unrolled
                        q0, q1, q2, q3 = pc[l0], pc[l0 + 1], pc[l0 + 2], pc[l0 + 3]
                        q4, q5, q6, q7 = pc[l0 + 4], pc[l0 + 5], pc[l0 + 6], pc[l0 + 7]
                        o1 += ((q0 + q1) + (q2 + q3)) + ((q4 + q5) + (q6 + q7))
                        mx = max(max(max(q0, q1), max(q2, q3)), max(max(q4, q5), max(q6, q7)))
                        mn = min(min(min(q0, q1), min(q2, q3)), min(min(q4, q5), min(q6, q7)))
                        if design == 1:
                            o3 += mn + 1
                            o4 += mx
                            s = mx
                        else:
                            o3 += mn + n_skipped
                            o4 += mx + n_skipped
                            s = popc[((bt[l0] | bt[l0 + 1]) | (bt[l0 + 2] | bt[l0 + 3]))
                                     | ((bt[l0 + 4] | bt[l0 + 5]) | (bt[l0 + 6] | bt[l0 + 7]))]
                    elif design == 1:                  # Pragmatic: sign-magnitude words
                        mn = 1 << 30
                        s = -1
                        for l in range(l0, l1):
                            cnt = pc[l]
                            o1 += cnt
                            s = max(s, cnt)
                            mn = min(mn, cnt)
                        o3 += mn + 1
                        o4 += s
                    else:                              # BitWave: sign-magnitude non-zero columns
                        orv = 0
                        mn = 1 << 30
                        mx = -1
                        for l in range(l0, l1):
                            orv |= bt[l]
                            cnt = pc[l]
                            o1 += cnt
                            mn = min(mn, cnt)
                            mx = max(mx, cnt)
                        o3 += mn + n_skipped
                        o4 += mx + n_skipped
                        s = popc[orv]
                    k = a * C + c
                    tmax[k] = max(tmax[k], s)
        for k in range(A * C):
            tile = tmax[k]
            if design == 0:
                if tile == 0:
                    tile = 1
            elif design == 2:
                o2 += tile * prec_p * H
            elif design == 1:
                o2 += tile * dp * H
            else:
                tile -= 1
                o2 += (tile + n_skipped) * dp * H
            o0 += tile
    if design == 2:
        o3 *= prec_p
        o4 *= prec_p
    elif design == 1 or design == 3:
        o3 *= dp
        o4 *= dp
    out[0] += o0
    out[1] += o1
    out[2] += o2
    out[3] += o3
    out[4] += o4
    if design == 3:
        out[5] += 8 * cout * A * L


# ---- synthetic weights: a counter-based normal generator ---------------------------------------------
@njit(cache=True)
def normal_fill(key, start, coef, tail, out):
    """out (C-contiguous float32) <- elements start .. start + out.size of a stream of normal samples
    drawn by inverse CDF. Sample pair p draws one 64-bit word, splitmix64(key + (p + 1) * golden) (a
    counter-based stream: element i is a function of ``key`` and i only, so any slice of rows can be
    generated alone); its 32-bit half i % 2, u, selects bin hi = u >> 16 of a 65536-bin quantile
    table, cubic Hermite in t = (lo + 1/2) / 65536 with lo the low 16 bits (``coef[hi]``:
    c0 + t (c1 + t (c2 + t c3))); the two outermost bins a 65536-entry table of sub-bin midpoints
    (``tail``: u in [0, 2**-16) at 2**-32 resolution; the upper tail by symmetry)."""
    flat = out.reshape(-1)
    n = flat.size
    g = np.uint64(0x9E3779B97F4A7C15)
    m1 = np.uint64(0xBF58476D1CE4E5B9)
    m2 = np.uint64(0x94D049BB133111EB)
    s30 = np.uint64(30)
    s27 = np.uint64(27)
    s31 = np.uint64(31)
    s32 = np.uint64(32)
    lo32 = np.uint64(0xFFFFFFFF)
    for p in range(start // 2, (start + n + 1) // 2):
        z = key + np.uint64(p + 1) * g
        z = (z ^ (z >> s30)) * m1
        z = (z ^ (z >> s27)) * m2
        z = z ^ (z >> s31)
        for h in range(2):
            i = 2 * p + h - start
            if 0 <= i < n:
                u = np.int64((z >> (s32 * np.uint64(h))) & lo32)
                hi = u >> 16
                lo = u & 0xFFFF
                if hi == 0:
                    x = tail[lo]
                elif hi == 65535:
                    x = -tail[65535 - lo]
                else:
                    t = (np.float32(lo) + np.float32(0.5)) * np.float32(1.0 / 65536)
                    x = coef[hi, 0] + t * (coef[hi, 1] + t * (coef[hi, 2] + t * coef[hi, 3]))
                flat[i] = x
