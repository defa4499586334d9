"""Butterfly accelerator speed: ``--compat butterfly-acc`` against the authors' simulator, in one run,
and the cycle-level Butterfly Processor on FABNet layers of length 4096.

    .venv/bin/python benchmarks/bench_butterfly.py --ref-sim-dir <Butterfly_Acc>/hardware/npu_design/simulator

The reference (SamsungLabs/Butterfly_Acc @ 1bb951f, see tests/reference/generate_butterfly_reference.py)
is imported from --ref-sim-dir and run in this process exactly as ``simulator_bfly.simulation`` does
(its stdout prints are discarded, for both); every case's cycles and latency are compared for equality in
this run. Timings are the best of 5 repeats of the whole case list, on one core.

Targets (issue 17): compat >= 100x faster than the authors' simulator; one FABNet layer of length 4096 at
cycle level in < 1 s on one core.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwsim.butterfly import compat
from hwsim.butterfly.sim import build

BW = {"hbm": (2048, 256, 2048), "ddr3": (64, 64, 128), "equal": (2048, 2048, 2048)}
LRA = {"listops": (2000, 128, 256, 2), "text": (4000, 256, 512, 2), "retrieval": (4000, 1024, 1024, 2),
       "image": (1024, 64, 128, 1), "pathfinder": (1024, 64, 64, 6)}


def cases() -> list[dict]:
    out = []
    for pbe, bw in ((120, "hbm"), (20, "ddr3"), (128, "equal"), (40, "hbm")):
        for seq in (128, 256, 512, 768, 1024):
            for hid, ffn, layers in ((768, 3072, 12), (1024, 4096, 24)):
                out.append(dict(seq=seq, hidden=hid, ffn=ffn, layers=layers, p_be=pbe, bw=bw))
        for seq, hid, ffn, layers in LRA.values():
            out.append(dict(seq=seq, hidden=hid, ffn=ffn, layers=layers, p_be=pbe, bw=bw))
    return out


def run_reference(mod, c):
    i_b, c_b, o_b = BW[c["bw"]]
    acc = mod.Butterfly_Accelerator(32, c["hidden"], c["seq"], c["ffn"], parallesm_bu=4, parallesm_be=c["p_be"],
                                    indata_dram_bw=i_b, coef_dram_bw=c_b, outdata_dram_bw=o_b)
    acc.run_fft(complex_input=False, complex_output=True)
    acc.run_fft(complex_input=True, complex_output=False)
    acc.run_bfly(acc.num_len, acc.hidden_dim, acc.ffn_inner_dim)
    acc.run_bfly(acc.num_len, acc.ffn_inner_dim, acc.hidden_dim)
    cost = c["layers"] * acc.run_cycles
    return cost, cost * ((1.0 / 200 / 1000) / 0.85)


def run_ours(c):
    r = compat.fabnet(c["hidden"], c["ffn"], c["seq"], c["layers"], p_be=c["p_be"], p_bu=4, bw=BW[c["bw"]])
    return r["network_run_cost"], r["overall_latency_ms"]


def best(fn, repeats=5) -> float:
    t = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return min(t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref-sim-dir", type=Path, help="hardware/npu_design/simulator of Butterfly_Acc @ 1bb951f")
    a = ap.parse_args()
    cs = cases()
    print(f"{len(cs)} FABNet configurations (Base/Large x 5 lengths, 5 LRA tasks; P_BE 120/40 HBM, 20 DDR3, "
          f"128 equal budget)")
    t_ours = best(lambda: [run_ours(c) for c in cs])
    if a.ref_sim_dir:
        sys.path.insert(0, str(a.ref_sim_dir.resolve()))
        import bfly_accelerator as mod
        logging.getLogger().setLevel(logging.WARNING)
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink):
            ref = [run_reference(mod, c) for c in cs]
            t_ref = best(lambda: [run_reference(mod, c) for c in cs])
        ours = [run_ours(c) for c in cs]
        same = sum(r == o for r, o in zip(ref, ours))
        print(f"authors' simulator: {t_ref * 1e3:9.2f} ms for all cases")
        print(f"--compat butterfly-acc: {t_ours * 1e3:9.3f} ms for all cases")
        print(f"identical cycles and latency (float ==): {same}/{len(cs)} -> {'yes' if same == len(cs) else 'NO'}")
        ratio = t_ref / t_ours
        print(f"speed ratio: {ratio:.0f}x  (target >= 100x: {'met' if ratio >= 100 else 'NOT met'})")
        sims = {}

        def full():
            for c in cs:
                key = (c["p_be"], c["bw"])
                if key not in sims:
                    i_b, w_b, o_b = BW[c["bw"]]
                    sims[key] = build({"schema": 1, "name": "b", "kind": "butterfly", "clock_mhz": 200,
                                       "processor": {"engines": c["p_be"], "units": 4},
                                       "memory": {"input_bits": i_b, "weight_bits": w_b, "output_bits": o_b}})
                sims[key].run(f"fabnet:hidden={c['hidden']},ffn={c['ffn']},seq={c['seq']},layers={c['layers']}",
                              mode="analytical", compat="butterfly-acc")
        full()
        t_full = best(full)
        print(f"whole run() with --compat (our analytical model too): {t_full * 1e3:.2f} ms, "
              f"{t_ref / t_full:.0f}x faster than the authors' simulator")
    else:
        print(f"--compat butterfly-acc: {t_ours * 1e3:.3f} ms for all cases; no --ref-sim-dir: ratio not measured")

    print("\ncycle-level Butterfly Processor, FABNet layers of length 4096 (one core):")
    for design, w in (("designs/butterfly/bfly_vcu128_be120.yaml", "fabnet:text,layers=1"),
                      ("designs/butterfly/bfly_vcu128_be40.yaml", "fabnet:hidden=4096,ffn=4096,seq=4096,layers=1"),
                      ("designs/butterfly/bfly_zc706_be20.yaml", "fabnet:retrieval,layers=1")):
        sim = build(ROOT / design)
        t0 = time.perf_counter()
        r = sim.run(w, mode="cycle")
        dt = time.perf_counter() - t0
        longest = max(L.length for L in r.layers)
        print(f"  {sim.design.name:22s} {w:48s} longest layer {longest:5d}: {r.cycles:>12,} cycles in "
              f"{dt * 1e3:7.1f} ms ({'< 1 s: met' if dt < 1 else '>= 1 s: NOT met'})")


if __name__ == "__main__":
    main()
