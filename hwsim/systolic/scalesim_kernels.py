"""The Numba kernels of the SCALE-Sim 3.0.0-compatible numbers: its memory system (see ``scalesim_mem``
for the semantics and the quirks kept: the USER and CALC read buffers, the ofmap write buffer, the
demand-row generator and the layer loop), its prefetch order, and its per-fold float averages
(``timing.scalesim_metrics``). The entry points ``run_memory``, ``hashed_lines``, ``layout_lines``, ``diag_order``
and ``fold_float_averages`` are also built ahead of time (``scalesim_mem.KERNELS``, ``hwsim.aot``), so that a
command loads them without importing Numba."""

from __future__ import annotations

import numpy as np
from numba import njit

from .scalesim_state import (  # noqa: I001 - slot names, used as compile-time constants
    E_ACCESS, E_ADDS, E_CUR, E_DBW, E_DONE, E_ELEMS, E_ERR, E_FIRSTC, E_ITEMS, E_LEND, E_LSTART, E_NACT,
    E_NPF, E_PBW, E_PEND, E_PSTART, E_REND, E_RSTART, E_SEEN, E_TEND, E_TSTART, E_TVALID, ERR_CALC_CAPACITY,
    ERR_CALC_ZERO_CYCLES, ERR_NONE, ERR_NOT_PREFETCHED, ERR_USER_SHORT, ERR_WB_EMPTY, M_ERR, M_F0, M_F1,
    M_IF0, M_IF1, M_LASTO, M_MAXO, M_O0, M_O1, M_ROW, M_STALL, NONE, U_ACCESS, U_AEND, U_ASTART, U_BW,
    U_FIRST, U_FULL, U_LAST, U_NACT, U_NL, U_NPF, U_PFL, U_ROWS, U_TMAX, U_TMIN, W_ACCESS, W_BW, W_DEND,
    W_DMAX, W_DMIN, W_DRAIN, W_DSTART, W_ERR, W_FREE, W_LIDX, W_NLINES, W_TLEN, W_TNONEMPTY, W_TOTAL, W_TVALID)


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


@njit(cache=True, inline="always")
def _u_fill_active(st, cycle):
    """prefetch_active_buffer(start_cycle = the first demand row's cycle), once."""
    if st[U_FULL] == 0:
        nlines = st[U_FIRST]
        st[U_ACCESS] += nlines * st[U_BW]
        st[U_TMIN] = cycle - nlines
        st[U_LAST] = cycle - 1
        st[U_TMAX] = cycle - 1
        st[U_ASTART] = 0
        st[U_AEND] = st[U_NACT]
        st[U_FULL] = 1


@njit(cache=True, inline="always")
def _u_new_prefetch(st):
    """read_buffer.new_prefetch: rotate the active window by the prefetch lines and fetch
    ceil(prefetch buffer / bw) lines of bw words; returns the cycle the prefetch ends."""
    s = (st[U_ASTART] + st[U_NPF]) % st[U_NL]
    st[U_ASTART] = s
    st[U_AEND] = (s + st[U_NACT]) % st[U_NL]
    st[U_ACCESS] += st[U_PFL] * st[U_BW]
    st[U_LAST] = st[U_LAST] + st[U_PFL] + 1
    if st[U_LAST] > st[U_TMAX]:
        st[U_TMAX] = st[U_LAST]
    return st[U_LAST]


@njit(cache=True)
def _u_service(st, ptr, lines, row, cycle):
    """read_buffer.service_reads for one demand row; returns (out cycle, error)."""
    _u_fill_active(st, cycle)
    offset = 1                                # hit latency
    for a in row:
        if a == -1:
            continue
        if ptr[a + 1] == ptr[a]:
            return 0, ERR_NOT_PREFETCHED
        while not _u_hit(st, ptr, lines, a):
            if st[U_PFL] > st[U_ROWS]:
                return 0, ERR_USER_SHORT
            p = _u_new_prefetch(st) - (cycle + offset)
            offset += p                       # SCALE-Sim adds the potential stall once ...
            if p > 0:
                offset += p                   # ... and a second time when it is positive
    return cycle + offset, ERR_NONE


