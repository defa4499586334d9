"""Exported cocotb regression suites run without hwsim, under Verilator and Icarus, and fail on a wrong
expected value (the self-checking cocotb test is the verdict, read from JUnit results.xml)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from hwsim import cli
from hwsim.design import load
from testbenches.export import export_suite
from testbenches.verilator import verilator_env

REPO = Path(__file__).resolve().parents[1]
HAVE_ICARUS = shutil.which("iverilog") is not None and shutil.which("vvp") is not None


def _blocker(tmp: Path) -> Path:
    """A directory whose hwsim/datatypes/rtl_gen/testbenches packages refuse to import: put first on
    PYTHONPATH, it proves the suite never imports them."""
    d = tmp / "block"
    for m in ("hwsim", "datatypes", "rtl_gen", "testbenches"):
        (d / m).mkdir(parents=True)
        (d / m / "__init__.py").write_text(f"raise ImportError('{m} must not be needed by an exported suite')\n")
    return d


def _run(suite: Path, sim: str, tmp: Path) -> tuple[int, str, tuple[int, int]]:
    env = dict(os.environ)
    env.update(verilator_env(True))              # ccache (when installed): see STABLE
    env["CCACHE_NOHASHDIR"] = "1"
    tmp.mkdir(parents=True, exist_ok=True)
    env["PYTHONPATH"] = str(_blocker(tmp)) if not (tmp / "block").exists() else str(tmp / "block")
    r = subprocess.run([sys.executable, "run.py", "--sim", sim], cwd=suite, env=env, capture_output=True,
                       text=True, timeout=600)
    xml = suite / "results.xml"
    cases = ET.parse(xml).getroot().findall(".//testcase") if xml.is_file() else []
    failed = sum(1 for c in cases if c.find("failure") is not None or c.find("error") is not None)
    return r.returncode, r.stdout + r.stderr, (len(cases), failed)


def _exported(name: str, tmp: Path) -> Path:
    suite = export_suite(load(REPO / "designs" / f"{name}.yaml"), tmp / "build")
    copy = tmp / f"{name}-suite"
    shutil.copytree(suite, copy)                  # runs from a copy, far from the build tree
    return copy


needs_icarus = pytest.mark.skipif(not HAVE_ICARUS, reason="Icarus Verilog not installed (setup.sh installs "
                                                          "Debian's iverilog when run as root)")


@pytest.fixture(scope="module")
def sa_suite(tmp_path_factory) -> Path:
    """The exported suite of a 2x2 weight-stationary array, copied away from the build tree."""
    return _exported("sa_ws_2x2_int8", tmp_path_factory.mktemp("sa"))


def test_exported_suite_passes_without_hwsim_under_verilator(sa_suite, tmp_path):
    assert {p.name for p in sa_suite.iterdir()} >= {"Makefile", "run.py", "README.md", "ports.json", "vectors.npz",
                                                      "rtl", "hwsim_tb"}
    rc, out, (tests, failed) = _run(sa_suite, "verilator", tmp_path)
    assert rc == 0 and tests == 1 and failed == 0, out[-3000:]
    assert "1 passed, 0 failed" in out


@needs_icarus
def test_exported_suite_passes_without_hwsim_under_icarus(sa_suite, tmp_path):
    rc, out, (tests, failed) = _run(sa_suite, "icarus", tmp_path)
    assert rc == 0 and tests == 1 and failed == 0, out[-3000:]


@needs_icarus
def test_exported_decoder_suite_under_icarus(tmp_path):
    suite = _exported("dec_e4m3", tmp_path)
    rc, out, (tests, failed) = _run(suite, "icarus", tmp_path)
    assert rc == 0 and tests == 1 and failed == 0, out[-3000:]


def test_exported_suite_catches_a_wrong_expected_value(sa_suite, tmp_path):
    """The scoreboard is the suite's own: flip one expected output and the cocotb test must fail."""
    test_exported_suite_passes_without_hwsim_under_verilator(sa_suite, tmp_path / "first")   # build once
    suite = tmp_path / "broken"
    shutil.copytree(sa_suite, suite)              # the Verilator build comes along (mtimes kept)
    z = dict(np.load(suite / "vectors.npz"))
    z["exp.outputs"] = z["exp.outputs"].copy()
    z["exp.outputs"][3] += 1
    np.savez(suite / "vectors.npz", **z)
    rc, out, (tests, failed) = _run(suite, "verilator", tmp_path)
    assert rc == 1 and tests == 1 and failed == 1, out[-3000:]
    assert "outputs[3]" in out


#: one small design of every other kind with RTL (the systolic and decoder suites are tested above)
KIND_DESIGNS = {"lutnet": "lutnet/jsc_s", "butterfly": "butterfly/bfly_engine_tiny",
                "bitserial": "bitserial/bitvert_2x2", "pim": "pim/hbm_pim_block2"}
#: per kind: an expected value to corrupt (array of vectors.npz, index) and what the failure must name
BREAK = {"lutnet": ("exp.outputs", (3, 1), "sample 3:"), "butterfly": ("exp.out_re", 5, "out_re[5]"),
         "bitserial": ("exp.outputs", 7, "outputs[6]"), "pim": ("exp.relu_even", (0, 0), "relu_even: 1 differ")}


