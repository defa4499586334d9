"""``hwsim formats`` and ``hwsim quantize``: the datatype library from the command line."""

from __future__ import annotations

import argparse


def _add_formats(sub):
    p = sub.add_parser("formats", help="list number formats with bits, levels and rules",
                       description="List the number formats of the datatype library.")
    p.add_argument("name", nargs="?", help="show one format in full (levels, codes, rules)")
    p.add_argument("--bits", type=int, help="only formats of this many bits per element")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def cmd_formats(args) -> int:
    import json

    import numpy as np

    import datatypes as dt

    from ..report import format_table

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
    from .. import quant_error

    return quant_error.four_bit_specs() if text.strip().lower() == "4bit" else quant_error.parse_specs(text)


def cmd_quantize(args) -> int:
    from ..weights import bundled_model

    path = args.file or bundled_model()
    from ..quant_error import run_study

    return run_study(path, _specs(args.formats), args.group_size, args.tensors, args.out, not args.no_plot)
