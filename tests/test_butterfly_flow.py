"""The butterfly flow step and the dense comparison (systolic kind through hwsim.build(...).run(...)),
and the kind's registration."""

from __future__ import annotations

from hwsim import kinds
from hwsim.butterfly.compare import compare, dense_workloads
from hwsim.butterfly.flow import step


def test_registered():
    k = kinds.get("butterfly")
    assert k.compat == {"butterfly-acc": "SamsungLabs/Butterfly_Acc 1bb951f"}
    assert set(k.sections) == {"processor", "memory", "arith", "compat", "energy"}
    from hwsim.design import from_dict
    sim = k.load("simulator")(from_dict({"schema": 1, "name": "x", "kind": "butterfly",
                                         "processor": {"engines": 2}}))
    assert sim.run("fft:64,batch=3").cycles > 0


def test_compare_uses_both_kinds():
    c = compare(seq=128, hidden=256, ffn=1024, layers=2)
    b, dense = c["butterfly"], c["dense"]
    assert b["cycles"] > 0 and set(dense) == {"bert", "fnet-dense"}
    for d in dense.values():
        assert d["cycles"] > 0 and d["dram_bytes"] > 0
        assert abs(d["speedup_cycle"] - d["cycles"] / b["cycles"]) < 1e-9
    w = dense_workloads(128, 256, 1024, 2)
    assert w["fnet-dense"].count("gemm:") == 4


def test_flow_step_model_levels(tmp_path):
    r = step(root=tmp_path, levels=("model", "hwsim"), lengths=(4, 16))
    assert r["ok"] and "PASS" in r["text"] and "speed-up" in r["text"]


def test_plots_written(tmp_path):
    from hwsim.butterfly.report import plots
    from hwsim.butterfly.sim import build
    r = build({"schema": 1, "name": "p", "kind": "butterfly", "processor": {"engines": 8}}).run("fabnet:image")
    paths = plots(r, tmp_path)
    assert paths and all(p.is_file() and p.stat().st_size > 1000 for p in paths)


def test_cli_simulate_and_one_line_errors(tmp_path, capsys):
    import json
    from pathlib import Path

    from hwsim import cli
    design = str(Path(__file__).resolve().parents[1] / "designs/butterfly/bfly_vcu128_be120.yaml")
    out = tmp_path / "run"
    assert cli.main(["simulate", design, "-w", "fabnet:base", "--compat", "butterfly-acc", "-o", str(out),
                     "--no-plot"]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["compat"]["butterfly-acc"]["overall_latency_ms"] == 1.9968000000000001   # speed_benchmark_sim.sh
    assert rep["stats"]["cycles"] > 0 and len(rep["layers"]) == 4
    capsys.readouterr()
    for w in ("fft:8192", "fabnet:hidden=1024,ffn=256,seq=128,layers=1", "gemm:1,2,3"):
        assert cli.main(["simulate", design, "-w", w, "--compat", "butterfly-acc", "-o", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "Traceback" not in err[0]