#: where the kind suites run: a temporary directory whose path does not change between runs, because
#: Verilator writes the absolute path of the Verilog into the C++ model and ccache then misses on a new path
STABLE = Path(tempfile.gettempdir()) / f"hwsim-export-{hashlib.sha1(str(REPO).encode()).hexdigest()[:10]}"


@pytest.fixture(scope="module", params=list(KIND_DESIGNS))
def kind_suite(request, tmp_path_factory) -> tuple[str, Path]:
    """(kind, exported suite of its small design, in the build tree of a temporary directory)."""
    return request.param, export_suite(load(REPO / "designs" / f"{KIND_DESIGNS[request.param]}.yaml"),
                                       tmp_path_factory.mktemp(request.param) / "build")


def _copy(suite: Path, name: str) -> Path:
    """A copy of the suite far from the build tree (one directory per kind and simulator)."""
    copy = STABLE / name
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(suite, copy)
    return copy


def _corrupt(suite: Path, kind: str) -> str:
    """Change one expected value of the suite's vectors.npz; returns what the failure must name."""
    key, idx, names = BREAK[kind]
    z = dict(np.load(suite / "vectors.npz"))
    a = z[key].copy()
    if a.dtype.kind == "U":                       # wide integers, stored as decimal strings after a marker
        a[idx] = str(int(a[idx]) + 1)
    else:
        a[idx] ^= 1
    z[key] = a
    np.savez(suite / "vectors.npz", **z)
    return names


def test_exported_suite_of_every_kind_under_verilator(kind_suite, tmp_path):
    """The suite of each kind passes without hwsim, and fails, naming the value, when one expected value
    in vectors.npz is wrong (its cocotb test checks by itself)."""
    kind, exported = kind_suite
    suite = _copy(exported, f"{kind}-verilator")
    assert f"hwsim_tb.tb_{kind}" in (suite / "suite.json").read_text()
    rc, out, (tests, failed) = _run(suite, "verilator", tmp_path)
    assert rc == 0 and tests == 1 and failed == 0, out[-3000:]
    names = _corrupt(suite, kind)                 # same directory: the Verilator build is up to date
    rc, out, (tests, failed) = _run(suite, "verilator", tmp_path)
    assert rc == 1 and tests == 1 and failed == 1, out[-3000:]
    assert names in out, out[-3000:]


@needs_icarus
def test_exported_suite_of_every_kind_under_icarus(kind_suite, tmp_path):
    kind, exported = kind_suite
    rc, out, (tests, failed) = _run(_copy(exported, f"{kind}-icarus"), "icarus", tmp_path)
    assert rc == 0 and tests == 1 and failed == 0, out[-3000:]


def test_cli_rtl_testbench(tmp_path, capsys):
    rc = cli.main(["rtl", str(REPO / "designs" / "pe_int4asym_int8.yaml"), "--testbench", "-o", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0 and "cocotb regression suite:" in out
    suite = next(tmp_path.glob("pe_int4asym_int8-*/regression"))
    text = (suite / "Makefile").read_text()
    assert "COCOTB_TEST_MODULES = hwsim_tb.tb_pe" in text and "SIM ?= verilator" in text
    assert not any("import hwsim" in p.read_text() or "from hwsim" in p.read_text()
                   for p in (suite / "hwsim_tb").glob("*.py"))


def test_regress_table_junit_and_exit_code(tmp_path, capsys, monkeypatch):
    dec = str(REPO / "designs" / "dec_e4m3.yaml")
    rc = cli.main(["regress", dec, "--levels", "hwsim,amaranth", "-o", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0 and "2 passed, 0 failed" in out
    suite = ET.parse(tmp_path / "regress.xml").getroot().find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "0"
    # a level that disagrees fails the run, the table and the XML
    from testbenches import decoder
    from testbenches.vectors import CheckResult

    monkeypatch.setattr(decoder, "check", lambda vs, got, level: CheckResult(
        name=vs.name, backend=level, ok=level != "amaranth", vectors=vs.n, checked=vs.n, cycles=None,
        mismatches=[] if level != "amaranth" else ["value[0]: 1, expected 0"]))
    rc = cli.main(["regress", dec, "--levels", "hwsim,amaranth", "-o", str(tmp_path), "--junit",
                   str(tmp_path / "j.xml")])
    out = capsys.readouterr().out
    assert rc == 1 and "1 passed, 1 failed" in out and "FAIL" in out
    fails = ET.parse(tmp_path / "j.xml").getroot().findall(".//failure")
    assert len(fails) == 1 and "value[0]" in fails[0].text


def test_regress_catalog_covers_every_kind_with_rtl():
    from hwsim import kinds
    from hwsim.cli.rtl import catalog

    from hwsim.design import catalog as designs

    paths = catalog()
    assert {load(p).kind for p in paths} == {k.name for k in kinds.with_role("rtl") if k.bench} & \
        {d.kind for _, d in designs() if d.verify}
