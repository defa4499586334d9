"""The ``pim`` bench: one seeded vector set, four levels, one checker.

Two units, as the RTL has them:

* the FP16 lane (``rtl_gen.pim.Fp16Lane``): special values x special values x {add, mul, mac} plus random
  operand triples. Levels: ``model`` (numpy float16, NaN canonical), ``hwsim`` (:mod:`hwsim.pim.fp16`, the
  simulator's lane arithmetic), ``amaranth`` (amaranth.sim), ``verilator`` (cocotb + Verilator).
* the PIM block (``rtl_gen.pim.PimBlock``), driven by the command stream the simulator issues for
  block 0 of a one-pseudo-channel HBM-PIM: a GEMV (three input tiles: even, odd, even; the MAC/JUMP
  loops), then ReLU and ADD element-wise kernels. Each command is applied in the DRAM cycle the engine
  issued it. Levels: ``model`` (the numpy FP16 reference of the same operation order), ``hwsim`` (the
  block functional model over the engine trace), ``amaranth``, ``verilator``. Checked: block 0's bank
  contents after every kernel (bit patterns) and, from ``hwsim`` on, the DRAM cycles in which the block
  writes its bank (the command-to-result timing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hwsim.pim import block as K
from hwsim.pim import compat as C
from hwsim.pim import engine
from hwsim.pim import fp16 as F

from .pim_driver import drive_block, drive_lane, mismatches, pack, unpack  # noqa: F401  (public here too)
from .pim_driver import block_results as _block_results
from .vectorset import VectorSet

LEVELS = ("model", "hwsim", "amaranth", "verilator")
#: the cocotb test module of the design's top, the PIM block (self-checking; exported with the regression
#: suite by testbenches.export) and the numpy-only harness module it needs beside the shared ones
COCOTB_MODULE = "testbenches.tb_pim"
COCOTB_HARNESS = ("pim_driver.py",)
#: the cocotb test module of the FP16 lane (a second unit, emitted on its own)
LANE_MODULE = "testbenches.tb_pim_lane"
SPECIAL = np.array([0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x3C00, 0xBC00, 0x3C01, 0x7BFF, 0xFBFF,
                    0x7C00, 0xFC00, 0x7E00, 0x0200, 0x4000], np.uint16)


# ---- vectors ---------------------------------------------------------------------------------------------
def lane_vectors(seed: int = 0, n_random: int = 2000, specials: bool = True) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = []
    if specials:
        for op in range(3):
            a, b = np.meshgrid(SPECIAL, SPECIAL, indexing="ij")
            c = np.resize(SPECIAL, a.size)
            rows.append(np.stack([a.ravel(), b.ravel(), c, np.full(a.size, op)], 1))
    r = rng.integers(0, 1 << 16, (n_random, 3))
    rows.append(np.concatenate([r, rng.integers(0, 3, (n_random, 1))], 1))
    v = np.concatenate(rows).astype(np.int64)
    return {"a": v[:, 0].astype(np.uint16), "b": v[:, 1].astype(np.uint16), "c": v[:, 2].astype(np.uint16),
            "op": v[:, 3].astype(np.uint8)}


def lane_model(v) -> np.ndarray:
    a, b, c = (v[k].view(np.float16) for k in "abc")
    with np.errstate(all="ignore"):
        add = F.canon((a + b).view(np.uint16))
        mul = F.canon((a * b).view(np.uint16))
        mac = F.canon((F.canon(mul).view(np.float16) + c).view(np.uint16))
    return np.where(v["op"] == 0, add, np.where(v["op"] == 1, mul, mac)).astype(np.uint16)


def lane_hwsim(v) -> np.ndarray:
    out = np.empty(v["a"].size, np.uint16)
    for i in range(out.size):
        a, b, c, op = int(v["a"][i]), int(v["b"][i]), int(v["c"][i]), int(v["op"][i])
        out[i] = F.add(a, b) if op == 0 else F.mul(a, b) if op == 1 else F.mac(a, b, c)
    return out


@dataclass
class BlockProgram:
    """Block 0's view of the kernels: one row per DRAM cycle from the first command to the last."""
    cmd: np.ndarray            #: [cycles, 7]: valid, write, bank parity, row, col, ab_mode, transaction
    data: np.ndarray           #: [cycles, 16] host write burst
    even0: np.ndarray          #: [rows, 32, 16] block 0's even bank before
    odd0: np.ndarray
    kernels: list = field(default_factory=list)   #: (name, first cycle, last cycle, result region)
    expect: dict = field(default_factory=dict)    #: model-level expectations (numpy reference)


