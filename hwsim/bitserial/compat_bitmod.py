"""``--compat bitmod-a902a09`` / ``bitmod-e445a5f``: the published BitMoD simulator's numbers, exactly.

abdelfattah-lab/BitMoD-HPCA-25 ``bitmod_sim/`` at a902a09 (the commit behind the paper's figures)
and e445a5f (the current artefact). The rules are those of ``shared/spec/accelerators.md`` C.2b,
re-derived from the code; every quantity below is computed with the same Python number types and
the same order of operations as the published code so that floats come out bit-identical
(``tests/data/bitserial_reference.json`` holds the published simulators' own outputs).

The one thing not recomputed is CACTI: the SRAM read/write energies and areas come from
``cacti_28nm.json``, the CACTI 7 results for every memory configuration the reference runs used,
plus a grid (see ``tests/reference/generate_bitserial_reference.py``). A configuration missing from
the table gives energies of ``None`` (cycles, bytes and refetch do not depend on CACTI).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .models import BITMOD_MODELS, COMMIT_MODELS, LLMArch, resolve

COMMITS = ("a902a09", "e445a5f")
_SRAM_BYTES = 512 * 1024
_SRAM_BANKS = 8
_PR = 1.5
_DRAM_BW = 128
_DRAM_COST = _DRAM_BW / 64 * 1200


class CompatError(ValueError):
    pass


@lru_cache(maxsize=1)
def cacti_table() -> dict:
    p = Path(__file__).with_name("cacti_28nm.json")
    return json.loads(p.read_text()) if p.exists() else {}


def cacti_lookup(tool: str, size_bits: int, banks: int, rw_bw: float) -> dict | None:
    """CACTI costs of a memory as the published wrapper computes them (r_cost, w_cost in pJ for all
    banks, area in mm^2), or None when that configuration was never run through CACTI."""
    return cacti_table().get(f"{tool}:{int(size_bits)}:{int(banks)}:{int(rw_bw / banks)}")


@dataclass(frozen=True)
class BitModConfig:
    """The ``Accelerator(...)`` arguments of the published simulator."""
    model: str
    w_prec: float
    kv_prec: float = 8
    i_prec: int = 16
    batch_size: int = 1
    cxt_len: int = 256
    is_generation: bool = False
    is_bit_serial: bool = True
    pe_dp_size: int = 4
    pe_energy: float = 0.56
    pe_area: float = 1507.7
    pe_array_dim: tuple = (32, 32)


#: The artefact's design scripts (test_{bitmod,ant,olive,baseline}.py) per commit.
def preset(commit: str, design: str, model: str, is_generation: bool, **over) -> BitModConfig:
    m = resolve(model)
    g = is_generation
    if design in ("bitmod", "bitmod-lossless"):
        w = 6.0625 if design == "bitmod-lossless" else (3.0625 if g else 4.0625)
        c = BitModConfig(m, w, 8, 16, 1, 256, g, True, 4, 0.56, 1507.7, (64, 16) if g else (32, 32))
    elif design == "ant":
        if commit == "e445a5f":
            w = {"meta-llama/Llama-2-13b-hf": 4, "01-ai/Yi-6B": 5.25}.get(m, 5)
        else:
            w = ({"01-ai/Yi-6B": 5.25, "meta-llama/Meta-Llama-3-8B": 4.5}.get(m, 5)) if g else 5.5
        c = BitModConfig(m, w, 16, 16, 1, 256, g, False, 1, 0.56, 1318.6, (64, 16) if g else (32, 32))
    elif design == "olive":
        if commit == "e445a5f":
            w = 4.5 if m == "meta-llama/Meta-Llama-3-8B" else 4
        else:
            w = ({"facebook/opt-1.3b": 3.875, "microsoft/phi-2": 4, "01-ai/Yi-6B": 4.25,
                  "meta-llama/Llama-2-7b-hf": 3.75, "meta-llama/Llama-2-13b-hf": 3.75,
                  "meta-llama/Meta-Llama-3-8B": 3.5}[m]) if g else 4.5
        c = BitModConfig(m, w, 16, 16, 1, 256, g, False, 1, 0.613, 1318.6, (72, 16) if g else (36, 32))
    elif design == "fp16":
        c = BitModConfig(m, 16, 16, 16, 1, 256, g, False, 1, 0.77, 1968.7, (64, 12) if g else (32, 24))
    else:
        raise CompatError(f"BitMoD design {design!r}: allowed: bitmod, bitmod-lossless, ant, olive, fp16")
    from dataclasses import replace
    return replace(c, **over) if over else c


def _layers_e445a5f(arch: LLMArch, c: BitModConfig):
    """(name, w_dim, i_dim, o_dim) exactly as pe_array.py builds them (floats where it has them)."""
    B, ctx = c.batch_size, c.cxt_len
    out = []
    for name, (cout, cin) in arch.linear_layers().items():
        w = [1, cout, cin]
        if c.is_generation:
            out.append((name, w, [1, B, cin], [1, B, cout]))
        else:
            out.append((name, w, [B, ctx, cin], [B, ctx, cout]))
    hidden, heads = arch.hidden, arch.heads
    hd = hidden / heads
    kvh = arch.kv_heads if arch.kv_heads is not None else heads
    g = heads / kvh
    for l in range(arch.layers):
        if c.is_generation:
            out.append((f"model.layers.{l}.self_attn.attn_qk", [B * kvh, ctx, hd], [B * kvh, g, hd], [B * kvh, g, ctx]))
            out.append((f"model.layers.{l}.self_attn.attn_v", [B * kvh, hd, ctx], [B * kvh, g, ctx], [B * kvh, g, hd]))
        else:
            out.append((f"model.layers.{l}.self_attn.attn_qk", [B * kvh, ctx, hd], [B * kvh, g * ctx, hd],
                        [B * kvh, g * ctx, ctx]))
            out.append((f"model.layers.{l}.self_attn.attn_v", [B * kvh, hd, ctx], [B * kvh, g * ctx, ctx],
                        [B * kvh, g * ctx, hd]))
    return out


def _layers_a902a09(arch: LLMArch, c: BitModConfig):
    ctx = c.cxt_len
    out = []
    for name, (cout, cin) in arch.linear_layers().items():
        t = 1 if c.is_generation else ctx
        out.append((name, [cout, cin], [t, cin], [t, cout]))
    hidden, heads = arch.hidden, arch.heads
    kvh = arch.kv_heads if arch.kv_heads is not None else heads
    kdim = hidden / heads * kvh
    for l in range(arch.layers):
        if c.is_generation:
            out.append((f"model.layers.{l}.self_attn.attn_qk", [1, hidden], [ctx, kdim], [heads * 1, ctx]))
            out.append((f"model.layers.{l}.self_attn.attn_v", [heads * 1, ctx], [ctx, kdim], [1, hidden]))
        else:
            out.append((f"model.layers.{l}.self_attn.attn_qk", [ctx, hidden], [ctx, kdim], [heads * ctx, ctx]))
            out.append((f"model.layers.{l}.self_attn.attn_v", [heads * ctx, ctx], [ctx, kdim], [ctx, hidden]))
    return out


def _is_attn(name: str) -> bool:
    return ("attn_qk" in name) or ("attn_v" in name)


def _check(c: BitModConfig) -> None:
    for k in ("w_prec", "kv_prec", "i_prec", "pe_energy", "pe_area"):
        v = getattr(c, k)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0:
            raise CompatError(f"bitmod compat: {k} = {v!r}: expected a number > 0")
    for k in ("batch_size", "cxt_len", "pe_dp_size"):
        v = getattr(c, k)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise CompatError(f"bitmod compat: {k} = {v!r}: expected an integer >= 1")
    d = c.pe_array_dim
    if len(d) != 2 or any((not isinstance(x, int)) or x < 1 for x in d):
        raise CompatError(f"bitmod compat: pe_array_dim = {d!r}: expected two integers >= 1 (rows, cols)")
    if c.is_bit_serial and math.ceil(math.floor(c.w_prec) / 2) == 0:
        raise CompatError(f"bitmod compat: w_prec = {c.w_prec!r}: bit-serial needs w_prec >= 1")


def simulate(commit: str, c: BitModConfig) -> dict:
    """The published simulator's results for one model: totals, energies (pJ) and per-layer rows,
    with its own names (``cycle_compute``, ``cycle_total``, ``_layer_cycle_compute``...)."""
    if commit not in COMMITS:
        raise CompatError(f"bitmod compat commit {commit!r}: allowed: {', '.join(COMMITS)}")
    _check(c)
    model = resolve(c.model)
    if model not in COMMIT_MODELS[commit]:
        raise CompatError(f"model {model!r}: BitMoD {commit} has no shape entry for it; its models: "
                          f"{', '.join(COMMIT_MODELS[commit])}")
    arch = BITMOD_MODELS[model]
    new = commit == "e445a5f"
    H, W = c.pe_array_dim
    dp = c.pe_dp_size
    if c.is_bit_serial:
        lat_attn = math.ceil(math.floor(c.kv_prec if new else c.w_prec) / 2)
        lat_lin = math.ceil(math.floor(c.w_prec) / 2)
    else:
        lat_attn = lat_lin = 1
    total_pe = H * W
    pe_energy = c.pe_energy * _PR
    # memories (accelerator.py _init_mem)
    if c.is_bit_serial:
        w_bw = dp * math.ceil(c.w_prec / 4) * 4 * H / 2
        i_bw = dp * c.i_prec * W / 2
    else:
        w_bw = dp * math.ceil(c.w_prec / 4) * 4 * H
        i_bw = dp * c.i_prec * W
    size_bits = _SRAM_BYTES * 8
    wc = cacti_lookup("bitmod", size_bits, _SRAM_BANKS, w_bw)
    ic = cacti_lookup("bitmod", size_bits, _SRAM_BANKS, i_bw)
    size_w = size_i = size_bits / 8
    rows = []
    memo: dict = {}
    layers = _layers_e445a5f(arch, c) if new else _layers_a902a09(arch, c)
    i_prec = c.i_prec
    for name, w_dim, i_dim, o_dim in layers:
        attn = _is_attn(name)
        key = (attn, repr(w_dim), repr(i_dim), repr(o_dim))   # repr: 4096 and 4096.0 differ
        hit = memo.get(key)
        if hit is None:
            if new:
                _, cout, cin = w_dim
                bo, ntok, _ = o_dim
                tiles = (math.ceil(cin / dp) * math.ceil(cout / H) * math.ceil(ntok / W)) * bo
                wp = c.kv_prec if attn else c.w_prec
                bkv, cout_w, cin_w = w_dim
                bi, nti, cin_i = i_dim
                bo2, nto, cin_o = o_dim
                wb = math.ceil(cin_w * wp / 8) * cout_w * bkv
                ib = math.ceil(cin_i * i_prec / 8) * nti * bi
                ob = math.ceil(cin_o * i_prec / 8) * nto * bo2
            else:
                cout, cin = w_dim
                ntok, _ = o_dim
                tiles = math.ceil(cin / dp) * math.ceil(cout / H) * math.ceil(ntok / W)
                wp = i_prec if attn else c.w_prec
                _, cin_i = i_dim
                wb = math.ceil(cin * wp / 8) * cout
                ib = math.ceil(cin_i * i_prec / 8) * ntok
                ob = math.ceil(cout * i_prec / 8) * ntok
            comp = tiles * (lat_attn if attn else lat_lin)
            if wb > size_w and ib > size_i:
                nri = math.ceil(wb / size_w)
                nrw = math.ceil(ib / size_i)
                refetch = (nrw, 1) if (nrw * wb + ib) < (nri * ib + wb) else (1, nri)
            else:
                refetch = (1, 1)
            bw = _DRAM_BW * 2
            dw = wb * 8 / bw
            dw *= refetch[0]
            di = ib * 8 / bw
            di *= refetch[1]
            do = ob * 8 / bw
            dram = int(dw + do + di)
            hit = memo[key] = (tiles, comp, dram, wb, ib, ob, refetch)
        tiles, comp, dram, wb, ib, ob, refetch = hit
        rows.append(dict(name=name, tiles=tiles, cycle_compute=comp, cycle_dram=dram, w_bytes=wb, i_bytes=ib,
                         o_bytes=ob, refetch=list(refetch), w_dim=w_dim, i_dim=i_dim, o_dim=o_dim,
                         type="attention" if attn else "linear"))
    total = 0
    total_compute = 0
    for r in rows:
        total_compute += r["cycle_compute"]
        total += max(r["cycle_compute"], r["cycle_dram"])
    split = {}
    for t in ("linear", "attention"):
        split[t] = dict(compute=sum(r["cycle_compute"] for r in rows if r["type"] == t),
                        dram=sum(r["cycle_dram"] for r in rows if r["type"] == t))
    energy = {"compute": pe_energy * total_pe * total_compute}
    if wc is not None and ic is not None:
        energy["sram_rd"] = sum(r["tiles"] for r in rows) * (wc["r_cost"] + ic["r_cost"])
        w_cost_min = wc["w_cost"] / (w_bw / 64)
        i_cost_min = ic["w_cost"] / (i_bw / 64)
        sram_wr = 0
        wmemo: dict = {}
        for (name, w_dim, i_dim, o_dim), r in zip(layers, rows):
            key = (r["type"], repr(w_dim), repr(i_dim), repr(o_dim))
            if key in wmemo:
                sram_wr += wmemo[key]
                continue
            fw, fi = r["refetch"]
            if new:
                wp = c.kv_prec if r["type"] == "attention" else c.w_prec
                bkv, cout_w, cin_w = w_dim
                bi, nti, cin_i = i_dim
                bo2, nto, cin_o = o_dim
                e = (math.ceil(cin_w * wp / 64) * cout_w * bkv * w_cost_min * fw
                     + math.ceil(cin_i * i_prec / 64) * nti * bi * i_cost_min * fi
                     + math.ceil(cin_o * i_prec / 64) * nto * bo2 * i_cost_min)
            else:
                cout, cin_w = w_dim
                _, cin_i = i_dim
                ntok, _ = o_dim
                e = (math.ceil(cin_w * c.w_prec / 64) * cout * w_cost_min * fw
                     + math.ceil(cin_i * i_prec / 64) * ntok * i_cost_min * fi
                     + math.ceil(cout * i_prec / 64) * ntok * i_cost_min)
            wmemo[key] = e
            sram_wr += e
        energy["sram_wr"] = sram_wr
    else:
        energy["sram_rd"] = energy["sram_wr"] = None
    dram_e = 0
    for r in rows:
        fw, fi = r["refetch"]
        ew = r["w_bytes"] * 8 / _DRAM_BW * _DRAM_COST
        ei = r["i_bytes"] * 8 / _DRAM_BW * _DRAM_COST
        eo = r["o_bytes"] * 8 / _DRAM_BW * _DRAM_COST
        ew *= fw
        ei *= fi
        dram_e += ew + ei + eo
    energy["dram"] = dram_e
    return dict(simulator=f"BitMoD-HPCA-25@{commit}", model=resolve(c.model), config=_cfg_dict(c),
                cycle_compute=total_compute, cycle_total=total, energy=energy,
                pe_array_area=c.pe_area * total_pe,
                memories=dict(w_sram=dict(rw_bw=w_bw, **(wc or {})), i_sram=dict(rw_bw=i_bw, **(ic or {}))),
                split=split, num_layers=len(rows), layers=rows)


def _cfg_dict(c: BitModConfig) -> dict:
    from dataclasses import asdict
    d = asdict(c)
    d["pe_array_dim"] = list(d["pe_array_dim"])
    return d
