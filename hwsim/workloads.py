"""Workloads for the array simulators: GEMM layers, convolutions (im2col), LLM layers, networks.

Every layer reduces to one GEMM ``Y[M, N] = A[M, K] @ W[K, N]`` (A: activations, W: weights) that may be
repeated ``repeat`` times with identical shape (attention heads, batch, transformer blocks)::

    gemm:M,N,K                         gemm:64x128x256      gemm:M=64,N=128,K=256
    conv:H,W,R,S,C,N[,stride[,pad]]    conv:h=56,w=56,r=3,s=3,c=64,n=64,stride=1,pad=1
    llm:<preset>[,key=value...]        llm:llama3-8b,seq=2048,phase=prefill
    llm:hidden=..,heads=..,kv_heads=..,ffn=..[,layers=..,vocab=..,seq=..,batch=..,phase=..,gated=..]
    path/to/topology.csv               a SCALE-Sim topology file (conv or GEMM "Layer, M, N, K" form)

``parse(spec)`` turns one of these into a :class:`Network`; several specs separated by ``;`` are
concatenated. Conv layers use the standard output size ``floor((H + 2*pad - R) / stride) + 1`` unless
they come from a SCALE-Sim topology file, which uses SCALE-Sim's own ``ceil((H - R + stride) / stride)``
(and has no padding).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from .layers import Conv, Gemm, Network, WorkloadError, _positive, check_seed, network  # noqa: F401
from .topology import read_topology


@dataclass(frozen=True)
class LLMShape:
    hidden: int
    heads: int
    kv_heads: int
    ffn: int
    layers: int = 1
    vocab: int = 0              #: 0: no LM head
    gated: bool = True          #: SwiGLU-style FFN (gate and up projections, fused: N = 2 * ffn)
    head_dim: int = 0           #: 0: hidden // heads


#: Public model shapes (each model's config.json on the Hugging Face hub).
LLM_PRESETS: dict[str, LLMShape] = {
    "llama2-7b": LLMShape(hidden=4096, heads=32, kv_heads=32, ffn=11008, layers=32, vocab=32000),
    "llama2-13b": LLMShape(hidden=5120, heads=40, kv_heads=40, ffn=13824, layers=40, vocab=32000),
    "llama3-8b": LLMShape(hidden=4096, heads=32, kv_heads=8, ffn=14336, layers=32, vocab=128256),
    "mistral-7b": LLMShape(hidden=4096, heads=32, kv_heads=8, ffn=14336, layers=32, vocab=32000),
    "tinyllama-1.1b": LLMShape(hidden=2048, heads=32, kv_heads=4, ffn=5632, layers=22, vocab=32000),
    "opt-1.3b": LLMShape(hidden=2048, heads=32, kv_heads=32, ffn=8192, layers=24, vocab=50272, gated=False),
    "gpt2": LLMShape(hidden=768, heads=12, kv_heads=12, ffn=3072, layers=12, vocab=50257, gated=False),
    "minilm-l6": LLMShape(hidden=384, heads=12, kv_heads=12, ffn=1536, layers=6, vocab=0, gated=False),
}


def llm_layers(shape: LLMShape, seq: int = 2048, batch: int = 1, phase: str = "prefill",
               name: str = "llm", source: str = "") -> Network:
    """The GEMMs of ``shape.layers`` transformer blocks (+ LM head) for one prefill or decode step.

    prefill: ``batch`` sequences of ``seq`` tokens. Projections and FFN have M = batch * seq;
    attention runs per (sequence, query head): scores M = seq, N = seq, K = head_dim (full, not causal-
    pruned), context M = seq, N = head_dim, K = seq.

    decode: one new token per sequence with ``seq`` tokens of context (KV cache). Projections M = batch;
    the query heads that share a KV head are batched into one GEMM (M = heads / kv_heads), per
    (sequence, KV head): scores N = seq, K = head_dim; context N = head_dim, K = seq.

    The LM head (if ``vocab``) runs on the last token of each sequence only (M = batch).
    """
    where = source or f"llm workload {name!r}"
    seq = _positive(seq, "seq", where)
    batch = _positive(batch, "batch", where)
    for k in ("hidden", "heads", "kv_heads", "ffn", "layers"):
        _positive(getattr(shape, k), k, where)
    if phase not in ("prefill", "decode"):
        raise WorkloadError(f"{where}: phase = {phase!r}: allowed: prefill, decode")
    if shape.heads % shape.kv_heads:
        raise WorkloadError(f"{where}: heads = {shape.heads} is not a multiple of kv_heads = {shape.kv_heads}")
    hd = shape.head_dim or shape.hidden // shape.heads
    if hd <= 0:
        raise WorkloadError(f"{where}: head_dim = hidden / heads = {shape.hidden}/{shape.heads} is 0")
    L = shape.layers
    qkv_n = (shape.heads + 2 * shape.kv_heads) * hd
    ffn_up_n = 2 * shape.ffn if shape.gated else shape.ffn
    tokens = batch * seq if phase == "prefill" else batch
    layers = [Gemm(tokens, qkv_n, shape.hidden, "qkv_proj", L, "projection", where)]
    if phase == "prefill":
        layers += [Gemm(seq, seq, hd, "attn_scores", L * batch * shape.heads, "attention", where),
                   Gemm(seq, hd, seq, "attn_context", L * batch * shape.heads, "attention", where)]
    else:
        group = shape.heads // shape.kv_heads
        layers += [Gemm(group, seq, hd, "attn_scores", L * batch * shape.kv_heads, "attention", where),
                   Gemm(group, hd, seq, "attn_context", L * batch * shape.kv_heads, "attention", where)]
    layers += [Gemm(tokens, shape.hidden, shape.heads * hd, "o_proj", L, "projection", where),
               Gemm(tokens, ffn_up_n, shape.hidden, "ffn_up" + ("_gate" if shape.gated else ""), L, "ffn", where),
               Gemm(tokens, shape.hidden, shape.ffn, "ffn_down", L, "ffn", where)]
    if shape.vocab:
        layers.append(Gemm(batch, shape.vocab, shape.hidden, "lm_head", 1, "head", where))
    return network(layers, name)


# ---- spec parsing ----------------------------------------------------------------------------------
def _split_kv(body: str, spec: str, positional: list[str], allowed: dict[str, str]) -> dict[str, str]:
    """Parse "a,b,c" (positional) and/or "k=v,..." into {canonical key: text}."""
    out: dict[str, str] = {}
    parts = [p.strip() for p in re.split(r"[,;]", body) if p.strip()] if body else []
    if len(parts) == 1 and "x" in parts[0] and "=" not in parts[0]:
        parts = [p.strip() for p in parts[0].split("x")]
    pos = 0
    for p in parts:
        if "=" in p:
            k, v = (s.strip() for s in p.split("=", 1))
            key = allowed.get(k.lower())
            if key is None:
                raise WorkloadError(f"workload {spec!r}: unknown field {k!r}; allowed: "
                                    f"{', '.join(sorted(set(allowed)))}")
            out[key] = v
        else:
            if pos >= len(positional):
                raise WorkloadError(f"workload {spec!r}: too many values; the form is "
                                    f"{','.join(positional)}")
            out[positional[pos]] = p
            pos += 1
    return out


def _int(text: str, key: str, spec: str) -> int:
    try:
        v = int(text)
    except (TypeError, ValueError):
        raise WorkloadError(f"workload {spec!r}: {key} = {text!r}: expected a positive integer") from None
    if v <= 0:
        raise WorkloadError(f"workload {spec!r}: {key} = {v}: must be a positive integer")
    return v


def parse_gemm(spec: str, body: str) -> Gemm:
    kv = _split_kv(body, spec, ["M", "N", "K"], {"m": "M", "n": "N", "k": "K", "name": "name",
                                                 "repeat": "repeat"})
    missing = [k for k in ("M", "N", "K") if k not in kv]
    if missing:
        raise WorkloadError(f"workload {spec!r}: missing {', '.join(missing)}; the form is gemm:M,N,K")
    return Gemm(M=_int(kv["M"], "M", spec), N=_int(kv["N"], "N", spec), K=_int(kv["K"], "K", spec),
                name=kv.get("name", "gemm"), repeat=_int(kv.get("repeat", "1"), "repeat", spec), source=spec)


def parse_conv(spec: str, body: str) -> Conv:
    keys = {"h": "H", "w": "W", "r": "R", "s": "S", "c": "C", "n": "N", "stride": "stride", "pad": "pad",
            "name": "name"}
    kv = _split_kv(body, spec, ["H", "W", "R", "S", "C", "N", "stride", "pad"], keys)
    missing = [k for k in ("H", "W", "R", "S", "C", "N") if k not in kv]
    if missing:
        raise WorkloadError(f"workload {spec!r}: missing {', '.join(missing)}; the form is "
                            f"conv:H,W,R,S,C,N[,stride[,pad]]")
    st = _int(kv.get("stride", "1"), "stride", spec)
    try:
        pad = int(kv.get("pad", "0"))
    except ValueError:
        raise WorkloadError(f"workload {spec!r}: pad = {kv['pad']!r}: expected an integer >= 0") from None
    if pad < 0:
        raise WorkloadError(f"workload {spec!r}: pad = {pad}: must be >= 0")
    return Conv(H=_int(kv["H"], "H", spec), W=_int(kv["W"], "W", spec), R=_int(kv["R"], "R", spec),
                S=_int(kv["S"], "S", spec), C=_int(kv["C"], "C", spec), N=_int(kv["N"], "N", spec),
                stride_h=st, stride_w=st, pad_h=pad, pad_w=pad, name=kv.get("name", "conv"), source=spec)


def parse_llm(spec: str, body: str) -> Network:
    parts = [p.strip() for p in body.split(",") if p.strip()] if body else []
    shape = None
    name = "llm"
    if parts and "=" not in parts[0]:
        preset = parts.pop(0).lower()
        if preset not in LLM_PRESETS:
            raise WorkloadError(f"workload {spec!r}: unknown LLM preset {preset!r}; presets: "
                                f"{', '.join(LLM_PRESETS)} (or give hidden=,heads=,kv_heads=,ffn=)")
        shape = LLM_PRESETS[preset]
        name = preset
    kv = {}
    shape_keys = {"hidden", "heads", "kv_heads", "ffn", "layers", "vocab", "head_dim", "gated"}
    run_keys = {"seq", "batch", "phase"}
    for p in parts:
        if "=" not in p:
            raise WorkloadError(f"workload {spec!r}: {p!r} is not key=value")
        k, v = (s.strip() for s in p.split("=", 1))
        k = k.lower()
        if k not in shape_keys | run_keys:
            raise WorkloadError(f"workload {spec!r}: unknown field {k!r}; allowed: "
                                f"{', '.join(sorted(shape_keys | run_keys))}")
        kv[k] = v
    changes = {}
    for k in shape_keys - {"gated"}:
        if k in kv:
            if k in ("vocab", "head_dim"):
                try:
                    val = int(kv[k])
                except ValueError:
                    val = -1
                if val < 0:
                    raise WorkloadError(f"workload {spec!r}: {k} = {kv[k]!r}: expected an integer >= 0")
                changes[k] = val
            else:
                changes[k] = _int(kv[k], k, spec)
    if "gated" in kv:
        g = kv["gated"].lower()
        if g not in ("true", "false", "1", "0", "yes", "no"):
            raise WorkloadError(f"workload {spec!r}: gated = {kv['gated']!r}: expected true or false")
        changes["gated"] = g in ("true", "1", "yes")
    if shape is None:
        missing = [k for k in ("hidden", "heads", "kv_heads", "ffn") if k not in changes]
        if "kv_heads" in missing and "heads" in changes:
            changes["kv_heads"] = changes["heads"]
            missing.remove("kv_heads")
        if missing:
            raise WorkloadError(f"workload {spec!r}: missing {', '.join(missing)} (or name a preset: "
                                f"{', '.join(LLM_PRESETS)})")
        shape = LLMShape(**changes)
    else:
        shape = replace(shape, **changes)
    seq = _int(kv.get("seq", "2048"), "seq", spec)
    batch = _int(kv.get("batch", "1"), "batch", spec)
    phase = kv.get("phase", "prefill").lower()
    return llm_layers(shape, seq=seq, batch=batch, phase=phase, name=f"{name}-{phase}", source=spec)


def parse(spec: str) -> Network:
    """A workload spec (see the module docstring) -> Network."""
    if not isinstance(spec, str) or not spec.strip():
        raise WorkloadError("empty workload; use gemm:M,N,K, conv:H,W,R,S,C,N[,stride[,pad]], "
                            "llm:<preset>[,seq=..], or a SCALE-Sim topology .csv")
    pieces = [s.strip() for s in spec.split(";") if s.strip()]
    if not pieces:
        raise WorkloadError(f"workload {spec!r}: no workload between the ';' separators")
    if len(pieces) > 1:
        nets = [parse(p) for p in pieces]
        return network([l for n in nets for l in n.layers], name="+".join(n.name for n in nets))
    spec = pieces[0]
    head, _, body = spec.partition(":")
    head = head.strip().lower()
    if head == "gemm":
        g = parse_gemm(spec, body)
        return network([g], name=f"gemm_{g.M}x{g.N}x{g.K}")
    if head == "conv":
        c = parse_conv(spec, body)
        return network([c], name=f"conv_{c.H}x{c.W}_{c.R}x{c.S}_{c.C}to{c.N}")
    if head == "llm":
        return parse_llm(spec, body)
    if head in ("topo", "topology", "scalesim"):
        return read_topology(body)
    p = Path(spec)
    if p.suffix.lower() == ".csv":
        return read_topology(p)
    raise WorkloadError(f"workload {spec!r}: unknown kind {head!r}; use gemm:M,N,K, "
                        f"conv:H,W,R,S,C,N[,stride[,pad]], llm:<preset>[,seq=..], or a SCALE-Sim topology "
                        f".csv path")
