"""Produce tests/data/scalesim_reference.json with SCALE-Sim 3.0.0 itself.

How the numbers were made (so anyone can redo it):

1. SCALE-Sim 3.0.0 from PyPI in its own virtual environment (it needs numpy < 2.3)::

       python3 -m venv .scalesim-venv
       .scalesim-venv/bin/pip install scalesim==3.0.0 'numpy<2.3'

   (or point $SCALESIM_PYTHON at any interpreter that has scalesim 3.0.0).
2. ``.venv/bin/python tests/reference/generate_scalesim_reference.py --scalesim-python
   /path/to/scalesim-venv/bin/python [--cache DIR] [--only PREFIX]`` writes, for every case of
   ``cases()`` (the SETTINGS below: CALC and USER interface bandwidth, 64 KiB down to 1 KiB SRAMs, 1 to 10
   words/cycle, arrays 8x8 ... 128x128 incl. 8x16, 16x8, 12x20, all three dataflows, GEMM and conv
   topologies), a configuration in the layout of SCALE-Sim's shipped ``configs/scale.cfg``
   (``hwsim.systolic.scalesim_io.config_text``; no sparsity, no custom layout), a topology CSV (conv or
   GEMM form, rows ending in a comma as SCALE-Sim writes them) and a layout CSV with one default row per
   layer (SCALE-Sim reads one even when custom layouts are off), then runs SCALE-Sim's own Python API
   (``scalesim.scale_sim.scalesim(...).run_scale()``, as ``python -m scalesim.scale`` does) in the
   SCALE-Sim interpreter and parses its COMPUTE_REPORT.csv, BANDWIDTH_REPORT.csv and
   DETAILED_ACCESS_REPORT.csv (every column: ``scalesim_io.FIELDS``). ``--cache`` keeps one JSON per
   finished case so parallel ``--only`` runs can fill it and a final run assembles the file.
3. The JSON stores, per case, the array, dataflow, SRAM sizes, interface settings, the topology text
   exactly as fed to SCALE-Sim, and SCALE-Sim's per-layer numbers. tests/test_systolic_scalesim.py reads
   the same configuration and topology text with hwsim's readers and compares every field exactly
   (floats with ==).

Takes about an hour of CPU (SCALE-Sim walks its demand matrices request by request in Python; the small-
SRAM USER cases are the slowest).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hwsim.systolic import scalesim_io as io  # noqa: E402
from hwsim.workloads import Conv, Gemm  # noqa: E402

ARRAYS = [(8, 8), (32, 32), (128, 128)]
DATAFLOWS = ["ws", "os", "is"]

#: GEMM layers (M, N, K): non-multiples of every array size, vectors, a square power of two.
GEMMS = [
    Gemm(20, 13, 30, name="g_odd"),
    Gemm(1, 1, 1, name="g_unit"),
    Gemm(1, 257, 129, name="g_vec"),
    Gemm(64, 64, 64, name="g_sq64"),
    Gemm(100, 40, 17, name="g_tall"),
    Gemm(300, 200, 150, name="g_mid"),
]
#: Larger GEMMs, run on the 32x32 and 128x128 arrays only (the 8x8 runs would take SCALE-Sim too long).
GEMMS_BIG = [Gemm(256, 384, 512, name="g_big"), Gemm(129, 130, 131, name="g_129")]

#: Conv layers in SCALE-Sim's convention (ceil output size, no padding); stride that does not divide,
#: 1x1, a depthwise layer ("DP" in the name: one single-channel layer per channel).
CONVS = [
    Conv(11, 11, 3, 3, 4, 9, 2, 2, name="c_s2", convention="scalesim"),
    Conv(28, 28, 3, 3, 16, 32, 1, 1, name="c_3x3", convention="scalesim"),
    Conv(15, 15, 5, 5, 3, 8, 3, 3, name="c_5x5s3", convention="scalesim"),
    Conv(14, 14, 1, 1, 64, 48, 1, 1, name="c_1x1", convention="scalesim"),
    Conv(10, 10, 3, 3, 3, 1, 1, 1, name="DP_dw", convention="scalesim"),
]
CONVS_BIG = [Conv(56, 56, 3, 3, 64, 64, 1, 1, name="c_56", convention="scalesim")]

#: Smaller layer sets for the bandwidth-limited (USER) and small-SRAM runs, where SCALE-Sim's read
#: buffers walk their address sets for every request (much slower per element).
GEMMS_S = [Gemm(20, 13, 30, name="g_odd"), Gemm(1, 1, 1, name="g_unit"), Gemm(64, 64, 64, name="g_sq64"),
           Gemm(100, 40, 17, name="g_tall"), Gemm(37, 91, 53, name="g_prime")]
CONVS_S = CONVS

#: (label, arrays, SRAM KiB (ifmap, filter, ofmap), interface settings (config_text keywords))
SETTINGS = [
    # CALC with small SRAMs: many prefetch sets, ofmap drains that stall
    ("calcsmall", [(8, 8), (16, 8)], (4, 2, 1), {"interface": "CALC"}),
    # USER: 10 words/cycle everywhere (the shipped layout values)
    ("user10", [(8, 8), (32, 32), (128, 128)], (64, 64, 64),
     {"interface": "USER", "bandwidth": 10, "ifmap_bank_bw": 10, "filter_bank_bw": 10}),
    # USER, small SRAMs, unequal bandwidths, non-square arrays
    ("user4", [(8, 16), (16, 8)], (4, 2, 2),
     {"interface": "USER", "bandwidth": 3, "ifmap_bank_bw": 4, "filter_bank_bw": 2}),
    # USER, 1 KiB SRAMs and 1-5 words/cycle: stall-dominated
    ("user1", [(12, 20)], (1, 1, 1),
     {"interface": "USER", "bandwidth": 1, "ifmap_bank_bw": 5, "filter_bank_bw": 1}),
    # SCALE-Sim's shipped configuration: 64 KiB SRAMs, CALC bandwidth mode
    ("calc", ARRAYS, (64, 64, 64), {"interface": "CALC"}),
]


def cases():
    """(name, rows, cols, dataflow, kind, layers, kb, interface) for every configuration/topology pair."""
    for label, arrays, kb, iface in SETTINGS:
        for rows, cols in arrays:
            for df in DATAFLOWS:
                if label == "calc":
                    gemms = GEMMS + (GEMMS_BIG if rows >= 32 else [])
                    convs = CONVS + (CONVS_BIG if rows >= 128 else [])
                else:
                    gemms, convs = list(GEMMS_S), list(CONVS_S)
                    if label == "user1" and df == "is":
                        # SCALE-Sim re-concatenates its whole DRAM trace on every prefetch (quadratic):
                        # c_3x3 here needs ~57,000 ifmap prefetches, i.e. hours; the other layers stay
                        convs = [c for c in convs if c.name != "c_3x3"]
                    if label == "user10" and rows == 32 and df == "os":
                        # the example: GEMM 128x256x512 on 32x32 OS at 10 words/cycle
                        gemms.append(Gemm(128, 256, 512, name="g_issue"))
                pre = "ref" if label == "calc" else label
                yield f"{pre}_{rows}x{cols}_{df}_gemm", rows, cols, df, "gemm", gemms, kb, iface
                yield f"{pre}_{rows}x{cols}_{df}_conv", rows, cols, df, "conv", convs, kb, iface


def parse_args(argv, doc: str, default_out: Path) -> argparse.Namespace:
    """The options every SCALE-Sim reference generator takes."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scalesim-python", help="interpreter with scalesim 3.0.0 (default: $SCALESIM_PYTHON, "
                                              "then .scalesim-venv/bin/python)")
    ap.add_argument("--out", default=str(default_out))
    ap.add_argument("--cache", help="directory for one JSON per finished case (a rerun reuses them)")
    ap.add_argument("--only", help="run only the cases whose name starts with this (e.g. to fill a cache "
                                   "with parallel runs); the output then holds only those")
    return ap.parse_args(argv)


