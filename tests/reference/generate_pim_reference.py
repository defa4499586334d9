"""PIM and non-PIM cycle counts from SAITPublic/PIMSimulator @ b464dde, written to tests/data/pim_reference.json.

This is how tests/data/pim_reference.json was made; the tests only read that file. It runs the
already-built reference binary (``sim``, a gtest executable) once per case and parses the two
``> Cycle : N`` lines it prints (first the non-PIM baseline, then the PIM kernel).

Reference: https://github.com/SAITPublic/PIMSimulator, commit b464dde014a5b137a510e53e95cfa9c706e77fee,
built outside this project as the spec describes (``scons NO_STORAGE=1``, ``#include <iterator>`` added
to ``lib/npy.h``). The stock ``PIMBenchFixture`` hard-codes its kernel sizes, 64 pseudo-channels and
the ini files, so the binary used here had two edits in ``src/tests/PIMBenchTestCases.{h,cpp}``,
neither of which touches the simulator itself:

* ``PIMBenchTestCase``'s constructor takes the device ini, the system ini and the channel count from
  the environment (``PIM_DEV_INI``, ``PIM_SYS_INI``, ``PIM_CH``; defaults: the stock
  ``ini/HBM2_samsung_2M_16B_x64.ini``, ``system_hbm_64ch.ini``, 64) and passes the channel count to
  ``PIMKernel(mem, PIM_CH, 1)`` and ``256 * PIM_CH * 2`` MB to both ``MultiChannelMemorySystem`` s
  (the stock 256 * 64 * 2, i.e. two 256 MB ranks per pseudo-channel);
* one more fixture test, ``PIMBenchFixture.env``, which is the stock ``PIMBenchFixture.gemv`` body
  with ``setPIMBenchTestCase(kernel, PIM_OUT, PIM_IN, PIM_BATCH)``, kernel from ``PIM_KERNEL``
  (gemv / add / mul / relu).

The channel variants use copies of ``system_hbm_64ch.ini`` with ``NUM_CHANS`` changed (32, 16); refresh
off uses a copy of the device ini with ``tREFI=1000000000`` (the simulator has no refresh switch).
Invocation (the ini copies are written by this script into --work)::

    python tests/reference/generate_pim_reference.py --sim /work/refs/PIMSimulator \\
        --work /work/refs/pim_work --jobs 2 --out tests/data/pim_reference.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

COMMIT = "b464dde014a5b137a510e53e95cfa9c706e77fee"
DEVICE_INI = "ini/HBM2_samsung_2M_16B_x64.ini"
SYSTEM_INI = "system_hbm_64ch.ini"

# (kernel, out, in, batch, channels, refresh). For gemv out = N (rows of W), in = K; for the
# element-wise kernels out = in = number of elements.
GEMV = [(4096, 4096), (4096, 1024), (4096, 2048), (1024, 4096), (4096, 4000), (2048, 2048),
        (4096, 128), (4096, 256), (4096, 384), (100, 100), (4096, 1000), (8192, 1024), (4096, 8192),
        (5000, 640), (16, 16), (4096, 129), (12288, 512), (4097, 512), (3000, 1536), (8192, 4096)]
CASES: list[tuple] = [("gemv", n, k, 1, 64, True) for n, k in GEMV]
CASES += [("gemv", 4096, 1024, 2, 64, True), ("gemv", 4096, 1024, 4, 64, True),
          ("gemv", 1024, 512, 3, 64, True), ("gemv", 2048, 2048, 2, 64, True),
          ("gemv", 300, 200, 5, 64, True)]
CASES += [("gemv", 4096, 1024, 1, 32, True), ("gemv", 2048, 2048, 1, 32, True),
          ("gemv", 4096, 4096, 1, 32, True), ("gemv", 1000, 300, 2, 32, True),
          ("gemv", 4096, 1024, 1, 16, True), ("gemv", 1024, 1024, 1, 16, True),
          ("gemv", 3000, 700, 1, 16, True), ("gemv", 512, 256, 2, 16, True)]
CASES += [("gemv", 4096, 4096, 1, 64, False), ("gemv", 4096, 1024, 1, 64, False),
          ("gemv", 1024, 512, 2, 64, False), ("gemv", 2048, 1024, 1, 32, False),
          ("gemv", 700, 900, 1, 16, False)]
ELT = [("add", 1 << 20), ("add", 1000000), ("add", 131072), ("add", 262144), ("add", 100000),
       ("mul", 2 << 20), ("mul", 393216), ("mul", 131072), ("relu", 4 << 20), ("relu", 131072),
       ("relu", 500000), ("relu", 1 << 20), ("add", 3 * 131072 + 17)]
CASES += [(k, e, e, 1, 64, True) for k, e in ELT]
CASES += [("add", 131072, 131072, 2, 64, True), ("relu", 65536, 65536, 3, 64, True)]
CASES += [("add", 262144, 262144, 1, 32, True), ("relu", 196608, 196608, 1, 32, True),
          ("mul", 163840, 163840, 1, 16, True), ("relu", 100000, 100000, 1, 16, True)]
CASES += [("add", 1 << 20, 1 << 20, 1, 64, False), ("relu", 1 << 20, 1 << 20, 1, 64, False),
          ("mul", 262144, 262144, 1, 64, False), ("add", 65536, 65536, 1, 16, False)]


def _random_cases(seed: int = 14, n_gemv: int = 14, n_elt: int = 8) -> list[tuple]:
    """Seeded random shapes and settings (not hand-picked), so the test set is not only round numbers."""
    import random
    rnd = random.Random(seed)
    out = []
    for _ in range(n_gemv):
        out.append(("gemv", rnd.randint(1, 9000), rnd.randint(1, 3000), rnd.choice([1, 1, 2, 3]),
                    rnd.choice([16, 32, 64]), rnd.random() < 0.7))
    for _ in range(n_elt):
        e = rnd.randint(1, 1_500_000)
        out.append((rnd.choice(["add", "mul", "relu"]), e, e, rnd.choice([1, 1, 2]), rnd.choice([16, 32, 64]),
                    rnd.random() < 0.7))
    return out


CASES += _random_cases()


def write_inis(sim: Path, work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    system = (sim / SYSTEM_INI).read_text()
    for ch in (64, 32, 16):
        text = re.sub(r"^NUM_CHANS=\d+", f"NUM_CHANS={ch}", system, flags=re.M)
        (work / f"system_{ch}ch.ini").write_text(text)
    device = (sim / DEVICE_INI).read_text()
    (work / "device_refresh.ini").write_text(device)
    (work / "device_norefresh.ini").write_text(re.sub(r"^tREFI=\d+", "tREFI=1000000000", device,
                                                      flags=re.M))


def run_case(sim: Path, work: Path, case: tuple) -> dict:
    kernel, out, inp, batch, ch, refresh = case
    env = dict(os.environ, PIM_KERNEL=kernel, PIM_OUT=str(out), PIM_IN=str(inp), PIM_BATCH=str(batch),
               PIM_CH=str(ch), PIM_SYS_INI=str(work / f"system_{ch}ch.ini"),
               PIM_DEV_INI=str(work / ("device_refresh.ini" if refresh else "device_norefresh.ini")))
    proc = subprocess.run(["nice", "./sim", "--gtest_filter=PIMBenchFixture.env"], cwd=sim, env=env,
                          capture_output=True, check=False)
    text = proc.stdout.decode("latin-1")
    cycles = [int(c) for c in re.findall(r"> Cycle : (\d+)", text)]
    if proc.returncode != 0 or len(cycles) != 2:
        raise RuntimeError(f"case {case}: rc={proc.returncode}, cycles={cycles}\n{text[-2000:]}")
    return {"kernel": kernel, "out": out, "in": inp, "batch": batch, "channels": ch,
            "refresh": refresh, "nonpim_cycles": cycles[0], "pim_cycles": cycles[1]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim", type=Path, required=True, help="PIMSimulator checkout holding the built ./sim")
    ap.add_argument("--work", type=Path, required=True, help="folder for the ini copies")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("tests/data/pim_reference.json"))
    args = ap.parse_args(argv)
    write_inis(args.sim, args.work)
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda c: run_case(args.sim, args.work, c), CASES))
    for r in rows:
        print(r, file=sys.stderr)
    doc = {"source": f"SAITPublic/PIMSimulator@{COMMIT}", "fixture": "PIMBenchFixture.env (see generator)",
           "device_ini": DEVICE_INI, "cases": rows}
    args.out.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
