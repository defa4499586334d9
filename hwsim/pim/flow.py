"""The ``pim`` step of ``hwsim flow`` (application layer): an LLM decode layer on HBM-PIM and on a P3-LLM
configuration, beside the systolic NPU alone. The flow wiring itself is the lead's; it calls
:func:`flow_step`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hwsim

from ..workloads import parse as parse_network
from . import p3llm
from .sim import build, dramsim_config


def npu_timer(npu_design: str | Path, tck_ns: float):
    """``(M, N, K) -> DRAM tCK`` of a GEMM on a systolic design (its analytical mode)."""
    npu = hwsim.build(npu_design)
    mhz = npu.design.clock_mhz

    def t(m: int, n: int, k: int) -> float:
        cyc = npu.run(f"gemm:{m},{n},{k}", mode="analytical").to_dict()["stats"]["cycles"]
        return cyc * 1e3 / mhz / tck_ns
    return npu, t


def flow_step(npu_design: str | Path, preset: str = "minilm-l6", seq: int = 128, batch: int = 1,
              pim_design: str | Path = "designs/pim/hbm_pim_64pch.yaml",
              p3_lanes: int = 64) -> dict[str, Any]:
    """A decode step of ``llm:<preset>``: HBM-PIM FP16 (counted cycles, energy estimate), P3-LLM (NPU +
    P3 PIM, model with the assumptions of hwsim/pim/p3llm.py), and the NPU alone (analytical), each in
    cycles and seconds; plus the P3-LLM placement table."""
    sim = build(pim_design)
    d = sim.design
    cfg = dramsim_config(d, False)
    npu, timer = npu_timer(npu_design, d.dram.tck_ns)
    step = p3llm.decode_step(preset, seq, batch, d.dram.pseudo_channels, timer, str(npu_design), cfg, p3_lanes)
    hbm = sim.run(f"llm:{preset},seq={seq},batch={batch},phase=decode")
    layers = parse_network(f"llm:{preset},seq={seq},batch={batch},phase=decode").layers
    npu_cycles = sum(npu.run(f"gemm:{l.M},{l.N},{l.K}", mode="analytical").to_dict()["stats"]["cycles"] * l.repeat
                     for l in layers)
    tck = d.dram.tck_ns * 1e-9
    return {"workload": f"llm:{preset},seq={seq},batch={batch},phase=decode",
            "hbm_pim": {"cycles": hbm.cycles, "seconds": hbm.cycles * tck,
                        "energy_pj_estimate": sum(hbm.energy.values())},
            "p3llm": {"cycles": step["p3_cycles"], "seconds": step["p3_cycles"] * tck},
            "npu_only": {"cycles": npu_cycles, "seconds": npu_cycles / (npu.design.clock_mhz * 1e6)},
            "speedup_p3_over_hbm_pim": step["speedup"], "table": p3llm.render(step)}


ROOT = Path(__file__).resolve().parents[2]
NPU_DESIGN = ROOT / "designs" / "tpu_like_32x32_ws_int8.yaml"
PIM_DESIGN = ROOT / "designs" / "pim" / "hbm_pim_64pch.yaml"
REFERENCE = ROOT / "tests" / "data" / "pim_reference.json"


def step(root: str | Path = "build", seed: int = 0, log=None, preset: str = "minilm-l6", seq: int = 128) -> dict:
    """The ``pim`` step of ``hwsim flow``: (1) a MiniLM decode step on HBM-PIM and on P3-LLM beside the
    systolic NPU (cycles, seconds, energy estimate); (2) ``--compat pimsimulator`` GEMV 4096x4096 against
    the cycles PIMSimulator printed (tests/data/pim_reference.json); (3) a seeded GEMV through the PIM
    blocks, bit-exact against the numpy FP16 reference. Every verdict is computed here and can say FAIL."""
    import json

    say = log or (lambda s: None)
    lines = []
    r = flow_step(NPU_DESIGN, preset, seq, 1, PIM_DESIGN)
    lines.append(f"[pim] {r['workload']}: HBM-PIM FP16 {r['hbm_pim']['cycles']:,} tCK "
                 f"({r['hbm_pim']['seconds'] * 1e6:.1f} us, energy {r['hbm_pim']['energy_pj_estimate'] / 1e6:.1f} uJ "
                 f"estimate); P3-LLM {r['p3llm']['cycles']:,} tCK ({r['p3llm']['seconds'] * 1e6:.1f} us, "
                 f"{r['speedup_p3_over_hbm_pim']:.2f}x, model with the assumptions of hwsim/pim/p3llm.py); "
                 f"NPU alone ({NPU_DESIGN.name}) {r['npu_only']['cycles']:,} cycles ({r['npu_only']['seconds'] * 1e6:.1f} us)")
    lines.append(r["table"].rstrip())
    say(lines[0])
    sim = build(PIM_DESIGN)
    res = sim.run("gemv:4096,4096", compat="pimsimulator")
    ref = next(c for c in json.loads(REFERENCE.read_text())["cases"]
               if c["kernel"] == "gemv" and c["out"] == 4096 and c["in"] == 4096 and c["batch"] == 1
               and c["channels"] == 64 and c["refresh"])
    ok_compat = res.cycles == ref["pim_cycles"] and res.nonpim_cycles == ref["nonpim_cycles"]
    lines.append(f"[pim] compat pimsimulator GEMV 4096x4096: {res.cycles:,} / {res.nonpim_cycles:,} tCK (PIM / non-PIM); "
                 f"PIMSimulator printed {ref['pim_cycles']:,} / {ref['nonpim_cycles']:,}: "
                 f"{'PASS' if ok_compat else 'FAIL'}")
    say(lines[-1])
    small = build(ROOT / "designs" / "pim" / "hbm_pim_1pch.yaml").run("gemv:256,640,batch=2", seed=seed)
    ok_func = bool(small.to_dict()["stats"].get("bit_exact"))
    lines.append(f"[pim] GEMV 256x640 batch 2 on one pseudo-channel's PIM blocks ({small.cycles:,} tCK): "
                 f"bit-exact with the numpy FP16 reference: {'yes' if ok_func else 'NO'}")
    say(lines[-1])
    return {"ok": ok_compat and ok_func, "text": "\n".join(lines), "decode": r}
