"""The native HBM2 engine (hwsim/pim/hbm2.py): one micro-test per timing constraint, each expected cycle
derived by hand from the HBM2 parameters of PIMSimulator's ini (tCK units): BL 4 (BL/2 = 2), RL 20, WL 8,
tCCD_S 2, tCCD_L 4, tRCD_RD 14, tRCD_WR 10, tRAS 33, tRP 14, tRC 47, tRRD_S 4, tRRD_L 6, tRTP_L 5, tWR 16,
tWTR_S 4, tWTR_L 9, tRTRS 1. Banks are numbered bg * 4 + bank (4 banks per bank group). Refresh is off
(tREFI = 1e9) except in the refresh test; one rank unless stated.

Cross-checks (spec E.4's bandwidth and latency micro-tests) against the DRAMSim2 engine of compat mode
(itself exact against PIMSimulator b464dde on the 83 reference cases): peak streaming bandwidth and the
single-read latency (the DRAMSim2 path adds its tCMD and two queue steps); and against the non-PIM cycles
PIMSimulator printed for all 83 reference runs.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from hwsim.pim import compat as C
from hwsim.pim import engine as E
from hwsim.pim import hbm2 as H

ACT, PRE, RD, WR, REF = E.C_ACT, E.C_PRE, E.C_RD, E.C_WR, E.C_REF


def cfg(**over):
    c = C.config(False)
    c["RANKS"] = 1
    c.update(over)
    return c


def run(txs, c=None, faw=False):
    """txs: (write, bank, row, col[, barrier after]); returns (cycles, stats, trace rows as tuples
    (cycle, type, bank, row))."""
    c = c or cfg()
    n = len(txs)
    a = [np.array([t[0] for t in txs], np.uint8), np.array([t[5] if len(t) > 5 else 0 for t in txs], np.int64),
         np.array([t[1] for t in txs], np.int64), np.array([t[2] for t in txs], np.int64),
         np.array([t[3] for t in txs], np.int64), np.array([t[4] if len(t) > 4 else 0 for t in txs], np.uint8)]
    fin, st, end, tr = H.run_native(*a, np.array([0, n], np.int64), np.array([0], np.int64), H.params(c, faw),
                                    1 << 40, 8 * n + 64)
    assert fin[0] == end
    return int(end), st, [(int(r[0]), int(r[1]), int(r[3]), int(r[4])) for r in tr]


def times(trace, typ, bank=None):
    return [t for t, ty, b, _ in trace if ty == typ and (bank is None or b == bank)]


def test_trcd_and_latencies():
    # closed bank: ACT at 0, RD at tRCD_RD = 14, data done at 14 + RL + BL/2 = 36
    cyc, st, tr = run([(0, 0, 0, 0)])
    assert tr == [(0, ACT, 0, 0), (14, RD, 0, 0)] and cyc == 36
    assert list(st[:8]) == [1, 0, 1, 0, 0, 0, 1, 0]          # one ACT (a row miss), one RD
    # write: WR at tRCD_WR = 10, done at 10 + WL + BL/2 = 20
    cyc, _, tr = run([(1, 0, 0, 0)])
    assert tr == [(0, ACT, 0, 0), (10, WR, 0, 0)] and cyc == 20


def test_tccd_l_and_s():
    # same bank group: one RD per tCCD_L = 4 (14, 18, 22, 26); row hits after the first
    cyc, st, tr = run([(0, 0, 0, c) for c in range(4)])
    assert times(tr, RD) == [14, 18, 22, 26] and cyc == 26 + 22 and st[5] == 3
    # banks 0 and 4 (other bank group, ACT at tRRD_S = 4): RD b0 14; at 18 both b0's second read
    # (tCCD_L after 14) and b4's first (tRCD after 4) are ready, the older (b0) goes; b4 at 20
    # (tCCD_S); b4's second waits tCCD_L after 20 -> 24
    cyc, _, tr = run([(0, 0, 0, 0), (0, 0, 0, 1), (0, 4, 0, 0), (0, 4, 0, 1)])
    assert times(tr, RD, 0) == [14, 18] and times(tr, RD, 4) == [20, 24]
    # alternating bank groups in steady state: one RD per max(tCCD_S, BL/2) = 2
    txs = [(0, 4 * (i % 2), 0, i // 2) for i in range(40)]
    rd = times(run(txs)[2], RD)
    assert np.all(np.diff(rd[4:]) == 2)


def test_row_and_column_bus_issue_in_the_same_cycle():
    # two reads of bank 0 (RD 14, 18), a barrier, then a read of bank 4: its ACT may only issue once
    # the RD at 18 has issued, and it does so in that same tCK on the row bus; RD b4 at 18 + 14 = 32
    cyc, _, tr = run([(0, 0, 0, 0), (0, 0, 0, 1, 1), (0, 4, 0, 0)])
    assert tr == [(0, ACT, 0, 0), (14, RD, 0, 0), (18, RD, 0, 0), (18, ACT, 4, 0), (32, RD, 4, 0)]
    assert cyc == 32 + 22


def test_one_command_per_bus_per_cycle():
    rng = np.random.default_rng(3)
    txs = [(int(rng.integers(2)), int(rng.integers(16)), int(rng.integers(3)), int(rng.integers(32)),
            int(rng.random() < 0.05)) for _ in range(3000)]
    _, st, tr = run(txs, cfg(tREFI=900, tRFC=120))
    rows = [t for t, ty, _, _ in tr if ty in (ACT, PRE, REF)]
    cols = [t for t, ty, _, _ in tr if ty in (RD, WR)]
    assert len(set(rows)) == len(rows) and len(set(cols)) == len(cols) == 3000
    assert len(set(rows) & set(cols)) > 0                    # both buses used in one tCK somewhere
    assert st[4] > 0 and st[6] + st[7] == st[0]
    # without refresh every ACT serves the column command of its request: hits + misses + conflicts
    st = run(txs)[1]
    assert st[5] + st[6] + st[7] == 3000 == st[2] + st[3] and st[6] + st[7] == st[0]


def test_trrd_l_and_s():
    assert times(run([(0, 0, 0, 0), (0, 1, 0, 0)])[2], ACT) == [0, 6]       # same BG: tRRD_L
    assert times(run([(0, 0, 0, 0), (0, 4, 0, 0)])[2], ACT) == [0, 4]       # other BG: tRRD_S


def test_tfaw():
    # banks 0, 4, 8, 12 (four bank groups): ACTs at 0, 4, 8, 12 (tRRD_S); bank 1 then waits for
    # max(tRRD_L after 0 = 6, tRRD_S after 12 = 16, first ACT + tFAW) -- 20 with tFAW = 20, 16 without
    txs = [(0, b, 0, 0) for b in (0, 4, 8, 12, 1)]
    assert times(run(txs, cfg(tXAW=20), faw=True)[2], ACT) == [0, 4, 8, 12, 20]
    assert times(run(txs, cfg(tXAW=20), faw=False)[2], ACT) == [0, 4, 8, 12, 16]


def test_tras_trp_trc():
    two_rows = [(0, 0, 0, 0), (0, 0, 1, 0)]
    # RD 14; PRE at tRAS = 33 (RD + tRTP = 19 earlier); ACT at PRE + tRP = 47 = tRC; RD 61
    _, st, tr = run(two_rows)
    assert tr == [(0, ACT, 0, 0), (14, RD, 0, 0), (33, PRE, 0, 0), (47, ACT, 0, 1), (61, RD, 0, 1)]
    assert list(st[5:8]) == [0, 1, 1]                        # a miss, then a conflict
    # tRAS 40: PRE 40, ACT 54 (tRP binds; tRC would allow 47)
    assert times(run(two_rows, cfg(tRAS=40))[2], ACT) == [0, 54]
    # tRC 70: ACT 70 (PRE + tRP = 47 is earlier)
    assert times(run(two_rows, cfg(tRC=70))[2], ACT) == [0, 70]


def test_trtp():
    # tRAS 10, tRC 20: PRE at RD + tRTP_L = 14 + 5 = 19; ACT at 19 + tRP = 33
    _, _, tr = run([(0, 0, 0, 0), (0, 0, 1, 0)], cfg(tRAS=10, tRC=20))
    assert times(tr, PRE) == [19] and times(tr, ACT) == [0, 33]


def test_twr():
    # WR 10; PRE at WR + WL + BL/2 + tWR = 10 + 8 + 2 + 16 = 36 (> tRAS 33); ACT 50; RD 64
    cyc, _, tr = run([(1, 0, 0, 0), (0, 0, 1, 0)])
    assert tr == [(0, ACT, 0, 0), (10, WR, 0, 0), (36, PRE, 0, 0), (50, ACT, 0, 1), (64, RD, 0, 1)]
    assert cyc == 64 + 22


def test_twtr_l_and_s_and_read_to_write():
    # WR b0 at 10; RD b1 (same BG, ACT 6, tRCD -> 20) waits WL + BL/2 + tWTR_L = 8 + 2 + 9 -> 29
    _, _, tr = run([(1, 0, 0, 0), (0, 1, 0, 0)])
    assert times(tr, RD, 1) == [29]
    # RD b4 (other BG, ACT 4, tRCD -> 18) waits WL + BL/2 + tWTR_S = 8 + 2 + 4 -> 24
    _, _, tr = run([(1, 0, 0, 0), (0, 4, 0, 0)])
    assert times(tr, RD, 4) == [24]
    # the tWTR values themselves move the read: tWTR_L 12 -> 32, tWTR_S 7 -> 27
    assert times(run([(1, 0, 0, 0), (0, 1, 0, 0)], cfg(tWTRL=12))[2], RD, 1) == [32]
    assert times(run([(1, 0, 0, 0), (0, 4, 0, 0)], cfg(tWTRS=7))[2], RD, 4) == [27]
    # RD b0 at 14; WR b4 (ACT 4, tRCD_WR -> 14) waits RL + BL/2 + tRTRS - WL = 20 + 2 + 1 - 8 -> 29
    _, _, tr = run([(0, 0, 0, 0), (1, 4, 0, 0)])
    assert times(tr, WR, 4) == [29]


def test_refresh_every_trefi_with_trfc():
    # 60 reads of one row: RD 14 + 4k; refresh due at tREFI = 200 stops new commands: the last RD is
    # k = 46 at 198; PRE at 198 + tRTP = 203; REF at 203 + tRP = 217; ACT at 217 + tRFC (50) = 267;
    # RD 281 and the 12 left every 4: last 329, done 351 (before the next refresh at 400)
    cyc, st, tr = run([(0, 0, 0, c % 32) for c in range(60)], cfg(tREFI=200, tRFC=50))
    assert times(tr, PRE) == [203] and times(tr, REF) == [217] and times(tr, ACT) == [0, 267]
    rd = times(tr, RD)
    assert rd[46] == 198 and rd[47] == 281 and rd[-1] == 329 and cyc == 351
    assert st[4] == 1
    # two ranks: rank r's first refresh at (r + 1) * tREFI / 2, then every tREFI
    txs = [(0, 0, 0, c % 32, 0, r) for c in range(150) for r in (0, 1)]
    _, st, tr = run(txs, cfg(RANKS=2, tREFI=200, tRFC=50))
    refs = [t for t, ty, _, _ in tr if ty == REF]
    assert st[4] == len(refs) >= 3 and refs[0] >= 100 and refs[1] >= 200


def test_all_bank_mode_refuses_acts_to_other_banks():
    # ACT row 0x17FF col 0x1F to banks 0, 1, 8, 9 enters AB mode: a read of bank 2 then waits until
    # PRE of row 0x1FFF in banks 0 and 1 has left it
    enter = [(1, b, 0x17FF, 0x1F) for b in (0, 1, 8, 9)]
    enter[-1] = enter[-1] + (1,)
    leave = [(1, 0, 0x1FFF, 0x1F), (1, 1, 0x1FFF, 0x1F, 1)]
    _, st, tr = run(enter + leave + [(0, 0, 0, 0), (0, 1, 0, 0), (0, 2, 0, 0)])
    pre_1fff = [t for t, ty, b, r in tr if ty == PRE and r == 0x1FFF]
    act2 = times(tr, ACT, 2)
    # the ACT takes the row bus in the tCK after the PRE that left AB mode (its other timings are met)
    assert len(pre_1fff) == 2 and act2 == [max(pre_1fff) + 1]
    assert st[8] == 2                                          # ACT 0x1FFF in banks 0, 1 in AB mode


def test_peak_bandwidth_and_latency_against_the_dramsim2_engine():
    k = np.arange(4096, dtype=np.int64)
    rk, bk, rw, cl = C._decode_k(k, 1)
    z = np.zeros(k.size, np.uint8)
    args = (z, rk, bk, rw, cl, z, np.array([0, k.size], np.int64), np.array([0], np.int64))
    _, st, end, tr = H.run_native(*args, H.params(cfg()), 1 << 40, 3 * k.size)
    rd = tr[tr[:, 1] == RD, 0]
    # sequential 32 B reads over 16 banks: one per max(tCCD_S, BL/2) = 2 tCK at best; > 99 % of it
    assert 2 * (k.size - 1) <= rd[-1] - rd[0] <= 2 * (k.size - 1) / 0.99
    fin2, st2, _, _ = E.run_channel(*args, C.params(cfg()), 1 << 40)
    assert abs(end - fin2[0]) / fin2[0] < 0.01                # the same bandwidth as PIMSimulator's DRAM core
    assert st[2] == st2[2] and st[0] == st2[0]                 # and the same ACTs (one per row and bank)
    # one read: tRCD + RL + BL/2 = 36; DRAMSim2 adds tCMD and one step in each of its two queues
    one = (z[:1], rk[:1], bk[:1], rw[:1], cl[:1], z[:1], np.array([0, 1], np.int64), np.array([0], np.int64))
    assert H.run_native(*one, H.params(cfg()), 1 << 40)[2] == 36
    assert E.run_channel(*one, C.params(cfg()), 1 << 40)[0][0] == 36 + 3


def test_nonpim_baseline_against_pimsimulator_printed_cycles():
    """The non-PIM host streams of all 83 PIMSimulator reference runs (tests/data/pim_reference.json: the
    cycles PIMSimulator b464dde printed) on the native engine. Without refresh the native controller is
    within 1 % on every case (pure streaming bandwidth); with refresh short runs differ more, because the
    native controller stops issuing to a rank as soon as its refresh is due while DRAMSim2 keeps serving
    requests until its precharges are allowed."""
    cases = json.loads((Path(__file__).parent / "data" / "pim_reference.json").read_text())["cases"]
    dev = []
    for c in cases:
        nat = C.nonpim_cycles(c["kernel"], c["out"], c["in"] if c["kernel"] == "gemv" else 1, c["batch"],
                              c["channels"], C.config(c["refresh"]), native=True)[0]
        dev.append((abs(nat - c["nonpim_cycles"]) / c["nonpim_cycles"], c["refresh"]))
    assert len(dev) == 83
    assert max(d for d, ref in dev if not ref) < 0.01
    assert max(d for d, _ in dev) < 0.2 and sum(d for d, _ in dev) / len(dev) < 0.03


def test_stuck_stream_raises():
    # all-bank mode entered and never left: a read of bank 2 can never be activated
    txs = [(1, b, 0x17FF, 0x1F) for b in (0, 1, 8, 9)] + [(0, 2, 0, 0)]
    w = np.array([t[0] for t in txs], np.uint8)
    z = np.zeros(len(txs), np.int64)
    arrays = (w, z, np.array([t[1] for t in txs]), np.array([t[2] for t in txs]), np.array([t[3] for t in txs]),
              np.zeros(len(txs), np.uint8))
    with pytest.raises(E.EngineError):
        H.run_stream(arrays, cfg(), False)


# ---- event-driven == cycle by cycle --------------------------------------------------------------------

def _stepping_model(txs, c, faw):
    """The rules of hwsim/pim/hbm2.py re-stated as a plain cycle-by-cycle Python loop (every tCK: what
    may issue now on each bus, the oldest request first). Returns the trace (cycle, type, bank, row)."""
    q = dict(zip(H.Q_NAMES, H.params(c, faw).tolist()))
    B, bpg, R = q["banks"], q["banks_per_bg"], q["ranks"]
    bl2, rl, wl = q["bl2"], q["rl"], q["wl"]
    ccd = {True: max(q["tccdl"], bl2), False: max(q["tccds"], bl2)}
    wtr = {True: wl + bl2 + q["twtrl"], False: wl + bl2 + q["twtrs"]}
    n = len(txs)
    ep, e = [], 0
    for t in txs:
        ep.append(e)
        e += t[4]
    issued = [False] * n
    admitted = 0
    openrow = {}                    # (rank, bank) -> row
    ready = {}                      # (kind, rank, bank) -> earliest tCK
    acts = {r: [] for r in range(R)}
    ref_due = {r: q["trefi"] // q["refresh_offset_div"] * (r + 1) for r in range(R)}
    mode = {r: 0 for r in range(R)}
    abm = {r: set() for r in range(R)}
    sbm = {r: set() for r in range(R)}
    out = []
    now = 0

    def get(kind, r, b):
        return ready.get((kind, r, b), 0)

    def bump(kind, r, b, v):
        ready[(kind, r, b)] = max(get(kind, r, b), v)

    while not all(issued):
        for bus in ("col", "row"):              # the column command first, then the row command sees it
            while admitted < n:
                qd = [t for t in range(admitted) if not issued[t]]
                same = [t for t in qd if txs[t][1] == txs[admitted][1] and txs[t][5] == txs[admitted][5]]
                if len(qd) < q["trans_q"] and len(same) < q["bank_q"]:
                    admitted += 1
                else:
                    break
            if all(issued):
                break
            low = issued.index(False)
            heads = {}
            for t in range(admitted):
                if not issued[t] and (txs[t][5], txs[t][1]) not in heads:
                    heads[(txs[t][5], txs[t][1])] = t
            col_c, row_c = [], []                  # (oldest key, action)
            for r in range(R):
                if now >= ref_due[r]:
                    opn = [b for (rr, b) in openrow if rr == r]
                    for b in opn:
                        if now >= get("pre", r, b):
                            row_c.append((-1, ("PRE", r, b)))
                    if not opn and all(now >= get("act", r, b) for b in range(B)):
                        row_c.append((-2, ("REF", r, 0)))
                    continue
                for b in range(B):
                    t = heads.get((r, b))
                    if t is None or ep[t] != ep[low]:
                        continue
                    w, _, row, col, _, _ = txs[t]
                    g = b // bpg
                    if (r, b) in openrow and openrow[(r, b)] == row:
                        if now >= get("wr" if w else "rd", r, b) and now >= get("wrg" if w else "rdg", r, g):
                            col_c.append((t, ("WR" if w else "RD", r, b)))
                    elif (r, b) in openrow:
                        if now >= get("pre", r, b):
                            row_c.append((t, ("PRE", r, b)))
                    elif not (mode[r] and b >= 2):
                        ok = now >= get("act", r, b) and now >= get("actg", r, g)
                        if faw and len(acts[r]) >= q["faw"] and now < acts[r][-q["faw"]] + q["tfaw"]:
                            ok = False
                        if ok:
                            row_c.append((t, ("ACT", r, b)))
            if bus == "col" and col_c:
                t, (kind, r, b) = min(col_c)
                g = b // bpg
                issued[t] = True
                out.append((now, WR if kind == "WR" else RD, b, txs[t][2]))
                if kind == "WR":
                    bump("pre", r, b, now + wl + bl2 + q["twr"])
                else:
                    bump("pre", r, b, now + q["trtp"])
                for rr in range(R):
                    for gg in range(B // bpg):
                        if rr != r:
                            bump("rdg", rr, gg, now + (bl2 + q["trtrs"] if kind == "RD" else
                                                       max(wl + bl2 + q["trtrs"] - rl, 0)))
                            bump("wrg", rr, gg, now + (rl + bl2 + q["trtrs"] - wl if kind == "RD" else bl2 + q["trtrs"]))
                        elif kind == "RD":
                            bump("rdg", rr, gg, now + ccd[gg == g])
                            bump("wrg", rr, gg, now + rl + bl2 + q["trtrs"] - wl)
                        else:
                            bump("wrg", rr, gg, now + ccd[gg == g])
                            bump("rdg", rr, gg, now + wtr[gg == g])
            if bus == "row" and row_c:
                t, (kind, r, b) = min(row_c)
                if kind == "REF":
                    out.append((now, REF, 0, 0))
                    for bb in range(B):
                        bump("act", r, bb, now + q["trfc"])
                    ref_due[r] += q["trefi"]
                elif kind == "PRE":
                    row = openrow.pop((r, b))
                    out.append((now, PRE, b, row))
                    bump("act", r, b, now + q["trp"])
                    if mode[r] and row == 0x1FFF and b < 2:
                        sbm[r].add(b)
                        if sbm[r] == {0, 1}:
                            mode[r], sbm[r] = 0, set()
                else:
                    row, col = txs[t][2], txs[t][3]
                    openrow[(r, b)] = row
                    out.append((now, ACT, b, row))
                    g = b // bpg
                    bump("act", r, b, now + q["trc"])
                    bump("pre", r, b, now + q["tras"])
                    ready[("rd", r, b)] = now + q["trcdrd"]
                    ready[("wr", r, b)] = now + q["trcdwr"]
                    for gg in range(B // bpg):
                        bump("actg", r, gg, now + (q["trrdl"] if gg == g else q["trrds"]))
                    acts[r].append(now)
                    if not mode[r] and row == 0x17FF and col == 0x1F and b in (0, 1, 8, 9):
                        abm[r].add(b)
                        if abm[r] == {0, 1, 8, 9}:
                            mode[r], abm[r] = 1, set()
        now += 1
        assert now < 10 ** 6
    return out


@pytest.mark.parametrize("seed,ranks,faw", [(0, 1, True), (1, 2, False), (2, 1, False)])
def test_event_driven_equals_cycle_by_cycle(seed, ranks, faw):
    rng = np.random.default_rng(seed)
    n = 250
    txs = [(int(rng.integers(2)), int(rng.choice([0, 1, 4, 5, 8, 12, 15])), int(rng.integers(3)),
            int(rng.integers(32)), int(rng.random() < 0.08), int(rng.integers(ranks))) for _ in range(n)]
    c = cfg(RANKS=ranks, tREFI=700, tRFC=90, TRANS_QUEUE_DEPTH=24, BANK_QUEUE_DEPTH=5)
    got = run(txs, c, faw)[2]
    assert got == _stepping_model(txs, c, faw)


def test_bank_queue_depth_blocks_admission_in_order():
    # bank queue depth 1: the second request to bank 0 waits for the first one's RD (14) to enter, and
    # the read of bank 4 behind it enters with it: ACT b4 at 14 (not 4), RD at 14 + tRCD = 28
    txs = [(0, 0, 0, 0), (0, 0, 1, 0), (0, 4, 0, 0)]
    assert times(run(txs, cfg(BANK_QUEUE_DEPTH=1))[2], ACT, 4) == [14]
    assert times(run(txs, cfg(BANK_QUEUE_DEPTH=1))[2], RD, 4) == [28]
    assert times(run(txs)[2], ACT, 4) == [4]
    # the transaction window (trans_queue) does the same across banks: depth 2 -> b4 enters at 14 too
    assert times(run(txs, cfg(TRANS_QUEUE_DEPTH=2))[2], ACT, 4) == [14]


def test_row_layout_keys_are_refused_where_the_kernels_do_not_follow_them():
    """dram.rows and dram.bursts_per_row: the HBM-PIM address map and the kernels' layouts are built for
    16384 x 32 bursts, so another value is refused at load (it used to be accepted and ignored)."""
    from hwsim.design import DesignError, loads

    base = (Path(__file__).resolve().parents[1] / "designs/pim/hbm_pim_1pch.yaml").read_text()
    for key, value in (("rows", 1), ("bursts_per_row", 64)):
        text = base.replace("dram: {pseudo_channels: 1}", f"dram: {{pseudo_channels: 1, {key}: {value}}}")
        assert text != base
        with pytest.raises(DesignError, match=f"dram.{key} = {value}"):
            loads(text)
