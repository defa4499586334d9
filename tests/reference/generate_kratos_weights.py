"""Reference constant weights of Kratos' unrolled kernels, from abdelfattah-lab/Kratos-benchmark itself.

This is how tests/data/lutnet_kratos_ref.json was made; the tests only read that file. It imports the
repository's top-level ``util.py`` at commit 37349ef (HEAD, "Merge pull request #1 ... feat/flexible-arch") and
calls, for every (data width, element count, sparsity), exactly what the constant-weight wrappers do
(``impl/design/gemmt/fu.py::gen_wrapper``): ``reset_seed()`` then ``generate_flattened_bit(w, n, sparsity)``,
recording the Verilog literal (element 0 in the most significant digits). util.py's plotting/HTTP imports
(matplotlib, mpl_toolkits, tabulate, requests) are not used by these functions and are stubbed when absent.

    /work/refenv/bin/python tests/reference/generate_kratos_weights.py /work/refs/kratos \\
        tests/data/lutnet_kratos_ref.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types
from pathlib import Path

COMMIT = "37349ef"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kratos", help="checkout of abdelfattah-lab/Kratos-benchmark at 37349ef")
    ap.add_argument("out")
    a = ap.parse_args()
    repo = Path(a.kratos).resolve()
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short=7", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    if head != COMMIT:
        sys.exit(f"{repo} is at {head or '?'}; check out {COMMIT}")
    for name in ("matplotlib", "matplotlib.pyplot", "matplotlib.cm", "mpl_toolkits", "mpl_toolkits.mplot3d",
                 "tabulate", "requests"):
        try:
            __import__(name)
        except ImportError:
            mod = types.ModuleType(name)
            mod.Axes3D = mod.cm = mod.tabulate = None
            sys.modules[name] = mod
    sys.modules["matplotlib"].pyplot = sys.modules["matplotlib.pyplot"]
    sys.modules["matplotlib"].cm = sys.modules["matplotlib.cm"]
    sys.path.insert(0, str(repo))
    import util

    cases = []
    for w in (4, 8):
        for n in (1, 7, 16, 64, 100):
            for s in (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 1.0):
                util.reset_seed()
                cases.append({"width": w, "n": n, "sparsity": s,
                              "literal": util.generate_flattened_bit(w, n, s)})
    Path(a.out).write_text(json.dumps({"source": f"abdelfattah-lab/Kratos-benchmark @ {COMMIT} util.py",
                                       "cases": cases}, indent=0) + "\n")
    print(f"{len(cases)} cases -> {a.out}")


if __name__ == "__main__":
    main()
