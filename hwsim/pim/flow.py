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
