"""The native HBM2 command engine (Numba, event-driven): one pseudo-channel, open page, per-bank queues.

This is the engine of every native (non-``compat``) run. ``engine.run_channel`` stays the DRAMSim2
re-implementation that ``--compat pimsimulator`` needs cycle for cycle; this one models what an HBM2
pseudo-channel and a plain open-page controller do, and it does not step tCK by tCK.

Controller
    * Front end: transactions enter in program order, as many per tCK as there is room: at most
      ``trans_q`` admitted and not yet issued in total, at most ``bank_q`` per bank queue. A full bank
      queue stops admission (head-of-line), as a shared transaction buffer does.
    * One queue per bank, served **FCFS**: the head request's next command is the bank's only
      candidate -- RD/WR when its row is open, PRE when another row is open, ACT when the bank is
      closed. Rows stay open after the queue drains (open page; no idle precharge). Across banks the
      oldest request wins each bus (oldest-first arbitration).
    * Barriers (``barrier[t]``: a barrier after transaction t) order issue: no command on behalf of
      a request is issued before every column command of the requests before the barrier has issued
      (no ACT either: in HBM-PIM a row command can switch the rank's mode). There is no drain of data.
    * Refresh: all-bank REF per rank every tREFI (rank r first at (r + 1) * tREFI / ranks, then on a
      fixed schedule). From its due time the rank takes no new ACT or column command; open banks are
      precharged as soon as tRAS / tRTP / tWR allow; REF issues when all are closed and tRP / tRC have
      passed; tRFC later the banks can be activated again.
    * HBM-PIM modes as PIMSimulator's rank tracks them, applied when the command issues: ACT to row
      0x17FF column 0x1F of banks 0, 1, 8, 9 enters all-bank mode, PRE of row 0x1FFF in banks 0 and 1
      leaves it; in all-bank mode ACTs to banks >= 2 are refused.

Command buses
    A row bus (ACT, PRE, REF) and a column bus (RD, WR): each carries one command per tCK, and a row
    command and a column command may issue in the same tCK. Within a tCK the column command is chosen
    first and the row command's choice sees it (a barrier it releases, a queue slot it frees).

Timing (all in tCK; earliest-issue times kept per bank, per bank group and per rank, updated when a
command issues)
    ========================  ==========================================  ==============
    from -> to                 delay                                       scope
    ========================  ==========================================  ==============
    ACT -> ACT                 tRC                                         same bank
    ACT -> ACT                 tRRD_L / tRRD_S                             same / other BG
    ACT x faw                  at most ``faw`` ACTs in any tFAW window     rank
    ACT -> RD / WR             tRCD_RD / tRCD_WR                           same bank
    ACT -> PRE                 tRAS                                        same bank
    PRE -> ACT, PRE -> REF     tRP                                         same bank / rank
    RD -> RD, WR -> WR         max(tCCD_L, BL/2) / max(tCCD_S, BL/2)       same / other BG
    RD -> WR                   RL + BL/2 + tRTRS - WL (bus turnaround)     every rank
    WR -> RD                   WL + BL/2 + tWTR_L / WL + BL/2 + tWTR_S     same / other BG
    RD -> PRE                  tRTP_L                                      same bank
    WR -> PRE                  WL + BL/2 + tWR                             same bank
    REF -> ACT                 tRFC                                        rank
    RD -> RD, WR -> WR         BL/2 + tRTRS                                other rank
    WR -> RD                   max(WL + BL/2 + tRTRS - RL, 0)              other rank
    ========================  ==========================================  ==============

    Read data occupies the data bus RL .. RL + BL/2 after the RD, write data WL .. WL + BL/2 after the
    WR; a request completes at the end of its data. ``finish[p]`` is the completion time of phase p's
    last request.

Event-driven
    The loop never steps through idle cycles: with every bank's candidate command and its earliest
    issue time (a max over the kept earliest-issue times), the clock jumps to the earliest time at
    which the row bus or the column bus can issue, or to the next refresh due time / phase release,
    whichever is first. Every jump target is a time at which some decision can change, so the result
    equals a cycle-by-cycle run of the same rules (``tests/test_pim_hbm2.py`` checks that against a
    plain Python cycle-stepping model of the same rules). Each bank caches its candidate (kind,
    bank-local earliest time, request); only banks whose head, state, barrier epoch or mode changed
    (kept in a list) are recomputed. A pick is the minimum over packed ``(time - now) << 32 | request``
    keys, time = max(bank time, bank-group / rank time of that command kind, bus / tFAW floor): the
    earliest, then the oldest. Requests are indexed in 32 bits.

Inputs and outputs are those of ``engine.run_channel`` (transactions ``write, rank, bank, row, col,
barrier``; phases ``phase_start`` / ``release`` with release -1 = never, -2 = when the previous phase
has finished) so callers can use either engine.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .engine import (C_ACT, C_NONE, C_PRE, C_RD, C_REF, C_WR, M_AB, M_SB, N_STATS, all_bank_entry,
                     single_bank_entry)

Q_NAMES = ("bl2", "rl", "wl", "tccds", "tccdl", "trcdrd", "trcdwr", "tras", "trp", "trc", "trrds", "trrdl",
           "trtp", "twr", "twtrs", "twtrl", "trtrs", "trefi", "trfc", "ranks", "banks", "banks_per_bg",
           "trans_q", "bank_q", "faw", "tfaw", "refresh_offset_div")
Q = {n: i for i, n in enumerate(Q_NAMES)}
INF = 1 << 62
CAP = 1 << 30          # 'not before now + CAP': no candidate (packed times are relative to now)


def params(cfg: dict, faw: bool = False) -> np.ndarray:
    """The native engine's parameter vector from the DRAMSim2-style config dict of ``compat.config``."""
    c = cfg
    vals = dict(bl2=c["BL"] // 2, rl=c["RL"], wl=c["WL"], tccds=c["tCCDS"], tccdl=c["tCCDL"],
                trcdrd=c["tRCDRD"], trcdwr=c["tRCDWR"], tras=c["tRAS"], trp=c["tRP"], trc=c["tRC"],
                trrds=c["tRRDS"], trrdl=c["tRRDL"], trtp=c["tRTPL"], twr=c["tWR"], twtrs=c["tWTRS"],
                twtrl=c["tWTRL"], trtrs=c["tRTRS"], trefi=c["tREFI"], trfc=c["tRFC"], ranks=c["RANKS"],
                banks=c["NUM_BANKS"], banks_per_bg=c["NUM_BANKS"] // c["NUM_BANK_GROUPS"],
                trans_q=c["TRANS_QUEUE_DEPTH"], bank_q=c.get("BANK_QUEUE_DEPTH", 16),
                faw=c["XAW"] if faw else 0, tfaw=c["tXAW"], refresh_offset_div=c["RANKS"])
    return np.array([vals[n] for n in Q_NAMES], np.int64)


