"""The ``hwsim`` command line. Each subcommand is a ``cmd_<name>`` function plus its parser setup
in ``_add_<name>``; ``COMMANDS`` lists them in help order."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import datatypes as dt
from rtl_gen.errors import RTLError  # numpy-free, Amaranth-free: cheap to import

from . import quant_error, rtl_cli
from .design import DesignError
from .flow import FlowError
from .report import format_table
from .pe import PEError
from .scalesim_io import ScaleSimFileError
from .weights import WeightFileError, bundled_model, linear_weights, read_tensors
from .workloads import WorkloadError

#: Errors that are the user's to fix: printed as one line, exit status 2.
USER_ERRORS = (dt.FormatError, dt.InputError, dt.InputTypeError, DesignError, WeightFileError, WorkloadError,
               ScaleSimFileError, PEError, RTLError, FlowError)


# ---- formats --------------------------------------------------------------------------------------
def _add_formats(sub):
    p = sub.add_parser("formats", help="list number formats with bits, levels and rules",
                       description="List the number formats of the datatype library.")
    p.add_argument("name", nargs="?", help="show one format in full (levels, codes, rules)")
    p.add_argument("--bits", type=int, help="only formats of this many bits per element")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def cmd_formats(args) -> int:
    if args.name:
        f = dt.get(args.name)
        d = f.describe()
        if args.json:
            print(json.dumps(d, indent=2, default=str))
            return 0
        vals = f.code_values()
        print(f"{f.name}: {f.bits}-bit {f.family} -- {f.description}")
        al = [a for a, c in dt.aliases().items() if c == f.name]
        if al:
            print(f"  aliases:  {', '.join(al)}")
        for k in ("rounding", "ties", "overflow", "scale"):
            print(f"  {k + ':':<10}{d[k]}")
        print(f"  group:    default {f.default_group_size}" +
              (f", allowed {', '.join(map(str, f.group_sizes))}" if f.group_sizes else ""))
        print(f"  options:  {', '.join(f'{k}={v!r}' for k, v in f.options.items()) or 'none'}")
        print(f"  output:   {f.output_dtype}")
        if len(vals) <= 64:
            print("  codes:    " + "  ".join(f"{c:0{f.bits}b}={'-' if np.isnan(v) else f'{v:g}'}"
                                           for c, v in enumerate(vals)))
        return 0
    names = dt.formats(bits=args.bits)
    if args.json:
        print(json.dumps([dt.get(n).describe() for n in names], indent=2, default=str))
        return 0
    rows = []
    for n in names:
        f = dt.get(n)
        nlev = "-" if f.levels is None else str(len(f.levels))
        rows.append([n, str(f.bits), f.family, nlev, f.ties.split(";")[0], f.overflow.split(";")[0],
                     str(f.default_group_size)])
    print(format_table(["format", "bits", "family", "levels", "ties", "overflow", "group"], rows,
                       align="lrllllr"))
    al = dt.aliases()
    print(f"\n{len(names)} formats; aliases: " + ", ".join(f"{a}={c}" for a, c in al.items()))
    print("`hwsim formats NAME` shows one format's levels, codes and rules in full.")
    return 0


# ---- quantize -------------------------------------------------------------------------------------
def _group_size(text: str):
    if text.lower() in ("none", "row", "per-row"):
        return None
    try:
        g = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"group size must be a positive integer or 'none', got {text!r}") from None
    if g <= 0:
        raise argparse.ArgumentTypeError(f"group size must be positive, got {g}")
    return g


def _add_quantize(sub):
    p = sub.add_parser("quantize", help="error statistics of formats on a .safetensors/.npy/.npz file",
                       description="Quantize the Linear weights (or chosen tensors) of a file with each "
                                   "format and report MSE / SQNR / bits per weight.")
    p.add_argument("file", nargs="?", help="tensor file (.safetensors, .npy, .npz); default: the bundled "
                                           "all-MiniLM-L6-v2 model")
    p.add_argument("-f", "--formats", default="4bit",
                   help="comma-separated format specs name[:option=value...], or '4bit' for every "
                        "4-bit format (default)")
    p.add_argument("-g", "--group-size", type=_group_size, default=128,
                   help="elements per group along the last axis, or 'none' for one per row (default 128)")
    p.add_argument("-t", "--tensors", metavar="REGEX",
                   help="quantize every 2-D float tensor whose name matches (default: Linear weights)")
    p.add_argument("-o", "--out", default="results/quantize", help="directory for .txt/.csv/.png")
    p.add_argument("--no-plot", action="store_true", help="print the table only")
    return p


def _specs(text: str):
    return quant_error.four_bit_specs() if text.strip().lower() == "4bit" else quant_error.parse_specs(text)


def run_quant_study(path, specs, group_size, pattern, out, plot=True) -> int:
    tensors = linear_weights(read_tensors(path), pattern)
    if not tensors:
        what = f"matching {pattern!r}" if pattern else "that look like Linear weights (2-D, name ending in 'weight')"
        raise WeightFileError(f"{path}: no 2-D floating-point tensors {what}; try --tensors REGEX")
    n = sum(t.size for t in tensors.values())
    title = (f"{Path(path).name}: {len(tensors)} tensors, {n:,} weights, group "
             f"{'per row' if group_size is None else group_size}")
    print(title, file=sys.stderr)
    rows = quant_error.error_table({k: np.asarray(v, np.float32) for k, v in tensors.items()}, specs, group_size)
    print(title)
    print(quant_error.render(rows))
    verdict = quant_error.sf4_verdict(rows)
    if verdict:
        print("\n" + verdict)
    if plot:
        paths = quant_error.write_outputs(rows, out, title)
        print(f"\nwrote {paths['txt']}, {paths['csv']}, {paths['png']}")
    return 0


def cmd_quantize(args) -> int:
    path = args.file or bundled_model()
    return run_quant_study(path, _specs(args.formats), args.group_size, args.tensors, args.out, not args.no_plot)


# ---- flow -------------------------------------------------------------------------------------------
def _add_flow(sub):
    p = sub.add_parser("flow", help="the whole loop on bundled data: quantize, simulate, RTL, verify, report",
                       description="The main flow on the bundled all-MiniLM-L6-v2: (1) quantization study of "
                                   "its Linear weights with every 4-bit format and the BBS table; (2) real "
                                   "MiniLM data (a sentence's encoder input, layer 0's query projection) on a "
                                   "realistic design at cycle level, bit-exact with numpy, and the whole model; "
                                   "(3) RTL of the small verified DESIGN; (4) a real-data slice and a seeded "
                                   "workload set on numpy, hwsim, amaranth.sim and Verilator; (5) report and "
                                   "plots. See hwsim/flow.py.")
    p.add_argument("design", nargs="?", help="small systolic design to generate and verify (default "
                                             "designs/sa_ws_4x4_sf4_e4m3.yaml)")
    p.add_argument("--at-scale", metavar="DESIGN", help="realistic design for the model simulation (default: "
                                                        "the catalog design sharing DESIGN's formats)")
    p.add_argument("--seq", type=int, default=128, help="sequence length of the whole-model run (default 128)")
    p.add_argument("--no-quantize", action="store_true", help="skip step 1 (the quantization study, ~1 min)")
    p.add_argument("-o", "--out", default="results/flow", help="output directory (default results/flow)")
    p.add_argument("--build", default="build", help="RTL artefact root (default build/)")
    return p


def cmd_flow(args) -> int:
    from . import flow

    if args.seq < 1:
        raise WorkloadError(f"--seq {args.seq}: must be a positive integer")
    return flow.run(args.design, args.at_scale, args.out, args.build, seq=args.seq, quantize=not args.no_quantize)


# ---- simulate -------------------------------------------------------------------------------------
def _add_simulate(sub):
    p = sub.add_parser("simulate", help="simulate a design on a workload (cycles, utilisation, memory, energy)",
                       description="Simulate a design (YAML, or a SCALE-Sim .cfg) on a workload: gemm:M,N,K | "
                                   "conv:H,W,R,S,C,N[,stride[,pad]] | llm:<preset>[,seq=..,batch=..,phase=..] | "
                                   "a SCALE-Sim topology .csv (several joined with ';'). Writes report.txt/json, "
                                   "layers.csv and PNG plots.")
    p.add_argument("design", help="design file (designs/*.yaml) or SCALE-Sim configuration (.cfg)")
    p.add_argument("-w", "--workload", required=True, help="workload spec (see above)")
    p.add_argument("-m", "--mode", default="auto", choices=("auto", "cycle", "analytical"),
                   help="cycle: advance the RTL clock (outputs checked bit-exactly); analytical: closed forms; "
                        "auto (default): cycle-level when small enough")
    p.add_argument("--operands", default="quantized", choices=("quantized", "random"),
                   help="operand data of the cycle-level run: normal floats quantized with the design's "
                        "formats (default), or uniformly random codes")
    p.add_argument("--seed", type=int, default=0, help="seed of the operand data (default 0)")
    p.add_argument("--scalesim", action="store_true", help="also print SCALE-Sim 3.0.0-compatible numbers")
    p.add_argument("-o", "--out", help="output directory (default results/simulate/<design>-<workload>)")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG plots")
    return p


def cmd_simulate(args) -> int:
    import re

    from . import build
    from .sim_report import render, write_reports

    sim = build(args.design)
    res = sim.run(args.workload, mode=args.mode, seed=args.seed, operands=args.operands)
    print(render(res, scalesim=args.scalesim))
    out = args.out or f"results/simulate/{sim.design.name}-{re.sub(r'[^A-Za-z0-9_.+-]+', '_', res.workload.name)}"
    paths = write_reports(res, out, scalesim=args.scalesim, plots=not args.no_plot)
    print(f"\nwrote {', '.join(str(p) for p in paths.values())}")
    return 0


COMMANDS = [("formats", _add_formats, cmd_formats), ("quantize", _add_quantize, cmd_quantize),
            ("flow", _add_flow, cmd_flow), ("simulate", _add_simulate, cmd_simulate),
            ("rtl", rtl_cli.add_rtl, rtl_cli.cmd_rtl), ("verify", rtl_cli.add_verify, rtl_cli.cmd_verify),
            ("sweep", lambda sub: _dse_cli().add_sweep(sub), lambda a: _dse_cli().cmd_sweep(a))]
_dse_cli = lambda: __import__("hwsim.dse.cli", fromlist=["cli"])  # noqa: E731 -- lazy: Dask loads on use


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="hwsim", description="Bit-accurate datatypes, cycle-level simulators "
                                 "and verified RTL for ML accelerators.")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, add, fn in COMMANDS:
        add(sub).set_defaults(func=fn)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except USER_ERRORS as e:
        print(f"hwsim {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
