"""``hwsim sweep``: the parser setup and the command (registered in hwsim.cli.COMMANDS).

Importing this module is cheap (argparse only); Dask, pyarrow and the simulators load when the
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


def add_sweep(sub):
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
    from hwsim.design import DesignError
    from hwsim.spec import SpecError
    from hwsim.workloads import WorkloadError

    from . import SchedulerUnreachable, StoreError, SweepError

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
    from . import SweepError
    from .report import write_report
    from .run import run_sweep
    from .spec import load_sweep

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
    sweep = load_sweep(args.sweep)
    out = Path(args.out or f"results/sweep/{sweep.name}")
    backend = "inline" if args.inline else "scheduler" if args.scheduler else "local"
    res = run_sweep(sweep, out, backend=backend, scheduler=args.scheduler, workers=args.workers, mode=args.mode,
                    area=args.area, target=args.target, max_points=args.max_points, progress=not args.quiet)
    shutil.copyfile(args.sweep, out / ".sweep.yaml.tmp")
    (out / ".sweep.yaml.tmp").replace(out / "sweep.yaml")
    print(res.summary())
    text, paths = write_report(out, plots=not args.no_plot)
    print()
    print(text)
    print(f"\nwrote {out}/points/*.parquet, {', '.join(str(p) for p in paths)}")
    return 0 if res.failed == 0 else 1