@njit(cache=True, inline="always")
def _mark_dirty(dirty, dl, ndl, lo, hi):
    """Banks lo..hi-1 onto the dirty list (each once); returns the list's new length."""
    for i in range(lo, hi):
        if dirty[i] == 0:
            dirty[i] = 1
            dl[ndl] = i
            ndl += 1
    return ndl


@njit(cache=True)
def run_native(write, rank, bank, row, col, barrier, phase_start, release, q, max_cycles, trace_cap=0):
    """Simulate one pseudo-channel; returns (finish[phases], stats[N_STATS], cycles, trace).

    ``trace`` rows: (cycle, type, rank, bank, row, col) of the first ``trace_cap`` commands in issue
    order (a row and a column command of the same tCK: the column command first)."""
    bl2 = q[0]; rl = q[1]; wl = q[2]; tccds = q[3]; tccdl = q[4]; trcdrd = q[5]; trcdwr = q[6]
    tras = q[7]; trp = q[8]; trc = q[9]; trrds = q[10]; trrdl = q[11]; trtp = q[12]; twr = q[13]
    twtrs = q[14]; twtrl = q[15]; trtrs = q[16]; trefi = q[17]; trfc = q[18]; R = q[19]; B = q[20]
    bpg = q[21]; TQ = q[22]; BQ = q[23]; faw = q[24]; tfaw = q[25]; ref_div = q[26]
    G = B // bpg
    ccd_l = max(tccdl, bl2)
    ccd_s = max(tccds, bl2)
    rd_to_wr = rl + bl2 + trtrs - wl
    wr_to_rd_l = wl + bl2 + twtrl
    wr_to_rd_s = wl + bl2 + twtrs
    wr_to_pre = wl + bl2 + twr
    rr_rank = bl2 + trtrs
    wr_to_rd_rank = max(wl + bl2 + trtrs - rl, 0)
    rd_lat = rl + bl2
    NOPK = CAP << 32
    wr_lat = wl + bl2

    ntr = write.shape[0]
    n_phase = release.shape[0]
    NB = R * B
    finish = np.full(n_phase, -1, np.int64)
    stats = np.zeros(N_STATS, np.int64)
    trace = np.zeros((trace_cap, 6), np.int64)
    n_trace = 0

    # per-transaction: flat bank id, epoch (barriers before it), next transaction of the same bank
    fb = np.empty(ntr, np.int64)
    ep = np.empty(ntr, np.int64)
    nxt_same = np.full(ntr, -1, np.int64)
    hd = np.full(NB, -1, np.int64)
    tl = np.full(NB, -1, np.int64)
    e = 0
    for t in range(ntr):
        fb[t] = rank[t] * B + bank[t]
        ep[t] = e
        if barrier[t]:
            e += 1
        k = fb[t]
        if tl[k] < 0:
            hd[k] = t
        else:
            nxt_same[tl[k]] = t
        tl[k] = t
    ph_of = np.empty(ntr, np.int64)
    ph_left = np.zeros(n_phase, np.int64)
    ph_max = np.zeros(n_phase, np.int64)
    for p in range(n_phase):
        ph_left[p] = phase_start[p + 1] - phase_start[p]
        for t in range(phase_start[p], phase_start[p + 1]):
            ph_of[t] = p
    issued = np.zeros(ntr, np.uint8)

    # bank state
    is_open = np.zeros(NB, np.uint8)
    open_row = np.zeros(NB, np.int64)
    nxt_act = np.zeros(NB, np.int64)
    nxt_pre = np.zeros(NB, np.int64)
    bank_rd = np.zeros(NB, np.int64)
    bank_wr = np.zeros(NB, np.int64)
    conflict = np.zeros(NB, np.uint8)
    fresh = np.zeros(NB, np.uint8)          # opened by an ACT for its head request (no hit yet)
    qn = np.zeros(NB, np.int64)
    qr = np.zeros(R, np.int64)              # admitted, not issued, per rank
    # cached candidate per bank (recomputed when ``dirty``): kind 0 none, 1 RD, 2 WR, 3 PRE, 4 ACT
    dirty = np.ones(NB, np.uint8)
    dl = np.arange(NB).astype(np.int64)     # the dirty banks, in a list
    ndl = NB
    hi = np.full(R, B, np.int64)            # per rank: no bank >= hi has a candidate
    nkd = np.zeros(R, np.int64)             # per rank: banks with a candidate
    ckind = np.zeros(NB, np.int64)
    cbt = np.zeros(NB, np.int64)
    ckey = np.zeros(NB, np.int64)
    lid = np.zeros(NB, np.int64)            # the candidate's entry of ``lim`` (kind, rank, bank group)
    k_rank = np.empty(NB, np.int64)
    k_bg = np.empty(NB, np.int64)
    for k in range(NB):
        k_rank[k] = k // B
        k_bg[k] = (k % B) // bpg
    prev_ep = -1
    # bank-group / rank state
    # earliest time per (candidate kind, rank, bank group): 0 none (never), 1 RD, 2 WR, 3 PRE (none), 4 ACT
    lim = np.zeros((5, R, G), np.int64)
    lim[0] = INF
    col_rd = lim[1]
    col_wr = lim[2]
    act_bg = lim[4]
    limf = lim.reshape(5 * R * G)           # flat view: lid[k] indexes it
    fl = np.zeros(5, np.int64)              # per candidate kind: bus / now / tFAW floor
    faw_t = np.full((R, 8), -(1 << 40), np.int64)
    faw_h = np.zeros(R, np.int64)
    n_open = np.zeros(R, np.int64)
    ref_due = np.empty(R, np.int64)
    for r in range(R):
        ref_due[r] = (trefi // ref_div) * (r + 1)
    mode = np.zeros(R, np.int64)
    abmr = np.zeros((R, 4), np.uint8)
    sbmr = np.zeros((R, 2), np.uint8)

    now = 0
    row_free = 0
    col_free = 0
    low = 0                 # oldest transaction without its column command
    adm = 0                 # transactions [0, adm) admitted
    adm_lim = 0             # admission limit (end of the released phases)
    n_rel = 0               # phases released
    tot_q = 0
    end = 0
    while True:
        # ---- phase releases due now
        while n_rel < n_phase:
            rp = release[n_rel]
            if rp == -2 and n_rel > 0 and finish[n_rel - 1] >= 0 and finish[n_rel - 1] <= now:
                rp = finish[n_rel - 1]
            if rp >= 0 and rp <= now:
                if ph_left[n_rel] == 0:
                    finish[n_rel] = rp
                adm_lim = phase_start[n_rel + 1]
                n_rel += 1
            else:
                break
        # ---- admission
        while adm < adm_lim and tot_q < TQ and qn[fb[adm]] < BQ:
            if qn[fb[adm]] == 0:
                ndl = _mark_dirty(dirty, dl, ndl, fb[adm], fb[adm] + 1)
            qn[fb[adm]] += 1
            qr[rank[adm]] += 1
            tot_q += 1
            adm += 1
        while low < ntr and issued[low]:
            low += 1
        cur_ep = ep[low] if low < ntr else 0
        if cur_ep != prev_ep:
            prev_ep = cur_ep
            for k in range(NB):
                if qn[k] > 0:
                    ndl = _mark_dirty(dirty, dl, ndl, k, k + 1)
        # ---- wake-up times: the next phase release and (with work queued) refresh
        wake = INF
        if n_rel < n_phase:
            rp = release[n_rel]
            if rp == -2 and n_rel > 0 and finish[n_rel - 1] >= 0:
                rp = finish[n_rel - 1]
            if rp >= 0:
                wake = rp
        work = low < adm_lim
        if work:
            for r in range(R):
                if ref_due[r] > now and ref_due[r] < wake:
                    wake = ref_due[r]
        # ---- candidates: each bank's next command and its earliest time, then the best per bus
        bc_t = INF; bc_k = -1; bc_key = INF      # column bus
        best_c = NOPK
        best_r = NOPK
        br_t = INF; br_k = -1; br_key = INF; br_type = C_NONE; br_rank = -1
        if work:
            for i in range(ndl):
                k = dl[i]
                r = k_rank[k]
                b = k - r * B
                # the bank's candidate: its head request's next command and the bank-local part of
                # its earliest time (bank-group / rank / bus parts are added in the scan)
                dirty[k] = 0
                kd = 0
                if qn[k] > 0:
                    t = hd[k]
                    if ep[t] == cur_ep:
                        if is_open[k]:
                            if open_row[k] == row[t]:
                                if write[t]:
                                    kd = 2
                                    cbt[k] = bank_wr[k]
                                else:
                                    kd = 1
                                    cbt[k] = bank_rd[k]
                            else:
                                kd = 3
                                cbt[k] = nxt_pre[k]
                        elif mode[r] == 0 or b < 2:
                            kd = 4
                            cbt[k] = nxt_act[k]
                        ckey[k] = t
                nkd[r] += min(kd, 1) - min(ckind[k], 1)
                ckind[k] = kd
                lid[k] = (kd * R + r) * G + k_bg[k]
                if kd != 0 and b >= hi[r]:
                    hi[r] = b + 1
            ndl = 0
            for r in range(R):
                base = r * B
                if now >= ref_due[r]:
                    # refresh pending: precharge open banks, then REF
                    if n_open[r] > 0:
                        for b in range(B):
                            k = base + b
                            if is_open[k]:
                                tt = max(nxt_pre[k], row_free, now)
                                if tt < br_t or (tt == br_t and -1 < br_key):
                                    br_t = tt; br_k = k; br_key = -1; br_type = C_PRE
                    else:
                        tt = max(row_free, now)
                        for b in range(B):
                            tt = max(tt, nxt_act[base + b])
                        if tt < br_t or (tt == br_t and -2 < br_key):
                            br_t = tt; br_k = base; br_key = -2; br_type = C_REF; br_rank = r
                    continue
                if qr[r] == 0:
                    continue
                fl[1] = max(col_free, now)
                fl[2] = fl[1]
                fl[3] = max(row_free, now)
                fl[4] = fl[3]
                if faw > 0:
                    fl[4] = max(fl[4], faw_t[r, (faw_h[r] + 8 - faw) % 8] + tfaw)
                if nkd[r] <= 2:
                    # few candidates (all-bank PIM streams): a short scalar scan up to the last one
                    top = 0
                    for b in range(hi[r]):
                        k = base + b
                        kd = ckind[k]
                        if kd == 0:
                            continue
                        top = b + 1
                        d = min(max(cbt[k], limf[lid[k]], fl[kd]) - now, CAP)
                        pk = (d << 32) | ckey[k]
                        if kd <= 2:
                            best_c = min(best_c, pk)
                        else:
                            best_r = min(best_r, pk)
                    hi[r] = top
                    continue
                for b in range(B):
                    k = base + b
                    # packed (time - now, request): the minimum is the earliest, then the oldest
                    kd = ckind[k]
                    d = min(max(cbt[k], limf[lid[k]], fl[kd]) - now, CAP)
                    pk = (d << 32) | ckey[k]
                    best_c = min(best_c, pk if kd <= 2 else NOPK)
                    best_r = min(best_r, NOPK if kd <= 2 else pk)
        if (best_c >> 32) < CAP:
            bc_key = best_c & 0xFFFFFFFF
            bc_k = fb[bc_key]
            bc_t = now + (best_c >> 32)
        if (best_r >> 32) < CAP:
            tt = now + (best_r >> 32)
            if tt < br_t:
                br_key = best_r & 0xFFFFFFFF
                br_k = fb[br_key]
                br_t = tt
                br_type = C_PRE if ckind[br_k] == 3 else C_ACT
        nxt = min(bc_t, br_t)
        if wake <= nxt:
            if wake == INF:
                break                           # nothing left to do (or nothing can ever issue)
            if wake > now:
                now = wake
                continue
        if nxt >= INF:
            break
        if nxt > max_cycles:
            break
        now = nxt
        # ---- column bus
        if bc_t == now:
            k = bc_k
            t = hd[k]
            r = k_rank[k]
            b = k - r * B
            g = k_bg[k]
            wr = write[t] != 0
            if wr:
                stats[3] += 1
                nxt_pre[k] = max(nxt_pre[k], now + wr_to_pre)
                for i in range(R):
                    for j in range(G):
                        if i == r:
                            col_wr[i, j] = max(col_wr[i, j], now + (ccd_l if j == g else ccd_s))
                            col_rd[i, j] = max(col_rd[i, j], now + (wr_to_rd_l if j == g else wr_to_rd_s))
                        else:
                            col_wr[i, j] = max(col_wr[i, j], now + rr_rank)
                            col_rd[i, j] = max(col_rd[i, j], now + wr_to_rd_rank)
                done = now + wr_lat
            else:
                stats[2] += 1
                nxt_pre[k] = max(nxt_pre[k], now + trtp)
                for i in range(R):
                    for j in range(G):
                        if i == r:
                            col_rd[i, j] = max(col_rd[i, j], now + (ccd_l if j == g else ccd_s))
                        else:
                            col_rd[i, j] = max(col_rd[i, j], now + rr_rank)
                        col_wr[i, j] = max(col_wr[i, j], now + rd_to_wr)
                done = now + rd_lat
            if fresh[k]:
                fresh[k] = 0
            else:
                stats[5] += 1
            if mode[r] != 0:
                stats[9] += 1
            issued[t] = 1
            ndl = _mark_dirty(dirty, dl, ndl, k, k + 1)
            hd[k] = nxt_same[t]
            qn[k] -= 1
            qr[r] -= 1
            tot_q -= 1
            p = ph_of[t]
            ph_max[p] = max(ph_max[p], done)
            ph_left[p] -= 1
            if ph_left[p] == 0:
                finish[p] = ph_max[p]
            end = max(end, done)
            col_free = now + 1
            if n_trace < trace_cap:
                trace[n_trace, 0] = now; trace[n_trace, 1] = C_WR if wr else C_RD; trace[n_trace, 2] = r
                trace[n_trace, 3] = b; trace[n_trace, 4] = row[t]; trace[n_trace, 5] = col[t]
                n_trace += 1
        # ---- row bus
        if br_t == now:
            k = br_k
            r = k_rank[k]
            b = k - r * B
            g = k_bg[k]
            crow = 0
            ccol = 0
            ndl = _mark_dirty(dirty, dl, ndl, k, k + 1)
            if br_type == C_ACT:
                t = hd[k]
                crow = row[t]
                ccol = col[t]
                stats[0] += 1
                if conflict[k]:
                    stats[7] += 1
                else:
                    stats[6] += 1
                conflict[k] = 0
                fresh[k] = 1
                if mode[r] != 0:
                    stats[8] += 1
                is_open[k] = 1
                n_open[r] += 1
                open_row[k] = crow
                nxt_act[k] = max(nxt_act[k], now + trc)
                nxt_pre[k] = max(nxt_pre[k], now + tras)
                bank_rd[k] = now + trcdrd
                bank_wr[k] = now + trcdwr
                for j in range(G):
                    act_bg[r, j] = max(act_bg[r, j], now + (trrdl if j == g else trrds))
                faw_t[r, faw_h[r]] = now
                faw_h[r] = (faw_h[r] + 1) % 8
                if mode[r] == M_SB and crow == 0x17FF and ccol == 0x1F:
                    if all_bank_entry(abmr, r, b, B):
                        mode[r] = M_AB
                        ndl = _mark_dirty(dirty, dl, ndl, r * B, (r + 1) * B)
            elif br_type == C_PRE:
                crow = open_row[k]
                stats[1] += 1
                conflict[k] = 1 if br_key >= 0 else 0
                fresh[k] = 0
                is_open[k] = 0
                n_open[r] -= 1
                nxt_act[k] = max(nxt_act[k], now + trp)
                if mode[r] == M_AB and crow == 0x1FFF and b < 2:
                    if single_bank_entry(sbmr, r, b):
                        mode[r] = M_SB
                        ndl = _mark_dirty(dirty, dl, ndl, r * B, (r + 1) * B)
            else:
                r = br_rank
                b = 0
                stats[4] += 1
                for i in range(B):
                    nxt_act[r * B + i] = max(nxt_act[r * B + i], now + trfc)
                ref_due[r] += trefi
                ndl = _mark_dirty(dirty, dl, ndl, r * B, (r + 1) * B)
            row_free = now + 1
            if n_trace < trace_cap:
                trace[n_trace, 0] = now; trace[n_trace, 1] = br_type; trace[n_trace, 2] = r
                trace[n_trace, 3] = b; trace[n_trace, 4] = crow; trace[n_trace, 5] = ccol
                n_trace += 1
    for p in range(n_phase):
        if finish[p] < 0 and (release[p] != -1):
            finish[p] = -2                      # released (or waiting on its predecessor) and never done
    return finish, stats, end, trace[:n_trace]


def run_stream(arrays, cfg: dict, faw: bool, trace_cap: int = 0):
    """One channel's transaction arrays (``_Stream.arrays()``) through the native engine, one phase.
    Returns (cycles, stats, trace); ``engine.EngineError`` when the stream cannot finish."""
    from .engine import cycles_of
    w, r, b, row, col, bar = arrays
    if w.size >= 1 << 32:
        raise ValueError(f"hbm2.run_stream: {w.size} transactions in one stream; allowed < 2**32")
    fin, st, _, tr = run_native(w, r, b, row, col, bar, np.array([0, w.size], np.int64),
                                np.array([0], np.int64), params(cfg, faw), 1 << 50, trace_cap)
    return cycles_of(fin, 0), st, tr
