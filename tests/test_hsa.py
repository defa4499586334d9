"""The hsa kind (hybrid systolic array for edge LLMs): MXINT4 against microxcaling, the GEMV-mode
functional model against numpy, the RMSNorm / RoPE units against numpy references of the same op
order, the decode cycle model (clock-stepped) against its closed form, and the registry path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import datatypes as dt

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "data" / "mxint4_vectors.npz"


# ---- MXINT4 (datatypes) ----------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["normal", "heavy", "ties", "special"])
def test_mxint4_bit_exact_with_microxcaling(case):
    d = np.load(VECTORS)
    x, ref = d[f"input/{case}"], d[f"mxint4/{case}"]
    got = dt.quantize(x, "mxint4").dequantize()
    assert got.dtype == np.float32 and got.shape == ref.shape
    assert np.array_equal(got.view(np.uint32), ref.view(np.uint32))


def test_mxint4_codes_and_storage():
    f = dt.get("mxint4")
    vals = f.code_values()
    assert np.isnan(vals[8]) and sorted(vals[np.isfinite(vals)]) == [k / 4 for k in range(-7, 8)]
    q = dt.quantize(np.linspace(-3, 3, 64, dtype=np.float32).reshape(1, 64), "mxint4")
    assert not np.any(q.codes == 8)                       # -8 is never produced
    assert q.scales.shape == (1, 2)
    assert q.bits_per_element() == pytest.approx(4.25)       # 4-bit elements + an 8-bit E8M0 per 32


# ---- GEMV lanes (functional) -----------------------------------------------------------------------
from hwsim.hsa import functional as F
from hwsim.hsa import timing as T

DESIGN8 = ROOT / "designs" / "hsa" / "hsa_8x8_mxint4_lpddr4x.yaml"
DESIGN16 = ROOT / "designs" / "hsa" / "hsa_16x16_mxint4_lpddr4x.yaml"


def _mx_weights(rng, n, k, scale):
    q = dt.quantize((rng.standard_normal((n, k)) * scale).astype(np.float32), "mxint4")
    return q


@pytest.mark.parametrize("seed", range(4))
def test_gemv_equals_numpy_on_dequantized_values(seed):
    """No bit is dropped (frac_bits covers the smallest block exponent, the accumulator holds the sum):
    the lanes' fixed-point result equals the float64 numpy product of the dequantized MXINT4 weights."""
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(1, 40)), 32 * int(rng.integers(1, 12))
    q = _mx_weights(rng, n, k, 10.0 ** rng.uniform(-3, 0))
    x = rng.integers(-128, 128, k)
    frac = int(129 - q.scales.min())                 # the smallest block exponent shifts by 0
    assert 0 <= frac <= 40
    bound = (np.abs(q.dequantize(signed_zero=False)).astype(np.float64) @ np.abs(x)).max() * 2.0 ** frac
    assert bound < 2 ** 47                            # the 48-bit accumulator holds every sum
    got = F.gemv_mxint4(q.codes, q.scales, x, 48, frac)
    ref = q.dequantize(signed_zero=False).astype(np.float64) @ x.astype(np.float64)
    assert np.array_equal(got * 2.0 ** -frac, ref)


