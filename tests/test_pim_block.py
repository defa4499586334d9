"""The PIM block's functional model: FP16 lanes vs numpy float16, the CRF ISA driven by the engine's command
stream vs the numpy FP16 reference of the same operation order (bit patterns compared)."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.pim import block as K
from hwsim.pim import compat as C
from hwsim.pim import engine
from hwsim.pim import fp16 as F
from hwsim.pim.workload import Kernel

SPECIAL = np.array([0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x0401, 0x3BFF, 0x3C00, 0x3C01, 0xBC00,
                    0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFE00, 0x0200, 0x4000], np.uint16)


def _np(op, a, b):
    with np.errstate(all="ignore"):
        r = a.view(np.float16) * b.view(np.float16) if op == "mul" else a.view(np.float16) + b.view(np.float16)
    return F.canon(r.view(np.uint16))


@pytest.mark.parametrize("op", ["mul", "add"])
def test_fp16_specials_against_every_code(op):
    every = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    fn = F.vmul if op == "mul" else F.vadd
    for s in SPECIAL:
        other = np.full(every.size, s, np.uint16)
        assert np.array_equal(fn(every, other), _np(op, every, other))
        assert np.array_equal(fn(other, every), _np(op, other, every))


@pytest.mark.parametrize("op", ["mul", "add"])
def test_fp16_random_pairs(op):
    rng = np.random.default_rng(7)
    a = rng.integers(0, 1 << 16, 400_000, dtype=np.uint32).astype(np.uint16)
    b = rng.integers(0, 1 << 16, 400_000, dtype=np.uint32).astype(np.uint16)
    fn = F.vmul if op == "mul" else F.vadd
    assert np.array_equal(fn(a, b), _np(op, a, b))


@pytest.mark.parametrize("kernel, channels", [
    (Kernel("gemv", 64, 128), 1), (Kernel("gemv", 200, 300, 2), 1), (Kernel("gemv", 1000, 700), 2),
    (Kernel("gemv", 130, 100, 3), 1), (Kernel("gemv", 600, 1000), 1),
    (Kernel("add", 5000, 5000), 1), (Kernel("mul", 70000, 70000), 2), (Kernel("relu", 3000, 3000), 1),
    (Kernel("add", 2048, 2048, 2), 1)], ids=lambda v: v.describe() if isinstance(v, Kernel) else f"{v}pch")
def test_kernels_bit_exact(kernel, channels):
    r = K.run_functional(kernel, channels, seed=3)
    assert r["bit_exact"], r
    assert r["outputs"] == kernel.n * kernel.batch


def test_gemv_partials_are_lane_sums_in_pim_order():
    rng = np.random.default_rng(1)
    w = K.random_fp16(rng, (64, 384), 0.25)
    x = K.random_fp16(rng, (1, 384))
    got = K.run_gemv(w, x, 1, C.config(True), False)
    # lane partials: tiles 0, 2, then 1; bursts in order; acc = fp16(fp16(x*w) + acc)
    acc = np.zeros((64, 16), np.float16)
    for i in (0, 2, 1):
        for g in range(8):
            lo = i * 128 + g * 16
            acc = (x[0, lo:lo + 16][None, :] * w[:, lo:lo + 16]) + acc
    assert np.array_equal(got["partials"][0], acc.view(np.uint16))
    assert np.array_equal(got["y"][0], K.tree16(acc.view(np.uint16)))


def test_a_wrong_program_is_caught():
    # the same stream with an ADD where the MAC should be: the check must report mismatches
    rng = np.random.default_rng(2)
    w = K.random_fp16(rng, (64, 256), 0.25)
    x = K.random_fp16(rng, (1, 256))
    orig = K.gemv_program
    try:
        K.gemv_program = lambda t, native=True: np.array(
            [K.enc(K.ADD, K.GRF_B, K.GRF_A, K.EVEN_BANK, auto=1)] + list(orig(t, native)[1:]), np.uint32)
        y = K.run_gemv(w, x, 1, C.config(True), False)["y"]
    finally:
        K.gemv_program = orig
    assert not np.array_equal(y, K.gemv_reference(w, x, 2))


def test_pimsimulator_host_layout_aliases_odd_tile_counts():
    """PIMSimulator's computeGemv reads columns (j * tiles) // 2 for both parities: with an odd number of
    input tiles and two output tiles, tiles alias and the result is wrong; the native layout is right."""
    rng = np.random.default_rng(4)
    w = K.random_fp16(rng, (128, 384), 0.25)          # 1 pseudo-channel: 64 rows per output tile -> 2
    x = K.random_fp16(rng, (1, 384))
    ref = K.gemv_reference(w, x, 3)
    assert np.array_equal(K.run_gemv(w, x, 1, C.config(True), False, native=True)["y"], ref)
    assert not np.array_equal(K.run_gemv(w, x, 1, C.config(True), False, native=False)["y"], ref)


def test_native_and_compat_streams_cost_the_same_when_the_layouts_agree():
    """The native kernel stream on the DRAMSim2 engine of compat mode costs what PIMSimulator's does."""
    cfg = C.config(True)
    for n, k, ch in [(4096, 1024, 64), (256, 512, 4)]:
        t = C.gemv_tiling(n, k, 1, ch)
        assert t.in_tiles % 2 == 0 and t.out_tiles == 1
        assert (K.native_cycles(Kernel("gemv", n, k), ch, cfg, False, dram="dramsim2")[0]
                == C.pim_cycles("gemv", n, k, 1, ch, cfg)[0])


