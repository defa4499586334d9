"""Golden vectors for the last reference semantics: sign of zero, compute dtype, the variants added
for issue 11, and the RaZeR GPU memory images, from the published code itself.

This is how tests/data/reference_vectors_semantics.npz was made; the tests only read that file. Like
generate_vectors.py it runs the reference functions themselves (PyTorch, CPU, one thread), loaded
with ``git show COMMIT:path`` from git directories of the reference repositories at the commits of
generate_vectors.COMMITS (relative imports and imports of CUDA extensions / gpt-fast's model /
tqdm removed; nothing is built):

    /work/refenv/bin/python tests/reference/generate_semantics_vectors.py \\
        --repo llm-datatypes=<git dir of cornell-zhang/llm-datatypes> \\
        --repo nvfp4-razer=<git dir of yc2367/NVFP4-RaZeR> \\
        --repo microxcaling=<git dir of microsoft/microxcaling> \\
        --repo bitmod-mxfp4-nvfp4=<git dir of abdelfattah-lab/BitMoD-MXFP4-NVFP4> \\
        --repo bitmod-hpca=<git dir of abdelfattah-lab/BitMoD-HPCA-25> \\
        --repo p3-llm=<git dir of yc2367/P3-LLM>

Cases (keys ``<case>/<input>``):

* sign of zero (input ``z32`` and its fp16 / bf16 roundings: small negative values that round to
  zero, exact -0.0 and +0.0, an all-zero and an all -0.0 group, tiny groups): llm-datatypes
  ``quant_weight`` (int sym/asym, codebooks), NVFP4-RaZeR ``quant_mxfp4_naive`` / ``quant_mxfp4`` /
  ``quant_nvfp4`` / ``quant_nvfp4_razer_e3m3`` (HEAD) and ``quant_nvfp4_razer_e4m3`` (v0 ba19e52),
  microxcaling ``_quantize_mx`` (int8, fp4_e2m1), BitMoD-MXFP4-NVFP4 ``quant_fp4_razer`` /
  ``quant_mxfp4_razer``, BitMoD ``search_datatype``.
* P3-LLM (ef63537) on float32 inputs (the reference computes in the input's dtype): FP8 activations
  per token and g128, queries per head, keys INT4 plain / with key scales / g64, value codes and
  scales; and the same on the fp16 zero-sign input.
* NVFP4-RaZeR HEAD ``quant_nvfp4_4over6`` and ``quant_mxfp4_razer`` (is_act False / True).
* BitMoD-HPCA-25 ``quant_mx`` (mx_fp3, mx_fp4, mx_int3, mx_int4; group 32), ``quant_int`` (INT3,
  INT4 symmetric; g128, g32, per row) and ``quant_int_asym`` (INT3, INT4; g128, g32); the per-group
  errors ``search_datatype`` compares (its loop body: ``quant_datatype`` then ``(w_q - w).pow(2).mean(-1)``
  in fp16) for bitmod3/4 at g128.
* RaZeR GPU path (NVFP4-RaZeR HEAD ``inference/``): gpt-fast
  ``WeightOnlyRaZeRQuantHandler(model, 4, 128 / 16, 'fp16').create_quantized_state_dict(use_cuda=False)``
  on a one-Linear model (``razer_qB`` int32 [K/8, N], ``razer_scaling`` fp16 [K/128, N] or int32
  [K/128, N, 2]), and its group quantizer's indices / scales / flags / MSE (g16: also the 6-bit scale
  payloads and the indices re-assigned for the snapped scales); Marlin ``Layer(K, N, 128)``'s
  ``_quantize_fp4_negzero_remap`` (codes, encoded scales) and ``_pack_weights_and_scales`` (``B``
  int32 [K/16, N*2], ``s`` fp16 [K/128, N]) of those codes and scales.

Every output is stored in its exact dtype (float16 / float32 / int32, bf16 as float32); the inputs
are stored too.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_vectors import COMMITS, generate, git_source, load_functions, to_np  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "data" / "reference_vectors_semantics.npz"


def _bf16(x: np.ndarray) -> np.ndarray:
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    r = (u + np.uint32(0x7FFF) + ((u >> 16) & np.uint32(1))) & np.uint32(0xFFFF0000)
    return r.view(np.float32)


def native(t) -> np.ndarray:
    """A reference result in its own dtype (bf16 widened to float32, exact)."""
    import torch

    t = t.detach()
    if t.dtype == torch.bfloat16:
        return t.float().numpy().copy()
    return t.numpy().copy()


def make_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261130)
    z = rng.standard_normal((16, 256)) * 0.05
    tiny = rng.random((16, 256)) < 0.3
    z[tiny] = -rng.uniform(1e-7, 4e-3, tiny.sum())      # negative values that round to zero
    z[rng.random((16, 256)) < 0.05] = 0.0
    z = z.astype(np.float32)
    z[rng.random((16, 256)) < 0.05] = -0.0             # exact negative zeros
    z[2, :128] = 0.0                                    # an all-zero group of 128
    z[4, 128:] = -0.0                                   # an all -0.0 group
    z[6, :] = -rng.uniform(1e-6, 1e-5, 256).astype(np.float32)   # a row of tiny negatives
    z[6, 10] = 1e-5
    z[9, 32:64] = 0.0                                   # all-zero blocks of 16 and 32
    act = rng.standard_normal((32, 512)) * 2.0
    act[:, 7] *= 40.0
    act[5, 16:32] = 0.0
    act[3, 100:140] = -0.0
    k = rng.standard_normal((1, 4, 64, 128)) * (1.0 + 6.0 * (rng.random((1, 4, 1, 128)) < 0.05))
    v = rng.standard_normal((1, 4, 64, 128))
    q = rng.standard_normal((1, 4, 16, 128)) * 1.5
    w = rng.standard_t(5, size=(64, 256)) * 0.02 * 10.0 ** rng.uniform(-1.0, 1.0, size=(64, 1))
    w[3, 32:64] = 0.0
    w[8, 5] = 0.7
    # the GPU path: an [N=256, K=256] fp16 weight (|scale| < 2, as the gpt-fast packer requires)
    wg = rng.standard_t(5, size=(256, 256)) * 0.02 * 10.0 ** rng.uniform(-1.0, 0.5, size=(256, 1))
    wg[7, :128] = 0.0
    wg[9, 200] = 1.5
    wg[12, :] *= -1.0
    # the g16 GPU path: magnitudes that span its 6-bit scale payloads (0.03 .. 30)
    rng16 = np.random.default_rng(16)
    wh = rng16.standard_t(5, size=(256, 256)) * 10.0 ** rng16.uniform(-1.5, 1.5, size=(256, 1))
    wh[3, :32] = 0.0
    return {
        "wh16": wh.astype(np.float16),
        "z32": z,
        "z16": z.astype(np.float16),
        "zbf": _bf16(z),
        "act32": act.astype(np.float32),
        "k32": k.astype(np.float32),
        "v32": v.astype(np.float32),
        "q32": q.astype(np.float32),
        "w16": w.astype(np.float16),
        "wg16": wg.astype(np.float16),
    }


def _t(inputs, name, dtype=None):
    import torch

    t = torch.from_numpy(inputs[name].copy())
    return t if dtype is None else t.to(dtype)


# ---- cases --------------------------------------------------------------------------------------
def cases_llm_datatypes(gitdir: str, inputs: dict) -> dict[str, np.ndarray]:
    ns = load_functions(gitdir, COMMITS["llm-datatypes"], "neural_compressor/adaptor/torch_utils/weight_only.py")
    qw = ns["quant_weight"]
    out = {}
    z = _t(inputs, "z32")
    for bits in (2, 3, 4, 8):
        for scheme in ("sym", "asym"):
            out[f"int/{bits}/{scheme}/g128/z32"] = native(qw(z.clone(), num_bits=bits, group_size=128, scheme=scheme,
                                                             data_type="int"))
    for key in ("nf4", "nf3_nz", "sf4_5", "fp4_basic", "fp4_range", "denorm4"):
        out[f"codebook/{key}/g128/z32"] = native(qw(z.clone(), num_bits=4, group_size=128, data_type=key))
    return out


def cases_nvfp4_razer(gitdir: str, inputs: dict) -> dict[str, np.ndarray]:
    import torch

    files = ("quantize/quant_config.py", "quantize/utils.py", "quantize/quantizer.py")
    head = load_functions(gitdir, COMMITS["nvfp4-razer"], *files)
    v0 = load_functions(gitdir, COMMITS["nvfp4-razer-v0"], "quantize/quant_config.py", "quantize/quantizer.py")
    out = {}
    for name in ("z32", "act32"):
        x = _t(inputs, name)
        out[f"mxfp4/ocp/{name}"] = native(head["quant_mxfp4_naive"](x, groupsize=32))
        out[f"mxfp4/better/{name}"] = native(head["quant_mxfp4"](x, groupsize=32))
        out[f"nvfp4/{name}"] = native(head["quant_nvfp4"](x, groupsize=16))
        out[f"nvfp4_4over6/{name}"] = native(head["quant_nvfp4_4over6"](x, groupsize=16))
        out[f"mxfp4_razer_weight/{name}"] = native(head["quant_mxfp4_razer"](x, groupsize=32, is_act=False))
        out[f"mxfp4_razer_act/{name}"] = native(head["quant_mxfp4_razer"](x, groupsize=32, is_act=True))
    for name in ("zbf",):
        x = _t(inputs, name, torch.bfloat16)
        out[f"nvfp4_razer/o8/{name}"] = native(head["quant_nvfp4_razer_e3m3"](x, groupsize=16, outlier=8.0))
        out[f"nvfp4_razer_act/v0/{name}"] = native(v0["quant_nvfp4_razer_e4m3"](x, groupsize=16))
        out[f"nvfp4_4over6/{name}"] = native(head["quant_nvfp4_4over6"](x, groupsize=16))
        out[f"mxfp4_razer_weight/{name}"] = native(head["quant_mxfp4_razer"](x, groupsize=32, is_act=False))
        out[f"mxfp4_razer_act/{name}"] = native(head["quant_mxfp4_razer"](x, groupsize=32, is_act=True))
    out.update(_gpu_path(gitdir, inputs))
    return out


def _exec_source(gitdir: str, commit: str, path: str, drop: tuple[str, ...], extra: dict) -> dict:
    import torch

    ns: dict = {"torch": torch, "__name__": "reference", **extra}
    src = git_source(gitdir, commit, path)
    lines = [ln for ln in src.splitlines() if not ln.strip().startswith(drop)]
    exec(compile("\n".join(lines), f"{commit[:7]}:{path}", "exec"), ns)
    return ns


def _gpu_path(gitdir: str, inputs: dict) -> dict[str, np.ndarray]:
    import torch
    import torch.nn as nn

    commit = COMMITS["nvfp4-razer"]
    gf = _exec_source(gitdir, commit, "inference/gpt_fast_integration/quantize.py",
                      ("from tqdm", "import custom_linears", "from model"), {"tqdm": lambda it, **kw: it})
    w = _t(inputs, "wg16")                                            # [N, K] fp16
    n, k = w.shape

    class Model(nn.Module):
        def __init__(self, weight):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(weight.shape[1], weight.shape[0], bias=False,
                                                   dtype=torch.float16)])
            self.layers[0].weight.data.copy_(weight)

    out = {}
    handler = gf["WeightOnlyRaZeRQuantHandler"](Model(w), 4, 128, "fp16")
    sd = handler.create_quantized_state_dict(use_cuda=False)
    out["gptfast/g128/qB/wg16"] = sd["layers.0.razer_qB"].numpy().copy()
    out["gptfast/g128/scaling/wg16"] = sd["layers.0.razer_scaling"].numpy().copy()
    idx, scl, neg, is8, mse = handler._quantize_groups_razer_4bit_batched(w.float().reshape(-1, 128))
    out["gptfast/g128/idx/wg16"] = idx.numpy().astype(np.uint8)
    out["gptfast/g128/scale/wg16"] = scl.numpy().copy()
    out["gptfast/g128/neg/wg16"] = neg.numpy().astype(np.uint8)
    out["gptfast/g128/is8/wg16"] = is8.numpy().astype(np.uint8)
    out["gptfast/g128/mse/wg16"] = mse.numpy().copy()

    # the g16 path: group quantizer, scale snapped to the 6-bit payload table, indices re-assigned
    wh = _t(inputs, "wh16")
    h16 = gf["WeightOnlyRaZeRQuantHandler"](Model(wh), 4, 16, "fp16")
    sd16 = h16.create_quantized_state_dict(use_cuda=False)
    out["gptfast/g16/qB/wh16"] = sd16["layers.0.razer_qB"].numpy().copy()
    out["gptfast/g16/scaling/wh16"] = sd16["layers.0.razer_scaling"].numpy().copy()
    groups = wh.float().reshape(-1, 16)
    idx, scl, neg, is8, mse = h16._quantize_groups_razer_4bit_batched(groups)
    q_scales, payload = h16._quantize_g16_scales_to_payload(scl)
    idx2 = h16._assign_indices_for_fixed_scales(groups, q_scales, neg, is8)
    out["gptfast/g16/scale/wh16"] = scl.numpy().copy()
    out["gptfast/g16/payload/wh16"] = payload.numpy().astype(np.uint8)
    out["gptfast/g16/idx/wh16"] = idx2.numpy().astype(np.uint8)
    out["gptfast/g16/neg/wh16"] = neg.numpy().astype(np.uint8)
    out["gptfast/g16/is8/wh16"] = is8.numpy().astype(np.uint8)
    out["gptfast/g16/mse/wh16"] = mse.numpy().copy()

    cuda_stub = types.ModuleType("marlin_razer_cuda")
    sys.modules.setdefault("marlin_razer_cuda", cuda_stub)
    mr = _exec_source(gitdir, commit, "inference/kernel_extensions/marlin_razer/marlin_razer/__init__.py",
                      ("from .launch_config",), {})
    layer = mr["Layer"](k, n, groupsize=128)
    scales, codes = layer._quantize_fp4_negzero_remap(w)
    packed, packed_s = layer._pack_weights_and_scales(scales, codes)
    out["marlin/g128/codes/wg16"] = codes.numpy().astype(np.uint8)
    out["marlin/g128/scales/wg16"] = scales.numpy().copy()
    out["marlin/g128/B/wg16"] = packed.numpy().copy()
    out["marlin/g128/s/wg16"] = packed_s.numpy().copy()
    return out


def cases_microxcaling(gitdir: str, inputs: dict) -> dict[str, np.ndarray]:
    import subprocess
    import tempfile

    import torch  # noqa: F401

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "--git-dir", gitdir, "archive", COMMITS["microxcaling"], "mx"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        sys.path.insert(0, tmp)
        from mx.mx_ops import _quantize_mx  # noqa: E402

        x = _t(inputs, "z32")
        for elem in ("int8", "fp4_e2m1"):
            out[f"mx/{elem}/z32"] = native(_quantize_mx(
                x, 8, elem, shared_exp_method="max", axes=[-1], block_size=32, round="nearest",
                flush_fp32_subnorms=False, custom_cuda=False))
        sys.path.remove(tmp)
    return out


def cases_bitmod_mxfp4_nvfp4(gitdir: str, inputs: dict) -> dict[str, np.ndarray]:
    import torch

    ns = load_functions(gitdir, COMMITS["bitmod-mxfp4-nvfp4"], "weight_quant/quantize/utils.py",
                        "weight_quant/quantize/quant_weight.py")
    z = _t(inputs, "z16")
    out = {}
    for g in (128, 32):
        out[f"razer4/g{g}/z16"] = native(ns["quant_fp4_razer"](z, wq_bits=4, groupsize=g))
    out["mxfp4_razer/g32/z16"] = native(ns["quant_mxfp4_razer"](z, wq_bits=4, groupsize=32))
    assert out["razer4/g128/z16"].dtype == np.float16 and torch is not None
    return out


def cases_bitmod_hpca(gitdir: str, inputs: dict) -> dict[str, np.ndarray]:
    import torch

    ns = load_functions(gitdir, COMMITS["bitmod-hpca"], "bitmod_quant/quant_utils/quant_weight.py")
    out = {}
    for name in ("w16", "z16"):
        w = _t(inputs, name)
        for bits, dts in ((3, ("mx_fp3", "mx_int3")), (4, ("mx_fp4", "mx_int4"))):
            for d in dts:
                out[f"bitmod_mx/{d}/g32/{name}"] = native(ns["quant_mx"](w, wq_bits=bits, datatype=d, group_size=32))
        for bits in (3, 4):
            for g in (128, 32, -1):
                out[f"bitmod_int/{bits}/sym/g{g}/{name}"] = native(ns["quant_int"](w, wq_bits=bits, group_size=g))
            for g in (128, 32):
                out[f"bitmod_int/{bits}/asym/g{g}/{name}"] = native(ns["quant_int_asym"](w, wq_bits=bits,
                                                                                      group_size=g))
    # the per-group errors search_datatype compares (its loop body: quant_datatype, then the mean)
    w = _t(inputs, "w16")
    kk, cc = w.shape
    wg = w.reshape(kk, cc // 128, 128)
    for bits, keys in ((3, ("fp3_er_pos", "fp3_er_neg", "fp3_ea_pos", "fp3_ea_neg")),
                       (4, ("fp4_er_pos", "fp4_er_neg", "fp4_ea_pos", "fp4_ea_neg"))):
        errs = [(ns["quant_datatype"](wg, wq_bits=bits, datatype=d, group_size=None) - wg).pow(2).mean(-1)
                for d in keys]
        out[f"bitmod_cmse/{bits}/g128/w16"] = native(torch.stack(errs, dim=-1))
    z = _t(inputs, "z16")
    for bits in (3, 4):
        out[f"bitmod/mixed_bitmod/{bits}/g128/z16"] = native(ns["search_datatype"](z, wq_bits=bits,
                                                                                 datatype="mixed_bitmod",
                                                                                 group_size=128))
    return out


def cases_p3llm(gitdir: str, inputs: dict) -> dict[str, np.ndarray]:
    import torch

    ns = load_functions(gitdir, COMMITS["p3-llm"], "wkvaq_quant/quantize/quantizer.py")
    out = {}
    for suffix, dtype in (("32", torch.float32),):
        act = _t(inputs, "act" + suffix, dtype)[None]
        out[f"p3llm/a8/pertoken/act{suffix}"] = native(ns["a_quant_per_token"](act, a_bits=8, group_size=-1)[0])
        out[f"p3llm/a8/g128/act{suffix}"] = native(ns["a_quant_per_token"](act, a_bits=8, group_size=128)[0])
        out[f"p3llm/q8/q{suffix}"] = native(ns["q_quant_per_head"](_t(inputs, "q" + suffix, dtype), q_bits=8))
        k = _t(inputs, "k" + suffix, dtype).transpose(1, 2).contiguous().transpose(1, 2)
        out[f"p3llm/k4/plain/k{suffix}"] = native(ns["k_quant_per_token"](k, k_bits=4, group_size=128))
        k_scale = k.abs().amax(dim=2, keepdim=True)
        out[f"p3llm/k4/smooth/k{suffix}"] = native(ns["k_quant_per_token"](k, k_bits=4, group_size=128,
                                                                           apply_k_scale=True, k_scale=k_scale))
        out[f"p3llm/k4/g64/k{suffix}"] = native(ns["k_quant_per_token"](k, k_bits=4, group_size=64))
        vq, vs = ns["v_quant_per_token"](_t(inputs, "v" + suffix, dtype), v_bits=4, group_size=128)
        out[f"p3llm/v4/int/v{suffix}"] = vq.numpy().astype(np.int16)
        out[f"p3llm/v4/scale/v{suffix}"] = native(vs)
    for name, dtype in (("z16", torch.float16), ("z32", torch.float32)):
        z = _t(inputs, name, dtype)[None]
        out[f"p3llm/a8/pertoken/{name}"] = native(ns["a_quant_per_token"](z, a_bits=8, group_size=-1)[0])
        out[f"p3llm/a8/g128/{name}"] = native(ns["a_quant_per_token"](z, a_bits=8, group_size=128)[0])
    return out


CASES = {
    "llm-datatypes": cases_llm_datatypes,
    "nvfp4-razer": cases_nvfp4_razer,
    "microxcaling": cases_microxcaling,
    "bitmod-mxfp4-nvfp4": cases_bitmod_mxfp4_nvfp4,
    "bitmod-hpca": cases_bitmod_hpca,
    "p3-llm": cases_p3llm,
}


def main() -> None:
    generate(__doc__, CASES, make_inputs, OUT, also_commits={"nvfp4-razer": ("nvfp4-razer-v0",)})


if __name__ == "__main__":
    main()
