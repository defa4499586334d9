"""Produce tests/data/scalesim_reference.json with SCALE-Sim 3.0.0 itself.

How the numbers were made (so anyone can redo it):

1. SCALE-Sim 3.0.0 from PyPI in its own virtual environment (it needs numpy < 2.3)::

       python3 -m venv .scalesim-venv
       .scalesim-venv/bin/pip install scalesim==3.0.0 'numpy<2.3'

   (or point $SCALESIM_PYTHON at any interpreter that has scalesim 3.0.0).
2. ``.venv/bin/python tests/reference/generate_scalesim_reference.py`` writes, for every case below, a
   configuration in the layout of SCALE-Sim's shipped ``configs/scale.cfg`` (CALC bandwidth mode, 64 KiB
   SRAMs, no sparsity, no custom layout; ``hwsim.systolic.scalesim_io.config_text``), a topology CSV (conv or
   GEMM form, rows ending in a comma as SCALE-Sim writes them) and a layout CSV with one default row per
   layer (SCALE-Sim reads one even when custom layouts are off), then runs SCALE-Sim's own Python API
   (``scalesim.scale_sim.scalesim(...).run_scale()``, as ``python -m scalesim.scale`` does) in the
   SCALE-Sim interpreter and parses its COMPUTE_REPORT.csv and DETAILED_ACCESS_REPORT.csv.
3. The JSON stores, per case, the array, dataflow, the topology text exactly as fed to SCALE-Sim, and
   SCALE-Sim's per-layer numbers. tests/test_systolic_scalesim.py reads the same topology text with
   hwsim's reader and compares compute cycles, stall cycles, utilisation, mapping efficiency, compute
   utilisation and SRAM read/write counts exactly (floats with ==).

Takes a few minutes (SCALE-Sim walks its demand matrices row by row in Python).
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


def cases():
    for rows, cols in ARRAYS:
        for df in DATAFLOWS:
            gemms = GEMMS + (GEMMS_BIG if rows >= 32 else [])
            convs = CONVS + (CONVS_BIG if rows >= 128 else [])
            yield rows, cols, df, "gemm", gemms
            yield rows, cols, df, "conv", convs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scalesim-python", help="interpreter with scalesim 3.0.0 (default: $SCALESIM_PYTHON, "
                                              "then .scalesim-venv/bin/python)")
    ap.add_argument("--out", default=str(ROOT / "tests" / "data" / "scalesim_reference.json"))
    args = ap.parse_args(argv)
    py = args.scalesim_python or io.scalesim_python()
    if py is None:
        print("no SCALE-Sim 3.0.0 interpreter: see the instructions at the top of this file", file=sys.stderr)
        return 1
    version = subprocess.run([py, "-c", "import importlib.metadata as m; print(m.version('scalesim'), "
                                        "m.version('numpy'))"], capture_output=True, text=True).stdout.split()
    if version[0] != "3.0.0":
        print(f"{py} has scalesim {version[0]}, need 3.0.0", file=sys.stderr)
        return 1
    out = {"generator": "tests/reference/generate_scalesim_reference.py",
           "scalesim_version": version[0], "scalesim_numpy": version[1],
           "python": subprocess.run([py, "-c", "import platform; print(platform.python_version())"],
                                    capture_output=True, text=True).stdout.strip(),
           "config": "hwsim.systolic.scalesim_io.config_text (configs/scale.cfg layout, CALC, 64 KiB SRAMs)",
           "date": time.strftime("%Y-%m-%d"), "host": platform.machine(), "cases": []}
    all_cases = list(cases())
    with tempfile.TemporaryDirectory() as tmp:
        for i, (rows, cols, df, kind, layers) in enumerate(all_cases, 1):
            name = f"ref_{rows}x{cols}_{df}_{kind}"
            t0 = time.perf_counter()
            res, sec = io.run_scalesim(py, Path(tmp) / name, name, rows, cols, df, layers, kind)
            print(f"[{i:2d}/{len(all_cases)}] {name}: {len(res)} layers, SCALE-Sim {sec:.1f}s "
                  f"(wall {time.perf_counter() - t0:.1f}s)", flush=True)
            out["cases"].append({"name": name, "rows": rows, "cols": cols, "dataflow": df, "kind": kind,
                                 "ifmap_kb": 64, "filter_kb": 64, "ofmap_kb": 64,
                                 "topology": io.topology_text(layers, kind), "scalesim_seconds": sec,
                                 "layers": res})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
