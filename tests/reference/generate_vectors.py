"""Produce golden vectors by running the published reference quantizers (PyTorch) on fixed inputs.

This is how tests/data/reference_vectors.npz was made; the tests only read that file. It runs the
reference functions themselves, loaded from git directories of the reference repositories at the
commits of shared/spec/datatypes.md §0, under PyTorch 2.13.0 (CPU):

    python -m venv /tmp/refenv && /tmp/refenv/bin/pip install torch==2.13.0 numpy packaging
    /tmp/refenv/bin/python tests/reference/generate_vectors.py \
        --repo llm-datatypes=<git dir of cornell-zhang/llm-datatypes> \
        --repo nvfp4-razer=<git dir of yc2367/NVFP4-RaZeR> \
        --repo microxcaling=<git dir of microsoft/microxcaling> [--repo ...]

Every case is (input name, reference call). Outputs are stored as float32 (fp16/bf16 results are
exactly representable). Inputs are stored too, so the tests never depend on a random generator.
Cases whose repository is not given are skipped with a message (an existing file keeps them:
new results are merged into it).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "data" / "reference_vectors.npz"

COMMITS = {
    "llm-datatypes": "b0f1a17190aae75a8badb37ce679652b74a28fca",
    "nvfp4-razer": "82ecc9a0a3ec9f7e228629db6135e67a7e07e665",
    "nvfp4-razer-v0": "ba19e52c206f63b20e6c5b05a51572bc47ccff6a",
    "bitmod-mxfp4-nvfp4": "e5eb8dab5fa4bc3fa9bd27aa9252d269eaadb9dc",
    "bitmod-hpca": "e445a5f31100a5057b4c5c4373da223ce95f1c3b",
    "bitmod-dev": "b18cacb153091ecc5b080cc4cdef79660490c857",
    "bbs": "e53aebfaabe17aa100f932d0c25af496edbeb2de",
    "p3-llm": "ef63537abb79bceb73795be65bf083a658867a04",
    "microxcaling": "7bc41952de394f5cc5e782baf132e7c7542eb4e4",
}


def make_inputs() -> dict[str, np.ndarray]:
    """Weight-like inputs: heavy-tailed (Student-t, nu=5) values, an all-zero group, a huge outlier."""
    rng = np.random.default_rng(20241123)
    w = (rng.standard_t(5, size=(16, 384)) * 0.02).astype(np.float32)
    w[3, 128:256] = 0.0                         # an all-zero group of 128
    w[5, 17] = 0.9                              # an outlier
    tail = (rng.standard_t(5, size=(8, 200)) * 0.02).astype(np.float32)   # 200 = 128 + tail of 72
    act = (rng.standard_normal((8, 256)) * 2.0).astype(np.float32)
    act[:, 7] *= 40.0                           # an outlier channel, as in LLM activations
    return {"w": w, "tail": tail, "act": act}


def git_source(gitdir: str, commit: str, path: str) -> str:
    return subprocess.run(["git", "--git-dir", gitdir, "show", f"{commit}:{path}"],
                          check=True, capture_output=True, text=True).stdout


def load_functions(gitdir: str, commit: str, *paths: str, drop_prefixes=("from .", "from ..")) -> dict:
    """Exec reference source files (relative imports removed) in one namespace with torch."""
    import torch

    ns: dict = {"torch": torch, "__name__": "reference"}
    for p in paths:
        src = git_source(gitdir, commit, p)
        lines = [ln for ln in src.splitlines() if not ln.strip().startswith(drop_prefixes)
                 and not ln.startswith(("tqdm = LazyImport", "torch = LazyImport"))]
        exec(compile("\n".join(lines), f"{commit[:7]}:{p}", "exec"), ns)
    return ns


def to_np(t) -> np.ndarray:
    return t.detach().float().numpy().astype(np.float32)


# ---- cases --------------------------------------------------------------------------------------
CODEBOOK_KEYS = [
    "nf4", "nf3", "nf3_nz", "sf4_3", "sf3_3", "sf3_3_nz", "sf4_4", "sf3_4", "sf3_4_nz", "sf4_5",
    "sf3_5", "sf3_5_nz", "sf4_6", "sf3_6", "sf3_6_nz", "sf4_7", "fp4", "fp4_e2m1_bnb", "fp4_e1m2",
    "fp4_e2m1", "fp4_basic", "fp4_no_sub", "fp4_range", "fp4_prec1", "fp4_prec2", "fp4_log",
    "fp3_log", "en_25", "apot4", "apot4-sp", "mokey", "denorm4",
]


def cases_llm_datatypes(gitdir: str, inputs: dict) -> dict[str, np.ndarray]:
    import torch

    ns = load_functions(gitdir, COMMITS["llm-datatypes"], "neural_compressor/adaptor/torch_utils/weight_only.py")
    qw = ns["quant_weight"]
    out = {}
    for key in CODEBOOK_KEYS:
        for inp in ("w", "tail"):
            out[f"codebook/{key}/g128/{inp}"] = to_np(qw(torch.from_numpy(inputs[inp]), num_bits=4,
                                                         group_size=128, data_type=key))
        out[f"codebook/{key}/perrow/w"] = to_np(qw(torch.from_numpy(inputs["w"]), num_bits=4,
                                                   group_size=-1, data_type=key))
    for key in ("nf4", "sf4_5", "fp4_basic"):
        out[f"codebook/{key}/g128q0.9/w"] = to_np(qw(torch.from_numpy(inputs["w"]), num_bits=4, group_size=128,
                                                     data_type=key, quantile=0.9))
    for bits in range(2, 9):
        for scheme in ("sym", "asym"):
            for inp in ("w", "tail"):
                out[f"int/{bits}/{scheme}/g128/{inp}"] = to_np(qw(torch.from_numpy(inputs[inp]), num_bits=bits,
                                                                  group_size=128, scheme=scheme, data_type="int"))
    for scheme in ("sym", "asym"):
        out[f"int/4/{scheme}/g128q0.9/w"] = to_np(qw(torch.from_numpy(inputs["w"]), num_bits=4, group_size=128,
                                                     scheme=scheme, data_type="int", quantile=0.9))
    return out


def cases_nvfp4_razer(gitdir: str, inputs: dict) -> dict[str, np.ndarray]:
    import torch

    ns = load_functions(gitdir, COMMITS["nvfp4-razer"], "quantize/utils.py", "quantize/quantizer.py")
    out = {}
    for inp in ("w", "act"):
        x = torch.from_numpy(inputs[inp])
        out[f"mxfp4/ocp/{inp}"] = to_np(ns["quant_mxfp4_naive"](x, groupsize=32))
        out[f"mxfp4/better/{inp}"] = to_np(ns["quant_mxfp4"](x, groupsize=32))
        out[f"nvfp4/{inp}"] = to_np(ns["quant_nvfp4"](x, groupsize=16))
    return out


def cases_microxcaling(gitdir: str, inputs: dict) -> dict[str, np.ndarray]:
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "--git-dir", gitdir, "archive", COMMITS["microxcaling"], "mx"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        sys.path.insert(0, tmp)
        from mx.mx_ops import _quantize_mx  # noqa: E402

        out = {}
        for inp in ("w", "act"):
            x = torch.from_numpy(inputs[inp])
            for elem in ("int8", "fp4_e2m1"):
                out[f"mx/{elem}/{inp}"] = to_np(_quantize_mx(
                    x, 8, elem, shared_exp_method="max", axes=[-1], block_size=32, round="nearest",
                    flush_fp32_subnorms=False, custom_cuda=False))
        sys.path.remove(tmp)
    return out


CASES = {
    "llm-datatypes": cases_llm_datatypes,
    "nvfp4-razer": cases_nvfp4_razer,
    "microxcaling": cases_microxcaling,
}


def generate(doc: str, cases: dict, make_inputs, default_out: Path, also_commits: dict | None = None) -> None:
    """The command line of a vector generator: run every case whose repository is given and merge
    the results (with the inputs, torch version and commits) into the npz file, atomically.
    ``also_commits`` names further COMMITS entries to record with a case (its older versions)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", action="append", default=[], metavar="NAME=GITDIR",
                    help=f"reference repository git dir; NAME one of {', '.join(cases)}")
    ap.add_argument("--out", type=Path, default=default_out, help=f"npz file to update (default {default_out})")
    args = ap.parse_args()
    out_path = args.out
    repos = dict(r.split("=", 1) for r in args.repo)
    unknown = set(repos) - set(cases)
    if unknown:
        ap.error(f"unknown repository name(s) {sorted(unknown)}; known: {sorted(cases)}")
    import torch

    torch.set_num_threads(1)
    inputs = make_inputs()
    data = dict(np.load(out_path)) if out_path.exists() else {}
    data.update({f"input/{k}": v for k, v in inputs.items()})
    data["meta/torch_version"] = np.array(torch.__version__)
    for name, fn in cases.items():
        if name not in repos:
            print(f"skip {name}: no --repo {name}=... given", file=sys.stderr)
            continue
        res = fn(repos[name], inputs)
        data.update(res)
        for c in (name, *(also_commits or {}).get(name, ())):
            data[f"meta/commit/{c}"] = np.array(COMMITS[c])
        print(f"{name}: {len(res)} vectors", file=sys.stderr)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **data)
    tmp.replace(out_path)
    print(f"wrote {out_path} ({out_path.stat().st_size} bytes, {len(data)} arrays)", file=sys.stderr)


def main() -> None:
    generate(__doc__, CASES, make_inputs, OUT)


if __name__ == "__main__":
    main()
