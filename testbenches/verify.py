"""The verification loop of one design: emit -> vectors -> every backend -> one checker.

    report = verify(hwsim.design.load("designs/pe_int4asym_int8.yaml"))
    print(report.summary())

Backends, all compared with the same expected arrays (``testbenches.vectors.check``):
  model      rtl_gen.arith (values) + hwsim.pe_stream (cycles), numpy; for a systolic array two
             levels: hwsim.pe.reference_gemm (functional) and hwsim's cycle-level kernels
             (``testbenches.systolic``, which has the array's vectors and checker)
  amaranth   amaranth.sim on the Amaranth component
  verilator  the emitted Verilog under Verilator, driven by cocotb (build cached by design hash)
The report is written to build/<name>-<hash>/verify.txt (atomically).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from hwsim.design import Design
from hwsim.pe_stream import simulate_pe
from hwsim.report import atomic_write

from .vectors import CheckResult, VectorSet, check, decoder_vectors, pe_vectors

BACKENDS = ("model", "amaranth", "verilator")


@dataclass
class VerifyReport:
    design: str
    directory: Path
    results: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)

    def summary(self) -> str:
        lines = [r.summary() for r in self.results] + self.notes
        n_vec = sum(r.vectors for r in self.results)
        n_chk = sum(r.checked for r in self.results)
        clocked = any(r.cycles is not None for r in self.results)
        cyc = (f"{sum(r.cycles or 0 for r in self.results):,} cycles simulated" if clocked
               else "combinational (no clock)")
        t = ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items())
        status = "PASS" if self.ok else "FAIL"
        lines.append(f"{status}: {self.design}: {len(self.results)} backend run(s), {n_vec:,} vectors applied, "
                     f"{n_chk:,} outputs compared, {cyc} ({t})")
        return "\n".join(lines)


def vectors_for(comp, seed: int = 0) -> VectorSet:
    from rtl_gen.decoder import Decoder

    if isinstance(comp, Decoder):
        return decoder_vectors(comp.table)
    return pe_vectors(comp.spec, comp.latency, seed=seed)


def run_model(comp, vs: VectorSet) -> dict[str, np.ndarray]:
    from rtl_gen.decoder import Decoder

    if isinstance(comp, Decoder):
        value, invalid = comp.table.decode(vs.inputs["code"], vs.inputs.get("meta"))
        return {"value": value, "invalid": invalid}
    run = simulate_pe(comp.spec, comp.latency, vs.inputs["w_code"], vs.inputs["a_code"], vs.inputs["last"],
                      vs.inputs.get("w_meta"), vs.schedule.get("in_valid"), vs.schedule.get("out_ready"))
    return {"outputs": run.outputs, "in_cycles": run.in_cycles, "out_cycles": run.out_cycles,
            "cycles": np.array([run.cycles])}


def run_amaranth(comp, vs: VectorSet) -> dict[str, np.ndarray]:
    from rtl_gen.decoder import Decoder

    from . import amaranth_sim

    if isinstance(comp, Decoder):
        return amaranth_sim.run_decoder(comp, vs)
    return amaranth_sim.run_pe(comp, vs)


def run_verilator(art_dir: Path, ports: dict, vs: VectorSet, waves: bool = False, log=None):
    """Build (cached) and run the cocotb test; returns (results dict, Build, CocotbRun)."""
    from . import runner

    b = runner.build(art_dir, waves=waves, log=log)
    vpath = vs.save(art_dir / "run" / "vectors.npz")
    out = art_dir / "run" / "results.npz"
    out.unlink(missing_ok=True)
    module = "testbenches.tb_pe" if ports["streams"] else "testbenches.tb_decoder"
    r = runner.run_cocotb(b, module, {"HWSIM_PORTS": str((art_dir / "ports.json").resolve()),
                                      "HWSIM_VECTORS": str(vpath.resolve()), "HWSIM_RESULTS": str(out.resolve())},
                          run_dir=art_dir / "run", waves=waves)
    if not out.is_file():
        raise runner.SimulationError(f"the cocotb test wrote no results ({r.failed}/{r.tests} failed); log: {r.log}")
    from .vectorset import load_arrays

    return load_arrays(out), b, r


def verify(design: Design, root: str | Path = "build", backends: Sequence[str] = BACKENDS,
           waves: bool = False, seed: int = 0, log: Callable[[str], None] | None = None,
           component=None) -> VerifyReport:
    """Emit the design and check it on every requested backend against the same vectors.
    ``component``: the design's component if already built (``rtl_gen.verilog.component_for``)."""
    from rtl_gen.verilog import component_for, emit

    say = log or (lambda s: print(s, file=sys.stderr, flush=True))
    bad = [b for b in backends if b not in BACKENDS]
    if bad:
        raise ValueError(f"unknown backend(s) {', '.join(bad)}; allowed: {', '.join(BACKENDS)}")
    comp = component if component is not None else component_for(design)   # errors before any build
    if design.kind == "systolic":
        from .systolic import verify_design

        return verify_design(design, root, backends, waves=waves, seed=seed, log=say, component=comp)
    t0 = time.perf_counter()
    art = emit(design, root, component=comp)
    vs = vectors_for(comp, seed)
    rep = VerifyReport(design=design.name, directory=art.directory)
    rep.seconds["emit+vectors"] = time.perf_counter() - t0
    info = vs.info
    if vs.kind == "pe":
        rep.notes.append(
            f"vectors: {info['exhaustive_pairs']:,} exhaustive (meta, weight, activation) pairs + "
            f"{info['stream_elements']:,}-element random stream in {info['packets'] - info['exhaustive_pairs']} "
            f"packets ({info['overflow_packets']} overflow, {info['underflow_packets']} underflow the "
            f"int{comp.spec.acc_width} accumulator), latency {comp.latency}, II {comp.initiation_interval}")
    import json

    ports = json.loads(art.ports.read_text())
    for b in backends:
        say(f"[{design.name}] {b}: {vs.n:,} vectors ...")
        t = time.perf_counter()
        if b == "model":
            got = run_model(comp, vs)
        elif b == "amaranth":
            got = run_amaranth(comp, vs)
        else:
            got, bld, run = run_verilator(art.directory, ports, vs, waves=waves, log=say)
            rep.notes.append(f"verilator: build {'cached' if bld.cached else f'{bld.seconds:.1f}s'} in "
                             f"{bld.directory}, cocotb {run.tests - run.failed}/{run.tests} test(s) passed"
                             + (f", waves {run.waves}" if run.waves else ""))
        rep.seconds[b] = time.perf_counter() - t
        rep.results.append(check(vs, got, b))
    atomic_write(art.directory / "verify.txt", rep.summary() + "\n")
    return rep
