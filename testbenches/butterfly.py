"""The butterfly bench: one seeded vector set, four levels, one checker.

Vectors: for each length n in ``lengths`` (16 .. min(256, max_length)) and each mode (FFT, linear), one
vector with FP16 inputs and coefficients (FFT: the engine's twiddles; linear: random 2x2 blocks).
Expected outputs come from the functional model (:mod:`hwsim.butterfly.functional`, FP16 BU order)
and expected cycles from the timing contract (:func:`hwsim.butterfly.engine.engine_cycles`).

Levels:
  model      the functional model itself (fft_bitreversed / butterfly_linear) and the closed-form cycles
  hwsim      the data-carrying engine model (banked RAMs, index generator, packed coefficient rows) and
             the cycle-level simulator's count for one vector (``build(design).run('fft:n')``, P_BE 1)
  amaranth   the generated ButterflyEngine under amaranth.sim, driven by testbenches.butterfly_driver
  verilator  the emitted Verilog under cocotb + Verilator, same driver (testbenches.tb_butterfly)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hwsim.butterfly import engine
from hwsim.butterfly import functional as fn

from .vectors import CheckResult
from .vectorset import VectorSet

LEVELS = ("model", "hwsim", "amaranth", "verilator")
#: the cocotb test module (self-checking; exported with the regression suite by testbenches.export) and the
#: numpy-only harness module it needs beside the shared ones
COCOTB_MODULE = "testbenches.tb_butterfly"
COCOTB_HARNESS = ("butterfly_driver.py",)


class Vectors(dict):
    """The vector set: ``jobs`` (inputs per vector), ``expected`` (out_re, out_im, cycles), ``seed``,
    ``units``; a dict with attribute access and ``n`` (input elements, for the shared verify loop)."""

    __getattr__ = dict.__getitem__

    @property
    def n(self) -> int:
        return sum(2 * j["n"] for j in self["jobs"])
KEYS = ("out_re", "out_im", "cycles")


def _words(n: int, is_fft: bool, rng) -> tuple[np.ndarray, np.ndarray]:
    """(words[log n, n/2, 4] as uint16, twiddle tensor for the model)."""
    if is_fft:
        _, W16 = fn.fft_twiddles(n)
        w = np.zeros(W16.shape[:2] + (4,), np.float16)
        w[..., 0], w[..., 1] = W16[..., 0], W16[..., 1]
        return w.view(np.uint16), W16
    tw = fn.random_twiddle(n, rng)[0]
    w = np.stack([tw[..., 0, 0], tw[..., 1, 0], tw[..., 0, 1], tw[..., 1, 1]], axis=-1)
    return w.view(np.uint16), tw


def pack_rows(rows: np.ndarray) -> list[int]:
    """rows[R, P, 4] uint16 -> R ints of 64 P bits (BU i word w at bit 64 i + 16 w)."""
    out = []
    for r in rows.astype(np.uint64):
        v = 0
        for i in range(r.shape[0]):
            for w in range(4):
                v |= int(r[i, w]) << (64 * i + 16 * w)
        out.append(v)
    return out


def vectors(design, component=None, seed: int = 0, lengths: Sequence[int] | None = None) -> Vectors:
    p = design.processor
    if lengths is None:
        lengths = [n for n in (16, 32, 64, 128, 256) if 2 * p.units <= n <= p.max_length]
    rng = np.random.default_rng(seed)
    jobs, exp = [], {k: [] for k in KEYS}
    for n in lengths:
        for is_fft in (True, False):
            re = (rng.standard_normal(n) * (1.0 if is_fft else 2.0)).astype(np.float16)
            im = rng.standard_normal(n).astype(np.float16) if is_fft else np.zeros(n, np.float16)
            re[rng.integers(0, n)] = np.float16(-0.0)
            words, tw = _words(n, is_fft, rng)
            rows = engine.coefficient_rows(n, p.units, words)
            if is_fft:
                yr, yi = fn.fft_bitreversed(re, im)
            else:
                yr, yi = fn.butterfly_linear(re, tw), np.zeros(n, np.float16)
            jobs.append({"n": n, "is_fft": is_fft, "log_length": n.bit_length() - 1,
                         "re": re.view(np.uint16).tolist(), "im": im.view(np.uint16).tolist(),
                         "rows_u16": rows, "rows": pack_rows(rows)})
            exp["out_re"].append(yr.view(np.uint16).astype(np.int64))
            exp["out_im"].append(yi.view(np.uint16).astype(np.int64))
            exp["cycles"].append(engine.engine_cycles(n, p.units, p.pipeline_latency, p.popcount_bits))
    exp["cycles"] = np.array(exp["cycles"], np.int64)
    return Vectors(seed=seed, jobs=jobs, expected=exp, units=p.units)


def describe(design, component, vs) -> str:
    ns = sorted({j["n"] for j in vs["jobs"]})
    return (f"{len(vs['jobs'])} vectors (FFT and linear at n = {', '.join(map(str, ns))}), seed {vs['seed']}, "
            f"P_BU {vs['units']}")


def _raw_to_got(raw: dict[str, list]) -> dict[str, Any]:
    return {"out_re": [np.array(x, np.int64) for x in raw["out_re"]],
            "out_im": [np.array(x, np.int64) for x in raw["out_im"]], "cycles": list(raw["cycles"])}


def run_model(design, vs) -> dict[str, Any]:
    got = {k: [] for k in KEYS}
    p = design.processor
    for j in vs["jobs"]:
        re, im = np.array(j["re"], np.uint16).view(np.float16), np.array(j["im"], np.uint16).view(np.float16)
        n = j["n"]
        if j["is_fft"]:
            yr, yi = fn.fft_bitreversed(re, im)
        else:   # rebuild the twiddle tensor from the packed words (pair order) -- via the rows' inverse
            w = _unpack_rows(n, p.units, j["rows_u16"])
            tw = np.stack([np.stack([w[..., 0], w[..., 2]], -1), np.stack([w[..., 1], w[..., 3]], -1)], -2)
            yr, yi = fn.butterfly_linear(re, tw.view(np.float16)), np.zeros(n, np.float16)
        got["out_re"].append(yr.view(np.uint16).astype(np.int64))
        got["out_im"].append(yi.view(np.uint16).astype(np.int64))
        got["cycles"].append(sum(engine.vector_cycles(n, p.units, p.pipeline_latency, closed=True,
                                                      popcount_bits=p.popcount_bits)[x]
                                 for x in ("load", "compute", "drain")) + engine.DRAIN_LATENCY)
    return got


def _unpack_rows(n: int, units: int, rows: np.ndarray) -> np.ndarray:
    """Inverse of engine.coefficient_rows: rows -> words[log n, n/2, 4]."""
    words = np.zeros((n.bit_length() - 1, n // 2, 4), np.uint16)
    r = 0
    for j, (s, lo) in enumerate(engine.stage_pairs(n, units)):
        q = (lo // (2 * s)) * s + lo % s
        words[j][q] = rows[r:r + lo.shape[0]]
        r += lo.shape[0]
    return words


def run_hwsim(design, vs) -> dict[str, Any]:
    from hwsim.butterfly.sim import ButterflySim
    p = design.processor
    sim = ButterflySim(design.replace(processor={"engines": 1}))
    got = {k: [] for k in KEYS}
    for j in vs["jobs"]:
        n = j["n"]
        re, im = np.array(j["re"], np.uint16).view(np.float16), np.array(j["im"], np.uint16).view(np.float16)
        yr, yi = engine.simulate_vector(n, p.units, j["is_fft"], re, im, j["rows_u16"], p.popcount_bits)
        got["out_re"].append(yr.view(np.uint16).astype(np.int64))
        got["out_im"].append(yi.view(np.uint16).astype(np.int64))
        w = f"fft:{n}" if j["is_fft"] else f"bfly:{n},{n}"
        layer = sim.run(w, mode="cycle").layers[0]
        got["cycles"].append(layer.cycles)
    return got


def rtl_jobs(vs) -> list[dict]:
    return [{k: j[k] for k in ("is_fft", "log_length", "re", "im", "rows")} for j in vs["jobs"]]


def run_amaranth(component, vs, vcd: str | None = None) -> dict[str, Any]:
    from .amaranth_sim import AmaranthIO, port_signals, run_clocked_sim
    from .butterfly_driver import run_jobs
    box: dict[str, Any] = {}

    async def nothing():
        return None

    async def tb(ctx):
        io = AmaranthIO(ctx, port_signals(component))

        async def tick():
            await ctx.tick()

        box["raw"] = await run_jobs(io, nothing, tick, rtl_jobs(vs))

    run_clocked_sim(component, tb, vcd)
    return _raw_to_got(box["raw"])


def cocotb_vectors(vs) -> VectorSet:
    """The vector file of the cocotb test (``testbenches.butterfly_driver.jobs_from_arrays``): the jobs'
    inputs concatenated (``re``/``im`` FP16 bit patterns, ``job_n`` elements, ``rows`` packed coefficient
    rows, ``rows_n`` per job, ``is_fft``, ``log_length``) and the expected ``out_re``/``out_im``
    (concatenated) and ``cycles`` per job."""
    jobs = vs["jobs"]
    rows = np.empty(sum(len(j["rows"]) for j in jobs), dtype=object)
    rows[:] = [int(w) for j in jobs for w in j["rows"]]
    cat = lambda k: np.array([v for j in jobs for v in j[k]], np.int64)  # noqa: E731
    inputs = {"re": cat("re"), "im": cat("im"), "job_n": np.array([j["n"] for j in jobs], np.int64),
              "is_fft": np.array([int(j["is_fft"]) for j in jobs], np.int64),
              "log_length": np.array([j["log_length"] for j in jobs], np.int64), "rows": rows,
              "rows_n": np.array([len(j["rows"]) for j in jobs], np.int64)}
    exp = vs["expected"]
    return VectorSet(name=f"butterfly-s{vs['seed']}", kind="butterfly", inputs=inputs,
                     expected={"out_re": np.concatenate(exp["out_re"]), "out_im": np.concatenate(exp["out_im"]),
                               "cycles": np.asarray(exp["cycles"], np.int64)})


def run_verilator(art_dir: Path, vs, waves: bool = False, log=None) -> tuple[dict[str, Any], str]:
    """cocotb (``testbenches.tb_butterfly``, self-checking) on the emitted Verilog through
    ``testbenches.bench.run_cocotb``; results per job (``_runner_failed`` when its own verdict failed)."""
    from .bench import run_cocotb
    from .butterfly_driver import split

    flat, note = run_cocotb(Path(art_dir), cocotb_vectors(vs), COCOTB_MODULE, waves=waves, log=log)
    got = _raw_to_got(split(flat))
    if flat.get("_runner_failed"):
        got["_runner_failed"] = True
    return got, note


def run(level: str, design, component, vs, art_dir: Path | None = None, waves: bool = False, log=None):
    if level == "model":
        return run_model(design, vs), None
    if level == "hwsim":
        return run_hwsim(design, vs), None
    if level == "amaranth":
        return run_amaranth(component, vs), None
    if level == "verilator":
        return run_verilator(Path(art_dir), vs, waves, log)
    raise ValueError(f"level = {level!r}: allowed: {', '.join(LEVELS)}")


def check(vs, got: dict[str, Any], level: str, limit: int = 5) -> CheckResult:
    """np.array_equal on every output code of every vector, and equal cycles."""
    bad: list[str] = []
    checked = 0
    for i, j in enumerate(vs["jobs"]):
        where = f"{'fft' if j['is_fft'] else 'linear'} n={j['n']}"
        for key in ("out_re", "out_im"):
            e = np.asarray(vs["expected"][key][i], np.int64)
            g = np.asarray(got[key][i], np.int64) if i < len(got.get(key, [])) else np.zeros(0, np.int64)
            checked += e.size
            if g.shape != e.shape:
                bad.append(f"{where} {key}: {g.size} outputs, expected {e.size}")
            elif not np.array_equal(g, e):
                k = int(np.flatnonzero(g != e)[0])
                bad.append(f"{where} {key}[{k}]: 0x{int(g[k]):04x}, expected 0x{int(e[k]):04x} "
                           f"({int((g != e).sum())} differ)")
        ge = int(got["cycles"][i]) if i < len(got.get("cycles", [])) else None
        if ge != int(vs["expected"]["cycles"][i]):
            bad.append(f"{where} cycles: {ge}, expected {vs['expected']['cycles'][i]}")
    n_vec = vs.n
    return CheckResult(name="butterfly", backend=level, ok=not bad, vectors=n_vec, checked=checked,
                       cycles=int(sum(vs["expected"]["cycles"])), mismatches=bad[:limit])
