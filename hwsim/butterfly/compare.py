"""Butterfly vs dense: a FABNet model on the butterfly design against dense models on the systolic kind
(through its public API ``hwsim.build(design).run(workload)``), as the paper's equal-budget comparison.

Dense workloads (systolic workload strings):

* ``bert``: the BERT block of the same shape (dense Q/K/V/O, softmax attention, dense FFN) -- what the
  artefact's ``sw_hw_opt_effect.py`` compares FABNet against (30.7-87.3x on its dense accelerator);
* ``fnet-dense``: the FABNet block with every butterfly replaced by its dense matrix: the hidden DFT as
  one real GEMM producing real and imaginary parts (N = 2d), the sequence DFT keeping the real part
  (K = 2S: Re F Re Y - Im F Im Y), and the FFN as two dense GEMMs.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUTTERFLY_DESIGN = ROOT / "designs/butterfly/bfly_equal_budget_be128.yaml"
DENSE_DESIGN = ROOT / "designs/butterfly/dense_equal_budget_32x64.yaml"


def _bytes(v) -> float:
    return float(sum(v.values())) if isinstance(v, dict) else float(v or 0)


def dense_workloads(seq: int, hidden: int, ffn: int, layers: int, heads: int | None = None) -> dict[str, str]:
    h = heads or max(1, hidden // 64)
    fnet = ";".join(f"gemm:{m},{n},{k}" for m, n, k in
                    ((seq, 2 * hidden, hidden), (hidden, seq, 2 * seq), (seq, ffn, hidden), (seq, hidden, ffn)))
    return {"bert": f"llm:hidden={hidden},heads={h},ffn={ffn},layers={layers},seq={seq}", "fnet-dense": fnet}


def compare(seq: int = 128, hidden: int = 768, ffn: int = 3072, layers: int = 12,
            butterfly_design=BUTTERFLY_DESIGN, dense_design=DENSE_DESIGN) -> dict:
    """Cycles / latency / DRAM bytes of FABNet (butterfly, cycle-level and --compat) and of the dense
    models (systolic, analytical). ``fnet-dense`` is one block; it is multiplied by ``layers``."""
    import hwsim

    from .sim import build as build_bfly
    bsim = build_bfly(butterfly_design)
    r = bsim.run(f"fabnet:hidden={hidden},ffn={ffn},seq={seq},layers={layers}", mode="cycle",
                 compat="butterfly-acc")
    bs = r.stats()
    out = {"shape": {"seq": seq, "hidden": hidden, "ffn": ffn, "layers": layers},
           "butterfly": {"design": bsim.design.name, "cycles": bs["cycles"], "latency_ms": bs["latency_ms"],
                         "dram_bytes": bs["dram_read_bytes"] + bs["dram_write_bytes"],
                         "compat_latency_ms": r.compat["overall_latency_ms"],
                         "compat_cycles": r.compat["network_run_cost"]}, "dense": {}}
    dsim = hwsim.build(Path(dense_design))
    clock = dsim.design.clock_mhz
    for name, w in dense_workloads(seq, hidden, ffn, layers).items():
        dr = dsim.run(w, mode="analytical").to_dict()
        st = dr["stats"]
        mult = layers if name == "fnet-dense" else 1
        cyc = st["cycles"] * mult
        dram = _bytes(st.get("dram_bytes_estimate", st.get("dram_bytes", 0)))
        out["dense"][name] = {"design": dr["design"], "cycles": cyc, "latency_ms": cyc / (clock * 1e3),
                              "dram_bytes": dram * mult,
                              "speedup_cycle": cyc / bs["cycles"],
                              "speedup_vs_compat": (cyc / (clock * 1e3)) / r.compat["overall_latency_ms"]}
    return out


def render(c: dict) -> str:
    s, b = c["shape"], c["butterfly"]
    lines = [f"FABNet vs dense, S={s['seq']} d={s['hidden']} ffn={s['ffn']} x{s['layers']} blocks",
             f"  butterfly {b['design']}: {b['cycles']:,} cycles ({b['latency_ms']:.3f} ms, cycle-level), "
             f"DRAM {b['dram_bytes'] / 1e6:.2f} MB; --compat butterfly-acc {b['compat_latency_ms']:.3f} ms"]
    for name, d in c["dense"].items():
        lines.append(f"  dense {name:10s} on {d['design']}: {d['cycles']:,} cycles ({d['latency_ms']:.3f} ms), "
                     f"DRAM {d['dram_bytes'] / 1e6:.2f} MB (estimate); butterfly speed-up "
                     f"{d['speedup_cycle']:.1f}x (cycle-level), {d['speedup_vs_compat']:.1f}x (vs compat latency)")
    return "\n".join(lines)
