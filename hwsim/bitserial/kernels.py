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
