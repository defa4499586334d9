"""hwsim sweep: sweep-file expansion, point validation, evaluation, the Parquet store (resume, corrupt
files), Pareto sets and the command line. In-process (``--inline``) only; the Dask paths are in
test_dse_dask.py."""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

import hwsim
from hwsim import cli
from hwsim.design import from_dict, load
from hwsim.dse import StoreError, SweepError
from hwsim.dse import evaluate as ev
from hwsim.dse.pareto import non_dominated
from hwsim.dse.report import write_report
from hwsim.dse.run import run_sweep
from hwsim.dse.spec import allowed_parameters, load_sweep, loads, make_points
from hwsim.dse.store import Store

ROOT = Path(__file__).resolve().parents[1]
BASE = {"schema": 1, "name": "sa_t", "kind": "systolic", "array": {"rows": 4, "cols": 4, "dataflow": "ws"},
        "operands": {"weight": "int8", "activation": "int8", "accumulator": "int32"},
        "memory": {"ifmap_kb": 64, "filter_kb": 64, "ofmap_kb": 64}}


def sweep_doc(parameters, workloads=("gemm:32,48,64",), **kw):
    return {"sweep": 1, "name": "t", "design": BASE, "parameters": parameters, "workloads": list(workloads), **kw}


def write(tmp_path: Path, doc, name="s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


# ---- expansion --------------------------------------------------------------------------------------
def test_product_zip_union_ranges():
    s = loads(sweep_doc({"array.rows": {"from": 2, "to": 16, "times": 2},
                         "array.cols": {"from": 4, "to": 12, "step": 4},
                         "zip": {"operands.weight": ["int4", "int8"], "memory.filter_kb": [32, 64]},
                         "union": [{"array.dataflow": ["ws"]}, {"array.dataflow": ["os", "is"],
                                                                "array.pe_latency": [2]}]}))
    rows, cols = [2, 4, 8, 16], [4, 8, 12]
    zipped = [("int4", 32), ("int8", 64)]
    union = [("ws", None), ("os", 2), ("is", 2)]
    want = []
    for r, c, (w, f), (d, lat) in itertools.product(rows, cols, zipped, union):
        p = {"array.rows": r, "array.cols": c, "operands.weight": w, "memory.filter_kb": f, "array.dataflow": d}
        if lat is not None:
            p["array.pe_latency"] = lat
        want.append(p)
    assert s.space == want
    assert s.n_points == len(want) == 4 * 3 * 2 * 3
    assert s.parameters == ["array.rows", "array.cols", "operands.weight", "memory.filter_kb", "array.dataflow",
                            "array.pe_latency"]


def test_product_operator_and_float_range():
    s = loads(sweep_doc({"product": [{"array.rows": [2, 4]}, {"clock_mhz": {"from": 100, "to": 200, "step": 50.0}}]}))
    assert [(p["array.rows"], p["clock_mhz"]) for p in s.space] == [(2, 100), (2, 150), (2, 200), (4, 100),
                                                                    (4, 150), (4, 200)]


def test_allowed_parameters_come_from_the_kind():
    names = allowed_parameters(load(ROOT / "designs/sa_ws_4x4_int8.yaml"))
    assert {"array.rows", "array.dataflow", "operands.weight", "memory.backing", "energy.mac_pj", "clock_mhz"} <= set(names)
    assert "schema" not in names and "kind" not in names
    assert "decoder.format" in allowed_parameters(load(ROOT / "designs/dec_sf4.yaml"))


@pytest.mark.parametrize("params, msg", [
    ({"array.rowz": [4]}, "parameters.array.rowz: unknown parameter (did you mean array.rows?); allowed: array.cols"),
    ({"bogus": [1]}, "parameters.bogus: unknown parameter"),
    ({"array.rows": []}, "parameters.array.rows = []: empty list"),
    ({"array.rows": {"from": 8, "to": 4, "step": 1}}, "empty range (from 8 > to 4)"),
    ({"array.rows": {"from": 8, "to": 4}}, "a range is {from: A, to: B, step: S}"),
    ({"array.rows": {"from": 1, "to": 4, "times": 1}}, "times = 1: must be > 1"),
    ({"array.rows": {"from": 1, "to": 4, "step": 0}}, "step = 0: must be > 0"),
    ({"array.rows": 4}, "expected a list of values or a range"),
    ({"zip": {"array.rows": [1, 2], "array.cols": [1, 2, 3]}}, "zip: entries have different lengths (2, 3)"),
    ({"union": []}, "expected a non-empty list"),
    ({}, None),
])
def test_bad_parameters(params, msg):
    if msg is None:                 # no parameters: the base design alone
        assert loads(sweep_doc(params)).space == [{}]
        return
    with pytest.raises(SweepError) as e:
        loads(sweep_doc(params), "s.yaml")
    assert msg in str(e.value) and str(e.value).startswith("s.yaml: ")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("change, msg", [
    ({"sweep": 2}, "sweep = 2: expected 1"),
    ({"workloads": []}, "workloads = []: empty"),
    ({"workloads": ["gemm:1,2"]}, "workloads: workload 'gemm:1,2': missing K"),
    ({"workloads": ["gemm:4,4,4", "gemm:4,4,4"]}, "is listed twice"),
    ({"mode": "fast"}, "mode = 'fast': allowed: analytical, cycle"),
    ({"max_points": 0}, "max_points = 0: expected a positive integer"),
    ({"extra": 1}, "extra: unknown key"),
    ({"base": "x.yaml"}, "give exactly one of base"),
    ({"name": "../up"}, "name = '../up': expected letters, digits"),
])
def test_bad_sweep_file(change, msg):
    doc = sweep_doc({"array.rows": [4]})
    doc.update(change)
    with pytest.raises(ValueError) as e:
        loads(doc, "s.yaml")
    assert msg in str(e.value)


def test_base_file_relative_to_the_sweep(tmp_path):
    doc = sweep_doc({"array.rows": [2]})
    del doc["design"]
    doc["base"] = str(Path("..") / ROOT.name / "designs" / "sa_ws_4x4_int8.yaml")
    (tmp_path / "sub").mkdir()
    p = write(tmp_path / "sub", doc)
    doc["base"] = str(ROOT / "designs" / "sa_ws_4x4_int8.yaml")
    s = load_sweep(write(tmp_path, doc, "abs.yaml"))
    assert s.base.name == "sa_ws_4x4_int8"
    with pytest.raises(ValueError, match="no such design file"):
        load_sweep(p)


def test_points_are_built_by_the_design_schema():
    s = loads(sweep_doc({"array.rows": [0, 4], "operands.weight": ["int4", "nope"]}))
    pts = make_points(s)
    assert len(pts) == 4
    good = [p for p in pts if p.valid]
    assert len(good) == 1 and good[0].params == {"array.rows": 4, "operands.weight": "int4"}
    want = from_dict({**BASE, "array": {**BASE["array"], "rows": 4}, "operands": {**BASE["operands"], "weight": "int4"}})
    assert good[0].design_hash == want.hash and good[0].design == want.resolved()
    reasons = [p.reason for p in pts if not p.valid]
    assert any("array.rows = 0: must be > 0" in r for r in reasons)
    assert any("operands.weight = 'nope'" in r for r in reasons)
    assert len({p.design_hash for p in pts}) == 4


# ---- Pareto -----------------------------------------------------------------------------------------
def brute_force(x):
    n = len(x)
    out = np.ones(n, bool)
    for i in range(n):
        if np.isnan(x[i]).any():
            out[i] = False
            continue
        for j in range(n):
            if j != i and not np.isnan(x[j]).any() and np.all(x[j] <= x[i]) and np.any(x[j] < x[i]):
                out[i] = False
                break
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [1, 2, 3])
def test_non_dominated_matches_the_definition(seed, k):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, size=(150, k)).astype(float)       # many ties and duplicates
    x[rng.integers(0, 150, 5), rng.integers(0, k, 5)] = np.nan
    assert np.array_equal(non_dominated(x), brute_force(x))