@pytest.mark.parametrize("acc_bits,frac_bits", [(32, 16), (16, 0), (24, 30), (48, 40), (20, 4)])
def test_gemv_bit_exact_with_reference_truncation_and_wrap(acc_bits, frac_bits):
    """Random codes and exponents over the whole E8M0 range: shifts that drop bits (floor) and sums
    that wrap; the Numba lanes equal the vectorised numpy reference of the same order of operations."""
    rng = np.random.default_rng(acc_bits * 100 + frac_bits)
    n, k = 17, 32 * 9
    codes = rng.choice(np.array([c for c in range(16) if c != 8], np.uint8), (n, k))
    scales = rng.integers(0, 255, (n, k // 32)).astype(np.uint8)
    scales[:, 0] = 127 + 2 - frac_bits - 3            # some blocks shifted right by 3: floor
    x = rng.integers(-(1 << 15), 1 << 15, k)
    got = F.gemv_mxint4(codes, scales, x, acc_bits, frac_bits)
    assert np.array_equal(got, F.gemv_mxint4_reference(codes, scales, x, acc_bits, frac_bits))
    assert got.min() >= -(1 << (acc_bits - 1)) and got.max() < 1 << (acc_bits - 1)


def test_gemv_floor_of_a_right_shift():
    codes = np.zeros((1, 32), np.uint8)
    codes[0, 0] = 15                                   # -1
    x = np.zeros(32, np.int64)
    x[0] = 3                                           # p = -3
    s = np.array([[127 + 2 - 1]], np.uint8)            # shift right by 1 with frac_bits 0
    assert F.gemv_mxint4(codes, s, x, 32, 0)[0] == -2  # floor(-1.5)


@pytest.mark.parametrize("bad", ["code8", "nan_scale", "k", "x"])
def test_gemv_rejects_bad_operands(bad):
    codes, scales, x = np.zeros((2, 64), np.uint8), np.full((2, 2), 127, np.uint8), np.zeros(64, np.int64)
    if bad == "code8":
        codes[1, 3] = 8
    elif bad == "nan_scale":
        scales[0, 1] = 255
    elif bad == "k":
        codes, x = np.zeros((2, 48), np.uint8), np.zeros(48, np.int64)
    else:
        x = np.zeros(64, np.float32)
    with pytest.raises(F.FunctionalError):
        F.gemv_mxint4(codes, scales, x)


# ---- RMSNorm / RoPE units --------------------------------------------------------------------------
@pytest.mark.parametrize("d,lanes", [(64, 16), (2048, 16), (100, 8), (5, 1), (3, 4), (768, 64)])
def test_rmsnorm_bit_exact_and_close_to_float64(d, lanes):
    rng = np.random.default_rng(d + lanes)
    x = (rng.standard_normal((3, d)) * 10.0 ** rng.uniform(-2, 2, (3, 1))).astype(np.float32)
    x[0, :2] = [-0.0, 0.0]
    g = (1 + 0.1 * rng.standard_normal(d)).astype(np.float32)
    y = F.rmsnorm(x, g, lanes)
    assert np.array_equal(y.view(np.uint32), F.rmsnorm_reference(x, g, lanes).view(np.uint32))
    np.testing.assert_allclose(y, F.rmsnorm_float64(x, g), rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("pairing", ["half", "interleaved"])
def test_rope_bit_exact_and_close_to_float64(pairing):
    rng = np.random.default_rng(3)
    T_, H, D = 6, 5, 64
    pos = rng.integers(0, 8192, T_)
    c, s = F.rope_table(pos, D, 10000.0)
    x = rng.standard_normal((T_, H, D)).astype(np.float32)
    y = F.rope(x, c, s, pairing)
    assert np.array_equal(y.view(np.uint32), F.rope_reference(x, c, s, pairing).view(np.uint32))
    # against the rotation in float64 (complex numbers)
    x64 = x.astype(np.float64)
    if pairing == "half":
        z = x64[..., :D // 2] + 1j * x64[..., D // 2:]
    else:
        z = x64[..., 0::2] + 1j * x64[..., 1::2]
    ang = pos[:, None].astype(np.float64) * 10000.0 ** (-np.arange(0, D, 2) / D)
    r = z * np.exp(1j * ang)[:, None, :]
    want = np.concatenate([r.real, r.imag], -1) if pairing == "half" else np.stack([r.real, r.imag], -1).reshape(x.shape)
    np.testing.assert_allclose(y, want, atol=2e-6 * 8192)


# ---- decode cycle model ----------------------------------------------------------------------------
def test_decode_closed_form_equals_stepped_clock():
    rng = np.random.default_rng(0)
    for _ in range(400):
        args = (int(rng.integers(1, 40)), int(rng.integers(1, 300)), int(rng.integers(1, 5)),
                int(rng.choice([8, 16, 32])), int(rng.integers(1, 9)), int(rng.integers(8, 300)),
                int(rng.integers(1, 600)), int(rng.integers(0, 20)), int(rng.integers(1, 9)))
        assert T.decode_cycles(*args) == T.decode_cycles_stepped(*args), args


def test_decode_rate_matched_is_fully_used():
    """lanes x 136 bits == DRAM bits per cycle: one cycle per step, so a long GEMV runs at 100 % of its
    PEs up to the latencies; 1 B/cycle less makes it DRAM-bound by exactly that ratio."""
    N, K, lanes = 4096, 2048, 2
    beats = N * K // 32
    cyc = T.decode_cycles(N, K, 1, 32, lanes, 136, 272, 100, 7)
    assert cyc == beats // lanes + 100 + 1 + 7
    slow = T.decode_cycles(N, K, 1, 32, lanes, 136, 264, 100, 7)
    assert slow == 100 + -(-beats * 136 // 264) + 1 + 7


# ---- the kind through the registry -----------------------------------------------------------------
def test_registry_build_and_modes_agree():
    import hwsim

    sim = hwsim.build(DESIGN8)
    a = sim.run("gemv:1024,2048", mode="cycle")
    b = sim.run("gemv:1024,2048", mode="analytical")
    assert a.stats["cycles"] == b.stats["cycles"] and a.verified is True and b.verified is None
    assert a.stats["decode_lanes"] == 2 and a.stats["decode_pes"] == 64
    assert a.stats["decode_utilization"] > 0.99
    # rate-matched: the roofline max(bytes / B, MACs / PEs) plus DRAM latency, one step and the lane latency
    d = sim.design
    assert a.stats["decode_roofline_cycles"] == 1024 * 2048 / 64
    assert a.stats["cycles"] == 1024 * 2048 / 64 + d.memory.dram_latency + 1 + d.decode.lane_latency


def test_prefill_is_the_systolic_kind():
    import hwsim
    from hwsim.hsa.prefill import prefill_design
    from hwsim.systolic.sim import build as systolic

    d = hwsim.load(DESIGN16)
    r = hwsim.build(d).run("gemm:40,48,96", mode="cycle")
    s = systolic(prefill_design(d)).run("gemm:40,48,96", mode="cycle")
    assert r.rows[0].cycles == s.layers[0].cycles and r.rows[0].verified is True and r.mode == "cycle"


@pytest.mark.parametrize("path", ["DESIGN8", "DESIGN16"])
def test_prefill_applies_the_mx_block_exponents(path):
    """The prefill array takes each block's E8M0 exponent 2**(e-127) as the weight scale of its 32 K and
    the token's fp32 INT8 scale in the systolic epilogue: the model's and hwsim's (cycle mode) exact
    results, rounded once to float64, equal numpy's float64 (INT8 codes @ dequantize(W).T) * s_a bit for
    bit (that matmul is exact here: 3-bit elements, a few exponents, K = 96). Weight bytes: 4.25 bits."""
    import hwsim
    from hwsim.systolic.epilogue import to_float
    from hwsim.workloads import Gemm

    sim = hwsim.build(globals()[path]).prefill_sim
    assert sim.epilogue is not None and sim.group == 32
    rng = np.random.default_rng(11)
    M, K, N = 10, 96, 12
    x = (rng.standard_normal((M, K)) * rng.choice([0.5, 4], size=(M, 1))).astype(np.float32)
    w = (rng.standard_normal((N, K)) * rng.choice([0.01, 0.2], size=(N, 1))).astype(np.float32)
    ops = sim.quantize(x, w)
    frac = sim.frac_bits + 2 * sim.epilogue.scale_frac
    model = to_float(sim.reference(*sim._check_data(Gemm(M, N, K), ops)), frac)
    lr = sim.run(Gemm(M, N, K), mode="cycle", data=ops).layers[0]
    assert lr.verified and lr.closed_form_agrees
    qa, qw = dt.quantize(x, "int8", group_size=None), dt.quantize(w, "mxint4")
    assert len(np.unique(qw.scales)) > 1
    want = (qa.codes.view(np.int8).astype(np.float64) @ qw.dequantize().astype(np.float64).T) \
        * np.asarray(qa.scales, np.float64)
    for got in (model, to_float(lr.output, frac)):
        assert np.array_equal(got.view(np.uint64), want.view(np.uint64))
    # the weights fit the filter SRAM: read from DRAM once, 4 bits per element + 8 bits per block of 32
    assert sim.run(Gemm(64, 64, 256), mode="analytical").layers[0].dram_bytes["weight_read"] == 256 * 64 * 4.25 / 8


def test_prefill_verdict_can_say_no(monkeypatch):
    """The cycle-mode prefill verdict is computed: one ulp off in the numpy reference makes it NO."""
    import hwsim
    import hwsim.hsa.prefill as P

    sim = hwsim.build(DESIGN8)
    assert sim.run("gemm:12,16,64", mode="cycle").verified is True
    orig = P.numpy_reference
    monkeypatch.setattr(P, "numpy_reference", lambda s, x, w: np.nextafter(orig(s, x, w), np.inf))
    r = sim.run("gemm:12,16,64", mode="cycle")
    assert r.verified is False and "NO" in r.render()


def test_llm_decode_and_prefill_report():
    import json

    import hwsim

    sim = hwsim.build(DESIGN8)
    dec = sim.run("llm:gpt2,seq=64,phase=decode", mode="cycle")
    st = dec.stats
    assert st["phase"] == "decode" and st["generated_tokens"] == 1 and dec.verified is True
    names = [r.name for r in dec.rows]
    assert names[-2:] == ["rmsnorm", "rope"] and "qkv_proj" in names
    json.dumps(dec.to_dict(), allow_nan=False)
    assert "bit-exact" in dec.render() and dec.layer_rows()[0][0] == "layer"
    pre = sim.run("llm:gpt2,seq=16,phase=prefill", mode="analytical")
    assert pre.stats["prefill_cycles"] > 0 and pre.stats["decode_cycles"] == 0
    # 12 blocks x 2 RMSNorms + the final one, per token
    assert [r.repeat for r in pre.rows if r.stage == "rmsnorm"] == [16 * 25]


def test_e2e_scenarios_and_paper_comparison():
    import hwsim

    sim = hwsim.build(DESIGN16)
    liso = sim.run("llm:opt-1.3b,scenario=liso").stats
    assert liso["input_tokens"] == 1024 and liso["output_tokens"] == 64
    assert liso["paper_tokens_per_s_per_mm2"] == 247.0
    t = liso["cycles"] / (hwsim.load(DESIGN16).clock_mhz * 1e6)
    assert liso["tokens_per_s"] == pytest.approx((1024 + 64) / t)
    assert liso["tokens_per_s_per_mm2_estimate"] == pytest.approx(liso["tokens_per_s"] / liso["area_mm2_estimate"])
    same = sim.run("llm:opt-1.3b,phase=e2e,input=1024,output=64").stats
    assert same["cycles"] == liso["cycles"]
    # one decode step of the e2e equals the decode workload at that context
    one = sim.run("llm:opt-1.3b,phase=e2e,input=7,output=1").stats
    pre = sim.run("llm:opt-1.3b,seq=7,phase=prefill", mode="analytical").stats
    dec = sim.run("llm:opt-1.3b,seq=7,phase=decode", mode="analytical").stats
    assert one["cycles"] == pre["cycles"] + dec["cycles"]


def test_dram_sweep_sizes_the_decode_lanes():
    """Rate-matched lanes: at every multiple of 17 B/cycle (one MX block) the GEMV lanes are 100 % busy
    in steady state; in between, the DRAM is the bottleneck and the lanes idle by the ratio."""
    import hwsim

    d = hwsim.load(DESIGN16)
    for b in (17, 34, 51, 68, 30, 40):
        s = hwsim.build(d.replace(memory={"dram_bytes_per_cycle": b})).run("gemv:8192,2048", mode="analytical").stats
        lanes = -(-b // 17)
        assert s["decode_lanes"] == lanes
        want = b / (17 * lanes)
        assert s["decode_utilization"] == pytest.approx(want, rel=2e-3)


@pytest.mark.parametrize("change,match", [
    ({"decode": {"lanes": 9}}, "decode.lanes"),
    ({"memory": {"dram_bytes_per_cycle": 3.01}}, "dram_bytes_per_cycle"),
    ({"operands": {"weight": "int4"}}, "operands.weight"),
    ({"operands": {"activation": "fp4_basic"}}, "operands.activation"),
    ({"norm": {"lanes": 12}}, "norm.lanes"),
])
def test_spec_errors_name_the_key(change, match):
    import hwsim

    with pytest.raises(ValueError, match=match):
        hwsim.load(DESIGN8).replace(**change)


@pytest.mark.parametrize("workload,match", [
    ("gemv:0,32", "gemv:N,K"), ("llm:opt-1.3b,scenario=xx", "scenario"),
    ("llm:opt-1.3b,input=5", "phase=e2e"), ("llm:opt-1.3b,phase=e2e,input=5", "output"),
])
def test_workload_errors(workload, match):
    import hwsim

    with pytest.raises(ValueError, match=match):
        hwsim.build(DESIGN8).run(workload)


def test_cli_simulate(tmp_path):
    import json
    import subprocess
    import sys

    out = tmp_path / "run"
    p = subprocess.run([sys.executable, "-m", "hwsim.cli", "simulate", str(DESIGN8), "-w",
                        "llm:opt-1.3b,seq=32,phase=decode", "-o", str(out), "--no-plot"],
                       check=False, capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert "decode GEMV utilisation" in p.stdout
    rep = json.loads((out / "report.json").read_text())
    assert rep["stats"]["decode_pes"] == 64 and (out / "layers.csv").exists()


# ---- the generated GEMV lane (RTL) -----------------------------------------------------------------
def test_lane_rtl_lint_and_bench_can_fail(tmp_path):
    """The emitted lane is Verilator-lint clean; the bench's checker says NO on a changed output and a
    changed cycle (the four levels themselves run in tests/test_levels.py::TestHSALevels)."""
    import hwsim
    import testbenches.hsa as bench
    from rtl_gen.verilog import component_for, emit
    from testbenches.verilator import lint

    d = hwsim.load(DESIGN8)
    comp = component_for(d)
    art = emit(d, tmp_path, component=comp)
    assert lint(art.verilog, d.name).ok
    vs = bench.vectors(d, comp, seed=1)
    got, _ = bench.run("hwsim", d, comp, vs, art.directory)
    assert bench.check(vs, got, "hwsim").ok
    for key in ("outputs", "out_cycles"):
        bad = {k: np.array(v, copy=True) for k, v in got.items()}
        bad[key][3] += 1
        assert not bench.check(vs, bad, "hwsim").ok


def test_lane_rtl_rejects_what_it_cannot_build():
    import hwsim
    from rtl_gen.errors import RTLError
    from rtl_gen.hsa import MxDotLane, component

    with pytest.raises(RTLError, match="lane_latency"):
        component(hwsim.load(DESIGN8).replace(decode={"lane_latency": 3}))
    with pytest.raises(RTLError, match="lane width"):
        MxDotLane("int8", 32, 16, width=16)
    with pytest.raises(RTLError, match="integer activations"):
        MxDotLane("float8_e4m3fn")


def test_dram_sweep_file_and_table(tmp_path):
    """designs/sweeps/hsa_dram.yaml runs through hwsim sweep (inline) and hwsim.hsa.plots.sweep_table
    reads its points: rate-matched lanes at multiples of 17 B/cycle are >= 96 % busy at context 1."""
    import subprocess
    import sys

    from hwsim.hsa.plots import sweep_table

    out = tmp_path / "sw"
    p = subprocess.run([sys.executable, "-m", "hwsim.cli", "sweep", str(ROOT / "designs/sweeps/hsa_dram.yaml"),
                        "--inline", "-o", str(out), "--no-plot", "-q"],
                       check=False, capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-2000:]
    rows = [r.split() for r in sweep_table(out).splitlines()[3:]]
    assert len(rows) == 45
    matched = {float(r[0]): float(r[4]) for r in rows if r[2] == "(matched)"}
    assert all(matched[b] >= 96 for b in (17, 34, 51, 68, 85, 102, 136))
    assert matched[25.5] == pytest.approx(100 * 25.5 / 34, abs=1.5)


@pytest.mark.parametrize("K", [1, 33, 70])
def test_decode_check_covers_a_partial_last_block(K):
    """A decode GEMV whose K is not a multiple of the MX block is still checked (the lane takes the whole
    last block, zero codes and zero activations beyond K), not silently skipped."""
    import hwsim
    from hwsim.layers import Gemm

    sim = hwsim.build(DESIGN8)
    assert sim.check_gemv(Gemm(M=1, N=5, K=K, kind="gemv"), seed=3) is True
