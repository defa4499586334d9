"""Regressions found by the QA pass (each failed before its fix; fast, no tools run)."""
from pathlib import Path

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


def test_bitmod_compat_unknown_model_is_one_line(capsys):
    """--compat bitmod-* with a model outside the artefact's table: a one-line error naming the model and
    the allowed ones, exit 2 (was a ValueError traceback)."""
    from hwsim.cli import main

    design = Path(__file__).resolve().parents[1] / "designs/bitserial/bitmod_32x32.yaml"
    rc = main(["simulate", str(design), "-w", "llm:gpt2,seq=8,phase=prefill",
               "--compat", "bitmod-a902a09", "--no-plot"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err and "model 'gpt2': allowed: opt-1.3b" in err


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
