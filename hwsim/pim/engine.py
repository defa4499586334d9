"""The DRAMSim2 command engine of ``--compat pimsimulator`` (Numba): one memory channel (an HBM2
pseudo-channel), cycle by cycle, as PIMSimulator b464dde runs it. Native runs use the HBM2 engine of
:mod:`hwsim.pim.hbm2` (row and column command buses, per-bank queues, tWTR_S/L, event-driven); this one
keeps DRAMSim2's single command bus, per-rank queues and its timing rules so that compat mode is exact.

It advances the DRAM clock (tCK) one cycle per step and models, per step and in this order (the order of
DRAMSim2 as PIMSimulator @ b464dde runs it, so that ``--compat pimsimulator`` is exact):

1. the ranks: read data returning after RL on the data bus (BL/2 cycles);
2. one transaction from the host side (``pending``) into the transaction queue (depth ``trans_q``);
3. the controller: bank-state countdowns (tRP, tRFC), the command bus (tCMD) delivering the previous
   command to its rank (which switches SB / AB / AB-PIM modes), write data leaving after WL, the refresh
   timer (one all-bank REF per rank every tREFI, ranks staggered by tREFI / ranks), then *one* command:
   a pending refresh (precharging the rank first), else the first issuable command of the rank queues
   (round-robin over ranks; a request behind a barrier or behind an older request to the same
   bank/row/column waits; a closed bank gets an ACT for the oldest request that wants it), else a
   precharge of an open bank that no queued request (up to the first barrier) hits; then one
   transaction from the transaction queue into its rank's command queue (depth ``cmd_q``).

Timing state is per bank: earliest ACT / RD / WR / PRE, set when a command issues: tRCD, tRAS, tRC,
tRP, tRRD_S/L (ACT->ACT other banks), tCCD_S/L (max with BL/2), RD->WR, WR->RD (tWTR), RD->PRE (tRTP),
WR->PRE (tWR), tRFC, and, when ``faw`` > 0, at most ``faw`` ACTs in any ``tfaw`` window (DRAMSim2's own
window bookkeeping is never fed in the published code, so compat mode runs with ``faw`` = 0).
In all-bank (AB / AB-PIM) mode ACTs to banks >= 2 are refused, as PIMSimulator's controller does.

Transactions are integer arrays (``write``, ``rank``, ``bank``, ``row``, ``col``, ``barrier``) and are
released in *phases*: phase p enters (all of it at once, as the host calls ``addTransaction`` in a loop)
before step ``release[p]``; release -1 = never. A barrier requested after a transaction tags the
last queued transaction; it is lost when there is none or when the transaction queue is exactly full
and nothing is pending (DRAMSim2's ``addBarrier``). The run ends when every released transaction has
completed (reads: data back at the controller; writes: data sent); ``finish[p]`` is the number of
steps taken when phase p's last transaction completed (the host's cycle counter).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# bank states
IDLE, ACTIVE, PRECHARGING, REFRESHING = 0, 1, 2, 3
# command types
C_NONE, C_ACT, C_PRE, C_RD, C_WR, C_REF = 0, 1, 2, 3, 4, 5
# modes
M_SB, M_AB = 0, 1

# parameter vector layout (int64)
P_NAMES = ("bl2", "rl", "wl", "al", "tccds", "tccdl", "trcdrd", "trcdwr", "tras", "trrds", "trrdl", "trc",
           "trp", "rd_to_pre", "wr_to_pre", "rd_to_wr", "wr_to_rd_long", "wr_to_rd_rank", "trtrs", "trefi",
           "trfc", "tcmd", "ranks", "banks", "banks_per_bg", "trans_q", "cmd_q", "faw", "tfaw",
           "refresh_offset_div")
P = {n: i for i, n in enumerate(P_NAMES)}
N_STATS = 10  # ACT, PRE, RD, WR, REF, row hits, row misses, row conflicts, ACT in AB mode, RD/WR in AB mode
STAT_NAMES = ("act", "pre", "rd", "wr", "ref", "row_hits", "row_misses", "row_conflicts", "act_ab", "col_ab")


@njit(cache=True, inline="always")
def all_bank_entry(abmr, r, bank, B):
    """HBM-PIM's entry into all-bank mode, in single-bank mode: ACTs of row 0x17FF, column 0x1F, to banks 0,
    1, 8 and 9 (0 and 1 when the rank has <= 2 banks). Records ``bank`` in ``abmr[r]``; True, with the record
    cleared, when the set is complete."""
    if bank == 0:
        abmr[r, 0] = 1
    elif bank == 1:
        abmr[r, 1] = 1
    elif bank == 8:
        abmr[r, 2] = 1
    elif bank == 9:
        abmr[r, 3] = 1
    if (B <= 2 and abmr[r, 0] == 1 and abmr[r, 1] == 1) or (
            B > 2 and abmr[r, 0] == 1 and abmr[r, 1] == 1 and abmr[r, 2] == 1 and abmr[r, 3] == 1):
        for k in range(4):
            abmr[r, k] = 0
        return True
    return False


@njit(cache=True, inline="always")
def single_bank_entry(sbmr, r, bank):
    """The way back, in all-bank mode: PREs of row 0x1FFF to banks 0 and 1. Records ``bank`` in ``sbmr[r]``;
    True, with the record cleared, when both came."""
    if bank < 2:
        sbmr[r, bank] = 1
    if sbmr[r, 0] == 1 and sbmr[r, 1] == 1:
        sbmr[r, 0] = 0
        sbmr[r, 1] = 0
        return True
    return False


@njit(cache=True)
def _bg_same(a, b, bpg):
    return (a // bpg) == (b // bpg)


@njit(cache=True)
def run_channel(write, rank, bank, row, col, barrier, phase_start, release, p, max_steps, trace_cap=0,
                skip=True):
    """Simulate one channel; returns (finish[phases], stats[N_STATS], steps, trace).

    ``trace`` holds the first ``trace_cap`` commands as rows (cycle issued, type, rank, bank, row, col).
    ``skip``: jump over steps in which provably nothing happens (same result, fewer steps).
    """
    bl2 = p[0]; rl = p[1]; wl = p[2]; al = p[3]; tccds = p[4]; tccdl = p[5]; trcdrd = p[6]
    trcdwr = p[7]; tras = p[8]; trrds = p[9]; trrdl = p[10]; trc = p[11]; trp = p[12]
    rd_to_pre = p[13]; wr_to_pre = p[14]; rd_to_wr = p[15]; wr_to_rd_long = p[16]
    wr_to_rd_rank = p[17]; trtrs = p[18]; trefi = p[19]; trfc = p[20]; tcmd = p[21]
    R = p[22]; B = p[23]; bpg = p[24]; TQD = p[25]; CQD = p[26]; faw = p[27]; tfaw = p[28]
    ref_div = p[29]

    n_phase = release.shape[0]
    ntr = write.shape[0]
    finish = np.full(n_phase, -1, np.int64)
    stats = np.zeros(N_STATS, np.int64)
    trace = np.zeros((trace_cap, 6), np.int64)
    n_trace = 0

    # bank state
    st = np.zeros((R, B), np.int64)
    open_row = np.zeros((R, B), np.int64)
    nxt_act = np.zeros((R, B), np.int64)
    nxt_rd = np.zeros((R, B), np.int64)
    nxt_wr = np.zeros((R, B), np.int64)
    nxt_pre = np.zeros((R, B), np.int64)
    last_cmd = np.zeros((R, B), np.int64)
    countdown = np.zeros((R, B), np.int64)
    # row-buffer bookkeeping for stats: did the bank get closed with requests waiting (conflict)?
    closed_by_conflict = np.zeros((R, B), np.int64)
    wanted = np.zeros((R, B), np.uint8)
    n_cd = 0                # banks with a running countdown

    # queues
    tq = np.empty(max(TQD, 1), np.int64)
    tq_n = 0
    cq = np.empty((R, CQD), np.int64)
    cq_n = np.zeros(R, np.int64)
    tagged = np.zeros(ntr, np.uint8)
    pend_head = 0
    pend_tail = 0           # pending = [pend_head, pend_tail) (contiguous: adds are in order)
    added_upto = 0          # transactions [0, added_upto) have been handed to the memory system

    # rank side (modes)
    mode = np.zeros(R, np.int64)
    abmr = np.zeros((R, 4), np.uint8)
    sbmr = np.zeros((R, 2), np.uint8)
    cmd_due = -1
    cmd_type = 0; cmd_rank = 0; cmd_bank = 0; cmd_row = 0; cmd_col = 0
    on_fly = 0
    # outstanding transactions per phase (for finish times)
    ph_of = np.zeros(ntr, np.int64)
    for ph in range(n_phase):
        for t in range(phase_start[ph], phase_start[ph + 1]):
            ph_of[t] = ph
    ph_left = np.zeros(n_phase, np.int64)
    for ph in range(n_phase):
        ph_left[ph] = phase_start[ph + 1] - phase_start[ph]
    # reads outstanding per phase in FIFO order (returns come back in issue order)
    rd_fifo = np.empty(ntr + 1, np.int64)
    rd_comp = np.empty(ntr + 1, np.int64)
    wr_comp = np.empty(ntr + 1, np.int64)
    rd_h = 0
    rd_t = 0
    wr_fifo = np.empty(ntr + 1, np.int64)
    wr_h = 0
    wr_t = 0
    # refresh
    ref_cd = np.empty(R, np.int64)
    for i in range(R):
        ref_cd[i] = (trefi // ref_div) * (i + 1)
    ref_rank = 0
    cq_ref_wait = False
    cq_ref_rank = 0
    next_rank = 0
    next_rank_pre = 0
    next_bank_pre = 0
    # four-activation window per rank (ring of last ACT times)
    faw_t = np.full((R, 8), -(1 << 40), np.int64)
    faw_h = np.zeros(R, np.int64)

    now = 0
    last_issue = 0
    released = 0
    pending_phases = 0
    for ph in range(n_phase):
        if release[ph] >= 0:
            pending_phases += 1

    while True:
        # ---- host side: release phases due now (between steps)
        for ph in range(n_phase):
            if release[ph] == -2 and ph > 0 and finish[ph - 1] == now:
                release[ph] = now         # "when the previous phase has completed"
            if release[ph] == now:
                for t in range(phase_start[ph], phase_start[ph + 1]):
                    if tq_n < TQD:
                        tq[tq_n] = t
                        tq_n += 1
                        on_fly += 1
                    else:
                        if pend_tail <= pend_head:
                            pend_head = t
                        pend_tail = t + 1
                    added_upto = t + 1
                    if barrier[t]:
                        if tq_n < TQD:
                            if tq_n > 0:
                                tagged[tq[tq_n - 1]] = 1
                        elif pend_tail > pend_head:
                            tagged[pend_tail - 1] = 1
                released += 1
                if ph_left[ph] == 0:
                    finish[ph] = now
        # the host's loop: stop when nothing is on the fly and nothing more will be released
        if on_fly == 0 and pend_tail <= pend_head:
            more = False
            for ph in range(n_phase):
                if release[ph] > now or (release[ph] == -2 and ph > 0 and finish[ph - 1] < 0):
                    more = True
            if not more:
                break
            if now >= max_steps:
                break
        if now >= max_steps:
            break
        if now - last_issue > 4 * trefi + 1000000:
            finish[:] = -2              # no column command for far longer than any timing: stuck
            break

        # ---- 1. ranks: read data leaves RL after the command reaches the rank and occupies the bus
        # BL/2 cycles; column commands are >= BL/2 apart, so data never collides and a read completes
        # exactly tCMD + RL + BL/2 after issue (a write WL + BL/2): kept as completion times below
        # ---- 2. one pending transaction into the transaction queue
        moved = False
        if pend_tail > pend_head and tq_n < TQD:
            moved = True
            tq[tq_n] = pend_head
            tq_n += 1
            pend_head += 1
            on_fly += 1
        # ---- 3. controller
        # a. bank state countdowns
        if n_cd > 0:
            for r in range(R):
                for b in range(B):
                    if countdown[r, b] > 0:
                        countdown[r, b] -= 1
                        if countdown[r, b] == 0:
                            n_cd -= 1
                            if last_cmd[r, b] == C_REF or last_cmd[r, b] == C_PRE:
                                st[r, b] = IDLE
        # b. command bus delivers to the rank
        if cmd_due == now:
            cmd_due = -1
            r = cmd_rank
            if cmd_type == C_ACT:
                if mode[r] == M_SB and cmd_row == 0x17FF and cmd_col == 0x1F:
                    if all_bank_entry(abmr, r, cmd_bank, B):
                        mode[r] = M_AB
            elif cmd_type == C_PRE:
                if mode[r] == M_AB and cmd_row == 0x1FFF:
                    if single_bank_entry(sbmr, r, cmd_bank):
                        mode[r] = M_SB
        # c. completions due now (write data sent / read data back at the controller)
        while wr_h < wr_t and wr_comp[wr_h] <= now:
            on_fly -= 1
            t = wr_fifo[wr_h]
            ph_left[ph_of[t]] -= 1
            if ph_left[ph_of[t]] == 0:
                finish[ph_of[t]] = wr_comp[wr_h] + 1
            wr_h += 1
        while rd_h < rd_t and rd_comp[rd_h] <= now:
            on_fly -= 1
            t = rd_fifo[rd_h]
            ph_left[ph_of[t]] -= 1
            if ph_left[ph_of[t]] == 0:
                finish[ph_of[t]] = rd_comp[rd_h] + 1
            rd_h += 1
        # e. refresh timer
        if ref_cd[ref_rank] == 0:
            cq_ref_wait = True
            cq_ref_rank = ref_rank
            ref_cd[ref_rank] = trefi
            ref_rank += 1
            if ref_rank == R:
                ref_rank = 0
        # f. pick one command
        ctype = C_NONE
        cr = 0; cb = 0; crow = 0; ccol = 0; cidx = -1; cpos = -1
        # f1. refresh
        if cq_ref_wait:
            send_ref = True
            for b in range(B):
                if st[cq_ref_rank, b] == ACTIVE:
                    send_ref = False
                    if now >= nxt_pre[cq_ref_rank, b]:
                        ctype = C_PRE; cr = cq_ref_rank; cb = b; crow = open_row[cq_ref_rank, b]
                        break
            if ctype == C_NONE and send_ref:
                ctype = C_REF; cr = cq_ref_rank
                cq_ref_wait = False
        # f2. requests
        if ctype == C_NONE:
            start = next_rank
            while True:
                r = next_rank
                n = cq_n[r]
                # fast path: no open bank of this rank can take a column command now -> no scan
                col_possible = False
                act_possible = False
                for b in range(B if n > 0 else 0):
                    if st[r, b] == ACTIVE and (now >= nxt_rd[r, b] or now >= nxt_wr[r, b]):
                        col_possible = True
                    if st[r, b] == IDLE and now >= nxt_act[r, b]:
                        act_possible = True
                if not col_possible:
                    n_scan = 0
                else:
                    n_scan = n
                for i in range(n_scan):
                    t = cq[r, i]
                    b = bank[t]
                    ok = False
                    if st[r, b] == ACTIVE and row[t] == open_row[r, b]:
                        if write[t]:
                            ok = now >= nxt_wr[r, b]
                        else:
                            ok = now >= nxt_rd[r, b]
                    if not ok and tagged[t]:
                        break             # everything behind a barrier depends on it
                    if ok:
                        if i != 0 and tagged[t]:
                            break
                        depend = False
                        for j in range(i):
                            u = cq[r, j]
                            if bank[u] == b and row[u] == row[t] and col[u] == col[t]:
                                depend = True
                                break
                            if tagged[u]:
                                depend = True
                                break
                        if not depend:
                            ctype = C_WR if write[t] else C_RD
                            cr = r; cb = b; crow = row[t]; ccol = col[t]; cidx = t; cpos = i
                            break
                if ctype != C_NONE:
                    break
                for i in range(n if act_possible else 0):
                    t = cq[r, i]
                    if i != 0 and tagged[t]:
                        break
                    b = bank[t]
                    if st[r, b] == IDLE:
                        ok = True
                        if mode[r] != M_SB and b >= 2:
                            ok = False
                        if now < nxt_act[r, b]:
                            ok = False
                        if faw > 0 and now - faw_t[r, (faw_h[r] + 8 - faw) % 8] < tfaw:
                            ok = False
                        if ok:
                            ctype = C_ACT; cr = r; cb = b; crow = row[t]; ccol = col[t]
                            break
                if ctype != C_NONE:
                    break
                next_rank = (next_rank + 1) % R
                if next_rank == start:
                    break
        # f3. precharge an open bank nobody queued wants (queue scanned up to its first barrier)
        pre_possible = False
        if ctype == C_NONE:
            for r in range(R):
                for b in range(B):
                    if st[r, b] == ACTIVE and now >= nxt_pre[r, b]:
                        pre_possible = True
        if ctype == C_NONE and pre_possible:
            for r in range(R):
                for b in range(B):
                    wanted[r, b] = 0
                for i in range(cq_n[r]):
                    t = cq[r, i]
                    b = bank[t]
                    if rank[t] == r and st[r, b] == ACTIVE and row[t] == open_row[r, b]:
                        wanted[r, b] = 1
                    if tagged[t]:
                        break
            sr = next_rank_pre
            sb = next_bank_pre
            while True:
                r = next_rank_pre
                b = next_bank_pre
                if wanted[r, b] == 0 and st[r, b] == ACTIVE and now >= nxt_pre[r, b]:
                    ctype = C_PRE; cr = r; cb = b; crow = open_row[r, b]
                    break
                next_rank_pre += 1
                if next_rank_pre == R:
                    next_rank_pre = 0
                    next_bank_pre += 1
                    if next_bank_pre == B:
                        next_bank_pre = 0
                if next_rank_pre == sr and next_bank_pre == sb:
                    break
        # issue it
        if ctype != C_NONE:
            if ctype == C_RD or ctype == C_WR:
                # remove from the queue
                for i in range(cpos, cq_n[cr] - 1):
                    cq[cr, i] = cq[cr, i + 1]
                cq_n[cr] -= 1
            if mode[cr] != M_SB:
                if ctype == C_ACT:
                    stats[8] += 1
                elif ctype == C_RD or ctype == C_WR:
                    stats[9] += 1
            if ctype == C_RD:
                stats[2] += 1
                nxt_pre[cr, cb] = max(now + rd_to_pre, nxt_pre[cr, cb])
                last_cmd[cr, cb] = C_RD
                for i in range(R):
                    for j in range(B):
                        if i != cr:
                            if st[i, j] == ACTIVE:
                                nxt_rd[i, j] = max(nxt_rd[i, j], now + bl2 + trtrs)
                                nxt_wr[i, j] = max(nxt_wr[i, j], now + rd_to_wr)
                        else:
                            d = max(tccdl if _bg_same(j, cb, bpg) else tccds, bl2)
                            nxt_rd[i, j] = max(nxt_rd[i, j], now + d)
                            nxt_wr[i, j] = max(nxt_wr[i, j], now + rd_to_wr)
                rd_fifo[rd_t] = cidx
                rd_comp[rd_t] = now + tcmd + rl + bl2
                rd_t += 1
            elif ctype == C_WR:
                stats[3] += 1
                nxt_pre[cr, cb] = max(now + wr_to_pre, nxt_pre[cr, cb])
                last_cmd[cr, cb] = C_WR
                for i in range(R):
                    for j in range(B):
                        if i != cr:
                            if st[i, j] == ACTIVE:
                                nxt_rd[i, j] = max(nxt_rd[i, j], now + wr_to_rd_rank)
                                nxt_wr[i, j] = max(nxt_wr[i, j], now + bl2 + trtrs)
                        else:
                            d = max(tccdl if _bg_same(j, cb, bpg) else tccds, bl2)
                            nxt_rd[i, j] = max(nxt_rd[i, j], now + wr_to_rd_long)
                            nxt_wr[i, j] = max(nxt_wr[i, j], now + d)
                wr_fifo[wr_t] = cidx
                wr_comp[wr_t] = now + wl + bl2
                wr_t += 1
            elif ctype == C_ACT:
                stats[0] += 1
                if closed_by_conflict[cr, cb]:
                    stats[7] += 1
                else:
                    stats[6] += 1
                st[cr, cb] = ACTIVE
                last_cmd[cr, cb] = C_ACT
                nxt_act[cr, cb] = max(now + trc, nxt_act[cr, cb])
                open_row[cr, cb] = crow
                nxt_pre[cr, cb] = max(now + tras, nxt_pre[cr, cb])
                nxt_rd[cr, cb] = max(nxt_rd[cr, cb], now + trcdrd - al)
                nxt_wr[cr, cb] = max(nxt_wr[cr, cb], now + trcdwr - al)
                for i in range(B):
                    if i != cb:
                        d = trrdl if _bg_same(i, cb, bpg) else trrds
                        nxt_act[cr, i] = max(now + d, nxt_act[cr, i])
                faw_t[cr, faw_h[cr]] = now
                faw_h[cr] = (faw_h[cr] + 1) % 8
            elif ctype == C_PRE:
                stats[1] += 1
                # a conflict if some queued request wants another row of this bank
                conflict = 0
                for i in range(cq_n[cr]):
                    t = cq[cr, i]
                    if bank[t] == cb and row[t] != crow:
                        conflict = 1
                        break
                closed_by_conflict[cr, cb] = conflict
                st[cr, cb] = PRECHARGING
                last_cmd[cr, cb] = C_PRE
                if countdown[cr, cb] == 0:
                    n_cd += 1
                countdown[cr, cb] = trp
                nxt_act[cr, cb] = max(now + trp, nxt_act[cr, cb])
            elif ctype == C_REF:
                stats[4] += 1
                for i in range(B):
                    st[cr, i] = REFRESHING
                    last_cmd[cr, i] = C_REF
                    if countdown[cr, i] == 0:
                        n_cd += 1
                    countdown[cr, i] = trfc
                    nxt_act[cr, i] = now + trfc
            if n_trace < trace_cap:
                trace[n_trace, 0] = now
                trace[n_trace, 1] = ctype
                trace[n_trace, 2] = cr
                trace[n_trace, 3] = cb
                trace[n_trace, 4] = crow
                trace[n_trace, 5] = ccol
                n_trace += 1
            if ctype == C_RD or ctype == C_WR:
                last_issue = now
            cmd_due = now + tcmd
            cmd_type = ctype; cmd_rank = cr; cmd_bank = cb; cmd_row = crow; cmd_col = ccol
        # g. one transaction into its rank's command queue
        for i in range(tq_n):
            t = tq[i]
            r = rank[t]
            if CQD - cq_n[r] >= 1:
                for k in range(i, tq_n - 1):
                    tq[k] = tq[k + 1]
                tq_n -= 1
                cq[r, cq_n[r]] = t
                cq_n[r] += 1
                moved = True
                break
        # i. refresh countdowns
        for i in range(R):
            ref_cd[i] -= 1
        # ---- event skip: when this step changed nothing that the next steps see, and nothing can move
        # until the next threshold or arrival, jump straight to the step before it (exactly equivalent:
        # every decision depends on states and on now >= threshold comparisons only)
        if (skip and ctype == C_NONE and not moved and on_fly > 0
                and not (pend_tail > pend_head and tq_n < TQD)):
            big = now + (1 << 40)
            tn = big
            if cmd_due >= 0:
                tn = min(tn, cmd_due)
            for r in range(R):
                if r == ref_rank:
                    tn = min(tn, now + 1 + ref_cd[r])
                for b in range(B):
                    if countdown[r, b] > 0:
                        tn = min(tn, now + countdown[r, b])
                    if nxt_act[r, b] > now:
                        tn = min(tn, nxt_act[r, b])
                    if nxt_rd[r, b] > now:
                        tn = min(tn, nxt_rd[r, b])
                    if nxt_wr[r, b] > now:
                        tn = min(tn, nxt_wr[r, b])
                    if nxt_pre[r, b] > now:
                        tn = min(tn, nxt_pre[r, b])
                if faw > 0:
                    for k in range(8):
                        if faw_t[r, k] + tfaw > now:
                            tn = min(tn, faw_t[r, k] + tfaw)
            for ph in range(n_phase):
                if release[ph] > now:
                    tn = min(tn, release[ph])
            # when nothing else is left, the run ends with the last completion
            if pend_tail <= pend_head and tq_n == 0:
                left = 0
                for r in range(R):
                    left += cq_n[r]
                if left == 0:
                    last = now
                    if rd_h < rd_t:
                        last = max(last, rd_comp[rd_t - 1])
                    if wr_h < wr_t:
                        last = max(last, wr_comp[wr_t - 1])
                    tn = min(tn, last + 1)
            if tn < big and tn > now + 1:
                # retire the completions inside the skipped steps (they change nothing else)
                while wr_h < wr_t and wr_comp[wr_h] < tn:
                    on_fly -= 1
                    t = wr_fifo[wr_h]
                    ph_left[ph_of[t]] -= 1
                    if ph_left[ph_of[t]] == 0:
                        finish[ph_of[t]] = wr_comp[wr_h] + 1
                    wr_h += 1
                while rd_h < rd_t and rd_comp[rd_h] < tn:
                    on_fly -= 1
                    t = rd_fifo[rd_h]
                    ph_left[ph_of[t]] -= 1
                    if ph_left[ph_of[t]] == 0:
                        finish[ph_of[t]] = rd_comp[rd_h] + 1
                    rd_h += 1
                delta = tn - (now + 1)
                for r in range(R):
                    ref_cd[r] -= delta
                    for b in range(B):
                        if countdown[r, b] > 0:
                            countdown[r, b] -= delta
                now += delta
        now += 1
    # row hits = column commands not preceded by their own ACT
    stats[5] = stats[2] + stats[3] - stats[0]
    return finish, stats, now, trace[:n_trace]


class EngineError(RuntimeError):
    """The engine could not finish a stream (no command issued for far longer than any timing allows)."""


def cycles_of(finish, phase: int) -> int:
    """``finish[phase]`` as an int, or EngineError when that phase never completed."""
    v = int(finish[phase])
    if v < 0:
        raise EngineError(f"the command engine made no progress on phase {phase} of its stream (a queue "
                          f"depth or timing that can never issue the next command?)")
    return v
