"""The HBM-PIM block's functional model: 8 blocks per pseudo-channel, 16 FP16 lanes, GRF_A/GRF_B, SRF,
a 32-entry CRF, driven by the DRAM column commands the engine issues.

ISA (PIMSimulator b464dde ``PIMCmd``; accelerators.md A.1): opcode [31:28] NOP=0 ADD=1 MUL=2 MAC=3
MAD=4 MOV=8 FILL=9 JUMP=14 EXIT=15; dst [27:25], src0 [24:22], src1 [21:19], src2 [18:16] (MAD), AUTO
[15], ReLU [12] (MOV/FILL), dst idx [11:8], src0 idx [7:4], src1 idx [3:0]; JUMP: count [27:11],
offset [10:0]; NOP: repeat [10:0]. Operand codes: A_OUT=0 M_OUT=1 EVEN_BANK=2 ODD_BANK=3 GRF_A=4
GRF_B=5 SRF_M=6 SRF_A=7.

Sequencing (``PIMRank::doPIM``), one triggering column command at a time: an AUTO or FILL instruction
runs 8 times before the PC moves on, NOP k swallows k+1 commands, JUMP is taken in zero time (the same
command then runs the jump target), EXIT stops triggering. In AUTO mode the GRF index comes from the
command's address: GRF_B/GRF_A[col & 7], and for MAC's GRF_A ((row & 1) << 2 | (col >> 3) & 3).

Native kernels (``native=True``) differ from PIMSimulator's host code in three places, where the
published code would compute wrong results (cycles are unaffected in kind, slightly in amount):
the even/odd weight column bases of output tile j are ``j * ceil(tiles/2)`` / ``j * floor(tiles/2)``
(PIMSimulator reads ``(j * tiles) // 2`` for both, which aliases tiles when ``tiles`` is odd); the
result columns are ``(j * batch + b) * 8`` (PIMSimulator: ``(j + b) * 8``, which collides); a GEMV with one
input tile gets no odd-bank MAC in its CRF program; element-wise kernels run ``ceil`` units (zero padded)
instead of PIMSimulator's ``floor``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import compat as C
from . import engine, hbm2
from . import fp16 as F

NOP, ADD, MUL, MAC, MAD, MOV, FILL, JUMP, EXIT = 0, 1, 2, 3, 4, 8, 9, 14, 15
A_OUT, M_OUT, EVEN_BANK, ODD_BANK, GRF_A, GRF_B, SRF_M, SRF_A = range(8)


def enc(op: int, dst: int = 0, src0: int = 0, src1: int = 0, src2: int = 0, auto: int = 0, relu: int = 0,
        dst_idx: int = 0, src0_idx: int = 0, src1_idx: int = 0, count: int = 0, offset: int = 0) -> int:
    """One CRF instruction word."""
    w = (op & 0xF) << 28
    if op == NOP:
        return w | (count & 0x7FF)
    if op == JUMP:
        return w | ((count & 0x1FFFF) << 11) | (offset & 0x7FF)
    if op == EXIT:
        return w
    w |= ((dst & 7) << 25) | ((src0 & 7) << 22) | ((dst_idx & 0xF) << 8) | ((src0_idx & 0xF) << 4) | (src1_idx & 0xF)
    if op in (MOV, FILL):
        return w | ((relu & 1) << 12)
    w |= ((src1 & 7) << 19) | ((auto & 1) << 15)
    if op == MAD:
        w |= (src2 & 7) << 16
    return w


def control_burst(pim_op: bool, toggle: int = 0, grf_a_zero: bool = False, grf_b_zero: bool = False,
                  use_all_grf: bool = False) -> np.ndarray:
    """The AB-PIM control burst (``PIMKernel::setCrf``): bytes 0, 10, 16, 20, 21."""
    b = np.zeros(32, np.uint8)
    b[0], b[10], b[16], b[20], b[21] = int(pim_op), int(use_all_grf), toggle, int(grf_a_zero), int(grf_b_zero)
    return b.view(np.uint16).copy()


def gemv_program(in_tiles: int, native: bool = True) -> np.ndarray:
    n_even = 8 * math.ceil(in_tiles / 2) - 1
    n_odd = 8 * (in_tiles // 2) - 1
    prog = [enc(MAC, GRF_B, GRF_A, EVEN_BANK, auto=1), enc(JUMP, count=n_even, offset=2)]
    if not native or in_tiles > 1:
        prog += [enc(MAC, GRF_B, GRF_A, ODD_BANK, auto=1), enc(JUMP, count=n_odd, offset=2)]
    prog += [enc(NOP, count=7), enc(EXIT)]
    return np.array(prog, np.uint32)


def eltwise_program(op: str, units: int) -> np.ndarray:
    if op == "relu":
        prog = [enc(FILL, GRF_A, EVEN_BANK, relu=1), enc(NOP, count=7),
                enc(FILL, GRF_B, ODD_BANK, relu=1), enc(NOP, count=7)]
    else:
        code = ADD if op == "add" else MUL
        prog = [enc(FILL, GRF_A, EVEN_BANK), enc(code, GRF_A, GRF_A, EVEN_BANK, auto=1), enc(NOP, count=7),
                enc(FILL, GRF_B, ODD_BANK), enc(code, GRF_B, GRF_B, ODD_BANK, auto=1), enc(NOP, count=7)]
    if units - 1 != 0:
        prog.append(enc(JUMP, count=units - 1, offset=len(prog) + 1))
    prog.append(enc(EXIT))
    return np.array(prog, np.uint32)


# ---- kernels with data ---------------------------------------------------------------------------------
def gemv_stream(x_tiles: np.ndarray, out_tiles: int, in_tiles: int, batch: int, native: bool = True):
    """One channel's GEMV stream with its host data. ``x_tiles[b, i, g]``: the 16-lane burst g of input
    tile i of batch b (uint16 codes). Returns (stream, result columns per (j, b))."""
    s = C._Stream()
    C._park(s)
    C._sb_to_hab(s)
    prog = gemv_program(in_tiles, native)
    C._program_crf(s, prog.size, prog)
    ctrl_on = control_burst(True, 0, grf_b_zero=True)
    ctrl_off = np.zeros(16, np.uint16)
    n_even, n_odd = math.ceil(in_tiles / 2), in_tiles // 2
    res_cols = {}
    for j in range(out_tiles):
        for b in range(batch):
            C._pim_mode_switch(s, ctrl_on)
            if native:
                col_res = 64 * out_tiles * n_odd + (j * batch + b) * 8
            else:
                col_res = (out_tiles * in_tiles // 2) * 64 + (j + b) * 8
            res_cols[(j, b)] = col_res
            for parity in (0, 1):
                for i in range(parity, in_tiles, 2):
                    s.add(True, 0, 1, 0x3FFF, 0x8, n=8, barrier=True, data=x_tiles[b, i])
                    if native:
                        col = 64 * (i // 2 + j * (n_even if parity == 0 else n_odd))
                    else:
                        col = 64 * (i // 2 + (j * in_tiles) // 2)
                    for c in range(0, 64, 8):
                        s.add(False, 0, parity, 0, col + c, n=8, barrier=True)
            s.add(True, 0, 1, 0, col_res, n=8, barrier=True)
            C._pim_mode_switch(s, ctrl_off)
    C._hab_to_sb(s)
    C._park(s)
    return s, res_cols


def eltwise_stream(op: str, units: int):
    s = C._Stream()
    C._park(s)
    C._sb_to_hab(s)
    prog = eltwise_program(op, units)
    C._program_crf(s, prog.size, prog)
    C._pim_mode_switch(s, control_burst(True, 0))
    C._eltwise_columns(s, op, units)
    C._pim_mode_switch(s, control_burst(False, 0))
    C._hab_to_sb(s)
    C._park(s)
    return s


# ---- the executor --------------------------------------------------------------------------------------
@njit(cache=True)
def _read_opd(banks, grf_a, grf_b, srf, mout, aout, pb, typ, idx, row, col, auto, is_mac, out):
    idx = idx & 7
    if typ == A_OUT:
        out[:] = aout[pb]
    elif typ == M_OUT:
        out[:] = mout[pb]
    elif typ == EVEN_BANK:
        out[:] = banks[pb * 2, row, col]
    elif typ == ODD_BANK:
        out[:] = banks[pb * 2 + 1, row, col]
    elif typ == GRF_A:
        if auto:
            g = (((row & 1) << 2) | ((col >> 3) & 3)) if is_mac else (col & 7)
            out[:] = grf_a[pb, g]
        else:
            out[:] = grf_a[pb, idx]
    elif typ == GRF_B:
        out[:] = grf_b[pb, (col & 7) if auto else idx]
    elif typ == SRF_M:
        out[:] = srf[pb, idx]
    else:
        out[:] = srf[pb, idx + 8]


@njit(cache=True)
def _write_opd(banks, grf_a, grf_b, srf, mout, aout, pb, typ, idx, row, col, auto, is_mac, val):
    idx = idx & 7
    if typ == A_OUT:
        aout[pb] = val
    elif typ == M_OUT:
        mout[pb] = val
    elif typ == EVEN_BANK:
        banks[pb * 2, row, col] = val
    elif typ == ODD_BANK:
        banks[pb * 2 + 1, row, col] = val
    elif typ == GRF_A:
        if auto:
            g = (((row & 1) << 2) | ((col >> 3) & 3)) if is_mac else (col & 7)
            grf_a[pb, g] = val
        else:
            grf_a[pb, idx] = val
    elif typ == GRF_B:
        grf_b[pb, (col & 7) if auto else idx] = val
    else:
        srf[pb] = val


@njit(cache=True)
def execute(trace, tr_index, wdata, banks, n_blocks):
    """Run the PIM blocks of one pseudo-channel over the engine's command trace.

    ``trace`` rows: (cycle, type, rank, bank, row, col) in issue order; ``tr_index[i]``: the transaction
    of trace row i (RD/WR) or -1; ``wdata[t]``: the host's write burst of transaction t; ``banks``
    [banks, rows, cols, 16] uint16 (rank 0), updated in place. Returns (read data per transaction,
    counters [pim ops, lane ops])."""
    n_tr = wdata.shape[0]
    rdata = np.zeros((n_tr, 16), np.uint16)
    grf_a = np.zeros((n_blocks, 8, 16), np.uint16)
    grf_b = np.zeros((n_blocks, 8, 16), np.uint16)
    srf = np.zeros((n_blocks, 16), np.uint16)
    mout = np.zeros((n_blocks, 16), np.uint16)
    aout = np.zeros((n_blocks, 16), np.uint16)
    crf = np.zeros(32, np.uint32)
    mode = 0                                   # 0 SB, 1 AB, 2 AB-PIM
    abmr = np.zeros(4, np.uint8)
    sbmr = np.zeros(2, np.uint8)
    pim_op = False
    tog_even = False
    tog_odd = False
    tog_ra12 = False
    pc = 0
    last_jump = -1
    n_jump = -1
    last_rep = -1
    n_rep = -1
    crf_exit = False
    s0 = np.zeros(16, np.uint16)
    s1 = np.zeros(16, np.uint16)
    s2 = np.zeros(16, np.uint16)
    dv = np.zeros(16, np.uint16)
    counters = np.zeros(2, np.int64)
    n_rows = banks.shape[1]
    for i in range(trace.shape[0]):
        typ = trace[i, 1]
        bank = trace[i, 3]
        row = trace[i, 4]
        col = trace[i, 5]
        if typ == engine.C_ACT:
            if mode == 0 and row == 0x17FF and col == 0x1F:
                if bank == 0:
                    abmr[0] = 1
                elif bank == 1:
                    abmr[1] = 1
                elif bank == 8:
                    abmr[2] = 1
                elif bank == 9:
                    abmr[3] = 1
                if abmr[0] and abmr[1] and abmr[2] and abmr[3]:
                    abmr[:] = 0
                    mode = 1
            continue
        if typ == engine.C_PRE:
            if mode == 1 and row == 0x1FFF:
                if bank == 0:
                    sbmr[0] = 1
                elif bank == 1:
                    sbmr[1] = 1
                if sbmr[0] and sbmr[1]:
                    sbmr[:] = 0
                    mode = 0
            continue
        if typ != engine.C_RD and typ != engine.C_WR:
            continue
        t = tr_index[i]
        is_wr = typ == engine.C_WR
        stored = row < n_rows and (row & 0x1000) == 0
        if mode == 0:
            if is_wr:
                if stored:
                    banks[bank, row, col] = wdata[t]
            else:
                if row == 0x3FFF and 0x08 <= col <= 0x0F:
                    rdata[t] = grf_a[bank // 2, col - 8]
                elif row == 0x3FFF and 0x18 <= col <= 0x1F:
                    rdata[t] = grf_b[bank // 2, col - 0x18]
                elif stored:
                    rdata[t] = banks[bank, row, col]
            continue
        toggle = False
        if mode == 2 and pim_op and not crf_exit:
            if tog_ra12 or (row & 0x1000) == 0:
                toggle = (tog_even and (bank & 1) == 0) or (tog_odd and (bank & 1) == 1)
        if not toggle:
            if is_wr:
                if row == 0x3FFF:
                    d = wdata[t]
                    if col == 0:
                        by = d.view(np.uint8)
                        if by[20]:
                            grf_a[:] = 0
                        if by[21]:
                            grf_b[:] = 0
                        pim_op = (by[0] & 1) == 1
                        tog_even = (by[16] & 1) == 0
                        tog_odd = (by[16] & 2) == 0
                        tog_ra12 = (by[16] & 4) != 0
                        if pim_op:
                            mode = 2
                            pc = 0
                            last_jump = -1
                            n_jump = -1
                            last_rep = -1
                            n_rep = -1
                            crf_exit = False
                        else:
                            mode = 1
                    elif 0x08 <= col <= 0x0F:
                        for pb in range(n_blocks):
                            grf_a[pb, col - 8] = d
                    elif 0x18 <= col <= 0x1F:
                        for pb in range(n_blocks):
                            grf_b[pb, col - 0x18] = d
                    elif 0x04 <= col <= 0x07:
                        words = d.view(np.uint32)
                        for k in range(8):
                            crf[(col - 4) * 8 + k] = words[k]
                    elif col == 1:
                        for pb in range(n_blocks):
                            srf[pb] = d
                elif stored:
                    g = col & 7
                    for pb in range(n_blocks):
                        if bank == 0:
                            banks[pb * 2, row, col] = grf_a[pb, g]
                        elif bank == 1:
                            banks[pb * 2 + 1, row, col] = grf_b[pb, g]
            else:
                if stored:
                    g = col & 7
                    for pb in range(n_blocks):
                        grf_b[pb, g] = banks[pb * 2 + bank, row, col]
            continue
        # ---- doPIM
        row = row & 0xFFF
        while True:
            w = crf[pc]
            op = (w >> 28) & 0xF
            if op == EXIT:
                crf_exit = True
                break
            if op == JUMP:
                count = (w >> 11) & 0x1FFFF
                if last_jump != pc:
                    if count > 0:
                        last_jump = pc
                        n_jump = count
                if n_jump > 0:
                    pc -= w & 0x7FF
                    n_jump -= 1
            else:
                auto = (w >> 15) & 1
                if op == FILL or (auto == 1 and op != MOV):
                    if last_rep != pc:
                        last_rep = pc
                        n_rep = 7
                    if n_rep > 0:
                        pc -= 1
                        n_rep -= 1
                    else:
                        last_rep = -1
                elif op == NOP:
                    if last_rep != pc:
                        last_rep = pc
                        n_rep = w & 0x7FF
                    if n_rep > 0:
                        pc -= 1
                        n_rep -= 1
                    else:
                        last_rep = -1
                dst = (w >> 25) & 7
                src0 = (w >> 22) & 7
                src1 = (w >> 19) & 7
                src2 = (w >> 16) & 7
                di = (w >> 8) & 0xF
                i0 = (w >> 4) & 0xF
                i1 = w & 0xF
                counters[0] += 1
                for pb in range(n_blocks):
                    if op == FILL or op == MOV:
                        fill = op == FILL
                        _read_opd(banks, grf_a, grf_b, srf, mout, aout, pb, src0, i0, row, col, fill, False, s0)
                        if (w >> 12) & 1:
                            for l in range(16):
                                if s0[l] & 0x8000:
                                    s0[l] = 0
                        _write_opd(banks, grf_a, grf_b, srf, mout, aout, pb, dst, di, row, col, fill, False, s0.copy())
                    elif op == ADD or op == MUL:
                        _read_opd(banks, grf_a, grf_b, srf, mout, aout, pb, src0, i0, row, col, auto, False, s0)
                        _read_opd(banks, grf_a, grf_b, srf, mout, aout, pb, src1, i1, row, col, auto, False, s1)
                        for l in range(16):
                            dv[l] = F.add(s0[l], s1[l]) if op == ADD else F.mul(s0[l], s1[l])
                        counters[1] += 16
                        _write_opd(banks, grf_a, grf_b, srf, mout, aout, pb, dst, di, row, col, auto, False, dv.copy())
                    elif op == MAC or op == MAD:
                        is_mac = op == MAC
                        _read_opd(banks, grf_a, grf_b, srf, mout, aout, pb, src0, i0, row, col, auto, is_mac, s0)
                        _read_opd(banks, grf_a, grf_b, srf, mout, aout, pb, src1, i1, row, col, auto, is_mac, s1)
                        if is_mac:
                            _read_opd(banks, grf_a, grf_b, srf, mout, aout, pb, dst, di, row, col, auto, is_mac, s2)
                        else:
                            _read_opd(banks, grf_a, grf_b, srf, mout, aout, pb, src2, i1, row, col, auto, is_mac, s2)
                        for l in range(16):
                            dv[l] = F.add(F.mul(s0[l], s1[l]), s2[l])
                        counters[1] += 16
                        _write_opd(banks, grf_a, grf_b, srf, mout, aout, pb, dst, di, row, col, auto, is_mac, dv.copy())
                    elif op == NOP and is_wr:
                        g = col & 7
                        if bank == 0:
                            banks[pb * 2, row, col] = grf_a[pb, g]
                        elif bank == 1:
                            banks[pb * 2 + 1, row, col] = grf_b[pb, g]
            pc += 1
            if ((crf[pc] >> 28) & 0xF) == EXIT:
                crf_exit = True
            if op != JUMP:
                break
    return rdata, counters


def trace_of(stream, cfg: dict, faw: bool):
    """Run the engine over one channel's stream; returns (cycles, stats, trace, transaction index)."""
    arrays = stream.arrays()
    w, b, row, col = arrays[0], arrays[2], arrays[3], arrays[4]
    cycles, st, tr = hbm2.run_stream(arrays, cfg, faw, 4 * w.size + 4096)
    # map every issued column command to its transaction: the controller may reorder commands to
    # different banks (within a barrier group), never two to the same bank (FCFS per bank)
    col_rows = np.nonzero((tr[:, 1] == engine.C_RD) | (tr[:, 1] == engine.C_WR))[0]
    if col_rows.size != w.size:
        raise RuntimeError(f"engine issued {col_rows.size} column commands for {w.size} transactions")
    from collections import defaultdict, deque
    fifo: dict[tuple, deque] = defaultdict(deque)
    for t in range(w.size):
        fifo[(int(w[t]), int(b[t]), int(row[t]), int(col[t]))].append(t)
    idx = np.full(tr.shape[0], -1, np.int64)
    for i in col_rows:
        q = fifo[(int(tr[i, 1] == engine.C_WR), int(tr[i, 3]), int(tr[i, 4]), int(tr[i, 5]))]
        idx[i] = q.popleft()
    return cycles, st, tr, idx


