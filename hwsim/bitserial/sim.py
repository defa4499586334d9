"""Bit-serial array simulator: ``build(design) -> BitSerialSim``; ``sim.run(workload, mode, compat, seed)``.

Modes:
  cycle       the cycle-level model of :mod:`.pe_model` on the layer's actual weights (seeded synthetic
              weights quantized with :mod:`datatypes`, or given ones): data-dependent cycles, counted
              as the RTL counts them.
  analytical  the same tiling with every step at its worst case (BitMoD: the format's maximum terms;
              BitVert: 8 columns + the constant): an upper bound of cycle mode.
  auto        cycle.
compat: ``bitmod-a902a09``, ``bitmod-e445a5f`` (workload ``llm:<model>,seq=,phase=,batch=``) and ``bitsim``
(workload ``bitsim:<model>``): the published simulators' numbers (:mod:`.compat_bitmod`,
:mod:`.compat_bitsim`) under ``compat`` in the result, their own field names.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from . import compat_bitmod, compat_bitsim, pe_model
from . import bitsim_workloads as bwl
from .kernels import bitmod_tile_cycles, bitvert_tile_cycles, normal_fill
from .models import ALIASES, BITMOD_MODELS

COMPAT = ("bitmod-a902a09", "bitmod-e445a5f", "bitsim")
MODES = ("auto", "cycle", "analytical")
#: ``mode="auto"`` runs the cycle-level model up to this many distinct weights (N x K summed over layers)
AUTO_CYCLE_WEIGHTS = 300_000_000
_BITMOD_DT = {"bitmod3": "bitmod3", "bitmod4": "bitmod4", "int4": "bitmod.int4", "int6": "bitmod.int6"}
_FMT_BITS = {"bitmod3": 3, "bitmod4": 4, "int4": 4, "int6": 6}


class SimError(ValueError):
    pass


# ---- design access --------------------------------------------------------------------------------
def load(path: str | Path):
    """A ``kind: bitserial`` design file, through the registry's loader (sections of .spec, .spec.check)."""
    from ..design import load as dload
    d = dload(path)
    if d.kind != "bitserial":
        raise SimError(f"{path}: kind = {d.kind!r}: expected bitserial")
    return d


def _design_hash(d) -> str:
    h = getattr(d, "hash", None)
    if callable(h):
        return h()
    return str(h or "")


# ---- workloads ----------------------------------------------------------------------------------------
def _llm_args(workload: str) -> dict:
    head, _, body = workload.partition(":")
    parts = [p.strip() for p in body.split(",") if p.strip()]
    if head.strip().lower() != "llm" or not parts or "=" in parts[0]:
        raise SimError(f"workload {workload!r}: the BitMoD compat modes take llm:<model>[,seq=N,phase=prefill|"
                       f"decode,batch=B]; models: {', '.join(ALIASES)}")
    model = parts[0]
    kv = {"seq": "256", "phase": "prefill", "batch": "1"}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        k = k.strip().lower()
        if k not in kv:
            raise SimError(f"workload {workload!r}: {k!r}: allowed keys: seq, phase, batch")
        kv[k] = v.strip().lower()
    try:
        seq, batch = int(kv["seq"]), int(kv["batch"])
    except ValueError:
        raise SimError(f"workload {workload!r}: seq and batch must be integers") from None
    if seq < 1 or batch < 1 or kv["phase"] not in ("prefill", "decode"):
        raise SimError(f"workload {workload!r}: seq, batch >= 1 and phase prefill|decode")
    return dict(model=compat_bitmod.resolve(model), seq=seq, batch=batch, gen=kv["phase"] == "decode")


def network_of(workload: str):
    """hwsim workloads, plus the BitMoD artefact's models (llm:opt-1.3b, phi-2, yi-6b)."""
    from .. import workloads as W
    head, _, body = workload.partition(":")
    if head.strip().lower() == "llm":
        first = body.split(",")[0].strip().lower()
        if first in ALIASES and first not in W.LLM_PRESETS:
            a = BITMOD_MODELS[ALIASES[first]]
            shape = W.LLMShape(hidden=a.hidden, heads=a.heads, kv_heads=a.kvh, ffn=a.ffn, layers=a.layers,
                               vocab=a.vocab, gated=a.family == "llama")
            args = _llm_args(workload)
            return W.llm_layers(shape, seq=args["seq"], batch=args["batch"],
                                phase="decode" if args["gen"] else "prefill", name=first)
    return W.parse(workload)


