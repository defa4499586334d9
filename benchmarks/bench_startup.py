"""Start-up and whole-command time of everyday commands, against the bare interpreter in the same run.

    .venv/bin/python benchmarks/bench_startup.py [--repeat N]

Each command runs N times (default 5) as a fresh process, after one unmeasured warm-up run (Numba's
on-disk cache filled); the table shows the median wall time and its ratio to ``python -c pass``. Targets
(issue 9): ``import hwsim``, ``hwsim --help`` and ``hwsim formats`` under 0.5 s; a tiny
``hwsim simulate`` under 1 s warm. Printed, never asserted.
"""

from __future__ import annotations

import argparse
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
        ("hwsim simulate tpu_like_128x128 llm:llama3-8b (analytical, no plots)",
         hw + ["simulate", str(ROOT / "designs" / "tpu_like_128x128_ws_int8.yaml"), "-w",
               "llm:llama3-8b,seq=2048", "-o", tmp, "--no-plot"], None),
    ]


def timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    rows, base = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for label, cmd, target in commands(tmp):
            timed(cmd)                                            # warm-up (Numba cache, page cache)
            med = statistics.median(timed(cmd) for _ in range(args.repeat))
            base = base or med
            verdict = "-" if target is None else ("yes" if med < target else "NO")
            rows.append([label, f"{med:.3f}", f"{med / base:.1f}x", "-" if target is None else f"< {target:g}",
                         verdict])
    print(format_table(["command", "median s", "vs python", "target s", "met"], rows, align="lrrrl"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