def test_non_dominated_small_cases():
    assert non_dominated(np.empty((0, 2))).tolist() == []
    assert non_dominated([[1, 5], [2, 2], [5, 1], [3, 3], [2, 2]]).tolist() == [True, True, True, False, True]
    with pytest.raises(ValueError):
        non_dominated([1, 2, 3])


# ---- evaluation and the store -----------------------------------------------------------------------
def test_evaluate_matches_the_public_api():
    d = from_dict(BASE)
    row = ev.evaluate(d.resolved(), d.hash, "gemm:32,48,64", "analytical", {})
    want = hwsim.build(d).run("gemm:32,48,64", mode="analytical").to_dict()["stats"]
    assert row["status"] == "ok" and row["attempts"] == 1
    assert row["cycles"] == want["cycles"] and row["macs"] == want["macs"] == 32 * 48 * 64
    assert row["energy_pj"] == want["energy_pj_estimate"]["total_pj"]
    assert row["utilization"] == want["utilization"]
    assert json.loads(row["stats"])["cycles"] == want["cycles"]
    assert row["key"] == f"{d.hash}|gemm:32,48,64|analytical"
    # the weight-error metric: int8 per-row quantization of the seeded tensor, derived independently
    import datatypes as dt

    w = np.random.default_rng(0).standard_normal(ev.ERROR_TENSOR).astype(np.float32)
    q = dt.quantize(w, "int8", group_size=None)
    err = q.dequantize().astype(np.float64) - w
    assert row["bits_per_weight"] == q.bits_per_element()
    assert row["weight_rel_mse"] == pytest.approx(float((err ** 2).sum() / (w.astype(np.float64) ** 2).sum()), rel=1e-12)


