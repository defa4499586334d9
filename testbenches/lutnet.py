"""The lutnet verification loop: one seeded vector set, four levels, one checker.

The kind's bench (testbenches.bench.verify / ``hwsim verify``): ``LEVELS``, ``vectors(design, component)``,
``describe``, ``run(level, design, component, vs, art_dir)``, ``check(vs, got, level) -> CheckResult``.
Underneath, usable on any netlist:

    vs = make_vectors(net, x, out_reg, seed=0)          # samples + a valid schedule with bubbles
    got = run_level("model", vs)                        # hwsim.lutnet.netlist (functional, Numba)
    got = run_level("hwsim", vs)                        # hwsim.lutnet.sim.Pipeline (cycle-level)
    got = run_level("amaranth", vs, comp=comp)          # amaranth.sim on the generated component
    got = run_level("verilator", vs, artefacts=dir)     # cocotb + Verilator on the emitted Verilog
    res = check(vs, got, "verilator")

Expected values do not come from the levels under test: the outputs of the valid samples are the
:meth:`LutNet.forward` codes (tests also compare that with the quantized model and with the numpy
evaluation), the output cycles are ``input cycle + latency`` (the closed form of docs/lutnet.md). The clocked
levels also return the whole per-cycle ``out_data``/``out_valid`` trace, including the cycles right after
reset (outputs = the tables of all-zero registers), which must equal the cycle-level model's trace exactly.
A failure names the first mismatching sample and, re-running the model layer by layer, the neuron of the last
layer whose table read disagrees. The vector file (``run/vectors.npz``, :func:`cocotb_vectors`: inputs, valid
schedule, expected outputs, output cycles and trace) is LogicNets' ``--dump-io`` equivalent: the exported
regression suite (``hwsim rtl DESIGN --testbench``) replays it without hwsim.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .lutnet_driver import input_stream as _driver_stream
from .lutnet_driver import pack, trace_result, unpack  # noqa: F401  (public: pack/unpack of the port packing)
from .vectorset import VectorSet
from .vectors import CheckResult

LEVELS = ("model", "hwsim", "amaranth", "verilator")
#: the cocotb test module (self-checking; exported with the regression suite by testbenches.export) and the
#: numpy-only harness module it needs beside the shared ones
COCOTB_MODULE = "testbenches.tb_lutnet"
COCOTB_HARNESS = ("lutnet_driver.py",)


@dataclass(frozen=True)
class LutVectors:
    name: str
    x: np.ndarray              #: uint8 [T, n_in] sample codes, in stream order
    valid: np.ndarray          #: int64 [C_in] in_valid per input cycle (sum == T)
    expected: np.ndarray       #: uint8 [T, n_out] netlist outputs
    latency: int
    n_in: int
    b_in: int
    n_out: int
    b_out: int
    trace: np.ndarray | None = None        #: uint8 [C, n_out] the cycle-level model's out_data per cycle
    trace_valid: np.ndarray | None = None  #: int64 [C]
    net: Any = field(default=None, repr=False, compare=False)       #: the netlist (not saved)
    out_reg: bool = True

    @property
    def n(self) -> int:
        return len(self.x)

    @property
    def in_cycles(self) -> np.ndarray:
        return np.flatnonzero(self.valid)

    @property
    def cycles(self) -> int:
        """Cycles the clocked levels run: every input cycle, the latency, and 2 more."""
        return len(self.valid) + self.latency + 2

    def save(self, path: Path) -> Path:
        buf = io.BytesIO()
        np.savez(buf, x=self.x, valid=self.valid, expected=self.expected, trace=self.trace,
                 trace_valid=self.trace_valid,
                 meta=np.frombuffer(json.dumps({"name": self.name, "latency": self.latency, "n_in": self.n_in,
                                                "b_in": self.b_in, "n_out": self.n_out, "b_out": self.b_out,
                                                "out_reg": self.out_reg}).encode(), np.uint8))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buf.getvalue())
        return path

    @classmethod
    def load(cls, path: str | Path) -> LutVectors:
        z = np.load(path)
        meta = json.loads(bytes(z["meta"]).decode())
        return cls(x=z["x"], valid=z["valid"], expected=z["expected"], trace=z["trace"],
                   trace_valid=z["trace_valid"], **meta)


def make_vectors(net, x: np.ndarray, out_reg: bool = True, seed: int = 0, bubbles: float = 0.1,
                 name: str = "lutnet", n_random: int = 0) -> LutVectors:
    """The samples ``x`` (plus ``n_random`` uniformly random codes) streamed with seeded bubbles (cycles
    without ``in_valid``, probability ``bubbles``), the netlist's expected outputs and the cycle-level model's
    per-cycle trace."""
    rng = np.random.default_rng(seed)
    x = np.asarray(x, np.uint8)
    if n_random:
        x = np.concatenate([x, rng.integers(0, 1 << net.b_in, (n_random, net.n_in), dtype=np.uint8)])
    T = len(x)
    valid = []
    while sum(valid) < T:
        valid.append(0 if rng.random() < bubbles else 1)
    vs = LutVectors(name, x, np.array(valid, np.int64), net.forward(x), net.depth + int(out_reg), net.n_in,
                    net.b_in, net.n_out, net.b_out, net=net, out_reg=out_reg)
    ref = _run_hwsim(vs)
    return replace(vs, trace=ref["trace"], trace_valid=ref["trace_valid"])


def input_stream(vs: LutVectors) -> tuple[list[int], list[int]]:
    """Per input cycle (in_data packed, in_valid); idle cycles carry zeros."""
    return _driver_stream(vs.x, vs.valid, vs.b_in)


_trace_to_result = trace_result


def cocotb_vectors(vs: LutVectors) -> VectorSet:
    """The vector file the cocotb test reads (``testbenches.lutnet_driver``): samples, valid schedule,
    expected outputs, output cycles (input cycle + latency) and the cycle-level model's trace."""
    return VectorSet(name=vs.name, kind="lutnet", inputs={"x": vs.x}, schedule={"in_valid": vs.valid},
                     expected={"outputs": vs.expected, "out_cycles": (vs.in_cycles + vs.latency).astype(np.int64),
                               "trace": vs.trace, "trace_valid": vs.trace_valid})


