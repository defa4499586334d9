"""The main flow's research-format additions: which formats the error table compares, and the BBS
table on INT8 weights."""

from __future__ import annotations

import numpy as np

from hwsim import bbs_report, quant_error


def test_flow_specs_include_research_formats():
    labels = [s.label for s in quant_error.flow_specs()]
    for want in ("razer4", "razer4:scale=fp16", "nvfp4_razer", "nvfp4_razer:block_scale=e3m3", "mxfp4_razer",
                 "bitmod4", "bitmod4:double_quant=True", "bitmod3", "bitmod_ant4", "nvfp4", "mxfp4"):
        assert want in labels
    assert not any(lbl.startswith(("bitmod.", "p3llm")) for lbl in labels)
    assert len(labels) == len(set(labels))


def test_error_table_bits_per_weight_include_scales_and_metadata():
    rng = np.random.default_rng(0)
    t = {"w": (rng.standard_normal((32, 256)) * 0.05).astype(np.float32)}
    specs = [s for s in quant_error.flow_specs() if s.label in ("bitmod4", "razer4:scale=fp16", "bitmod3")]
    rows = {r.label: r for r in quant_error.error_table(t, specs, progress=False)}
    assert rows["bitmod4"].bits_per_weight == 4 + 18 / 128
    assert rows["razer4:scale=fp16"].bits_per_weight == 4 + 16 / 128
    assert rows["bitmod3"].bits_per_weight == 3 + 18 / 128
    assert rows["bitmod4"].sqnr_db > rows["bitmod3"].sqnr_db


def test_bbs_table():
    rng = np.random.default_rng(1)
    t = {"a": (rng.standard_t(4, (16, 128)) * 0.02).astype(np.float32),
         "b": (rng.standard_normal((8, 64)) * 0.1).astype(np.float32)}
    rows = {r.label: r for r in bbs_report.bbs_table(t, progress=False)}
    dense = rows["INT8 dense"]
    assert dense.bits_per_weight == 8.0
    for r in rows.values():
        assert r.bbs_sparsity >= 0.5 and r.max_effectual <= 4
        assert r.bbs_sparsity >= r.bit_sparsity or r.label.startswith("bit flip")
    # rounded averaging with N = 2 keeps 6 columns + (2-bit shift + up to 2 constant bits) per 32
    ra2 = rows["BBS rounded avg N=2 g32"]
    assert 6.0 + 2 / 32 <= ra2.bits_per_weight <= 6.0 + 4 / 32
    assert rows["BBS zero-point N=4 g32 c5"].bits_per_weight == 4.0 + (5 + 3) / 32
    assert dense.sqnr_db > ra2.sqnr_db
