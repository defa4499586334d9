"""The Verilator loop: every bundled RTL design through model, amaranth.sim and cocotb/Verilator with
one checker; build caching, failed-build reporting, FST waveforms and ``hwsim verify``.

Verilator builds are the expensive part (~10-30 s cold each, ~3 s with a warm ccache): one build
per bundled design (kept in the repository's build/ so local re-runs reuse them), one small
decoder build in a temporary directory for the cache/failure checks and one waveform build."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hwsim import cli
from hwsim.design import loads
from rtl_gen.verilog import emit
from testbenches import runner
from testbenches.bench import verify

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build"


def test_build_cache_and_failed_build(tmp_path):
    d = loads("schema: 1\nname: dec_cache\nkind: decoder\ndecoder: {format: fp4_prec2}\n", "dec_cache.yaml")
    art = emit(d, tmp_path)
    b1 = runner.build(art.directory)
    assert not b1.cached and (b1.directory / "dec_cache").is_file()
    stamp = json.loads((b1.directory / "hwsim-build.json").read_text())
    assert stamp["verilog_sha256"] == art.verilog_sha256 and "-O0" in stamp["args"]
    b2 = runner.build(art.directory)
    assert b2.cached and b2.seconds < b1.seconds
    # a changed Verilog (same directory) is never served from the stale build: break it on purpose
    bad = art.verilog.read_text().replace("endmodule", "endmodule_oops", 1)
    art.verilog.write_text(bad)
    ports = json.loads(art.ports.read_text())
    import hashlib

    ports["verilog_sha256"] = hashlib.sha256(bad.encode()).hexdigest()
    art.ports.write_text(json.dumps(ports))
    with pytest.raises(runner.BuildError) as e:
        runner.build(art.directory)
    msg = str(e.value)
    assert "%Error" in msg and str(b1.directory) in msg and "build.log" in msg
    assert not (b1.directory / "hwsim-build.json").exists()             # nothing a later run would trust
    assert not (b1.directory / "dec_cache").exists()
    # a Verilog file that does not match ports.json is refused before building
    art.verilog.write_text(bad + "\n")
    with pytest.raises(FileNotFoundError, match="re-emit"):
        runner.build(art.directory)


def test_waves_fst(tmp_path):
    d = loads("schema: 1\nname: pe_waves\nkind: pe\noperands: {weight: int2, activation: int8, "
              "accumulator: int12}\n", "pe_waves.yaml")
    rep = verify(d, tmp_path, ["verilator"], waves=True, log=lambda s: None)
    assert rep.ok, rep.summary()
    # FST where the lz4 headers exist (setup.sh installs liblz4-dev as root), VCD otherwise
    name = "dump.fst" if runner.fst_supported() else "dump.vcd"
    fst = next(tmp_path.glob(f"pe_waves-*/run/{name}"))
    assert fst.stat().st_size > 1000
    assert any(f"waves {fst}" in n for n in rep.notes)
    assert (fst.parent.parent / "sim_build_waves" / "hwsim-build.json").is_file()


def test_cli_verify(capsys):
    path = REPO / "designs" / "pe_e2m1sr_e4m3.yaml"
    rc = cli.main(["verify", str(path), "-o", str(BUILD)])
    out = capsys.readouterr().out
    assert rc == 0, out
    last = out.strip().splitlines()[-1]
    assert last.startswith("PASS: pe_e2m1sr_e4m3: 3 level run(s)") and "cycles simulated" in last
    assert "[verilator]" in out and "overflow" in out


def test_cli_verify_rejects_bad_options(capsys):
    path = str(REPO / "designs" / "dec_e4m3.yaml")
    assert cli.main(["verify", path, "--backends", "iverilog"]) == 2
    assert cli.main(["verify", path, "--backends", "hwsim", "--waves"]) == 2
    err = capsys.readouterr().err
    assert "choose from model, hwsim, amaranth, verilator" in err and "--waves records the Verilator run" in err


def test_verilator_is_found_without_path(monkeypatch):
    from testbenches.verilator import find_verilator, verilator_env

    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert shutil.which("verilator") is None or "site-packages" not in shutil.which("verilator")
    t = find_verilator()
    env = verilator_env()
    assert env["VERILATOR_ROOT"] == str(t.root) and env["PATH"].startswith(str(t.root / "bin"))


def test_metadata_dependent_special_value_under_verilator(tmp_path):
    """The decoder shape RaZeR/BitMoD will use (E2M1 whose negative-zero code takes a per-group
    special value picked by a 2-bit selector), as a PE under Verilator: every (selector, weight,
    activation) triple plus a random stream, with a 70-bit accumulator (wider than int64 end to
    end). The format is not registered, so the component is emitted directly."""
    from rtl_test_formats import RazerLike

    from rtl_gen import ProcessingElement
    from rtl_gen.verilog import emit_component
    from testbenches.vectors import check, pe_vectors
    from testbenches.bench import cocotb_run

    pe = ProcessingElement(RazerLike(), "float8_e4m3fn", 70)      # > 64-bit accumulator through cocotb too
    art = emit_component(pe, "pe_razer_like", tmp_path)
    vs = pe_vectors(pe.spec, pe.latency, seed=5, n_packets=9, max_packet=64)
    got, _, run = cocotb_run(art.directory, vs, "testbenches.tb_pe")
    res = check(vs, got, "verilator")
    assert res.ok and run.failed == 0, res.summary()
    assert res.vectors > 4 * 16 * 256 and "w_meta" in json.loads(art.ports.read_text())["streams"]["i"]["fields"]
