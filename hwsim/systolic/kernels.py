"""Cycle-level Numba kernels of the systolic array (the microarchitecture of docs/systolic.md).

Each kernel advances the array one clock cycle at a time. Shift registers (operand forwarding between
PEs, input skew lines, the weight-load chain, the OS output chain) are modelled as circular buffers
indexed by the cycle number: a register chain of depth d holds exactly the last d values pushed into it,
which is what a circular buffer of depth d holds, so every PE sees, in every cycle, the value its input
register holds in the RTL. Partial sums are wrapped to the accumulator width after every addition.

Inputs are validated (shapes, dtypes, decodable codes) by the caller before a kernel runs.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# counters[...] indices
STAT_READS, STREAM_READS, OUT_WRITES, OUT_READS, CYCLES, LAST_WRITE = 0, 1, 2, 3, 4, 5
N_COUNTERS = 6


@njit(cache=True, inline="always")
def _wrap(x, sh):
    if sh == 0:
        return x
    return (x << sh) >> sh


@njit(cache=True, boundscheck=False)
def stationary_kernel(S, X, out, wcyc, R, C, L, sh, sho, counters):
    """Weight-stationary (and, with operands swapped, input-stationary) array.

    S: int64 [Kd, Nd] decoded stationary operand (WS: W; IS: A^T); X: int64 [T, Kd] decoded streaming
    operand (WS: A; IS: W^T); out: int64 [T, Nd], zero on entry, receives wrap(X @ S); wcyc: int64 [T, Nd]
    receives the cycle of the last write of each result element.
    R, C: array rows/cols; L: PE latency (cycles from operands in to partial sum out). S and X are int64,
    or int32 when the accumulator is at most 32 bits (the PE registers then use int32 storage, which is
    two's-complement wrap modulo 2**32 for free); sh wraps PE partial sums to the accumulator width in
    that storage (0: the storage width is the accumulator width), sho = 64 - acc_bits wraps the int64
    result memory.
    Fold order: column folds (Nd) outer, row folds (Kd) inner. Returns nothing; counters get
    [stationary reads, streaming reads, output writes, output reads (accumulate), cycles, cycle of the
    last result write] (cycle 0 is the cycle after ``start``; ``done`` rises at the end of the last write).
    """
    Kd = S.shape[0]
    Nd = S.shape[1]
    T = X.shape[0]
    D = L * (R - 1) + 1                       # depth of the longest input skew line (+1)
    dt = S.dtype
    wring = np.zeros((R, C), dt)              # weight-load chain (R registers per column)
    w = np.zeros((R, C), dt)                  # stationary registers (what each PE multiplies by)
    xin = np.zeros((D, R), dt)                # input skew lines (row r delayed by L*r)
    ahist = np.zeros((R, 2 * C), dt)          # operand forwarding registers along each row
    psum = np.zeros((L, R, C), dt)            # partial-sum pipeline of each PE (L stages)
    cyc = counters[CYCLES] + 1                # cycle 0: the first operand read is issued
    nfold_c = (Nd + C - 1) // C
    nfold_r = (Kd + R - 1) // R
    for fc in range(nfold_c):
        n0 = fc * C
        cu = min(C, Nd - n0)
        for fr in range(nfold_r):
            k0 = fr * R
            ru = min(R, Kd - k0)
            # ---- phase 1: weight load, R cycles; push j carries tile row R-1-j ----------------------
            for j in range(R):
                slot = j % R
                src = R - 1 - j
                if src < ru:
                    for c in range(cu):
                        wring[slot, c] = S[k0 + src, n0 + c]
                    for c in range(cu, C):
                        wring[slot, c] = 0
                    counters[STAT_READS] += cu
                else:
                    for c in range(C):
                        wring[slot, c] = 0
                cyc += 1
            # after R pushes register r of the chain holds push R-1-r = tile row r
            for r in range(R):
                src = (R - 1 - r) % R
                for c in range(C):
                    w[r, c] = wring[src, c]
            xin[:, :] = 0
            ahist[:, :] = 0
            psum[:, :, :] = 0
            # ---- phase 2: stream T rows; last result write at T + L*R + C - 2 -----------------------
            nstream = T + L * R + C - 1
            for s in range(nstream):
                slot = s % D
                if s < T:
                    for r in range(ru):
                        xin[slot, r] = X[s, k0 + r]
                    for r in range(ru, R):
                        xin[slot, r] = 0
                    counters[STREAM_READS] += ru
                else:
                    for r in range(R):
                        xin[slot, r] = 0
                ls = s % L
                # results leaving the bottom PE row (registered L cycles ago) are written
                base = s - L * R
                if base >= 0 and base - cu + 1 < T:
                    bot = psum[ls, R - 1]
                    for c in range(cu):
                        m = base - c
                        if 0 <= m < T:
                            v = np.int64(bot[c])
                            if fr > 0:
                                v = v + out[m, n0 + c]
                                counters[OUT_READS] += 1
                            out[m, n0 + c] = _wrap(v, sho)
                            wcyc[m, n0 + c] = cyc
                            counters[OUT_WRITES] += 1
                            counters[LAST_WRITE] = cyc
                p = (C - (s % C)) % C             # forwarding registers: PE c sees ahist[r, p + c]
                for r in range(R - 1, -1, -1):
                    a_new = xin[(s - L * r) % D, r]
                    ahist[r, p] = a_new
                    ahist[r, p + C] = a_new
                    dst = psum[ls, r]
                    wr = w[r]
                    ah = ahist[r, p:p + C]
                    if r == 0:
                        if sh == 0:
                            for c in range(C):
                                dst[c] = ah[c] * wr[c]
                        else:
                            for c in range(C):
                                dst[c] = _wrap(np.int64(ah[c]) * wr[c], sh)
                    else:
                        above = psum[ls, r - 1]
                        if sh == 0:
                            for c in range(C):
                                dst[c] = above[c] + ah[c] * wr[c]
                        else:
                            for c in range(C):
                                dst[c] = _wrap(np.int64(above[c]) + np.int64(ah[c]) * wr[c], sh)
                cyc += 1
    counters[CYCLES] = cyc


@njit(cache=True, inline="always")
def _drain_row(out, wcyc, outreg, row, m0, n0, ru, cu, sho, cyc, counters):
    """OS drain: in cycle ``cyc`` output-register row ``row`` of the fold at (m0, n0) (ru x cu used)
    is written to the result memory, if that row is used."""
    if row < ru:
        for c in range(cu):
            out[m0 + row, n0 + c] = _wrap(np.int64(outreg[row, c]), sho)
            wcyc[m0 + row, n0 + c] = cyc
        counters[OUT_WRITES] += cu
        counters[LAST_WRITE] = cyc


@njit(cache=True, boundscheck=False)
def output_stationary_kernel(A, W, out, wcyc, R, C, L, sh, sho, counters):
    """Output-stationary array: PE (r, c) accumulates Y[m0 + r, n0 + c] over k.

    A: int64 [M, K] decoded activations, W: int64 [K, N] decoded weights, out: int64 [M, N] receives
    wrap(A @ W); wcyc: int64 [M, N] receives the write cycle of each result. Fold order: N folds outer,
    M folds inner. Each fold streams K operand pairs, skewed;
    at the end of its last cycle every accumulator is copied into its output register and cleared; the
    output registers shift down one row per cycle and the bottom row is written to the result memory
    (rows R-1 .. 0) during the R cycles that follow (overlapping the next fold); after the last fold R
    drain cycles remain.
    """
    M = A.shape[0]
    K = A.shape[1]
    N = W.shape[1]
    dt = A.dtype
    amem = np.zeros((R, R), dt)               # activation skew lines (row r delayed by r)
    wmem = np.zeros((C, C), dt)               # weight skew lines (column c delayed by c)
    wtop = np.zeros((R, C), dt)               # weight forwarding registers down each column
    ahist = np.zeros((R, 2 * C), dt)          # activation forwarding registers along each row
    acc = np.zeros((R, C), dt)
    prod = np.zeros((max(L - 1, 1), R, C), dt)   # multiplier pipeline (L-1 stages)
    outreg = np.zeros((R, C), dt)             # output (drain) registers
    cyc = counters[CYCLES] + 1
    P = K + R + C + L - 3
    nfold_c = (N + C - 1) // C
    nfold_r = (M + R - 1) // R
    d_m0 = 0
    d_n0 = 0
    d_ru = 0
    d_cu = 0
    draining = False
    for fc in range(nfold_c):
        n0 = fc * C
        cu = min(C, N - n0)
        for fr in range(nfold_r):
            m0 = fr * R
            ru = min(R, M - m0)
            amem[:, :] = 0
            wmem[:, :] = 0
            wtop[:, :] = 0
            ahist[:, :] = 0
            prod[:, :, :] = 0
            for s in range(P):
                # drain of the previous fold: bottom output register row = tile row R-1-s
                if draining and s < R:
                    _drain_row(out, wcyc, outreg, R - 1 - s, d_m0, d_n0, d_ru, d_cu, sho, cyc, counters)
                # operand reads: column s of the A tile, row s of the W tile
                sa = s % R
                sw = s % C
                if s < K:
                    for r in range(ru):
                        amem[sa, r] = A[m0 + r, s]
                    for r in range(ru, R):
                        amem[sa, r] = 0
                    for c in range(cu):
                        wmem[sw, c] = W[s, n0 + c]
                    for c in range(cu, C):
                        wmem[sw, c] = 0
                    counters[STREAM_READS] += ru
                    counters[STAT_READS] += cu
                else:
                    for r in range(R):
                        amem[sa, r] = 0
                    for c in range(C):
                        wmem[sw, c] = 0
                # column skew: top input of column c = weight row read c cycles ago
                wt = wtop[s % R]
                for c in range(C):
                    wt[c] = wmem[(s - c) % C, c]
                p = (C - (s % C)) % C
                ls = s % (L - 1) if L > 1 else 0
                for r in range(R):
                    a_new = amem[(s - r) % R, r]
                    ahist[r, p] = a_new
                    ahist[r, p + C] = a_new
                    wv = wtop[(s - r) % R]
                    ac = acc[r]
                    ah = ahist[r, p:p + C]
                    if L == 1:
                        if sh == 0:
                            for c in range(C):
                                ac[c] = ac[c] + ah[c] * wv[c]
                        else:
                            for c in range(C):
                                ac[c] = _wrap(np.int64(ac[c]) + np.int64(ah[c]) * wv[c], sh)
                    else:
                        pr = prod[ls, r]
                        for c in range(C):
                            q = pr[c]
                            pr[c] = ah[c] * wv[c]
                            ac[c] = _wrap(np.int64(ac[c]) + q, sh)
                cyc += 1
            # end of the fold's last cycle: accumulators -> output registers, accumulators cleared
            for r in range(R):
                for c in range(C):
                    outreg[r, c] = acc[r, c]
                    acc[r, c] = 0
            draining = True
            d_m0 = m0
            d_n0 = n0
            d_ru = ru
            d_cu = cu
    # drain of the last fold
    for s in range(R):
        _drain_row(out, wcyc, outreg, R - 1 - s, d_m0, d_n0, d_ru, d_cu, sho, cyc, counters)
        cyc += 1
    counters[CYCLES] = cyc


@njit(cache=True)
def fold_float_averages(used_r, used_c, RC, T, cyc):
    """SCALE-Sim's per-fold mapping efficiency and compute utilisation, averaged in its order (column
    folds outer, row folds inner) with plain sequential float64 sums, as Python 3.11's sum() does."""
    map_sum = 0.0
    util_sum = 0.0
    n = 0
    for i in range(used_c.shape[0]):
        for j in range(used_r.shape[0]):
            used = used_r[j] * used_c[i]
            map_sum += used / RC
            util_sum += (used * T) / (RC * cyc)
            n += 1
    return map_sum / n, util_sum / n