def _run_hwsim(vs: LutVectors) -> dict[str, np.ndarray]:
    from hwsim.lutnet.sim import Pipeline

    p = Pipeline(vs.net, vs.out_reg)
    x_full = np.zeros((len(vs.valid), vs.n_in), np.uint8)
    x_full[vs.in_cycles] = vs.x
    od, ov = p.run(x_full, vs.valid, extra=vs.cycles - len(vs.valid) - p.latency)
    return _trace_to_result(od, ov)


def run_level(level: str, vs: LutVectors, comp=None, artefacts: str | Path | None = None) -> dict[str, np.ndarray]:
    """Run the vector set on one level; returns outputs (and, clocked levels, out_cycles and the trace)."""
    if level == "model":
        return {"outputs": vs.net.forward(vs.x)}
    if level == "hwsim":
        return _run_hwsim(vs)
    if level == "amaranth":
        return _run_amaranth(comp, vs)
    if level == "verilator":
        return _verilator(artefacts, vs)[0]
    raise ValueError(f"level {level!r}: allowed {', '.join(LEVELS)}")


def _run_amaranth(comp, vs: LutVectors) -> dict[str, np.ndarray]:
    from amaranth.sim import Simulator

    data, valid = input_stream(vs)
    od, ov = [], []

    async def tb(ctx):
        ctx.set(comp.in_valid, 0)
        ctx.set(comp.in_data, 0)
        for c in range(vs.cycles):
            if c < len(data):
                ctx.set(comp.in_data, data[c])
                ctx.set(comp.in_valid, valid[c])
            else:
                ctx.set(comp.in_data, 0)
                ctx.set(comp.in_valid, 0)
            od.append(ctx.get(comp.out_data))
            ov.append(ctx.get(comp.out_valid))
            await ctx.tick()

    sim = Simulator(comp)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    return _trace_to_result(unpack(od, vs.n_out, vs.b_out), np.array(ov, np.int64))


def _verilator(art_dir, vs: LutVectors, waves: bool = False, log=None) -> tuple[dict[str, np.ndarray], str]:
    """cocotb (``testbenches.tb_lutnet``, self-checking) on the emitted Verilog: its results (with
    ``_runner_failed`` when the cocotb test's own verdict failed) and a note."""
    from .bench import run_cocotb

    got, note = run_cocotb(Path(art_dir), cocotb_vectors(vs), COCOTB_MODULE, waves=waves, log=log)
    got["trace_valid"] = np.asarray(got["trace_valid"], np.int64)
    return got, note


def _locate(net, x: np.ndarray, got: np.ndarray) -> str:
    """The first layer and neuron at fault: the model's per-layer codes and the last layer's table read."""
    layers = net.forward(x[None, :], all_layers=True)
    want = layers[-1][0]
    bad = np.flatnonzero(want != got)
    if not len(bad):
        return ""
    n = int(bad[0])
    last = net.layers[-1]
    prev = layers[-2][0] if net.depth > 1 else x
    idx = last.neuron_inputs(n)
    addr = 0
    for k in idx:
        addr = (addr << last.b_in) | int(prev[k])
    return (f"layer {net.depth - 1} neuron {n}: inputs {idx.tolist()} = {[int(prev[k]) for k in idx]} -> address "
            f"{addr}, table says {int(last.table(n)[addr])}, RTL gave {int(got[n])}")


