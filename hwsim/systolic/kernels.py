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
from numba.extending import overload

# counters[...] indices
STAT_READS, STREAM_READS, OUT_WRITES, OUT_READS, CYCLES, LAST_WRITE = 0, 1, 2, 3, 4, 5
N_COUNTERS = 6
#: skew-line histories of all row folds are kept (built once) up to this many bytes, else rebuilt per fold
HIST_BYTES = 1 << 26


@njit(cache=True, inline="always")
def _wrap(x, sh):
    if sh == 0:
        return x
    return (x << sh) >> sh


def _reg_zeros(n, like):
    """Zeroed register storage of ``n`` entries: int64 when ``like`` (the decoded operands) is int64,
    else int32 (the accumulator then has at most 32 bits; see SystolicSim.register_dtype)."""
    return np.zeros(n, np.int64 if like.dtype.itemsize == 8 else np.int32)


@overload(_reg_zeros)
def _reg_zeros_nb(n, like):
    if like.dtype.bitwidth == 64:
        return lambda n, like: np.zeros(n, np.int64)
    return lambda n, like: np.zeros(n, np.int32)


@njit(cache=True, boundscheck=False)
def _skewed_history(X, T, k0, ru, R, L, Z, H):
    """Output history of the R input skew lines of one row fold, time-reversed: H[v, r] is what lane r of
    the streamed memory vector (``X[u, k0 + r]`` in cycle u, zero beyond T and beyond ``ru``) shows after
    its ``L*r``-register delay line in cycle ``u = Z - v``, i.e. ``X[Z - v - L*r, k0 + r]``. A PE row's
    forwarding registers hold the last C values of its line, so in cycle s the operands of PE (r, c) are
    ``H[Z - s + c, r]``: with the PEs laid out column by column (flat index ``c*R + r``) the operands of
    the whole array in cycle s are the contiguous slice ``H.ravel()[(Z - s)*R : (Z - s)*R + R*C]``."""
    H[:, :] = 0
    for r in range(ru):
        d = L * r
        for u in range(T):
            H[Z - u - d, r] = X[u, k0 + r]


@njit(cache=True, boundscheck=False, inline="never")
def _fold_history(hist, keep, X, T, fr, k0, ru, R, L, Z):
    """The flat skew-line history of row fold ``fr``: kept in ``hist[fr]``, or rebuilt in ``hist[0]``."""
    if keep:
        return hist[fr].ravel()
    _skewed_history(X, T, k0, ru, R, L, Z, hist[0])
    return hist[0].ravel()


