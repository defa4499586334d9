"""Pipelining choices of the systolic array (docs/systolic.md section 11a): ``array.register_memory_outputs``
(read latency 2) and ``array.pe_latency`` >= 2 (product register, then decode registers). The simulator
counts their cycles exactly (closed forms == cycle-level kernels), the RTL under amaranth.sim reproduces
outputs, cycle counts and every write cycle for every dataflow, and an exported cocotb suite passes
without hwsim. (tests/test_levels.py runs the catalog designs of these choices on all four levels.)"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from hwsim.design import from_dict, load
from hwsim.spec import SpecError
from hwsim.systolic.sim import SystolicSim
from hwsim.workloads import Gemm

REPO = Path(__file__).resolve().parents[1]


def _design(df="ws", R=3, C=2, L=1, rm=False, w="int8", a="int8", acc="int32", name="sa_pipe_t"):
    return from_dict({"schema": 1, "name": name, "kind": "systolic",
                      "array": {"rows": R, "cols": C, "dataflow": df, "pe_latency": L,
                                "register_memory_outputs": rm},
                      "operands": {"weight": w, "activation": a, "accumulator": acc},
                      "memory": {"ifmap_kb": 1, "filter_kb": 1, "ofmap_kb": 4, "backing": "none"}}, "t.yaml")


@pytest.mark.parametrize("df", ["ws", "is", "os"])
@pytest.mark.parametrize("L", [1, 2, 3, 5])
def test_register_memory_outputs_costs_one_cycle_per_layer(df, L):
    """Same outputs; every result write and ``done`` exactly one cycle later, counted by the kernels and
    by the closed forms alike."""
    g = Gemm(7, 5, 9)
    s1, s2 = SystolicSim(_design(df, L=L)), SystolicSim(_design(df, L=L, rm=True))
    a, w = s1.random_operands(g, seed=3)
    y1, c1, wc1 = s1.run_layer_cycle(g, a, w, write_cycles=True)
    y2, c2, wc2 = s2.run_layer_cycle(g, a, w, write_cycles=True)
    assert np.array_equal(y1, y2) and np.array_equal(y1, s1.reference(a, w))
    assert int(c2[4]) == int(c1[4]) + 1 == s2.plan(g).cycles
    assert np.array_equal(wc2, wc1 + 1) and np.array_equal(wc2, s2.plan(g).write_cycles())
    assert int(c2[5]) == s2.plan(g).last_write_cycle
    assert s2.plan(g).fold_table()["start"][0] == 2 and s2.plan(g).trace()["first_fold_start"] == 2
    res = s2.run("gemm:7,5,9", mode="cycle")
    assert res.layers[0].closed_form_agrees and res.layers[0].verified
    assert res.layers[0].compute_cycles == s2.run("gemm:7,5,9", mode="analytical").layers[0].compute_cycles


def test_spec_rejects_a_non_boolean():
    with pytest.raises(SpecError, match=r"array.register_memory_outputs = 1: expected true/false"):
        _design(rm=1)


@pytest.mark.parametrize("df,L,rm,w,a,acc", [
    ("ws", 3, False, "int8", "int8", "int32"), ("ws", 2, True, "int4", "int8", "int24"),
    ("ws", 4, True, "sf4", "float8_e4m3fn", "int64"),
    ("is", 3, True, "int8", "int8", "int32"), ("is", 4, False, "fp4_basic", "int8", "int32"),
    ("os", 3, False, "int8", "int8", "int32"), ("os", 2, True, "int8", "int8", "int16"),
    ("os", 3, True, "sf4", "float8_e4m3fn", "int64"),
])
def test_rtl_amaranth_matches_for_every_choice(df, L, rm, w, a, acc):
    """The generated array under amaranth.sim: outputs, cycles, every write cycle and write counts equal
    the closed forms (expected values from the datatypes model and FoldPlan, not from a level)."""
    from rtl_gen.systolic import SystolicArray
    from testbenches import systolic as tb

    comp = SystolicArray.from_design(_design(df, R=3, C=2, L=L, rm=rm, w=w, a=a, acc=acc))
    vs = tb.systolic_vectors(comp.config, [(1, 1, 1), (4, 3, 7), (5, 5, 2)], seed=11)
    res = tb.check(vs, tb.run_amaranth(comp, vs), "amaranth")
    assert res.ok, res.summary()
    assert res.cycles == int(vs.expected["cycles"].sum())


def test_rtl_has_the_pipeline_registers():
    """L >= 3 registers the decoded operands (their own stage before the multiplier), L >= 2 the product,
    and registered memory outputs put a second register after each read port the array uses."""
    from rtl_gen.systolic import SystolicArray, pe_stages
    from rtl_gen.verilog import to_verilog

    def regs(text):
        return set(re.findall(r"^\s*reg\s+(?:signed\s+)?(?:\[[^\]]+\]\s+)?(\w+)", text, re.MULTILINE))

    v1 = regs(to_verilog(SystolicArray.from_design(_design("ws", L=1)), "t"))
    v3 = regs(to_verilog(SystolicArray.from_design(_design("ws", L=3, rm=True)), "t"))
    vo = regs(to_verilog(SystolicArray.from_design(_design("os", L=2)), "t"))
    assert {"dec_w_0_0", "dec_a_2_1", "prod_2_1_0", "activation_rdata_reg", "weight_rdata_reg",
            "result_bank1_rdata_reg"} <= v3
    assert not any(r.startswith(("dec_", "prod_")) or r.endswith("_rdata_reg") for r in v1)
    assert "prod_0_0_0" in vo and not any(r.startswith("dec_") for r in vo)
    assert pe_stages(1) == ["decode+multiply+accumulate"] and pe_stages(4)[:2] == ["decode", "multiply"]


def test_exported_suite_of_a_pipelined_design(tmp_path):
    """The exported cocotb suite of a design using both choices passes without hwsim (Verilator; Icarus
    too when installed)."""
    from test_export import HAVE_ICARUS, _run

    from testbenches.export import export_suite

    suite = export_suite(load(REPO / "designs" / "sa_os_3x2_int8_l4_rm.yaml"), tmp_path / "build")
    copy = tmp_path / "suite"
    shutil.copytree(suite, copy)
    rc, out, (tests, failed) = _run(copy, "verilator", tmp_path / "v")
    assert rc == 0 and tests == 1 and failed == 0, out[-3000:]
    if HAVE_ICARUS:
        rc, out, (tests, failed) = _run(copy, "icarus", tmp_path / "i")
        assert rc == 0 and tests == 1 and failed == 0, out[-3000:]


@pytest.mark.parametrize("name,group,K,L,rm", [("sa_ws_4x4_razer4_int8", 4, 8, 3, True),
                                               ("sa_ws_4x4_razer4_int8", 4, 8, 2, True),
                                               ("sa_ws_4x4_razer4_int8", 4, 8, 4, False),
                                               ("sa_ws_4x4_mxint4_int8", 32, 40, 3, True)])
def test_selector_weights_and_scale_epilogue_with_pipelining(name, group, K, L, rm):
    """Per-group selector weights (razer4: the selector rides in the weight lane), MXINT4's block
    exponents and the scale epilogue (its weight-scale latch and activation-scale read follow the read
    latency) under both choices:
    amaranth.sim equals the expected values and the simulator's cycle-level run."""
    from rtl_gen.systolic import SystolicArray
    from testbenches import systolic as tb

    d = load(REPO / "designs" / f"{name}.yaml")
    d = d.replace(array={"rows": 2, "cols": 2, "pe_latency": L, "register_memory_outputs": rm},
                  operands={"group_size": group})
    comp = SystolicArray.from_design(d)
    vs = tb.systolic_vectors(comp.config, [(3, 3, K), (1, 2, 5)], seed=2)
    for level, got in (("amaranth", tb.run_amaranth(comp, vs)), ("hwsim", tb.run_hwsim(comp.config, vs))):
        res = tb.check(vs, got, level)
        assert res.ok, res.summary()
        assert res.cycles == int(vs.expected["cycles"].sum())
