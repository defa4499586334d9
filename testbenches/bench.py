"""The verification loop of one design, for every kind: emit -> vectors -> every level -> one checker.

    report = verify(hwsim.design.load("designs/pe_int4asym_int8.yaml"))
    print(report.summary())

A kind's bench (registered in hwsim.kinds as ``bench``) is a module with:

``LEVELS``                 the levels it runs, in order, from ``model``, ``hwsim``, ``amaranth``,
                           ``verilator`` (the functional model, the cycle-level simulator, amaranth.sim on
                           the component, cocotb on the emitted Verilog under Verilator)
``vectors(design, component, seed=0, **kw) -> VectorSet``
                           one seeded vector set with the expected outputs and cycles, derived from the
                           datatypes model and the documented closed forms (never from a level)
``describe(design, component, vs) -> str``   one line about the vectors
``run(level, design, component, vs, art_dir, waves=False, log=None) -> (dict, str | None)``
                           the level's results (arrays keyed like ``vs.expected``) and a note
``check(vs, got, level) -> CheckResult``     np.array_equal on every key, naming the first mismatches
The report is written to build/<name>-<hash>/verify.txt (atomically).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from hwsim import kinds
from hwsim.design import Design
from hwsim.report import atomic_write

from .vectors import CheckResult

LEVELS = ("model", "hwsim", "amaranth", "verilator")


@dataclass
class VerifyReport:
    design: str
    directory: Path
    results: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    #: levels whose own runner reported a failure of its own (e.g. a cocotb test that failed)
    runner_failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results) and not self.runner_failures

    def summary(self) -> str:
        lines = [r.summary() for r in self.results] + self.notes
        lines += [f"FAIL {f}" for f in self.runner_failures]
        n_vec = sum(r.vectors for r in self.results)
        n_chk = sum(r.checked for r in self.results)
        clocked = any(r.cycles is not None for r in self.results)
        cyc = (f"{sum(r.cycles or 0 for r in self.results):,} cycles simulated" if clocked
               else "combinational (no clock)")
        t = ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items())
        status = "PASS" if self.ok else "FAIL"
        lines.append(f"{status}: {self.design}: {len(self.results)} level run(s), {n_vec:,} vectors applied, "
                     f"{n_chk:,} outputs compared, {cyc} ({t})")
        return "\n".join(lines)


def bench_of(design: Design):
    return kinds.get(design.kind).load("bench")


def levels_of(design: Design) -> tuple[str, ...]:
    return tuple(bench_of(design).LEVELS)


def verify(design: Design, root: str | Path = "build", levels: Sequence[str] | None = None,
           waves: bool = False, seed: int = 0, log: Callable[[str], None] | None = None,
           component=None, **vector_options) -> VerifyReport:
    """Emit the design and check it on every requested level against the same vectors.
    ``component``: the design's component if already built; ``vector_options`` go to the bench's
    ``vectors`` (e.g. ``shapes``/``operands`` of a systolic array)."""
    from rtl_gen.verilog import component_for, emit

    say = log or (lambda s: print(s, file=sys.stderr, flush=True))
    bench = bench_of(design)
    levels = tuple(bench.LEVELS) if levels is None else tuple(levels)
    bad = [lv for lv in levels if lv not in bench.LEVELS]
    if bad:
        raise ValueError(f"{design.kind} levels: {', '.join(bench.LEVELS)}; not {', '.join(bad)}")
    comp = component if component is not None else component_for(design)   # errors before any build
    t0 = time.perf_counter()
    art = emit(design, root, component=comp)
    vs = bench.vectors(design, comp, seed=seed, **vector_options)
    rep = VerifyReport(design=design.name, directory=art.directory)
    rep.seconds["emit+vectors"] = time.perf_counter() - t0
    rep.notes.append(bench.describe(design, comp, vs))
    for level in levels:
        say(f"[{design.name}] {level}: {vs.n:,} vectors ...")
        t = time.perf_counter()
        got, note = bench.run(level, design, comp, vs, art.directory, waves=waves, log=say)
        rep.seconds[level] = time.perf_counter() - t
        if note:
            rep.notes.append(note)
        if got.pop("_runner_failed", None):
            rep.runner_failures.append(f"{level}: {note}")
        rep.results.append(bench.check(vs, got, level))
    atomic_write(art.directory / "verify.txt", rep.summary() + "\n")
    return rep


def cocotb_run(art_dir: Path, vs, module: str, waves: bool = False, log=None):
    """Build the emitted Verilog (cached by its hash) and run a cocotb test module on the vectors;
    returns (results arrays, runner.Build, runner.CocotbRun)."""
    from . import runner
    from .vectorset import load_arrays

    b = runner.build(art_dir, waves=waves, log=log)
    vpath = vs.save(art_dir / "run" / "vectors.npz")
    out = art_dir / "run" / "results.npz"
    out.unlink(missing_ok=True)
    r = runner.run_cocotb(b, module, {"HWSIM_PORTS": str((art_dir / "ports.json").resolve()),
                                      "HWSIM_VECTORS": str(vpath.resolve()), "HWSIM_RESULTS": str(out.resolve())},
                          run_dir=art_dir / "run", waves=waves)
    if not out.is_file():
        raise runner.SimulationError(f"the cocotb test wrote no results ({r.failed}/{r.tests} failed); log: {r.log}")
    return load_arrays(out), b, r


def run_cocotb(art_dir: Path, vs, module: str, waves: bool = False, log=None):
    """``cocotb_run`` for a bench: (results arrays, note). The note says whether cocotb's own test verdict
    passed; a failed cocotb test marks the results with ``_runner_failed`` (the report then fails)."""
    got, b, r = cocotb_run(art_dir, vs, module, waves=waves, log=log)
    note = (f"verilator: build {'cached' if b.cached else f'{b.seconds:.1f}s'} in {b.directory}, cocotb "
            f"{r.tests - r.failed}/{r.tests} test(s) passed" + (f", waves {r.waves}" if r.waves else ""))
    if r.failed or not r.tests:
        got["_runner_failed"] = True
    return got, note
