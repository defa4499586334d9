"""The bit-serial step of ``hwsim flow`` (for hwsim/flow.py; it lives in testbenches because it runs
the RTL levels, and hwsim/<kind> modules may not import testbenches):

    from testbenches.bitserial_flow import flow_step
    summary = flow_step(out_dir, seq=128, systolic_design=None, build_root="build", verilator=True)

1. MiniLM (the bundled all-MiniLM-L6-v2) Linear weights, quantized two ways: BitMoD ``bitmod4`` g128
   (8-bit group scales) on ``designs/bitserial/bitmod_32x32.yaml``, and INT8 per channel + BBS
   zero-point shifting on ``designs/bitserial/bitvert_32x16.yaml``; data-dependent cycles per layer
   from the cycle-level model, next to the systolic design's cycles for the same GEMM when a
   systolic design is given.
2. The PE RTL on a real-data slice: the first output rows x groups of a real layer through the
   2x2 array of each PE on the model, amaranth.sim and (``verilator=True``) Verilator levels; the
   verdict is computed in this run.
Writes ``bitserial_layers.csv`` and ``bitserial_flow.json`` into ``out_dir``; returns the summary.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _minilm():
    from hwsim import weights as W
    return W.linear_weights(W.read_tensors(W.bundled_model()))


def flow_step(out_dir, seq: int = 128, systolic_design=None, build_root="build", verilator: bool = True,
              layers: int | None = None) -> dict:
    from hwsim.bitserial.sim import BitSerialSim, bitmod_prepare, bitvert_prepare, int8_per_channel, load
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ws = _minilm()
    names = list(ws)[: layers] if layers else list(ws)
    bm = BitSerialSim(load(ROOT / "designs/bitserial/bitmod_32x32.yaml"))
    bv = BitSerialSim(load(ROOT / "designs/bitserial/bitvert_32x16.yaml"))
    sys_sim = None
    if systolic_design is not None:
        from hwsim import build as hbuild
        sys_sim = hbuild(systolic_design)
    rows = []
    keep = {}
    for n in names:
        w = ws[n]
        N, K = w.shape
        tok_bm = -(-seq // bm.arr.cols)
        tok_bv = -(-seq // bv.arr.cols)
        lw_m = bitmod_prepare(w.astype(np.float32), "bitmod4", 128)
        t_m, _ = bm.layer_cycles(lw_m, K, False)
        wi = int8_per_channel(w)
        lw_v = bitvert_prepare(wi, "zero_point_shift", 4, bv.w.outlier_fraction)
        t_v, _ = bv.layer_cycles(lw_v, K, False)
        row = dict(layer=n, M=seq, N=N, K=K, bitmod_cycles=int(t_m.sum()) * tok_bm,
                   bitmod_bits_per_weight=round(lw_m.bits_per_weight, 4),
                   bitvert_cycles=int(t_v.sum()) * tok_bv, bitvert_bits_per_weight=round(lw_v.bits_per_weight, 4))
        if sys_sim is not None:
            row["systolic_cycles"] = int(sys_sim.run(f"gemm:{seq},{N},{K}").to_dict()["stats"]["cycles"])
        rows.append(row)
        if not keep:
            keep = dict(name=n, bitmod=lw_m, bitvert=lw_v)
    with open(out / "bitserial_layers.csv", "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    rtl = verify_real_slice(keep, build_root, verilator)
    summary = dict(layers=rows, rtl=rtl, seq=seq,
                   totals={k: sum(r[k] for r in rows) for k in rows[0] if k.endswith("_cycles")})
    (out / "bitserial_flow.json").write_text(json.dumps(summary, indent=1))
    return summary


def verify_real_slice(keep: dict, build_root="build", verilator: bool = True, seed: int = 0) -> dict:
    """A 2x2 tile of each PE array on real weights (the first rows / groups of a MiniLM layer) with
    seeded activations, on every level; returns {pe: {level: 'bit-exact, same cycles' | mismatch}}."""
    from testbenches import bitserial as B
    rng = np.random.default_rng(seed)
    res = {}
    lv = keep["bitvert"]
    vs = B.VectorSet("minilm_bitvert_slice", "bitvert", 2, 2)
    vs.tiles = [[dict(act=rng.integers(-128, 128, size=(2, 16)).tolist(),
                      w=lv.stored[0:2, 16 * g:16 * g + 16].tolist(), offset=lv.offsets[0:2, g].tolist())
                 for g in range(8)]]
    lm = keep["bitmod"]
    vm = B.VectorSet("minilm_bitmod_slice", "bitmod", 2, 2, "bitmod4", 128)
    tile = []
    for s in range(32):
        g = 0
        tile.append(dict(act=[(rng.standard_normal(4) * 0.5).astype(np.float16).view(np.uint16).astype(int).tolist()
                              for _ in range(2)],
                         code=lm.codes[0:2, 4 * s:4 * s + 4].astype(int).tolist(), meta=lm.meta[0:2, g].astype(int).tolist(),
                         scale=lm.scales[0:2, g].astype(int).tolist(), last_in_group=int(s == 31)))
    vm.tiles = [tile]
    for v in (vs, vm):
        exp = B.expected_of(v)
        levels = ["model", "hwsim", "amaranth"] + (["verilator"] if verilator else [])
        res[v.pe] = {}
        for level in levels:
            kw = {"root": build_root} if level == "verilator" else {}
            errs = B.compare(v, exp, B.run_level(level, v, **kw), level)
            res[v.pe][level] = "bit-exact, same cycles" if not errs else "; ".join(errs)
        res[v.pe]["cycles"] = exp["cycles"]
    return res
