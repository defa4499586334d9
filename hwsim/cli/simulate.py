"""``hwsim simulate``: any registered kind's simulator on a workload, through the kind registry."""

from __future__ import annotations

import re


def _add_simulate(sub):
    p = sub.add_parser("simulate", help="simulate a design on a workload (cycles, utilisation, memory, energy)",
                       description="Simulate a design (YAML, or a SCALE-Sim .cfg for systolic arrays) on a "
                                   "workload. Systolic: gemm:M,N,K | conv:H,W,R,S,C,N[,stride[,pad]] | "
                                   "llm:<preset>[,seq=..,batch=..,phase=..] | a SCALE-Sim topology .csv (several "
                                   "joined with ';'); other kinds: see docs/<kind>.md. Writes report.txt/json, "
                                   "layers.csv, design.resolved.yaml and PNG plots, as a set.")
    p.add_argument("design", help="design file (designs/*.yaml) or SCALE-Sim configuration (.cfg)")
    p.add_argument("-w", "--workload", required=True, help="workload spec (see above)")
    p.add_argument("-m", "--mode", default="auto", choices=("auto", "cycle", "analytical"),
                   help="cycle: advance the RTL clock (outputs checked bit-exactly); analytical: closed forms; "
                        "auto (default): cycle-level when small enough")
    p.add_argument("--compat", metavar="NAME",
                   help="also report a published simulator's numbers with its field names (systolic: scalesim)")
    p.add_argument("--scalesim", action="store_true", help="same as --compat scalesim")
    p.add_argument("--operands", default="quantized", choices=("quantized", "random"),
                   help="operand data of the cycle-level run: normal floats quantized with the design's "
                        "formats (default), or uniformly random codes")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the operand data (default 0)")
    p.add_argument("-o", "--out", help="output directory (default results/simulate/<design>-<workload>)")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG plots")
    return p


def _seed(text: str) -> int:
    import argparse

    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer 0..2**32-1, got {text!r}") from None
    if not 0 <= v < 2 ** 32:
        raise argparse.ArgumentTypeError(f"expected an integer 0..2**32-1, got {v}")
    return v


def cmd_simulate(args) -> int:
    from .. import build, kinds
    from ..report import ensure_writable, write_run
    from ..workloads import WorkloadError

    sim = build(args.design)
    kind = kinds.get(sim.design.kind)
    compat = "scalesim" if args.scalesim else args.compat
    if compat is not None and compat not in kind.compat:
        raise WorkloadError(f"--compat {compat!r}: kind {kind.name} reproduces "
                            f"{', '.join(kind.compat) or 'no published simulator'}")
    if args.out:
        ensure_writable(args.out)
    kw = {"mode": args.mode, "seed": args.seed, "compat": compat}
    kw.update({opt: getattr(args, opt) for opt in kind.run_options})
    res = sim.run(args.workload, **kw)
    print(res.render())
    name = res.to_dict().get("workload", "run")
    out = args.out or f"results/simulate/{sim.design.name}-{re.sub(r'[^A-Za-z0-9_.+-]+', '_', str(name))[:80]}"
    paths = write_run(res, out, plots=not args.no_plot)
    print(f"\nwrote {', '.join(str(p) for p in paths.values())}")
    return 0