@njit(cache=True, boundscheck=False)
def stationary_kernel(S, X, out, wcyc, R, C, L, sh, sho, counters):
    """Weight-stationary (and, with operands swapped, input-stationary) array.

    S: [Kd, Nd] decoded stationary operand (WS: W; IS: A^T); X: [T, Kd] decoded streaming operand
    (WS: A; IS: W^T), both int8/int16/int32 (the narrowest holding the decoded codes) when the
    accumulator has at most 32 bits, else int64. out: int64 [Nd, T], zero on entry, the result memory
    bank by bank (bank = array column, ``out[n, t]`` = element t of result column n): receives
    wrap(X @ S) transposed. wcyc: int64 [Nd, T] receives the cycle of the last write of each result
    element, or an empty [0, 0] array (then not recorded).
    R, C: array rows/cols; L: PE latency (cycles from operands in to partial sum out). The PE partial-sum
    registers are int32 storage when S is not int64 (two's-complement wrap modulo 2**32 for free), else
    int64; sh wraps them to the accumulator width in int64 arithmetic (0: the storage width is the
    accumulator width), sho = 64 - acc_bits wraps the int64 result memory.
    Fold order: column folds (Nd) outer, row folds (Kd) inner. Returns nothing; counters get
    [stationary reads, streaming reads, output writes, output reads (accumulate), cycles, cycle of the
    last result write] (cycle 0 is the cycle after ``start``; ``done`` rises at the end of the last write).

    Every cycle every PE of the array computes ``psum_out = psum_in + a * w`` (docs/systolic.md section 4).
    The PEs are stored column by column (flat index ``i = c*R + r``): PE i takes ``psum_in`` from PE i-1
    of the previous cycle (the PE above; zero in row 0, masked), so one cycle of the whole array is one
    contiguous loop over R*C PEs. The partial sums of L consecutive cycles are kept (``L + 1`` register
    images, the one L cycles ago is the input of this one).
    """
    Kd = S.shape[0]
    Nd = S.shape[1]
    T = X.shape[0]
    RC = R * C
    track = wcyc.shape[0] > 0
    nstream = T + L * R + C - 1               # stream cycles of a fold (last result write in the last)
    Z = nstream - 1                           # time origin of the reversed skew-line histories
    nfold_c = (Nd + C - 1) // C
    nfold_r = (Kd + R - 1) // R
    # skew-line output histories of every row fold (the same for every column fold), built once when
    # they fit in HIST_BYTES, else one row fold at a time
    keep = nfold_r * (Z + C) * R * X.itemsize <= HIST_BYTES
    hist = np.zeros((nfold_r if keep else 1, Z + C, R), X.dtype)
    if keep:
        for fr in range(nfold_r):
            _skewed_history(X, T, fr * R, min(R, Kd - fr * R), R, L, Z, hist[fr])
    wring = np.zeros((R, C), S.dtype)         # weight-load chain (R registers per column)
    w = np.zeros(RC, S.dtype)                 # stationary registers, flat c*R + r
    psum = np.zeros((L + 1, RC + 1), _reg_zeros(1, S).dtype)  # register images; [k, i+1] = PE i
    mask = np.full(RC, -1, np.int8)           # 0 for row-0 PEs: no psum_in
    wlog = np.zeros((nstream, C), psum.dtype)  # write-port log of the result banks during a fold
    scyc = np.zeros(nstream, np.int64)        # clock cycle of each stream cycle of the fold
    for c in range(C):
        mask[c * R] = 0
    stat_reads = 0
    stream_reads = 0
    out_writes = 0
    out_reads = 0
    last_write = counters[LAST_WRITE]
    cyc = counters[CYCLES] + 1                # cycle 0: the first operand read is issued
    for fc in range(nfold_c):
        n0 = fc * C
        cu = min(C, Nd - n0)
        for fr in range(nfold_r):
            k0 = fr * R
            ru = min(R, Kd - k0)
            # ---- phase 1: weight load, R cycles; push j carries tile row R-1-j ----------------------
            for j in range(R):
                src = R - 1 - j
                if src < ru:
                    for c in range(cu):
                        wring[j, c] = S[k0 + src, n0 + c]
                    for c in range(cu, C):
                        wring[j, c] = 0
                    stat_reads += cu
                else:
                    for c in range(C):
                        wring[j, c] = 0
                cyc += 1
            # after R pushes register r of the chain holds push R-1-r = tile row r
            for c in range(C):
                for r in range(R):
                    w[c * R + r] = wring[R - 1 - r, c]
            psum[:, :] = 0
            hf = _fold_history(hist, keep, X, T, fr, k0, ru, R, L, Z)
            # ---- phase 2: stream T rows; last result write at T + L*R + C - 2 -----------------------
            inew = 0                              # register image written in this cycle
            iold = 1 % (L + 1)                    # the register image of cycle s - L
            for s in range(nstream):
                if s < T:
                    stream_reads += ru
                new = psum[inew]
                old = psum[iold]
                # the bottom PE row's partial sums (registered L cycles ago) are on the result banks'
                # write ports: bank c's element base - c, when 0 <= base - c < T and c < cu (logged for
                # every c; committed to the memory after the fold, below)
                lg = wlog[s]
                for c in range(C):
                    lg[c] = old[c * R + R]
                base = s - L * R
                c_lo = max(0, base - T + 1)
                c_hi = min(cu, base + 1)
                if c_hi > c_lo:
                    out_writes += c_hi - c_lo
                    last_write = cyc
                scyc[s] = cyc
                inew = iold
                iold = iold + 1 if iold < L else 0
                # every PE: psum_out = psum_in (PE above, L cycles ago) + a * w
                # (slices, not offset indices: Numba's negative-index wraparound would defeat vectorising)
                a = hf[(Z - s) * R:(Z - s) * R + RC]
                dst = new[1:]
                if sh == 0:
                    for i in range(RC):
                        dst[i] = (old[i] & mask[i]) + a[i] * w[i]
                else:
                    for i in range(RC):
                        dst[i] = _wrap(np.int64(old[i] & mask[i]) + np.int64(a[i]) * w[i], sh)
                cyc += 1
            # the fold's writes, in bank order: element t of bank c was presented in stream cycle
            # t + L*R + c; row folds after the first accumulate on write (read, add, wrap, write)
            for c in range(cu):
                row = out[n0 + c]
                d = L * R + c
                if fr == 0:
                    for t in range(T):
                        row[t] = _wrap(np.int64(wlog[d + t, c]), sho)
                else:
                    for t in range(T):
                        row[t] = _wrap(row[t] + wlog[d + t, c], sho)
                    out_reads += T
                if track:
                    wrow = wcyc[n0 + c]
                    sc = scyc[L * R + c:L * R + c + T]
                    for t in range(T):
                        wrow[t] = sc[t]
    counters[STAT_READS] += stat_reads
    counters[STREAM_READS] += stream_reads
    counters[OUT_WRITES] += out_writes
    counters[OUT_READS] += out_reads
    counters[LAST_WRITE] = last_write
    counters[CYCLES] = cyc


@njit(cache=True, boundscheck=False)
def _drain_row(out, wcyc, outreg, row, m0, n0, ru, cu, R, sho, track, cyc, counters):
    """OS drain: in this cycle the bottom output-register row presents tile row ``row`` to the result banks."""
    if row < ru:
        for c in range(cu):
            out[m0 + row, n0 + c] = _wrap(np.int64(outreg[c * R + row]), sho)
            if track:
                wcyc[m0 + row, n0 + c] = cyc
        counters[OUT_WRITES] += cu
        counters[LAST_WRITE] = cyc


