"""Speed of the bit-serial simulator, against the published simulators measured in the same run.

    PYTHONPATH=. python benchmarks/bench_bitserial.py \\
        --bitmod-e445a5f <BitMoD-HPCA-25 @ e445a5f>/bitmod_sim --bitsim <BitSim @ 6845fad>/sim \\
        [--refpython /work/refenv/bin/python] [--reps 3]

1. Compat modes: the published simulator (its own Python, in the reference venv, the time of its
   ``Accelerator(...)`` + ``calc_cycle`` + the four energies, CACTI included as it runs it) vs
   :mod:`hwsim.bitserial.compat_bitmod` / :mod:`compat_bitsim` on the same inputs (same numbers: checked).
   Both sides are repeated (published: ``--reps`` runs; ours: 15 rounds) and their medians compared,
   wall-clock and CPU time of the process (the machine is shared: the load average is printed).
2. Cycle-level mode: a full Llama-2-7B decoder layer (prefill, 256 tokens) with data-dependent
   cycles from bitmod4-quantized synthetic weights, on one core (``--reps`` runs, median); weight
   preparation (generation + quantization with datatypes) timed separately from the cycle count.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GEN = ROOT / "tests/reference/generate_bitserial_reference.py"

_WORKER = r"""
import importlib.util, json, sys, time, contextlib, io
spec = importlib.util.spec_from_file_location("gen", sys.argv[1]); g = importlib.util.module_from_spec(spec)
spec.loader.exec_module(g)
kind, d, extra = sys.argv[2], sys.argv[3], sys.argv[4]
cases = json.loads(sys.stdin.read())
if kind == "bitsim":
    from pathlib import Path
    g.write_bitsim_data(Path(extra), g._load_workloads())     # inputs (not timed)
t = time.perf_counter(); c = time.process_time()
with contextlib.redirect_stdout(io.StringIO()):
    if kind == "bitmod":
        out = g._bitmod_worker(d, extra, cases)
    else:
        out = g._bitsim_worker(d, extra, cases)