def test_cycle_mode_point_equals_analytical():
    d = from_dict(BASE)
    a = ev.evaluate(d.resolved(), d.hash, "gemm:8,8,8", "analytical", {})
    c = ev.evaluate(d.resolved(), d.hash, "gemm:8,8,8", "cycle", {})
    assert c["status"] == "ok" and json.loads(c["stats"])["verified"] is True
    assert c["cycles"] == a["cycles"] and c["key"] != a["key"]


def test_invalid_and_failed_points(monkeypatch):
    d = from_dict({**BASE, "memory": {"ifmap_kb": 1, "filter_kb": 1, "ofmap_kb": 1, "backing": "none"}})
    row = ev.evaluate(d.resolved(), d.hash, "gemm:64,64,64", "analytical", {})
    assert row["status"] == "invalid" and "does not fit the memory" in row["reason"] and row["attempts"] == 1
    d = from_dict(BASE)
    calls = []
    real = hwsim.build

    def flaky(design):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("transient")
        return real(design)

    monkeypatch.setattr(hwsim, "build", flaky)
    row = ev.evaluate(d.resolved(), d.hash, "gemm:8,8,8", "analytical", {})
    assert row["status"] == "ok" and row["attempts"] == 2

    def broken(design):
        raise RuntimeError("always")

    monkeypatch.setattr(hwsim, "build", broken)
    row = ev.evaluate(d.resolved(), d.hash, "gemm:8,8,8", "analytical", {})
    assert row["status"] == "failed" and row["attempts"] == 2 and row["reason"] == "RuntimeError: always"


def _sweep(tmp_path, params=None, **kw):
    params = params or {"array.rows": [2, 4, 8], "array.cols": [4, 8], "array.dataflow": ["ws", "os"]}
    return load_sweep(write(tmp_path, sweep_doc(params, **kw)))


