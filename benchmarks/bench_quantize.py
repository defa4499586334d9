"""Quantization throughput: hwsim's Numba kernels against straightforward numpy references of the same
algorithm, measured in the same run on one core.

    .venv/bin/python benchmarks/bench_quantize.py [--size 4096] [--repeat 5]

For each format: elements/s of ``datatypes.quantize`` (codes + scales, input validation included), of a
vectorised numpy implementation of the same reference algorithm (checked to give the same result), and
of a plain memory copy of the input; codebook formats are also compared with a numpy nearest-level
argmin. Prints ratios; best of ``--repeat`` runs. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import datatypes as dt  # noqa: E402


def best_time(fn, repeat: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


# ---- numpy references (same algorithms as the reference implementations) ------------------------
def np_codebook(x: np.ndarray, name: str, g: int = 128) -> np.ndarray:
    """Midpoint quantizer: scale = absmax / max(levels), index = #midpoints below (searchsorted)."""
    f = dt.get(name)
    xg = x.reshape(-1, g)
    scale = np.abs(xg).max(axis=1, keepdims=True) / np.float32(f.levels.max())
    v = xg / scale
    mids = np.array([(a + b) / 2 for a, b in zip(f.levels[:-1], f.levels[1:])], np.float32)
    idx = np.searchsorted(mids, v, side="left")
    return (f.levels.astype(np.float32)[idx] * scale).reshape(x.shape)


def np_codebook_argmin(x: np.ndarray, name: str, g: int = 128) -> np.ndarray:
    """Nearest level by argmin over |v - L| (the textbook formulation)."""
    f = dt.get(name)
    xg = x.reshape(-1, g)
    scale = np.abs(xg).max(axis=1, keepdims=True) / np.float32(f.levels.max())
    v = xg / scale
    lv = f.levels.astype(np.float32)
    out = np.empty_like(v)
    for s in range(0, v.shape[0], 4096):           # chunks keep the (n, levels) temporary in memory
        idx = np.abs(v[s:s + 4096, :, None] - lv).argmin(axis=-1)
        out[s:s + 4096] = lv[idx] * scale[s:s + 4096]
    return out.reshape(x.shape)


def np_int4(x: np.ndarray, g: int = 128) -> np.ndarray:
    xg = x.reshape(-1, g)
    wmax = np.maximum(np.abs(xg.max(axis=1, keepdims=True)), np.abs(xg.min(axis=1, keepdims=True)))
    scale = wmax / np.float32(7)
    return (scale * np.clip(np.rint(xg / scale), -8, 7)).reshape(x.shape)


def np_mxfp4(x: np.ndarray, g: int = 32) -> np.ndarray:
    """OCP rule: e = floor(log2 amax) - 2, formula rounding (ties away), clamp to +-6."""
    xg = x.reshape(-1, g)
    amax = np.abs(xg).max(axis=1, keepdims=True)
    e = np.clip(np.floor(np.log2(np.where(amax == 0, np.float32(2.0 ** -126), amax).astype(np.float64))
                         .astype(np.float32)) - 2, -127, 127).astype(np.float32)
    p = np.exp2(e).astype(np.float32)
    w = xg / p
    a = np.abs(w)
    pe = np.maximum(np.floor(np.log2(np.where(a == 0, np.float32(1), a).astype(np.float64)).astype(np.float32)), 0)
    p2 = np.exp2(pe).astype(np.float32)
    m = w / p2 * np.float32(2)
    m = np.sign(m) * np.floor(np.abs(m) + np.float32(0.5))
    q = np.clip(m * p2 / np.float32(2), -6, 6)
    return (q * p).reshape(x.shape)


def ml_dtypes_e4m3(x: np.ndarray, g: int = 128) -> np.ndarray:
    import ml_dtypes

    xg = x.reshape(-1, g)
    scale = np.abs(xg).max(axis=1, keepdims=True) / np.float32(448)
    return ((xg / scale).astype(ml_dtypes.float8_e4m3fn).astype(np.float32) * scale).reshape(x.shape)


CASES = [
    ("sf4", {}, lambda x: np_codebook(x, "sf4_5"), "numpy midpoints"),
    ("nf4", {}, lambda x: np_codebook(x, "nf4"), "numpy midpoints"),
    ("fp4_basic", {}, lambda x: np_codebook(x, "fp4_basic"), "numpy midpoints"),
    ("fp4_range", {}, lambda x: np_codebook(x, "fp4_range"), "numpy midpoints"),
    ("nf3", {}, lambda x: np_codebook(x, "nf3"), "numpy midpoints"),
    ("int4", {}, np_int4, "numpy int4"),
    ("mxfp4", {}, np_mxfp4, "numpy formula"),
    ("float8_e4m3fn", {}, ml_dtypes_e4m3, "ml_dtypes cast"),
]

try:  # formats of the research-datatypes module add their own references
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from refs_research import CASES as _RESEARCH  # noqa: E402

    CASES += [(n, o, fn, "numpy same algorithm") for n, o, fn in _RESEARCH]
except ImportError:
    pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=4096, help="matrix is size x size float32 (default 4096)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--formats", help="comma-separated subset of the cases")
    args = ap.parse_args()
    x = (np.random.default_rng(0).standard_t(5, (args.size, args.size)) * 0.02).astype(np.float32)
    n = x.size
    dst = np.empty_like(x)
    t_copy = best_time(lambda: np.copyto(dst, x), args.repeat)
    print(f"{args.size}x{args.size} float32 ({n / 1e6:.1f} M elements), group 128 (MX: 32), one core, "
          f"best of {args.repeat}; memory copy {n / t_copy / 1e6:,.0f} M el/s")
    hdr = f"{'format':<14}{'hwsim M el/s':>14}{'reference':>22}{'ref M el/s':>12}{'speedup':>9}{'vs copy':>9}{'argmin x':>10}"
    print(hdr)
    print("-" * len(hdr))
    wanted = set(args.formats.split(",")) if args.formats else None
    for name, opts, ref, label in CASES:
        if wanted and name not in wanted:
            continue
        q = dt.quantize(x, name, **opts)
        ok = np.array_equal(q.dequantize(), ref(x))
        t_ours = best_time(lambda: dt.quantize(x, name, **opts), args.repeat)
        t_ref = best_time(lambda: ref(x), max(1, args.repeat // 2))
        argmin = ""
        if dt.get(name).family == "codebook":
            t_arg = best_time(lambda: np_codebook_argmin(x, dt.get(name).name), 1)
            argmin = f"{t_arg / t_ours:9.0f}x"
        flag = "" if ok else "  (MISMATCH with reference!)"
        print(f"{name:<14}{n / t_ours / 1e6:>14,.0f}{label:>22}{n / t_ref / 1e6:>12,.1f}{t_ref / t_ours:>8.1f}x"
              f"{t_copy / t_ours:>8.2f}x{argmin:>10}{flag}")


if __name__ == "__main__":
    main()
