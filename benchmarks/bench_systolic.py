"""Systolic array speed: hwsim against SCALE-Sim 3.0.0 on the same cases, in one run.

    .venv/bin/python benchmarks/bench_systolic.py [--quick]

For every case it runs SCALE-Sim (in its own interpreter: $SCALESIM_PYTHON or .scalesim-venv, see
tests/reference/generate_scalesim_reference.py; SCALE-Sim's time is measured inside its process, around
``run_scale()`` only) and hwsim on the same configuration/topology, and prints the cycle counts and SRAM
counts side by side with the wall-time ratio. hwsim is timed in its SCALE-Sim-compatible analytical
mode (what SCALE-Sim computes) and in its cycle-level mode (which advances the RTL clock of
docs/systolic.md and checks the outputs bit-exactly; its cycle counts are the native ones, not
SCALE-Sim's). Then: a 2048x4096x4096 GEMM on 128x128 in analytical mode, and the cycle-level throughput
in PE-cycles per second on one core.

The SCALE-Sim-compatible numbers include SCALE-Sim's memory system (stalls, DRAM traffic, start/stop
cycles; hwsim/systolic/scalesim_mem.py), and every report column is compared. Besides the in-process
times, both *whole commands* are timed (CPU seconds of the child process) as a user runs them (interpreter start-up, imports, file
reading, reports): ``python -m hwsim.cli simulate X.cfg -w topo:X.csv --compat scalesim --no-plot`` and
SCALE-Sim's own run (``scalesim.scale_sim.scalesim(...).run_scale()`` in a fresh interpreter).

Targets (issue 12): whole command >= 50x faster than SCALE-Sim's; 2048x4096x4096 on 128x128 WS
cycle-level bit-exact < 10 s; cycle-level >= 1e9 PE-cycles/s on one core at 8x8, 32x32 and 128x128.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")      # one core: the numpy/BLAS checks too
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import hwsim  # noqa: E402
from hwsim.systolic import kernels as K_  # noqa: E402
from hwsim.systolic import scalesim_io as io  # noqa: E402
from hwsim.design import from_dict  # noqa: E402
from hwsim.report import format_table  # noqa: E402
from hwsim.workloads import Conv, Gemm, network  # noqa: E402

CASES = [
    # (rows, cols, dataflow, kind, layers)
    (8, 8, "ws", "gemm", [Gemm(100, 40, 17, name="g_tall"), Gemm(64, 64, 64, name="g_sq64")]),
    (8, 8, "os", "conv", [Conv(28, 28, 3, 3, 16, 32, 1, 1, name="c_3x3", convention="scalesim")]),
    (8, 8, "is", "gemm", [Gemm(20, 13, 30, name="g_odd"), Gemm(1, 257, 129, name="g_vec")]),
    (32, 32, "ws", "conv", [Conv(28, 28, 3, 3, 16, 32, 1, 1, name="c_3x3", convention="scalesim"),
                            Conv(14, 14, 1, 1, 64, 48, 1, 1, name="c_1x1", convention="scalesim")]),
    (32, 32, "os", "gemm", [Gemm(256, 384, 512, name="g_big")]),
    (32, 32, "is", "gemm", [Gemm(300, 200, 150, name="g_mid")]),
    (128, 128, "ws", "gemm", [Gemm(256, 384, 512, name="g_big"), Gemm(129, 130, 131, name="g_129")]),
    (128, 128, "os", "conv", [Conv(56, 56, 3, 3, 64, 64, 1, 1, name="c_56", convention="scalesim")]),
    (128, 128, "is", "gemm", [Gemm(300, 200, 150, name="g_mid")]),
]
QUICK = [0, 2, 4, 6]
KEYS = list(io.FIELDS)       # every SCALE-Sim report column


def child_cpu() -> float:
    """CPU seconds (user + system) used so far by finished child processes: the whole-command times are
    CPU times, so a busy shared machine does not distort the ratio."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def best_of(fn, min_time=0.2, max_reps=10000, clock=time.perf_counter):
    """Best time (``clock``: wall by default) of fn() over repetitions lasting at least ``min_time`` in total."""
    best, total, reps = float("inf"), 0.0, 0
    while (total < min_time or reps < 3) and reps < max_reps:
        t0 = clock()
        fn()
        dt = clock() - t0
        best, total, reps = min(best, dt), total + dt, reps + 1
    return best


