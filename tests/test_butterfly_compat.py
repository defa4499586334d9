"""--compat butterfly-acc against the authors' simulator's own outputs (tests/data/butterfly_reference.json,
made by tests/reference/generate_butterfly_reference.py from SamsungLabs/Butterfly_Acc @ 1bb951f)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwsim.butterfly import compat
from hwsim.butterfly.sim import build

ROOT = Path(__file__).resolve().parents[1]
DATA = json.loads((Path(__file__).parent / "data" / "butterfly_reference.json").read_text())
CASES = DATA["cases"]
BW = {"hbm": (2048, 256, 2048), "ddr3": (64, 64, 128)}
VERSIONS = {"base": (768, 3072, 12), "large": (1024, 4096, 24)}


def test_reference_file_is_pinned():
    assert DATA["commit"].startswith("1bb951f")
    assert sum(c["kind"] == "driver" for c in CASES) >= 400
    tags = {c.get("tag") for c in CASES}
    assert {"lra-listops", "lra-text", "lra-retrieval", "lra-image", "lra-pathfinder", "fabnet-base",
            "fabnet-large", "codesign-text"} <= tags


@pytest.mark.parametrize("i", [i for i, c in enumerate(CASES) if c["kind"] == "driver"])
def test_driver_cases_exact(i):
    c = CASES[i]
    p = c["params"]
    r = compat.fabnet(p["hidden"], p["ffn"], p["seq"], p["layers"], p_be=p["p_be"], p_bu=p["p_bu"],
                      bw=tuple(p["bw_bits"]), frequency=p["frequency"], efficiency=p["efficiency"])
    assert list(r["layer_cycles"].values()) == c["layer_cycles"]
    assert r["run_cycles"] == c["run_cycles"]
    assert r["network_run_cost"] == c["network_run_cost"]
    assert r["overall_latency_ms"] == c["latency_ms"]          # the same float, bit for bit
    assert r["counters"] == c["counters"]


@pytest.mark.parametrize("i", [i for i, c in enumerate(CASES) if c["kind"] == "cli"])
def test_cli_cases_exact(i):
    """speed_benchmark_sim.sh lines: the printed latency, through the design + workload path."""
    c = CASES[i]
    p = c["params"]
    hidden, ffn, layers = VERSIONS[p["version"]]
    p_be = p["p_be"] or (128 if p["board"] == "zcu128" else 32)
    i_b, w_b, o_b = BW[p["bandwidth"]]
    design = {"schema": 1, "name": "t", "kind": "butterfly", "clock_mhz": 200,
              "processor": {"engines": p_be, "units": 4},
              "memory": {"input_bits": i_b, "weight_bits": w_b, "output_bits": o_b}}
    r = build(design).run(f"fabnet:hidden={hidden},ffn={ffn},seq={p['seq']},layers={layers}",
                          compat="butterfly-acc")
    assert repr(r.compat["overall_latency_ms"]) == c["printed"]
    assert r.to_dict()["compat"]["butterfly-acc"]["overall_latency_ms"] == c["latency_ms"]


def test_reference_asserts_are_errors():
    for c in CASES:
        if c["kind"] == "driver-assert":
            p = c["params"]
            with pytest.raises(compat.CompatError, match="data BRAM"):
                compat.fabnet(p["hidden"], p["ffn"], p["seq"], 1, p_be=p["p_be"], p_bu=p["p_bu"],
                              bw=(2048, 256, 2048))


def test_calibration_table_of_the_spec():
    """spec B.4: per-layer cycles of the 1024/4096 layer at S = 128, P_BE 120, HBM."""
    r = compat.fabnet(1024, 4096, 128, 24, p_be=120, p_bu=4, bw=(2048, 256, 2048))
    assert list(r["layer_cycles"].values()) == [2560, 3200, 10240, 12288]
    assert r["run_cycles"] == 28288


def test_lra_presets_match_reference_shapes():
    sim = build(ROOT / "designs/butterfly/bfly_vcu128_be120.yaml")
    lra = {c["tag"]: c for c in CASES if c.get("tag", "").startswith("lra-") and c["params"]["p_be"] == 120}
    for name in ("listops", "text", "retrieval", "image", "pathfinder"):
        r = sim.run(f"fabnet:{name}", mode="analytical", compat="butterfly-acc")
        assert r.compat["network_run_cost"] == lra[f"lra-{name}"]["network_run_cost"]
        assert r.compat["overall_latency_ms"] == lra[f"lra-{name}"]["latency_ms"]
