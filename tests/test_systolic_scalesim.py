"""SCALE-Sim 3.0.0 parity: hwsim's SCALE-Sim-compatible numbers equal those SCALE-Sim itself produced.

tests/data/scalesim_reference.json was written by tests/reference/generate_scalesim_reference.py, which
ran SCALE-Sim 3.0.0 (PyPI) in its own virtual environment on every case below and parsed its reports. The
topology text stored with each case is exactly what SCALE-Sim read; here hwsim reads the same text with
its own SCALE-Sim reader. Every number is compared exactly (floats with ==).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hwsim
from hwsim.systolic import scalesim_io as io

REF = json.loads((Path(__file__).parent / "data" / "scalesim_reference.json").read_text())
CASES = REF["cases"]
EXACT = list(io.FIELDS)      # every column of SCALE-Sim's COMPUTE, BANDWIDTH and DETAILED_ACCESS reports


def test_reference_provenance():
    assert REF["scalesim_version"] == "3.0.0"
    assert len(CASES) >= 60
    assert {(c["rows"], c["dataflow"]) for c in CASES} >= {(r, d) for r in (8, 32, 128) for d in ("ws", "os", "is")}
    assert {c["kind"] for c in CASES} == {"gemm", "conv"}
    assert {c["interface"]["interface"] for c in CASES} == {"USER", "CALC"}
    # the reference has stalls (USER bandwidth) and DRAM writes above the SRAM writes (partial last lines)
    layers = [l for c in CASES for l in c["layers"]]
    assert sum(l["stall_cycles"] > 0 for l in layers) >= 20
    assert all(set(l) == set(EXACT) for l in layers)


def _run(case, tmp_path, compat=None):
    cfg = tmp_path / f"{case['name']}.cfg"
    cfg.write_text(io.config_text(case["name"], case["rows"], case["cols"], case["dataflow"],
                                  case["ifmap_kb"], case["filter_kb"], case["ofmap_kb"], **case["interface"]))
    topo = tmp_path / "topology.csv"
    topo.write_text(case["topology"])
    sim = hwsim.build(cfg)
    return sim.run(io.read_topology(topo), mode="analytical", compat=compat)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_scalesim_parity(case, tmp_path):
    got = _run(case, tmp_path).scalesim()
    assert len(got) == len(case["layers"])
    for mine, theirs in zip(got, case["layers"]):
        for key in EXACT:
            assert mine[key] == theirs[key], (case["name"], mine["layer"], key, mine[key], theirs[key])


def test_compat_report_uses_scalesim_names(tmp_path):
    """report.json's compat section: SCALE-Sim's own column names and numbers (a USER case with stalls)."""
    case = next(c for c in CASES if c["interface"]["interface"] == "USER"
                and any(l["stall_cycles"] for l in c["layers"]))
    rep = _run(case, tmp_path, compat="scalesim").to_dict()["compat"]["scalesim"]
    for row, theirs in zip(rep, case["layers"]):
        for key, name in io.FIELDS.items():
            assert row[name] == theirs[key]


@pytest.mark.parametrize("case", [c for c in CASES if c["rows"] == c["cols"] == 8 and c["name"].startswith("ref_")],
                         ids=lambda c: c["name"])
def test_native_cycles_relate_to_scalesim(case, tmp_path):
    """docs/systolic.md section 7: ws/is: N = SCALE-Sim + F + 2; os: N = SCALE-Sim + R + 2 (cycle-level run;
    SCALE-Sim's stall-free CALC cases with 64 KiB SRAMs)."""
    topo = tmp_path / "topology.csv"
    topo.write_text(case["topology"])
    cfg = tmp_path / "c.cfg"
    cfg.write_text(io.config_text("c", case["rows"], case["cols"], case["dataflow"]))
    sim = hwsim.build(cfg)
    res = sim.run(io.read_topology(topo), mode="cycle")
    assert res.verified
    for lr, theirs in zip(res.layers, case["layers"]):
        extra = lr.plan.folds + 2 if case["dataflow"] != "os" else case["rows"] + 2
        assert lr.compute_cycles == theirs["compute_cycles"] + extra
        sram = lr.sram
        assert sram["activation_reads"] == theirs["ifmap_sram_reads"]
        assert sram["weight_reads"] == theirs["filter_sram_reads"]
        if case["dataflow"] != "os":
            assert sram["output_writes"] == theirs["ofmap_sram_writes"]
        else:   # SCALE-Sim adds R + C per fold to its OS ofmap writes
            assert sram["output_writes"] + lr.plan.folds * (case["rows"] + case["cols"]) == theirs["ofmap_sram_writes"]


def test_user_config_reaches_the_memory_model(tmp_path):
    p = tmp_path / "u.cfg"
    p.write_text(io.config_text("u", 8, 8, "ws", 4, 2, 2, interface="USER", bandwidth=3, ifmap_bank_bw=4,
                                filter_bank_bw=2))
    ss = hwsim.build(p).design.sections["scalesim"]
    assert (ss.interface, ss.ifmap_words_per_cycle, ss.filter_words_per_cycle, ss.ofmap_words_per_cycle) == \
        ("user", 4, 2, 3)
    bad = tmp_path / "b.cfg"
    bad.write_text(io.config_text("b", 8, 8, "ws", interface="USER", ifmap_bank_bw=6, ifmap_banks=4))
    with pytest.raises(io.ScaleSimFileError, match=r"b.cfg:\d+: \[layout\] IfmapSRAMBankNum = 4: must divide"):
        io.read_config(bad)


def test_scalesim_section_is_validated():
    from hwsim.design import from_dict
    from hwsim.spec import SpecError

    with pytest.raises(SpecError, match=r"scalesim.interface"):
        from_dict({"schema": 1, "name": "x", "kind": "systolic", "array": {"rows": 4, "cols": 4, "dataflow": "ws"},
                   "scalesim": {"interface": "fast"}})
    with pytest.raises(SpecError, match=r"scalesim.ofmap_words_per_cycle"):
        from_dict({"schema": 1, "name": "x", "kind": "systolic", "array": {"rows": 4, "cols": 4, "dataflow": "ws"},
                   "scalesim": {"ofmap_words_per_cycle": 0}})


def test_padded_conv_is_reported_as_its_gemm():
    """SCALE-Sim topologies cannot express padding: such a layer's compat numbers are its im2col GEMM's."""
    from hwsim.design import from_dict

    d = from_dict({"schema": 1, "name": "x", "kind": "systolic", "array": {"rows": 4, "cols": 4, "dataflow": "os"}})
    sim = hwsim.build(d)
    padded = sim.run("conv:6,6,3,3,2,4,1,1", mode="analytical").scalesim()     # 'standard': pad 1 -> 6x6 out
    g = sim.run("gemm:36,4,18", mode="analytical").scalesim()
    keys = [k for k in EXACT if k != "layer"]
    assert [padded[0][k] for k in keys] == [g[0][k] for k in keys]


@pytest.mark.parametrize("df", ["ws", "is", "os"])
def test_demand_rows_match_scalesim_matrices(df):
    """The kernel's index arithmetic (_demand) equals the demand matrices built the way SCALE-Sim builds
    them (concatenated gaps, padding, flips, skews: Streams.fold), row for row, on odd shapes."""
    import numpy as np

    from hwsim.systolic import scalesim_kernels as sk
    from hwsim.systolic import scalesim_mem as sm

    for g, R, C in [(sm.Geometry(11, 11, 3, 3, 4, 9, 2, 2), 8, 8), (sm.Geometry(7, 5, 1, 5, 1, 3), 4, 6),
                    (sm.Geometry(10, 10, 3, 3, 3, 1), 5, 3)]:
        s = sm.Streams(g, R, C, df)
        nil, nfl = (C, R) if df == "is" else (R, C)
        irow, frow, orow = np.empty(nil, np.int64), np.empty(nfl, np.int64), np.empty(C, np.int64)
        for fc in range(s.col_fold):
            for fr in range(s.row_fold):
                ifd, fd, ofd = s.fold(fc, fr)
                assert ifd.shape[0] == fd.shape[0] == ofd.shape[0] == s.fold_rows()
                ru, cu = min(R, s.Sr - fr * R), min(C, s.Sc - fc * C)
                for t in range(s.fold_rows()):
                    sk._demand({"ws": 0, "is": 1, "os": 2}[df], R, C, s.T, ru, cu, fr * R, fc * C, t,
                               s.ifm, s.flt, irow, frow, orow)
                    assert np.array_equal(irow, ifd[t]) and np.array_equal(frow, fd[t]) and \
                        np.array_equal(orow, ofd[t]), (g, R, C, fc, fr, t)
