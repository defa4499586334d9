"""The ``pim`` kind on every level (testbenches.pim): one vector set, one checker.

FP16 lane: model (numpy float16) vs hwsim (the simulator's lane arithmetic), amaranth.sim, Verilator.
PIM block: the command stream of a GEMV (3 input tiles), ReLU and ADD for block 0 of one pseudo-channel;
results vs the numpy FP16 reference, and the DRAM cycles of the block's bank writes vs the engine's.
amaranth.sim runs the block with 1 lane and only the command cycles (it is slow); Verilator runs 2 lanes
at the engine's exact cycles (the 16-lane build takes ~90 s: ``benchmarks/bench_pim.py --rtl`` runs it).
"""

from __future__ import annotations

import numpy as np
import pytest

from testbenches import pim as P


@pytest.fixture(scope="module")
def prog():
    return P.block_program(seed=5)


@pytest.fixture(scope="module")
def expected_writes(prog):
    c = prog.cmd
    return np.nonzero(c[:, 0] & c[:, 1] & c[:, 5] & (c[:, 3] != 0x3FFF) & ((c[:, 3] & 0x1000) == 0))[0]


@pytest.mark.parametrize("level", P.LEVELS)
class TestPimLevels:
    def test_lane(self, level):
        v = P.lane_vectors(seed=11, n_random={"amaranth": 300, "verilator": 500}.get(level, 20000))
        if level == "model":
            # numpy float16 against float64 arithmetic (exact for two binary16 operands) rounded once
            got = P.lane_model(v)
            a, b, c = (v[k].view(np.float16).astype(np.float64) for k in "abc")
            with np.errstate(all="ignore"):
                prod = np.asarray(a * b, np.float16)
                exp = np.where(v["op"] == 0, np.asarray(a + b, np.float16),
                               np.where(v["op"] == 1, prod, np.asarray(prod.astype(np.float64) + c, np.float16)))
            from hwsim.pim.fp16 import canon
            assert np.array_equal(got, canon(exp.view(np.uint16)))
            return
        if level == "hwsim":
            got = P.lane_hwsim(v)
        elif level == "amaranth":
            got = P.run_amaranth_lane(v)
        else:
            got = P.run_verilator("lane", v)["y"]
        assert P.check_lane(got, v) == 0

    def test_block(self, level, prog, expected_writes):
        if level == "model":
            # the expectations are the numpy FP16 reference; the block's inputs must make them non-trivial
            assert all(np.count_nonzero(e) > 0 for k, e in prog.expect.items() if k != "gemv_cols")
            return
        if level == "hwsim":
            even, odd, writes = P.block_hwsim(prog)
            lanes = 16
        elif level == "amaranth":
            v = np.nonzero(prog.cmd[:, 0])[0]
            inp = dict(P.block_inputs(prog), cmd=prog.cmd[v], data=prog.data[v])
            even, odd, w = P.run_amaranth_block(inp, lanes=1)
            writes, lanes = v[w], 1
        else:
            # self-checking cocotb test (testbenches.tb_pim); its results checked here again
            r = P.run_verilator("block2", prog)
            assert not r.get("_runner_failed") and r["_lanes"] == 2
            assert P.mismatches(P.block_vectorset(prog).expected, r, 2) == []
            assert np.array_equal(r["write_cycles"], expected_writes)
            return
        assert P.check_block(even, odd, prog, lanes) == []
        assert np.array_equal(writes, expected_writes)


def test_verilator_lint_clean(tmp_path):
    from rtl_gen.pim import Fp16Lane, PimBlock
    from rtl_gen.verilog import emit_component
    from testbenches.verilator import lint
    for comp, top in ((PimBlock(16), "pim_block16_lint"), (Fp16Lane(), "pim_lane_lint")):
        art = emit_component(comp, top, tmp_path)
        r = lint(art.verilog, top)
        assert r.ok, r.summary()
