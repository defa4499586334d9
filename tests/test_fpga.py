"""Place and route (rtl_gen.fpga, ``hwsim rtl --pnr``): the resource check names what a part lacks before
nextpnr starts, ECP5 logic counts the carry cells' LUT4 halves, iCE40 up5k synthesizes with -dsp, the
constraint files sit next to the Verilog, and a small PE routes on an iCE40UP5K with its multiplier in
an SB_MAC16 (one real Yosys + nextpnr run, a few seconds, cached in build/test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwsim import cli
from hwsim.design import load
from rtl_gen.area import Area
from rtl_gen.errors import RTLError
from rtl_gen.fpga import DEVICES, lookup, needs, place_and_route, shortfalls, synth_command, write_constraints
from rtl_gen.verilog import emit

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build" / "test"


def _area(target, cells, ff=0):
    return Area(target=target, top="t", lut=0, ff=ff, carry=0, dsp=0, bram=0, lutram=0, mux=0, other=0, cells=cells)


def test_ecp5_logic_counts_carry_halves_like_nextpnr():
    a = _area("ecp5", {"LUT4": 100, "CCU2C": 30, "TRELLIS_FF": 50, "DP16KD": 3, "MULT18X18D": 2}, ff=50)
    assert needs(a, 40) == {"logic": 160, "ff": 50, "bram": 3, "dsp": 2, "io": 40}


def test_shortfalls_name_every_short_resource():
    dev = next(d for d in DEVICES["ice40"] if d.name == "up5k")
    need = {"logic": 6000, "ff": 10, "bram": 31, "dsp": 8, "io": 83}
    assert shortfalls(need, dev) == ["LUTs 6000 > 5280", "BRAM 31 > 30", "IO pins 83 > 39"]
    assert shortfalls({"logic": 1, "ff": 1, "bram": 0, "dsp": 0, "io": 39}, dev) == []


def test_dsp_only_on_parts_with_mac16():
    up5k, hx8k = lookup("ice40", "up5k", None)[0], lookup("ice40", "hx8k", "ct256")[0]
    assert "-dsp" in synth_command("ice40", up5k) and "-dsp" not in synth_command("ice40", hx8k)
    assert hx8k.io == 206 and lookup("ecp5", "LFE5U-85F", "cabga756")[0].io == 365


@pytest.mark.parametrize("family, device, package, match", [
    ("ice40", "hx9k", None, "ice40 devices: hx1k, hx8k, up5k"),
    ("ice40", "up5k", "ct256", "packages: sg48, uwg30"),
    ("xc7", None, None, "allowed ice40, ecp5"),
])
def test_bad_part_is_refused(family, device, package, match):
    with pytest.raises(RTLError, match=match):
        lookup(family, device, package)


def test_cli_refuses_pnr_on_xc7(capsys):
    assert cli.main(["rtl", str(REPO / "designs" / "dec_e4m3.yaml"), "--pnr", "-o", str(BUILD)]) == 2
    assert "xc7 and generic have no open place and route" in capsys.readouterr().err


def test_constraint_files(tmp_path):
    ports = {"clock": "clk", "ports": [{"name": "clk", "direction": "input", "width": 1},
                                       {"name": "bus__adr", "direction": "input", "width": 3}]}
    pcf, = [p for p in write_constraints(tmp_path, "t", ports, "ice40", 48.0, None) if p.suffix == ".pcf"]
    text = pcf.read_text().splitlines()
    assert "set_frequency clk 48" in text
    assert [ln for ln in text if ln.startswith("# set_io")] == [
        "# set_io clk <site>", "# set_io bus__adr[0] <site>", "# set_io bus__adr[1] <site>", "# set_io bus__adr[2] <site>"]
    lpf = [p for p in write_constraints(tmp_path, "t", ports, "ecp5", 48.0, None) if p.suffix == ".lpf"][0]
    assert 'FREQUENCY PORT "clk" 48 MHZ;' in lpf.read_text()
    assert "create_clock -name clk -period 20.833 [get_ports clk]" in (tmp_path / "t.sdc").read_text()


def test_short_part_refused_before_nextpnr():
    """pe_sf4_int8 has 59 pins: up5k sg48 (39) is refused, naming the pins, and nextpnr never runs."""
    art = emit(load(REPO / "designs" / "pe_sf4_int8.yaml"), BUILD)
    r = place_and_route(art.directory, art.top, "ice40", device="up5k", clock_mhz=25)
    assert not r.fits and r.status == "does not fit" and r.short == ["IO pins 59 > 39"]
    assert not r.utilisation and r.fmax_mhz is None
    assert "does not fit iCE40UP5K sg48: IO pins 59 > 39" in r.render()


def test_pe_routes_on_up5k_with_mac16(capsys):
    """``hwsim rtl --target ice40 --device up5k --pnr``: the multiplier goes to SB_MAC16 (-dsp), all 39 pins
    of the sg48 package are used, nextpnr reports utilisation and an Fmax; constraints beside the Verilog."""
    path = REPO / "designs" / "pe_int4asym_int8.yaml"
    rc = cli.main(["rtl", str(path), "--target", "ice40", "--device", "up5k", "--pnr", "--clock-mhz", "30",
                   "-o", str(BUILD)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "synth_ice40 -flatten -dsp" in out and "device iCE40UP5K sg48" in out
    d = emit(load(path), BUILD).directory
    rep = json.loads((d / "pnr-ice40-up5k-sg48.json").read_text())
    assert rep["fits"] and rep["status"] == "ok" and rep["need"]["dsp"] >= 1
    assert rep["utilisation"]["ICESTORM_DSP"]["used"] == rep["need"]["dsp"]
    assert rep["utilisation"]["SB_IO"] == {"used": 39, "available": 39}
    assert rep["utilisation"]["ICESTORM_LC"]["used"] >= rep["need"]["logic"]      # the check is a lower bound
    assert rep["fmax_mhz"] > 0 and f"Fmax {rep['fmax_mhz']:.1f} MHz" in out
    assert "set_frequency clk 30" in (d / "pe_int4asym_int8.pcf").read_text()


def test_pnr_render_without_fmax():
    """A combinational design (a decoder) routes with no clocked path: nextpnr reports no Fmax, and the
    report must say so instead of raising TypeError on None (hwsim rtl designs/dec_sf4.yaml --target
    ice40 --pnr)."""
    from rtl_gen.fpga import PnrResult

    r = PnrResult("ice40", "dec_sf4", 500.0, "synth_ice40 -top {top}",
                  {"logic": 40, "ff": 0, "bram": 0, "dsp": 0, "io": 33}, device="iCE40HX1K tq144", fits=True,
                  utilisation={"ICESTORM_LC": {"used": 40, "available": 1280}}, fmax_mhz=None, status="ok")
    text = r.render()
    assert "Fmax: none reported" in text and "ICESTORM_LC 40/1280" in text
    r.fmax_mhz = 66.94
    assert "Fmax 66.9 MHz (FAILS 500 MHz)" in r.render()
    assert not r.meets_clock and r.to_dict()["meets_clock"] is False
    r.fmax_mhz = 512.0
    assert r.meets_clock and "Fmax 512.0 MHz (meets 500 MHz)" in r.render()


def test_cli_exits_1_when_the_clock_is_missed(monkeypatch, capsys):
    """A routed design whose Fmax misses the clock constraint is a failure of `hwsim rtl --pnr` (exit 1, one
    line on stderr), as a design that does not fit is; meeting it exits 0."""
    import rtl_gen.fpga as fpga

    def fake(directory, top, family, device=None, package=None, clock_mhz=50.0, **kw):
        return fpga.PnrResult(family, top, clock_mhz, "synth_ice40 -top {top}",
                              {"logic": 40, "ff": 8, "bram": 0, "dsp": 0, "io": 30}, device="iCE40HX1K tq144",
                              fits=True, utilisation={"ICESTORM_LC": {"used": 40, "available": 1280}},
                              fmax_mhz=80.0, status="ok")

    monkeypatch.setattr(fpga, "place_and_route", fake)
    path = str(REPO / "designs" / "pe_int4asym_int8.yaml")
    assert cli.main(["rtl", path, "--target", "ice40", "--pnr", "--clock-mhz", "100", "-o", str(BUILD)]) == 1
    cap = capsys.readouterr()
    assert "FAILS 100 MHz" in cap.out and "Fmax 80.0 MHz misses the 100 MHz clock" in cap.err
    assert cli.main(["rtl", path, "--target", "ice40", "--pnr", "--clock-mhz", "75", "-o", str(BUILD)]) == 0
