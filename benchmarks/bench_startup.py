"""Start-up and whole-command time of everyday commands, against the bare interpreter in the same run.

    .venv/bin/python benchmarks/bench_startup.py [--repeat N]

Each command runs N times (default 5) as a fresh process, after one unmeasured warm-up run (Numba's
on-disk cache filled); the table shows the median wall time, the median CPU time (user + system of the
child) and the CPU ratio to ``python -c pass``; a target counts as met when the wall or the CPU median is
below it (on a shared machine wall time includes waiting for a core). Targets
(issue 9): ``import hwsim``, ``hwsim --help`` and ``hwsim formats`` under 0.5 s; a tiny
``hwsim simulate`` under 1 s warm. Printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwsim.report import format_table  # noqa: E402

PY = sys.executable


def commands(tmp: str) -> list[tuple[str, list[str], float | None]]:
    from hwsim.systolic import scalesim_io as io
    from hwsim.workloads import Gemm

    (Path(tmp) / "ss.cfg").write_text(io.config_text("ss", 8, 8, "is"))
    (Path(tmp) / "ss_topo.csv").write_text(io.topology_text([Gemm(20, 13, 30, name="g_odd"),
                                                             Gemm(1, 257, 129, name="g_vec")], "gemm"))
    hw = [PY, "-m", "hwsim.cli"]
    return [
        ("python -c pass (baseline)", [PY, "-c", "pass"], None),
        ("import hwsim", [PY, "-c", "import hwsim"], 0.5),
        ("import hwsim.kinds + every kind's sections", [PY, "-c", "import hwsim.kinds as k; "
                                                       "[x.sections for x in k.KINDS.values()]"], 0.5),
        ("hwsim --help", hw + ["--help"], 0.5),
        ("hwsim formats", hw + ["formats"], 0.5),
        ("hwsim simulate sa_ws_4x4_int8 gemm:5,7,3 (cycle, no plots)",
         hw + ["simulate", str(ROOT / "designs" / "sa_ws_4x4_int8.yaml"), "-w", "gemm:5,7,3", "-o", tmp,
               "--no-plot"], 1.0),
        ("hwsim simulate sa_ws_4x4_int8 gemm:5,7,3 (cycle, with the 3 plots)",
         hw + ["simulate", str(ROOT / "designs" / "sa_ws_4x4_int8.yaml"), "-w", "gemm:5,7,3", "-o", tmp], None),
        ("hwsim simulate SCALE-Sim .cfg + topology, 2 GEMMs, --compat scalesim (analytical, no plots)",
         hw + ["simulate", str(Path(tmp) / "ss.cfg"), "-w", f"topo:{Path(tmp) / 'ss_topo.csv'}", "--compat",
               "scalesim", "--mode", "analytical", "-o", tmp, "--no-plot"], None),
        ("hwsim simulate tpu_like_128x128 llm:llama3-8b (analytical, no plots)",
         hw + ["simulate", str(ROOT / "designs" / "tpu_like_128x128_ws_int8.yaml"), "-w",
               "llm:llama3-8b,seq=2048", "-o", tmp, "--no-plot"], None),
    ]


def _child_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user + system) of one run of ``cmd``."""
    t, c = time.perf_counter(), _child_cpu()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t, _child_cpu() - c


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(f"# load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores); the CPU column "
          f"(user + system of the process) is the one to judge on a shared machine")
    rows, base, cbase = [], None, None
    with tempfile.TemporaryDirectory() as tmp:
        for label, cmd, target in commands(tmp):
            timed(cmd)                                            # warm-up (Numba cache, page cache)
            runs = [timed(cmd) for _ in range(args.repeat)]
            med = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            base, cbase = base or med, cbase or cpu
            verdict = "-" if target is None else ("yes" if min(med, cpu) < target else "NO")
            rows.append([label, f"{med:.3f}", f"{cpu:.3f}", f"{cpu / cbase:.1f}x",
                         "-" if target is None else f"< {target:g}", verdict])
    print(format_table(["command", "median wall s", "median CPU s", "CPU vs python", "target s", "met"], rows,
                       align="lrrrrl"))
    print(f"# load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