def header(args: argparse.Namespace, generator: str) -> tuple[str, dict] | None:
    """(SCALE-Sim's interpreter, the output's provenance header), or None (said on stderr) when there is
    no SCALE-Sim 3.0.0."""
    py = args.scalesim_python or io.scalesim_python()
    if py is None:
        print("no SCALE-Sim 3.0.0 interpreter: see the instructions at the top of this file", file=sys.stderr)
        return None
    version = subprocess.run([py, "-c", "import importlib.metadata as m; print(m.version('scalesim'), "
                                        "m.version('numpy'))"], capture_output=True, text=True).stdout.split()
    if version[0] != "3.0.0":
        print(f"{py} has scalesim {version[0]}, need 3.0.0", file=sys.stderr)
        return None
    return py, {"generator": generator, "scalesim_version": version[0], "scalesim_numpy": version[1],
                "python": subprocess.run([py, "-c", "import platform; print(platform.python_version())"],
                                         capture_output=True, text=True).stdout.strip(),
                "date": time.strftime("%Y-%m-%d"), "host": platform.machine(), "cases": []}


def run_cases(args: argparse.Namespace, out: dict, cases: list, describe, run) -> int:
    """Every case (``--only`` filters by name): ``describe(case) -> entry`` (its settings, "name" first);
    ``run(case, tmp) -> (entry additions, message)`` runs SCALE-Sim. A ``--cache`` entry with the same
    settings is reused. Writes ``args.out``."""
    todo = [c for c in cases if not args.only or describe(c)["name"].startswith(args.only)]
    cache = Path(args.cache) if args.cache else None
    if cache:
        cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for i, case in enumerate(todo, 1):
            entry = describe(case)
            name = entry["name"]
            hit = cache / f"{name}.json" if cache else None
            if hit is not None and hit.is_file():
                old = json.loads(hit.read_text())
                if all(old.get(k) == v for k, v in entry.items()):
                    out["cases"].append(old)
                    print(f"[{i:2d}/{len(todo)}] {name}: cached", flush=True)
                    continue
            t0 = time.perf_counter()
            more, msg = run(case, Path(tmp))
            entry.update(more)
            print(f"[{i:2d}/{len(todo)}] {name}: {msg} (wall {time.perf_counter() - t0:.1f}s)", flush=True)
            if hit is not None:
                hit.write_text(json.dumps(entry, indent=1) + "\n")
            out["cases"].append(entry)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv, __doc__, ROOT / "tests" / "data" / "scalesim_reference.json")
    got = header(args, "tests/reference/generate_scalesim_reference.py")
    if got is None:
        return 1
    py, out = got
    out["config"] = ("hwsim.systolic.scalesim_io.config_text (configs/scale.cfg layout; SRAM sizes and "
                     "interface settings per case)")

    def describe(case):
        name, rows, cols, df, kind, layers, kb, iface = case
        return {"name": name, "rows": rows, "cols": cols, "dataflow": df, "kind": kind,
                "ifmap_kb": kb[0], "filter_kb": kb[1], "ofmap_kb": kb[2], "interface": iface,
                "topology": io.topology_text(layers, kind)}

    def run(case, tmp):
        name, rows, cols, df, kind, layers, kb, iface = case
        res, sec = io.run_scalesim(py, tmp / name, name, rows, cols, df, layers, kind, *kb, **iface)
        return {"scalesim_seconds": sec, "layers": res}, f"{len(res)} layers, SCALE-Sim {sec:.1f}s"

    return run_cases(args, out, cases(), describe, run)


if __name__ == "__main__":
    sys.exit(main())