# ---- GEMV and element-wise on all channels ------------------------------------------------------------
def tree16(p: np.ndarray) -> np.ndarray:
    """PIMSimulator's ``fp16AdderTree`` over the last axis (16 lanes): pairwise, 4 levels, numpy FP16."""
    s = p.view(np.float16)
    with np.errstate(all="ignore"):
        while s.shape[-1] > 1:
            s = s[..., 0::2] + s[..., 1::2]
    return s[..., 0].view(np.uint16)


def gemv_reference(w: np.ndarray, x: np.ndarray, in_tiles: int) -> np.ndarray:
    """numpy FP16 y = W x in the PIM's operation order: per output row and lane l, acc = 0 (+0.0); for
    input tiles even first (0, 2, ...) then odd, bursts g = 0..7: acc = fp16(fp16(x*w) + acc); then the
    host's 16 -> 1 pairwise tree. ``w`` [N, K], ``x`` [B, K] float16; returns [B, N] uint16 codes."""
    n, k = w.shape
    kp = in_tiles * 128
    wp = np.zeros((n, kp), np.float16)
    wp[:, :k] = w
    xp = np.zeros((x.shape[0], kp), np.float16)
    xp[:, :k] = x
    order = list(range(0, in_tiles, 2)) + list(range(1, in_tiles, 2))
    acc = np.zeros((x.shape[0], n, 16), np.float16)
    with np.errstate(all="ignore"):
        for i in order:
            for g in range(8):
                lo = i * 128 + g * 16
                prod = xp[:, None, lo:lo + 16] * wp[None, :, lo:lo + 16]
                acc = prod + acc
    return tree16(F.canon(acc.view(np.uint16)))