def test_run_resume_and_report(tmp_path):
    out = tmp_path / "out"
    s = _sweep(tmp_path, {"array.rows": [2, 4, 8], "array.cols": [4, 8], "array.dataflow": ["ws", "os"],
                          "operands.accumulator": ["int32", "int8"]},
               workloads=["gemm:32,48,64", "gemm:1,256,128"])
    r = run_sweep(s, out, backend="inline", progress=False, chunk_size=7, flush_every=10)
    assert (r.total, r.evaluated, r.skipped) == (48, 48, 0)
    assert r.ok == 24 and r.invalid == 24 and r.failed == 0      # int8 accumulators cannot hold int8 x int8
    assert sum(r.invalid_reasons.values()) == 24 and len(r.invalid_reasons) == 1
    rows = Store(out).latest_points()
    assert len(rows) == 48 and len(Store(out).points.files()) >= 3
    for row in rows:
        p = json.loads(row["params"])
        if p["operands.accumulator"] == "int8":
            assert row["status"] == "invalid" and "operands.accumulator = 'int8'" in row["reason"]
            continue
        d = from_dict({**BASE, "array": {**BASE["array"], "rows": p["array.rows"], "cols": p["array.cols"],
                                         "dataflow": p["array.dataflow"]}})
        assert row["design_hash"] == d.hash
        assert row["cycles"] == hwsim.build(d).run(row["workload"], mode="analytical").cycles
    # resume: nothing left to do
    r2 = run_sweep(s, out, backend="inline", progress=False)
    assert (r2.evaluated, r2.skipped) == (0, 48)
    # a lost part file: exactly its points are evaluated again
    lost = Store(out).points.files()[1]
    n_lost = len(Store(out).points.read().slice(0, 0)) + __import__("pyarrow.parquet").parquet.read_table(lost).num_rows
    lost.unlink()
    r3 = run_sweep(s, out, backend="inline", progress=False)
    assert (r3.evaluated, r3.skipped) == (n_lost, 48 - n_lost)
    assert len(Store(out).latest_points()) == 48
    text, paths = write_report(out)
    assert text.startswith("48 points: 24 ok, 24 invalid, 0 failed")
    assert "24 x " in text and "operands.accumulator = 'int8'" in text
    assert {p.name for p in paths} >= {"report.txt", "pareto.csv", "pareto-0.png", "pareto-1.png", "formats-0.png"}
    # the Pareto table is the non-dominated set of the stored points, per workload
    for w in ("gemm:32,48,64", "gemm:1,256,128"):
        ok = [x for x in Store(out).latest_points() if x["status"] == "ok" and x["workload"] == w]
        nd = brute_force(np.array([[x["cycles"], x["energy_pj"]] for x in ok], float))
        front = {x["design_hash"] for x, m in zip(ok, nd) if m}
        csv_rows = list(csv.reader(io.StringIO((out / "pareto.csv").read_text())))[1:]
        assert {c[-2] for c in csv_rows if c[0] == "design" and c[1] == w} == front


def test_failed_points_are_retried_on_rerun(tmp_path, monkeypatch):
    out = tmp_path / "out"
    s = _sweep(tmp_path)
    monkeypatch.setattr(hwsim, "build", lambda d: (_ for _ in ()).throw(RuntimeError("down")))
    r = run_sweep(s, out, backend="inline", progress=False)
    assert r.failed == 12 and r.ok == 0
    monkeypatch.undo()
    r = run_sweep(s, out, backend="inline", progress=False)
    assert r.ok == 12 and r.skipped == 0
    assert {x["status"] for x in Store(out).latest_points()} == {"ok"}


def test_corrupt_dataset_is_an_error_naming_the_file(tmp_path):
    out = tmp_path / "out"
    s = _sweep(tmp_path)
    run_sweep(s, out, backend="inline", progress=False)
    bad = out / "points" / "part-9.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    before = sorted(p.name for p in (out / "points").iterdir())
    with pytest.raises(StoreError, match=f"{bad}: not a readable Parquet file"):
        run_sweep(s, out, backend="inline", progress=False)
    assert sorted(p.name for p in (out / "points").iterdir()) == before      # nothing recomputed over it
    rc = cli.main(["sweep", str(tmp_path / "s.yaml"), "-o", str(out), "--inline"])
    assert rc == 2
    bad.unlink()
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"x": [1]}), out / "points" / "part-8.parquet")
    with pytest.raises(StoreError, match="part-8.parquet: not a sweep result file"):
        run_sweep(s, out, backend="inline", progress=False)


