"""Regressions found by the QA pass (each failed before its fix; fast, no tools run)."""
from rtl_gen.fpga import PnrResult


def test_pnr_render_without_fmax():
    """A combinational design (a decoder) routes with no clocked path: nextpnr reports no Fmax, and the
    report must say so instead of raising TypeError on None (hwsim rtl designs/dec_sf4.yaml --target
    ice40 --pnr)."""
    r = PnrResult("ice40", "dec_sf4", 500.0, "synth_ice40 -top {top}",
                  {"logic": 40, "ff": 0, "bram": 0, "dsp": 0, "io": 33}, device="iCE40HX1K tq144", fits=True,
                  utilisation={"ICESTORM_LC": {"used": 40, "available": 1280}}, fmax_mhz=None, status="ok")
    text = r.render()
    assert "Fmax: none reported" in text and "ICESTORM_LC 40/1280" in text
    r.fmax_mhz = 66.94
    assert "Fmax 66.9 MHz (FAILS 500 MHz)" in r.render()
