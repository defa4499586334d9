"""Systolic array with per-group weight selectors (RaZeR, BitMoD) and the fixed-point scale epilogue:
the selector lanes decode to datatypes' values, the array + epilogue reproduce datatypes' dequantize()
exactly, real quantizer scales go through the generated RTL, and bad input is refused in one line.
(The four-level runs of the catalog designs are in tests/test_levels.py.)"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import datatypes as dt
from hwsim.design import DesignError, from_dict, load
from hwsim.pe.model import has_selector, weight_pe_format
from hwsim.systolic.epilogue import ScaleError, to_fixed, to_float
from hwsim.systolic.sim import SystolicSim
from hwsim.workloads import Gemm, WorkloadError

ROOT = Path(__file__).resolve().parents[1]


def design(weight="razer4", activation="int8", acc="int32", group=8, dataflow="ws", rows=4, scales="fixed",
           **ep):
    return from_dict({"schema": 1, "name": "t", "kind": "systolic",
                      "array": {"rows": rows, "cols": 4, "dataflow": dataflow},
                      "operands": {"weight": weight, "activation": activation, "accumulator": acc,
                                   "group_size": group},
                      "memory": {"ifmap_kb": 8, "filter_kb": 8, "ofmap_kb": 64, "backing": "none"},
                      "epilogue": {"scales": scales, **ep}})


@pytest.mark.parametrize("name", ["razer4", "bitmod4", "bitmod3", "bitmod_ant4", "nvfp4_razer"])
def test_selector_lanes_decode_to_datatypes_values(name):
    """lane = code | selector << bits decodes to code_values(selector)[code] (float32), exactly."""
    f, p = dt.get(name), weight_pe_format(name)
    assert has_selector(name) and p.bits == f.bits + (f.n_meta - 1).bit_length()
    for sel in range(f.n_meta):
        v32 = np.asarray(f.code_values(sel), np.float64).astype(np.float32).astype(np.float64)
        lanes = np.arange(1 << f.bits) | (sel << f.bits)
        ok = np.isfinite(v32)
        assert np.array_equal(p.valid[lanes], ok)
        assert np.array_equal(p.decode[lanes][ok] * 2.0 ** -p.frac_bits, v32[ok])
    assert not p.valid[f.n_meta << f.bits:].any()          # selector values past n_meta: no lane


def _exact(Y, frac):
    return [Fraction(int(v), 1 << frac) for v in np.asarray(Y, dtype=object).ravel()]


@pytest.mark.parametrize("weight, opts", [("razer4", {}), ("razer4", {"scale": "fp16"}), ("bitmod4", {}),
                                          ("bitmod3", {})])
@pytest.mark.parametrize("level", ["model", "hwsim"])
def test_identity_activations_reproduce_dequantize(weight, opts, level):
    """A = I (INT8 code 1, activation scale 1.0): the array + epilogue output is W's dequantized value,
    exactly; rounded like datatypes' dequantize kernels (fp32 product, then fp16) it is bit-equal."""
    sim = SystolicSim(design(weight, acc="int32"))
    rng = np.random.default_rng(1)
    K, N, g = 24, 6, 8
    w_nk = (rng.standard_normal((N, K)) * rng.choice([0.01, 1, 30], size=(N, 1))).astype(np.float32)
    q = dt.quantize(w_nk, weight, group_size=g, **opts)
    codes = np.ascontiguousarray(q.codes.T)
    sel = np.repeat(np.asarray(q.meta, np.int64).T, g, axis=0)
    from hwsim.pe.model import combine_selector

    lanes = combine_selector(codes, sel, weight)
    ep = sim.epilogue
    S_w = to_fixed(np.asarray(q.scales).T, ep.scale_bits, ep.scale_frac)
    S_a = to_fixed(np.ones(K, np.float32), ep.scale_bits, ep.scale_frac)
    a = np.eye(K, dtype=np.uint8)                          # int8 code 1 = 1.0
    data = (a, lanes, S_w, S_a)
    if level == "model":
        Y = sim.reference(*sim._check_data(Gemm(K, N, K), data))
    else:
        res = sim.run(Gemm(K, N, K), mode="cycle", data=data)
        assert res.layers[0].verified and res.layers[0].closed_form_agrees
        Y = res.layers[0].output
    frac = sim.frac_bits + 2 * ep.scale_frac
    exact = np.array([float(x) for x in _exact(Y, frac)]).reshape(K, N)      # <= 53 bits: exact
    got16 = exact.astype(np.float32).astype(np.float16)
    ref16 = np.asarray(q.dequantize(), np.float16).T
    assert np.array_equal(got16.view(np.uint16), ref16.view(np.uint16))
    # and the exact value is code_values(selector)[code] * scale, from datatypes alone
    f = dt.get(weight)
    for k, n in [(0, 0), (K - 1, N - 1), (9, 3)]:
        v = Fraction(float(np.float32(f.code_values(int(q.meta[n, k // g]))[q.codes[n, k]])))
        assert Fraction(exact[k, n]) == v * Fraction(float(q.scales[n, k // g]))


@pytest.mark.parametrize("name", ["sa_ws_4x4_razer4_int8", "sa_os_4x4_razer4_int8", "sa_is_4x4_razer4_int8"])
def test_real_quantized_gemm_through_the_rtl(name):
    """Real quantizer output (razer4 weights with fp32 scales, INT8 per-token activations) through the
    generated array (ws, os, is) under amaranth.sim: bit-exact with the exact sum of the dequantized operands."""
    import testbenches.systolic as tb
    from rtl_gen.verilog import component_for

    d = load(ROOT / "designs" / f"{name}.yaml")
    comp = component_for(d)
    sim = SystolicSim(d)
    rng = np.random.default_rng(2)
    M, K, N = 3, 20, 5
    x = rng.standard_normal((M, K)).astype(np.float32)
    w = (rng.standard_normal((N, K)) * 0.05).astype(np.float32)
    ops = sim.quantize(x, w)
    vs = tb.vectors(d, comp, operands=[ops])
    got = tb.run_amaranth(comp, vs)
    assert tb.check(vs, got, "amaranth").ok
    # the value: sum_k (a * s_a) * (w * s_w) with every factor from datatypes' quantized tensors
    qa = dt.quantize(x, "int8", group_size=None)
    qw = dt.quantize(w, "razer4", group_size=8)
    f = dt.get("razer4")
    frac = sim.frac_bits + 2 * sim.epilogue.scale_frac
    Y = _exact(got["outputs"], frac)
    for m, n in [(0, 0), (M - 1, N - 1), (1, 2)]:
        want = sum(Fraction(int(np.int8(qa.codes[m, k].astype(np.int8)))) * Fraction(float(qa.scales[m, 0]))
                   * Fraction(float(np.float32(f.code_values(int(qw.meta[n, k // 8]))[qw.codes[n, k]])))
                   * Fraction(float(qw.scales[n, k // 8])) for k in range(K))
        assert Y[m * N + n] == want


def test_bad_designs_and_inputs():
    with pytest.raises(DesignError, match="multiple of array.rows"):
        design(group=6)
    with pytest.raises(DesignError, match="multiple of array.rows"):
        design(group=6, dataflow="is")
    design(group=6, dataflow="os")                         # os: any K-group
    with pytest.raises(DesignError, match="whole K-group"):
        design(acc="int16", group=128)
    with pytest.raises(DesignError, match="epilogue.width"):
        design(width=16)
    with pytest.raises(ScaleError, match=r"scales\[\(1,\)\] = 1e-30 is not a multiple of 2\*\*-40"):
        to_fixed(np.array([1.0, 1e-30]), 58, 40)
    with pytest.raises(ScaleError, match="does not fit"):
        to_fixed(np.array([1e6]), 58, 40)
    sim = SystolicSim(design())
    a = np.zeros((2, 8), np.uint8)
    w = np.zeros((8, 4), np.uint8)
    with pytest.raises(WorkloadError, match="scale epilogue"):
        sim.run(Gemm(2, 4, 8), mode="cycle", data=(a, w))
    with pytest.raises(ScaleError, match=r"weight scales: shape \(2, 4\), expected \(1, 4\)"):
        sim.run(Gemm(2, 4, 8), mode="cycle", data=(a, w, np.zeros((2, 4), object), np.zeros(2, object)))
    bad = np.full((1, 4), 1 << 60, dtype=object)
    with pytest.raises(ScaleError, match="signed 58-bit"):
        sim.run(Gemm(2, 4, 8), mode="cycle", data=(a, w, bad, np.zeros(2, object)))
    w[0, 0] = 0b11 << 4 | 15                              # a lane that decodes under selector 3: fine
    sim.run(Gemm(2, 4, 8), mode="cycle", data=(a, w, np.zeros((1, 4), object), np.zeros(2, object)))


def test_selector_without_epilogue_all_dataflows():
    """The selector path alone (integer GEMM of the decoded lanes) in every dataflow, hwsim vs model."""
    for df in ("ws", "os", "is"):
        sim = SystolicSim(design("bitmod4", "float8_e4m3fn", "int48", dataflow=df, scales="none"))
        for i, shp in enumerate([(5, 7, 9), (9, 3, 17)]):
            lr = sim.run(Gemm(*shp), mode="cycle", seed=i).layers[0]
            assert lr.verified and lr.closed_form_agrees


@pytest.mark.parametrize("rows, cols, dataflow, L, group, weight", [
    (2, 3, "ws", 2, 4, "razer4"),          # epilogue with pe_latency 2, two row folds per K-group
    (1, 2, "ws", 3, 2, "bitmod3"),         # one-row array: the scale latch just before the first write
    (3, 2, "is", 2, None, "bitmod4"),      # selector lanes streamed (is) ...
    (3, 3, "os", 2, None, "razer4"),       # ... and in os, without the epilogue
])
def test_rtl_geometries_amaranth(rows, cols, dataflow, L, group, weight):
    """Selector lanes and the scale epilogue in generated arrays of other shapes and latencies: model,
    hwsim and amaranth.sim against the bench's independent expected values (outputs and write cycles)."""
    import testbenches.systolic as tb
    from rtl_gen.systolic import EpilogueConfig, SystolicArray, SystolicConfig

    ep = EpilogueConfig(group=group, scale_bits=40, scale_frac=30, width=120) if group else None
    cfg = SystolicConfig.make("t", rows, cols, dataflow, weight, "float8_e4m3fn", "int40", L, (2, 2, 16),
                              epilogue=ep)
    shapes = [(1, 1, 1), (2 * rows + 1, cols + 2, 3 * rows - 1)] + ([(4, 5, 3 * group + 1)] if ep else [])
    vs = tb.systolic_vectors(cfg, shapes, seed=5)
    for level, got in (("model", tb.run_model(cfg, vs)), ("hwsim", tb.run_hwsim(cfg, vs)),
                       ("amaranth", tb.run_amaranth(SystolicArray(cfg), vs))):
        res = tb.check(vs, got, level)
        assert res.ok, res.summary()


@pytest.mark.parametrize("rows, cols, L, group, weight, rm, dataflow, width", [
    (3, 2, 2, 4, "razer4", True, "os", 120),    # os epilogue: pipelined PE, registered memory outputs, 2 K-groups
    (1, 1, 1, 1, "bitmod3", False, "os", 120),  # 1x1, L = 1: fold length P = K, the last feed cycle ends the fold
    (2, 3, 3, 2, "bitmod4", True, "os", 120),   # K-group shorter than the array's rows (any group in os)
    (3, 2, 1, 4, "razer4", False, "os", 44),    # a 44-bit result: the group-end adds and S_a products wrap
    (3, 2, 2, 6, "razer4", True, "is", 120),    # is: two row folds per K-group, several column folds (rows m)
    (1, 1, 1, 1, "bitmod3", False, "is", 120),  # is: 1x1, one row fold per group
    (3, 2, 1, 3, "razer4", False, "is", 44),    # is: accumulate-on-write wraps at 44 bits
])
def test_epilogue_rtl_geometries_amaranth(rows, cols, L, group, weight, rm, dataflow, width):
    """The os scale epilogue (weight scales and group-end flags streaming with the weights, the group-end
    add in the accumulate stage, activation scales at the drain) and the is one (activation scales latched
    per fold, weight scales of the streamed columns chained along the banks) in other shapes and
    pipelining choices: model, hwsim and amaranth.sim against the bench's expected values (outputs,
    cycles, write cycles)."""
    import testbenches.systolic as tb
    from rtl_gen.systolic import EpilogueConfig, SystolicArray, SystolicConfig

    ep = EpilogueConfig(group=group, scale_bits=40, scale_frac=30, width=width)
    cfg = SystolicConfig.make("t", rows, cols, dataflow, weight, "float8_e4m3fn", "int40", L, (2, 2, 16),
                              epilogue=ep, register_memory_outputs=rm)
    shapes = [(1, 1, 1), (2 * rows + 1, cols + 2, 3 * rows - 1), (4, 5, 3 * group + 1), (rows, cols, group)]
    vs = tb.systolic_vectors(cfg, shapes, seed=5)
    for level, got in (("model", tb.run_model(cfg, vs)), ("hwsim", tb.run_hwsim(cfg, vs)),
                       ("amaranth", tb.run_amaranth(SystolicArray(cfg), vs))):
        res = tb.check(vs, got, level)
        assert res.ok, res.summary()
        if level != "model":
            assert res.cycles == int(vs.expected["cycles"].sum())
    if width < 64:                         # the narrow result really wraps (else the case proves nothing)
        wide = tb.systolic_vectors(SystolicConfig.make("t", rows, cols, dataflow, weight, "float8_e4m3fn", "int40", L,
                                                       (2, 2, 16), epilogue=EpilogueConfig(group, 40, 30, 200),
                                                       register_memory_outputs=rm), shapes, seed=5)
        assert (np.asarray(wide.expected["outputs"], dtype=object) != vs.expected["outputs"]).sum() > 10


def test_rtl_epilogue_group_rule():
    """ws and is need each row fold inside one K-group; os takes any K-group."""
    from rtl_gen.errors import RTLError
    from rtl_gen.systolic import EpilogueConfig, SystolicConfig

    ep = EpilogueConfig(group=6, scale_bits=40, scale_frac=30, width=120)
    for df in ("ws", "is"):
        with pytest.raises(RTLError, match="multiple of array.rows = 4"):
            SystolicConfig.make("t", 4, 2, df, "razer4", "int8", "int32", epilogue=ep)
    SystolicConfig.make("t", 4, 2, "os", "razer4", "int8", "int32", epilogue=ep)


def test_exported_os_epilogue_suite(tmp_path):
    """The exported cocotb suite of the os epilogue design (160-bit results, stored as decimal strings)
    passes without hwsim and fails, naming the element, on one wrong expected value. Under Icarus when
    installed (a 1-2 s compile; the same Verilog runs under Verilator in tests/test_levels.py), else
    under Verilator."""
    import shutil

    from test_export import HAVE_ICARUS, _run

    from testbenches.export import export_suite

    sim = "icarus" if HAVE_ICARUS else "verilator"
    suite = export_suite(load(ROOT / "designs" / "sa_os_4x4_razer4_int8.yaml"), tmp_path / "build")
    copy = tmp_path / "suite"
    shutil.copytree(suite, copy)
    rc, out, (tests, failed) = _run(copy, sim, tmp_path / "run")
    assert rc == 0 and tests == 1 and failed == 0, out[-3000:]
    z = dict(np.load(copy / "vectors.npz"))
    key = next(k for k in z if k.endswith("outputs"))
    a = z[key].copy()
    assert a.dtype.kind == "U"                      # 160-bit results: decimal strings after a marker
    a[1 + 5] = str(int(a[1 + 5]) + 1)               # outputs[5]
    z[key] = a
    np.savez(copy / "vectors.npz", **z)
    rc, out, (tests, failed) = _run(copy, sim, tmp_path / "run")
    assert rc == 1 and tests == 1 and failed == 1, out[-3000:]
    assert "outputs[5]" in out, out[-3000:]


# ---- MX formats: the block's E8M0 exponent as a power-of-two weight scale -----------------------------
MX_EP = {"scale_bits": 64, "scale_frac": 56, "width": 192}       # the HSA's prefill epilogue (hwsim.hsa.prefill)


def _float64_matmul_is_exact(a_int, codes_kn, exps_gn, g):
    """Whether float64 A @ W_deq (any summation order) is exact: every product and partial sum is an
    integer multiple of the smallest ulp below 2**53 (checked with int64 arithmetic)."""
    e = np.repeat(exps_gn, g, axis=0)[:codes_kn.shape[0]]
    lo = int(e.min())
    wi = codes_kn * (np.int64(1) << (e - lo))                       # integer weights in units of 2**(lo-129)
    bound = np.abs(a_int).astype(np.int64) @ np.abs(wi)            # max |partial sum| in those units
    return int(bound.max()) < (1 << 53)


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
@pytest.mark.parametrize("level", ["model", "hwsim"])
def test_mxint4_block_exponents_equal_numpy_on_dequantized(dataflow, level):
    """MXINT4 x INT8 through the epilogue (E8M0 exponent = weight scale of its block of 32, fp32 scale per
    token): the exact fixed-point result, rounded once to float64, equals numpy's float64
    (A codes @ dequantize(W).T) * s_a bit for bit (the matmul exact by construction, checked)."""
    sim = SystolicSim(design("mxint4", group=32, dataflow=dataflow, **MX_EP))
    rng = np.random.default_rng(4)
    M, K, N = 6, 80, 5                                     # 2.5 blocks: a partial last block
    x = (rng.standard_normal((M, K)) * rng.choice([0.1, 1, 20], size=(M, 1))).astype(np.float32)
    w = (rng.standard_normal((N, K)) * rng.choice([0.003, 0.05, 2], size=(N, 1))).astype(np.float32)
    A, W, S_w, S_a = sim.quantize(x, w)
    assert all(v & (v - 1) == 0 for v in S_w.ravel())      # powers of two
    qa, qw = dt.quantize(x, "int8", group_size=None), dt.quantize(w, "mxint4")
    if level == "model":
        Y = sim.reference(*sim._check_data(Gemm(M, N, K), (A, W, S_w, S_a)))
    else:
        lr = sim.run(Gemm(M, N, K), mode="cycle", data=(A, W, S_w, S_a)).layers[0]
        assert lr.verified and lr.closed_form_agrees
        Y = lr.output
    got = to_float(Y, sim.frac_bits + 2 * MX_EP["scale_frac"])
    a = qa.codes.view(np.int8).astype(np.float64)
    wd = qw.dequantize().astype(np.float64)                # exact: 3-bit elements x 2**(e-127)
    want = (a @ wd.T) * np.asarray(qa.scales, np.float64)
    signed = (qw.codes.astype(np.int64) ^ 8) - 8
    assert _float64_matmul_is_exact(qa.codes.view(np.int8).astype(np.int64), signed.T,
                                    qw.scales.T.astype(np.int64), 32)
    assert np.array_equal(got.view(np.uint64), want.view(np.uint64))


def test_mxint4_os_epilogue_random_operands():
    """os with the epilogue (hwsim; the RTL in tests/test_levels.py): per-K-group kernel values = the model,
    the clock = closed forms,
    over shapes with several row/column folds and a partial block; random power-of-two block scales."""
    for rows, cols, L in ((4, 4, 1), (3, 2, 2)):
        sim = SystolicSim(from_dict({"schema": 1, "name": "t", "kind": "systolic",
                                     "array": {"rows": rows, "cols": cols, "dataflow": "os", "pe_latency": L},
                                     "operands": {"weight": "mxint4", "activation": "int8", "accumulator": "int24",
                                                  "group_size": 32},
                                     "memory": {"backing": "none", "ofmap_kb": 64},
                                     "epilogue": {"scales": "fixed", **MX_EP}}))
        for i, shp in enumerate([(1, 1, 1), (7, 5, 70), (9, 3, 64)]):
            lr = sim.run(Gemm(*shp), mode="cycle", seed=i).layers[0]
            assert lr.verified and lr.closed_form_agrees, (rows, L, shp)


def _dram_design(weight, group, scales, activation="int8", acc="int32"):
    return from_dict({"schema": 1, "name": "t", "kind": "systolic", "array": {"rows": 4, "cols": 4, "dataflow": "ws"},
                      "operands": {"weight": weight, "activation": activation, "accumulator": acc,
                                   "group_size": group},
                      "memory": {"ifmap_kb": 64, "filter_kb": 64, "ofmap_kb": 64},
                      "epilogue": {"scales": scales}})


@pytest.mark.parametrize("weight, group, scales, code, sel, scale", [
    ("int8", None, "none", 8, 0, 0),
    ("razer4", 8, "none", 4, 2, 0),             # code + 2-bit selector per group, not a 6-bit lane per weight
    ("razer4", 8, "fixed", 4, 2, 58),           # + the epilogue's 58-bit fixed-point scale per group
    ("bitmod3", 8, "fixed", 3, 2, 58),
    ("mxint4", 32, "none", 4, 0, 8),            # + the E8M0 exponent per block: 4.25 bits
    ("mxint4", 32, "fixed", 4, 0, 8),           # the epilogue expands the exponent, the memory holds 8 bits
    ("mxint4", None, "none", 4, 0, 8),          # group_size null: MX's own block of 32
    ("razer4", None, "none", 4, 2, 0),          # group_size null: one selector per column (the whole K)
])
def test_weight_bytes_are_codes_plus_group_bits(weight, group, scales, code, sel, scale):
    """DRAM, SRAM and compulsory weight bytes count code bits per weight plus selector / exponent / scale
    bits per (K-group, column), as a memory holds them (not the array's lane width)."""
    sim = SystolicSim(_dram_design(weight, group, scales))
    M, N, K = 8, 12, 72                                    # 72: a partial last group stores whole group bits
    lr = sim.run(Gemm(M, N, K), mode="analytical").layers[0]
    groups = -(-K // (group or (32 if weight == "mxint4" else K)))
    want = (K * N * code + groups * N * (sel + scale)) / 8
    assert lr.dram_bytes["weight_read"] == pytest.approx(want, rel=1e-12)   # ws: weights read from DRAM once
    assert lr.sram_bytes["weight_read"] == pytest.approx(lr.sram["weight_reads"] * want / (K * N), rel=1e-12)
    other = M * K * 8 / 8 + M * N * sim.res_bits / 8
    assert lr.compulsory_bytes == pytest.approx(want + other, rel=1e-12)


def test_mx_scale_errors():
    sim = SystolicSim(design("mxint4", group=32, **MX_EP))
    w = np.full((4, 32), 0.5, np.float32)
    w[2, 3] = 300.0                                          # exponent 2**8: 2**64 does not fit 64 bits
    with pytest.raises(ScaleError, match=r"weight scales\[\(0, 2\)\] = 256.0 does not fit"):
        sim.quantize(np.ones((2, 32), np.float32), w)
    with pytest.raises(ScaleError, match="E8M0"):
        from hwsim.systolic.epilogue import e8m0_to_float
        e8m0_to_float(np.array([255]))
    nv = SystolicSim(design("nvfp4_razer", group=16, acc="int32"))
    with pytest.raises(ScaleError, match="nvfp4_razer.*codes"):
        nv.quantize(np.ones((2, 32), np.float32), np.ones((4, 32), np.float32))