def test_point_limit(tmp_path):
    p = write(tmp_path, sweep_doc({"array.rows": [2, 4, 8], "array.cols": [4, 8], "array.dataflow": ["ws", "os"]},
                                  max_points=10))
    with pytest.raises(SweepError, match="12 points .* exceed the limit of 10; pass --max-points 12"):
        load_sweep(p)
    s = load_sweep(p, max_points=12)
    with pytest.raises(SweepError, match="12 points .* exceed the limit of 10"):
        run_sweep(s, tmp_path / "out", backend="inline", progress=False)
    assert not (tmp_path / "out").exists()
    assert run_sweep(s, tmp_path / "out", backend="inline", progress=False, max_points=12).ok == 12


def test_a_huge_space_is_refused_before_it_is_expanded():
    doc = sweep_doc({"array.rows": {"from": 1, "to": 1000, "step": 1}, "array.cols": {"from": 1, "to": 1000, "step": 1},
                     "zip": {"clock_mhz": {"from": 1, "to": 100000, "step": 1},
                             "memory.ifmap_kb": {"from": 1, "to": 100000, "step": 1}}})
    with pytest.raises(SweepError, match="100,000,000,000 points .* exceed the limit of 100,000"):
        loads(doc, "s.yaml")
    with pytest.raises(SweepError, match="2,000,000,001 values; a range has at most 1,000,000"):
        loads(sweep_doc({"clock_mhz": {"from": 0, "to": 2000, "step": 1e-6}}), "s.yaml")


def test_sweep_yaml_is_read_safely(tmp_path):
    p = tmp_path / "dup.yaml"
    p.write_text("sweep: 1\nsweep: 1\n")
    with pytest.raises(ValueError, match="dup.yaml:2: not valid YAML: duplicate key 'sweep'"):
        load_sweep(p)


def test_kind_without_simulator_needs_area(tmp_path):
    doc = {"sweep": 1, "base": str(ROOT / "designs/dec_sf4.yaml"), "parameters": {"decoder.format": ["int4"]}}
    s = load_sweep(write(tmp_path, doc))
    with pytest.raises(SweepError, match="kind decoder has no simulator; --area sweeps its RTL area"):
        run_sweep(s, tmp_path / "out", backend="inline", progress=False)
    doc["workloads"] = ["gemm:4,4,4"]
    with pytest.raises(SweepError, match="kind decoder has no simulator"):
        load_sweep(write(tmp_path, doc))


# ---- command line ---------------------------------------------------------------------------------
def test_cli_sweep_and_report(tmp_path, capsys):
    p = write(tmp_path, sweep_doc({"array.rows": [2, 4], "array.cols": [4]}))
    out = tmp_path / "out"
    assert cli.main(["sweep", str(p), "-o", str(out), "--inline", "--no-plot", "-q"]) == 0
    o = capsys.readouterr().out
    assert "2 points: 0 finished earlier (skipped), 2 evaluated" in o and "2 ok, 0 invalid, 0 failed" in o
    assert (out / "sweep.yaml").read_text() == p.read_text()
    assert cli.main(["sweep", str(p), "-o", str(out), "--inline", "--no-plot", "-q"]) == 0
    assert "2 finished earlier (skipped), 0 evaluated" in capsys.readouterr().out
    assert cli.main(["sweep", "--report", str(out), "--no-plot"]) == 0
    assert "2 points: 2 ok, 0 invalid, 0 failed" in capsys.readouterr().out


