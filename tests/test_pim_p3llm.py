"""P3-LLM PIM units and the NPU + PIM decode step (assumptions in hwsim/pim/p3llm.py)."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.pim import compat as C
from hwsim.pim import p3llm as P
from hwsim.pim import sim as S
from hwsim.pim.workload import Kernel


def test_p3_stream_commands_per_tile():
    # one output tile, 4 input tiles of 256 FP8 inputs: 8 GRF_A writes + 32 MAC reads + 1 scale read each
    s = P.p3_gemv_stream(1, 4, 1)
    w = np.array(s.w)
    base = P.p3_gemv_stream(1, 0, 1)
    assert len(s.w) - len(base.w) == 4 * (8 + 33)
    assert int(w.sum()) - int(np.array(base.w).sum()) == 4 * 8


def test_p3_gemv_faster_than_fp16_and_fewer_lanes_slow_it():
    cfg = C.config(True)
    k = Kernel("gemv", 4096, 4096)
    hb = C.pim_cycles("gemv", 4096, 4096, 1, 64, cfg)[0]
    p64 = P.p3_cycles(k, 64, cfg, 64)[0]
    p16 = P.p3_cycles(k, 64, cfg, 16)[0]
    assert p64 < hb / 2          # 4x fewer weight bursts, half the broadcasts per input element
    assert p16 > p64             # 16 lanes need 4 tCCD_L per 64-weight command


def test_decode_step_and_sim():
    r = P.decode_step("minilm-l6", seq=128, batch=1, channels=16)
    assert r["speedup"] > 1 and r["hbm_pim_cycles"] == sum(l.hbm_pim_cycles * l.count for l in r["layers"])
    assert "speed-up" in P.render(r)
    s = S.build("designs/pim/p3llm_64pch.yaml")
    res = s.run("gemv:4096,4096")
    assert res.cycles == P.p3_cycles(Kernel("gemv", 4096, 4096), 64, S.dramsim_config(s.design, False), 64, True)[0]
    with pytest.raises(S.PimRunError, match="p3llm runs GEMV"):
        s.run("add:131072")
    with pytest.raises(S.PimRunError, match="reproduces HBM-PIM"):
        s.run("gemv:64,64", compat="pimsimulator")


def test_flow_step_beside_the_npu():
    from hwsim.pim.flow import flow_step
    r = flow_step("designs/tpu_like_32x32_ws_int8.yaml", "minilm-l6", seq=128, batch=1,
                  pim_design="designs/pim/hbm_pim_16pch.yaml")
    assert r["hbm_pim"]["cycles"] > 0 and r["p3llm"]["cycles"] > 0 and r["npu_only"]["cycles"] > 0
    assert r["speedup_p3_over_hbm_pim"] == pytest.approx(r["hbm_pim"]["cycles"] / r["p3llm"]["cycles"])
    assert r["hbm_pim"]["energy_pj_estimate"] > 0 and "P3-LLM" in r["table"]


def test_registered_flow_step():
    from hwsim import kinds
    res = kinds.get("pim").load("flow")(root="build", seed=1, log=None)
    assert res["ok"] and "PIMSimulator printed 13,166 / 36,082: PASS" in res["text"]
    assert "bit-exact with the numpy FP16 reference: yes" in res["text"]
