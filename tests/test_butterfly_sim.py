"""Butterfly Processor simulator: engine index generator and bank map, cycle-level vs analytical,
result protocol, workloads and one-line errors."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from hwsim.butterfly import engine
from hwsim.butterfly.sim import SimError, build
from hwsim.butterfly.workloads import WorkloadError, parse
from hwsim.design import from_dict
from hwsim.spec import SpecError

ROOT = Path(__file__).resolve().parents[1]


def design(pbe=4, pbu=4, bw=(2048, 256, 2048), **proc):
    return {"schema": 1, "name": "t", "kind": "butterfly", "clock_mhz": 200,
            "processor": {"engines": pbe, "units": pbu, **proc},
            "memory": dict(zip(("input_bits", "weight_bits", "output_bits"), bw))}


@pytest.mark.parametrize("units", [1, 2, 4, 8, 16])
def test_index_generator_covers_every_pair_once(units):
    for e in range(1, 13):
        n = 1 << e
        if n < 2 * units:
            continue
        for s, lo in engine.stage_pairs(n, units):
            assert lo.shape == (n // (2 * units), units)
            assert not (lo & s).any()
            assert np.array_equal(np.sort(np.concatenate([lo.ravel(), lo.ravel() + s])), np.arange(n))


def test_index_order_of_the_artefact_for_p_bu_4():
    """butterfly_indx_generator: stride >= 8 -> lower operands {b, b+2, b+4, b+6}, b = 0, 1, 8, 9, ..."""
    lo = engine.lower_indices(64, 4, 16)
    assert lo[:4].tolist() == [[0, 2, 4, 6], [1, 3, 5, 7], [8, 10, 12, 14], [9, 11, 13, 15]]
    assert engine.lower_indices(16, 4, 2)[0].tolist() == [0, 1, 4, 5]
    assert engine.lower_indices(16, 4, 1)[0].tolist() == [0, 2, 4, 6]


def test_bank_map_and_conflicts_of_the_artefact():
    """(k[2:0] + popcount(k[10:3])) mod 8: conflict-free up to 2048; at 4096 the stride-2048 stage
    conflicts on all of its 512 cycles (spec B.3 check: 512 of 6144)."""
    k = np.arange(4096)
    ref = (k & 7) + np.array([bin(v).count("1") for v in (k >> 3) & 0xFF])
    assert np.array_equal(engine.bank_of(k, 4), ref % 8)
    for n in (8, 64, 512, 2048):
        assert engine.vector_cycles(n, 4, 3)["conflict_cycles"] == 0
    v = engine.vector_cycles(4096, 4, 3)
    assert v["conflict_cycles"] == 512 and sum(v["issue"]) == 6144 + 512


@pytest.mark.parametrize("units,bits", list(itertools.product([1, 2, 4, 8, 32], [0, 2, 8])))
def test_closed_form_issue_equals_enumeration(units, bits):
    for e in range(1, 13):
        n = 1 << e
        if n >= 2 * units:
            assert engine.stage_issue_cycles(n, units, bits) == engine.stage_issue_cycles_closed(n, units, bits)


WORKLOADS = ["fabnet:base", "fabnet:text", "fabnet:image", "fabnet:pathfinder",
             "fabnet:hidden=512,ffn=512,seq=333,layers=1", "bfly:256,1024,batch=77", "fft:512,batch=100",
             "bfly:2048,256,batch=130"]


@pytest.mark.parametrize("pbe,bw", list(itertools.product([1, 20, 120],
                                                          [(2048, 256, 2048), (64, 64, 128), (2048, 2048, 2048)])))
def test_analytical_against_cycle_level(pbe, bw):
    """FFT layers (serial runs): equal. Linear layers (ping-pong steady state): within 10 %."""
    sim = build(design(pbe, 4, bw))
    for w in WORKLOADS:
        c, a = sim.run(w, mode="cycle"), sim.run(w, mode="analytical")
        for lc, la in zip(c.layers, a.layers):
            if lc.mode == "fft":
                assert la.cycles == lc.cycles, (w, lc.name)
            else:
                assert abs(la.cycles - lc.cycles) <= 0.10 * lc.cycles, (w, lc.name, la.cycles, lc.cycles)
            assert la.butterflies == lc.butterflies and la.dram_read_bytes == lc.dram_read_bytes


def test_single_engine_fft_is_load_compute_drain():
    """P_BE = 1, one vector: the per-vector engine contract, nothing else (weights fit the buffer and
    arrive before the load ends at 2048 bits/cycle)."""
    sim = build(design(1, 4, (2048, 2048, 2048), pipeline_latency=3))
    for n in (16, 64, 256, 4096):
        r = sim.run(f"fft:{n}")
        assert r.cycles == engine.engine_cycles(n, 4, 3) == engine.vector_cycles(n, 4, 3)["total"] + 1


def test_fft_ping_pong_absent_linear_overlaps():
    sim = build(design(1, 4, (2048, 2048, 2048)))
    f, lin = sim.run("fft:256,batch=8"), sim.run("bfly:256,256,batch=8")
    v = engine.vector_cycles(256, 4, 4)
    assert f.cycles == 8 * (v["total"] + engine.DRAIN_LATENCY)
    assert lin.cycles < 8 * v["total"] and lin.cycles >= 8 * v["compute"]


def test_result_protocol():
    sim = build(ROOT / "designs/butterfly/bfly_vcu128_be40.yaml")
    r = sim.run("fabnet:listops", compat="butterfly-acc")
    d = r.to_dict()
    assert {"design", "design_hash", "workload", "mode", "stats", "layers", "compat"} <= set(d)
    assert d["stats"]["cycles"] == 2 * sum(x["cycles"] for x in d["layers"])
    assert 0 < d["stats"]["bu_utilization"] <= 1
    json.dumps(d)
    h, rows = r.layer_rows()
    assert len(rows) == 4 and len(h) == len(rows[0])
    text = r.render()
    assert "cycles" in text and "butterfly-acc" in text and "estimate" in text


@pytest.mark.parametrize("bad,match", [
    ("fabnet:nosuch", "preset"), ("fft:12x", "integer"), ("fft:1", ">= 2"), ("gemm:1,2,3", "allowed"),
    ("fabnet:base,seq=-3", "> 0"), ("bfly:16", "IN,OUT"), ("fabnet:base,foo=3", "key"),
])
def test_bad_workloads(bad, match):
    with pytest.raises(WorkloadError, match=match):
        parse(bad)


def test_bad_runs_and_designs():
    sim = build(design())
    with pytest.raises(SimError, match="mode"):
        sim.run("fft:64", mode="fast")
    with pytest.raises(SimError, match="compat"):
        sim.run("fft:64", compat="scalesim")
    with pytest.raises(SimError, match="max_length"):
        sim.run("fft:8192")
    with pytest.raises(SpecError, match="processor.units"):
        from_dict(design(pbu=3))
    with pytest.raises(SpecError, match="multiple of 32"):
        from_dict(design(bw=(100, 256, 2048)))
    with pytest.raises(SpecError, match="processor.engines"):
        from_dict(design(pbe=0))
    with pytest.raises(SpecError, match="unknown key"):
        from_dict({**design(), "array": {}})
