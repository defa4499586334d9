"""Systolic array: bit-exact outputs, cycle-level == analytical, exact timing, PE decoders, wrap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import datatypes as dt
import hwsim
from hwsim import pe
from hwsim.arith import signed_width
from hwsim.design import from_dict
from hwsim.workloads import Conv, Gemm


def design(rows, cols, df, weight="int8", activation="int8", acc="int32", L=1, **mem):
    return from_dict({"schema": 1, "name": f"t_{rows}x{cols}_{df}", "kind": "systolic",
                      "array": {"rows": rows, "cols": cols, "dataflow": df, "pe_latency": L},
                      "operands": {"weight": weight, "activation": activation, "accumulator": acc},
                      "memory": mem or {}})


def numpy_reference(a_codes, w_codes, weight, activation, acc_bits):
    """Independent reference: decode with the format's float32 values (exact in float64 x 2**frac), integer
    matmul with Python ints (no overflow), wrap to acc_bits."""
    def ints(codes, name):
        f = dt.get(name)
        vals = f.code_values(None) if f.family == "int" else f.code_values()
        v32 = np.asarray(vals, np.float64).astype(np.float32).astype(np.float64)
        frac = pe.pe_format(name).frac_bits
        table = [int(x * 2 ** frac) if np.isfinite(x) else None for x in v32]
        return np.array([[table[c] for c in row] for row in codes], dtype=object)

    a = ints(a_codes, activation)
    w = ints(w_codes, weight)
    y = a.dot(w)
    mod = 1 << acc_bits
    half = 1 << (acc_bits - 1)
    return np.array([[((int(v) + half) % mod) - half for v in row] for row in y], dtype=np.int64)


# ---- PE decoders ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", pe.pe_formats())
def test_decoder_is_exact_float32_value(name):
    f = pe.pe_format(name)
    fmt = dt.get(name)
    vals = fmt.code_values(None) if fmt.family == "int" else fmt.code_values()
    v32 = np.asarray(vals, np.float64).astype(np.float32)
    ok = np.isfinite(v32)
    assert np.array_equal(ok, f.valid)
    assert np.array_equal(f.decode[ok].astype(np.float64) * 2.0 ** -f.frac_bits, v32[ok].astype(np.float64))
    assert signed_width(f.lo, f.hi) == f.width <= pe.MAX_DECODE_BITS


def test_e4m3_decoder_matches_ml_dtypes():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    f = pe.pe_format("float8_e4m3fn")
    codes = np.arange(256, dtype=np.uint8)
    ref = codes.view(ml_dtypes.float8_e4m3fn).astype(np.float64)
    ok = np.isfinite(ref)
    assert np.array_equal(ok, f.valid)
    assert np.array_equal(f.decode[ok] * 2.0 ** -9, ref[ok])


def test_formats_without_pe():
    with pytest.raises(pe.PEError, match="decode to \+-Inf"):
        pe.pe_format("float8_e5m2")
    with pytest.raises(pe.PEError, match="int<N>"):
        pe.accumulator_bits("fp32")


# ---- bit-exact outputs ----------------------------------------------------------------------------
SHAPES = [(1, 1, 1), (5, 7, 9), (20, 13, 30), (8, 8, 8), (17, 3, 33)]
FORMATS = [("int8", "int8", "int32"), ("int4", "int8", "int24"), ("sf4", "float8_e4m3fn", "int64"),
           ("fp4_basic", "float8_e4m3fn", "int40"), ("nf4", "int8", "int48"), ("nvfp4", "int8", "int16"),
           ("apot4", "int4", "int40")]


@pytest.mark.parametrize("df", ["ws", "is", "os"])
@pytest.mark.parametrize("w,a,acc", FORMATS)
def test_outputs_bit_exact(df, w, a, acc):
    sim = hwsim.build(design(4, 3, df, w, a, acc))
    for i, (M, N, K) in enumerate(SHAPES):
        g = Gemm(M, N, K)
        codes = sim.random_operands(g, seed=i)
        res = sim.run(g, mode="cycle", data=codes)
        ref = numpy_reference(*codes, w, a, int(acc[3:]))
        assert np.array_equal(res.outputs[0], ref), (df, w, a, M, N, K)
        assert res.verified


@pytest.mark.parametrize("df", ["ws", "is", "os"])
def test_quantized_operands_bit_exact(df):
    sim = hwsim.build(design(8, 4, df, "sf4", "float8_e4m3fn", "int64"))
    g = Gemm(19, 10, 140)
    a, w = sim.quantized_operands(g, seed=3)
    res = sim.run(g, mode="cycle", data=(a, w))
    assert np.array_equal(res.outputs[0], numpy_reference(a, w, "sf4", "float8_e4m3fn", 64))


def test_accumulator_wraps():
    # 200 products of (-128)*(-128) = 16384 each overflow int16 many times: result is the exact sum mod 2**16
    for df in ("ws", "is", "os"):
        sim = hwsim.build(design(4, 4, df, "int8", "int8", "int16"))
        g = Gemm(3, 2, 200)
        a = np.full((3, 200), 0x80, np.uint8)
        w = np.full((200, 2), 0x80, np.uint8)
        res = sim.run(g, mode="cycle", data=(a, w))
        exact = 200 * 16384
        wrapped = ((exact + 2 ** 15) % 2 ** 16) - 2 ** 15
        assert wrapped != exact
        assert (res.outputs[0] == wrapped).all()


def test_analytical_outputs_equal_cycle_outputs():
    sim = hwsim.build(design(4, 4, "ws", "int8", "int8", "int64"))
    g = Gemm(30, 20, 70)
    codes = sim.random_operands(g, seed=1)
    c = sim.run(g, mode="cycle", data=codes)
    a = sim.run(g, mode="analytical", data=codes)
    assert np.array_equal(c.outputs[0], a.outputs[0])


def test_conv_matches_direct_convolution():
    conv = Conv(9, 8, 3, 2, 3, 5, stride_h=2, stride_w=1, pad_h=1, pad_w=2, name="c")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(9, 8, 3)).astype(np.uint8)
    f = rng.integers(0, 256, size=(3, 2, 3, 5)).astype(np.uint8)
    xi = x.astype(np.int8).astype(np.int64)
    fi = f.astype(np.int8).astype(np.int64)
    xp = np.pad(xi, ((1, 1), (2, 2), (0, 0)))
    oh, ow = (9 + 2 - 3) // 2 + 1, (8 + 4 - 2) // 1 + 1
    ref = np.zeros((oh, ow, 5), np.int64)
    for i in range(oh):
        for j in range(ow):
            patch = xp[2 * i:2 * i + 3, j:j + 2, :]
            ref[i, j] = np.tensordot(patch, fi, axes=([0, 1, 2], [0, 1, 2]))
    for df in ("ws", "is", "os"):
        sim = hwsim.build(design(4, 4, df, acc="int32"))
        res = sim.run(conv, mode="cycle", data=(x, f))
        assert np.array_equal(res.outputs[0], ref.reshape(oh * ow, 5))


# ---- timing: closed forms, cycle-level == analytical ----------------------------------------------
def test_worked_examples_of_the_doc():
    # docs/systolic.md section 6, computed by hand from the fold formulas
    assert hwsim.build(design(8, 8, "ws")).plan(Gemm(20, 13, 30)).cycles == 1 + 8 * 43 == 345
    assert hwsim.build(design(8, 8, "is")).plan(Gemm(20, 13, 30)).cycles == 1 + 12 * 36 == 433
    assert hwsim.build(design(8, 8, "os")).plan(Gemm(20, 13, 30)).cycles == 1 + 6 * 44 + 8 == 273
    assert hwsim.build(design(4, 3, "ws", L=2)).plan(Gemm(5, 7, 9)).cycles == 1 + 9 * 19 == 172


@pytest.mark.parametrize("df", ["ws", "is", "os"])
@pytest.mark.parametrize("L", [1, 2, 3])
def test_cycle_level_equals_analytical(df, L):
    sim = hwsim.build(design(5, 3, df, L=L))
    for M, N, K in [(1, 1, 1), (2, 9, 4), (11, 6, 16), (5, 3, 5), (23, 7, 12)]:
        c = sim.run(Gemm(M, N, K, repeat=3), mode="cycle")
        a = sim.run(Gemm(M, N, K, repeat=3), mode="analytical")
        assert c.compute_cycles == a.compute_cycles == 3 * sim.plan(Gemm(M, N, K)).cycles
        assert c.layers[0].sram == a.layers[0].sram
        assert c.verified


@settings(max_examples=40, deadline=None)
@given(R=st.integers(1, 6), C=st.integers(1, 6), L=st.integers(1, 3), df=st.sampled_from(["ws", "is", "os"]),
       M=st.integers(1, 14), N=st.integers(1, 14), K=st.integers(1, 14), seed=st.integers(0, 2 ** 16))
def test_property_cycle_level(R, C, L, df, M, N, K, seed):
    sim = hwsim.build(design(R, C, df, L=L, acc="int20"))
    g = Gemm(M, N, K)
    codes = sim.random_operands(g, seed=seed)
    res = sim.run(g, mode="cycle", data=codes)
    assert np.array_equal(res.outputs[0], numpy_reference(*codes, "int8", "int8", 20))
    assert res.compute_cycles == sim.run(g, mode="analytical").compute_cycles


def test_sram_counts_closed_forms():
    M, N, K = 20, 13, 30
    kf = math.ceil(K / 8)
    ws = hwsim.build(design(8, 8, "ws")).plan(Gemm(M, N, K)).sram_accesses()
    assert ws == {"weight_reads": K * N, "activation_reads": M * K * 2, "output_writes": M * N * kf,
                  "output_reads": M * N * (kf - 1)}
    os_ = hwsim.build(design(8, 8, "os")).plan(Gemm(M, N, K)).sram_accesses()
    assert os_ == {"weight_reads": K * N * 3, "activation_reads": M * K * 2, "output_writes": M * N,
                   "output_reads": 0}


def test_fold_trace_is_compact_and_consistent():
    sim = hwsim.build(design(128, 128, "ws"))
    plan = sim.plan(Gemm(2048, 4096, 4096))
    assert plan.folds == 32 * 32
    tr = plan.trace()
    assert tr["outer_folds"] == 32 and tr["inner_folds"] == 32 and len(str(tr)) < 400
    ft = plan.fold_table()
    assert ft["macs"].sum() == 2048 * 4096 * 4096
    assert ft["start"][-1] + ft["cycles"][-1] == plan.cycles
    assert len(plan.fold_table(limit=10)["start"]) == 10


def test_big_gemm_analytical():
    sim = hwsim.build("designs/tpu_like_128x128_ws_int8.yaml")
    res = sim.run("gemm:2048,4096,4096", mode="analytical")
    plan = sim.plan(Gemm(2048, 4096, 4096))
    assert res.compute_cycles == 1 + 1024 * (128 + 2048 + 128 + 128 - 1)
    assert res.macs == 2048 * 4096 * 4096
    assert 0 < res.utilization <= 1 and res.layers[0].mapping_efficiency == 1.0
    assert plan.folds == 1024


def test_auto_mode_picks_analytical_for_large():
    sim = hwsim.build("designs/tpu_like_128x128_ws_int8.yaml")
    assert sim.run("gemm:2048,4096,4096").mode == "analytical"
    assert sim.run("gemm:16,16,16").mode == "cycle"
    from hwsim.systolic import AUTO_CYCLE_CLOCKS, AUTO_CYCLE_LIMIT

    # 1024^3 on 128x128: 1.48e9 PE-cycles (> limit); 512x512x1024: 3.7e8 PE-cycles, 22,657 cycles (cycle level)
    assert sim.pe_cycles("gemm:1024,1024,1024") > AUTO_CYCLE_LIMIT
    res = sim.run("gemm:1024,1024,1024")
    assert res.mode == "analytical" and any("PE-cycles > 1e+09" in n for n in res.notes)
    assert 3e8 < sim.pe_cycles("gemm:512,512,1024") <= AUTO_CYCLE_LIMIT     # analytical under the old 3e8
    # a 4x4 array is bound by clock cycles: 3.4e7 cycles > AUTO_CYCLE_CLOCKS although 5.4e8 PE-cycles
    small = hwsim.build(design(4, 4, "ws"))
    pc = small.pe_cycles("gemm:1024,1024,512")
    assert pc <= AUTO_CYCLE_LIMIT and pc / 16 > AUTO_CYCLE_CLOCKS
    res = small.run("gemm:1024,1024,512")
    assert res.mode == "analytical" and any("clock cycles > 2e+07" in n for n in res.notes)


@pytest.mark.parametrize("df", ["ws", "is", "os"])
@pytest.mark.parametrize("L", [1, 2])
def test_per_element_write_cycles(df, L):
    """The kernel's write cycle of every result element equals the closed form (docs/systolic.md 4-5)."""
    sim = hwsim.build(design(4, 3, df, L=L))
    for M, N, K in [(1, 1, 1), (7, 5, 9), (9, 10, 4), (4, 3, 8)]:
        g = Gemm(M, N, K)
        out, cnt, wc = sim.run_layer_cycle(g, *sim.random_operands(g), write_cycles=True)
        plan = sim.plan(g)
        assert np.array_equal(wc, plan.write_cycles())
        assert wc.max() == plan.last_write_cycle == cnt[5]