def check(vs: LutVectors, got: dict[str, np.ndarray], level: str, limit: int = 5) -> CheckResult:
    """Outputs bit-exact with the netlist; output cycles = input cycles + latency; the per-cycle trace equal to
    the cycle-level model's (clocked levels)."""
    lines = []
    out = np.asarray(got["outputs"])
    if out.shape != vs.expected.shape:
        lines.append(f"outputs: {len(out)} of shape {out.shape[1:]}, expected {vs.expected.shape}")
    elif not np.array_equal(out.astype(np.uint8), vs.expected):
        bad = np.flatnonzero(np.any(out != vs.expected, axis=1))
        for s_ in bad[:limit]:
            lines.append(f"sample {int(s_)}: {level} {out[s_].tolist()}, expected {vs.expected[s_].tolist()}")
        if vs.net is not None:
            lines.append(_locate(vs.net, vs.x[int(bad[0])], out[int(bad[0])]))
        if len(bad) > limit:
            lines.append(f"{len(bad) - limit} more samples differ")
    clocked = "out_cycles" in got
    if clocked:
        want = vs.in_cycles + vs.latency
        oc = np.asarray(got["out_cycles"])
        if not np.array_equal(oc, want):
            k = next((i for i in range(min(len(oc), len(want))) if oc[i] != want[i]), min(len(oc), len(want)))
            lines.append(f"output cycles: {len(oc)} valid beats; first differing beat {k}: got "
                         f"{oc[k] if k < len(oc) else None}, expected {want[k] if k < len(want) else None} "
                         f"(input cycle + latency {vs.latency})")
        if vs.trace is not None:
            for key, ref in (("trace", vs.trace), ("trace_valid", vs.trace_valid)):
                a, b = np.asarray(got[key]), np.asarray(ref)
                if a.shape != b.shape:
                    lines.append(f"{key}: shape {a.shape}, the cycle-level model's {b.shape}")
                elif not np.array_equal(a, b):
                    c = int(np.flatnonzero(np.any((a != b).reshape(len(a), -1), axis=1))[0])
                    lines.append(f"{key} differs from the cycle-level model first in cycle {c}")
    checked = int(vs.expected.size) + (len(vs.expected) + int(vs.trace.size if vs.trace is not None else 0)
                                       if clocked else 0)
    return CheckResult(name=vs.name, backend=level, ok=not lines, vectors=vs.n, checked=checked,
                       cycles=vs.cycles if clocked else None, mismatches=lines)


def design_vectors(design, seed: int = 0, n_random: int = 0, max_samples: int | None = None) -> LutVectors:
    """The vector set of a design: the digits test split for trained/loaded digits netlists (else 256
    random codes), plus ``n_random`` random codes, seeded bubbles."""
    from hwsim.lutnet.sim import build_netlist

    net = build_netlist(design).net
    if design.network.source != "random" and net.n_in == 64:       # trained or loaded digits netlists
        from hwsim.lutnet.train import digits

        x = digits(net.b_in).x_test
    else:
        x = np.random.default_rng(seed).integers(0, 1 << net.b_in, (256, net.n_in), dtype=np.uint8)
    if max_samples is not None:
        x = x[:max_samples]
    return make_vectors(net, x, design.pipeline.out_reg, seed=seed, name=design.name, n_random=n_random)


# -- the kind's bench (testbenches.bench.verify) -------------------------------------------------------------
def vectors(design, component, seed: int = 0, n_random: int = 0, max_samples: int | None = None) -> LutVectors:
    return design_vectors(design, seed=seed, n_random=n_random, max_samples=max_samples)


def describe(design, component, vs: LutVectors) -> str:
    bubbles = len(vs.valid) - vs.n
    return (f"{vs.n:,} samples ({design.name}: {vs.n_in} x {vs.b_in}-bit codes in, {vs.n_out} x {vs.b_out}-bit "
            f"out), {bubbles} bubble cycles, latency {vs.latency}, {vs.cycles:,} cycles per clocked level")


def run(level, design, component, vs: LutVectors, art_dir: Path, waves: bool = False, log=None):
    if level == "verilator":
        return _verilator(art_dir, vs, waves, log)
    return run_level(level, vs, comp=component), None


def verify(design, levels=LEVELS, root: str | Path = "build", n_random: int = 0, seed: int = 0,
           max_samples: int | None = None) -> list[CheckResult]:
    """The whole loop for a design (through testbenches.bench.verify, the same path as ``hwsim verify``)."""
    from .bench import verify as bench_verify

    rep = bench_verify(design, root=root, levels=levels, seed=seed, log=lambda m: None, n_random=n_random,
                       max_samples=max_samples)
    return rep.results
