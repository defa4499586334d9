"""Systolic-array RTL speed and size: Verilog emission time, Verilator build times (cold / warm ccache /
cached), simulated cycles per second under cocotb against amaranth.sim on the same GEMMs (measured in
the same run), and optionally the Yosys area.

    .venv/bin/python benchmarks/bench_systolic_rtl.py            # 2x2, 4x4, 8x8 ws + 8x8 os/is + SF4 4x4
    .venv/bin/python benchmarks/bench_systolic_rtl.py --quick    # 2x2 and 8x8 ws
    .venv/bin/python benchmarks/bench_systolic_rtl.py --area     # + Yosys xc7 cells (slow for 8x8)

Build columns as in bench_rtl.py: "cold" = fresh build directory, ccache off; "ccache" = fresh build
directory, ccache warm; "cached" = stamp hit. Cycle rates: array cycles (start to done, what hwsim
counts) per second of simulation time; "all cyc/s" also counts the host-port cycles that load the
operands and read the results back. Builds run in a temporary directory; figures go to stdout and
results/bench_systolic_rtl.txt.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hwsim.design import load  # noqa: E402
from hwsim.report import Progress, atomic_write, format_table  # noqa: E402

from bench_rtl import build_times, cocotb_seconds  # noqa: E402  (same folder)

DESIGNS = ["sa_ws_2x2_int8", "sa_ws_4x4_int8", "sa_ws_8x8_int8", "sa_os_8x8_int8", "sa_is_8x8_int8",
           "sa_ws_4x4_sf4_e4m3"]
QUICK = ["sa_ws_2x2_int8", "sa_ws_8x8_int8"]


def bench(names, root: Path, area: bool) -> tuple[list[list], list[list]]:
    import numpy as np

    from rtl_gen.systolic import SystolicArray
    from rtl_gen.verilog import emit

    from testbenches import systolic as S
    from testbenches.verilator import ccache

    have_ccache = ccache() is not None
    rows, arows = [], []
    prog = Progress(len(names), "systolic RTL")
    for name in names:
        d = load(REPO / "designs" / f"{name}.yaml")
        comp = SystolicArray.from_design(d)
        cfg = comp.config
        t = time.perf_counter()
        art = emit(d, root, component=comp)
        t_emit = time.perf_counter() - t
        cold, cc, cached = build_times(art.directory, root, have_ccache)
        # the design's seeded workload set, three seeds (18 GEMMs)
        shapes = S.default_shapes(cfg.rows, cfg.cols) * 3
        vs = S.systolic_vectors(cfg, shapes, seed=11)
        got, b, run = S.run_verilator(cfg, art.directory, vs)
        ok_v = S.check(vs, got, "verilator").ok
        tsim = cocotb_seconds(run.results_xml)
        arr = int(np.sum(got["cycles"]))
        allc = arr + int(np.sum(got["io_cycles"]))
        t = time.perf_counter()
        got_a = S.run_amaranth(comp, vs)
        tam = time.perf_counter() - t
        ok_a = S.check(vs, got_a, "amaranth").ok
        pes = cfg.rows * cfg.cols
        rows.append([name, f"{art.verilog.stat().st_size / 1e3:.0f}", f"{t_emit:.1f}", f"{cold:.1f}",
                     "-" if cc is None else f"{cc:.1f}", f"{cached:.2f}", f"{arr:,}", f"{arr / tsim:,.0f}",
                     f"{allc / tsim:,.0f}", f"{arr / tam:,.0f}", f"{tam / tsim:.1f}x", f"{pes * arr / tsim / 1e3:,.0f}k",
                     "yes" if ok_v and ok_a else "NO"])
        if area:
            from rtl_gen.area import synthesize

            a = synthesize(art.verilog, art.top, "xc7", timeout=3600)
            arows.append([name, a.lut, a.ff, a.carry, a.dsp, a.bram, a.lutram])
        prog.step(name)
    return rows, arows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2x2 and 8x8 ws only")
    ap.add_argument("--area", action="store_true", help="also synthesize with Yosys (xc7)")
    args = ap.parse_args(argv)
    from testbenches.runner import build_environment_summary

    out = [f"bench_systolic_rtl: {build_environment_summary()}"]
    print(out[0], flush=True)
    root = Path(tempfile.mkdtemp(prefix="bench-sa-rtl-"))
    try:
        rows, arows = bench(QUICK if args.quick else DESIGNS, root, args.area)
        t = format_table(["design", "Verilog kB", "emit s", "cold s", "ccache s", "cached s", "array cycles",
                          "cocotb cyc/s", "cocotb all cyc/s", "amaranth cyc/s", "cocotb vs amaranth",
                          "cocotb PE-cyc/s", "bit-exact"], rows, align="lrrrrrrrrrrrl")
        out += ["", "Verilog emission, Verilator build time and simulation speed (18 GEMMs per design, same "
                "vectors on both simulators):", t]
        print("\n".join(out[-3:]), flush=True)
        if arows:
            t = format_table(["design", "LUT", "FF", "CARRY4", "DSP", "BRAM", "LUTRAM"], arows)
            out += ["", "Yosys xc7 cells (memories included):", t]
            print("\n".join(out[-3:]), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    path = atomic_write(REPO / "results" / "bench_systolic_rtl.txt", "\n".join(out) + "\n")
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
