"""The lutnet verification loop: one seeded vector set, four levels, one checker.

    vs = vectors(net, x, seed=0)                  # samples + a valid schedule with bubbles
    got = run("model", vs, net=net)               # hwsim.lutnet.netlist (functional, Numba)
    got = run("hwsim", vs, net=net, out_reg=..)   # hwsim.lutnet.sim.Pipeline (cycle-level)
    got = run("amaranth", vs, comp=comp)          # amaranth.sim on the generated component
    got = run("verilator", vs, artefacts=dir)     # cocotb + Verilator on the emitted Verilog
    res = check(vs, got, "verilator")

Expected values do not come from the levels under test: the outputs of the valid samples are the
:meth:`LutNet.forward` codes (tests also compare that with the quantized model and with the numpy
evaluation), the output cycles are ``input cycle + latency`` (the closed form of docs/lutnet.md). The clocked
levels also return the whole per-cycle ``out_data``/``out_valid`` trace, including the cycles right after
reset (outputs = the tables of all-zero registers), which must equal the cycle-level model's trace exactly.
A failure names the first mismatching sample and, re-running the model layer by layer, the first layer and
neuron whose output differs from what the RTL's output implies.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LEVELS = ("model", "hwsim", "amaranth", "verilator")


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

    @property
    def in_cycles(self) -> np.ndarray:
        return np.flatnonzero(self.valid)

    @property
    def cycles(self) -> int:
        """Cycles the clocked levels run: every input cycle, the latency, and 2 more."""
        return len(self.valid) + self.latency + 2

    def save(self, path: Path) -> Path:
        buf = io.BytesIO()
        np.savez(buf, x=self.x, valid=self.valid, expected=self.expected,
                 meta=np.frombuffer(json.dumps({"name": self.name, "latency": self.latency, "n_in": self.n_in,
                                                "b_in": self.b_in, "n_out": self.n_out,
                                                "b_out": self.b_out}).encode(), np.uint8))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buf.getvalue())
        return path

    @classmethod
    def load(cls, path: str | Path) -> LutVectors:
        z = np.load(path)
        meta = json.loads(bytes(z["meta"]).decode())
        return cls(x=z["x"], valid=z["valid"], expected=z["expected"], **meta)


def vectors(net, x: np.ndarray, latency: int, seed: int = 0, bubbles: float = 0.1, name: str = "lutnet",
            n_random: int = 0) -> LutVectors:
    """The samples ``x`` (plus ``n_random`` uniformly random codes) streamed with seeded bubbles (cycles
    without ``in_valid``, probability ``bubbles``), and the netlist's expected outputs."""
    rng = np.random.default_rng(seed)
    x = np.asarray(x, np.uint8)
    if n_random:
        x = np.concatenate([x, rng.integers(0, 1 << net.b_in, (n_random, net.n_in), dtype=np.uint8)])
    T = len(x)
    valid = []
    while sum(valid) < T:
        valid.append(0 if rng.random() < bubbles else 1)
    return LutVectors(name, x, np.array(valid, np.int64), net.forward(x), latency, net.n_in, net.b_in,
                      net.n_out, net.b_out)


def pack(codes: np.ndarray, b: int) -> list[int]:
    """Rows of codes -> packed integers, element j at bits [b*j+b-1 : b*j]."""
    out = []
    for row in np.asarray(codes, np.int64):
        v = 0
        for j, c in enumerate(row.tolist()):
            v |= int(c) << (b * j)
        out.append(v)
    return out


def unpack(values: list[int], n: int, b: int) -> np.ndarray:
    m = (1 << b) - 1
    return np.array([[(int(v) >> (b * j)) & m for j in range(n)] for v in values], np.uint8).reshape(len(values), n)


def input_stream(vs: LutVectors) -> tuple[list[int], list[int]]:
    """Per input cycle (in_data packed, in_valid); idle cycles carry zeros."""
    packed = pack(vs.x, vs.b_in)
    data, k = [], 0
    for v in vs.valid.tolist():
        if v:
            data.append(packed[k])
            k += 1
        else:
            data.append(0)
    return data, vs.valid.tolist()


def _trace_to_result(od: np.ndarray, ov: np.ndarray) -> dict[str, np.ndarray]:
    return {"outputs": od[ov == 1], "out_cycles": np.flatnonzero(ov).astype(np.int64), "trace": od,
            "trace_valid": ov.astype(np.int64)}


def run(level: str, vs: LutVectors, net=None, out_reg: bool = True, comp=None, artefacts: str | Path | None = None,
        run_dir: str | Path | None = None) -> dict[str, np.ndarray]:
    """Run the vector set on one level; returns outputs (and, clocked levels, out_cycles and the trace)."""
    if level == "model":
        return {"outputs": net.forward(vs.x)}
    if level == "hwsim":
        from hwsim.lutnet.sim import Pipeline

        p = Pipeline(net, out_reg)
        x_full = np.zeros((len(vs.valid), vs.n_in), np.uint8)
        x_full[vs.in_cycles] = vs.x
        od, ov = p.run(x_full, vs.valid, extra=vs.cycles - len(vs.valid) - p.latency)
        return _trace_to_result(od, ov)
    if level == "amaranth":
        return _run_amaranth(comp, vs)
    if level == "verilator":
        return _run_verilator(artefacts, vs, run_dir)
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


