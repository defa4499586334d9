"""The PIM block's functional model: FP16 lanes vs numpy float16, the CRF ISA driven by the engine's command
stream vs the numpy FP16 reference of the same operation order (bit patterns compared)."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.pim import block as K
from hwsim.pim import compat as C
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
    cfg = C.config(True)
    for n, k, ch in [(4096, 1024, 64), (256, 512, 4)]:
        t = C.gemv_tiling(n, k, 1, ch)
        assert t.in_tiles % 2 == 0 and t.out_tiles == 1
        assert K.native_cycles(Kernel("gemv", n, k), ch, cfg, False)[0] == C.pim_cycles("gemv", n, k, 1, ch, cfg)[0]