# ---- weights ------------------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _normal_tables(sigma: float):
    """Quantile tables of normal(0, sigma) for :func:`.kernels.normal_fill` (float32), q = stdlib
    ``NormalDist.inv_cdf``: coef[i] = cubic Hermite of q on [i, i + 1] / 65536 from q and
    q' = 1 / pdf(q) at both ends (bins 1..65534; largest error 8e-4 sigma, in bin 1), tail[j] =
    q((j + 1/2) / 2**32) (the outermost bins at 2**-32 resolution)."""
    from statistics import NormalDist
    nd = NormalDist(0.0, sigma)
    u = np.arange(1, 65536) / 65536
    q = np.array([nd.inv_cdf(v) for v in u])
    d = np.array([1.0 / nd.pdf(v) for v in q]) / 65536          # dq/dt, t in [0, 1] across a bin
    q0, q1, d0, d1 = q[:-1], q[1:], d[:-1], d[1:]
    coef = np.zeros((65536, 4))
    coef[1:65535] = np.stack([q0, d0, -3 * q0 - 2 * d0 + 3 * q1 - d1, 2 * q0 + d0 - 2 * q1 + d1], axis=1)
    tail = np.array([nd.inv_cdf((j + 0.5) / 2 ** 32) for j in range(65536)])
    return coef.astype(np.float32), tail.astype(np.float32)


def synthetic_weights(N: int, K: int, seed: int, tag: str, rows: tuple[int, int] | None = None,
                      out: np.ndarray | None = None) -> np.ndarray:
    """Seeded normal(0, 0.02) float32 weights [N, K] (or only rows ``rows = (r0, r1)`` of them, into
    ``out`` if given): a counter-based stream keyed by (seed, tag) (splitmix64 words through a
    65536-bin inverse-CDF table, :func:`.kernels.normal_fill`; element (r, c) depends on seed, tag and
    r * K + c only, so row blocks generated apart equal the whole matrix)."""
    r0, r1 = rows if rows is not None else (0, N)
    if not 0 <= r0 <= r1 <= N:
        raise SimError(f"synthetic weights: rows {rows!r} outside 0..{N}")
    key = np.uint64(int.from_bytes(hashlib.sha256(f"{int(seed)}:{tag}".encode()).digest()[:8], "little"))
    if out is None:
        out = np.empty((r1 - r0, K), np.float32)
    elif out.shape != (r1 - r0, K) or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise SimError(f"synthetic weights: out must be C-contiguous float32 {(r1 - r0, K)}")
    normal_fill(key, r0 * K, *_normal_tables(0.02), out)
    return out


def int8_per_channel(w: np.ndarray) -> np.ndarray:
    w = np.asarray(w, np.float64)
    amax = np.abs(w).max(axis=1, keepdims=True)
    scale = np.where(amax > 0, amax / 127.0, 1.0)
    return np.clip(np.round(w / scale), -128, 127).astype(np.int64)


@dataclass
class BitModLayerWeights:
    codes: np.ndarray      # [N, Kp] uint8
    meta: np.ndarray       # [N, Kp / g] uint8
    scales: np.ndarray     # [N, Kp / g] uint8 (8-bit group scales)
    lut: np.ndarray        # [n_meta, 256] term counts
    levels: np.ndarray     # [n_meta, 256] integer levels
    int_table: bool
    bits_per_weight: float


#: rows of synthetic weights generated and quantized at a time (a few MB, so the float32 weights of a
#: whole layer are never materialised)
_CHUNK_ELEMS = 1 << 21


