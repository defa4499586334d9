"""Golden vectors for MXINT4 (``datatypes`` format ``mxint4``) from microxcaling itself.

This is how tests/data/mxint4_vectors.npz was made; tests/test_hsa.py only reads that file. It runs
microsoft/microxcaling ``mx.mx_ops._quantize_mx`` (commit generate_vectors.COMMITS["microxcaling"],
7bc41952de394f5cc5e782baf132e7c7542eb4e4; the ``mx`` package is taken with ``git archive``, nothing is
built) with ``elem_format="int4"``, 8-bit shared scale, ``shared_exp_method="max"``, block 32 along the
last axis, ``round="nearest"``, on CPU, one thread:

    /work/refenv/bin/python tests/reference/generate_mxint4_vectors.py \\
        --microxcaling <git dir of microsoft/microxcaling> [--out tests/data/mxint4_vectors.npz]

Inputs (float32, rows of 32-multiples): normal weights at several scales, heavy-tailed values, exact
ties (k/8 * 2**e, the round-half-away points of the 1.2 fixed point), all-zero and -0.0 groups, tiny
(subnormal-range) and huge (2**100) groups, and negative values that round to zero (sign of zero).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_vectors import COMMITS

OUT = Path(__file__).resolve().parents[1] / "data" / "mxint4_vectors.npz"


def make_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20250711)
    x = {}
    x["normal"] = np.concatenate([rng.standard_normal((16, 128)) * s for s in (1e-3, 0.02, 1.0, 300.0)]
                                 ).astype(np.float32)
    x["heavy"] = (rng.standard_t(2, (32, 96)) * 0.05).astype(np.float32)
    e = rng.integers(-20, 20, (24, 1))
    k = rng.integers(-15, 16, (24, 64))
    t = (k / 8.0) * np.exp2(e)                       # ties of the 1.2 grid for e' = e or e-1
    t[:, 0] = np.exp2(e[:, 0]) * 1.5                 # fix each block max
    t[:, 32] = -np.exp2(e[:, 0]) * 1.875
    x["ties"] = t.astype(np.float32)
    special = np.zeros((8, 64), dtype=np.float32)
    special[1] = -0.0
    special[2] = rng.standard_normal(64).astype(np.float32) * np.float32(2.0 ** -130)
    special[3] = rng.standard_normal(64).astype(np.float32) * np.float32(2.0 ** 100)
    special[4] = -np.abs(rng.standard_normal(64)).astype(np.float32) * 0.01
    special[4, ::32] = 1.0                            # big positive max: the small negatives round to -0
    special[5, :] = 1.0
    special[6] = np.linspace(-1, 1, 64, dtype=np.float32)
    special[7] = rng.standard_normal(64).astype(np.float32) * np.float32(2.0 ** -120)
    x["special"] = special
    return x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--microxcaling", required=True, help="git dir of microsoft/microxcaling")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    inputs = make_inputs()
    out = {f"input/{k}": v for k, v in inputs.items()}
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "--git-dir", args.microxcaling, "archive", COMMITS["microxcaling"], "mx"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        sys.path.insert(0, tmp)
        from mx.mx_ops import _quantize_mx

        for k, v in inputs.items():
            y = _quantize_mx(torch.from_numpy(v.copy()), 8, "int4", shared_exp_method="max", axes=[-1],
                             block_size=32, round="nearest", flush_fp32_subnorms=False, custom_cuda=False)
            out[f"mxint4/{k}"] = y.detach().numpy().astype(np.float32).copy()
    out["meta/commit"] = np.array(COMMITS["microxcaling"])
    out["meta/torch_version"] = np.array(torch.__version__)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **out)
    print(f"wrote {args.out}: {', '.join(k for k in out if k.startswith('mxint4/'))}")


if __name__ == "__main__":
    main()
