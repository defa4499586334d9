"""``--compat pimsimulator``: PIM and non-PIM cycles as SAITPublic/PIMSimulator @ b464dde reports them.

PIMSimulator's ``PIMBenchFixture`` measures two things per kernel on a fresh 64-pseudo-channel HBM2
memory system each (DRAMSim2 controllers, ``ini/HBM2_samsung_2M_16B_x64.ini``, two 256 MB ranks per
pseudo-channel):

* **PIM**: ``PIMKernel::executeGemv`` / ``executeEltwise`` queue the kernel's whole transaction stream
  (park-in, SB->AB, CRF programming, per tile the GRF_A broadcast and the all-bank MAC reads, results
  GRF_B->bank, AB->SB, park-out; barriers between groups) into every PIM channel, then
  ``runPIM`` counts memory-system updates until nothing is pending. The weight preload is not part of it.
* **non-PIM**: ``genMemTraffic`` streams the operands as 32 B reads from address 0 upward (all channels,
  Scheme8 address mapping), runs to completion, then streams the result as writes and runs again.

Here those transaction streams are generated exactly as the fixture generates them (same addresses,
same order, same barriers) and fed to :func:`hwsim.pim.engine.run_channel`, which re-implements the
DRAMSim2 controller cycle by cycle. Every PIM channel receives an identical stream, so one channel is
simulated; for non-PIM the channels are grouped by identical streams, each group simulated once, and the
two phases synchronised on the slowest channel as the fixture's two ``run`` loops do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import engine

# ini/HBM2_samsung_2M_16B_x64.ini + system_hbm_64ch.ini of PIMSimulator b464dde
HBM2_SAMSUNG = dict(BL=4, RL=20, WL=8, AL=0, tCCDS=2, tCCDL=4, tRCDRD=14, tRCDWR=10, tRAS=33, tRRDS=4,
                    tRRDL=6, tRC=47, tRP=14, tRTPS=4, tRTPL=5, tWR=16, tWTRS=4, tWTRL=9, tRTRS=1,
                    tREFI=3900, tRFC=350, tCMD=1, XAW=4, tXAW=16, NUM_BANKS=16, NUM_BANK_GROUPS=4,
                    NUM_COLS=128, NUM_ROWS=16384, NUM_PIM_BLOCKS=8, TRANS_QUEUE_DEPTH=64,
                    CMD_QUEUE_DEPTH=64, RANKS=2)
NO_REFRESH_TREFI = 1_000_000_000
COMMIT = "b464dde014a5b137a510e53e95cfa9c706e77fee"


def params(cfg: dict, faw: bool = False) -> np.ndarray:
    """The engine's parameter vector from DRAMSim2-style ini values (DRAMSim2's derived delays)."""
    c = cfg
    bl2 = c["BL"] // 2
    vals = dict(
        bl2=bl2, rl=c["RL"], wl=c["WL"], al=c["AL"], tccds=c["tCCDS"], tccdl=c["tCCDL"],
        trcdrd=c["tRCDRD"], trcdwr=c["tRCDWR"], tras=c["tRAS"], trrds=c["tRRDS"], trrdl=c["tRRDL"],
        trc=c["tRC"], trp=c["tRP"],
        rd_to_pre=c["AL"] + bl2 + max(c["tRTPL"], c["tCCDL"]) - c["tCCDL"],
        wr_to_pre=c["WL"] + bl2 + c["tWR"],
        rd_to_wr=c["RL"] + bl2 + c["tRTRS"] - c["WL"],
        wr_to_rd_long=c["WL"] + bl2 + c["tWTRL"],
        wr_to_rd_rank=max(c["WL"] + bl2 + c["tRTRS"] - c["RL"], 0),
        trtrs=c["tRTRS"], trefi=c["tREFI"], trfc=c["tRFC"], tcmd=c["tCMD"], ranks=c["RANKS"],
        banks=c["NUM_BANKS"], banks_per_bg=c["NUM_BANKS"] // c["NUM_BANK_GROUPS"],
        trans_q=c["TRANS_QUEUE_DEPTH"], cmd_q=c["CMD_QUEUE_DEPTH"],
        faw=c["XAW"] if faw else 0, tfaw=c["tXAW"], refresh_offset_div=c["RANKS"])
    return np.array([vals[n] for n in engine.P_NAMES], np.int64)


class _Stream:
    """One channel's transaction stream as PIMKernel builds it (rank, bank id = bg*4 + bank)."""

    def __init__(self, cols_per_row: int = 32):
        self.w: list[int] = []
        self.bank: list[int] = []
        self.row: list[int] = []
        self.col: list[int] = []
        self.bar: list[int] = []
        self.data: dict[int, np.ndarray] = {}     # transaction index -> 16 uint16 (host write data)
        self.cpr = cols_per_row

    def add(self, write: bool, bg: int, bank: int, row: int, col: int, n: int = 1, barrier=False,
            data: np.ndarray | None = None):
        # PIMAddrManager::addrGenSafe folds columns >= 32 into the following rows
        for i in range(n):
            c = col + i
            if data is not None:
                self.data[len(self.w)] = np.asarray(data[i], np.uint16)
            self.w.append(int(write))
            self.bank.append(bg * 4 + bank)
            self.row.append(row + c // self.cpr)
            self.col.append(c % self.cpr)
            self.bar.append(0)
        if barrier:
            self.barrier()

    def wdata(self) -> np.ndarray:
        out = np.zeros((len(self.w), 16), np.uint16)
        for i, d in self.data.items():
            out[i] = d
        return out

    def barrier(self):
        if self.bar:             # with nothing queued, DRAMSim2 drops the barrier
            self.bar[-1] = 1

    def arrays(self):
        n = len(self.w)
        return (np.array(self.w, np.uint8), np.zeros(n, np.int64), np.array(self.bank, np.int64),
                np.array(self.row, np.int64), np.array(self.col, np.int64), np.array(self.bar, np.uint8))


def _park(s: _Stream):
    for bank_idx in range(4):
        for bg in range(4):
            s.add(False, bg, bank_idx, 1 << 12, 0)     # PARK_IN_ / PARK_OUT_: reads
    s.barrier()


def _sb_to_hab(s: _Stream):
    s.add(True, 0, 0, 0x17FF, 0x1F)
    s.add(True, 0, 1, 0x17FF, 0x1F)
    s.add(True, 2, 0, 0x17FF, 0x1F)
    s.add(True, 2, 1, 0x17FF, 0x1F)
    s.barrier()


def _hab_to_sb(s: _Stream):
    s.add(True, 0, 0, 0x1FFF, 0x1F)
    s.add(True, 0, 1, 0x1FFF, 0x1F)
    s.barrier()


def _pim_mode_switch(s: _Stream, ctrl: np.ndarray | None = None):
    """HAB <-> HAB_PIM: one control write to row 0x3FFF, column 0 (``ctrl``: its burst)."""
    s.add(True, 0, 0, 0x3FFF, 0x0, barrier=True, data=None if ctrl is None else [ctrl])


def _program_crf(s: _Stream, n_cmds: int, program: np.ndarray | None = None):
    for i in range(4):
        if i * 8 >= n_cmds:
            break
        burst = None
        if program is not None:
            words = np.zeros(8, np.uint32)          # unused slots are NOP 0
            chunk = program[i * 8:(i + 1) * 8]
            words[:chunk.size] = chunk
            burst = [words.view(np.uint16)]
        s.add(True, 0, 1, 0x3FFF, 0x4 + i, data=burst)
    s.barrier()


@dataclass(frozen=True)
class GemvTiling:
    out_tiles: int
    in_tiles: int
    batch: int


def gemv_tiling(n: int, k: int, batch: int, channels: int, blocks: int = 8) -> GemvTiling:
    kb = math.ceil(k / 16)                      # bursts per weight row (bShape[1])
    total_blocks = blocks * channels
    out_tiles = math.ceil((n / total_blocks) / 8)
    in_tiles = math.ceil(kb / 8)
    return GemvTiling(out_tiles, in_tiles, batch)


def gemv_pim_stream(n: int, k: int, batch: int, channels: int) -> _Stream:
    """PIMKernel::executeGemv (is_tree = false) for one PIM channel."""
    t = gemv_tiling(n, k, batch, channels)
    s = _Stream()
    _park(s)                                    # parkIn: its leading barrier has nothing to tag
    _sb_to_hab(s)
    _program_crf(s, 6)                          # MAC, JUMP, MAC, JUMP, NOP, EXIT
    for j in range(t.out_tiles):
        for b in range(batch):
            _pim_mode_switch(s)
            col_res = (t.out_tiles * t.in_tiles // 2) * 8 * 8 + (j + b) * 8
            for parity in (0, 1):
                for i in range(parity, t.in_tiles, 2):
                    s.add(True, 0, 1, 0x3FFF, 0x8, n=8, barrier=True)      # GRF_A broadcast
                    col = 64 * (i // 2 + (j * t.in_tiles) // 2)
                    for c in range(0, 64, 8):
                        s.add(False, 0, parity, 0, col + c, n=8, barrier=True)  # MAC reads
            s.add(True, 0, 1, 0, col_res, n=8, barrier=True)          # GRF_B -> bank
            _pim_mode_switch(s)
    _hab_to_sb(s)
    _park(s)
    return s


def eltwise_units(elements: int, batch: int, channels: int) -> int:
    bursts = batch * math.ceil(elements / 16)
    return bursts // (16 * channels * 8)


def _eltwise_columns(s: "_Stream", op: str, tiles: int) -> None:
    """The column commands of an element-wise kernel in AB-PIM mode, tile by tile (8 bursts at column 8 * tile,
    bank 0 then bank 1 of bank group 0): ADD/MUL read rows 0 and 128 and write row 256; ReLU reads row 0 and
    writes row 256."""
    for i in range(tiles):
        c = 8 * i
        if op in ("add", "mul"):
            for b in (0, 1):
                s.add(False, 0, b, 0, c, n=8, barrier=True)
                s.add(False, 0, b, 128, c, n=8, barrier=True)
                s.add(True, 0, b, 256, c, n=8, barrier=True)
        else:
            s.add(False, 0, 0, 0, c, n=8, barrier=True)
            s.add(True, 0, 0, 256, c, n=8, barrier=True)
            s.add(False, 0, 1, 0, c, n=8, barrier=True)
            s.add(True, 0, 1, 256, c, n=8, barrier=True)


def eltwise_pim_stream(op: str, elements: int, batch: int, channels: int) -> _Stream:
    """PIMKernel::executeEltwise (ALL_BANK) for one PIM channel."""
    tiles = eltwise_units(elements, batch, channels)
    jump = 1 if tiles - 1 != 0 else 0
    n_cmds = (6 if op in ("add", "mul") else 4) + jump + 1
    s = _Stream()
    _park(s)
    _sb_to_hab(s)
    _program_crf(s, n_cmds)
    _pim_mode_switch(s)
    _eltwise_columns(s, op, tiles)
    _pim_mode_switch(s)
    _hab_to_sb(s)
    _park(s)
    return s


def _decode_k(k: np.ndarray, ranks: int):
    """Scheme8 (rank | row | col-high | bg | bank | chan | col-low | offset): the fields above the
    channel bits of the k-th burst of a channel (burst index = chan + k * channels)."""
    bank = k % 4
    rest = k // 4
    bg = rest % 4
    rest //= 4
    col = rest % 32
    rest //= 32
    row = rest % 16384
    rank = (rest // 16384) % ranks
    return rank, bg * 4 + bank, row, col


def nonpim_phases(kernel: str, n: int, k: int, batch: int) -> list[list[tuple[int, int, bool]]]:
    """The fixture's host traffic: phases of (start byte, size bytes, write) streams."""
    m32 = 0xFFFFFFFF             # DataDim::getDataSize and genMemTraffic take uint32_t byte counts
    if kernel == "gemv":
        w, x, y = (n * k * 2) & m32, (k * batch * 2) & m32, (n * batch * 2) & m32
        return [[(0, w, False), (None, x, False)], [(None, y, True)]]
    e = (n * batch * 2) & m32
    if kernel in ("add", "mul"):
        return [[(0, e, False), (None, e, False)], [(None, e, True)]]
    return [[(0, e, False)], [(None, e, True)]]


def nonpim_cycles(kernel: str, n: int, k: int, batch: int, channels: int, cfg: dict, faw=False,
                  native: bool = False):
    """The fixture's non-PIM baseline (two runs: reads, then result writes). Returns (cycles, stats).
    ``native``: the same host traffic on the native HBM2 engine (:mod:`.hbm2`) instead of DRAMSim2's."""
    if native:
        from . import hbm2
        p = hbm2.params(cfg, faw)
        run = hbm2.run_native
    else:
        p = params(cfg, faw)
        run = engine.run_channel
    ranks = cfg["RANKS"]
    per_chan: list[list[np.ndarray]] = [[] for _ in range(channels)]   # per phase arrays
    addr = 0
    phase_lists = []
    for phase in nonpim_phases(kernel, n, k, batch):
        chunks = []
        for start, size, wr in phase:
            start = addr if start is None else start
            nb = -(-size // 32)
            idx = np.arange(start // 32, start // 32 + nb, dtype=np.int64)
            chunks.append((idx, wr))
            addr = start + nb * 32
        phase_lists.append(chunks)
    # channel c gets the bursts c + k * channels; in a chunk of bursts [s, e) that is the k range
    # [ceil((s - c) / C), ceil((e - c) / C)), and the decoded fields depend on k only, so channels
    # with the same k ranges receive identical streams: group them and simulate each group once.
    groups: dict[tuple, int] = {}
    for c in range(channels):
        sig = tuple(tuple((-(-(int(idx[0]) - c) // channels), -(-(int(idx[-1]) + 1 - c) // channels), wr)
                          if idx.size else (0, 0, wr) for idx, wr in chunks) for chunks in phase_lists)
        groups[sig] = groups.get(sig, 0) + 1
    streams = []
    for sig, count in groups.items():
        parts = []
        for phase in sig:
            ks = [np.arange(k0, k1, dtype=np.int64) for k0, k1, _ in phase]
            ws = [np.full(k1 - k0, wr, np.uint8) for k0, k1, wr in phase]
            k = np.concatenate(ks) if ks else np.zeros(0, np.int64)
            r_, b_, row_, col_ = _decode_k(k, ranks)
            parts.append((np.concatenate(ws) if ws else np.zeros(0, np.uint8), r_, b_, row_, col_))
        cat = [np.concatenate([part[i] for part in parts]) for i in range(5)]
        starts = np.cumsum([0] + [part[0].size for part in parts]).astype(np.int64)
        streams.append((cat, starts, count))
    if len(streams) == 1:           # one kind of channel: the result phase follows its own reads
        cat, starts, count = streams[0]
        fin, st, _, _ = run(cat[0], cat[1], cat[2], cat[3], cat[4],
                            np.zeros(cat[0].size, np.uint8), starts,
                            np.array([0, -2], np.int64), p, 1 << 40)
        return engine.cycles_of(fin, 1), st * count
    # phase 0 alone, then phase 1 released at the slowest channel's finish
    t0 = 0
    for cat, starts, _ in streams:
        fin, _, _, _ = run(cat[0], cat[1], cat[2], cat[3], cat[4],
                           np.zeros(cat[0].size, np.uint8), starts,
                           np.array([0, -1], np.int64), p, 1 << 40)
        t0 = max(t0, engine.cycles_of(fin, 0))
    total = t0
    stats = np.zeros(engine.N_STATS, np.int64)
    for cat, starts, count in streams:
        fin, st, _, _ = run(cat[0], cat[1], cat[2], cat[3], cat[4],
                            np.zeros(cat[0].size, np.uint8), starts,
                            np.array([0, t0], np.int64), p, 1 << 40)
        total = max(total, engine.cycles_of(fin, 1))
        stats += st * count
    return total, stats


def pim_cycles(kernel: str, n: int, k: int, batch: int, channels: int, cfg: dict, faw=False):
    """PIMKernel cycles (one channel simulated; all PIM channels are identical). Returns (cycles, stats)."""
    if kernel == "gemv":
        s = gemv_pim_stream(n, k, batch, channels)
    else:
        s = eltwise_pim_stream(kernel, n, batch, channels)
    w, r, b, row, col, bar = s.arrays()
    fin, st, _, _ = engine.run_channel(w, r, b, row, col, bar, np.array([0, w.size], np.int64),
                                    np.array([0], np.int64), params(cfg, faw), 1 << 40)
    return engine.cycles_of(fin, 0), st * channels


def config(refresh: bool = True, **over) -> dict:
    cfg = dict(HBM2_SAMSUNG)
    if not refresh:
        cfg["tREFI"] = NO_REFRESH_TREFI
    cfg.update(over)
    return cfg