def _run_verilator(artefacts, vs: LutVectors, run_dir=None) -> dict[str, np.ndarray]:
    from .runner import build, run_cocotb

    b = build(artefacts)
    rdir = Path(run_dir) if run_dir else Path(artefacts) / "run-lutnet"
    vpath = vs.save(rdir / "vectors.npz")
    out = rdir / "results.npz"
    out.unlink(missing_ok=True)
    r = run_cocotb(b, "testbenches.tb_lutnet", {"HWSIM_LUT_VECTORS": str(vpath.resolve()),
                                                "HWSIM_LUT_RESULTS": str(out.resolve()),
                                                "PYTHONPATH": os.pathsep.join(
                                                    [str(Path(__file__).resolve().parents[1]),
                                                     os.environ.get("PYTHONPATH", "")])},
                   run_dir=rdir)
    if r.failed or not out.is_file():
        raise RuntimeError(f"cocotb lutnet run failed ({r.failed} of {r.tests} tests); log: {r.log}")
    z = np.load(out)
    od = unpack([int(v) for v in z["out_data"].tolist()], vs.n_out, vs.b_out)     # decimal strings (wide ints)
    return _trace_to_result(od, z["out_valid"].astype(np.int64))


@dataclass
class LutCheck:
    level: str
    ok: bool
    samples: int
    lines: list[str]

    def summary(self) -> str:
        return f"{self.level}: {self.samples} samples, bit-exact: {'yes' if self.ok else 'NO'}" + \
            ("" if self.ok else "\n  " + "\n  ".join(self.lines))


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


def check(vs: LutVectors, got: dict[str, np.ndarray], level: str, net=None,
          reference_trace: dict[str, np.ndarray] | None = None) -> LutCheck:
    """Outputs bit-exact with the netlist; output cycles = input cycles + latency; the per-cycle trace equal to
    ``reference_trace`` (the cycle-level model's) when given."""
    lines = []
    out = np.asarray(got["outputs"])
    if out.shape != vs.expected.shape:
        lines.append(f"{len(out)} outputs of shape {out.shape[1:]}, expected {vs.expected.shape}")
    elif not np.array_equal(out.astype(np.uint8), vs.expected):
        s = int(np.flatnonzero(np.any(out != vs.expected, axis=1))[0])
        lines.append(f"sample {s}: got {out[s].tolist()}, expected {vs.expected[s].tolist()}")
        if net is not None:
            lines.append(_locate(net, vs.x[s], out[s]))
    if "out_cycles" in got:
        want = vs.in_cycles + vs.latency
        oc = np.asarray(got["out_cycles"])
        if not np.array_equal(oc, want):
            k = int(np.flatnonzero(oc[:len(want)] != want[:len(oc)])[0]) if len(oc) and len(want) and \
                np.any(oc[:len(want)] != want[:len(oc)]) else min(len(oc), len(want))
            lines.append(f"output cycles: {len(oc)} valid beats; first differing beat {k}: got "
                         f"{oc[k] if k < len(oc) else None}, expected {want[k] if k < len(want) else None} "
                         f"(input cycle + latency {vs.latency})")
    if reference_trace is not None and "trace" in got:
        for key in ("trace", "trace_valid"):
            a, b = np.asarray(got[key]), np.asarray(reference_trace[key])
            if a.shape != b.shape or not np.array_equal(a, b):
                c = int(np.flatnonzero(np.any((a != b).reshape(len(a), -1), axis=1))[0]) if a.shape == b.shape else -1
                lines.append(f"{key} differs from the cycle-level model" + (f" first in cycle {c}" if c >= 0 else
                                                                             f": shapes {a.shape} vs {b.shape}"))
    return LutCheck(level, not lines, len(vs.expected), lines)


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
    return vectors(net, x, net.depth + int(design.pipeline.out_reg), seed=seed, name=design.name,
                   n_random=n_random)


def verify(design, levels=LEVELS, root: str | Path = "build", n_random: int = 0, seed: int = 0,
           max_samples: int | None = None) -> list[LutCheck]:
    """The whole loop for a design on its dataset's test set (digits) or random codes."""
    from hwsim.lutnet.sim import build_netlist
    from rtl_gen.lutnet import LutNetPipeline, emit

    net = build_netlist(design).net
    out_reg = design.pipeline.out_reg
    vs = design_vectors(design, seed=seed, n_random=n_random, max_samples=max_samples)
    ref = run("hwsim", vs, net=net, out_reg=out_reg)
    results = []
    for level in levels:
        if level == "model":
            got = run("model", vs, net=net)
        elif level == "hwsim":
            got = ref
        elif level == "amaranth":
            got = run("amaranth", vs, comp=LutNetPipeline(net, out_reg))
        else:
            art = emit(design, root, net=net)
            got = run("verilator", vs, artefacts=art.directory)
        results.append(check(vs, got, level, net, ref if level != "hwsim" else None))
    return results
