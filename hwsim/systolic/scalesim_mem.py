"""SCALE-Sim 3.0.0's memory system, reproduced exactly: its address streams (operand, prefetch and demand
matrices) and its double-buffered scratchpads (read buffers in USER and CALC bandwidth mode, the ofmap
write buffer), with the stall accounting of ``double_buffered_scratchpad.service_memory_requests``.

This is a port of the *semantics* of SCALE-Sim's Python code (PyPI ``scalesim==3.0.0``, modules
``compute/operand_matrix.py``, ``compute/systolic_compute_{ws,is,os}.py``,
``memory/double_buffered_scratchpad_mem.py``, ``memory/read_buffer.py``,
``memory/read_buffer_estimate_bw.py``, ``memory/write_buffer.py``, ``memory/{read,write}_port.py``), not of
its data structures: SCALE-Sim keeps Python sets of addresses and walks them per request; here the same
decisions are taken on integer arrays in one Numba kernel that generates SCALE-Sim's demand rows by
index arithmetic (``_demand``; ``Streams.fold`` builds the same matrices with numpy the way SCALE-Sim
does, and a test checks that they agree), so memory stays bounded by the operand matrices.
Every quirk is kept, because users compare these numbers with SCALE-Sim's:

* USER mode (``read_buffer.service_reads``): a miss triggers ``new_prefetch`` until the address is in the
  active window; the potential stall ``last_prefetch_cycle - (cycle + offset)`` is added to the offset
  once unconditionally (so a negative value *reduces* it) and a second time when positive.
* USER mode: the active window rotates by the prefetch-buffer line count over a ring of "hashed lines"
  (sets of ``ceil(SRAM bytes / 100)`` prefetch elements, the last one possibly empty); each prefetch
  costs ``ceil(prefetch buffer / bandwidth) + 1`` cycles and counts full DRAM lines
  (``lines * bandwidth`` words, padding included).
* CALC mode (``ReadBufferEstimateBw``): no read stalls; the DRAM reads are the addresses that missed the
  active sets, grouped in sets of ``floor(SRAM bytes / 100)``; the prefetch bandwidth is re-derived at
  every buffer swap.
* Write buffer: a drain starts when the free space falls below the active half, drains
  ``ceil(drain buffer / bandwidth)`` lines of the trace, and counts ``lines * bandwidth`` words minus the
  padding of the *last* line only (a padded line in the middle counts full: DRAM OFMAP Writes can exceed
  the SRAM writes). Every partial sum of a ws/is row fold is written (SCALE-Sim has no accumulate-in-SRAM).
* Per demand row the stall is ``max(ifmap stall, filter stall, ofmap stall)``; the total cycle count is
  the last ofmap service cycle; "Total Cycles (incl. prefetch)" is the last ofmap DRAM write cycle minus
  the earlier of the first ifmap/filter DRAM read cycles (which are negative: the first prefetch happens
  before cycle 0).

Where SCALE-Sim itself would fail (an exception inside its buffers), ``ScaleSimUnsupported`` is raised
with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from ..layers import WorkloadError


class ScaleSimUnsupported(WorkloadError):
    """A layer/configuration on which SCALE-Sim 3.0.0 itself stops with an exception."""


@dataclass(frozen=True)
class MemConfig:
    """SCALE-Sim's memory parameters (word size 1 byte, active fraction 0.5, as single_layer_sim sets)."""

    ifmap_kb: int = 64
    filter_kb: int = 64
    ofmap_kb: int = 64
    interface: str = "calc"          #: "calc" | "user"
    ifmap_bw: int = 10               #: USER: IfmapSRAMBankBandwidth (words/cycle)
    filter_bw: int = 10              #: USER: FilterSRAMBankBandwidth
    ofmap_bw: int = 10               #: USER: Bandwidth (first value); CALC uses the array width


