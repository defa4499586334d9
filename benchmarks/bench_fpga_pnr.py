"""Place and route of systolic tops on iCE40 and ECP5 (rtl_gen.fpga, what ``hwsim rtl --pnr`` runs): the
wide top against the same array behind Wishbone / AXI4-Lite -- pins, the part chosen, post-route logic,
Fmax. Measurements of one nextpnr seed, printed, never asserted (too slow for the test suite: minutes).

    .venv/bin/python benchmarks/bench_fpga_pnr.py [--families ice40,ecp5] [--clock-mhz 50] [-o build]

Results are cached per design and part in the build directory (rtl_gen.fpga), so a rerun only reprints.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DESIGNS = [  # (label, design file, rtl section override)
    ("2x2 ws int8, wide", "designs/sa_ws_2x2_int8.yaml", None),
    ("2x2 ws int8, wishbone", "designs/fpga/sa_ws_2x2_int8_wb.yaml", None),
    ("2x2 os int8, axi4lite", "designs/fpga/sa_os_2x2_int8_axil.yaml", None),
    ("4x4 ws int8, wide", "designs/sa_ws_4x4_int8.yaml", None),
    ("4x4 ws int8, wishbone", "designs/sa_ws_4x4_int8.yaml", {"host_bus": "wishbone"}),
]


def main() -> int:
    from hwsim.design import load
    from hwsim.report import format_table
    from rtl_gen.fpga import place_and_route
    from rtl_gen.verilog import emit

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--families", default="ice40,ecp5")
    ap.add_argument("--clock-mhz", type=float, default=50.0)
    ap.add_argument("-o", "--out", default=str(REPO / "build"))
    args = ap.parse_args()
    rows = []
    for family in args.families.split(","):
        for label, path, rtl in DESIGNS:
            d = load(REPO / path)
            if rtl:
                d = d.replace(rtl=rtl)
            art = emit(d, args.out)
            t0 = time.perf_counter()
            r = place_and_route(art.directory, art.top, family, clock_mhz=args.clock_mhz,
                                log=lambda s: print(s, file=sys.stderr, flush=True))
            logic = next((v["used"] for k, v in r.utilisation.items() if k in ("ICESTORM_LC", "TRELLIS_COMB")), None)
            rows.append([family, label, r.need["io"], r.device or "-", r.need["logic"], logic if logic else "-",
                         r.need["ff"], r.need["bram"], r.need["dsp"],
                         f"{r.fmax_mhz:.1f}" if r.fmax_mhz else "-",
                         r.status if r.fits else "; ".join(r.short),
                         f"{r.seconds:.0f}" + (" (cached)" if r.cached else f" / {time.perf_counter() - t0:.0f}")])
    print(f"place and route at a {args.clock_mhz:g} MHz constraint, nextpnr seed 1 (yowasp-nextpnr-*)")
    print(format_table(["family", "design", "pins", "part", "LUT4 (synth)", "LUT/LC (routed)", "FF", "BRAM",
                        "DSP", "Fmax MHz", "status", "nextpnr s"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
