"""Straightforward vectorised numpy implementations of ``razer4`` and ``bitmod4`` for the
quantization benchmark (benchmarks/bench_quantize.py measures them in the same run as the library
and prints the ratio).

``CASES = [(format_name, options, numpy_reference_function), ...]``; each function takes a float32
2-D array whose row length is a multiple of 128 and returns the dequantized array (float16), the
same algorithm as the library (spec §3.3, §4.2): whole-tensor numpy ops per candidate, group means
summed in PyTorch's CPU order so that candidate ties resolve as in the reference. tests/
test_refs_research.py checks that both agree with the library bit for bit.
"""

from __future__ import annotations

import numpy as np

GROUP = 128


def torch_row_sum_f32(e: np.ndarray) -> np.ndarray:
    """Row sums of a float32 [R, n] array in the order of PyTorch's CPU sum kernel (AVX2: 8 float32
    lanes, 4 interleaved vector accumulators; valid for n a multiple of 8 below 512, where no
    cascade level completes)."""
    r, n = e.shape
    if n % 8 or n >= 512:
        raise ValueError("torch_row_sum_f32: row length must be a multiple of 8 below 512")
    v = e.reshape(r, n // 8, 8)
    nv = n // 8
    full = nv // 4 * 4
    acc = [np.zeros((r, 8), np.float32) for _ in range(4)]
    for i in range(0, full, 4):
        for k in range(4):
            acc[k] = acc[k] + v[:, i + k]
    for i in range(full, nv):
        acc[0] = acc[0] + v[:, i]
    lanes = ((acc[0] + acc[1]) + acc[2]) + acc[3]
    total = np.zeros(r, np.float32)
    for lane in range(8):
        total = total + lanes[:, lane]
    return total


E2M1 = [-6.0, -4.0, -3.0, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]


def razer4_numpy(x: np.ndarray) -> np.ndarray:
    """FP4-RaZeR, group 128 (quant_fp4_razer): fp16 input, fp32 math, fp16 output."""
    w = x.astype(np.float16).astype(np.float32).reshape(-1, GROUP)
    amax = np.abs(w).max(axis=1, keepdims=True)
    best_err = np.full(w.shape[0], 1e4, np.float32)
    out = np.zeros_like(w)
    for special, qmax in ((5.0, 6.0), (-5.0, 6.0), (8.0, 8.0), (-8.0, 8.0)):
        levels = np.sort(np.array(E2M1 + [special], np.float32))
        mids = ((levels[:-1].astype(np.float64) + levels[1:]) / 2).astype(np.float32)
        scale = amax / np.float32(qmax)
        with np.errstate(invalid="ignore", divide="ignore"):
            xs = w / scale
        q = levels[np.searchsorted(mids, xs, side="left")]      # #{mids < x}: ties to the lower level
        dq = np.where(scale == 0, np.float32(0.0), q * scale)   # 0/0 groups reconstruct 0
        err = torch_row_sum_f32((dq - w) ** 2) / np.float32(GROUP)
        better = err < best_err
        best_err = np.where(better, err, best_err)
        out[better] = dq[better]
    return out.astype(np.float16).reshape(x.shape)


FP4_X2 = [-12.0, -8.0, -6.0, -4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0]


def bitmod4_numpy(x: np.ndarray) -> np.ndarray:
    """BitMoD 4-bit (search_datatype 'mixed_bitmod'), group 128: every op in fp16 (numpy float16
    arithmetic rounds each op once, as PyTorch does), squared errors averaged in fp32."""
    w = x.astype(np.float16).reshape(-1, GROUP)
    amax = np.abs(w).max(axis=1, keepdims=True)
    lo, hi = np.float16(1e-5), np.float16(1e4)
    best_err = np.full(w.shape[0], 1000.0, np.float16)
    out = np.zeros_like(w)
    for special in (10.0, -10.0, 16.0, -16.0):
        levels = np.sort(np.array(FP4_X2 + [special])).astype(np.float16)
        mids = ((levels[:-1].astype(np.float64) + levels[1:]) / 2).astype(np.float16)
        scale = np.clip(amax / np.float16(np.abs(levels).max()), lo, hi)
        xs = w / scale
        dq = levels[np.searchsorted(mids, xs, side="left")] * scale
        e = (dq - w) ** 2
        err = (torch_row_sum_f32(e.astype(np.float32)) / np.float32(GROUP)).astype(np.float16)
        better = err < best_err
        best_err = np.where(better, err, best_err)
        out[better] = dq[better]
    return out.reshape(x.shape)


CASES = [
    ("bitmod4", {}, bitmod4_numpy),
    ("razer4", {}, razer4_numpy),
]


# ---- the published PyTorch code itself (run under the reference venv, see bench_quantize.py) --------
#: case -> (repository key of tests/reference/generate_vectors.COMMITS, files, input dtype, call)
TORCH_CASES = {
    "razer4": ("bitmod-mxfp4-nvfp4", ("weight_quant/quantize/utils.py", "weight_quant/quantize/quant_weight.py"),
               "float16", "quant_fp4_razer(x, wq_bits=4, groupsize=128)"),
    "bitmod4": ("bitmod-hpca", ("bitmod_quant/quant_utils/quant_weight.py",),
                "float16", "search_datatype(x, wq_bits=4, datatype='mixed_bitmod', group_size=128)"),
    "p3llm_fp8": ("p3-llm", ("wkvaq_quant/quantize/quantizer.py",),
                  "float16", "a_quant_per_token(x[None], a_bits=8, group_size=-1)[0]"),
    "p3llm_kv4": ("p3-llm", ("wkvaq_quant/quantize/quantizer.py",), "float16",
                  "k_quant_per_token(x.reshape(1, x.shape[0], -1, 128).transpose(1, 2), k_bits=4, "
                  "group_size=128).transpose(1, 2).reshape(x.shape)"),
}


def torch_main(argv=None) -> None:
    """``python refs_research.py --case NAME --x IN.npy --out OUT.npy --repo GITDIR [--repeat N]``:
    run the published function (loaded with git show at the pinned commit) on IN.npy with one
    thread, save its output, print the best time in seconds as JSON."""
    import argparse
    import json
    import sys
    import time
    from pathlib import Path

    ap = argparse.ArgumentParser()
    ap.add_argument("--case", required=True, choices=sorted(TORCH_CASES))
    ap.add_argument("--x", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "reference"))
    import torch
    from generate_vectors import COMMITS, load_functions

    torch.set_num_threads(1)
    key, files, dtype, call = TORCH_CASES[a.case]
    ns = load_functions(a.repo, COMMITS[key], *files)
    x = torch.from_numpy(np.load(a.x)).to(getattr(torch, dtype))
    ns["x"] = x
    code = compile(call, a.case, "eval")
    out = eval(code, ns)
    best = float("inf")
    for _ in range(a.repeat):
        t = time.process_time()          # CPU time, one thread (as bench_quantize measures ours)
        eval(code, ns)
        best = min(best, time.process_time() - t)
    np.save(a.out, out.detach().contiguous().numpy())
    print(json.dumps({"case": a.case, "seconds": best, "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "commit": COMMITS[key]}))


if __name__ == "__main__":
    torch_main()