@pytest.mark.parametrize("argv, msg", [
    (["--report", "NOPE"], "NOPE: no sweep results here"),
    ([], "give a sweep file"),
    (["SWEEP", "--max-points", "1"], "2 points (designs x workloads) exceed the limit of 1"),
    (["SWEEP", "--inline", "--workers", "2"], "--inline runs in this process"),
    (["missing.yaml"], "missing.yaml: no such sweep file"),
    (["SWEEP", "--area", "--target", "asic"], "--target 'asic': allowed xc7"),
])
def test_cli_bad_input(tmp_path, capsys, argv, msg):
    p = write(tmp_path, sweep_doc({"array.rows": [2, 4]}))
    argv = [str(p) if a == "SWEEP" else str(tmp_path / a) if a in ("NOPE", "missing.yaml") else a for a in argv]
    assert cli.main(["sweep", *argv, "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hwsim sweep: error: ") and msg in err[0]
    assert not (tmp_path / "out").exists()


def test_bundled_example_expands():
    s = load_sweep(ROOT / "designs/sweeps/bitmod_like.yaml")
    assert s.n_points == 4 * 4 * 2 * 7 * 2 and s.n_points <= s.max_points
    pts = make_points(s)
    assert all(p.valid for p in pts)
    assert {p.design["operands"]["weight"] for p in pts} == {"int3", "bitmod.fp3", "int4", "fp4_basic",
                                                             "bitmod.fp4", "int6", "float6_e3m2fn"}


# ---- area ------------------------------------------------------------------------------------------
def test_area_joins_the_points_and_adds_an_objective(tmp_path):
    """The Pareto front in (cycles, energy, LUT) of points joined with per-design area rows (the area
    task is replaced by a stand-in here; the real synthesis is test_area_of_a_decoder_sweep)."""
    calls = []

    def fake_area(design, h, build_root, target="xc7", params=None):
        calls.append(h)
        a = design["array"]
        return {"design_hash": h, "design": design["name"], "target": target, "status": "ok", "reason": "",
                "params": json.dumps(params, sort_keys=True), "lut": 50 * a["rows"] * a["cols"] + 7 * (a["dataflow"] == "os"),
                "ff": 9 * a["rows"] * a["cols"], "carry": 0, "dsp": 0, "ram": 0, "seconds": 0.0}

    s = _sweep(tmp_path, workloads=["gemm:32,48,64", "gemm:1,64,64"])
    out = tmp_path / "out"
    r = run_sweep(s, out, backend="inline", progress=False, area=fake_area)
    assert r.ok == 24 and len(calls) == 12 == r.area_evaluated        # one area per distinct design
    r = run_sweep(s, out, backend="inline", progress=False, area=fake_area)
    assert r.evaluated == 0 and len(calls) == 12                       # cached by design hash
    text, _ = write_report(out, plots=True)
    assert "non-dominated in (cycles, energy_pj, lut" in text and "area (Yosys, xc7) of 12 distinct designs" in text
    area = Store(out).latest_area()
    rows_csv = list(csv.reader(io.StringIO((out / "pareto.csv").read_text())))[1:]
    for w in ("gemm:32,48,64", "gemm:1,64,64"):
        ok = [x for x in Store(out).latest_points() if x["workload"] == w]
        x = np.array([[p["cycles"], p["energy_pj"], area[p["design_hash"]]["lut"]] for p in ok], float)
        front = {p["design_hash"] for p, m in zip(ok, brute_force(x)) if m}
        assert {c[-2] for c in rows_csv if c[0] == "design" and c[1] == w} == front
    assert (out / "pareto-0.png").stat().st_size > 0


def test_area_of_a_decoder_sweep(tmp_path, capsys):
    """A kind without a simulator: the sweep is its Yosys area, once per distinct design."""
    doc = {"sweep": 1, "base": str(ROOT / "designs/dec_sf4.yaml"), "parameters": {"decoder.format": ["int4"]}}
    p = write(tmp_path, doc)
    out = tmp_path / "out"
    assert cli.main(["sweep", str(p), "-o", str(out), "--inline", "--area", "-q", "--no-plot"]) == 0
    assert "1 RTL area(s) synthesized" in capsys.readouterr().out
    (row,) = Store(out).latest_area().values()
    d = from_dict({**yaml.safe_load((ROOT / "designs/dec_sf4.yaml").read_text()), "decoder": {"format": "int4"}})
    assert row["design_hash"] == d.hash and row["status"] == "ok", row
    cached = json.loads((out / "build" / f"{d.name}-{d.hash}" / "area-xc7.json").read_text())
    assert (row["lut"], row["ff"], row["carry"], row["dsp"]) == (cached["lut"], cached["ff"], cached["carry"], cached["dsp"])
    assert cli.main(["sweep", str(p), "-o", str(out), "--inline", "--area", "-q", "--no-plot"]) == 0
    o = capsys.readouterr().out
    assert "1 finished earlier (skipped)" in o and "synthesized" not in o.splitlines()[0]
    assert "decoder.format" in o and "int4" in o


def test_progress_line():
    from hwsim.dse.run import Progress

    buf = io.StringIO()
    bar = Progress(4, stream=buf, every=0.0)
    bar.update([{"status": "ok"}, {"status": "failed"}])
    bar.update([{"status": "invalid"}, {"status": "ok"}])
    bar.update([], force=True)                     # nothing new: no repeated line
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("sweep 2/4 done  1 failed  0 invalid  ") and "pt/s  ETA " in lines[0]
    assert lines[1].startswith("sweep 4/4 done  1 failed  1 invalid  ") and lines[1].endswith("ETA 0 s")


def test_duplicate_designs_are_evaluated_once(tmp_path):
    # array.pe_latency 1 is the default: the two values make the same design (same hash)
    s = _sweep(tmp_path, {"array.rows": [2, 4], "union": [{"array.pe_latency": [1]}, {"clock_mhz": [500]}]})
    r = run_sweep(s, tmp_path / "out", backend="inline", progress=False)
    assert r.total == 4 and r.evaluated == 2 and r.duplicates == 2
    assert len(Store(tmp_path / "out").latest_points()) == 2


def test_modes_are_reported_separately(tmp_path):
    s = _sweep(tmp_path, {"array.rows": [2, 4]}, workloads=["gemm:8,8,8"])
    out = tmp_path / "out"
    run_sweep(s, out, backend="inline", progress=False)
    r = run_sweep(s, out, backend="inline", progress=False, mode="cycle")
    assert r.evaluated == 2 and r.skipped == 0            # the key includes the mode
    text, _ = write_report(out, plots=False)
    assert "workload gemm:8,8,8 [analytical]: " in text and "workload gemm:8,8,8 [cycle]: " in text
    rows = Store(out).latest_points()
    by = {(json.loads(x["params"])["array.rows"], x["mode"]): x["cycles"] for x in rows}
    assert by[(2, "cycle")] == by[(2, "analytical")] and by[(4, "cycle")] == by[(4, "analytical")]


def test_sweep_front_without_energy():
    """A kind that reports no energy (hsa): the design front is over cycles alone (was: every point has a
    NaN objective, so '0 of 3 designs non-dominated' and an empty table in hwsim sweep's report)."""
    from hwsim.dse.report import fronts, render

    rows = [dict(status="ok", design_hash=f"h{i}", workload="gemv:64,64", mode="analytical", cycles=c,
                 energy_pj=None, utilization=0.5, weight_format=None, bits_per_weight=None,
                 _params={"decode.lanes": i}) for i, c in enumerate([300, 100, 200])]
    fr = fronts(rows, {})
    assert fr[0]["objectives"] == ["cycles"] and [r["cycles"] for r in fr[0]["rows"]] == [100]
    assert "1 of 3 designs non-dominated in (cycles; no energy reported)" in render(rows, {}, fr)
    rows[0]["energy_pj"] = 5.0           # one point with energy: the usual two objectives
    assert fronts(rows, {})[0]["objectives"] == ["cycles", "energy_pj"]
