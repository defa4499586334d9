"""``hwsim sweep``: the parser setup and the command (registered in hwsim.cli.COMMANDS), and the Yosys
area task of ``--area`` (RTL emission and synthesis belong to rtl_gen, above hwsim's core, so the
application layer hands them to :mod:`hwsim.dse`).

Importing this module is cheap (argparse only); Dask, pyarrow, the simulators and rtl_gen load when the
command runs.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import threading
from pathlib import Path


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {n}")
    return n


def _add_sweep(sub):
    p = sub.add_parser(
        "sweep", help="design-space sweep: points on a Dask cluster, resumable Parquet results, Pareto fronts",
        description="Expand SWEEP.yaml (a base design, parameter ranges, workloads) into points, evaluate each "
                    "with the kind's simulator (analytical by default) and optionally Yosys area, append the "
                    "results to a Parquet dataset in DIR (a rerun skips finished points), and write report.txt, "
                    "pareto.csv and Pareto plots. Runs on an embedded Dask LocalCluster (127.0.0.1) or on "
                    "--scheduler. `hwsim sweep --report DIR` summarizes without recomputing. See docs/sweep.md.")
    p.add_argument("sweep", nargs="?", help="sweep file (designs/sweeps/*.yaml)")
    p.add_argument("-o", "--out", help="results directory (default results/sweep/<sweep name>)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="existing Dask scheduler, e.g. tcp://127.0.0.1:8786")
    p.add_argument("--workers", type=_positive, help="worker processes of the embedded LocalCluster "
                                                     "(default: CPU count, at most 8)")
    p.add_argument("--inline", action="store_true", help="no Dask: evaluate in this process (a plain loop)")
    p.add_argument("-m", "--mode", choices=("analytical", "cycle"), help="simulation mode (default: the sweep "
                                                                         "file's mode, else analytical)")
    p.add_argument("--area", action="store_true", help="Yosys area of every distinct RTL (cached by design hash)")
    p.add_argument("--target", default="xc7", help="synthesis target of --area (default xc7)")
    p.add_argument("--max-points", type=_positive, help="allow more points than the sweep's max_points "
                                                        "(default limit 100,000)")
    p.add_argument("--report", metavar="DIR", help="summarize the results in DIR (no evaluation)")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG plots")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    return p


def _err(msg: str) -> None:
    print(f"hwsim sweep: error: {msg}", file=sys.stderr, flush=True)


def cmd_sweep(args) -> int:
    from ..design import DesignError
    from ..dse import SchedulerUnreachable, StoreError, SweepError
    from ..spec import SpecError
    from ..workloads import WorkloadError

    def on_term(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, on_term) if threading.current_thread() is threading.main_thread() else None
    try:
        return _run(args)
    except SchedulerUnreachable as e:
        _err(str(e))
        return 1
    except (SweepError, StoreError, DesignError, SpecError, WorkloadError) as e:
        _err(str(e).splitlines()[0] if str(e) else type(e).__name__)
        return 2
    except KeyboardInterrupt:
        _err("interrupted; finished points are saved (a rerun resumes)")
        return 130
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def _run(args) -> int:
    from ..dse import SweepError
    from ..dse.report import write_report
    from ..dse.run import run_sweep
    from ..dse.spec import load_sweep

    if args.report:
        if args.sweep:
            raise SweepError("--report DIR summarizes existing results; give no sweep file with it")
        text, paths = write_report(args.report, plots=not args.no_plot)
        print(text)
        print(f"\nwrote {', '.join(str(p) for p in paths)}")
        return 0
    if not args.sweep:
        raise SweepError("give a sweep file (hwsim sweep SWEEP.yaml) or --report DIR")
    if args.inline and (args.scheduler or args.workers):
        raise SweepError("--inline runs in this process; it takes no --scheduler or --workers")
    if args.scheduler and args.workers:
        raise SweepError("--workers sizes the embedded LocalCluster; an existing --scheduler brings its own")
    if args.area:
        from rtl_gen.area import TARGETS

        if args.target not in TARGETS:
            raise SweepError(f"--target {args.target!r}: allowed {', '.join(TARGETS)}")
    sweep = load_sweep(args.sweep, max_points=args.max_points)
    out = Path(args.out or f"results/sweep/{sweep.name}")
    backend = "inline" if args.inline else "scheduler" if args.scheduler else "local"
    res = run_sweep(sweep, out, backend=backend, scheduler=args.scheduler, workers=args.workers, mode=args.mode,
                    area=area_of if args.area else None, target=args.target, max_points=args.max_points,
                    progress=not args.quiet)
    shutil.copyfile(args.sweep, out / ".sweep.yaml.tmp")
    (out / ".sweep.yaml.tmp").replace(out / "sweep.yaml")
    print(res.summary())
    text, paths = write_report(out, plots=not args.no_plot)
    print()
    print(text)
    print(f"\nwrote {out}/points/*.parquet, {', '.join(str(p) for p in paths)}")
    return 0 if res.failed == 0 else 1


def area_of(design: dict, design_hash: str, build_root: str, target: str = "xc7", params: dict | None = None) -> dict:
    """Yosys area of one design's RTL, emitted into ``build_root/<name>-<hash>/`` and cached there (the code
    and cache of ``hwsim rtl --area``): a row of the sweep's area dataset. Runs in the sweep's workers."""
    import json
    import time
    import traceback

    from rtl_gen.area import area_report
    from rtl_gen.verilog import component_for, emit

    from ..design import from_dict
    from ..dse.evaluate import AREA_COLUMNS, INVALID_ERRORS, one_line

    row = {c: None for c in AREA_COLUMNS}
    row.update(design_hash=design_hash, design=design.get("name"), target=target,
               params=json.dumps(params or {}, default=str))
    t0 = time.perf_counter()
    try:
        d = from_dict(design, source="point")
        art = emit(d, build_root, component=component_for(d))
        a, _, _ = area_report(art.directory, art.top, target)
        row.update(status="ok", reason="", lut=a.lut, ff=a.ff, carry=a.carry, dsp=a.dsp, ram=a.bram + a.lutram)
    except INVALID_ERRORS as e:
        row.update(status="invalid", reason=one_line(e))
    except Exception as e:      # noqa: BLE001 -- e.g. a synthesis failure: recorded
        row.update(status="failed", reason=traceback.format_exception_only(type(e), e)[-1].strip())
    row["seconds"] = time.perf_counter() - t0
    return row
