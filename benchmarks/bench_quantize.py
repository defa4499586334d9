"""Quantization throughput: hwsim's Numba kernels against straightforward numpy references of the same
algorithm, measured in the same run on one core.

    .venv/bin/python benchmarks/bench_quantize.py [--size 4096] [--repeat 5] \
        [--torch-python /work/refenv/bin/python --repo bitmod-mxfp4-nvfp4=GITDIR --repo bitmod-hpca=GITDIR \
         --repo p3-llm=GITDIR]

With ``--torch-python`` (a Python with PyTorch) and the reference repositories' git dirs, bitmod4,
razer4 and the P3-LLM formats are also timed against the published PyTorch code itself (loaded at
the pinned commits of tests/reference/generate_vectors.py, one thread, same input, same run, in a
subprocess), and the outputs are compared bit for bit.
The target ratios of issue 11 are printed at the end: codebook formats vs numpy's int4 path, and the
absolute rates of bitmod4 / razer4 / mxfp4.

For each format: elements/s of ``datatypes.quantize`` (codes + scales, input validation included), of a
vectorised numpy implementation of the same reference algorithm (checked to give the same result), and
of a plain memory copy of the input; codebook formats are also compared with a numpy nearest-level
argmin. Prints ratios; best of ``--repeat`` runs, CPU time of the process (one thread). Nothing here is
asserted.
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
    """Best CPU time of this process over ``repeat`` calls (everything here runs on one thread, so
    this is the time the code needs, robust against other processes sharing the cores)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
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


def torch_reference(name: str, x: np.ndarray, python: str, repos: dict, repeat: int):
    """(seconds, output) of the published PyTorch function for ``name`` on x (fp16), or None."""
    import json
    import subprocess
    import tempfile

    from refs_research import TORCH_CASES

    key = TORCH_CASES[name][0]
    if key not in repos:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        xin, xout = Path(tmp) / "x.npy", Path(tmp) / "out.npy"
        np.save(xin, x.astype(np.float16))
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        res = subprocess.run([python, str(Path(__file__).resolve().parent / "refs_research.py"), "--case", name,
                              "--x", str(xin), "--out", str(xout), "--repo", repos[key], "--repeat", str(repeat)],
                             check=True, capture_output=True, text=True, env=env)
        info = json.loads(res.stdout.strip().splitlines()[-1])
        return info, np.load(xout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=4096, help="matrix is size x size float32 (default 4096)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--formats", help="comma-separated subset of the cases")
    ap.add_argument("--torch-python", help="a Python with PyTorch, to time the published code")
    ap.add_argument("--repo", action="append", default=[], metavar="NAME=GITDIR",
                    help="reference git dir (bitmod-mxfp4-nvfp4, bitmod-hpca, p3-llm)")
    args = ap.parse_args()
    repos = dict(r.split("=", 1) for r in args.repo)
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
    rates = {}
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
        rates[name] = (n / t_ours / 1e6, n / t_ref / 1e6)
        print(f"{name:<14}{n / t_ours / 1e6:>14,.0f}{label:>22}{n / t_ref / 1e6:>12,.1f}{t_ref / t_ours:>8.1f}x"
              f"{t_copy / t_ours:>8.2f}x{argmin:>10}{flag}")
    if "int4" in rates:
        print()
        print("issue 11 targets (same run):")
        for name in ("sf4", "nf4", "fp4_basic"):
            if name in rates:
                r = rates[name][0] / rates["int4"][1]
                print(f"  {name:<10} {r:5.2f}x numpy int4 (target >= 3x): {'yes' if r >= 3 else 'NO'}")
    for name, target in (("bitmod4", 100), ("razer4", 200), ("mxfp4", 300)):
        if name in rates:
            print(f"  {name:<10} {rates[name][0]:5.0f} M el/s (target >= {target}): "
                  f"{'yes' if rates[name][0] >= target else 'NO'}")
    if args.torch_python:
        print()
        print("against the published PyTorch code (one thread, same input, same run):")
        hdr = f"{'format':<14}{'hwsim M el/s':>14}{'PyTorch M el/s':>16}{'speedup':>9}  bit-exact  commit"
        print(hdr)
        print("-" * len(hdr))
        xh = x.astype(np.float16)
        for name in ("razer4", "bitmod4", "p3llm_fp8", "p3llm_kv4"):
            if wanted and name not in wanted:
                continue
            got = torch_reference(name, xh, args.torch_python, repos, max(1, args.repeat // 2))
            if got is None:
                print(f"{name:<14} (no --repo for it)")
                continue
            info, ref_out = got
            t_ours = best_time(lambda: dt.quantize(xh, name), args.repeat)
            ours = dt.quantize(xh, name).dequantize()
            exact = (ours.dtype == ref_out.dtype and ours.shape == ref_out.shape
                     and np.array_equal(ours.view(np.uint16), ref_out.view(np.uint16)))
            print(f"{name:<14}{n / t_ours / 1e6:>14,.1f}{n / info['seconds'] / 1e6:>16,.2f}"
                  f"{info['seconds'] / t_ours:>8.0f}x  {'yes' if exact else 'NO':<9}  {info['commit'][:7]} "
                  f"(torch {info['torch']}, {info['threads']} thread)")


if __name__ == "__main__":
    main()