def _isa_program():
    """A CRF program using MOV, MUL, MAD, ADD, SRF_M/SRF_A, M_OUT/A_OUT and ReLU (no AUTO), triggered by
    reads of the even bank, then GRF_B moved to the odd bank in AB mode. Returns (trace, wdata, banks,
    numpy expectation of odd-bank bursts (row 2, col 3) and (row 2, col 5))."""
    rng = np.random.default_rng(9)
    prog = np.array([K.enc(K.MOV, K.GRF_A, K.EVEN_BANK, dst_idx=1),
                     K.enc(K.MUL, K.M_OUT, K.GRF_A, K.SRF_M, src0_idx=1, src1_idx=2),
                     K.enc(K.MAD, K.GRF_B, K.M_OUT, K.SRF_M, K.SRF_A, dst_idx=3, src1_idx=1),
                     K.enc(K.ADD, K.A_OUT, K.GRF_B, K.EVEN_BANK, src0_idx=3),
                     K.enc(K.MOV, K.GRF_B, K.A_OUT, dst_idx=5, relu=1),
                     K.enc(K.NOP, count=0), K.enc(K.EXIT)], np.uint32)
    srf = K.random_fp16(rng, 16).view(np.uint16)
    banks = np.zeros((16, 4, 32, 16), np.uint16)
    banks[0, 0, 7] = K.random_fp16(rng, 16).view(np.uint16)
    banks[0, 1, 9] = K.random_fp16(rng, 16).view(np.uint16)
    crf = np.zeros(8, np.uint32)
    crf[:7] = prog
    E = engine
    tr, wd = [], []

    def cmd(typ, bank, row, col, data=None):
        tr.append((len(tr), typ, 0, bank, row, col))
        wd.append(np.zeros(16, np.uint16) if data is None else np.asarray(data, np.uint16))
    for b in (0, 1, 8, 9):
        cmd(E.C_ACT, b, 0x17FF, 0x1F)
    cmd(E.C_WR, 1, 0x3FFF, 4, crf.view(np.uint16))
    cmd(E.C_WR, 0, 0x3FFF, 1, srf)
    cmd(E.C_WR, 0, 0x3FFF, 0, K.control_burst(True, 0))
    for row, col in ((0, 7), (0, 8), (0, 9), (1, 9), (0, 10), (0, 11)):
        cmd(E.C_RD, 0, row, col)
    cmd(E.C_WR, 0, 0x3FFF, 0, K.control_burst(False, 0))
    cmd(E.C_WR, 1, 2, 3)
    cmd(E.C_WR, 1, 2, 5)
    f = lambda c: c.view(np.float16)              # noqa: E731
    with np.errstate(all="ignore"):
        m = f(banks[0, 0, 7]) * f(srf[2:3])
        b3 = (m * f(srf[1:2])) + f(srf[9:10])
        a = b3 + f(banks[0, 1, 9])
    b5 = np.where(a.view(np.uint16) & 0x8000, np.uint16(0), a.view(np.uint16)).astype(np.uint16)
    trace = np.array(tr, np.int64)
    idx = np.where(np.isin(trace[:, 1], [E.C_RD, E.C_WR]), np.arange(len(tr)), -1)
    return trace, idx, np.array(wd, np.uint16), banks, b3.view(np.uint16), b5


def test_isa_mov_mul_mad_add_srf_relu():
    trace, idx, wd, banks, b3, b5 = _isa_program()
    K.execute(trace, idx, wd, banks, 1)
    assert np.array_equal(banks[1, 2, 3], b3) and np.array_equal(banks[1, 2, 5], b5)
    assert np.count_nonzero(b3) > 8


def test_isa_program_on_the_rtl_block():
    from amaranth.sim import Simulator

    from rtl_gen.pim import PimBlock
    from testbenches import pim as P
    from testbenches.amaranth_sim import AmaranthIO, port_signals
    trace, idx, wd, banks, b3, b5 = _isa_program()
    rows = [r for r in trace if r[1] in (engine.C_RD, engine.C_WR)]
    cmdarr = np.array([(1, r[1] == engine.C_WR, r[3], r[4], r[5], 1, i) for i, r in enumerate(rows)], np.int64)
    inp = {"cmd": cmdarr, "data": wd[idx >= 0], "even0": banks[0].copy(), "odd0": banks[1].copy()}
    dut = PimBlock(2)
    box = {}

    async def tb(ctx):
        async def tick(settle=False):
            if not settle:
                await ctx.tick()
        box["r"] = await P.drive_block(AmaranthIO(ctx, port_signals(dut)), tick, inp, 2)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    even, odd, _ = box["r"]
    assert np.array_equal(odd[2, 3, :2], b3[:2]) and np.array_equal(odd[2, 5, :2], b5[:2])