@dataclass(frozen=True)
class Geometry:
    """A layer in SCALE-Sim's conv form (a GEMM M, N, K is H=M, W=K, R=1, S=K, C=1, N filters, stride 1)."""

    H: int
    W: int
    R: int
    S: int
    C: int
    N: int
    stride_h: int = 1
    stride_w: int = 1

    @classmethod
    def of(cls, layer, conv=None) -> "Geometry":
        """A conv layer SCALE-Sim can express (no padding, same output size) keeps its geometry (its
        ifmap addresses repeat across overlapping windows); anything else is the im2col GEMM of ``layer``
        (M pixels, N filters, K = window), as SCALE-Sim's GEMM topologies describe it."""
        if conv is not None and not conv.pad_h and not conv.pad_w:
            g = cls(conv.H, conv.W, conv.R, conv.S, conv.C, conv.N, conv.stride_h, conv.stride_w)
            if g.out_hw == (conv.out_h, conv.out_w):
                return g
        return cls(layer.M, layer.K, 1, layer.K, 1, layer.N, 1, 1)

    @property
    def out_hw(self) -> tuple[int, int]:
        return (int(math.ceil((self.H - self.R + self.stride_h) / self.stride_h)),
                int(math.ceil((self.W - self.S + self.stride_w) / self.stride_w)))

    @property
    def pixels(self) -> int:
        oh, ow = self.out_hw
        return oh * ow

    @property
    def window(self) -> int:
        return self.R * self.S * self.C


# ---- operand matrices (operand_matrix.py; offsets 0: a uniform shift changes no decision) -----------
def ifmap_matrix(g: Geometry) -> np.ndarray:
    """[pixels, window] ifmap addresses, -1 where a window runs past the input."""
    oh, ow = g.out_hw
    i = np.arange(oh * ow, dtype=np.int64)[:, None]
    j = np.arange(g.window, dtype=np.int64)[None, :]
    orow, ocol = np.divmod(i, ow)
    irow, icol = orow * g.stride_h, ocol * g.stride_w
    crow, k = np.divmod(j, g.S * g.C)
    ccol, cch = np.divmod(k, g.C)
    addr = ((crow * g.W + ccol) * g.C + cch) + (irow * g.W + icol) * g.C
    if crow.max() + irow.max() < g.H and ccol.max() + icol.max() < g.W:
        return addr                                     # every window inside the input (GEMMs, most convs)
    valid = (crow + irow < g.H) & (ccol + icol < g.W)
    return np.where(valid, addr, -1)


def filter_matrix(g: Geometry) -> np.ndarray:
    """[window, N] filter addresses."""
    i = np.arange(g.window, dtype=np.int64)[:, None]
    j = np.arange(g.N, dtype=np.int64)[None, :]
    return j * g.window + i


# ---- fold helpers ----------------------------------------------------------------------------------
def _pad(m: np.ndarray, rows: int, cols: int) -> np.ndarray:
    if m.shape == (rows, cols):
        return m
    out = np.full((rows, cols), -1, np.int64)
    out[:m.shape[0], :m.shape[1]] = m
    return out


def _skew(m: np.ndarray) -> np.ndarray:
    rows, cols = m.shape
    out = np.full((rows + cols - 1, cols), -1, np.int64)
    for c in range(cols):
        out[c:c + rows, c] = m[:, c]
    return out


def _gap(rows: int, cols: int) -> np.ndarray:
    return np.full((rows, cols), -1, np.int64)


def _diag_order(m: np.ndarray) -> np.ndarray:
    """SCALE-Sim's anti-diagonal prefetch order: diagonals r + c ascending, rows descending within one."""
    M, N = m.shape
    d = np.arange(M + N - 1, dtype=np.int64)
    top = np.minimum(d, M - 1)                          # first (largest) row of each diagonal
    cnt = top - np.maximum(0, d - N + 1) + 1
    start = np.concatenate(([0], np.cumsum(cnt)[:-1]))
    r = np.arange(M, dtype=np.int64)[:, None]
    c = np.arange(N, dtype=np.int64)[None, :]
    pos = start[r + c] + (top[r + c] - r)
    out = np.empty(M * N, np.int64)
    out[pos.reshape(-1)] = m.reshape(-1)
    return out