def design(rows, cols, df):
    return from_dict({"schema": 1, "name": f"bench_{rows}x{cols}_{df}", "kind": "systolic",
                      "array": {"rows": rows, "cols": cols, "dataflow": df}})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="4 cases instead of 9")
    ap.add_argument("--no-cycle", action="store_true", help="skip the cycle-level timings")
    args = ap.parse_args(argv)
    print(f"# load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2-core machine); CPU times "
          f"are judged, wall times are inflated by other processes")
    py = io.scalesim_python()
    if py is None:
        print("SCALE-Sim 3.0.0 not found ($SCALESIM_PYTHON or .scalesim-venv/bin/python): skipping the "
              "comparison; see tests/reference/generate_scalesim_reference.py for the one-line install.\n")
    # warm up the Numba kernels (cached on disk after the first run)
    for df in ("ws", "os", "is"):
        hwsim.build(design(4, 4, df)).run("gemm:5,5,5", mode="cycle")
    rows_out, ok_all, ratios, cmd_ratios = [], True, [], []
    cases = [CASES[i] for i in QUICK] if args.quick else CASES
    with tempfile.TemporaryDirectory() as tmp:
        for i, (R, C, df, kind, layers) in enumerate(cases):
            name = f"{R}x{C}_{df}_{kind}"
            sim = hwsim.build(design(R, C, df))
            net = network(layers, name)
            t_ana = best_of(lambda: sim.run(net, mode="analytical").scalesim())
            mine = sim.run(net, mode="analytical").scalesim()
            if not args.no_cycle:
                t0 = time.perf_counter()
                cyc = sim.run(net, mode="cycle")
                t_cyc = time.perf_counter() - t0
                assert cyc.verified
            if py is not None:
                c0 = child_cpu()
                theirs, t_ss = io.run_scalesim(py, Path(tmp) / name, f"bench_{name}", R, C, df, layers, kind)
                t_ss_cmd = child_cpu() - c0
                same = all(m[k] == t[k] for m, t in zip(mine, theirs) for k in KEYS)
                ok_all &= same
                ratio = t_ss / t_ana
                ratios.append(ratio)
                ss_cycles = sum(t["compute_cycles"] for t in theirs)
                # the whole hwsim command on the same files
                wd = Path(tmp) / name
                cmd = [sys.executable, "-m", "hwsim.cli", "simulate", str(wd / f"bench_{name}.cfg"), "-w",
                       f"topo:{wd / f'bench_{name}_topo.csv'}", "--compat", "scalesim", "--mode",
                       "analytical", "--no-plot", "-o", str(wd / "hw")]
                env = {**os.environ, "PYTHONPATH": str(ROOT)}
                c0 = child_cpu()
                r = subprocess.run(cmd, capture_output=True, text=True, env=env)
                t_cmd = child_cpu() - c0
                if r.returncode != 0:
                    raise RuntimeError(r.stderr[-2000:])
                cmd_ratios.append(t_ss_cmd / t_cmd)
            else:
                same, t_ss, ratio, ss_cycles, t_ss_cmd, t_cmd = None, float("nan"), float("nan"), "-", \
                    float("nan"), float("nan")
            rows_out.append([name, "+".join(l.name for l in layers), f"{ss_cycles:,}" if py else "-",
                             f"{sum(m['compute_cycles'] for m in mine):,}",
                             {True: "yes", False: "NO", None: "-"}[same], f"{t_ss:.3f}", f"{t_ana * 1e3:.3f}",
                             f"{ratio:,.0f}x" if py else "-", f"{t_ss_cmd:.2f}", f"{t_cmd:.2f}",
                             f"{t_ss_cmd / t_cmd:,.1f}x" if py else "-",
                             "-" if args.no_cycle else f"{cyc.compute_cycles:,}",
                             "-" if args.no_cycle else f"{t_cyc:.3f}",
                             "-" if args.no_cycle or not py else f"{t_ss / t_cyc:,.1f}x"])
            print(f"[{i + 1}/{len(cases)}] {name} done", file=sys.stderr, flush=True)
    print(format_table(["case", "layers", "SCALE-Sim cyc", "hwsim cyc (SS mode)", "all fields equal",
                        "SCALE-Sim s", "hwsim SS-mode ms", "ratio", "SCALE-Sim cmd CPU s", "hwsim cmd CPU s", "cmd ratio",
                        "hwsim native cyc", "cycle-level s", "ratio"], rows_out, align="llrrlrrrrrrrrr"))
    print(f"# load average after the SCALE-Sim comparison: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if ratios:
        print(f"\nSCALE-Sim-compatible mode: min speed-up {min(ratios):,.0f}x (simulation only), "
              f"{min(cmd_ratios):,.1f}x (whole commands, CPU time) over {len(ratios)} cases; every report field "
              f"identical in all: {'yes' if ok_all else 'NO'}")
        met = sum(r >= 50 for r in cmd_ratios)
        print(f"whole command >= 50x faster than SCALE-Sim's whole run (issue 12 target): {met} of "
              f"{len(cmd_ratios)} cases (max {max(cmd_ratios):,.1f}x, median "
              f"{sorted(cmd_ratios)[len(cmd_ratios) // 2]:,.1f}x)")

    # big GEMM: analytical, then cycle-level with the bit-exact check
    tpu = hwsim.build(ROOT / "designs" / "tpu_like_128x128_ws_int8.yaml")
    t_big = best_of(lambda: tpu.run("gemm:2048,4096,4096", mode="analytical"), min_time=0.5)
    big = tpu.run("gemm:2048,4096,4096", mode="analytical")
    print(f"\n2048x4096x4096 GEMM on 128x128 WS, analytical: {big.compute_cycles:,} cycles, "
          f"{100 * big.utilization:.1f}% utilisation, {t_big * 1e3:.3f} ms (the SCALE-Sim-compatible "
          f"numbers simulate SCALE-Sim's memory system request by request, ~1e9 requests here: not timed)")
    if not args.no_cycle and not args.quick:
        g = Gemm(2048, 4096, 4096)
        c0, w0 = time.process_time(), time.perf_counter()
        codes = tpu.random_operands(g)
        c1 = time.process_time()
        out, cnt = tpu.run_layer_cycle(g, *codes)
        c2, w2 = time.process_time(), time.perf_counter()
        exact = bool(np.array_equal(out, tpu.reference(*codes)))
        c3, w3 = time.process_time(), time.perf_counter()
        plan = tpu.plan(g)
        same = int(cnt[K_.CYCLES]) == plan.cycles == big.compute_cycles
        print(f"2048x4096x4096 GEMM on 128x128 WS, cycle-level: {int(cnt[K_.CYCLES]):,} cycles (closed form "
              f"{plan.cycles:,}: {'equal' if same else 'DIFFERENT'}), {plan.cycles * 128 * 128 / 1e9:.1f} G "
              f"PE-cycles; CPU s: operands {c1 - c0:.2f} + kernel {c2 - c1:.2f} + numpy check {c3 - c2:.2f} = "
              f"{c3 - c0:.2f} (wall {w3 - w0:.2f}); bit-exact with numpy: {'yes' if exact else 'NO'}; "
              f"target < 10 CPU-s: {'met' if c3 - c0 < 10 and exact and same else 'NOT met'}; kernel "
              f"{plan.cycles * 128 * 128 / (c2 - c1) / 1e9:.2f} G PE-cycles per CPU-second")
        del out, codes

    # cycle-level throughput
    if not args.no_cycle:
        print("\ncycle-level throughput (one core, int8 x int8 -> int32, random operands; CPU time of "
              "run_layer_cycle: decode + kernel; the numpy/BLAS reference of the same GEMM timed alongside):")
        tab = []
        for R, C, shape in [(128, 128, (512, 512, 512)), (64, 64, (256, 256, 256)), (32, 32, (256, 256, 256)),
                            (8, 8, (128, 128, 128))]:
            for df in ("ws", "os", "is"):
                sim = hwsim.build(design(R, C, df))
                g = Gemm(*shape)
                codes = sim.random_operands(g)
                t = best_of(lambda: sim.run_layer_cycle(g, *codes), min_time=0.5, max_reps=5,
                            clock=time.process_time)
                t_ref = best_of(lambda: sim.reference(*codes), min_time=0.2, max_reps=20, clock=time.process_time)
                out, cnt = sim.run_layer_cycle(g, *codes)
                ok = (np.array_equal(out, sim.reference(*codes)) and int(cnt[K_.CYCLES]) == sim.plan(g).cycles)
                pc = sim.plan(g).cycles * R * C
                tab.append([f"{R}x{C}", df, "x".join(map(str, shape)), f"{sim.plan(g).cycles:,}", f"{t * 1e3:.1f}",
                            f"{pc / t / 1e9:.2f}", f"{t_ref * 1e3:.1f}", f"{t / t_ref:.1f}x",
                            "yes" if ok else "NO",
                            "-" if R == 64 else ("met" if pc / t >= 1e9 else "NOT met")])
        print(format_table(["array", "flow", "MxNxK", "cycles", "CPU ms", "G PE-cycles/CPU-s", "numpy ms",
                            "vs numpy", "bit-exact, cycles = closed form", "target >= 1"], tab,
                           align="lllrrrrrll"))
        print("(per cycle every PE does psum/acc += a * w; the kernels keep the PEs column by column so one cycle "
              "of the whole array is one contiguous vectorised loop; docs/systolic.md section 13)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
