"""``hwsim flow``: the main flow (hwsim/flow.py)."""

from __future__ import annotations


def _add_flow(sub):
    p = sub.add_parser("flow", help="the whole loop on bundled data: quantize, simulate, RTL, verify, report",
                       description="The main flow on the bundled all-MiniLM-L6-v2: (1) quantization study of "
                                   "its Linear weights with every 4-bit format and the BBS table; (2) real "
                                   "MiniLM data (a sentence's encoder input, layer 0's query projection) on a "
                                   "realistic design at cycle level, bit-exact with numpy, and the whole model; "
                                   "(3) RTL of the small verified DESIGN; (4) a real-data slice and a seeded "
                                   "workload set on numpy, hwsim, amaranth.sim and Verilator; (5) every other "
                                   "kind's own step (--kinds); (6) report and plots. See hwsim/flow.py.")
    p.add_argument("design", nargs="?", help="small systolic design to generate and verify (default "
                                             "designs/sa_ws_4x4_sf4_e4m3.yaml)")
    p.add_argument("--at-scale", metavar="DESIGN", help="realistic design for the model simulation (default: "
                                                        "the catalog design sharing DESIGN's formats)")
    p.add_argument("--seq", type=int, default=128, help="sequence length of the whole-model run (default 128)")
    p.add_argument("--no-quantize", action="store_true", help="skip step 1 (the quantization study, ~1 min)")
    p.add_argument("--kinds", default="all",
                   help="comma-separated kinds whose own flow step runs after the systolic steps (default all "
                        "that have one; 'none' for none)")
    p.add_argument("-o", "--out", default="results/flow", help="output directory (default results/flow)")
    p.add_argument("--build", default="build", help="RTL artefact root (default build/)")
    return p


def cmd_flow(args) -> int:
    from .. import flow
    from ..workloads import WorkloadError

    if args.seq < 1:
        raise WorkloadError(f"--seq {args.seq}: must be a positive integer")
    from .. import kinds as registry

    names = [k.name for k in registry.with_role("flow")]
    if args.kinds.strip() == "all":
        chosen = None
    elif args.kinds.strip() == "none":
        chosen = []
    else:
        chosen = [x.strip() for x in args.kinds.split(",") if x.strip()]
        bad = [x for x in chosen if x not in names]
        if bad:
            raise WorkloadError(f"--kinds {args.kinds!r}: kinds with a flow step: {', '.join(names)} (or all, none)")
    return flow.run(args.design, args.at_scale, args.out, args.build, seq=args.seq, quantize=not args.no_quantize,
                    kinds=chosen)