class Streams:
    """SCALE-Sim's demand matrices (fold by fold) and prefetch sequences for one layer."""

    def __init__(self, g: Geometry, R: int, C: int, dataflow: str):
        self.g, self.R, self.C, self.df = g, R, C, dataflow
        self.ifm = ifmap_matrix(g)
        self.flt = filter_matrix(g)
        px, win, nf = g.pixels, g.window, g.N
        if dataflow == "ws":
            self.Sr, self.Sc, self.T = win, nf, px
        elif dataflow == "is":
            self.Sr, self.Sc, self.T = win, px, nf
        else:
            self.Sr, self.Sc, self.T = px, nf, win
        self.row_fold = -(-self.Sr // R)
        self.col_fold = -(-self.Sc // C)

    @property
    def folds(self) -> int:
        return self.row_fold * self.col_fold

    def fold_rows(self) -> int:
        R, C, T = self.R, self.C, self.T
        return T + R + C - 2 if self.df == "os" else 2 * R + C + T - 2

    def fold(self, fc: int, fr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ifmap, filter, ofmap) demand rows of fold (fc, fr); the ofmap demand holds 1 where a write
        happens (SCALE-Sim's write buffer only counts non -1 entries), -1 elsewhere."""
        R, C, T, df = self.R, self.C, self.T, self.df
        r0, r1 = fr * R, min(fr * R + R, self.Sr)
        c0, c1 = fc * C, min(fc * C + C, self.Sc)
        if df == "ws":
            ifd = _skew(np.concatenate((_gap(R, R), _pad(self.ifm[:, r0:r1], T, R), _gap(C - 1, R))))
            fd = np.concatenate((_pad(self.flt[r0:r1, c0:c1], R, C)[::-1], _gap(R + C + T - 2, C)))
            ofd = _skew(np.concatenate((_gap(2 * R - 1, C), _pad(np.ones((T, c1 - c0), np.int64), T, C))))
        elif df == "is":
            ifd = np.concatenate((_pad(self.ifm[c0:c1, r0:r1].T, R, C)[::-1], _gap(R + C + T - 2, C)))
            fd = _skew(np.concatenate((_gap(R, R), _pad(self.flt[r0:r1, :].T, T, R), _gap(C - 1, R))))
            ofd = _skew(np.concatenate((_gap(2 * R - 1, C), _pad(np.ones((T, c1 - c0), np.int64), T, C))))
        else:
            ifd = _skew(np.concatenate((_pad(self.ifm[r0:r1, :].T, T, R), _gap(C - 1, R))))
            fd = _skew(np.concatenate((_pad(self.flt[:, c0:c1], T, C), _gap(R - 1, C))))
            ofd = _skew(np.concatenate((_gap(T - 1, C),
                                        _pad(np.ones((r1 - r0, c1 - c0), np.int64), R, C)[::-1])))
        return ifd, fd, ofd

    def prefetch(self) -> tuple[np.ndarray, np.ndarray]:
        """(ifmap, filter) prefetch sequences (flattened, -1 padding kept) as SCALE-Sim orders them."""
        R, C, T, df = self.R, self.C, self.T, self.df
        if df == "ws":
            im = np.concatenate([_pad(self.ifm[:, fr * R:min(fr * R + R, self.Sr)], T, R)
                                 for fr in range(self.row_fold)])
            fm = np.concatenate([_pad(self.flt[:, fc * C:min(fc * C + C, self.Sc)], self.flt.shape[0], C)
                                 for fc in range(self.col_fold)])
            return _diag_order(im), fm.reshape(-1)
        if df == "is":
            ift = self.ifm.T
            im = np.concatenate([_pad(ift[:, fc * C:min(fc * C + C, self.Sc)], self.Sr, C)
                                 for fc in range(self.col_fold)])
            fm = np.concatenate([_pad(self.flt[fr * R:min(fr * R + R, self.Sr), :].T, T, R)
                                 for fr in range(self.row_fold)])
            return im.reshape(-1), _diag_order(fm)
        ift = self.ifm.T
        im = np.concatenate([_pad(ift[:, fr * R:min(fr * R + R, self.Sr)], T, R) for fr in range(self.row_fold)])
        fm = np.concatenate([_pad(self.flt[:, fc * C:min(fc * C + C, self.Sc)], T, C) for fc in range(self.col_fold)])
        return _diag_order(im), _diag_order(fm)


# ---- kernels ---------------------------------------------------------------------------------------
# error codes returned by the kernels (SCALE-Sim raises an exception in these situations)
ERR_NONE, ERR_NOT_PREFETCHED, ERR_CALC_CAPACITY, ERR_CALC_ZERO_CYCLES, ERR_WB_EMPTY, ERR_USER_SHORT = range(6)
ERRORS = {
    ERR_NOT_PREFETCHED: "a demanded address is not in the prefetch sequence (SCALE-Sim loops forever)",
    ERR_CALC_CAPACITY: "CALC prefetch of more addresses than cycles x bandwidth (numpy reshape error in "
                       "ReadBufferEstimateBw.prefetch)",
    ERR_CALC_ZERO_CYCLES: "two CALC buffer swaps in one cycle (ZeroDivisionError in ReadBufferEstimateBw)",
    ERR_WB_EMPTY: "the ofmap write buffer drains an empty trace (IndexError in write_buffer.empty_drain_buf)",
    ERR_USER_SHORT: "a USER prefetch wraps around a fetch matrix shorter than the prefetch (shape error in "
                    "read_buffer.new_prefetch)",
}

# USER read buffer state
U_ASTART, U_AEND, U_LAST, U_ACCESS, U_TMIN, U_TMAX, U_FULL, U_NL, U_NACT, U_NPF, U_FIRST, U_PFL, U_BW, \
    U_ROWS, U_NEXT = range(15)
# CALC read buffer state
E_CUR, E_ELEMS, E_RSTART, E_REND, E_PSTART, E_PEND, E_LSTART, E_LEND, E_FIRSTC, E_SEEN, E_DONE, E_ACCESS, \
    E_TSTART, E_TEND, E_TVALID, E_PBW, E_ITEMS, E_NACT, E_NPF, E_DBW, E_ADDS, E_ERR = range(22)
# write buffer state
W_FREE, W_LIDX, W_NLINES, W_TLEN, W_DSTART, W_DEND, W_ACCESS, W_DMIN, W_DMAX, W_TVALID, W_TNONEMPTY, \
    W_TOTAL, W_ACTIVE, W_DRAIN, W_BW, W_ERR = range(16)
# main loop state
M_ROW, M_STALL, M_IF0, M_IF1, M_F0, M_F1, M_O0, M_O1, M_MAXO, M_LASTO, M_ERR = range(11)
NONE = -(1 << 62)


@njit(cache=True)
def _u_hit(st, ptr, lines, a):
    s, e = st[U_ASTART], st[U_AEND]
    for p in range(ptr[a], ptr[a + 1]):
        l = lines[p]
        if s < e:
            if s <= l < e:
                return True
        elif l >= s or l < e:
            return True
    return False


@njit(cache=True)
def _u_service(st, ptr, lines, row, cycle):
    """read_buffer.service_reads for one demand row; returns (out cycle, error)."""
    if st[U_FULL] == 0:                       # prefetch_active_buffer(start_cycle = first row's cycle)
        nlines = st[U_FIRST]
        st[U_ACCESS] += nlines * st[U_BW]
        st[U_TMIN] = cycle - nlines
        st[U_LAST] = cycle - 1
        st[U_TMAX] = cycle - 1
        st[U_ASTART] = 0
        st[U_AEND] = st[U_NACT]
        st[U_FULL] = 1
    offset = 1                                # hit latency
    for a in row:
        if a == -1:
            continue
        if ptr[a + 1] == ptr[a]:
            return 0, ERR_NOT_PREFETCHED
        while not _u_hit(st, ptr, lines, a):
            # new_prefetch: rotate the window, fetch ceil(prefetch buffer / bw) lines
            if st[U_PFL] > st[U_ROWS]:
                return 0, ERR_USER_SHORT
            s = (st[U_ASTART] + st[U_NPF]) % st[U_NL]
            st[U_ASTART] = s
            st[U_AEND] = (s + st[U_NACT]) % st[U_NL]
            st[U_ACCESS] += st[U_PFL] * st[U_BW]
            st[U_LAST] = st[U_LAST] + st[U_PFL] + 1
            if st[U_LAST] > st[U_TMAX]:
                st[U_TMAX] = st[U_LAST]
            p = st[U_LAST] - (cycle + offset)
            offset += p                       # SCALE-Sim adds the potential stall once ...
            if p > 0:
                offset += p                   # ... and a second time when it is positive
    return cycle + offset, ERR_NONE


@njit(cache=True)
def _e_prefetch(st, n):
    cn = st[E_LEND] - st[E_LSTART] + 1
    if n > cn * st[E_PBW]:
        st[E_ERR] = ERR_CALC_CAPACITY
        return
    st[E_ACCESS] += n
    if cn > 0:
        if st[E_TVALID] == 0:
            st[E_TSTART] = st[E_LSTART] + 1
            st[E_TVALID] = 1
        st[E_TEND] = st[E_LEND] + 1


@njit(cache=True)
def _e_service(st, last_set, row, cycle):
    """ReadBufferEstimateBw.service_reads for one demand row (always cycle + 1)."""
    if st[E_SEEN] == 0:
        for a in row:
            if a > -1:
                st[E_FIRSTC] = cycle
                st[E_SEEN] = 1
                break
    items = st[E_ITEMS]
    for a in row:
        if a == -1:
            continue
        ls = last_set[a]
        end = min(st[E_CUR], st[E_REND] + 1)
        if ls >= st[E_RSTART] and ls < end:
            continue                          # hit in the active sets
        if ls == st[E_CUR]:
            continue                          # already in the set being filled
        last_set[a] = st[E_CUR]
        st[E_ELEMS] += 1
        st[E_ADDS] += 1
        if st[E_ELEMS] == items:
            st[E_ELEMS] = 0
            st[E_CUR] += 1
            if st[E_CUR] == st[E_REND] + 1:
                if st[E_DONE] == 0:
                    st[E_PBW] = st[E_DBW]
                    st[E_LEND] = st[E_FIRSTC] - 1 - 1
                    need = -(-(st[E_NPF] * items) // st[E_PBW])
                    st[E_LSTART] = st[E_LEND] - need + 1
                    _e_prefetch(st, st[E_NACT] * items)
                    st[E_PSTART] = st[E_REND] + 1
                    st[E_PEND] = st[E_PSTART] + st[E_NPF] - 1
                    st[E_DONE] = 1
                else:
                    cn = st[E_LEND] - st[E_LSTART] + 1
                    if cn <= 0:
                        st[E_ERR] = ERR_CALC_ZERO_CYCLES
                        return
                    st[E_PBW] = -(-(st[E_NPF] * items) // cn)
                    _e_prefetch(st, (st[E_PEND] - st[E_PSTART] + 1) * items)
                    st[E_PSTART] += st[E_NPF]
                    st[E_PEND] += st[E_NPF]
                st[E_RSTART] += st[E_NPF]
                st[E_REND] += st[E_NPF]
                st[E_LSTART] = st[E_LEND] + 1
                st[E_LEND] = cycle
    return cycle + 1


@njit(cache=True)
def _e_complete(st):
    """ReadBufferEstimateBw.complete_all_prefetches."""
    items = st[E_ITEMS]
    if st[E_ELEMS] == 0:
        st[E_CUR] -= 1
    if st[E_DONE] == 0:
        st[E_PBW] = st[E_DBW]
        st[E_LEND] = -1 - 1
        nsets = st[E_CUR] + 1
        need = -(-(nsets * items) // st[E_PBW])
        st[E_LSTART] = st[E_LEND] - need + 1
        _e_prefetch(st, st[E_ADDS])
        st[E_DONE] = 1
    else:
        nsets = st[E_CUR] - st[E_PSTART] + 1
        cn = st[E_LEND] - st[E_LSTART] + 1
        if cn <= 0:
            st[E_ERR] = ERR_CALC_ZERO_CYCLES
            return
        st[E_PBW] = -(-(nsets * items) // cn)
        st[E_PEND] = st[E_CUR]
        _e_prefetch(st, st[E_ADDS] - st[E_PSTART] * items)


@njit(cache=True)
def _w_append(st, lv, force):
    if force and st[W_LIDX] != 0:
        lv[st[W_NLINES]] = st[W_LIDX]
        st[W_NLINES] += 1
        st[W_LIDX] = 0
    if st[W_NLINES] == st[W_TLEN]:
        return
    if st[W_TNONEMPTY] == 0:
        st[W_DSTART] = 0
        st[W_TNONEMPTY] = 1
    st[W_TLEN] = st[W_NLINES]


@njit(cache=True)
def _w_drain(st, lv, start_cycle):
    """write_buffer.empty_drain_buf: returns the service end cycle."""
    nl = -(-st[W_DRAIN] // st[W_BW])
    end = min(st[W_DSTART] + nl, st[W_TLEN])
    num = end - st[W_DSTART]
    if num <= 0:
        st[W_ERR] = ERR_WB_EMPTY
        return start_cycle
    data = num * st[W_BW] - (st[W_BW] - lv[end - 1])
    st[W_ACCESS] += data
    if st[W_TVALID] == 0:
        st[W_DMIN] = start_cycle
        st[W_DMAX] = start_cycle + num - 1
        st[W_TVALID] = 1
    else:
        st[W_DMIN] = min(st[W_DMIN], start_cycle)
        st[W_DMAX] = max(st[W_DMAX], start_cycle + num - 1)
    st[W_FREE] += data
    st[W_DSTART] = end
    return start_cycle + num - 1


@njit(cache=True)
def _w_service(st, lv, row, cycle):
    """write_buffer.service_writes for one demand row."""
    cur = cycle
    for e in row:
        if e == -1:
            continue
        st[W_LIDX] += 1                       # store_to_trace_mat_cache
        st[W_FREE] -= 1
        if st[W_LIDX] == st[W_BW]:
            lv[st[W_NLINES]] = st[W_BW]
            st[W_NLINES] += 1
            st[W_LIDX] = 0
            if st[W_NLINES] - st[W_TLEN] >= 1024:     # max_cache_lines
                _w_append(st, lv, False)
        if cur < st[W_DEND]:
            if not st[W_FREE] > 0:
                cur = st[W_DEND]
        elif st[W_FREE] < st[W_TOTAL] - st[W_DRAIN]:
            _w_append(st, lv, True)
            st[W_DEND] = _w_drain(st, lv, cur)
            if st[W_ERR] != 0:
                return cur
    return cur


@njit(cache=True)
def _w_empty_all(st, lv, cycle):
    _w_append(st, lv, True)
    if st[W_TNONEMPTY] == 0:
        return
    while st[W_DSTART] < st[W_TLEN]:
        st[W_DEND] = _w_drain(st, lv, cycle)
        if st[W_ERR] != 0:
            return
        cycle = st[W_DEND] + 1


@njit(cache=True)
def _demand(df, R, C, T, ru, cu, r0, c0, t, ifm, flt, irow, frow, orow):
    """Row t of fold (r0, c0)'s ifmap / filter / ofmap demand (the matrices ``Streams.fold`` builds:
    SCALE-Sim's gap rows, padding, flips and skews, as index arithmetic)."""
    if df == 0:                                   # ws: ifmap R lanes (skewed), filter C, ofmap C (skewed)
        for c in range(R):
            u = t - c - R
            irow[c] = ifm[u, r0 + c] if (c < ru and 0 <= u < T) else -1
        k = R - 1 - t
        for c in range(C):
            frow[c] = flt[r0 + k, c0 + c] if (0 <= k < ru and c < cu) else -1
        for c in range(C):
            u = t - c - (2 * R - 1)
            orow[c] = 1 if (c < cu and 0 <= u < T) else -1
    elif df == 1:                                 # is: ifmap C lanes, filter R lanes (skewed), ofmap C
        k = R - 1 - t
        for c in range(C):
            irow[c] = ifm[c0 + c, r0 + k] if (0 <= k < ru and c < cu) else -1
        for c in range(R):
            u = t - c - R
            frow[c] = flt[r0 + c, u] if (c < ru and 0 <= u < T) else -1
        for c in range(C):
            u = t - c - (2 * R - 1)
            orow[c] = 1 if (c < cu and 0 <= u < T) else -1
    else:                                         # os: ifmap R lanes, filter C lanes, ofmap C (all skewed)
        for c in range(R):
            u = t - c
            irow[c] = ifm[r0 + c, u] if (c < ru and 0 <= u < T) else -1
        for c in range(C):
            u = t - c
            frow[c] = flt[u, c0 + c] if (c < cu and 0 <= u < T) else -1
        for c in range(C):
            u = t - c - (T - 1)
            orow[c] = 1 if (c < cu and 0 <= u < R and R - 1 - u < ru) else -1


@njit(cache=True, inline="always")
def _first_last(row, cyc, ms, first, last) -> None:
    """A row with any real address (not -1): record ``cyc`` as the first (once) and the last cycle."""
    for a in row:
        if a != -1:
            if ms[first] == NONE:
                ms[first] = cyc
            ms[last] = cyc
            break


@njit(cache=True)
def run_layer(user, df, R, C, T, Sr, Sc, fold_rows, ifm, flt, ms, ist, fst, wst, lv, iptr, ilines, fptr,
              flines, ilast, flast):
    """service_memory_requests over every demand row of the layer (folds: column outer, row inner)."""
    nil = C if df == 1 else R
    nfl = R if df == 1 else C
    irow = np.empty(nil, np.int64)
    frow = np.empty(nfl, np.int64)
    orow = np.empty(C, np.int64)
    for fc in range((Sc + C - 1) // C):
        c0 = fc * C
        cu = min(C, Sc - c0)
        for fr in range((Sr + R - 1) // R):
            r0 = fr * R
            ru = min(R, Sr - r0)
            for t in range(fold_rows):
                _demand(df, R, C, T, ru, cu, r0, c0, t, ifm, flt, irow, frow, orow)
                c = ms[M_ROW] + ms[M_STALL]
                if user:
                    ic, err = _u_service(ist, iptr, ilines, irow, c)
                    if err != 0:
                        ms[M_ERR] = err
                        return
                    fcy, err = _u_service(fst, fptr, flines, frow, c)
                    if err != 0:
                        ms[M_ERR] = err
                        return
                else:
                    ic = _e_service(ist, ilast, irow, c)
                    fcy = _e_service(fst, flast, frow, c)
                    if ist[E_ERR] != 0 or fst[E_ERR] != 0:
                        ms[M_ERR] = max(ist[E_ERR], fst[E_ERR])
                        return
                oc = _w_service(wst, lv, orow, c)
                if wst[W_ERR] != 0:
                    ms[M_ERR] = wst[W_ERR]
                    return
                st = max(ic - c - 1, fcy - c - 1, oc - c)
                _first_last(irow, ic, ms, M_IF0, M_IF1)
                _first_last(frow, fcy, ms, M_F0, M_F1)
                _first_last(orow, oc, ms, M_O0, M_O1)
                ms[M_MAXO] = max(ms[M_MAXO], oc)
                ms[M_LASTO] = oc
                ms[M_STALL] += st
                ms[M_ROW] += 1


# ---- driver ----------------------------------------------------------------------------------------
@njit(cache=True)
def _hashed_lines(seq, eps, n_addr):
    """read_buffer.prepare_hashed_buffer as CSR: the prefetch elements (-1 skipped) are cut into lines of
    ``eps`` elements (duplicates count); for every address the ascending ids of the lines holding it."""
    last = np.full(n_addr, -1, np.int64)
    cnt = np.zeros(n_addr + 1, np.int64)
    k = 0
    for a in seq:
        if a == -1:
            continue
        line = k // eps
        k += 1
        if last[a] != line:
            last[a] = line
            cnt[a + 1] += 1
    ptr = np.cumsum(cnt)
    lines = np.empty(ptr[-1], np.int64)
    fill = ptr[:-1].copy()
    last[:] = -1
    k = 0
    for a in seq:
        if a == -1:
            continue
        line = k // eps
        k += 1
        if last[a] != line:
            last[a] = line
            lines[fill[a]] = line
            fill[a] += 1
    return ptr, lines


def _user_lines(seq: np.ndarray, size_bytes: int, bw: int, n_addr: int):
    """read_buffer.set_fetch_matrix + prepare_hashed_buffer: the hashed-line ring as CSR (address ->
    sorted line ids) and the ring parameters."""
    total = size_bytes                         # word size 1
    active = int(math.ceil(total * 0.5))
    pf_size = total - active
    rows = -(-seq.size // bw)
    eps = -(-total // 100)
    n_el = int(np.count_nonzero(seq != -1))
    n_lines = n_el // eps + 1
    ptr, ln = _hashed_lines(seq, eps, n_addr)
    nact = min(n_lines, -(-active // eps))
    npf = min(n_lines - nact, -(-pf_size // eps))
    first = min(-(-active // bw), rows)
    nxt = (first % rows) if first * bw > active else ((first + 1) % rows)
    st = np.zeros(15, np.int64)
    st[U_NL], st[U_NACT], st[U_NPF], st[U_FIRST] = n_lines, nact, npf, first
    st[U_PFL], st[U_BW], st[U_ROWS], st[U_NEXT] = -(-pf_size // bw), bw, rows, nxt
    return st, ptr, ln


def _calc_state(size_bytes: int, bw: int) -> np.ndarray:
    st = np.zeros(22, np.int64)
    st[E_ITEMS] = size_bytes // 100
    st[E_NACT] = 50                            # int(0.5 * 100)
    st[E_NPF] = 50
    st[E_REND] = st[E_NACT] - 1
    st[E_LSTART], st[E_LEND] = -2, -1
    st[E_DBW] = st[E_PBW] = bw
    if st[E_ITEMS] == 0:
        raise ScaleSimUnsupported(f"SRAM of {size_bytes} bytes: SCALE-Sim's CALC read buffer needs >= 100")
    return st


def simulate(layer, conv, R: int, C: int, dataflow: str, mem: MemConfig) -> dict:
    """SCALE-Sim 3.0.0's memory simulation of one layer: cycles, stalls and DRAM/SRAM timing fields
    (snake_case keys of ``scalesim_io.FIELDS`` except the compute-only ones)."""
    g = Geometry.of(layer, conv)
    s = Streams(g, R, C, dataflow)
    user = mem.interface == "user"
    n_if, n_f = g.H * g.W * g.C, g.window * g.N
    kb = (mem.ifmap_kb * 1024, mem.filter_kb * 1024, mem.ofmap_kb * 1024)
    dummy = np.zeros(1, np.int64)
    if user:
        ipre, fpre = s.prefetch()
        ist, iptr, ilines = _user_lines(ipre, kb[0], mem.ifmap_bw, n_if)
        fst, fptr, flines = _user_lines(fpre, kb[1], mem.filter_bw, n_f)
        ilast = flast = dummy
    else:
        ist, fst = _calc_state(kb[0], 10), _calc_state(kb[1], 10)
        iptr = ilines = fptr = flines = dummy
        ilast, flast = np.full(n_if, -1, np.int64), np.full(n_f, -1, np.int64)
    obw = mem.ofmap_bw if user else C
    wst = np.zeros(16, np.int64)
    wst[W_TOTAL] = kb[2]
    wst[W_ACTIVE] = int(math.ceil(kb[2] * 0.5))
    wst[W_DRAIN] = kb[2] - wst[W_ACTIVE]
    wst[W_FREE] = kb[2]
    wst[W_BW] = obw
    lv = np.zeros(g.pixels * g.N * s.row_fold + 2 + (g.pixels * g.N if dataflow == "os" else 0), np.int64)
    ms = np.zeros(11, np.int64)
    ms[[M_IF0, M_IF1, M_F0, M_F1, M_O0, M_O1, M_MAXO]] = NONE
    run_layer(user, {"ws": 0, "is": 1, "os": 2}[dataflow], R, C, s.T, s.Sr, s.Sc, s.fold_rows(),
              np.ascontiguousarray(s.ifm), np.ascontiguousarray(s.flt), ms, ist, fst, wst, lv, iptr, ilines,
              fptr, flines, ilast, flast)
    if ms[M_ERR]:
        raise ScaleSimUnsupported(f"SCALE-Sim 3.0.0 fails on this layer: {ERRORS[int(ms[M_ERR])]}")
    if not user:
        _e_complete(ist)
        _e_complete(fst)
        err = max(ist[E_ERR], fst[E_ERR])
        if err:
            raise ScaleSimUnsupported(f"SCALE-Sim 3.0.0 fails on this layer: {ERRORS[int(err)]}")
    _w_empty_all(wst, lv, int(ms[M_LASTO]))
    if wst[W_ERR]:
        raise ScaleSimUnsupported(f"SCALE-Sim 3.0.0 fails on this layer: {ERRORS[int(wst[W_ERR])]}")
    if user:
        idr = (int(ist[U_TMIN]), int(ist[U_TMAX]), int(ist[U_ACCESS]))
        fdr = (int(fst[U_TMIN]), int(fst[U_TMAX]), int(fst[U_ACCESS]))
    else:
        idr = (int(ist[E_TSTART]), int(ist[E_TEND]), int(ist[E_ACCESS]))
        fdr = (int(fst[E_TSTART]), int(fst[E_TEND]), int(fst[E_ACCESS]))
    odr = (int(wst[W_DMIN]), int(wst[W_DMAX]), int(wst[W_ACCESS]))
    total = int(ms[M_MAXO])
    return {
        "total_cycles_incl_prefetch": int(odr[1] - min(idr[0], fdr[0])),
        "compute_cycles": total, "stall_cycles": int(ms[M_STALL]),
        "ifmap_sram_start_cycle": int(ms[M_IF0]), "ifmap_sram_stop_cycle": int(ms[M_IF1]),
        "filter_sram_start_cycle": int(ms[M_F0]), "filter_sram_stop_cycle": int(ms[M_F1]),
        "ofmap_sram_start_cycle": int(ms[M_O0]), "ofmap_sram_stop_cycle": int(ms[M_O1]),
        "ifmap_dram_start_cycle": idr[0], "ifmap_dram_stop_cycle": idr[1], "ifmap_dram_reads": idr[2],
        "filter_dram_start_cycle": fdr[0], "filter_dram_stop_cycle": fdr[1], "filter_dram_reads": fdr[2],
        "ofmap_dram_start_cycle": odr[0], "ofmap_dram_stop_cycle": odr[1], "ofmap_dram_writes": odr[2],
        "avg_ifmap_dram_bw": idr[2] / (idr[1] - idr[0] + 1),
        "avg_filter_dram_bw": fdr[2] / (fdr[1] - fdr[0] + 1),
        "avg_ofmap_dram_bw": odr[2] / (odr[1] - odr[0] + 1),
    }
