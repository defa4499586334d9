"""RTL speed and size: Verilator build times of the PE per format, simulated cycles per second under
cocotb (against amaranth.sim on the same vectors, measured in the same run), and the Yosys area
table across formats (decoders and PEs).

    .venv/bin/python benchmarks/bench_rtl.py                 # everything (~10 min on 2 cores)
    .venv/bin/python benchmarks/bench_rtl.py --quick         # 3 PEs, 3 decoders
    .venv/bin/python benchmarks/bench_rtl.py --no-build      # area table only

Build columns: "cold" = fresh build directory, ccache off (a clean clone without ccache);
"ccache" = fresh build directory, ccache on and warm (what a second clone / CI rerun sees);
"cached" = same directory, stamp hit (nothing to build). Builds run in a temporary directory, so
the repository's build/ is untouched. Figures go to stdout and results/bench_rtl.txt.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hwsim.design import loads  # noqa: E402
from hwsim.report import Progress, atomic_write, format_table  # noqa: E402

PES = [  # (label, weight, activation, accumulator, weight_meta)
    ("int4 x int8", "int4", "int8", "int24", "auto"),
    ("int4 asym x int8", "int4", "int8", "int24", "group"),
    ("e2m1 x e4m3", "fp4_basic", "float8_e4m3fn", "int32", "auto"),
    ("e2m1-SR x e4m3", "fp4_range", "float8_e4m3fn", "int32", "auto"),
    ("fp4_log x int8", "fp4_log", "int8", "int24", "auto"),
    ("mxfp4 x e4m3", "mxfp4", "float8_e4m3fn", "int32", "auto"),
    ("nvfp4_razer x e4m3", "nvfp4_razer", "float8_e4m3fn", "int32", "auto"),
    ("bitmod4 x int8", "bitmod4", "int8", "int24", "auto"),
    ("nf4 x int8", "nf4", "int8", "int48", "auto"),
    ("sf4 x int8", "sf4_5", "int8", "int40", "auto"),
]
QUICK_PES = [0, 2, 6]


def pe_design(i: int, label, w, a, acc, meta, stages=1):
    name = f"bench_pe{i}"
    return loads(f"schema: 1\nname: {name}\nkind: pe\noperands: {{weight: {w}, activation: {a}, "
                 f"accumulator: {acc}, weight_meta: {meta}}}\npe: {{stages: {stages}}}\n", f"{name}.yaml")


def dec_design(fmt: str):
    name = "bench_dec_" + "".join(c if c.isalnum() else "_" for c in fmt)
    return loads(f"schema: 1\nname: {name}\nkind: decoder\ndecoder: {{format: {fmt}}}\n", f"{name}.yaml")


def _fresh_copy(art_dir: Path, root: Path, tag: str) -> Path:
    d = root / f"{art_dir.name}-{tag}"
    d.mkdir(parents=True)
    for f in art_dir.iterdir():
        if f.is_file():
            shutil.copy(f, d / f.name)
    return d


def build_times(art_dir: Path, root: Path, have_ccache: bool) -> tuple[float, float | None, float]:
    """Seconds of a cold Verilator build, one with a warm ccache (None without ccache) and a cached
    one, each on its own copy of the artefacts; leaves the real build in art_dir."""
    from testbenches import runner

    t = time.perf_counter()
    runner.build(_fresh_copy(art_dir, root, "cold"), use_ccache=False)
    cold = time.perf_counter() - t
    cc = None
    if have_ccache:
        runner.build(_fresh_copy(art_dir, root, "warmup"), use_ccache=True)   # populate ccache
        t = time.perf_counter()
        runner.build(_fresh_copy(art_dir, root, "ccache"), use_ccache=True)
        cc = time.perf_counter() - t
    runner.build(art_dir)                                                     # the real one
    t = time.perf_counter()
    runner.build(art_dir)
    return cold, cc, time.perf_counter() - t


def cocotb_seconds(results_xml: Path) -> float:
    """Simulation time of the (single) cocotb test, from its results.xml."""
    tc = ET.parse(results_xml).getroot().find(".//testcase")
    return float(tc.get("time"))


def bench_builds(indices, root: Path) -> list[list]:
    from rtl_gen.verilog import emit
    from testbenches import amaranth_sim
    from testbenches.verilator import ccache
    from testbenches import pe as pe_bench
    from testbenches.bench import cocotb_run
    from rtl_gen.verilog import component_for
    from testbenches.vectors import check

    have_ccache = ccache() is not None
    rows = []
    prog = Progress(len(indices), "builds+sim")
    for i in indices:
        label, w, a, acc, meta = PES[i]
        d = pe_design(i, label, w, a, acc, meta)
        comp = component_for(d)
        art = emit(d, root, component=comp)
        cold, cc, cached = build_times(art.directory, root, have_ccache)
        # simulation speed on the design's verification vectors
        vs = pe_bench.vectors(d, comp, seed=0)
        got, b, run = cocotb_run(art.directory, vs, "testbenches.tb_pe")
        ok_v = check(vs, got, "verilator").ok
        cycles = int(got["cycles"][0])
        tsim = cocotb_seconds(run.results_xml)
        t = time.perf_counter()
        got_a = amaranth_sim.run_pe(comp, vs)
        tam = time.perf_counter() - t
        ok_a = check(vs, got_a, "amaranth").ok
        rows.append([label, f"{cold:.1f}", "-" if cc is None else f"{cc:.1f}", f"{cached:.2f}",
                     f"{cycles:,}", f"{cycles / tsim:,.0f}", f"{cycles / tam:,.0f}", f"{tam / tsim:.1f}x",
                     f"{run.seconds:.1f}", "yes" if ok_v and ok_a else "NO"])
        prog.step(label)
    return rows


def bench_area(targets, quick: bool, root: Path) -> list[list]:
    import datatypes as dt
    from rtl_gen import arith
    from rtl_gen.area import synthesize
    from rtl_gen.verilog import emit

    decs = arith.hardware_formats(4) + [n for n in arith.hardware_formats(8) if dt.get(n).bits == 8]
    if quick:
        decs = ["int4", "fp4_range", "float8_e4m3fn"]
    units = [(f"dec {n}", dec_design(n)) for n in decs]
    units += [(f"PE {PES[i][0]} {PES[i][3]}", pe_design(i, *PES[i])) for i in (QUICK_PES if quick else range(len(PES)))]
    rows = []
    prog = Progress(len(units) * len(targets), "area")
    for label, d in units:
        art = emit(d, root)
        row = [label]
        for tgt in targets:
            a = synthesize(art.verilog, art.top, tgt)
            row += [a.lut, a.ff, a.carry, a.dsp]
            prog.step(f"{label} {tgt}")
        rows.append(row)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 PEs and 3 decoders only")
    ap.add_argument("--no-build", action="store_true", help="skip Verilator builds / simulation")
    ap.add_argument("--no-area", action="store_true", help="skip the Yosys area table")
    ap.add_argument("--targets", default="xc7,generic", help="Yosys targets for the area table")
    args = ap.parse_args(argv)
    from testbenches.runner import build_environment_summary

    out = [f"bench_rtl: {build_environment_summary()}"]
    print(out[0], flush=True)
    root = Path(tempfile.mkdtemp(prefix="bench-rtl-"))
    try:
        if not args.no_build:
            rows = bench_builds(QUICK_PES if args.quick else range(len(PES)), root)
            t = format_table(["PE (stages 1)", "cold s", "ccache s", "cached s", "cycles", "cocotb cyc/s",
                              "amaranth cyc/s", "cocotb vs amaranth", "cocotb run s", "bit-exact"], rows,
                             align="lrrrrrrrrl")
            out += ["", "Verilator build time and simulation speed (cyc/s = simulated cycles per second of "
                    "test time, same vectors on both simulators):", t]
            print("\n".join(out[-3:]), flush=True)
        if not args.no_area:
            targets = [t.strip() for t in args.targets.split(",") if t.strip()]
            rows = bench_area(targets, args.quick, root)
            head = ["unit"] + [f"{c} {t}" for t in targets for c in ("LUT", "FF", "carry", "DSP")]
            t = format_table(head, rows)
            out += ["", f"Yosys area ({', '.join(targets)}; cells):", t]
            print("\n".join(out[-3:]), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    path = atomic_write(REPO / "results" / "bench_rtl.txt", "\n".join(out) + "\n")
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
