"""P3-LLM-style PIM units and the NPU + PIM decode step (accelerators.md A.5).

What is taken from P3-LLM (yc2367/P3-LLM ef63537, the paper's abstract): operand formats -- weights
4-bit (BitMoD, group 128), activations FP8-E4M3 per token, K/V cache INT4 asymmetric (group 128), the
attention scores 8-bit (``datatypes``: ``bitmod4``, ``p3llm_fp8``, ``p3llm_kv4``, ``p3llm_score8``), and
the organisation "NPU + bank-level PIM with lightweight low-precision lanes, iso-area with FP16 PIM".
What is **not** published (the repository has no hardware model; A.5, F): lane counts, clocks, the NPU
size, the PIM command protocol. The model below fills those in, marked as assumptions:

* the PIM block sits where HBM-PIM's does (one per bank pair, same DRAM, same command timing); a column
  command brings 32 B = 64 INT4 weights, so a block needs 64 MAC lanes to keep up with one command per
  tCCD_L. The lane is ``rtl_gen.pe.MacDatapath("bitmod4", "p3llm_fp8", "int32")`` (exact products,
  wrapping int32 accumulation; its bit-exactness is the ``pe`` kind's loop). Its Yosys area is ~1/16 of the
  FP16 lane's (benchmarks/bench_pim.txt), so iso-area with 16 FP16 lanes allows far more than 64 lanes:
  the unit is bandwidth-bound, ``lanes = 64`` (``pim.lanes``; fewer lanes slow the command rate to
  ``ceil(tCCD_L * 64 / lanes)``).
* GEMV stream (like HBM-PIM's, one input tile = 8 GRF_A bursts of FP8 = 256 inputs): per tile 8 GRF_A
  writes, 32 MAC reads (8 rows x 4 bursts of 64 weights), 1 read of the group scales (8 rows x 2 groups
  x 16 bit) -- dequantisation fused into the accumulation's exit (the paper's "operator fusion").
* attention on PIM: scores = q . K^T (K INT4, q FP8: a P3 GEMV, N = seq, K = head_dim), context =
  P . V (P 8-bit, V INT4: a P3 GEMV, N = head_dim, K = seq), per KV head, the query heads of a group
  as the batch.
* the NPU is a systolic design of this project (``hwsim.build(design).run("gemm:M,N,K")``, wired in
  hwsim/pim/flow.py, the application layer), running a
  projection / FFN GEMM when that is faster than PIM (batch > 1); its weights stream from the same HBM at
  ``pseudo_channels * 32 B / (BL/2) tCK`` (the non-PIM baseline's bus), activations move NPU <-> PIM over
  the same bus.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import compat as C
from . import hbm2
from .workload import Kernel

WEIGHTS_PER_BURST = 64      # 32 B of 4-bit weights
INPUTS_PER_TILE = 256       # 8 GRF_A bursts of FP8 activations


def p3_tiling(n: int, k: int, channels: int, blocks: int = 8) -> tuple[int, int]:
    out_tiles = math.ceil(n / (8 * blocks * channels))
    in_tiles = math.ceil(k / INPUTS_PER_TILE)
    return out_tiles, in_tiles


def p3_gemv_stream(out_tiles: int, in_tiles: int, batch: int) -> C._Stream:
    s = C._Stream()
    C._park(s)
    C._sb_to_hab(s)
    C._program_crf(s, 6)
    n_even, n_odd = math.ceil(in_tiles / 2), in_tiles // 2
    for j in range(out_tiles):
        for b in range(batch):
            C._pim_mode_switch(s)
            for parity in (0, 1):
                for i in range(parity, in_tiles, 2):
                    s.add(True, 0, 1, 0x3FFF, 0x8, n=8, barrier=True)             # FP8 activations
                    col = 33 * (i // 2 + j * (n_even if parity == 0 else n_odd))
                    for c in range(0, 32, 8):
                        s.add(False, 0, parity, 0, col + c, n=8, barrier=True)   # 64 weights each
                    s.add(False, 0, parity, 0, col + 32, n=1, barrier=True)       # group scales
            s.add(True, 0, 1, 0x3FF, 0, n=8, barrier=True)                        # results -> bank
            C._pim_mode_switch(s)
    C._hab_to_sb(s)
    C._park(s)
    return s


def p3_cycles(kernel: Kernel, channels: int, cfg: dict, lanes: int = 64, faw: bool = True) -> tuple[int, np.ndarray]:
    """Cycles of a GEMV on P3-LLM PIM blocks (one pseudo-channel simulated; all are identical)."""
    if kernel.op != "gemv":
        raise ValueError(f"P3-LLM PIM unit: {kernel.op} is not modelled (gemv and attention only)")
    ot, it = p3_tiling(kernel.n, kernel.k, channels)
    s = p3_gemv_stream(ot, it, kernel.batch)
    c = dict(cfg)
    if lanes < WEIGHTS_PER_BURST:
        c["tCCDL"] = max(cfg["tCCDL"], math.ceil(cfg["tCCDL"] * WEIGHTS_PER_BURST / lanes))
    return hbm2.run_stream(s.arrays(), c, faw)[:2]


@dataclass
class Placement:
    name: str
    shape: str
    count: int
    hbm_pim_cycles: int           #: HBM-PIM FP16, all on PIM
    p3_unit: str                  #: "pim" or "npu"
    p3_cycles: int                #: P3-LLM: PIM cycles or NPU time in tCK, incl. transfers
    transfer_cycles: int


def decode_step(preset: str = "llama2-7b", seq: int = 1024, batch: int = 1, channels: int = 64,
                npu=None, npu_name: str | None = None, cfg: dict | None = None, lanes: int = 64) -> dict[str, Any]:
    """One decode step of ``llm:<preset>`` (all layers): HBM-PIM FP16 (every GEMV on PIM) vs P3-LLM
    (P3 PIM for GEMVs and attention; a GEMM on the NPU when that is faster). ``npu(M, N, K)`` -> the NPU's
    compute time of that GEMM in DRAM tCK (the application layer builds it from a systolic design:
    hwsim/pim/flow.py). Cycles in DRAM tCK."""
    from ..workloads import parse as parse_network
    from .block import native_cycles
    from .workload import parse
    cfg = cfg or C.config(True)
    _, kernels = parse(f"llm:{preset},seq={seq},batch={batch},phase=decode")
    net = parse_network(f"llm:{preset},seq={seq},batch={batch},phase=decode")
    bus_bytes_per_tck = channels * 32 / (cfg["BL"] // 2)
    rows: list[Placement] = []
    cache: dict = {}
    for k, layer in zip(kernels, net.layers):
        key = (k.n, k.k, k.batch)
        if key not in cache:
            hb = native_cycles(k, channels, cfg, True)[0]
            p3 = p3_cycles(k, channels, cfg, lanes)[0]
            unit, best, xfer = "pim", p3, 0
            if npu is not None and layer.kind != "attention" and k.batch > 1:
                compute_tck = npu(k.batch, k.n, k.k)
                wbytes = k.n * k.k * 0.5 + k.n * math.ceil(k.k / 128) * 2        # 4-bit weights + scales
                dram_tck = wbytes / bus_bytes_per_tck
                xfer = math.ceil((k.batch * k.k + k.batch * k.n) * 1 / bus_bytes_per_tck)   # FP8 in/out
                t_npu = math.ceil(max(compute_tck, dram_tck)) + xfer
                if t_npu < p3:
                    unit, best = "npu", t_npu
            cache[key] = (hb, unit, best, xfer)
        hb, unit, best, xfer = cache[key]
        rows.append(Placement(k.name, f"{k.n}x{k.k} b{k.batch}", k.count, hb, unit, best, xfer))
    hbm_total = sum(r.hbm_pim_cycles * r.count for r in rows)
    p3_total = sum(r.p3_cycles * r.count for r in rows)
    return {"preset": preset, "seq": seq, "batch": batch, "pseudo_channels": channels, "lanes": lanes,
            "layers": rows, "hbm_pim_cycles": hbm_total, "p3_cycles": p3_total,
            "speedup": hbm_total / p3_total if p3_total else float("inf"), "npu": npu_name}


def render(res: dict) -> str:
    from ..report import format_table
    rows = [[r.name, r.shape, r.count, r.hbm_pim_cycles, r.p3_unit, r.p3_cycles, r.transfer_cycles,
             f"{r.hbm_pim_cycles / r.p3_cycles:.2f}" if r.p3_cycles else "-"] for r in res["layers"]]
    t = format_table(["layer", "GEMV N x K", "count", "HBM-PIM FP16 tCK", "P3 unit", "P3 tCK", "transfer tCK",
                      "speed-up"], rows)
    return (f"decode step, {res['preset']}, seq {res['seq']}, batch {res['batch']}, {res['pseudo_channels']} pCH, "
            f"P3 lanes {res['lanes']}, NPU {res['npu'] or 'none'}\n{t}\n"
            f"total: HBM-PIM FP16 {res['hbm_pim_cycles']:,} tCK, P3-LLM {res['p3_cycles']:,} tCK, "
            f"speed-up {res['speedup']:.2f}x (model with the assumptions of hwsim/pim/p3llm.py; the paper "
            f"reports 4.9x on average over HBM-PIM)\n")
