"""Verilator builds and cocotb runs on ``cocotb_tools.runner``, cached by design hash.

    b = build(artefacts)                     # build/<name>-<hash>/sim_build (or sim_build_waves)
    r = run_cocotb(b, "testbenches.tb_pe", {"HWSIM_VECTORS": ...})

Cache: a build directory is trusted only if its stamp ``hwsim-build.json`` matches the SHA-256 of the
Verilog, the build flags, the Verilator and cocotb versions, and the executable exists. The stamp is
deleted before a build starts and written (atomically) only after it succeeded, so an interrupted or
failed build is never reused. A failed build raises BuildError with the tool's first error lines and
the build directory.

Waveforms (``waves=True``): FST (``--trace-fst``, needs the lz4 headers: setup.sh installs
liblz4-dev), else VCD; written to ``<run dir>/dump.fst`` or ``dump.vcd``.

Fast-build flags (``BUILD_ARGS``): ``--output-split 0`` (one C++ file; needed by the wheel with
cocotb's runner), ``-Wno-fatal``, ``-CFLAGS -O0`` (the model is small; compile time dominates), and
ccache via ``OBJCACHE`` when installed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from hwsim.report import atomic_write

from .verilator import find_verilator, verilator_environment

BUILD_ARGS = ["--output-split", "0", "-Wno-fatal", "-CFLAGS", "-O0"]
FST_ARGS = ["--trace-fst", "--trace-structs"]
VCD_ARGS = ["--trace-structs"]


def fst_supported() -> bool:
    """Verilator's FST writer needs the lz4 (and zlib) headers; setup.sh installs liblz4-dev."""
    import shutil
    import subprocess

    cxx = shutil.which("c++") or shutil.which("g++")
    if cxx is None:
        return False
    r = subprocess.run([cxx, "-E", "-x", "c++", "-"], input="#include <lz4.h>\n#include <zlib.h>\n",
                       capture_output=True, text=True)
    return r.returncode == 0


def wave_args() -> list[str]:
    return FST_ARGS if fst_supported() else VCD_ARGS
TIMESCALE = ("1ns", "1ps")


class BuildError(RuntimeError):
    """A Verilator build that failed; the message has the first error lines and the build directory."""


class SimulationError(RuntimeError):
    """A cocotb run that did not produce results (crash, missing results file)."""


@dataclass(frozen=True)
class Build:
    directory: Path        #: the Verilator build directory
    top: str
    ports: dict[str, Any]  #: ports.json
    artefacts: Path        #: build/<name>-<hash>
    waves: bool
    cached: bool           #: True if an earlier build was reused
    seconds: float         #: wall time of this call (0-ish when cached)


def _cocotb_version() -> str:
    import cocotb

    return getattr(cocotb, "__version__", "?")


