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
    p.add_argument("design", nargs="+", help="design file (designs/*.yaml) or SCALE-Sim configuration (.cfg); "
                                             "several run as a batch in one process (start-up paid once)")
    p.add_argument("-w", "--workload", required=True, action="append",
                   help="workload spec (see above); repeat it to pair workloads with the designs in order (one "
                        "-w goes with every design, one design with every -w)")
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
    p.add_argument("-o", "--out", help="output directory (default results/simulate/<design>-<workload>); with "
                                        "several cases, the parent of one <design>-<workload> folder per case")
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


def numba_without_scipy() -> None:
    """Let Numba load without importing SciPy, in this process (lazily: nothing is imported here).

    When Numba's CPU target loads its registries (at the first call of any cached kernel) it imports
    ``numba.np.arraymath``, which imports ``scipy.linalg.cython_blas`` only to learn whether
    ``np.dot``/``np.linalg`` can be compiled. That import (scipy.linalg, its array-API layer, numpy.f2py)
    costs ~0.25 CPU-s, a quarter of a whole ``hwsim simulate``; ``numba/__init__.py`` also imports
    ``scipy`` for a version check. No simulate kernel uses BLAS, and the command owns its process. So a
    meta-path hook hides ``scipy`` and ``scipy.linalg`` while those two Numba modules execute (Numba then
    records "no BLAS"); SciPy stays importable before and after. A run that calls no kernel pays nothing.
    Only for the ``hwsim`` command line (``main()`` without argv), never for ``main([...])`` from Python.
    Skipped when SciPy's linalg or Numba's arraymath is already loaded (nothing left to save)."""
    import importlib.abc
    import importlib.machinery
    import sys

    if "scipy.linalg" in sys.modules or "numba.np.arraymath" in sys.modules:
        return
    watched = {"numba.np.arraymath"} | ({"numba"} if "numba" not in sys.modules else set())

    class _Loader(importlib.abc.Loader):
        def __init__(self, inner):
            self.inner = inner

        def create_module(self, spec):
            return self.inner.create_module(spec)

        def exec_module(self, module):
            hidden = [m for m in ("scipy", "scipy.linalg") if m not in sys.modules]
            for m in hidden:
                sys.modules[m] = None         # `import scipy...` fails fast (ImportError), as without SciPy
            try:
                self.inner.exec_module(module)
            finally:
                for m in hidden:
                    if sys.modules.get(m, 0) is None:
                        del sys.modules[m]

    class _Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name not in watched:
                return None
            watched.discard(name)
            if not watched:
                sys.meta_path.remove(self)
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is not None and spec.loader is not None:
                spec.loader = _Loader(spec.loader)
            return spec

    sys.meta_path.insert(0, _Finder())


def _cases(designs: list[str], workloads: list[str]) -> list[tuple[str, str]]:
    """(design, workload) pairs: equal counts pair up in order; one of either goes with every other."""
    from ..workloads import WorkloadError

    if len(designs) == len(workloads):
        return list(zip(designs, workloads))
    if len(workloads) == 1:
        return [(d, workloads[0]) for d in designs]
    if len(designs) == 1:
        return [(designs[0], w) for w in workloads]
    raise WorkloadError(f"{len(designs)} designs and {len(workloads)} -w workloads: give one workload for all "
                        f"designs, one design for all workloads, or as many of each (paired in order)")


def cmd_simulate(args) -> int:
    if getattr(args, "own_process", False):   # never change Numba's set-up inside someone else's process
        numba_without_scipy()
    from .. import build, kinds
    from ..report import ensure_writable, write_run
    from ..workloads import WorkloadError

    cases = _cases(args.design, args.workload)
    compat = "scalesim" if args.scalesim else args.compat
    runs, seen = [], set()
    for design, workload in cases:         # build and check every case before the first one runs
        sim = build(design)
        kind = kinds.get(sim.design.kind)
        if compat is not None and compat not in kind.compat:
            raise WorkloadError(f"--compat {compat!r}: kind {kind.name} reproduces "
                                f"{', '.join(kind.compat) or 'no published simulator'}")
        wl = re.sub(r"[^;:,=]*/", "", workload)       # file workloads by file name, not by their whole path
        name = f"{sim.design.name}-{re.sub(r'[^A-Za-z0-9_.+-]+', '_', wl)[:80]}"
        if len(cases) == 1:
            out = args.out                  # None: named after the run's own workload name below
        else:                               # one folder per case under -o (or results/simulate)
            out, k = f"{args.out or 'results/simulate'}/{name}", 2
            while out in seen:
                out, k = f"{args.out or 'results/simulate'}/{name}-{k}", k + 1
        seen.add(out)
        runs.append((sim, kind, workload, out))
    if args.out or len(cases) > 1:
        for *_, out in runs:
            ensure_writable(out)
    for i, (sim, kind, workload, out) in enumerate(runs):
        kw = {"mode": args.mode, "seed": args.seed, "compat": compat}
        kw.update({opt: getattr(args, opt) for opt in kind.run_options})
        res = sim.run(workload, **kw)
        if len(runs) > 1:
            print(f"{'' if i == 0 else chr(10)}=== case {i + 1} of {len(runs)}: {sim.design.name} on {workload} ===")
        print(res.render())
        if out is None:
            wname = res.to_dict().get("workload", "run")
            out = f"results/simulate/{sim.design.name}-{re.sub(r'[^A-Za-z0-9_.+-]+', '_', str(wname))[:80]}"
        paths = write_run(res, out, plots=not args.no_plot)
        print(f"\nwrote {', '.join(str(p) for p in paths.values())}")
    if getattr(args, "own_process", False):
        _exit_now()
    return 0


def _exit_now() -> None:
    """End the ``hwsim simulate`` process once every output is written and closed: skips the interpreter's
    teardown (freeing Numba's and LLVM's objects module by module), ~0.1 CPU-s of a 0.6 CPU-s command.
    Only for the command line's own process (main() without argv)."""
    import os
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
