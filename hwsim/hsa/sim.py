"""The HSA simulator: ``build(design).run(workload, mode, compat, seed) -> HSAResult``.

Workloads::

    llm:<preset>,seq=S,phase=prefill       prefill GEMMs on the systolic array (hwsim.systolic) + RMSNorm/RoPE
    llm:<preset>,seq=S,phase=decode        one token: GEMV mode per layer (S tokens of context) + units
    llm:<preset>,phase=e2e,input=I,output=O   prefill of I tokens, then O decode steps (context I .. I+O-1)
    llm:<preset>,scenario=liso|silo        e2e with the lengths of SCENARIOS (assumed, docs/hsa.md)
    gemm:M,N,K                             one GEMM on the prefill array
    gemv:N,K[,M]                           one MXINT4 GEMV (M activation rows) in the decode mode

Modes: ``cycle`` advances the decode mode's clock (``timing.decode_cycles_stepped``) and runs the
functional models (GEMV lanes, RMSNorm, RoPE) on seeded data against their numpy references (verdicts
computed in the run); the prefill array runs in the systolic kind's own cycle mode. ``analytical``
uses the closed forms (equal to the stepped clock by test). ``auto``: cycle when the decode clock has
at most AUTO_CYCLES cycles; e2e scenarios use the closed forms for their decode steps.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..design import Design
from ..layers import Gemm, Network, WorkloadError, check_seed, network
from ..report import format_table
from ..workloads import parse as parse_workload
from . import timing
from .prefill import prefill_design
from .spec import beat_bits, decode_lanes

MODES = ("auto", "cycle", "analytical")
#: mode auto steps the decode clock when one decode pass has at most this many cycles
AUTO_CYCLES = 60_000_000
#: the cycle mode checks the GEMV lanes on seeded weights: the first outputs of a layer (all of K), at
#: most this many weights
FUNCTIONAL_MAX_WEIGHTS = 1 << 20
#: long-input / long-output scenario lengths (ASSUMED: the paper's lengths were not readable)
SCENARIOS = {"liso": (1024, 64), "silo": (64, 1024)}
#: the paper's abstract: tokens/s/mm^2 for a 1.3B model, long input / long output
PAPER_TOKENS_PER_S_MM2 = {"liso": 247.0, "silo": 117.0}
WEIGHT_KINDS = ("projection", "ffn", "head", "gemv")


@dataclass
class LayerRow:
    name: str
    stage: str                  #: prefill (systolic array) | decode (GEMV lanes) | rmsnorm | rope
    M: int
    N: int
    K: int
    repeat: int
    cycles: int                 #: all repeats
    macs: int
    pes: int                    #: PEs the stage uses
    dram_bytes: float           #: streamed from DRAM (decode: exact count of the beats; prefill: estimate)
    verified: bool | None = None
    #: decode: sum over instances of max(streamed bytes / DRAM bytes per cycle, MACs / decode PEs) -- the
    #: roofline the stepped model refines (latencies, lock step, whole beats)
    roofline_cycles: float = 0.0

    @property
    def utilization(self) -> float:
        return self.macs / (self.pes * self.cycles) if self.pes and self.cycles else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "stage": self.stage, "M": self.M, "N": self.N, "K": self.K,
                "repeat": self.repeat, "cycles": self.cycles, "macs": self.macs, "pes": self.pes,
                "utilization": self.utilization, "dram_bytes": self.dram_bytes,
                "roofline_cycles": self.roofline_cycles, "verified": self.verified}


@dataclass
class HSAResult:
    design: Design
    workload: str
    mode: str
    rows: list[LayerRow]
    tokens: int                        #: tokens the workload processes (prefill: input; decode: batch; e2e: I + O)
    generated: int                     #: tokens generated (decode steps)
    area_mm2: float
    extra: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def cycles(self) -> int:
        return sum(r.cycles for r in self.rows)

    @property
    def time_s(self) -> float:
        return self.cycles / (self.design.clock_mhz * 1e6)

    @property
    def verified(self) -> bool | None:
        v = [r.verified for r in self.rows if r.verified is not None]
        return None if not v else all(v)

    def stage_cycles(self, stage: str) -> int:
        return sum(r.cycles for r in self.rows if r.stage == stage)

    @property
    def stats(self) -> dict[str, Any]:
        d = self.design
        macs = sum(r.macs for r in self.rows)
        dec = [r for r in self.rows if r.stage == "decode"]
        t = self.time_s
        out = {"cycles": self.cycles, "time_us": self.cycles / d.clock_mhz, "macs": macs,
               "prefill_cycles": self.stage_cycles("prefill"), "decode_cycles": self.stage_cycles("decode"),
               "rmsnorm_cycles": self.stage_cycles("rmsnorm"), "rope_cycles": self.stage_cycles("rope"),
               "decode_lanes": decode_lanes(d), "decode_pes": decode_lanes(d) * d.decode.lane_width,
               "array_pes": d.array.rows * d.array.cols,
               "decode_utilization": (sum(r.macs for r in dec) / sum(r.pes * r.cycles for r in dec)) if dec else None,
               "decode_roofline_cycles": sum(r.roofline_cycles for r in dec) if dec else None,
               "utilization": macs / (d.array.rows * d.array.cols * self.cycles) if self.cycles else 0.0,
               "dram_bytes": sum(r.dram_bytes for r in self.rows),
               "tokens": self.tokens, "generated_tokens": self.generated,
               "tokens_per_s": self.tokens / t if t else None,
               "generated_tokens_per_s": self.generated / t if t and self.generated else None,
               "area_mm2_estimate": self.area_mm2, "area_source": d.area.source,
               "verified": self.verified}
        out["tokens_per_s_per_mm2_estimate"] = (out["tokens_per_s"] / self.area_mm2) if out["tokens_per_s"] else None
        out.update(self.extra)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "hsa", "design": self.design.name, "design_hash": self.design.hash,
                "workload": self.workload, "mode": self.mode, "seconds": self.seconds, "stats": self.stats,
                "notes": self.notes, "layers": [r.to_dict() for r in self.rows]}

    def layer_rows(self) -> tuple[list[str], list[list[Any]]]:
        header = ["layer", "stage", "M", "N", "K", "repeat", "cycles", "roofline_cycles", "macs", "pes", "utilization",
                  "dram_bytes", "verified"]
        return header, [[r.name, r.stage, r.M, r.N, r.K, r.repeat, r.cycles, r.roofline_cycles, r.macs, r.pes,
                         r.utilization, r.dram_bytes, r.verified] for r in self.rows]

    def render(self) -> str:
        s = self.stats
        d = self.design
        yn = {True: "yes", False: "NO", None: "-"}
        lines = [(f"design {d.name} (kind hsa, {d.array.rows}x{d.array.cols} array, {s['decode_lanes']} GEMV lanes x "
                  f"{d.decode.lane_width} = {s['decode_pes']} decode PEs, {d.memory.dram_bytes_per_cycle:g} B/cycle DRAM, "
                  f"{d.clock_mhz:g} MHz)"),
                 f"workload {self.workload}  mode {self.mode}"]
        merged: dict[tuple, list] = {}
        for r in self.rows:                        # e2e: one line per (layer, stage), summed over steps
            k = (r.name, r.stage)
            if k not in merged:
                merged[k] = [r.name, r.stage, 0, 0, 0, 0.0, []]
            m = merged[k]
            m[2] += r.repeat
            m[3] += r.cycles
            m[4] += r.macs
            m[5] += r.dram_bytes
            m[6].append(r)
        rows = []
        for name, stage, rep, cyc, macs, dram, rs in merged.values():
            pes = rs[0].pes
            v = [x.verified for x in rs if x.verified is not None]
            util = f"{100 * macs / (pes * cyc):.1f}" if macs and pes and cyc else "-"
            rows.append([name, stage, f"{rep:,}", f"{cyc:,}", util,
                         f"{dram / 1e6:.3f}", yn[None if not v else all(v)]])
        lines.append(format_table(["layer", "stage", "instances", "cycles", "util %", "DRAM MB", "bit-exact"], rows))
        lines.append(f"total {s['cycles']:,} cycles = {s['time_us'] / 1e3:.3f} ms: prefill array {s['prefill_cycles']:,}, "
                     f"decode GEMV {s['decode_cycles']:,}, RMSNorm {s['rmsnorm_cycles']:,}, RoPE {s['rope_cycles']:,}")
        if s["decode_utilization"] is not None:
            lines.append(f"decode GEMV utilisation {100 * s['decode_utilization']:.2f} % of {s['decode_pes']} PEs; "
                         f"roofline sum of max(bytes / DRAM B per cycle, MACs / PEs) = "
                         f"{s['decode_roofline_cycles']:,.0f} cycles (model / roofline "
                         f"{s['decode_cycles'] / s['decode_roofline_cycles']:.4f})")
        if s["tokens_per_s"]:
            lines.append(f"tokens {s['tokens']:,} ({s['generated_tokens']:,} generated): {s['tokens_per_s']:.2f} "
                         f"tokens/s; area {s['area_mm2_estimate']:.3f} mm^2 (estimate, {s['area_source']}): "
                         f"{s['tokens_per_s_per_mm2_estimate']:.2f} tokens/s/mm^2 (estimate)")
        else:
            lines.append(f"area {s['area_mm2_estimate']:.3f} mm^2 (estimate, {s['area_source']})")
        if "paper_tokens_per_s_per_mm2" in s:
            lines.append(f"paper (abstract, 1.3B model, {s['scenario']}): {s['paper_tokens_per_s_per_mm2']:g} tokens/s/mm^2; "
                         f"this model / paper = {s['tokens_per_s_per_mm2_estimate'] / s['paper_tokens_per_s_per_mm2']:.3f}")
        lines.append(f"functional models bit-exact with their numpy references: {yn[self.verified]}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


# ---- the simulator ---------------------------------------------------------------------------------
class HSASim:
    def __init__(self, design: Design):
        self.design = design
        self.lanes = decode_lanes(design)
        self.pes_decode = self.lanes * design.decode.lane_width
        self.area_mm2 = area_mm2(design)
        self._prefill = None

    @property
    def prefill_sim(self):
        if self._prefill is None:
            from ..systolic.sim import build as build_systolic

            self._prefill = build_systolic(prefill_design(self.design))
        return self._prefill

    # -- decode ------------------------------------------------------------------------------------
    def beat(self, layer: Gemm) -> int:
        if layer.kind == "attention":
            return beat_bits(self.design, self.design.decode.kv_bits)
        return beat_bits(self.design)

    def decode_layer(self, layer: Gemm, stepped: bool) -> LayerRow:
        d = self.design
        args = (layer.N, layer.K, layer.M, d.decode.lane_width, self.lanes, self.beat(layer),
                d.memory.dram_bits_per_cycle, d.memory.dram_latency, d.decode.lane_latency)
        one = timing.decode_cycles_stepped(*args) if stepped else timing.decode_cycles(*args)
        beats, _ = timing.decode_steps(layer.N, layer.K, d.decode.lane_width, self.lanes)
        nbytes = beats * self.beat(layer) / 8
        roof = max(nbytes / d.memory.dram_bytes_per_cycle, layer.M * layer.N * layer.K / self.pes_decode)
        return LayerRow(layer.name, "decode", layer.M, layer.N, layer.K, layer.repeat, one * layer.repeat,
                        layer.macs, self.pes_decode, nbytes * layer.repeat, roofline_cycles=roof * layer.repeat)

    def check_gemv(self, layer: Gemm, seed: int) -> bool | None:
        """Seeded MXINT4 weights of this layer's shape through the GEMV model and its numpy reference."""
        import datatypes as dt

        from ..pe.model import pe_format
        from .functional import gemv_mxint4, gemv_mxint4_reference

        if layer.kind not in WEIGHT_KINDS or layer.K > FUNCTIONAL_MAX_WEIGHTS:
            return None
        K, Kp = layer.K, -(-layer.K // 32) * 32       # a partial last MX block: the lane takes the whole
        n = min(layer.N, FUNCTIONAL_MAX_WEIGHTS // Kp)  # block, zero codes and zero activations beyond K
        rng = np.random.default_rng(seed)
        q = dt.quantize((rng.standard_normal((n, K)) * 0.02).astype(np.float32), "mxint4")
        w_codes = np.zeros((n, Kp), np.uint8)
        w_codes[:, :K] = q.codes
        afmt = pe_format(self.design.operands.activation)
        codes = np.flatnonzero(afmt.valid)
        dec = self.design.decode
        ok = True
        for m in range(min(layer.M, 2)):
            x = np.zeros(Kp, np.int64)
            x[:K] = afmt.decode[rng.choice(codes, K)]
            ok &= np.array_equal(gemv_mxint4(w_codes, q.scales, x, dec.acc_bits, dec.acc_frac_bits),
                                 gemv_mxint4_reference(w_codes, q.scales, x, dec.acc_bits, dec.acc_frac_bits))
        return bool(ok)

    # -- units -------------------------------------------------------------------------------------
    def unit_rows(self, shape: dict[str, int], tokens: int, verify: bool, seed: int) -> list[LayerRow]:
        d = self.design
        L, hidden, hd = shape["layers"], shape["hidden"], shape["head_dim"]
        pairs = (shape["heads"] + shape["kv_heads"]) * hd // 2
        norms = tokens * (2 * L + 1)
        rn = timing.rmsnorm_cycles(hidden, d.norm.lanes, d.norm.rsqrt_latency)
        rp = timing.rope_cycles(pairs, d.rope.lanes, d.rope.latency)
        v_norm = v_rope = None
        if verify:
            from .functional import (
                rmsnorm,
                rmsnorm_reference,
                rope,
                rope_reference,
                rope_table,
            )

            rng = np.random.default_rng(seed + 7)
            x = rng.standard_normal((2, hidden)).astype(np.float32)
            g = (1 + 0.1 * rng.standard_normal(hidden)).astype(np.float32)
            v_norm = bool(np.array_equal(rmsnorm(x, g, d.norm.lanes, d.norm.eps).view(np.uint32),
                                         rmsnorm_reference(x, g, d.norm.lanes, d.norm.eps).view(np.uint32)))
            c, s = rope_table(np.arange(2) + int(rng.integers(0, 4096)), hd, d.rope.theta)
            xr = rng.standard_normal((2, shape["heads"] + shape["kv_heads"], hd)).astype(np.float32)
            v_rope = bool(np.array_equal(rope(xr, c, s, d.rope.pairing).view(np.uint32),
                                         rope_reference(xr, c, s, d.rope.pairing).view(np.uint32)))
        return [LayerRow("rmsnorm", "rmsnorm", 1, hidden, 1, norms, norms * rn, 0, d.norm.lanes, 0.0, v_norm),
                LayerRow("rope", "rope", 1, pairs, 1, tokens * L, tokens * L * rp, 0, d.rope.lanes, 0.0, v_rope)]

    # -- run ---------------------------------------------------------------------------------------
    def run(self, workload: str, mode: str = "auto", compat: str | None = None, seed: int = 0) -> HSAResult:
        t0 = time.perf_counter()
        seed = check_seed(seed)
        if mode not in MODES:
            raise WorkloadError(f"mode = {mode!r}: allowed: {', '.join(MODES)}")
        if compat is not None:
            raise WorkloadError(f"compat = {compat!r}: kind hsa reproduces no published simulator (the paper's "
                                f"artefact is not public)")
        if not isinstance(workload, str):
            raise WorkloadError(f"workload = {workload!r}: expected a workload string")
        spec = workload.strip()
        head, _, body = spec.partition(":")
        head = head.strip().lower()
        notes: list[str] = []
        if head == "gemv":
            res = self._run_gemv(spec, body, mode, seed, notes)
        elif head == "llm":
            res = self._run_llm(spec, body, mode, seed, notes)
        else:
            net = parse_workload(spec)
            rows, used = self._prefill_rows(net, mode, seed, notes)
            res = self._result(spec, used, rows, 0, 0, notes)
        res.seconds = time.perf_counter() - t0
        return res

    def _result(self, spec, mode, rows, tokens, generated, notes, extra=None) -> HSAResult:
        return HSAResult(self.design, spec, mode, rows, tokens, generated, self.area_mm2, extra or {}, notes)

    def _prefill_rows(self, net: Network, mode: str, seed: int, notes: list[str]) -> tuple[list[LayerRow], str]:
        """The prefill GEMMs on the systolic array. Cycle mode: seeded normal floats quantized (MXINT4
        weights, per-token activations); a row is bit-exact when the array's result (hwsim) equals the
        epilogue's model and, rounded once, numpy's float64 product of the dequantized operands."""
        from .prefill import matches_numpy

        ps = self.prefill_sim
        res = ps.run(net, mode=mode, seed=seed, operands="quantized")
        notes += [f"prefill array: {n}" for n in res.notes]
        pes = self.design.array.rows * self.design.array.cols
        rows = []
        for i, l in enumerate(res.layers):
            v = l.verified
            if v is not None and l.output is not None:
                v = v and matches_numpy(ps, l.layer, l.output, seed + i)
            rows.append(LayerRow(l.name, "prefill", l.layer.M, l.layer.N, l.layer.K, l.layer.repeat, l.cycles,
                                 l.macs, pes, sum(l.dram_bytes.values()), v))
        return rows, res.mode

    def _decode_rows(self, net: Network, mode: str, seed: int, notes: list[str]) -> tuple[list[LayerRow], str]:
        if mode == "auto":
            est = sum(timing.decode_cycles(l.N, l.K, l.M, self.design.decode.lane_width, self.lanes, self.beat(l),
                                           self.design.memory.dram_bits_per_cycle, self.design.memory.dram_latency,
                                           self.design.decode.lane_latency) for l in net.layers)
            mode = "cycle" if est <= AUTO_CYCLES else "analytical"
            if mode == "analytical":
                notes.append(f"auto mode: {est:,} decode cycles > {AUTO_CYCLES:,}; closed forms (equal to the "
                             f"stepped clock by test)")
        rows = []
        for i, l in enumerate(net.layers):
            r = self.decode_layer(l, stepped=mode == "cycle")
            if mode == "cycle":
                r.verified = self.check_gemv(l, seed + i)
            rows.append(r)
        return rows, mode

    def _run_gemv(self, spec, body, mode, seed, notes) -> HSAResult:
        parts = [p.strip() for p in body.split(",") if p.strip()]
        try:
            vals = [int(p) for p in parts]
        except ValueError:
            vals = []
        if len(vals) not in (2, 3) or min(vals) <= 0:
            raise WorkloadError(f"workload {spec!r}: expected gemv:N,K[,M] with positive integers")
        N, K = vals[0], vals[1]
        M = vals[2] if len(vals) == 3 else 1
        net = network([Gemm(M, N, K, "gemv", 1, "gemv", spec)], "gemv")
        rows, mode = self._decode_rows(net, mode, seed, notes)
        return self._result(spec, mode, rows, 0, 0, notes)

    def _run_llm(self, spec, body, mode, seed, notes) -> HSAResult:
        parts = [p.strip() for p in body.split(",") if p.strip()]
        keep, opts = [], {}
        for p in parts:
            k, eq, v = p.partition("=")
            k = k.strip().lower()
            if eq and k in ("input", "output", "scenario") or (eq and k == "phase" and v.strip().lower() == "e2e"):
                opts[k] = v.strip().lower()
            else:
                keep.append(p)
        if "scenario" in opts:
            if opts["scenario"] not in SCENARIOS:
                raise WorkloadError(f"workload {spec!r}: scenario = {opts['scenario']!r}: allowed: {', '.join(SCENARIOS)}")
            inp, out = SCENARIOS[opts["scenario"]]
            opts.setdefault("input", str(inp))
            opts.setdefault("output", str(out))
            opts["phase"] = "e2e"
        if opts.get("phase") != "e2e":
            if "input" in opts or "output" in opts:
                raise WorkloadError(f"workload {spec!r}: input= and output= need phase=e2e or scenario=liso|silo")
            net = parse_workload(spec)
            shape = _shape(net)
            phase = "decode" if net.name.endswith("-decode") else "prefill"
            tokens = net.layers[0].M
            if phase == "prefill":
                rows, used = self._prefill_rows(net, mode, seed, notes)
            else:
                rows, used = self._decode_rows(net, mode, seed, notes)
            rows += self.unit_rows(shape, tokens, used == "cycle", seed)
            return self._result(spec, used, rows, tokens, tokens if phase == "decode" else 0, notes, {"phase": phase})
        if any(p.split("=")[0].strip().lower() in ("seq", "phase") for p in keep):
            raise WorkloadError(f"workload {spec!r}: an e2e run (phase=e2e or scenario=) takes input= and output= "
                                f"tokens, not seq= or another phase=")
        for k in ("input", "output"):
            if k not in opts:
                raise WorkloadError(f"workload {spec!r}: phase=e2e needs {k}=<tokens>")
            if not opts[k].isdigit() or int(opts[k]) <= 0 or int(opts[k]) > 1 << 20:
                raise WorkloadError(f"workload {spec!r}: {k} = {opts[k]!r}: expected an integer 1 .. 2**20")
        inp, outp = int(opts["input"]), int(opts["output"])
        base = "llm:" + ",".join(keep)
        pre = parse_workload(f"{base},seq={inp},phase=prefill")
        shape = _shape(pre)
        batch = pre.layers[0].M // inp
        rows, _ = self._prefill_rows(pre, "analytical" if mode == "auto" else mode, seed, notes)
        rows += self.unit_rows(shape, batch * inp, False, seed)
        if mode == "cycle":
            notes.append("e2e: the decode steps use the closed forms (equal to the stepped clock by test); the "
                         "prefill array ran in cycle mode")
        # decode steps, summed per layer over the steps (attention's N or K grows with the context:
        # the row shows the first step's shape)
        acc: dict[tuple, LayerRow] = {}
        for step in range(outp):
            net = parse_workload(f"{base},seq={inp + step},phase=decode")
            step_rows = [self.decode_layer(l, stepped=False) for l in net.layers]
            step_rows += [dataclasses.replace(r, name=f"{r.name} (decode)")
                          for r in self.unit_rows(shape, batch, False, seed)]
            for r in step_rows:
                k = (r.name, r.stage)
                if k not in acc:
                    acc[k] = dataclasses.replace(r)
                else:
                    a = acc[k]
                    a.repeat += r.repeat
                    a.cycles += r.cycles
                    a.macs += r.macs
                    a.dram_bytes += r.dram_bytes
                    a.roofline_cycles += r.roofline_cycles
        rows += list(acc.values())
        extra = {"phase": "e2e", "input_tokens": inp, "output_tokens": outp}
        sc = opts.get("scenario")
        if sc is None:
            sc = next((k for k, v in SCENARIOS.items() if v == (inp, outp)), None)
        if sc is not None:
            extra.update(scenario=sc, paper_tokens_per_s_per_mm2=PAPER_TOKENS_PER_S_MM2[sc])
        notes.append("tokens/s counts input + generated tokens over the whole run (prefill + decode steps); "
                     "generated_tokens_per_s counts generated tokens only")
        return self._result(spec, "analytical" if mode != "cycle" else "cycle", rows, batch * (inp + outp),
                            batch * outp, notes, extra)


def _shape(net: Network) -> dict[str, int]:
    """Transformer shape recovered from the GEMMs of hwsim.workloads.llm_layers."""
    by = {l.name: l for l in net.layers}
    qkv, o, sc = by["qkv_proj"], by["o_proj"], by["attn_scores"]
    hd = sc.K
    heads = o.K // hd
    kv = (qkv.N // hd - heads) // 2
    return {"layers": qkv.repeat, "hidden": qkv.K, "head_dim": hd, "heads": heads, "kv_heads": kv}


def area_mm2(design: Design) -> float:
    """Area estimate from the design's ``area`` table (every entry an estimate; ``area.source`` says which)."""
    a, d = design.area, design
    lanes = decode_lanes(d)
    sram_kb = d.memory.ifmap_kb + d.memory.filter_kb + d.memory.ofmap_kb
    return (d.array.rows * d.array.cols * a.pe_mm2 + lanes * a.lane_mm2 + sram_kb * a.sram_mm2_per_kb
            + d.norm.lanes * a.norm_lane_mm2 + a.norm_fixed_mm2 + d.rope.lanes * a.rope_lane_mm2 + a.other_mm2)


def build(design) -> HSASim:
    """A simulator for an hsa design (a Design, a YAML path, or a mapping)."""
    from .. import for_kind

    return HSASim(for_kind(design, "hsa"))


__all__ = ["SCENARIOS", "HSAResult", "HSASim", "LayerRow", "area_mm2", "build"]
