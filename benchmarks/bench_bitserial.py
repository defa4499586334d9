"""Speed of the bit-serial simulator, against the published simulators measured in the same run.

    PYTHONPATH=. python benchmarks/bench_bitserial.py \\
        --bitmod-e445a5f <BitMoD-HPCA-25 @ e445a5f>/bitmod_sim --bitsim <BitSim @ 6845fad>/sim \\
        [--refpython /work/refenv/bin/python]

1. Compat modes: the published simulator (its own Python, in the reference venv, the time of its
   ``Accelerator(...)`` + ``calc_cycle`` + the four energies, CACTI included as it runs it) vs
   :mod:`hwsim.bitserial.compat_bitmod` / :mod:`compat_bitsim` on the same inputs (same numbers: checked).
2. Cycle-level mode: a full Llama-2-7B decoder layer (prefill, 256 tokens) with data-dependent
   cycles from bitmod4-quantized synthetic weights, on one core; weight preparation (generation +
   quantization with datatypes) timed separately from the cycle count.
"""

from __future__ import annotations

import argparse
import importlib.util
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


def bench_compat(a) -> list[str]:
    from hwsim.bitserial import bitsim_workloads as bwl
    from hwsim.bitserial import compat_bitmod, compat_bitsim
    lines = []
    if a.bitmod_e445a5f:
        cases = [dict(model=m, i_prec=16, batch_size=1, cxt_len=256, is_generation=False, design="bitmod",
                      w_prec=4.0625, kv_prec=8, is_bit_serial=True, pe_dp_size=4, pe_energy=0.56, pe_area=1507.7,
                      pe_array_dim=[32, 32]) for m in ("meta-llama/Llama-2-7b-hf", "meta-llama/Meta-Llama-3-8B",
                                                      "facebook/opt-1.3b")]
        ref = _ref(a.refpython, "bitmod", os.path.abspath(a.bitmod_e445a5f), "e445a5f", cases)
        t, cpu = time.perf_counter(), time.process_time()
        reps = 20
        for _ in range(reps):
            mine = [compat_bitmod.simulate("e445a5f", compat_bitmod.BitModConfig(
                c["model"], c["w_prec"], c["kv_prec"], 16, 1, 256, False, True, 4, 0.56, 1507.7, (32, 32)))
                for c in cases]
        ours, ours_cpu = (time.perf_counter() - t) / reps, (time.process_time() - cpu) / reps
        same = all(m["cycle_total"] == r["outputs"]["cycle_total"] and m["energy"] == r["outputs"]["energy"]
                   for m, r in zip(mine, ref["out"]))
        lines.append(f"BitMoD e445a5f, Llama-2-7B + Llama-3-8B + OPT-1.3B prefill (3 models): published "
                     f"{ref['seconds']:.3f} s wall ({ref['cpu']:.3f} s CPU in its own process, CACTI subprocesses "
                     f"excluded), compat {ours * 1e3:.2f} ms wall ({ours_cpu * 1e3:.2f} ms CPU; mean of {reps}) -> "
                     f"{ref['seconds'] / ours:.0f}x wall, {ref['cpu'] / ours_cpu:.0f}x CPU; same cycles and energies: "
                     f"{'yes' if same else 'NO'}")
    if a.bitsim:
        cases = [dict(model="bigfc", design=d, args=args, kwargs=kw) for d, args, kw in (
            ("bitvert", [8, 8, 16, [32, 16]], dict(en_bbs=False)),
            ("pragmatic", [8, 8, 8, [32, 16]], {}),
            ("bitlet", [8, 8, 32, [2, 16]], {}),
            ("bitwave", [6, 8, 8, [32, 16]], dict(layer_prec={}, en_bitflip=True, en_config_dataflow=False)))]
        with __import__("tempfile").TemporaryDirectory() as tmp:
            ref = _ref(a.refpython, "bitsim", os.path.abspath(a.bitsim), tmp, cases)
        inputs = {m: (bwl.parse_matmul_json(bwl.matmul_json(m)),
                       {k: np.ascontiguousarray(v.T, dtype=np.int8) for k, v in bwl.bitsim_weights(m).items()})
                  for m in ("bert-mrpc", "bigfc")}      # the inputs (not timed, as on the published side)

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
        walls, cpus = [], []
        for _ in range(3):
            t, cpu = time.perf_counter(), time.process_time()
            mine = run_all("bigfc")
            walls.append(time.perf_counter() - t)
            cpus.append(time.process_time() - cpu)
        ours, ours_cpu = sorted(walls)[1], sorted(cpus)[1]      # median of 3
        same = all(m["cycle_total"] == r["outputs"]["cycle_total"] and m["energy"] == r["outputs"]["energy"]
                   for m, r in zip(mine, ref["out"]))
        lines.append(f"BitSim 6845fad, bigfc (1024x1024 + 1024x512 + 512x48, 512 tokens) x BitVert/Pragmatic/"
                     f"Bitlet/BitWave: published {ref['seconds']:.2f} s wall ({ref['cpu']:.2f} s CPU in its own "
                     f"process, CACTI subprocesses excluded), compat {ours:.3f} s wall ({ours_cpu:.3f} s CPU; median of 3) -> "
                     f"{ref['seconds'] / ours:.0f}x wall, {ref['cpu'] / ours_cpu:.0f}x CPU; "
                     f"same cycles and energies: {'yes' if same else 'NO'}")
    return lines


def bench_cycle() -> list[str]:
    from hwsim.bitserial.sim import BitSerialSim, load, network_of
    sim = BitSerialSim(load(ROOT / "designs/bitserial/bitmod_32x32.yaml"))
    net = network_of("llm:llama2-7b,seq=256,phase=prefill,layers=1,vocab=0")
    # warm the Numba kernels on a small layer (compilation is cached on disk after the first run)
    from hwsim.workloads import Gemm
    w = sim.layer_weights(Gemm(4, 32, 128, "warm"), 0)
    sim.layer_cycles(w, 128, False)
    t_prep = t_cyc = 0.0
    cycles = 0
    for g in net.layers:
        t = time.perf_counter()
        lw = sim.layer_weights(g, 0)
        t_prep += time.perf_counter() - t
        t = time.perf_counter()
        tiles, _ = sim.layer_cycles(lw, g.K, False)
        cycles += int(tiles.sum()) * -(-g.M // sim.arr.cols) * g.repeat
        t_cyc += time.perf_counter() - t
    nw = sum(g.N * g.K for g in net.layers)
    return [f"cycle-level, Llama-2-7B decoder layer, prefill 256 tokens, bitmod_32x32 ({nw / 1e6:.0f} M weight "
            f"codes incl. attention K/V): {cycles} cycles; data-dependent cycle count {t_cyc:.2f} s; weight "
            f"preparation (synthetic fp32 + datatypes bitmod4/int quantization) {t_prep:.2f} s; total "
            f"{t_cyc + t_prep:.2f} s (one core)"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bitmod-e445a5f")
    ap.add_argument("--bitsim")
    ap.add_argument("--refpython", default="/work/refenv/bin/python")
    ap.add_argument("--skip-cycle", action="store_true")
    a = ap.parse_args(argv)
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    lines = bench_compat(a)
    if not a.skip_cycle:
        lines += bench_cycle()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
