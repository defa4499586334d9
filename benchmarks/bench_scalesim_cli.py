"""The whole ``hwsim simulate --compat scalesim`` command against SCALE-Sim 3.0.0's own run, on the same files,
in one run: per case, and for the whole case set (hwsim's batch form: all cases in one process).

    SCALESIM_PYTHON=<scalesim 3.0.0 venv>/bin/python .venv/bin/python benchmarks/bench_scalesim_cli.py \
        [--repeat N] [--scalesim-repo <checkout of github.com/scalesim-project/scale-sim-v3>]

Cases: the 9 configurations/topologies of benchmarks/bench_systolic.py (8x8, 32x32, 128x128; ws/os/is; GEMM
and conv); with ``--scalesim-repo``, also SCALE-Sim's own shipped examples (``configs/*.cfg`` with
``topologies/**.csv``, used as they are; SHIPPED below), i.e. the cases a SCALE-Sim user runs. For each case SCALE-Sim runs once in a fresh interpreter (``scalesim(...).run_scale()`` with
``save_disk_space=True``, i.e. without its trace files, which only makes SCALE-Sim faster; driver in
hwsim/systolic/scalesim_io.py) and writes its report CSVs; then ``python -m hwsim.cli simulate X.cfg -w
topo:X.csv --compat scalesim --mode analytical --no-plot -o DIR`` runs on the same .cfg/.csv files (one
unmeasured warm-up, then the median of N fresh processes); every SCALE-Sim report column is compared with
hwsim's report.json. The batch row is one ``hwsim simulate`` process given all 9 .cfg files with their 9
topologies (``simulate A.cfg B.cfg ... -w topo:A.csv -w topo:B.csv ...``), against the sum of SCALE-Sim's 9
runs (SCALE-Sim takes one configuration per run).

Times are CPU seconds (user + system) of the child processes, so other jobs on a shared machine change them
little (the load average is printed). The floors printed first are what any Python command pays before it
simulates anything. Children run with bytecode caching on (PYTHONDONTWRITEBYTECODE removed), as a normal
installation does. Target (issue 12): whole command >= 50x faster than SCALE-Sim's whole run. Printed,
never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_systolic import CASES  # noqa: E402  (the same 9 cases)
from hwsim.report import format_table  # noqa: E402
from hwsim.systolic import scalesim_io as io  # noqa: E402

PY = sys.executable
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPATH"] = str(ROOT)
TARGET = 50.0
#: SCALE-Sim's shipped configuration x topology pairs run as they are (scale-sim-v3 fab89b7): CALC and USER
#: interfaces, ws and os, conv and GEMM. Its is-dataflow configs all set IfmapCustomLayout (not modelled), and
#: SCALE-Sim 3.0.0 itself stops on configs/eyeriss.cfg (no [layout] section).
SHIPPED = [("configs/scale.cfg", "topologies/conv_nets/alexnet.csv", "conv"),
           ("configs/scale.cfg", "topologies/GEMM_mnk/NCF.csv", "gemm"),
           ("configs/google.cfg", "topologies/GEMM_mnk/vit_s.csv", "gemm"),
           ("configs/google.cfg", "topologies/conv_nets/mobilenet.csv", "conv")]


def child_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def cpu_of(cmd: list[str], cwd: Path) -> float:
    c = child_cpu()
    r = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:6])} ...: {r.stderr[-2000:]}")
    return child_cpu() - c


def median_cpu(cmd: list[str], cwd: Path, repeat: int) -> float:
    cpu_of(cmd, cwd)                                  # warm-up: .pyc files and Numba's cache filled
    return statistics.median(cpu_of(cmd, cwd) for _ in range(repeat))


def same_fields(report_json: Path, theirs: list[dict]) -> bool:
    mine = json.loads(report_json.read_text())["compat"]["scalesim"]
    return len(mine) == len(theirs) and all(m[name] == t[key] for m, t in zip(mine, theirs)
                                            for key, name in io.FIELDS.items())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="measured runs of every hwsim command (default 3)")
    ap.add_argument("--scalesim-repo", type=Path, help="a checkout of scale-sim-v3: also run its shipped examples")
    args = ap.parse_args(argv)
    py = io.scalesim_python()
    if py is None:
        print("SCALE-Sim 3.0.0 not found ($SCALESIM_PYTHON or .scalesim-venv/bin/python): nothing to compare; "
              "see tests/reference/generate_scalesim_reference.py for the install.")
        return 0
    print(f"# load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores); CPU seconds "
          f"of the child processes are compared")
    tmp = Path(tempfile.mkdtemp(prefix="bench_scalesim_cli."))
    try:
        return _run(py, tmp, args.repeat, args.scalesim_repo)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(py: str, tmp: Path, repeat: int, repo: Path | None) -> int:
    floors = [("python -c pass", [PY, "-c", "pass"]),
              ("python -c 'import numpy'", [PY, "-c", "import numpy"]),
              ("python -c 'import hwsim, numpy' (idle BLAS threads sleep at once: hwsim/__init__.py)",
               [PY, "-c", "import hwsim, numpy"]),
              ("import numba + its CPU target (what loading one cached @njit kernel costs)",
               [PY, "-c", "import os; from hwsim.cli.simulate import numba_without_scipy as f; f(); "
                          "from numba.core.registry import cpu_target; cpu_target.target_context.refresh(); "
                          "os._exit(0)"]),
              ("hwsim --help", [PY, "-m", "hwsim.cli", "--help"])]
    rows = [[name, "", f"{median_cpu(cmd, tmp, repeat):.3f}", "", "", ""] for name, cmd in floors]
    cfgs, topos, ss_total, ok_all, ratios, ss_times = [], [], 0.0, True, [], []
    for R, C, df, kind, layers in CASES:
        name = f"{R}x{C}_{df}_{kind}"
        run = f"bench_{name}"
        c0 = child_cpu()
        theirs, _ = io.run_scalesim(py, tmp / name, run, R, C, df, layers, kind)
        t_ss = child_cpu() - c0
        ss_total += t_ss
        ss_times.append(t_ss)
        cfg, topo = tmp / name / f"{run}.cfg", tmp / name / f"{run}_topo.csv"
        cfgs.append(str(cfg))
        topos.append(f"topo:{topo}")
        out = tmp / name / "hw"
        t_hw = median_cpu([PY, "-m", "hwsim.cli", "simulate", str(cfg), "-w", f"topo:{topo}", "--compat", "scalesim",
                           "--mode", "analytical", "--no-plot", "-o", str(out)], tmp, repeat)
        same = same_fields(out / "report.json", theirs)
        ok_all &= same
        ratios.append(t_ss / t_hw)
        rows.append([name, "+".join(l.name for l in layers), f"{t_hw:.3f}", f"{t_ss:.2f}", f"{t_ss / t_hw:.1f}x",
                     "yes" if same else "NO"])
    batch = [PY, "-m", "hwsim.cli", "simulate", *cfgs]
    for t in topos:
        batch += ["-w", t]
    batch += ["--compat", "scalesim", "--mode", "analytical", "--no-plot", "-o", str(tmp / "batch")]
    t_batch = median_cpu(batch, tmp, repeat)
    folders = sorted((tmp / "batch").iterdir())
    same_batch = len(folders) == len(CASES) and all(
        json.loads((f / "report.json").read_text())["compat"] ==
        json.loads((tmp / Path(c).parent.name / "hw" / "report.json").read_text())["compat"]
        for f, c in zip(sorted((tmp / "batch").iterdir(), key=lambda p: p.name), sorted(cfgs, key=lambda c: Path(c).stem)))
    rows.append([f"all {len(CASES)} cases in one hwsim process (batch)", "", f"{t_batch:.3f}", f"{ss_total:.2f}",
                 f"{ss_total / t_batch:.1f}x", "yes" if ok_all and same_batch else "NO"])
    print(format_table(["command / case", "layers", "hwsim CPU s", "SCALE-Sim CPU s", "ratio",
                        "all SCALE-Sim fields equal"], rows))
    print(f"# load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\nper case: {sum(r >= TARGET for r in ratios)} of {len(ratios)} at >= {TARGET:.0f}x (min {min(ratios):.1f}x, "
          f"median {statistics.median(ratios):.1f}x, max {max(ratios):.1f}x); whole set in one process: "
          f"{ss_total / t_batch:.1f}x ({'met' if ss_total / t_batch >= TARGET else 'NOT met'})")
    floor = float(rows[2][2])
    print(f"floor: a case whose SCALE-Sim run costs s CPU-s can reach at most s / {floor:.3f} (python + numpy + "
          f"hwsim's imports, no Numba: the compiled kernels are built ahead of time, hwsim/aot.py): 50x needs "
          f"s >= {TARGET * floor:.1f} CPU-s; {sum(t >= TARGET * floor for t in ss_times)} of the {len(ss_times)} "
          f"cases above are that long")
    if repo is not None:
        _shipped(py, tmp, repeat, repo)
    return 0


def _shipped(py: str, tmp: Path, repeat: int, repo: Path) -> None:
    from hwsim.topology import read_topology

    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown commit"
    print(f"\nSCALE-Sim's shipped examples ({repo}, {commit}), files used as they are; one SCALE-Sim run each")
    print(f"# load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows, ratios = [], []
    for i, (cfg, topo, kind) in enumerate(SHIPPED):
        cfg, topo = repo / cfg, repo / topo
        lay = tmp / f"shipped{i}_layout.csv"
        lay.write_text(io.layout_text([l.name for l in read_topology(topo, kind).layers]))
        c0 = child_cpu()
        theirs, _ = io.run_scalesim_files(py, cfg, topo, lay, tmp / f"shipped{i}", kind)
        t_ss = child_cpu() - c0
        out = tmp / f"shipped{i}_hw"
        t_hw = median_cpu([PY, "-m", "hwsim.cli", "simulate", str(cfg), "-w", f"topo:{topo}", "--compat", "scalesim",
                           "--mode", "analytical", "--no-plot", "-o", str(out)], tmp, repeat)
        ratios.append(t_ss / t_hw)
        rows.append([f"{cfg.name} x {topo.parent.name}/{topo.name}", str(len(theirs)), f"{t_hw:.3f}", f"{t_ss:.2f}",
                     f"{t_ss / t_hw:.1f}x", "yes" if same_fields(out / "report.json", theirs) else "NO"])
    print(format_table(["shipped config x topology", "layers", "hwsim CPU s", "SCALE-Sim CPU s", "ratio",
                        "all SCALE-Sim fields equal"], rows))
    print(f"# load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"shipped examples: {sum(r >= TARGET for r in ratios)} of {len(ratios)} at >= {TARGET:.0f}x "
          f"(min {min(ratios):.1f}x, median {statistics.median(ratios):.1f}x, max {max(ratios):.1f}x)")


if __name__ == "__main__":
    sys.exit(main())