@njit(cache=True, boundscheck=False)
def output_stationary_kernel(A, W, out, wcyc, R, C, L, sh, sho, counters):
    """Output-stationary array: PE (r, c) accumulates Y[m0 + r, n0 + c] over k.

    A: [M, K] decoded activations, W: [K, N] decoded weights (dtypes as in stationary_kernel), out:
    int64 [M, N] receives wrap(A @ W); wcyc: int64 [M, N] receives the write cycle of each result (or is
    an empty [0, 0] array: not recorded). Fold
    order: N folds outer, M folds inner. Each fold streams K operand pairs, skewed; at the end of its last
    cycle every accumulator is copied into its output register and cleared; the output registers shift
    down one row per cycle and the bottom row is written to the result memory (rows R-1 .. 0) during the
    R cycles that follow (overlapping the next fold); after the last fold R drain cycles remain.

    PEs are stored column by column (flat ``i = c*R + r``). Activations: PE (r, c) holds the value row r's
    skew line showed c cycles ago, a contiguous slice of the time-reversed skew-line history (see
    ``_skewed_history``). Weights move down one PE per cycle: the weight registers of the array are
    shifted by one flat position (PE i takes PE i-1's register, row 0 takes the column's skew line),
    then every PE does ``acc += a * w`` (through an L-1 stage product pipeline when L > 1).
    """
    M = A.shape[0]
    K = A.shape[1]
    N = W.shape[1]
    RC = R * C
    track = wcyc.shape[0] > 0
    P = K + R + C + L - 3
    Z = P - 1
    nfold_c = (N + C - 1) // C
    nfold_r = (M + R - 1) // R
    AT = np.ascontiguousarray(A.T)
    keep = nfold_r * (Z + C) * R * A.itemsize <= HIST_BYTES
    hist = np.zeros((nfold_r if keep else 1, Z + C, R), A.dtype)   # activation skew-line histories
    if keep:
        for fr in range(nfold_r):
            _skewed_history(AT, K, fr * R, min(R, M - fr * R), R, 1, Z, hist[fr])
    wsk = np.zeros((P, C), W.dtype)           # column skew-line outputs of the current column fold
    wreg = np.zeros((2, RC + 1), W.dtype)     # weight forwarding registers (two images), [k, i+1] = PE i
    acc = _reg_zeros(RC, A)
    prod = np.zeros((max(L - 1, 1), RC), acc.dtype)   # multiplier pipeline (L-1 stages)
    outreg = np.zeros(RC, acc.dtype)          # output (drain) registers
    cyc = counters[CYCLES] + 1
    stream_reads = 0
    stat_reads = 0
    d_m0 = 0
    d_n0 = 0
    d_ru = 0
    d_cu = 0
    draining = False
    for fc in range(nfold_c):
        n0 = fc * C
        cu = min(C, N - n0)
        # column c's skew line shows W[u - c, n0 + c] in fold cycle u
        wsk[:, :] = 0
        for c in range(cu):
            for k in range(K):
                wsk[k + c, c] = W[k, n0 + c]
        for fr in range(nfold_r):
            m0 = fr * R
            ru = min(R, M - m0)
            wreg[:, :] = 0
            prod[:, :] = 0
            hf = _fold_history(hist, keep, AT, K, fr, m0, ru, R, 1, Z)
            for s in range(P):
                # drain of the previous fold: bottom output register row = tile row R-1-s
                if draining and s < R:
                    _drain_row(out, wcyc, outreg, R - 1 - s, d_m0, d_n0, d_ru, d_cu, R, sho, track, cyc, counters)
                if s < K:
                    stream_reads += ru
                    stat_reads += cu
                # weights move down one PE: PE i <- PE i-1, row 0 <- the column's skew line
                wn = wreg[s & 1][1:]
                wo = wreg[(s + 1) & 1]
                for i in range(RC):
                    wn[i] = wo[i]
                for c in range(C):
                    wn[c * R] = wsk[s, c]
                a = hf[(Z - s) * R:(Z - s) * R + RC]
                if L == 1:
                    if sh == 0:
                        for i in range(RC):
                            acc[i] += a[i] * wn[i]
                    else:
                        for i in range(RC):
                            acc[i] = _wrap(np.int64(acc[i]) + np.int64(a[i]) * wn[i], sh)
                else:
                    pr = prod[s % (L - 1)]
                    for i in range(RC):
                        q = pr[i]
                        pr[i] = a[i] * wn[i]
                        acc[i] = _wrap(np.int64(acc[i]) + q, sh)
                cyc += 1
            # end of the fold's last cycle: accumulators -> output registers, accumulators cleared
            for i in range(RC):
                outreg[i] = acc[i]
                acc[i] = 0
            draining = True
            d_m0 = m0
            d_n0 = n0
            d_ru = ru
            d_cu = cu
    # drain of the last fold
    for s in range(R):
        _drain_row(out, wcyc, outreg, R - 1 - s, d_m0, d_n0, d_ru, d_cu, R, sho, track, cyc, counters)
        cyc += 1
    counters[STREAM_READS] += stream_reads
    counters[STAT_READS] += stat_reads
    counters[CYCLES] = cyc