@njit(cache=True)
def _u_service_layout(st, line_of, pos_of, lay, row, cycle, cnt, seen):
    """read_buffer.service_reads with ``enable_layout_evaluation`` (a custom layout) for one demand row:
    every address lives in exactly one SRAM line (``line_of``) at a column (``pos_of``: its place in the
    line's Python set); a miss prefetches until the line is active, adding the potential stall once when
    positive; then the row costs ``ceil(max distinct lines per bank / ports) - 1`` more cycles (bank of a
    word: column // (bandwidth / banks); -1 for a row without addresses). Returns (out cycle, error)."""
    _u_fill_active(st, cycle)
    nb, bpb, nport = lay[1], lay[2], lay[3]
    for b in range(nb):
        cnt[b] = 0
    offset = 1                                # hit latency
    for a in row:
        if a == -1:
            continue
        l = line_of[a]
        if l == -1:
            return 0, ERR_NOT_PREFETCHED
        while True:
            s, e = st[U_ASTART], st[U_AEND]
            if (s <= l < e) if s < e else (l >= s or l < e):
                break
            if st[U_PFL] > st[U_ROWS]:
                return 0, ERR_USER_SHORT
            p = _u_new_prefetch(st) - (cycle + offset)
            if p > 0:
                offset += p                   # the layout path adds a positive potential stall once
        b = pos_of[a] // bpb
        known = False
        for q in range(cnt[b]):
            if seen[b, q] == l:
                known = True
                break
        if not known:
            seen[b, cnt[b]] = l
            cnt[b] += 1
    mx = 0
    for b in range(nb):
        mx = max(mx, cnt[b])
    offset += -(-mx // nport) - 1
    return cycle + offset, ERR_NONE


@njit(cache=True)
def _set_insert_clean(tbl, mask, keys, idx):
    """CPython 3.11 setobject.c set_insert_clean (slot of key ``keys[idx]``, hash = the key)."""
    h = keys[idx]
    perturb = h
    i = h & mask
    while True:
        if tbl[i] == -1:
            tbl[i] = idx
            return
        if i + 9 <= mask:                     # LINEAR_PROBES
            for j in range(i + 1, i + 10):
                if tbl[j] == -1:
                    tbl[j] = idx
                    return
        perturb >>= 5                         # PERTURB_SHIFT
        i = (i * 5 + 1 + perturb) & mask


@njit(cache=True)
def py_set_order(keys, m, pos):
    """``pos[j]`` = the place of ``keys[j]`` (j < m, distinct non-negative integers, inserted in this order)
    in the iteration order of a CPython 3.11 set built by ``add`` (hash(x) = x for 0 <= x < 2**61 - 1):
    set_add_entry's linear probes and perturbed probing, resize when fill*5 >= mask*3 to the smallest
    power of two > 4 * used (> 2 * used above 50000), old slots re-inserted in table order."""
    mask = 7
    tbl = np.full(8, -1, np.int64)
    fill = 0
    for idx in range(m):
        h = keys[idx]
        perturb = h
        i = h & mask
        slot = -1
        while slot == -1:
            probes = 9 if i + 9 <= mask else 0
            for j in range(i, i + probes + 1):
                if tbl[j] == -1:
                    slot = j
                    break
                if keys[tbl[j]] == h:
                    slot = -2
                    break
            if slot != -1:
                break
            perturb >>= 5
            i = (i * 5 + 1 + perturb) & mask
        if slot == -2:
            continue
        tbl[slot] = idx
        fill += 1
        if fill * 5 >= mask * 3:
            minused = fill * 2 if fill > 50000 else fill * 4
            size = 8
            while size <= minused:
                size <<= 1
            new = np.full(size, -1, np.int64)
            for s in range(mask + 1):
                if tbl[s] != -1:
                    _set_insert_clean(new, size - 1, keys, tbl[s])
            tbl = new
            mask = size - 1
    p = 0
    for s in range(mask + 1):
        if tbl[s] != -1:
            pos[tbl[s]] = p
            p += 1


@njit(cache=True)
def layout_lines(seq, eps, n_addr, key_offset):
    """read_buffer.prepare_hashed_buffer with a custom layout (lines of ``eps`` = bandwidth elements, -1
    skipped) for a sequence of distinct addresses: (line of every address, its column = place in the line's
    Python set of the keys ``address + key_offset``); -1 for addresses not in ``seq``."""
    line_of = np.full(n_addr, -1, np.int64)
    pos_of = np.full(n_addr, -1, np.int64)
    buf = np.empty(eps, np.int64)
    keys = np.empty(eps, np.int64)
    pos = np.empty(eps, np.int64)
    m = 0
    line = 0
    for a in seq:
        if a == -1:
            continue
        buf[m] = a
        keys[m] = a + key_offset
        m += 1
        if m == eps:
            py_set_order(keys, m, pos)
            for j in range(m):
                line_of[buf[j]] = line
                pos_of[buf[j]] = pos[j]
            line += 1
            m = 0
    if m > 0:
        py_set_order(keys, m, pos)
        for j in range(m):
            line_of[buf[j]] = line
            pos_of[buf[j]] = pos[j]
    return line_of, pos_of


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
              flines, ilast, flast, ilay, flay, iline, ipos, fline, fpos):
    """service_memory_requests over every demand row of the layer (folds: column outer, row inner).
    ``ilay`` / ``flay``: [custom layout (0/1), banks, words per bank, ports]; with a custom layout the USER
    read buffer is ``_u_service_layout`` on ``iline``/``ipos`` (``fline``/``fpos``)."""
    nil = C if df == 1 else R
    nfl = R if df == 1 else C
    irow = np.empty(nil, np.int64)
    frow = np.empty(nfl, np.int64)
    orow = np.empty(C, np.int64)
    icnt = np.zeros(max(ilay[1], 1), np.int64)
    iseen = np.empty((max(ilay[1], 1), nil), np.int64)
    fcnt = np.zeros(max(flay[1], 1), np.int64)
    fseen = np.empty((max(flay[1], 1), nfl), np.int64)
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
                    if ilay[0]:
                        ic, err = _u_service_layout(ist, iline, ipos, ilay, irow, c, icnt, iseen)
                    else:
                        ic, err = _u_service(ist, iptr, ilines, irow, c)
                    if err != 0:
                        ms[M_ERR] = err
                        return
                    if flay[0]:
                        fcy, err = _u_service_layout(fst, fline, fpos, flay, frow, c, fcnt, fseen)
                    else:
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