def _mode_track(tr: np.ndarray) -> np.ndarray:
    """AB mode (rank 0) in force when each trace row's command reaches the rank (PIMSimulator's rules)."""
    mode = 0
    ab = np.zeros(tr.shape[0], np.uint8)
    abmr, sbmr = set(), set()
    for i, (_, typ, _, bank, row, col) in enumerate(tr):
        ab[i] = mode
        if typ == engine.C_ACT and mode == 0 and row == 0x17FF and col == 0x1F and bank in (0, 1, 8, 9):
            abmr.add(int(bank))
            if abmr == {0, 1, 8, 9}:
                mode, abmr = 1, set()
        elif typ == engine.C_PRE and mode == 1 and row == 0x1FFF and bank in (0, 1):
            sbmr.add(int(bank))
            if sbmr == {0, 1}:
                mode, sbmr = 0, set()
    return ab


def block_program(seed: int = 0) -> BlockProgram:
    """GEMV 64 x 384 then ReLU and ADD of 2048 elements on one pseudo-channel; block 0 recorded."""
    rng = np.random.default_rng(seed)
    cfg = C.config(True)
    w = K.random_fp16(rng, (64, 384), 0.25)
    x = K.random_fp16(rng, (1, 384))
    t = C.gemv_tiling(64, 384, 1, 1)
    xp = np.zeros((1, t.in_tiles * 128), np.uint16)
    xp[:, :384] = x.view(np.uint16)
    s_g, res_cols = K.gemv_stream(xp.reshape(1, t.in_tiles, 8, 16), t.out_tiles, t.in_tiles, 1, True)
    a = K.random_fp16(rng, 2048)
    b = K.random_fp16(rng, 2048)
    s_r = K.eltwise_stream("relu", 1)
    s_a = K.eltwise_stream("add", 1)
    n_rows = 12
    even = np.zeros((n_rows, 32, 16), np.uint16)
    odd = np.zeros((n_rows, 32, 16), np.uint16)
    # GEMV weights of block 0 (rows 0..7): tile i at columns 64 * (i // 2) of its parity's bank
    wp = np.zeros((64, t.in_tiles * 128), np.uint16)
    wp[:, :384] = w.view(np.uint16)
    for i in range(t.in_tiles):
        blk = wp[0:8, i * 128:(i + 1) * 128].reshape(8, 8, 16).transpose(1, 0, 2).reshape(64, 16)
        cols = 64 * (i // 2) + np.arange(64)
        (even if i % 2 == 0 else odd)[cols // 32, cols % 32] = blk
    # element-wise operands of block 0: bursts 0..7 of banks 0 and 1 (layout of block.run_eltwise),
    # input0 at row 8 and input1 at row 9 here (rows 0/128 in the full layout), results at row 10 / 11
    A = a.view(np.uint16).reshape(16, 8, 16)
    B = b.view(np.uint16).reshape(16, 8, 16)
    cmds, datas, kernels = [], [], []
    t0 = 0
    for name, stream, remap in (("gemv", s_g, {}), ("relu", s_r, {0: 8, 256: 10}),
                                ("add", s_a, {0: 8, 128: 9, 256: 11})):
        wr, _, bk, row, col, bar = stream.arrays()
        row = np.array([remap.get(int(r), int(r)) for r in row], np.int64)
        st = C._Stream()
        st.w, st.bank, st.row, st.col, st.bar = list(wr), list(bk), list(row), list(col), list(bar)
        st.data = stream.data
        cyc, _, tr, idx = K.trace_of(st, cfg, False)
        ab = _mode_track(tr)
        wd = st.wdata()
        span = int(tr[-1, 0]) + 1
        c = np.zeros((span, 7), np.int64)
        c[:, 6] = -1
        d = np.zeros((span, 16), np.uint16)
        for i in range(tr.shape[0]):
            if tr[i, 1] in (engine.C_RD, engine.C_WR) and tr[i, 3] in (0, 1):
                cy = int(tr[i, 0])
                c[cy] = (1, tr[i, 1] == engine.C_WR, tr[i, 3], tr[i, 4], tr[i, 5], ab[i], idx[i])
                d[cy] = wd[idx[i]]
        cur = 0
        for cy in range(span):                 # idle cycles keep the rank's mode
            if c[cy, 0]:
                cur = c[cy, 5]
            else:
                c[cy, 5] = cur
        kernels.append((name, t0, t0 + span - 1))
        cmds.append(c)
        datas.append(d)
        t0 += span
    for k in range(8):                    # the relu/add operands (block 0 = banks 0, 1)
        even[8, k], odd[8, k] = A[0, k], A[1, k]
        even[9, k], odd[9, k] = B[0, k], B[1, k]
    prog = BlockProgram(np.concatenate(cmds), np.concatenate(datas), even, odd, kernels)
    # model level: numpy FP16 reference of what block 0 must leave in its banks
    acc = np.zeros((8, 16), np.float16)
    with np.errstate(all="ignore"):
        for i in list(range(0, t.in_tiles, 2)) + list(range(1, t.in_tiles, 2)):
            for g in range(8):
                lo = i * 128 + g * 16
                acc = (wp[0:8, lo:lo + 16].view(np.float16) * xp[0, lo:lo + 16].view(np.float16)) + acc
    cr = res_cols[(0, 0)]
    prog.expect = {"gemv_partials": F.canon(acc.view(np.uint16)), "gemv_cols": (cr // 32, cr % 32),
                   "relu_even": K.eltwise_reference("relu", A[0].view(np.float16), None),
                   "relu_odd": K.eltwise_reference("relu", A[1].view(np.float16), None),
                   "add_even": K.eltwise_reference("add", A[0].view(np.float16), B[0].view(np.float16)),
                   "add_odd": K.eltwise_reference("add", A[1].view(np.float16), B[1].view(np.float16))}
    return prog


def block_results(even: np.ndarray, odd: np.ndarray, prog: BlockProgram) -> dict[str, np.ndarray]:
    return _block_results(even, odd, prog.expect["gemv_cols"])


# ---- levels --------------------------------------------------------------------------------------------
def block_hwsim(prog: BlockProgram):
    """The simulator's functional model over the same commands (a one-block channel view)."""
    even, odd = prog.even0.copy(), prog.odd0.copy()
    banks = np.stack([even, odd])                      # block 0 = banks 0 (even) and 1 (odd)
    v = np.nonzero(prog.cmd[:, 0])[0]
    rows = []
    for cy in v:
        _, wr, bk, row, col, ab, _ = prog.cmd[cy]
        rows.append((cy, engine.C_WR if wr else engine.C_RD, 0, bk, row, col))
    # ACT/PRE are not needed: the block sees ab_mode; emulate it with the executor's own mode by
    # inserting the mode entry/exit commands where ab_mode changes
    tr, idx, wd = [], [], []
    mode = 0
    for j, cy in enumerate(v):
        ab = prog.cmd[cy, 5]
        if ab and not mode:
            for b in (0, 1, 8, 9):
                tr.append((cy, engine.C_ACT, 0, b, 0x17FF, 0x1F)); idx.append(-1)
        if not ab and mode:
            for b in (0, 1):
                tr.append((cy, engine.C_PRE, 0, b, 0x1FFF, 0)); idx.append(-1)
        mode = ab
        tr.append(rows[j]); idx.append(len(wd)); wd.append(prog.data[cy])
    tr = np.array(tr, np.int64)
    big = np.zeros((16, banks.shape[1], 32, 16), np.uint16)
    big[0], big[1] = even, odd
    writes = _write_cycles_hwsim(tr, np.array(idx), np.array(wd, np.uint16), big)
    return big[0], big[1], writes


def _write_cycles_hwsim(tr, idx, wd, banks):
    """Execute command by command, recording the cycles in which block 0's banks change or are written."""
    before = banks[:2].copy()
    cycles = []
    # run the executor one command at a time would reset its state; instead run it once and derive the
    # bank-write cycles from the commands that write block 0's banks in AB mode: NOP-writes in AB-PIM,
    # GRF->bank moves in AB, and arithmetic with a bank destination
    K.execute(tr, idx, wd, banks, 1)
    for i in range(tr.shape[0]):
        if tr[i, 1] == engine.C_WR and idx[i] >= 0 and tr[i, 4] != 0x3FFF and not (tr[i, 4] & 0x1000):
            cycles.append(int(tr[i, 0]))
    del before
    return np.array(sorted(set(cycles)), np.int64)


def block_inputs(prog: BlockProgram) -> dict[str, np.ndarray]:
    """Arrays for the RTL drivers (amaranth.sim and cocotb share them)."""
    return {"cmd": prog.cmd, "data": prog.data, "even0": prog.even0, "odd0": prog.odd0}


def run_amaranth_lane(v) -> np.ndarray:
    from amaranth.sim import Simulator

    from rtl_gen.pim import Fp16Lane

    from .amaranth_sim import AmaranthIO, port_signals
    dut = Fp16Lane()
    box = {}

    async def tb(ctx):
        async def settle():
            return None
        box["y"] = await drive_lane(AmaranthIO(ctx, port_signals(dut)), settle, v)

    sim = Simulator(dut)
    sim.add_testbench(tb)
    sim.run()
    return box["y"]


def run_amaranth_block(inp, lanes: int = 16):
    from amaranth.sim import Simulator

    from rtl_gen.pim import PimBlock

    from .amaranth_sim import AmaranthIO, port_signals
    dut = PimBlock(lanes)
    box = {}

    async def tb(ctx):
        async def tick(settle=False):
            if not settle:
                await ctx.tick()
        box["r"] = await drive_block(AmaranthIO(ctx, port_signals(dut)), tick, inp, lanes)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    return box["r"]


def block_vectorset(prog: BlockProgram, name: str = "pim-block") -> VectorSet:
    """The block's vector file (``testbenches.pim_driver``): the command stream, the bank images before,
    where the GEMV partial sums land, and the expected bank results and write cycles."""
    r, c = prog.expect["gemv_cols"]
    exp = {k: e for k, e in prog.expect.items() if k != "gemv_cols"} | {"write_cycles": _expected_writes(prog)}
    return VectorSet(name=name, kind="pim", inputs=dict(block_inputs(prog), gemv_at=np.array([r, c], np.int64)),
                     expected=exp)


def lane_vectorset(v: dict[str, np.ndarray], name: str = "pim-lane") -> VectorSet:
    """The FP16 lane's vector file: operand triples and ops, expected results from numpy float16."""
    return VectorSet(name=name, kind="pim", inputs=dict(v), expected={"y": lane_model(v)})


def cocotb_vectors(vs) -> VectorSet:
    """The exported suite's vector file (the design's top is the PIM block)."""
    return block_vectorset(vs.info["prog"], vs.name)


def run_verilator(unit: str, src, root: str | Path = "build", art_dir: str | Path | None = None) -> dict:
    """cocotb on the emitted Verilog through ``testbenches.bench.cocotb_run`` (builds cached by hash).
    ``unit`` "lane": ``src`` the lane operands (``lane_vectors``), returns ``{"y"}``; "block" (16 lanes) /
    "block2" (2 lanes): ``src`` a :class:`BlockProgram`, returns the block results, ``write_cycles`` and
    ``_lanes`` -- on the design's own artefacts when ``art_dir`` is given. ``_runner_failed`` marks a cocotb
    test that failed by its own verdict."""
    from rtl_gen.pim import Fp16Lane, PimBlock
    from rtl_gen.verilog import emit_component

    from .bench import cocotb_run
    if unit == "lane":
        directory = emit_component(Fp16Lane(), "pim_fp16_lane", root).directory
        got, _, r = cocotb_run(directory, lane_vectorset(src), LANE_MODULE)
    elif unit in ("block", "block2"):
        lanes = {"block": 16, "block2": 2}[unit]
        directory = Path(art_dir) if art_dir is not None else \
            emit_component(PimBlock(lanes), f"pim_block{lanes}", root).directory
        got, _, r = cocotb_run(directory, block_vectorset(src), COCOTB_MODULE)
        ports = json.loads((directory / "ports.json").read_text())
        got["_lanes"] = {p["name"]: p["width"] for p in ports["ports"]}["even_rdata"] // 16
    else:
        raise ValueError(f"unit = {unit!r}: allowed: lane, block, block2")
    if r.failed or not r.tests:
        got["_runner_failed"] = True
    return got


# ---- the checker ---------------------------------------------------------------------------------------
def check_lane(got: np.ndarray, v) -> int:
    """Mismatching lane results (bit patterns) against the model level."""
    return int(np.count_nonzero(got != lane_model(v)))


def check_block(even, odd, prog: BlockProgram, lanes: int = 16) -> list[str]:
    """Names of the results that differ (bit patterns; lanes 0..lanes-1 of every burst)."""
    got = block_results(even, odd, prog)
    bad = []
    for k, exp in prog.expect.items():
        if k == "gemv_cols":
            continue
        g = got[k].reshape(-1, 16)[:, :lanes]
        e = exp.reshape(-1, 16)[:, :lanes]
        if not np.array_equal(g, e):
            bad.append(k)
    return bad


# ---- the registry's bench interface (testbenches.bench.verify) ---------------------------------------
def _expected_writes(prog: BlockProgram) -> np.ndarray:
    c = prog.cmd
    return np.nonzero(c[:, 0] & c[:, 1] & c[:, 5] & (c[:, 3] != 0x3FFF) & ((c[:, 3] & 0x1000) == 0))[0]


def vectors(design=None, component=None, seed: int = 0, **kw):
    """One seeded vector set: lane operands (+ numpy float16 results) and the block program (+ the numpy
    FP16 reference of what block 0 leaves in its banks, and the write cycles of the command schedule)."""
    from .vectorset import VectorSet
    v = lane_vectors(seed, kw.get("n_random", 2000))
    prog = block_program(seed)
    exp = {"lane_y": lane_model(v), "write_cycles": _expected_writes(prog)}
    exp |= {k: e for k, e in prog.expect.items() if k != "gemv_cols"}
    lanes = getattr(component, "lanes", 16)
    return VectorSet(name=f"pim-{getattr(design, 'name', 'block')}", kind="pim", inputs=v, expected=exp,
                     info={"prog": prog, "lanes": lanes})


def describe(design, component, vs) -> str:
    prog = vs.info["prog"]
    return (f"FP16 lane: {vs.n} operand triples (special x special x add/mul/mac + random); PIM block: "
            f"{int(prog.cmd[:, 0].sum())} column commands over {prog.cmd.shape[0]} DRAM cycles "
            f"(GEMV 64x384, ReLU, ADD on block 0 of one pseudo-channel)")


def run(level: str, design=None, component=None, vs=None, art_dir=None, waves: bool = False, log=None):
    """The level's results keyed like ``vs.expected`` and a note."""
    if level not in LEVELS:
        raise ValueError(f"level = {level!r}: allowed: {', '.join(LEVELS)}")
    v, prog = vs.inputs, vs.info["prog"]
    lanes = vs.info["lanes"]
    note = None
    if level == "model":
        # the expected block results are the numpy reference themselves: the model level is the lane
        return {"lane_y": lane_model(v)}, "block: the expectations are the numpy FP16 reference"
    if level == "hwsim":
        y = lane_hwsim(v)
        e, o, w = block_hwsim(prog)
    elif level == "amaranth":
        y = run_amaranth_lane(v)
        idx = np.nonzero(prog.cmd[:, 0])[0]
        e, o, w = run_amaranth_block(dict(block_inputs(prog), cmd=prog.cmd[idx], data=prog.data[idx]), lanes=1)
        w = idx[w]
        lanes = 1
        note = "amaranth.sim: block with 1 lane, command cycles only (speed); lane 0 compared"
    else:
        root = Path(art_dir).parent if art_dir else Path("build")
        lane = run_verilator("lane", v, root)
        got = run_verilator("block" if lanes == 16 else "block2", prog, root, art_dir=art_dir)
        got["lane_y"] = lane["y"]
        if lane.get("_runner_failed"):
            got["_runner_failed"] = True
        return got, (f"verilator: FP16 lane (pim_fp16_lane) and the {got['_lanes']}-lane block "
                     f"({Path(art_dir).name if art_dir else 'pim_block'}), cocotb self-checking")
    got = {"lane_y": y, "write_cycles": w, "_lanes": lanes}
    got |= {k: g for k, g in block_results(e, o, prog).items()}
    return got, note


def check(vs, got: dict, level: str):
    """np.array_equal on every expected array the level produced (block results on its lanes)."""
    from .vectors import CheckResult
    lanes = got.get("_lanes", 16)
    bad = []
    checked = 0
    for key, exp in vs.expected.items():
        if key not in got:
            continue
        g, e = np.asarray(got[key]), np.asarray(exp)
        if key not in ("lane_y", "write_cycles"):
            g, e = g.reshape(-1, 16)[:, :lanes], e.reshape(-1, 16)[:, :lanes]
        checked += e.size
        if g.shape != e.shape or not np.array_equal(g, e):
            bad.append(f"{key}: differs from the expected ({int(np.sum(g != e)) if g.shape == e.shape else 'shape'})")
    cycles = None if level == "model" else int(vs.info["prog"].cmd.shape[0])
    return CheckResult(name=vs.name, backend=level, ok=not bad and checked > 0, vectors=vs.n, checked=checked,
                       cycles=cycles, mismatches=bad)
