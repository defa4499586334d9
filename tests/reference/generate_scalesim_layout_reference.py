"""Produce tests/data/scalesim_layout_reference.json: SCALE-Sim 3.0.0 with custom SRAM layouts (bank conflicts).

How the numbers were made (so anyone can redo it):

1. SCALE-Sim 3.0.0 from PyPI in its own virtual environment (see generate_scalesim_reference.py; it ran
   under CPython 3.11.7, whose set iteration order decides the bank of every SRAM word)::

       python3 -m venv .scalesim-venv
       .scalesim-venv/bin/pip install scalesim==3.0.0 'numpy<2.3'

2. ``.venv/bin/python tests/reference/generate_scalesim_layout_reference.py --scalesim-python
   /path/to/scalesim-venv/bin/python [--cache DIR] [--only PREFIX]`` writes, for every case of ``cases()``
   (a seeded draw: [layout] IfmapCustomLayout and/or FilterCustomLayout, ws/is/os, arrays 4x4 ... 8x8 and
   non-square ones, USER interface bandwidth with bank bandwidths 4-16 words/cycle, 1-8 banks, 1-3 ports,
   1-4 KiB SRAMs, FilterOffset varied, intraline factors and inter/intraline orders drawn per case
   (natural, SCALE-Sim's shipped test.csv row and random permutations), GEMM and conv topologies with odd
   sizes and a depthwise layer; then 32-256 words/cycle, 16x16/8x16/16x8 arrays, 16-32 KiB SRAMs, larger
   layers; SCALE-Sim's shipped rebuttal_test_{ws,is,os}.cfg settings with its default layout row;
   tpuv5e_downscale.cfg on vit_s.csv with the first row of layouts/GEMM_mnk/vit_s_downscale_KM_KN.csv;
   CALC cases, where SCALE-Sim only checks the layout's assertions; two cases failing those assertions), a configuration
   (``hwsim.systolic.scalesim_io.config_text``), a topology CSV and a layout CSV with the case's row for
   every layer, runs SCALE-Sim's own Python API (``scalesim.scale_sim.scalesim(...).run_scale()``) in the
   SCALE-Sim interpreter and parses its COMPUTE_REPORT.csv, BANDWIDTH_REPORT.csv and
   DETAILED_ACCESS_REPORT.csv (every column: ``scalesim_io.FIELDS``). A case on which SCALE-Sim stops with
   an exception is stored with ``"error"`` (its last line) instead of layers.
3. tests/test_systolic_scalesim_layout.py writes the same configuration, topology and layout text, reads
   them with hwsim's readers and compares every field exactly (floats with ==).

Takes about 6 minutes of CPU (4 of them the tpuv5e_downscale case).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate_scalesim_reference import header, parse_args, run_cases  # noqa: E402

from hwsim.systolic import scalesim_io as io  # noqa: E402
from hwsim.workloads import Conv, Gemm  # noqa: E402

GEMMS = [Gemm(20, 13, 30, name="g_odd"), Gemm(9, 7, 11, name="g_small"), Gemm(33, 17, 24, name="g_mid"),
         Gemm(1, 19, 23, name="g_vec")]
CONVS = [Conv(11, 11, 3, 3, 4, 9, 2, 2, name="c_s2", convention="scalesim"),
         Conv(7, 9, 3, 2, 3, 5, 1, 1, name="c_small", convention="scalesim"),
         Conv(8, 8, 1, 1, 6, 10, 1, 1, name="c_1x1", convention="scalesim"),
         Conv(6, 6, 3, 3, 3, 1, 1, 1, name="DP_dw", convention="scalesim")]
ARRAYS = [(4, 4), (8, 8), (8, 4), (4, 8), (6, 10), (5, 3)]
BWS = [4, 6, 8, 12, 16]


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def _split(rng, n, parts):
    """n as a product of ``parts`` positive factors (random)."""
    out = []
    for _ in range(parts - 1):
        d = int(rng.choice(_divisors(n)))
        out.append(d)
        n //= d
    out.append(n)
    rng.shuffle(out)
    return out


def _layout(rng, ifmap_bw, filter_bw, style):
    """20 layout integers: factors (IFMAP H, IFMAP W, Filter H, Filter W, Channel, Num Filter), ifmap intra
    and inter orders, filter intra and inter orders."""
    nf, cf, rf, sf = _split(rng, filter_bw, 4)
    while cf > ifmap_bw:
        nf, cf, rf, sf = _split(rng, filter_bw, 4)
    room = ifmap_bw // cf
    hf = int(rng.integers(1, room + 1))
    wf = int(rng.integers(1, room // hf + 1))
    if style == "natural":
        io_intra, io_inter, fo_intra, fo_inter = [3, 4, 5], [0, 1, 2], [4, 5, 6, 7], [0, 1, 2, 3]
    elif style == "shipped":
        io_intra, io_inter, fo_intra, fo_inter = [0, 1, 2], [4, 5, 3], [3, 2, 1, 0], [4, 5, 6, 7]
    else:
        p6, p8 = [int(x) for x in rng.permutation(6)], [int(x) for x in rng.permutation(8)]
        io_intra, io_inter, fo_intra, fo_inter = p6[:3], p6[3:], p8[:4], p8[4:]
    return [hf, wf, rf, sf, cf, nf] + io_intra + io_inter + fo_intra + fo_inter


def cases():
    """(name, rows, cols, dataflow, kind, layers, kb, interface keywords, layout row) per case."""
    rng = np.random.default_rng(20261130)
    customs = [(True, False), (False, True), (True, True)]
    out = []
    for i in range(36):
        df = ["ws", "is", "os"][i % 3]
        ic, fc = customs[(i // 3) % 3]
        rows, cols = ARRAYS[int(rng.integers(len(ARRAYS)))]
        ibw, fbw = int(rng.choice(BWS)), int(rng.choice(BWS))
        iface = {"interface": "USER", "bandwidth": int(rng.integers(1, 9)), "ifmap_bank_bw": ibw,
                 "filter_bank_bw": fbw, "ifmap_banks": int(rng.choice(_divisors(ibw))),
                 "filter_banks": int(rng.choice(_divisors(fbw))), "ifmap_ports": int(rng.integers(1, 4)),
                 "filter_ports": int(rng.integers(1, 4)), "ifmap_custom": ic, "filter_custom": fc,
                 "filter_offset": [10000000, 0, 12345, 2 ** 31 + 7][i % 4]}
        kb = [(1, 1, 1), (2, 1, 1), (1, 2, 1), (4, 2, 2)][int(rng.integers(4))]
        kind = "gemm" if i % 2 == 0 else "conv"
        pool = GEMMS if kind == "gemm" else CONVS
        pick = sorted(rng.choice(len(pool), size=int(rng.integers(1, 3)), replace=False))
        if kind == "conv" and i % 8 == 3:
            pick = [3, 0]                                  # depthwise layer first: its layout row is row 0
        layers = [pool[j] for j in pick]
        style = ["natural", "shipped", "random"][i % 3 if i % 5 else 2]
        out.append((f"lay{i:02d}_{rows}x{cols}_{df}_{kind}", rows, cols, df, kind, layers, kb, iface,
                    _layout(rng, ibw, fbw, style)))
    # wider lines (32-256 words: CPython sets through several resizes), more banks, larger layers
    big_g = [Gemm(64, 48, 80, name="g_64"), Gemm(50, 33, 70, name="g_50")]
    big_c = [Conv(16, 16, 3, 3, 8, 16, 1, 1, name="c_16"), Conv(13, 13, 3, 3, 16, 12, 2, 2, name="c_13s2")]
    big_c = [Conv(c.H, c.W, c.R, c.S, c.C, c.N, c.stride_h, c.stride_w, name=c.name, convention="scalesim")
             for c in big_c]
    for i in range(12):
        df = ["ws", "is", "os"][i % 3]
        ic, fc = customs[(i // 3) % 3] if i < 9 else (True, True)
        rows, cols = [(16, 16), (8, 16), (16, 8)][int(rng.integers(3))]
        ibw, fbw = int(rng.choice([32, 64, 128, 256])), int(rng.choice([32, 64, 128, 256]))
        iface = {"interface": "USER", "bandwidth": int(rng.integers(2, 33)), "ifmap_bank_bw": ibw,
                 "filter_bank_bw": fbw, "ifmap_banks": int(rng.choice(_divisors(ibw))),
                 "filter_banks": int(rng.choice(_divisors(fbw))), "ifmap_ports": int(rng.integers(1, 5)),
                 "filter_ports": int(rng.integers(1, 5)), "ifmap_custom": ic, "filter_custom": fc,
                 "filter_offset": [10000000, 3, 987654321][i % 3]}
        kb = [(16, 16, 8), (32, 16, 8), (16, 32, 4)][int(rng.integers(3))]
        kind = "gemm" if i % 2 == 0 else "conv"
        layers = big_g if kind == "gemm" else big_c
        style = ["natural", "shipped", "random"][i % 3]
        out.append((f"layb{i:02d}_{rows}x{cols}_{df}_{kind}", rows, cols, df, kind, layers, kb, iface,
                    _layout(rng, ibw, fbw, style)))
    # SCALE-Sim's shipped configs/rebuttal_test_{ws,is,os}.cfg (128x128, 10 MiB SRAMs, Bandwidth 60, custom
    # ifmap layout, 1024 words/cycle in 32 banks of 1 port) with its default layout file
    # (layouts/conv_nets/test.csv) on its topologies/GEMM_mnk/test_mnk_input.csv
    for df in ("ws", "is", "os"):
        iface = {"interface": "USER", "bandwidth": 60, "ifmap_bank_bw": 1024, "filter_bank_bw": 1024,
                 "ifmap_banks": 32, "filter_banks": 32, "ifmap_ports": 1, "filter_ports": 1,
                 "ifmap_custom": True, "filter_custom": False}
        out.append((f"rebuttal_test_{df}", 128, 128, df, "gemm", [Gemm(256, 128, 256, name="Test 1")],
                    (10240, 10240, 10240), iface, list(io.DEFAULT_LAYOUT)))
    # SCALE-Sim's shipped configs/tpuv5e_downscale.cfg (both layouts custom) on topologies/GEMM_mnk/vit_s.csv
    # with its layouts/GEMM_mnk/vit_s_downscale_KM_KN.csv (whose first row SCALE-Sim applies to every layer)
    iface = {"interface": "USER", "bandwidth": 60, "ifmap_bank_bw": 1024, "filter_bank_bw": 1024,
             "ifmap_banks": 32, "filter_banks": 32, "ifmap_ports": 1, "filter_ports": 1, "ifmap_custom": True,
             "filter_custom": True}
    vit_s = [Gemm(196, 192, 384, name="L0"), Gemm(196, 1176, 64, name="L1"), Gemm(196, 64, 1176, name="L2"),
             Gemm(196, 1536, 384, name="L3"), Gemm(196, 384, 1536, name="L4")]
    out.append(("tpuv5e_downscale_vit_s", 128, 128, "ws", "gemm", vit_s, (4096, 4096, 8192), iface,
                [49, 20, 1, 8, 1, 128, 2, 1, 0, 5, 4, 3, 3, 0, 1, 2, 7, 4, 5, 6]))
    # CALC: SCALE-Sim builds the custom prefetch matrices (and asserts on the factors) but does not use them
    for i, (df, ic, fc) in enumerate([("ws", True, True), ("os", True, False), ("is", False, True)]):
        iface = {"interface": "CALC", "ifmap_bank_bw": 8, "filter_bank_bw": 8, "ifmap_custom": ic,
                 "filter_custom": fc}
        out.append((f"laycalc{i}_8x8_{df}", 8, 8, df, "gemm", GEMMS[:2], (2, 2, 2), iface,
                    [2, 2, 1, 1, 2, 4, 0, 1, 2, 4, 5, 3, 3, 2, 1, 0, 4, 5, 6, 7]))
    # assertion failures inside SCALE-Sim (the layout's factors do not fit the bank bandwidth)
    out.append(("layerr_ifmap_factor", 4, 4, "ws", "gemm", GEMMS[:1], (1, 1, 1),
                {"interface": "USER", "bandwidth": 4, "ifmap_bank_bw": 4, "filter_bank_bw": 4, "ifmap_custom": True},
                [2, 2, 1, 1, 2, 2, 0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 6, 7]))
    out.append(("layerr_filter_factor", 4, 4, "os", "gemm", GEMMS[:1], (1, 1, 1),
                {"interface": "USER", "bandwidth": 4, "ifmap_bank_bw": 4, "filter_bank_bw": 4, "filter_custom": True},
                [1, 1, 1, 1, 1, 2, 0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 6, 7]))
    return out


def main(argv=None) -> int:
    args = parse_args(argv, __doc__, ROOT / "tests" / "data" / "scalesim_layout_reference.json")
    got = header(args, "tests/reference/generate_scalesim_layout_reference.py")
    if got is None:
        return 1
    py, out = got

    def describe(case):
        name, rows, cols, df, kind, layers, kb, iface, layout = case
        return {"name": name, "rows": rows, "cols": cols, "dataflow": df, "kind": kind,
                "ifmap_kb": kb[0], "filter_kb": kb[1], "ofmap_kb": kb[2], "interface": iface,
                "layout": layout, "topology": io.topology_text(layers, kind)}

    def run(case, tmp):
        name, rows, cols, df, kind, layers, kb, iface, layout = case
        try:
            res, sec = io.run_scalesim(py, tmp / name, name, rows, cols, df, layers, kind, *kb,
                                       layout=layout, timeout=900, **iface)
        except RuntimeError as e:                   # SCALE-Sim stops: its last line is the expected error
            last = [ln for ln in str(e).splitlines() if ln.strip()][-1].strip()
            return {"error": last}, f"SCALE-Sim fails: {last[:100]}"
        return {"scalesim_seconds": sec, "layers": res}, f"{len(res)} layers, SCALE-Sim {sec:.1f}s"

    return run_cases(args, out, cases(), describe, run)


if __name__ == "__main__":
    sys.exit(main())