def run_gemv(w: np.ndarray, x: np.ndarray, channels: int, cfg: dict, faw: bool, native: bool = True,
             blocks: int = 8) -> dict:
    """GEMV on every channel's PIM blocks. Returns dict(y [B, N] codes, cycles, lane_partials)."""
    n, k = w.shape
    batch = x.shape[0]
    t = C.gemv_tiling(n, k, batch, channels, blocks)
    kp = t.in_tiles * 128
    rows_per_tile = 8 * blocks * channels
    npad = t.out_tiles * rows_per_tile
    wp = np.zeros((npad, kp), np.uint16)
    wp[:n, :k] = w.view(np.uint16)
    xp = np.zeros((batch, kp), np.uint16)
    xp[:, :k] = x.view(np.uint16)
    x_tiles = xp.reshape(batch, t.in_tiles, 8, 16)
    s, res_cols = gemv_stream(x_tiles, t.out_tiles, t.in_tiles, batch, native)
    cycles, stats, tr, idx = trace_of(s, cfg, faw)
    n_even, n_odd = math.ceil(t.in_tiles / 2), t.in_tiles // 2
    max_col = max(64 * t.out_tiles * max(n_even, 1), max(res_cols.values()) + 8)
    n_rows = max_col // 32 + 2
    partial = np.zeros((batch, npad, 16), np.uint16)
    wsum = s.wdata()
    for ch in range(channels):
        banks = np.zeros((2 * blocks, n_rows, 32, 16), np.uint16)
        for j in range(t.out_tiles):
            for i in range(t.in_tiles):
                par = i % 2
                base = 64 * (i // 2 + j * (n_even if par == 0 else n_odd)) if native \
                    else 64 * (i // 2 + (j * t.in_tiles) // 2)
                for pb in range(blocks):
                    r0 = j * rows_per_tile + ch * 8 * blocks + pb * 8
                    # column c: weight row r0 + c % 8, input burst c // 8 of tile i
                    blk = wp[r0:r0 + 8, i * 128:(i + 1) * 128].reshape(8, 8, 16)   # [row, burst, lane]
                    cols = base + np.arange(64)
                    banks[pb * 2 + par, cols // 32, cols % 32] = blk.transpose(1, 0, 2).reshape(64, 16)
        execute(tr, idx, wsum, banks, blocks)
        for (j, b), cr in res_cols.items():
            for pb in range(blocks):
                r0 = j * rows_per_tile + ch * 8 * blocks + pb * 8
                cols = cr + np.arange(8)
                partial[b, r0:r0 + 8] = banks[pb * 2 + 1, cols // 32, cols % 32]
    y = tree16(partial)[:, :n]
    return {"y": y, "partials": partial[:, :n], "cycles": cycles, "stats": stats}


def eltwise_layout(e: int, batch: int, channels: int, blocks: int = 8):
    per_unit = 2 * blocks * 8 * 16 * channels
    units = math.ceil(e * batch / per_unit)
    return units, per_unit


def run_eltwise(op: str, a: np.ndarray, b: np.ndarray | None, channels: int, cfg: dict, faw: bool,
                blocks: int = 8) -> dict:
    """add / mul / relu of flat FP16 vectors on every channel. Element e -> burst q = e // 16, lane e % 16;
    q = ((unit * channels + ch) * banks + bank) * 8 + burst."""
    n = a.size
    units, per_unit = eltwise_layout(n, 1, channels, blocks)
    tot = units * per_unit
    nb = 2 * blocks
    ap = np.zeros(tot, np.uint16)
    ap[:n] = a.view(np.uint16).ravel()
    bp = np.zeros(tot, np.uint16)
    if b is not None:
        bp[:n] = b.view(np.uint16).ravel()
    s = eltwise_stream(op, units)
    cycles, stats, tr, idx = trace_of(s, cfg, faw)
    n_rows = 256 + (8 * units) // 32 + 2
    out = np.zeros(tot, np.uint16)
    A = ap.reshape(units, channels, nb, 8, 16)
    B = bp.reshape(units, channels, nb, 8, 16)
    O = out.reshape(units, channels, nb, 8, 16)
    cols = (8 * np.arange(units)[:, None] + np.arange(8)[None, :])      # [unit, burst]
    wsum = s.wdata()
    for ch in range(channels):
        banks = np.zeros((nb, n_rows, 32, 16), np.uint16)
        for bk in range(nb):
            banks[bk, cols // 32, cols % 32] = A[:, ch, bk]
            banks[bk, 128 + cols // 32, cols % 32] = B[:, ch, bk]
        execute(tr, idx, wsum, banks, blocks)
        for bk in range(nb):
            O[:, ch, bk] = banks[bk, 256 + cols // 32, cols % 32]
    return {"y": out[:n], "cycles": cycles, "stats": stats}


def eltwise_reference(op: str, a: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    with np.errstate(all="ignore"):
        if op == "add":
            r = (a.astype(np.float16) + b.astype(np.float16)).view(np.uint16)
        elif op == "mul":
            r = (a.astype(np.float16) * b.astype(np.float16)).view(np.uint16)
        else:
            c = a.view(np.uint16)
            return np.where(c & 0x8000, np.uint16(0), c).astype(np.uint16)
    return F.canon(r)


def random_fp16(rng: np.random.Generator, shape, scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float16)


def run_functional(kernel, channels: int, seed: int, cfg: dict | None = None, faw: bool = False) -> dict:
    """Seeded data through the PIM blocks vs the numpy FP16 reference: bit_exact computed here.
    Also returns the native kernel's cycles and engine stats (the same command stream)."""
    cfg = cfg or C.config(True)
    rng = np.random.default_rng(seed)
    if kernel.op == "gemv":
        w = random_fp16(rng, (kernel.n, kernel.k), 0.25)
        x = random_fp16(rng, (kernel.batch, kernel.k))
        res = run_gemv(w, x, channels, cfg, faw)
        t = C.gemv_tiling(kernel.n, kernel.k, kernel.batch, channels)
        ref = gemv_reference(w, x, t.in_tiles)
    else:
        e = kernel.n * kernel.batch
        a = random_fp16(rng, e)
        b = random_fp16(rng, e) if kernel.op != "relu" else None
        res = run_eltwise(kernel.op, a, b, channels, cfg, faw)
        ref = eltwise_reference(kernel.op, a, b)
    got = res["y"]
    return {"bit_exact": bool(np.array_equal(got, ref)), "outputs": int(got.size),
            "mismatches": int(np.count_nonzero(got != ref)), "cycles": res["cycles"], "stats": res["stats"]}


def native_cycles(kernel, channels: int, cfg: dict, faw: bool, blocks: int = 8, dram: str = "hbm2"):
    """Cycles and stats of the native kernel stream (no data) on the native HBM2 engine (``dram =
    "hbm2"``) or on the DRAMSim2 engine of compat mode (``"dramsim2"``: to compare streams)."""
    if kernel.op == "gemv":
        t = C.gemv_tiling(kernel.n, kernel.k, kernel.batch, channels, blocks)
        x_tiles = np.zeros((kernel.batch, t.in_tiles, 8, 16), np.uint16)
        s, _ = gemv_stream(x_tiles, t.out_tiles, t.in_tiles, kernel.batch, True)
    else:
        units, _ = eltwise_layout(kernel.n, kernel.batch, channels, blocks)
        s = eltwise_stream(kernel.op, units)
    if dram == "hbm2":
        return hbm2.run_stream(s.arrays(), cfg, faw)[:2]
    w, r, b, row, col, bar = s.arrays()
    fin, st, _, _ = engine.run_channel(w, r, b, row, col, bar, np.array([0, w.size], np.int64),
                                       np.array([0], np.int64), C.params(cfg, faw), 1 << 40)
    return engine.cycles_of(fin, 0), st
