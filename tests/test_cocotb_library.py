"""The verification library on RTL hwsim did not generate: hand-written Verilog (tests/hdl/) -- an INT8
MAC (int20 accumulator) with valid/ready streams and an FP4 E2M1 decoder -- driven by testbenches' StreamDriver,
StreamMonitor, Scoreboard and run_comb with hwsim's vectors (expected values from the datatypes model).
A deliberately broken MAC (saturating instead of wrapping) must be caught by the scoreboard."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hwsim.arith import MacSpec, decode_table
from testbenches.verilator import verilator_environment
from testbenches.vectors import decoder_vectors, pe_vectors

HDL = Path(__file__).resolve().parent / "hdl"


def _run(tmp: Path, top: str, testcase: str, vectors, parameters=None) -> tuple[int, int]:
    import os
    import sys

    from cocotb_tools.runner import get_runner

    vpath = vectors.save(tmp / "vectors.npz")
    with verilator_environment(True):
        runner = get_runner("verilator")
        runner.build(sources=[HDL / f"{top}.v"], hdl_toplevel=top, build_dir=tmp / "build",
                     build_args=["--output-split", "0", "-Wno-fatal", "-CFLAGS", "-O0"],
                     parameters=parameters or {}, timescale=("1ns", "1ps"))
        xml = tmp / "results.xml"
        old = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join([str(HDL), str(Path(__file__).resolve().parents[1])])
        sys.path.insert(0, str(HDL))             # cocotb's runner passes the caller's sys.path on
        try:
            try:
                runner.test(test_module="tb_user_units", hdl_toplevel=top, hdl_toplevel_lang="verilog",
                            build_dir=tmp / "build", test_dir=tmp, testcase=testcase, results_xml=str(xml),
                            extra_env={"HWSIM_VECTORS": str(vpath)})
            except SystemExit:          # cocotb's runner exits non-zero when a test fails: read the XML
                pass
        finally:
            sys.path.remove(str(HDL))
            if old is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = old
    cases = ET.parse(xml).getroot().findall(".//testcase")
    return len(cases), sum(1 for c in cases if c.find("failure") is not None or c.find("error") is not None)


def _mac_vectors():
    # every pair, then a random stream whose packets wrap the 20-bit accumulator several times
    return pe_vectors(MacSpec.make("int8", "int8", "int20"), 1, seed=3, n_packets=12)


def test_hand_written_mac_passes(tmp_path):
    tests, failed = _run(tmp_path, "user_mac_int8", "mac_against_hwsim_vectors", _mac_vectors())
    assert (tests, failed) == (1, 0)


def test_broken_mac_is_caught(tmp_path):
    tests, failed = _run(tmp_path, "user_mac_int8", "mac_against_hwsim_vectors", _mac_vectors(),
                         parameters={"BROKEN": 1})
    assert (tests, failed) == (1, 1)


@pytest.mark.parametrize("fmt", ["fp4_basic"])
def test_hand_written_decoder_passes(tmp_path, fmt):
    tests, failed = _run(tmp_path, "user_e2m1_decoder", "decoder_against_hwsim_vectors",
                         decoder_vectors(decode_table(fmt, use_meta=False)))
    assert (tests, failed) == (1, 0)
