"""``--compat pimsimulator`` against the cycles SAITPublic/PIMSimulator b464dde printed (tests/data/pim_reference.json,
made by tests/reference/generate_pim_reference.py from the built simulator)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwsim.pim import compat as C
from hwsim.pim import sim as S
from hwsim.pim.spec import SpecError, from_mapping
from hwsim.workloads import WorkloadError

DATA = json.loads((Path(__file__).parent / "data" / "pim_reference.json").read_text())
CASES = DATA["cases"]


def _id(c):
    return (f"{c['kernel']}-{c['out']}x{c['in']}-b{c['batch']}-{c['channels']}pch"
            f"-{'ref' if c['refresh'] else 'noref'}")


def test_reference_is_broad():
    kinds = {c["kernel"] for c in CASES}
    assert kinds == {"gemv", "add", "mul", "relu"}
    assert {c["channels"] for c in CASES} == {16, 32, 64}
    assert {c["refresh"] for c in CASES} == {True, False}
    assert any(c["batch"] > 1 for c in CASES)
    assert any(c["kernel"] == "gemv" and (c["in"] % 128 or c["out"] % 4096) for c in CASES)
    # the calibration point of the issue is among them
    assert any(c["kernel"] == "gemv" and c["out"] == c["in"] == 4096 and c["channels"] == 64 and c["refresh"]
               and c["batch"] == 1 and c["pim_cycles"] == 13166 and c["nonpim_cycles"] == 36082 for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_cycles_exact(case):
    cfg = C.config(case["refresh"])
    args = (case["kernel"], case["out"], case["in"], case["batch"], case["channels"], cfg)
    assert C.pim_cycles(*args)[0] == case["pim_cycles"]
    assert C.nonpim_cycles(*args)[0] == case["nonpim_cycles"]


def test_simulator_result_protocol():
    d = from_mapping({"schema": 1, "name": "t", "kind": "pim", "dram": {"pseudo_channels": 64}})
    r = S.build(d).run("gemv:4096,4096", compat="pimsimulator")
    out = r.to_dict()
    assert out["stats"]["cycles"] == 13166 and out["stats"]["nonpim_cycles"] == 36082
    assert out["compat"]["kernels"][0]["Cycle (PIM enabled)"] == 13166
    assert out["compat"]["kernels"][0]["Cycle (PIM disabled)"] == 36082
    assert set(out) >= {"design", "design_hash", "workload", "mode", "stats", "layers", "compat"}
    h, rows = r.layer_rows()
    assert len(rows) == 1 and rows[0][h.index("pim_cycles")] == 13166
    text = r.render()
    assert "13,166" in text and "36,082" in text


def test_design_channels_and_refresh_follow_the_yaml():
    case = next(c for c in CASES if c["channels"] == 32 and not c["refresh"])
    d = from_mapping({"name": "t", "dram": {"pseudo_channels": 32, "refresh": False}})
    r = S.build(d).run(f"gemv:{case['out']},{case['in']},batch={case['batch']}", compat="pimsimulator")
    assert r.cycles == case["pim_cycles"] and r.nonpim_cycles == case["nonpim_cycles"]


@pytest.mark.parametrize("raw, match", [
    ({"dram": {"pseudo_channels": 48}}, "dram.pseudo_channels = 48: must be a power of two"),
    ({"dram": {"tccd_l": 0}}, "dram.tccd_l = 0: must be > 0"),
    ({"pim": {"unit": "newton"}}, "pim.unit = 'newton': allowed"),
    ({"pim": {"blocks_per_pch": 4}}, "pim.blocks_per_pch = 4"),
    ({"dram": {"bogus": 1}}, "dram.bogus: unknown key"),
])
def test_bad_design(raw, match):
    with pytest.raises(SpecError, match=match):
        from_mapping(dict(raw, name="bad"))


@pytest.mark.parametrize("wl, match", [("gemv:4096", "expected gemv:N,K"), ("gemv:0,4", "N = 0"),
                                       ("add:10,foo=2", "unknown field 'foo'"), ("conv:1", "unknown kind"),
                                       ("llm:gpt2,phase=prefill", "decode only")])
def test_bad_workload(wl, match):
    sim = S.build({"name": "t"})
    with pytest.raises(WorkloadError, match=match):
        sim.run(wl, compat="pimsimulator")


def test_bad_run_options():
    sim = S.build({"name": "t"})
    with pytest.raises(S.PimRunError, match="compat = 'ramulator'"):
        sim.run("add:131072", compat="ramulator")
    with pytest.raises(S.PimRunError, match="mode = 'analytical'"):
        sim.run("add:131072", mode="analytical")