print(json.dumps(dict(seconds=time.perf_counter() - t, cpu=time.process_time() - c, out=out)))
"""


def _ref(py, kind, d, extra, cases):
    r = subprocess.run([py, "-c", _WORKER, str(GEN), kind, d, extra], input=json.dumps(cases), capture_output=True,
                       text=True)
    if r.returncode:
        sys.exit(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def _med(xs):
    return sorted(xs)[len(xs) // 2]


def _refs(a, *args):
    """The published simulator ``a.reps`` times: (median wall, median CPU, outputs of the first run)."""
    runs = [_ref(a.refpython, *args) for _ in range(a.reps)]
    return _med([r["seconds"] for r in runs]), _med([r["cpu"] for r in runs]), runs[0]["out"]


def _ours(fn, rounds=15):
    """fn() ``rounds`` times: (median wall, median CPU, last result)."""
    walls, cpus = [], []
    for _ in range(rounds):
        t, c = time.perf_counter(), time.process_time()
        res = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return _med(walls), _med(cpus), res


def _verdict(rw, rc, target=100):
    return f"{'yes' if min(rw, rc) >= target else 'NO'} (wall {rw:.0f}x, CPU {rc:.0f}x)"


def bench_compat(a) -> list[str]:
    from hwsim.bitserial import bitsim_workloads as bwl
    from hwsim.bitserial import compat_bitmod, compat_bitsim
    lines = []
    if a.bitmod_e445a5f:
        cases = [dict(model=m, i_prec=16, batch_size=1, cxt_len=256, is_generation=False, design="bitmod",
                      w_prec=4.0625, kv_prec=8, is_bit_serial=True, pe_dp_size=4, pe_energy=0.56, pe_area=1507.7,
                      pe_array_dim=[32, 32]) for m in ("meta-llama/Llama-2-7b-hf", "meta-llama/Meta-Llama-3-8B",
                                                      "facebook/opt-1.3b")]
        rw, rc, rout = _refs(a, "bitmod", os.path.abspath(a.bitmod_e445a5f), "e445a5f", cases)

        def run3():
            return [compat_bitmod.simulate("e445a5f", compat_bitmod.BitModConfig(
                c["model"], c["w_prec"], c["kv_prec"], 16, 1, 256, False, True, 4, 0.56, 1507.7, (32, 32)))
                for c in cases]
        run3()
        ours, ours_cpu, mine = _ours(run3)
        same = all(m["cycle_total"] == r["outputs"]["cycle_total"] and m["energy"] == r["outputs"]["energy"]
                   for m, r in zip(mine, rout))
        lines.append(f"BitMoD e445a5f, Llama-2-7B + Llama-3-8B + OPT-1.3B prefill (3 models): published "
                     f"{rw:.3f} s wall ({rc:.3f} s CPU in its own process, CACTI subprocesses excluded; median of "
                     f"{a.reps}), compat {ours * 1e3:.2f} ms wall ({ours_cpu * 1e3:.2f} ms CPU; median of 15) -> "
                     f"{rw / ours:.0f}x wall, {rc / ours_cpu:.0f}x CPU; same cycles and energies: "
                     f"{'yes' if same else 'NO'}; >= 100x: {_verdict(rw / ours, rc / ours_cpu)}")
    if a.bitsim:
        cases = [dict(model="bigfc", design=d, args=args, kwargs=kw) for d, args, kw in (
            ("bitvert", [8, 8, 16, [32, 16]], dict(en_bbs=False)),
            ("pragmatic", [8, 8, 8, [32, 16]], {}),
            ("bitlet", [8, 8, 32, [2, 16]], {}),
            ("bitwave", [6, 8, 8, [32, 16]], dict(layer_prec={}, en_bitflip=True, en_config_dataflow=False)))]
        with __import__("tempfile").TemporaryDirectory() as tmp:
            rw, rc, rout = _refs(a, "bitsim", os.path.abspath(a.bitsim), tmp, cases)
        # the inputs (not timed, as on the published side): INT8 weights as int8 arrays
        inputs = {m: (bwl.parse_matmul_json(bwl.matmul_json(m)),
                       {k: np.ascontiguousarray(v.T, dtype=np.int8) for k, v in bwl.bitsim_weights(m).items()})
                  for m in ("bert-mrpc", "bigfc")}

        def run_all(model):
            layers, weights = inputs[model]
            res = []
            for c in cases:
                x = c["args"]
                opts = {k: v for k, v in c["kwargs"].items() if k != "layer_prec"}
                res.append(compat_bitsim.simulate(compat_bitsim.BitSimConfig(c["design"], model, x[0], x[1], x[2],
                                                                             tuple(x[3]), opts), layers, weights))
            return res
        run_all("bert-mrpc")          # loads the Numba kernels from their on-disk cache
        ours, ours_cpu, mine = _ours(lambda: run_all("bigfc"))
        same = all(m["cycle_total"] == r["outputs"]["cycle_total"] and m["energy"] == r["outputs"]["energy"]
                   for m, r in zip(mine, rout))
        lines.append(f"BitSim 6845fad, bigfc (1024x1024 + 1024x512 + 512x48, 512 tokens) x BitVert/Pragmatic/"
                     f"Bitlet/BitWave: published {rw:.2f} s wall ({rc:.2f} s CPU in its own process, CACTI "
                     f"subprocesses excluded; median of {a.reps}), compat {ours * 1e3:.1f} ms wall "
                     f"({ours_cpu * 1e3:.1f} ms CPU; median of 15) -> {rw / ours:.0f}x wall, {rc / ours_cpu:.0f}x "
                     f"CPU; same cycles and energies: {'yes' if same else 'NO'}; >= 100x: "
                     f"{_verdict(rw / ours, rc / ours_cpu)}")
    return lines


def bench_cycle(reps: int) -> list[str]:
    from hwsim.bitserial.sim import BitSerialSim, load, network_of
    sim = BitSerialSim(load(ROOT / "designs/bitserial/bitmod_32x32.yaml"))
    net = network_of("llm:llama2-7b,seq=256,phase=prefill,layers=1,vocab=0")
    # warm the Numba kernels on a small layer (compilation is cached on disk after the first run)
    from hwsim.workloads import Gemm
    w = sim.layer_weights(Gemm(4, 32, 128, "warm"), 0)
    sim.layer_cycles(w, 128, False)
    runs = []
    for _ in range(reps):
        t_prep = t_cyc = c_prep = c_cyc = 0.0
        cycles = lanes = busy = bound = 0
        for g in net.layers:
            t, c = time.perf_counter(), time.process_time()
            lw = sim.layer_weights(g, 0)
            t_prep += time.perf_counter() - t
            c_prep += time.process_time() - c
            t, c = time.perf_counter(), time.process_time()
            tiles, stats = sim.layer_cycles(lw, g.K, False)
            cycles += int(tiles.sum()) * -(-g.M // sim.arr.cols) * g.repeat
            t_cyc += time.perf_counter() - t
            c_cyc += time.process_time() - c
            lanes += stats[0] * 4 * -(-g.M // sim.arr.cols) * g.repeat if stats is not None else 0
            busy += stats[2] * -(-g.M // sim.arr.cols) * g.repeat if stats is not None else 0
            bound += int(sim.layer_cycles(lw, g.K, True)[0].sum()) * -(-g.M // sim.arr.cols) * g.repeat
            del lw
        runs.append((t_prep + t_cyc, t_prep, t_cyc, c_prep + c_cyc, c_prep, c_cyc, cycles))
        extra = (bound, busy, lanes)
    if len({r[-1] for r in runs}) != 1:
        return [f"cycle-level: the cycle count differs between runs ({sorted({r[-1] for r in runs})}): NO"]
    wall, wp, wc = (_med([r[i] for r in runs]) for i in range(3))
    cpu, cp, cc = (_med([r[i] for r in runs]) for i in range(3, 6))
    nw = sum(g.N * g.K for g in net.layers)
    return [f"cycle-level, Llama-2-7B decoder layer, prefill 256 tokens, bitmod_32x32 ({nw / 1e6:.0f} M weight "
            f"codes incl. attention K/V): {runs[0][-1]} cycles (analytical worst-case bound {extra[0]}; lane terms "
            f"{extra[1]} of {extra[2]} lane-cycles of the rows' own steps = {extra[1] / max(1, extra[2]):.1%}); median of {reps} runs, one core: data-dependent "
            f"cycle count {wc:.2f} s wall ({cc:.2f} s CPU); weight preparation (seeded synthetic fp32 + datatypes "
            f"bitmod4/int quantization) {wp:.2f} s wall ({cp:.2f} s CPU); total {wall:.2f} s wall ({cpu:.2f} s "
            f"CPU); under 10 s: {'yes' if max(wall, cpu) < 10 else 'NO'} (wall {wall:.2f} s, CPU {cpu:.2f} s)"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bitmod-e445a5f")
    ap.add_argument("--bitsim")
    ap.add_argument("--refpython", default="/work/refenv/bin/python")
    ap.add_argument("--skip-cycle", action="store_true")
    ap.add_argument("--reps", type=int, default=3, help="runs of each published simulator and of the cycle-level "
                    "layer (medians)")
    a = ap.parse_args(argv)
    if a.reps < 1:
        ap.error(f"--reps {a.reps}: expected >= 1")
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    load0 = os.getloadavg()
    lines = bench_compat(a)
    if not a.skip_cycle:
        lines += bench_cycle(a.reps)
    load1 = os.getloadavg()
    print(f"load average (1, 5, 15 min) at start {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, at end "
          f"{load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} ({os.cpu_count()} cores)")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
