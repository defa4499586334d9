"""The butterfly RTL: the engine on model / hwsim at n = 8 and 32 (the four-level class,
Verilator included, is TestButterflyLevels in tests/test_levels.py), Verilator lint of the emitted
Verilog, the checker's failure reports, the FP16 units against numpy's correctly rounded float16, the
Butterfly Unit alone against the model, and parameter checks. docs/butterfly.md shows the P_BU 4 engine
at n = 16..256 on all four levels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hwsim.design import load
from testbenches import butterfly as bench

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from rtl_gen.butterfly import component
    d = load(ROOT / "designs/butterfly/bfly_engine_tiny.yaml")
    comp = component(d)
    vs = bench.vectors(d, seed=3, lengths=[8, 32])
    return d, comp, vs, tmp_path_factory.mktemp("bfly_build")


@pytest.fixture(scope="module")
def emitted(setup):
    from rtl_gen.verilog import emit
    d, comp, _, build_root = setup
    return emit(d, build_root, component=comp).directory


def test_levels_on_shorter_vectors(setup, emitted):
    """model and hwsim at n = 8 and 32 (tests/test_levels.py runs all four levels, Verilator
    included, on bfly_engine_tiny with the bench's default vectors)."""
    d, comp, vs, _ = setup
    for level in ("model", "hwsim"):
        got, _ = bench.run(level, d, comp, vs, emitted)
        r = bench.check(vs, got, level)
        assert r.ok, r.summary()
        assert r.checked == sum(2 * j["n"] for j in vs["jobs"])


def test_emitted_verilog_is_lint_clean(setup, emitted):
    from testbenches.verilator import lint
    d = setup[0]
    r = lint(emitted / f"{d.name}.v", d.name)
    assert not r.messages, r.messages[:5]


def test_checker_reports_a_wrong_output_and_cycle(setup):
    d, comp, vs, _ = setup
    got, _ = bench.run("model", d, comp, vs)
    got["out_re"][1] = got["out_re"][1].copy()
    got["out_re"][1][3] ^= 1
    got["cycles"][0] += 1
    r = bench.check(vs, got, "model")
    assert not r.ok and any("out_re[3]" in m for m in r.mismatches) and any("cycles" in m for m in r.mismatches)


@pytest.mark.parametrize("op", ["mul", "add", "sub"])
def test_fp16_units_against_numpy(op):
    from amaranth.sim import Simulator

    from rtl_gen.butterfly import FP16Unit
    rng = np.random.default_rng({"mul": 1, "add": 2, "sub": 3}[op])
    n = 600
    a = rng.integers(0, 1 << 16, n).astype(np.uint16)
    b = rng.integers(0, 1 << 16, n).astype(np.uint16)
    a[:100] = (rng.integers(0, 2, 100) << 15) | rng.integers(0, 2048, 100)      # subnormals and zeros
    b[100:200] = a[100:200] ^ 0x8000                                              # exact cancellation
    b[200:300] = a[200:300] + rng.integers(-3, 4, 100).astype(np.uint16)          # near cancellation
    a[300:320], b[300:320] = 0x7BFF, rng.integers(0x7000, 0x7C00, 20)             # overflow region
    dut = FP16Unit(op)
    out = np.zeros(n, np.uint16)

    async def tb(ctx):
        for i in range(n):
            ctx.set(dut.a, int(a[i]))
            ctx.set(dut.b, int(b[i]))
            out[i] = ctx.get(dut.y)

    sim = Simulator(dut)
    sim.add_testbench(tb)
    sim.run()
    fa, fb = a.view(np.float16), b.view(np.float16)
    with np.errstate(all="ignore"):
        ref = {"mul": fa * fb, "add": fa + fb, "sub": fa - fb}[op]
    nan = np.isnan(ref)
    assert np.array_equal(np.isnan(out.view(np.float16)), nan)
    assert np.array_equal(out[~nan], ref.view(np.uint16)[~nan])
    assert (out[np.isnan(out.view(np.float16))] == 0x7E00).all()


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_rtl_parameters_are_validated():
    from rtl_gen.butterfly import ButterflyEngine, ButterflyRTLError
    with pytest.raises(ButterflyRTLError, match="units"):
        ButterflyEngine(3, 64)
    with pytest.raises(ButterflyRTLError, match="conflicts"):
        ButterflyEngine(4, 4096)
    with pytest.raises(ButterflyRTLError, match="max_length"):
        ButterflyEngine(4, 4)
    assert "cycles = 2N + 1 + log2 N (N/8 + 4)" in ButterflyEngine(4, 256).summary()


def test_butterfly_unit_alone_against_the_model():
    """The BU component (pipelined, 3 cycles) against the functional model's pair operations."""
    from amaranth.sim import Simulator

    from hwsim.butterfly import functional as fn
    from rtl_gen.butterfly import ButterflyUnit
    rng = np.random.default_rng(21)
    n = 120
    x = (rng.standard_normal((n, 4)) * 4).astype(np.float16)
    w = rng.standard_normal((n, 4)).astype(np.float16)
    fft = rng.integers(0, 2, n).astype(bool)
    u = lambda v: int(np.float16(v).view(np.uint16))
    dut = ButterflyUnit()
    got = []

    async def tb(ctx):
        for i in range(n + 3):
            if i < n:
                ctx.set(dut.is_fft, int(fft[i]))
                for name, v in zip(("x1r", "x1i", "x2r", "x2i"), x[i]):
                    ctx.set(getattr(dut, name), u(v))
                ctx.set(dut.coef, sum(u(w[i, j]) << (16 * j) for j in range(4)))
            await ctx.tick()
            if i >= 2:
                got.append([ctx.get(getattr(dut, k)) for k in ("lo_r", "lo_i", "hi_r", "hi_i")])

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    for i in range(n):
        x1r, x1i, x2r, x2i = x[i]
        if fft[i]:
            tr = x2r * w[i, 0] - x2i * w[i, 1]         # numpy float16: each op rounded
            ti = x2r * w[i, 1] + x2i * w[i, 0]
            exp = [x1r + tr, x1i + ti, x1r - tr, x1i - ti]
        else:
            tw = np.array([[[[w[i, 0], w[i, 2]], [w[i, 1], w[i, 3]]]]], np.float16)
            y = fn.butterfly_linear(np.array([x1r, x2r], np.float16), tw)
            exp = [y[0], 0, y[1], 0]
        assert got[i] == [u(v) for v in exp], (i, bool(fft[i]))
