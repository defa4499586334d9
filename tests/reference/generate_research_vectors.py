"""Golden vectors for the research datatypes (RaZeR, BitMoD, BBS, P3-LLM) from the published code.

This is how tests/data/reference_vectors_research.npz was made; the tests only read that file. Like
generate_vectors.py it runs the reference functions themselves (PyTorch 2.13.0, CPU, one thread),
loaded with ``git show COMMIT:path`` from git directories of the reference repositories at the
commits below (shared/spec/datatypes.md §0), relative imports stripped:

    /work/refenv/bin/python tests/reference/generate_research_vectors.py \\
        --repo bitmod-mxfp4-nvfp4=<git dir of abdelfattah-lab/BitMoD-MXFP4-NVFP4> \\
        --repo nvfp4-razer=<git dir of yc2367/NVFP4-RaZeR> \\
        --repo bitmod-hpca=<git dir of abdelfattah-lab/BitMoD-HPCA-25> \\
        --repo bitmod-dev=<git dir of yc2367/BitMoD> \\
        --repo bbs=<git dir of yc2367/BBS-MICRO> \\
        --repo p3-llm=<git dir of yc2367/P3-LLM>

Reference functions and what they verify:

* bitmod-mxfp4-nvfp4 @ e5eb8da ``weight_quant/quantize/{utils,quant_weight}.py``:
  ``quant_fp4_razer`` (razer4, g128 and g32, fp16 weights) and ``quant_mxfp4_razer`` (mxfp4_razer, g32).
* nvfp4-razer @ 82ecc9a (HEAD) ``quantize/quantizer.py``: ``quant_nvfp4_razer_e3m3`` (nvfp4_razer,
  outlier 8 and 7, bf16 weights). The activation path ``quant_nvfp4_razer_e4m3`` is taken from the
  INITIAL commit ba19e52 instead, because HEAD has the documented selection-metric bug
  (spec §3.5: error ``mean((q - bs)**2)`` and formula rounding); nvfp4_razer_act implements the v0
  (intended) semantics, so its vectors come from v0.
* bitmod-hpca @ e445a5f ``bitmod_quant/quant_utils/quant_weight.py``: ``search_datatype`` (bitmod3/4:
  'mixed_bitmod', 'mixed_er', 'mixed_ea'; bitmod_ant3/4: 'mixed_ant'; groups 128, 32 and per row)
  and ``quant_datatype`` (every single table of the 3- to 6-bit mappings, g128), fp16 weights.
* bitmod-dev @ b18cacb ``wiki_c4_ppl/quant_utils/quant_weight_double.py``: the INT8 double-quantized
  group scales (spec §4.3): ``search_datatype(..., scale_bits=8)`` with the dev names 'mixed' (3-bit:
  sp/sr = artifact er/ea) and 'mixed_sm_sr' (4-bit: sm/sr = artifact er/ea), and ``quant_datatype``
  for single tables (its stdout prints are discarded).
* bbs @ e53aebf ``bin_int_convert.py``, ``binary_pruning.py``, ``bit_flip.py``: ``roundAvg_fc``,
  ``zeroPointShifting_fc``, ``bitFlip_fc`` on integer weights (float32 tensors holding integers).
* p3-llm @ ef63537 ``wkvaq_quant/quantize/quantizer.py``: ``a_quant_per_token`` (FP8-E4M3, per token
  and g128), ``q_quant_per_head``, ``k_quant_per_token`` (with and without ``apply_k_scale``; the
  smoothing scale computed as the model does, ``key_states.abs().amax(dim=2)``),
  ``v_quant_per_token`` (integer codes q - zp and scales), ``p_quant_per_block`` (8-bit scores), fp16.

Inputs are continuous-valued (spec §1.4: with exact ties PyTorch's summation order could decide a
selection), stored in the file as float16 where the reference works in fp16, as float32 holding bf16 values
where it works in bf16, and integer weights as int16. fp16 results are stored as float16, bf16 results as float32, integers as int16 (all exact).
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_vectors import COMMITS, generate, load_functions, to_np  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "data" / "reference_vectors_research.npz"


def _bf16(x: np.ndarray) -> np.ndarray:
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    r = (u + np.uint32(0x7FFF) + ((u >> 16) & np.uint32(1))) & np.uint32(0xFFFF0000)
    return r.view(np.float32)


def f16(t) -> np.ndarray:
    """An fp16 reference result, stored as float16 (exact)."""
    import torch

    assert t.dtype == torch.float16, t.dtype
    return t.detach().numpy().copy()


def ints(t) -> np.ndarray:
    """An integer-valued reference result (float tensor), stored as int16 (checked exact)."""
    a = t.detach().numpy()
    out = a.astype(np.int16)
    assert np.array_equal(out, a)
    return out


def make_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20250301)
    # weights: heavy tailed, per-row magnitudes over ~2.5 decades, an all-zero group, an outlier
    row_scale = 10.0 ** rng.uniform(-1.5, 1.0, size=(48, 1))
    w = rng.standard_t(5, size=(48, 512)) * 0.02 * row_scale
    w[7, 128:256] = 0.0
    w[11, 40] = 0.9
    w[20, :] *= 0.01                              # a row of tiny weights
    act = rng.standard_normal((32, 512)) * 2.0
    act[:, 7] *= 40.0                              # an outlier channel
    act[5, 16:32] = 0.0                            # an all-zero block of 16
    # attention: 1 batch, 4 heads, 64 tokens, head_dim 128; keys with per-channel outliers
    k = rng.standard_normal((1, 4, 64, 128)) * (1.0 + 6.0 * (rng.random((1, 4, 1, 128)) < 0.05))
    v = rng.standard_normal((1, 4, 64, 128))
    q = rng.standard_normal((1, 4, 16, 128)) * 1.5
    logits = rng.standard_normal((1, 4, 16, 64)) * 3.0
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p = p / p.sum(-1, keepdims=True)
    vscale = rng.uniform(0.005, 0.2, size=(1, 4, 1, 64))
    score = p * vscale                              # P' = P * v_scale (>= 0)
    score_any = rng.standard_normal((16, 256)) * 10.0 ** rng.uniform(-6, 4, size=(16, 256))
    # integer weights for BBS: INT8-quantized heavy-tailed rows, and narrow rows (redundant
    # sign-extension / zero columns), and the extreme codes
    ints = np.clip(np.round(rng.standard_t(4, size=(24, 256)) * 18.0), -128, 127)
    ints[3] = np.clip(np.round(rng.standard_normal(256) * 3.0), -128, 127)
    ints[4] = np.clip(np.round(rng.standard_normal(256) * 0.7), -128, 127)
    ints[5, :16] = 0.0
    ints[6, 3] = -128.0
    ints[6, 4] = 127.0
    ints6 = np.clip(np.round(rng.standard_t(4, size=(16, 128)) * 5.0), -32, 31)
    return {
        "w16": w.astype(np.float16),
        "wbf": _bf16(w.astype(np.float32)),
        "act16": act.astype(np.float16),
        "actbf": _bf16(act.astype(np.float32)),
        "k16": k.astype(np.float16),
        "v16": v.astype(np.float16),
        "q16": q.astype(np.float16),
        "score": score.astype(np.float32),
        "score_any": score_any.astype(np.float32),
        "ints8": ints.astype(np.int16),
        "ints6": ints6.astype(np.int16),
    }


def _t(inputs, name, dtype):
    import torch

    return torch.from_numpy(inputs[name]).to(dtype)


# ---- cases --------------------------------------------------------------------------------------
def cases_bitmod_mxfp4_nvfp4(gitdir: str, inputs: dict) -> dict[str, np.ndarray]:
    import torch

    ns = load_functions(gitdir, COMMITS["bitmod-mxfp4-nvfp4"], "weight_quant/quantize/utils.py",
                        "weight_quant/quantize/quant_weight.py")
    w = _t(inputs, "w16", torch.float16)
    out = {}
    for g in (128, 32):
        out[f"razer4/g{g}/w16"] = f16(ns["quant_fp4_razer"](w, wq_bits=4, groupsize=g))
    out["mxfp4_razer/g32/w16"] = f16(ns["quant_mxfp4_razer"](w, wq_bits=4, groupsize=32))
    return out


def cases_nvfp4_razer(gitdir: str, inputs: dict) -> dict[str, np.ndarray]:
    import torch

    files = ("quantize/quant_config.py", "quantize/utils.py", "quantize/quantizer.py")
    head = load_functions(gitdir, COMMITS["nvfp4-razer"], *files)
    v0 = load_functions(gitdir, COMMITS["nvfp4-razer-v0"], "quantize/quant_config.py", "quantize/quantizer.py")
    out = {}
    for name in ("wbf", "actbf"):
        x = _t(inputs, name, torch.bfloat16)
        for o in (8.0, 7.0):
            out[f"nvfp4_razer/o{int(o)}/{name}"] = to_np(head["quant_nvfp4_razer_e3m3"](x, groupsize=16, outlier=o))
        out[f"nvfp4_razer_act/v0/{name}"] = to_np(v0["quant_nvfp4_razer_e4m3"](x, groupsize=16))
    return out


BITMOD_SINGLE = {3: ["int3", "fp3", "fp3_er_pos", "fp3_er_neg", "fp3_ea_pos", "fp3_ea_neg"],
                 4: ["int4", "fp4", "flint4", "fp4_er_pos", "fp4_er_neg", "fp4_ea_pos", "fp4_ea_neg"],
                 5: ["int5", "flint5", "fp5_e2m2", "fp5_e3m1"],
                 6: ["int6", "fp6_e2m3", "fp6_e3m2"]}


def cases_bitmod_hpca(gitdir: str, inputs: dict) -> dict[str, np.ndarray]:
    import torch

    ns = load_functions(gitdir, COMMITS["bitmod-hpca"], "bitmod_quant/quant_utils/quant_weight.py")
    w = _t(inputs, "w16", torch.float16)
    out = {}
    for bits in (3, 4):
        for dt in ("mixed_bitmod", "mixed_er", "mixed_ea", "mixed_ant"):
            for g in (128, 32, -1):
                out[f"bitmod/{dt}/{bits}/g{g}/w16"] = f16(ns["search_datatype"](w, wq_bits=bits, datatype=dt,
                                                                                    group_size=g))
    for bits, keys in BITMOD_SINGLE.items():
        for key in keys:
            out[f"bitmod_single/{key}/g128/w16"] = f16(ns["quant_datatype"](w, wq_bits=bits, datatype=key,
                                                                              group_size=128))
    return out


def cases_bitmod_dev(gitdir: str, inputs: dict) -> dict[str, np.ndarray]:
    import torch

    ns = load_functions(gitdir, COMMITS["bitmod-dev"], "wiki_c4_ppl/quant_utils/quant_weight_double.py")
    w = _t(inputs, "w16", torch.float16)
    out = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for bits, dt in ((3, "mixed"), (4, "mixed_sm_sr")):
            for g in (128, 32):
                out[f"bitmod_dq/{bits}/g{g}/w16"] = f16(ns["search_datatype"](w, wq_bits=bits, datatype=dt,
                                                                                 group_size=g, scale_bits=8))
        for bits, key, ours in ((4, "fp4_sm_pos", "fp4_er_pos"), (4, "fp4_sr_neg", "fp4_ea_neg"),
                                (3, "fp3_sp_neg", "fp3_er_neg"), (4, "int4", "int4"), (3, "fp3", "fp3")):
            out[f"bitmod_single_dq/{ours}/g128/w16"] = f16(ns["quant_datatype"](
                w, wq_bits=bits, datatype=key, group_size=128, scale_bits=8))
    return out


def cases_bbs(gitdir: str, inputs: dict) -> dict[str, np.ndarray]:
    import torch

    ns = load_functions(gitdir, COMMITS["bbs"], "bin_int_convert.py", "binary_pruning.py", "bit_flip.py",
                        drop_prefixes=("from .", "from ..", "from bin_int_convert"))
    out = {}
    for name, bits in (("ints8", 8), ("ints6", 6)):
        x = torch.from_numpy(inputs[name].astype(np.float32))
        for g in (16, 32):
            for n in range(1, bits - 1):
                out[f"bbs/ra/{name}/g{g}/n{n}"] = ints(ns["roundAvg_fc"](x, w_bitwidth=bits, group_size=g,
                                                                         num_pruned_column=n))
                out[f"bbs/bf/{name}/g{g}/n{n}"] = ints(ns["bitFlip_fc"](x, w_bitwidth=bits, group_size=g,
                                                                        num_pruned_column=n))
            for n, c in ((2, 5), (4, 5), (3, 4), (bits - 2, 3)):
                out[f"bbs/zps/{name}/g{g}/n{n}/c{c}"] = ints(ns["zeroPointShifting_fc"](
                    x, w_bitwidth=bits, group_size=g, num_pruned_column=n, const_bitwidth=c))
    return out


def cases_p3llm(gitdir: str, inputs: dict) -> dict[str, np.ndarray]:
    import torch

    ns = load_functions(gitdir, COMMITS["p3-llm"], "wkvaq_quant/quantize/quantizer.py")
    out = {}
    act = _t(inputs, "act16", torch.float16)[None]                 # [1, 32, 512]
    out["p3llm/a8/pertoken/act16"] = f16(ns["a_quant_per_token"](act, a_bits=8, group_size=-1)[0])
    out["p3llm/a8/g128/act16"] = f16(ns["a_quant_per_token"](act, a_bits=8, group_size=128)[0])
    out["p3llm/q8/q16"] = f16(ns["q_quant_per_head"](_t(inputs, "q16", torch.float16), q_bits=8))
    # the model's key states are a transposed view of [batch, tokens, heads, head_dim] memory
    k = _t(inputs, "k16", torch.float16).transpose(1, 2).contiguous().transpose(1, 2)
    out["p3llm/k4/plain/k16"] = f16(ns["k_quant_per_token"](k, k_bits=4, group_size=128))
    k_scale = k.abs().amax(dim=2, keepdim=True)
    out["p3llm/k4/smooth/k16"] = f16(ns["k_quant_per_token"](k, k_bits=4, group_size=128,
                                                               apply_k_scale=True, k_scale=k_scale))
    out["p3llm/k4/g64/k16"] = f16(ns["k_quant_per_token"](k, k_bits=4, group_size=64))
    vq, vs = ns["v_quant_per_token"](_t(inputs, "v16", torch.float16), v_bits=4, group_size=128)
    out["p3llm/v4/int/v16"] = ints(vq.float())
    out["p3llm/v4/scale/v16"] = f16(vs)
    for name in ("score", "score_any"):
        out[f"p3llm/p8/{name}"] = f16(ns["p_quant_per_block"](torch.from_numpy(inputs[name]), p_bits=8))
    return out


CASES = {
    "bitmod-mxfp4-nvfp4": cases_bitmod_mxfp4_nvfp4,
    "nvfp4-razer": cases_nvfp4_razer,
    "bitmod-hpca": cases_bitmod_hpca,
    "bitmod-dev": cases_bitmod_dev,
    "bbs": cases_bbs,
    "p3-llm": cases_p3llm,
}


def main() -> None:
    generate(__doc__, CASES, make_inputs, OUT, also_commits={"nvfp4-razer": ("nvfp4-razer-v0",)})


if __name__ == "__main__":
    main()