@contextlib.contextmanager
def _lock(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def load_artefacts(directory: str | Path) -> tuple[dict[str, Any], Path]:
    """(ports.json, Verilog path) of an emitted design, checking the Verilog is the one described."""
    import hashlib

    d = Path(directory)
    pj = d / "ports.json"
    if not pj.is_file():
        raise FileNotFoundError(f"{d}: no ports.json; emit the design first (rtl_gen.emit / hwsim rtl)")
    ports = json.loads(pj.read_text())
    v = d / ports["verilog"]
    if not v.is_file() or hashlib.sha256(v.read_bytes()).hexdigest() != ports["verilog_sha256"]:
        raise FileNotFoundError(f"{v}: missing or not the Verilog ports.json describes; re-emit the design")
    return ports, v


def _stamp(ports: dict[str, Any], waves: bool, use_ccache: bool) -> dict[str, Any]:
    return {"verilog_sha256": ports["verilog_sha256"], "top": ports["top"],
            "args": BUILD_ARGS + (wave_args() if waves else []), "timescale": list(TIMESCALE),
            "verilator": find_verilator().version, "cocotb": _cocotb_version(), "waves": waves}


def first_errors(log: str, limit: int = 12) -> list[str]:
    """The first error lines of a Verilator/compiler log (with a line of context after each)."""
    lines = log.splitlines()
    pat = re.compile(r"(%Error|error:|Error \d|\*\*\*|fatal error|undefined reference)", re.I)
    out: list[str] = []
    for i, ln in enumerate(lines):
        if pat.search(ln):
            out.append(ln)
            if i + 1 < len(lines) and not pat.search(lines[i + 1]):
                out.append(lines[i + 1])
        if len(out) >= limit:
            break
    return out or lines[-limit:]


def build(artefacts: str | Path, waves: bool = False, force: bool = False, use_ccache: bool = True,
          log=None) -> Build:
    """Build (or reuse) the Verilator model of an emitted design for cocotb."""
    from cocotb_tools.runner import get_runner

    t0 = time.perf_counter()
    ports, vpath = load_artefacts(artefacts)
    top = ports["top"]
    bdir = Path(artefacts) / ("sim_build_waves" if waves else "sim_build")
    stamp_path = bdir / "hwsim-build.json"
    want = _stamp(ports, waves, use_ccache)
    with _lock(bdir):
        if not force and stamp_path.is_file() and (bdir / top).is_file():
            try:
                if json.loads(stamp_path.read_text()) == want:
                    return Build(bdir, top, ports, Path(artefacts), waves, True, time.perf_counter() - t0)
            except json.JSONDecodeError:
                pass
        stamp_path.unlink(missing_ok=True)
        (bdir / top).unlink(missing_ok=True)
        if log:
            log(f"building {top} with Verilator {want['verilator']} in {bdir} ...")
        log_file = bdir / "build.log"
        with verilator_environment(use_ccache):
            runner = get_runner("verilator")
            try:
                runner.build(sources=[vpath.resolve()], hdl_toplevel=top, build_dir=bdir.resolve(),
                             build_args=BUILD_ARGS + (wave_args() if waves else []), waves=waves,
                             timescale=TIMESCALE, always=True, log_file=log_file.resolve())
            except (RuntimeError, SystemExit, OSError) as e:
                text = log_file.read_text(errors="replace") if log_file.is_file() else str(e)
                errs = "\n  ".join(first_errors(text))
                raise BuildError(f"Verilator build of {top} failed ({e}); first error lines:\n  {errs}\n"
                                 f"build directory: {bdir}\nfull log: {log_file}") from None
        if not (bdir / top).is_file():
            raise BuildError(f"Verilator build of {top} produced no executable; build directory: {bdir}")
        atomic_write(stamp_path, json.dumps(want, indent=2))
    return Build(bdir, top, ports, Path(artefacts), waves, False, time.perf_counter() - t0)


@dataclass(frozen=True)
class CocotbRun:
    tests: int
    failed: int
    results_xml: Path
    log: Path
    directory: Path
    waves: Path | None
    seconds: float


def run_cocotb(b: Build, test_module: str, env: dict[str, str], run_dir: str | Path | None = None,
               waves: bool = False, seed: int = 1) -> CocotbRun:
    """Run a cocotb test module against a build. ``env`` reaches the test (e.g. vector paths)."""
    from cocotb_tools.runner import get_results, get_runner

    if waves and not b.waves:
        raise ValueError("waveforms need a build made with waves=True")
    t0 = time.perf_counter()
    rdir = Path(run_dir) if run_dir else b.artefacts / "run"
    rdir.mkdir(parents=True, exist_ok=True)
    for old in ("dump.fst", "dump.vcd"):
        (rdir / old).unlink(missing_ok=True)
    results = rdir / "results.xml"
    results.unlink(missing_ok=True)
    log_file = rdir / "sim.log"
    with verilator_environment(False):
        runner = get_runner("verilator")
        try:
            runner.test(test_module=test_module, hdl_toplevel=b.top, hdl_toplevel_lang="verilog",
                        build_dir=b.directory.resolve(),
                        test_dir=rdir.resolve(), extra_env=env, waves=waves, seed=seed,
                        results_xml=str(results.resolve()), log_file=log_file.resolve())
        except (RuntimeError, SystemExit) as e:
            tail = "\n  ".join(log_file.read_text(errors="replace").splitlines()[-15:]) if log_file.is_file() else ""
            raise SimulationError(f"cocotb run of {b.top} failed to complete ({e}):\n  {tail}\nlog: {log_file}") from None
    if not results.is_file():
        raise SimulationError(f"cocotb run of {b.top} wrote no {results}; log: {log_file}")
    tests, failed = get_results(results)
    wave = next((p for p in (rdir / "dump.fst", rdir / "dump.vcd") if p.is_file()), None) if waves else None
    return CocotbRun(tests=tests, failed=failed, results_xml=results, log=log_file, directory=rdir,
                     waves=wave, seconds=time.perf_counter() - t0)


def build_environment_summary() -> str:
    t = find_verilator()
    from .verilator import ccache

    return (f"Verilator {t.version} ({t.root}), cocotb {_cocotb_version()}, "
            f"ccache {'on: ' + ccache() if ccache() else 'not installed'}, jobs {os.cpu_count()}")