@njit(cache=True)
def run_memory(user, df, R, C, T, Sr, Sc, fold_rows, ifm, flt, ms, ist, fst, wst, lv, iptr, ilines, fptr,
               flines, ilast, flast, ilay, flay, iline, ipos, fline, fpos):
    """The whole layer: ``run_layer``, then (CALC) ``complete_all_prefetches`` of both read buffers, then
    ``empty_all_buffers`` of the write buffer; stops at the first error code (ms, then ist/fst, then wst)."""
    run_layer(user, df, R, C, T, Sr, Sc, fold_rows, ifm, flt, ms, ist, fst, wst, lv, iptr, ilines, fptr,
              flines, ilast, flast, ilay, flay, iline, ipos, fline, fpos)
    if ms[M_ERR] != 0:
        return
    if not user:
        _e_complete(ist)
        _e_complete(fst)
        if ist[E_ERR] != 0 or fst[E_ERR] != 0:
            return
    _w_empty_all(wst, lv, ms[M_LASTO])


@njit(cache=True)
def hashed_lines(seq, eps, n_addr):
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


@njit(cache=True)
def diag_order(m):
    """The elements of ``m`` in SCALE-Sim's anti-diagonal prefetch order: diagonals r + c ascending, rows
    descending within one."""
    M, N = m.shape
    out = np.empty(M * N, np.int64)
    k = 0
    for d in range(M + N - 1):
        for r in range(min(d, M - 1), max(0, d - N + 1) - 1, -1):
            out[k] = m[r, d - r]
            k += 1
    return out