def bitmod_prepare(w, fmt: str, group_size: int, shape: tuple[int, int] | None = None) -> BitModLayerWeights:
    """Quantize a layer's weights with :mod:`datatypes` for the BitMoD PE. ``w``: float array [N, K],
    or a function ``rows(r0, r1) -> float32 [r1 - r0, K]`` with ``shape = (N, K)``: then quantized in
    row blocks (the quantizers are row-independent: groups lie along K, double quantization is per row)."""
    import datatypes as dt
    if callable(w):
        if shape is None:
            raise SimError("bitmod_prepare: a row function needs shape=(N, K)")
        N, K = shape
        fn = w
    else:
        N, K = w.shape
        fn = None
    Kp = -(-K // group_size) * group_size
    ng = Kp // group_size
    step = max(1, N) if fn is None else max(1, _CHUNK_ELEMS // max(1, Kp))
    codes = np.empty((N, Kp), np.uint8)
    meta = np.zeros((N, ng), np.uint8)
    scales = np.empty((N, ng), np.int64)
    q = None
    for r0 in range(0, max(N, 1), step):
        r1 = min(N, r0 + step)
        wc = w if fn is None else fn(r0, r1)
        if Kp != K:
            wc = np.concatenate([wc, np.zeros((r1 - r0, Kp - K), wc.dtype)], axis=1)
        q = dt.quantize(wc, _BITMOD_DT[fmt], group_size=group_size, double_quant=True)
        codes[r0:r1] = q.codes
        if q.meta is not None:
            meta[r0:r1] = q.meta
        scales[r0:r1] = q.scales
    f = q.format
    n_meta = max(1, int(getattr(f, "n_meta", 1)))
    levels = np.zeros((n_meta, 256), np.int64)
    for m in range(n_meta):
        v = np.asarray(f.code_values(m), np.float64)
        v = np.where(np.isfinite(v), v, 0)          # codes the format never produces
        if not np.all(v == np.round(v)):
            raise SimError(f"format {fmt}: non-integer levels; the BitMoD PE needs integer levels")
        levels[m, : v.size] = v.astype(np.int64)
    int_table = fmt.startswith("int")
    lut = pe_model.bitmod_terms(levels, int_table, _FMT_BITS[fmt] + (0 if not int_table else 0)).astype(np.int64)
    bpw = _FMT_BITS[fmt] + (8 + int(getattr(f, "meta_bits", 0))) / group_size
    return BitModLayerWeights(codes, meta, scales, lut, levels, int_table, bpw)


def kv_prepare(wi: np.ndarray, bits: int, group_size: int) -> BitModLayerWeights:
    """KV cache as ``bits``-bit integers on the BitMoD PE: radix-4 Booth terms of each value (the
    INT path of the decoder), one 8-bit scale per group. Code = value + 2**(bits-1)."""
    N, K = wi.shape
    Kp = -(-K // group_size) * group_size
    if Kp != K:
        wi = np.concatenate([wi, np.zeros((N, Kp - K), wi.dtype)], axis=1)
    half = 1 << (bits - 1)
    if wi.min() < -half or wi.max() >= half:
        raise SimError(f"KV values outside INT{bits}")
    codes = (wi + half).astype(np.uint8)
    levels = np.zeros((1, 256), np.int64)
    levels[0, : 2 * half] = np.arange(-half, half)
    lut = pe_model.booth4_terms(levels, bits)
    lut[0, 2 * half:] = 0
    return BitModLayerWeights(np.ascontiguousarray(codes), np.zeros((N, Kp // group_size), np.uint8),
                              np.ones((N, Kp // group_size), np.int64), lut.astype(np.int64), levels, True,
                              bits + 8 / group_size)


@dataclass
class BitVertLayerWeights:
    stored: np.ndarray     # [N, Kp] int64 (the integers the PE multiplies)
    offsets: np.ndarray    # [N, Kp / 16]
    values: np.ndarray     # [N, Kp] pruned integers (stored - offset)
    cycles: np.ndarray     # [N, Kp / 16] per-group PE cycles
    bits_per_weight: float


def bitvert_prepare(wi: np.ndarray, pruning: str, n_pruned: int, outlier_fraction: float) -> BitVertLayerWeights:
    from datatypes import bbs
    N, K = wi.shape
    Kp = -(-K // 16) * 16
    if Kp != K:
        wi = np.concatenate([wi, np.zeros((N, Kp - K), wi.dtype)], axis=1)
    stored = wi.astype(np.int64).copy()
    offsets = np.zeros((N, Kp // 16), np.int64)
    bits = np.full(N, 8.0)
    if pruning != "none" and n_pruned > 0:
        n_out = int(round(outlier_fraction * N))
        order = np.argsort(-np.abs(wi).max(axis=1), kind="stable")
        rows = np.sort(order[n_out:])
        if rows.size:
            p = bbs.prune(wi[rows], pruning, bits=8, group_size=16, n_pruned=n_pruned)
            stored[rows] = np.asarray(p.stored, np.int64)
            offsets[rows] = np.asarray(p.offsets, np.int64).reshape(rows.size, Kp // 16)
            enc = p.encode()
            bits[rows] = enc.total_bits / (rows.size * Kp)
    values = stored - np.repeat(offsets, 16, axis=1)
    cyc, _, _ = pe_model.bitvert_group_info(stored.reshape(N, -1, 16), offsets)
    return BitVertLayerWeights(stored, offsets, values, cyc.astype(np.int64), float(bits.mean()))


# ---- results ------------------------------------------------------------------------------------------
@dataclass
class BitSerialResult:
    design: Any               #: the Design (``hwsim.report.write_run`` writes its resolved YAML)
    design_hash: str
    workload: str
    mode: str
    stats: dict
    layers: list
    compat: dict | None = None
    compat_name: str | None = None

    def to_dict(self) -> dict:
        d = dict(design=self.design_name, design_hash=self.design_hash, workload=self.workload, mode=self.mode,
                 stats=self.stats, layers=self.layers)
        if self.compat is not None:
            d["compat"] = self.compat
            d["compat_name"] = self.compat_name
        return d

    @property
    def design_name(self) -> str:
        return getattr(self.design, "name", str(self.design))

    def layer_rows(self):
        if self.compat is not None and self.mode == "compat":
            header = ["name", "tiles", "cycle_compute", "cycle_dram", "w_bytes", "i_bytes", "o_bytes",
                      "refetch_w", "refetch_i"]
            rows = [[r["name"], r["tiles"], r["cycle_compute"], r["cycle_dram"], r["w_bytes"], r["i_bytes"],
                     r["o_bytes"], r["refetch"][0], r["refetch"][1]] for r in self.compat["layers"]]
            return header, rows
        header = ["name", "kind", "M", "N", "K", "repeat", "row_tiles", "token_tiles", "cycles", "analytical_cycles",
                  "dram_cycles_est", "bits_per_weight", "row_imbalance", "lane_imbalance"]
        rows = [[l[h] for h in header] for l in self.layers]
        return header, rows

    def render(self) -> str:
        s = self.stats
        out = [f"design {self.design_name} ({self.design_hash})  workload {self.workload}  mode {self.mode}"]
        if self.compat is not None:
            c = self.compat
            out.append(f"compat {self.compat_name}: {c['simulator']}")
            out.append(f"  cycle_compute {c['cycle_compute']}  cycle_total {c['cycle_total']}")
            e = c["energy"]
            for k in ("compute", "sram_rd", "sram_wr", "dram"):
                v = e.get(k)
                out.append(f"  energy {k:8s} " + ("n/a (memory configuration not in the CACTI table)" if v is None
                                                   else f"{v / 1e6:.6f} uJ"))
            if "split" in c:
                for t, v in c["split"].items():
                    out.append(f"  {t:9s} compute {v['compute']}  dram {v['dram']}")
            out.append(f"  layers: {len(c['layers'])}")
            return "\n".join(out)
        out.append(f"cycles (counted, cycle-level): {s['cycles']}")
        out.append(f"analytical upper bound:        {s['analytical_cycles']}")
        out.append(f"DRAM cycles (estimate):        {s['dram_cycles_est']}   roofline total (estimate): "
                   f"{s['total_cycles_est']}")
        out.append("cycles by layer type:")
        for k, v in s["cycles_by_kind"].items():
            out.append(f"  {k:11s} {v}")
        out.append(f"effective bits per weight: {s['bits_per_weight']:.4f}")
        out.append(f"effective / total lane-cycles: {s['effective_ops']} / {s['total_ops']}"
                   f" ({s['utilisation'] * 100:.2f} %)")
        out.append(f"row imbalance (rows waiting for the slowest row): {s['row_imbalance'] * 100:.2f} %")
        if s["pe"] == "bitmod":
            out.append(f"intra-PE lane imbalance (lanes idle while the slowest lane's terms run): "
                       f"{s['lane_imbalance'] * 100:.2f} %")
        else:
            out.append("intra-PE lane imbalance: none (a BitVert PE takes one bit column of all 16 lanes per cycle)")
        e = s["energy_est_pj"]
        out.append("energy (estimate, pJ): " + ", ".join(f"{k} {v:.4g}" for k, v in e.items()))
        out.append(f"{'layer':14s} {'M':>6s} {'N':>6s} {'K':>6s} {'rep':>5s} {'cycles':>14s} {'bound':>14s}")
        for l in self.layers:
            out.append(f"{l['name']:14s} {l['M']:6d} {l['N']:6d} {l['K']:6d} {l['repeat']:5d} {l['cycles']:14d} "
                       f"{l['analytical_cycles']:14d}")
        return "\n".join(out)


# ---- the simulator ------------------------------------------------------------------------------------
class BitSerialSim:
    def __init__(self, design):
        self.design = design
        self.arr = design.array
        self.w = design.weights

    # -- compat --
    def _compat(self, workload: str, compat: str) -> dict:
        cm = getattr(self.design, "compat", None)
        if compat.startswith("bitmod-"):
            a = _llm_args(workload)
            commit = compat.split("-", 1)[1]
            bd = cm.bitmod_design if cm is not None else "bitmod"
            if bd == "design":
                e = self.design.energy
                bits = _FMT_BITS.get(self.w.format, 8) + 8 / self.w.group_size
                cfg = compat_bitmod.BitModConfig(a["model"], bits, self.w.kv_bits, 16, a["batch"], a["seq"], a["gen"],
                                                 True, 4 if self.arr.pe == "bitmod" else 16, e.pe_pj,
                                                 e.pe_area_um2, (self.arr.rows, self.arr.cols))
            else:
                cfg = compat_bitmod.preset(commit, bd, a["model"], a["gen"], batch_size=a["batch"], cxt_len=a["seq"])
            return compat_bitmod.simulate(commit, cfg)
        head, _, model = workload.partition(":")
        if head.strip().lower() != "bitsim" or model.strip() not in bwl.BITSIM_MODELS:
            raise SimError(f"workload {workload!r}: --compat bitsim takes bitsim:<model>; models: "
                           f"{', '.join(bwl.BITSIM_MODELS)}")
        return run_bitsim_model(model.strip(), cm.bitsim_design if cm else "bitvert",
                                cm.bitvert_mode if cm else "ol_eager", cm.bitwave_bits if cm else 6,
                                (self.arr.rows, self.arr.cols))

    def run(self, workload: str, mode: str = "auto", compat: str | None = None, seed: int = 0) -> BitSerialResult:
        from ..layers import check_seed
        check_seed(seed)       # an integer 0..2**32-1, as --seed
        if mode not in MODES:
            raise SimError(f"mode = {mode!r}: allowed: {', '.join(MODES)}")
        name, h = self.design, _design_hash(self.design)
        if compat is not None:
            if compat not in COMPAT:
                raise SimError(f"compat = {compat!r}: allowed: {', '.join(COMPAT)}")
            c = self._compat(workload, compat)
            stats = dict(cycles=c["cycle_total"], cycle_compute=c["cycle_compute"], energy_pj=c["energy"])
            layers = [dict(name=r["name"], cycles=max(r["cycle_compute"], r["cycle_dram"]), **{
                k: r[k] for k in ("tiles", "cycle_compute", "cycle_dram", "w_bytes", "i_bytes", "o_bytes", "refetch")})
                for r in c["layers"]]
            return BitSerialResult(name, h, workload, "compat", stats, layers, c, compat)
        self._real = {}
        head, _, body = workload.partition(":")
        if head.strip().lower() == "minilm":
            net = self._minilm(workload, body)
        else:
            net = network_of(workload)
        if mode == "auto":
            unique = sum(g.N * g.K for g in net.layers)
            mode = "cycle" if unique <= AUTO_CYCLE_WEIGHTS else "analytical"
        return self._run_network(net, workload, mode, seed)

    def _minilm(self, workload: str, body: str):
        """``minilm[:seq=N]``: the bundled all-MiniLM-L6-v2's Linear layers with their real weights."""
        from .. import weights as W
        from ..workloads import Gemm, network
        seq = 128
        for p in [x.strip() for x in body.split(",") if x.strip()]:
            k, _, v = p.partition("=")
            if k.strip() != "seq" or not v.strip().isdigit() or int(v) < 1:
                raise SimError(f"workload {workload!r}: minilm takes seq=N (N >= 1)")
            seq = int(v)
        ws = W.linear_weights(W.read_tensors(W.bundled_model()))
        layers = []
        for n, w in ws.items():
            short = (n.replace("encoder.layer.", "L").replace(".weight", "").replace("attention.output.dense", "attn_out")
                     .replace("attention.self.", "").replace("intermediate.dense", "ffn_up")
                     .replace("output.dense", "ffn_down"))
            if short in self._real:
                raise SimError(f"minilm: two layers named {short!r}")
            kind = "ffn" if "ffn" in short else "projection"
            layers.append(Gemm(seq, w.shape[0], w.shape[1], short, 1, kind, workload))
            self._real[short] = np.asarray(w, np.float32)
        return network(layers, "minilm")

    def layer_weights(self, g, seed: int):
        """The layer's weights quantized for this design's PE: real ones (``minilm``) or seeded synthetic
        ones (normal(0, 0.02); attention: the KV cache as seeded integers)."""
        N, K = g.N, g.K
        real = getattr(self, "_real", {}).get(g.name)
        if real is not None and real.shape != (N, K):
            raise SimError(f"layer {g.name!r}: real weights {real.shape} do not match N x K = {N} x {K}")
        if g.kind == "attention":
            rng = np.random.default_rng([seed, len(g.name), N, K])
            b = self.w.kv_bits
            wi = np.clip(np.round(rng.normal(0, 2 ** (b - 3), size=(N, K))), -2 ** (b - 1), 2 ** (b - 1) - 1)
            wf = wi.astype(np.float32)
        elif real is not None or self.arr.pe != "bitmod":
            wf = real if real is not None else synthetic_weights(N, K, seed, g.name)
            wi = None
        if self.arr.pe == "bitmod":
            if g.kind == "attention":
                return kv_prepare(wi.astype(np.int64), self.w.kv_bits, self.w.group_size)
            if real is not None:
                return bitmod_prepare(wf, self.w.format, self.w.group_size)
            buf = {}

            def rows(r0, r1):                # synthetic rows block by block, into one reused buffer
                if buf.get("a") is None or buf["a"].shape[0] != r1 - r0:
                    buf["a"] = np.empty((r1 - r0, K), np.float32)
                return synthetic_weights(N, K, seed, g.name, (r0, r1), buf["a"])
            return bitmod_prepare(rows, self.w.format, self.w.group_size, (N, K))
        if wi is None:
            wi = int8_per_channel(wf)
        return bitvert_prepare(wi.astype(np.int64), self.w.pruning if g.kind != "attention" else "none",
                               self.w.n_pruned, self.w.outlier_fraction)

    def layer_cycles(self, lw, K: int, analytical: bool):
        rows = self.arr.rows
        stats = np.zeros(4, np.int64)
        if isinstance(lw, BitModLayerWeights):
            N = lw.codes.shape[0]
            tiles = np.zeros(-(-N // rows), np.int64)
            if analytical:
                mx = int(lw.lut.max())
                S = lw.codes.shape[1] // 4
                tiles[:] = 1 + max(1, mx) * S + 8 * (lw.codes.shape[1] // self.w.group_size)
                return tiles, None
            bitmod_tile_cycles(lw.codes, lw.meta, lw.lut.astype(np.int64), self.w.group_size, rows, tiles, stats)
            return tiles, stats
        N = lw.stored.shape[0]
        tiles = np.zeros(-(-N // rows), np.int64)
        if analytical:
            tiles[:] = 1 + 9 * lw.cycles.shape[1]
            return tiles, None
        bitvert_tile_cycles(lw.cycles, rows, tiles, stats)
        return tiles, stats

    def analytical_layer(self, g):
        """Upper bound of every row tile without weights: every step at the format's worst case
        (BitMoD: the table's most terms; BitVert: 8 columns + the constant), and the nominal bits/weight."""
        rows = self.arr.rows
        R = -(-g.N // rows)
        if self.arr.pe == "bitmod":
            gsz = self.w.group_size
            Kp = -(-g.K // gsz) * gsz
            if g.kind == "attention":
                mx = self.w.kv_bits // 2
                bpw = self.w.kv_bits + 8 / gsz
            else:
                mx, meta_bits = _format_max_terms(self.w.format)
                bpw = _FMT_BITS[self.w.format] + (8 + meta_bits) / gsz
            return np.full(R, 1 + max(1, mx) * (Kp // 4) + 8 * (Kp // gsz), np.int64), bpw
        G = -(-g.K // 16)
        pruned = self.w.pruning != "none" and g.kind != "attention"
        bpw = 8.0 if not pruned else (8 - self.w.n_pruned) * (1 - self.w.outlier_fraction) + 8 * self.w.outlier_fraction
        return np.full(R, 1 + 9 * G, np.int64), bpw

    def _run_network(self, net, workload: str, mode: str, seed: int) -> BitSerialResult:
        rows, cols = self.arr.rows, self.arr.cols
        lanes = 4 if self.arr.pe == "bitmod" else 16
        e = self.design.energy
        m = self.design.memory
        layers = []
        tot = dict(cycles=0, analytical=0, dram=0, total=0, eff=0, slots=0, own=0, mx=0, lane_own=0, lane_terms=0,
                   wbits=0.0, nweights=0)
        by_kind: dict[str, int] = {}
        for g in net.layers:
            tiles_a, bpw = self.analytical_layer(g)
            tiles_c = st = None
            if mode == "cycle":
                lw = self.layer_weights(g, seed)
                tiles_c, st = self.layer_cycles(lw, g.K, analytical=False)
                bpw = lw.bits_per_weight
            tok = -(-g.M // cols)
            cyc_a = int(tiles_a.sum()) * tok * g.repeat
            cyc = int(tiles_c.sum()) * tok * g.repeat if tiles_c is not None else cyc_a
            w_bytes = g.N * g.K * bpw / 8
            a_bytes = g.activation_elements * (2 if self.arr.pe == "bitmod" else 1)
            o_bytes = g.M * g.N * 2
            dram = int(math.ceil((w_bytes + a_bytes + o_bytes) * 8 / m.dram_bits_per_cycle)) * g.repeat
            row_imb = lane_imb = 0.0
            if st is not None:
                own, mxs = int(st[0]), int(st[1])
                row_imb = 1 - own / mxs if mxs else 0.0
                if self.arr.pe == "bitmod":
                    lane_imb = 1 - int(st[2]) / int(st[3]) if st[3] else 0.0
                tot["own"] += own * tok * g.repeat
                tot["mx"] += mxs * tok * g.repeat
                tot["lane_terms"] += int(st[2]) * tok * g.repeat
                tot["lane_own"] += int(st[3]) * tok * g.repeat
            layers.append(dict(name=g.name, kind=g.kind, M=g.M, N=g.N, K=g.K, repeat=g.repeat,
                               row_tiles=int(tiles_a.size), token_tiles=tok, cycles=cyc, analytical_cycles=cyc_a,
                               dram_cycles_est=dram, bits_per_weight=round(bpw, 6), row_imbalance=round(row_imb, 6),
                               lane_imbalance=round(lane_imb, 6)))
            tot["cycles"] += cyc
            tot["analytical"] += cyc_a
            tot["dram"] += dram
            tot["total"] += max(cyc, dram)
            tot["wbits"] += bpw * g.N * g.K * g.repeat
            tot["nweights"] += g.N * g.K * g.repeat
            by_kind[g.kind] = by_kind.get(g.kind, 0) + cyc
        npe = rows * cols
        pe_e = e.pe_pj * 1.5 * npe * tot["cycles"]
        act_bits = 16 if self.arr.pe == "bitmod" else 8
        # SRAM traffic (estimate): every tile reads its rows' weights once per token tile and its
        # columns' activations once per row tile; every layer writes its weights, inputs and outputs once
        rd_bits = wr_bits = dram_bits = 0.0
        for l in layers:
            wbits = l["N"] * l["K"] * l["bits_per_weight"]
            rd_bits += (wbits * l["token_tiles"] + l["M"] * l["K"] * act_bits * l["row_tiles"]) * l["repeat"]
            wr_bits += (wbits + l["M"] * l["K"] * act_bits + l["M"] * l["N"] * 16) * l["repeat"]
            dram_bits += wbits * l["repeat"]
        dram_e = dram_bits * e.dram_pj_per_bit
        if self.arr.pe == "bitmod":
            eff, slots = tot["lane_terms"], tot["lane_own"]
        else:
            eff, slots = tot["own"], tot["mx"]
        stats = dict(cycles=tot["cycles"], analytical_cycles=tot["analytical"], dram_cycles_est=tot["dram"],
                     total_cycles_est=tot["total"], cycles_by_kind=by_kind,
                     bits_per_weight=tot["wbits"] / max(1, tot["nweights"]),
                     effective_ops=int(eff), total_ops=int(slots), utilisation=(eff / slots if slots else 0.0),
                     row_imbalance=(1 - tot["own"] / tot["mx"]) if tot["mx"] else 0.0,
                     lane_imbalance=(1 - tot["lane_terms"] / tot["lane_own"]) if tot["lane_own"] else 0.0,
                     energy_est_pj=dict(compute=pe_e, sram_read=rd_bits * e.sram_read_pj_per_bit,
                                        sram_write=wr_bits * e.sram_write_pj_per_bit, dram_weights=dram_e),
                     pe=self.arr.pe, lanes=lanes, rows=rows, cols=cols)
        return BitSerialResult(self.design, _design_hash(self.design), workload, mode, stats, layers)


def run_bitsim_model(model: str, design: str, bitvert_mode: str = "ol_eager", bitwave_bits: int = 6,
                     dims=(32, 16), seed: int = 0) -> dict:
    """One of BitSim's designs on a model of :mod:`.bitsim_workloads`, configured as its test scripts."""
    layers = bwl.parse_matmul_json(bwl.matmul_json(model))
    weights = {k: (v.T if v.ndim == 2 else v) for k, v in bwl.bitsim_weights(model, seed).items()}
    opts: dict[str, Any] = {}
    dp = 16
    if design == "bitvert":
        opts = {"no_bbs": dict(en_bbs=False), "bbs": dict(en_bbs=True), "lsb": dict(en_bbs=True, en_lsb_pruning=True),
                "ol_eager": dict(en_bbs=True, en_ol_channel=True, en_eager_compression=True),
                "ol": dict(en_bbs=True, en_ol_channel=True, en_eager_compression=False)}[bitvert_mode]
        if opts.get("en_ol_channel"):
            opts["nonzero_channels"] = bwl.outlier_channels(model, bool(opts.get("en_eager_compression")), seed)
    elif design in ("pragmatic", "bitwave"):
        dp = 8
    elif design == "bitlet":
        dp = 32
    ps = bitwave_bits if design == "bitwave" else 8
    if design == "bitwave":
        opts = dict(en_bitflip=True, en_config_dataflow=False)
    cfg = compat_bitsim.BitSimConfig(design, model, ps, 8, dp, tuple(dims), opts)
    return compat_bitsim.simulate(cfg, layers, weights)


def _format_max_terms(fmt: str) -> tuple[int, int]:
    """(most terms of any level of the format's tables, selector bits)."""
    import datatypes as dt
    q = dt.quantize(np.ones((1, 4), np.float32), _BITMOD_DT[fmt], group_size=4, double_quant=True)
    f = q.format
    n_meta = max(1, int(getattr(f, "n_meta", 1)))
    mx = 0
    for m in range(n_meta):
        v = np.asarray(f.code_values(m), np.float64)
        v = np.where(np.isfinite(v), v, 0).astype(np.int64)
        mx = max(mx, int(pe_model.bitmod_terms(v, fmt.startswith("int"), _FMT_BITS[fmt]).max()))
    return mx, int(getattr(f, "meta_bits", 0))


def build(design) -> BitSerialSim:
    """A simulator for a bitserial design (a Design, a YAML path, or a mapping)."""
    from .. import for_kind

    return BitSerialSim(for_kind(design, "bitserial"))
