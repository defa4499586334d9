"""lutnet: netlist format, Numba evaluation, conversion (against LogicNets' own code), shrinkage, training,
simulator protocol, and the four-level verification of the generated RTL."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hwsim.lutnet import netlist as nl
from hwsim.lutnet.model import (
    QLayer,
    Quantizer,
    QuantMLP,
    input_importance,
    shrink,
    to_netlist,
)
from hwsim.lutnet.netlist import (
    Layer,
    LutNet,
    NetlistError,
    random_netlist,
    remove_unused_inputs,
)

ROOT = Path(__file__).resolve().parents[1]
DESIGNS = ROOT / "designs" / "lutnet"
REF = json.loads((ROOT / "tests" / "data" / "lutnet_logicnets_ref.json").read_text())


def load_design(name: str):
    from hwsim.lutnet import spec

    return spec.load(DESIGNS / f"{name}.yaml")


# -- netlist format and evaluation ------------------------------------------------------------------------
@pytest.mark.parametrize("seed,sizes,fanin,bits,vary", [
    (0, [64, 64, 32, 32, 10], [3, 3, 3, 4], [2, 2, 2, 2, 3], False),
    (1, [20, 30, 7], [7, 5], [1, 2, 4], True),           # fan-in 0..7: constants and the generic path
    (2, [9, 12, 5], [2, 3], [3, 4, 8], True),
    (3, [16, 8], [6], 1, False),
    (4, [24, 9, 4], [12, 7], [1, 1, 3], True),          # fan-in 8..12: the generic address-vector path
    (5, [12, 10, 4], [6, 9], [3, 2, 2], False),         # 18 address bits: uint32 addresses (fixed and generic)
])
def test_forward_matches_numpy(seed, sizes, fanin, bits, vary):
    net = random_netlist(sizes, fanin, bits, seed=seed, vary_fanin=vary)
    x = np.random.default_rng(seed).integers(0, 1 << net.b_in, (3001, net.n_in)).astype(np.uint8)
    y = net.forward(x, chunk=512)
    assert y.dtype == np.uint8 and y.shape == (3001, net.n_out)
    assert np.array_equal(y, net.forward_numpy(x))
    layers = net.forward(x, all_layers=True)
    assert np.array_equal(layers[-1], y) and len(layers) == net.depth


def test_address_order_first_input_in_msbs():
    # neuron reads inputs (1, 4) of 2 bits: address = code[1] << 2 | code[4]
    table = np.arange(16, dtype=np.uint8)
    net = LutNet([Layer(n_in=5, b_in=2, b_out=4, indptr=np.array([0, 2]), indices=np.array([1, 4]), tables=table)])
    x = np.zeros((1, 5), np.uint8)
    x[0, 1], x[0, 4] = 2, 1
    assert net.forward(x)[0, 0] == 2 * 4 + 1


def test_save_load_roundtrip(tmp_path):
    net = random_netlist([10, 6, 3], [4, 3], [2, 3, 2], seed=5, vary_fanin=True)
    p = net.save(tmp_path / "n.npz")
    back = LutNet.load(p)
    assert back.equals(net) and back.meta == net.meta
    x = np.random.default_rng(0).integers(0, 4, (50, 10)).astype(np.uint8)
    assert np.array_equal(back.forward(x), net.forward(x))


def _broken(tmp_path, **change):
    net = random_netlist([6, 4], [2], [2, 2], seed=1)
    arrays = dict(np.load(net.save(tmp_path / "ok.npz")))
    head = json.loads(bytes(arrays["header"]).decode())
    for k, v in change.items():
        if k == "header":
            v(head)
        else:
            arrays[k] = v(arrays[k])
    arrays["header"] = np.frombuffer(json.dumps(head).encode(), np.uint8)
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    return p


@pytest.mark.parametrize("change,message", [
    ({"l0_indices": lambda a: np.where(a == a.max(), 6, a)}, "input index 6 out of range: allowed 0..5"),
    ({"l0_tables": lambda a: a[:-1]}, "tables has 63 entries"),
    ({"l0_tables": lambda a: np.where(np.arange(len(a)) == 0, 9, a).astype(np.uint8)}, "does not fit b_out = 2"),
    ({"l0_indices": lambda a: a[::-1].copy()}, "strictly ascending"),
    ({"header": lambda h: h.update(format="other")}, "header.format"),
    ({"header": lambda h: h["layers"][0].update(b_in=0)}, "header.layers[0].b_in"),
    ({"header": lambda h: h["layers"][0].update(n_out=5)}, "l0_indptr"),
    ({"l0_indptr": lambda a: a[:-1]}, "l0_indptr"),
    ({"l0_tables": lambda a: a.astype(np.uint16) + 256}, "does not fit b_out = 2"),       # no silent wrap to uint8
    ({"l0_indices": lambda a: a.astype(np.int64) + (1 << 32)}, "out of range"),          # no silent wrap to int32
    ({"l0_tables": lambda a: a.astype(np.float32)}, "expected a 1-D integer array"),
])
def test_load_validation(tmp_path, change, message):
    with pytest.raises(NetlistError, match=None) as e:
        LutNet.load(_broken(tmp_path, **change))
    assert message in str(e.value) and "bad.npz" in str(e.value)


def test_load_errors(tmp_path):
    with pytest.raises(NetlistError, match="no such netlist file"):
        LutNet.load(tmp_path / "none.npz")
    (tmp_path / "x.npz").write_text("not a zip")
    with pytest.raises(NetlistError, match="not an npz"):
        LutNet.load(tmp_path / "x.npz")


def test_width_limit_and_inputs():
    with pytest.raises(NetlistError, match="address bits > the limit 20"):
        random_netlist([30, 2], [11], [2, 1])
    net = random_netlist([8, 3], [3], [2, 2])
    with pytest.raises(NetlistError, match=r"expected \[N, 8\]"):
        net.forward(np.zeros((2, 7), np.uint8))
    with pytest.raises(NetlistError, match="codes must be integers 0..3"):
        net.forward(np.full((2, 8), 4))
    bad = np.zeros((3000, 8), np.uint8)
    bad[2999, 7] = 4                                       # uint8: checked inside the input transpose
    with pytest.raises(NetlistError, match=r"codes must be integers 0..3 .* range 0..4"):
        net.forward(bad)


@pytest.mark.parametrize("R", [0, 1, 7, 63, 64, 65, 511, 512, 520, 1031, 2048])
@pytest.mark.parametrize("C", [1, 5, 8, 63, 64, 65, 200])
def test_transpose_blocked(R, C):
    from hwsim.lutnet.netlist import _transpose_or

    a = np.random.default_rng(R * 1000 + C).integers(0, 256, (R, C)).astype(np.uint8)
    a[:, ::3] &= 0x7F
    out, seen = _transpose_or(a)
    assert out.flags.c_contiguous and np.array_equal(out, a.T)
    assert int(seen) == int(np.bitwise_or.reduce(a.ravel())) if a.size else int(seen) == 0


def test_lut_cost_published():
    # LogicNets' own get_lut_cost on the published configurations (tests/data, generated from 691bf89) and
    # the table bits of shared/spec/lutnets.md section 4
    from hwsim.lutnet.sim import design_cost

    bits = {"jsc_s": 21_120, "jsc_m": 2_027_520, "jsc_l": 7_241_728, "nid_s": 3_461_376, "nid_m": 16_961_792,
            "nid_l": 29_817_216}
    for name, ref in REF["lut_cost"].items():
        d = load_design(name)
        assert list(d.network.sizes) == ref["sizes"] and list(d.network.fanin) == ref["fanin"]
        c = design_cost(d)
        assert c["lut_cost"] == ref["lut_cost"], name
        if name in bits:
            assert c["table_bits"] == bits[name], name
    net = random_netlist(*[REF["lut_cost"]["jsc_s"][k] for k in ("sizes", "fanin", "bits")])
    assert net.lut_cost() == 330 and net.table_bits == 21_120
    assert nl.lut_cost(12, 3) == 255 and nl.neuron_lut_cost(4, 3) == 3 and nl.neuron_lut_cost(0, 2) == 0


# -- conversion: LogicNets' truth tables, case ROMs, wiring and LUT inference -------------------------------
def _ref_layer(case) -> QuantMLP:
    qi = Quantizer(case["in_bits"], case["in_signed"], case["in_scale"])
    qo = Quantizer(case["out_bits"], case["out_signed"], case["out_scale"], case["out_narrow"])
    fan = [len(n["indices"]) for n in case["neurons"]]
    g = np.float32(case["gamma"])
    layer = QLayer(n_in=case["n_in"], indptr=np.concatenate([[0], np.cumsum(fan)]).astype(np.int64),
                   indices=np.concatenate([n["indices"] for n in case["neurons"]]).astype(np.int32),
                   weights=np.concatenate([n["weights"] for n in case["neurons"]]).astype(np.float32),
                   a=np.full(case["n_out"], g, np.float32),
                   c=np.array([(n["bias"] + case["beta"]) * case["gamma"] for n in case["neurons"]], np.float32),
                   out=qo)
    return QuantMLP(qi, [layer])


@pytest.mark.parametrize("ci", range(len(REF["cases"])))
def test_logicnets_truth_tables(ci):
    case = REF["cases"][ci]
    model = _ref_layer(case)
    net = to_netlist(model)
    layer = net.layers[0]
    b = case["in_bits"]
    qo = model.layers[0].out
    for n, ref in enumerate(case["neurons"]):
        assert layer.neuron_inputs(n).tolist() == ref["indices"]
        # every case key of LogicNets' ROM (offset-binary codes, first input in the MSBs) -> our table entry
        table = layer.table(n)
        got = {format(a, f"0{b * len(ref['indices'])}b"): format(int(table[a]), f"0{case['out_bits']}b")
               for a in range(len(table))}
        assert {k: got[k] for k in ref["rom"]} == ref["rom"]
        assert len(ref["rom"]) == (2 ** b) ** len(ref["indices"])     # no narrow inputs: all addresses reachable
        # the Verilog concatenation: address bits MSB first = input k's bits MSB first
        wires = [int(w) for w in __import__("re").findall(r"M0\[(\d+)\]", ref["connection"])]
        assert wires == [i * b + j for i in ref["indices"] for j in reversed(range(b))]
    # LogicNets' lut_forward (integer values) -> our codes (offset binary)
    qi = model.inp
    x = np.array(case["lut_inputs"]) + qi.offset
    y = np.array(case["lut_outputs"]) + qo.offset
    assert np.array_equal(net.forward(x.astype(np.uint8)), y.astype(np.uint8))
    assert np.array_equal(model.forward_codes(x.astype(np.uint8)), y.astype(np.uint8))


# -- training, conversion, shrinkage on digits --------------------------------------------------------------
@pytest.fixture(scope="module")
def xs():
    from hwsim.lutnet.sim import build_netlist

    d = load_design("lutnet_digits_xs")
    return d, build_netlist(d)


def test_netlist_equals_quantized_model(xs):
    from hwsim.lutnet.train import digits

    _, built = xs
    model, net = built.info["model"], built.net
    data = digits(2)
    rnd = np.random.default_rng(7).integers(0, 4, (4000, 64)).astype(np.uint8)
    for x in (data.x_test, data.x_train, rnd):
        assert np.array_equal(net.forward(x), model.forward_codes(x))
    for a, b in zip(net.forward(rnd, all_layers=True), model.forward_codes(rnd, all_layers=True)):
        assert np.array_equal(a, b)
    assert built.info["netlist_acc"] == built.info["quant_acc"]


def test_training_digits_s_floor():
    from hwsim.lutnet.sim import build_netlist

    built = build_netlist(load_design("lutnet_digits_s"))
    info = built.info
    assert info["quant_acc"] >= 0.78 and info["float_acc"] >= 0.78      # shared/spec/lutnets.md section 8 floor
    assert info["netlist_acc"] == info["quant_acc"]
    assert built.net.lut_cost() == 406
    assert info["train_seconds"] < 120


def test_training_is_seeded():
    from hwsim.lutnet.train import TrainConfig, digits, train

    cfg = TrainConfig(sizes=(64, 16, 10), fanin=(3, 3), bits=(1, 2, 2), epochs=3)
    a, b = train(cfg, digits(1), train_float=False), train(cfg, digits(1), train_float=False)
    assert np.array_equal(to_netlist(a.model).layers[1].tables, to_netlist(b.model).layers[1].tables)


def test_importance_one_bit_matches_published_saliency():
    # for 1-bit inputs the importance is half of Logic Shrinkage's mean |t(a) - t(a ^ bit)| (brute force here)
    rng = np.random.default_rng(3)
    qi, qo = Quantizer(1, False, 1.0), Quantizer(3, True, 0.25)
    layer = QLayer(n_in=6, indptr=np.array([0, 4, 6]), indices=np.array([0, 2, 3, 5, 1, 4], np.int32),
                   weights=rng.standard_normal(6).astype(np.float32), a=np.ones(2, np.float32),
                   c=np.zeros(2, np.float32), out=qo)
    model = QuantMLP(qi, [layer])
    imp, _ = input_importance(model, 0)
    from hwsim.lutnet.model import _neuron_pre, enumerate_values

    for n, (lo, hi) in enumerate([(0, 4), (4, 6)]):
        F = hi - lo
        t = _neuron_pre(enumerate_values(qi.values(), F, 1), layer.weights[lo:hi], np.float32(1), np.float32(0))
        for k in range(F):
            bit = 1 << (F - 1 - k)
            sal = np.mean([abs(float(t[a]) - float(t[a ^ bit])) for a in range(1 << F)])
            assert imp[lo + k] == pytest.approx(sal / 2, rel=1e-6)


def test_shrink_and_exact_removal(xs):
    _, built = xs
    model = built.info["model"]
    small, reports = shrink(model, 0.4)
    for r, before, after in zip(reports, model.layers, small.layers):
        assert r.after == len(after.indices) == r.before - r.removed_ranked
        assert r.removed_ranked == round(0.4 * len(before.indices))
        assert np.diff(after.indptr).min() >= 1
    net = to_netlist(small)
    assert net.table_bits < built.net.table_bits and net.lut_cost() <= built.net.lut_cost()
    pruned, removed = remove_unused_inputs(net)
    x = np.random.default_rng(1).integers(0, 4, (3000, 64)).astype(np.uint8)
    assert np.array_equal(pruned.forward(x), net.forward(x))
    assert np.array_equal(pruned.forward(x), small.forward_codes(x))
    assert len(np.concatenate([l.indices for l in pruned.layers])) == \
        len(np.concatenate([l.indices for l in net.layers])) - removed
    # a table that ignores an input loses it
    t = np.repeat(np.arange(4, dtype=np.uint8), 4)          # depends on input 0 only
    one = LutNet([Layer(n_in=3, b_in=2, b_out=2, indptr=np.array([0, 2]), indices=np.array([0, 2]), tables=t)])
    p, k = remove_unused_inputs(one)
    assert k == 1 and p.layers[0].neuron_inputs(0).tolist() == [0]


# -- design spec and simulator ---------------------------------------------------------------------------
def test_spec_errors(tmp_path):
    from hwsim.lutnet import spec
    from hwsim.spec import SpecError

    base = (DESIGNS / "lutnet_digits_s.yaml").read_text()
    cases = [("fanin: [3, 3, 3, 4]", "fanin: [3, 3, 3]", "network.fanin = [3, 3, 3]: needs 4 entries"),
             ("bits: [2, 2, 2, 2, 3]", "bits: [2, 2, 2, 2, 9]", "network.bits"),
             ("fanin: [3, 3, 3, 4]", "fanin: [3, 3, 3, 11]", "22 address bits > network.max_address_bits"),
             ("source: digits", "source: mnist", "allowed: digits, random, file"),
             ("family: ecp5", "family: ice41", "allowed: ice40, ecp5, xc7")]
    for old, new, msg in cases:
        p = tmp_path / "d.yaml"
        p.write_text(base.replace(old, new))
        with pytest.raises(SpecError) as e:
            spec.load(p)
        assert msg in str(e.value) and "d.yaml" in str(e.value)


def test_simulator_protocol(xs, tmp_path):
    from hwsim.lutnet.sim import WorkloadError, build

    d, built = xs
    sim = build(d)
    a = sim.run("dataset:digits", mode="cycle", compat="logicnets")
    b = sim.run("dataset:digits", mode="analytical")
    assert np.array_equal(a.outputs, b.outputs) and a.stats["cycles"] == b.stats["cycles"] == 360 + sim.latency
    assert sim.latency == built.net.depth + 1
    doc = a.to_dict()
    assert set(doc) >= {"design", "design_hash", "workload", "mode", "stats", "layers", "compat"}
    assert doc["compat"] == {"LUTCost": built.net.lut_cost(), "Latency (cycles)": built.net.depth}
    assert doc["stats"]["accuracy"] == built.info["netlist_acc"] and doc["stats"]["netlist_equals_model"]
    assert "bit-exact" not in a.render() and "netlist outputs == quantized model outputs on every sample: yes" in a.render()
    header, rows = a.layer_rows()
    assert len(rows) == built.net.depth and header[0] == "layer"
    from hwsim.report import write_run

    files = write_run(a, tmp_path / "run", plots=False)
    assert set(files) == {"report.txt", "report.json", "layers.csv", "design.resolved.yaml"}
    assert json.loads(files["report.json"].read_text())["stats"]["cycles"] == 360 + sim.latency
    r = sim.run("samples:500", mode="cycle", seed=3)
    assert np.array_equal(r.outputs, built.net.forward(sim.inputs("samples:500", seed=3)[0]))
    for bad in ("samples:0", "gemm:1,2,3", ""):
        with pytest.raises(WorkloadError):
            sim.run(bad)


def test_pipeline_reset_and_bubbles(xs):
    from hwsim.lutnet.sim import Pipeline

    _, built = xs
    net = built.net
    for out_reg in (False, True):
        p = Pipeline(net, out_reg)
        od, ov = p.outputs()
        zero = np.zeros((1, net.n_in), np.uint8)
        # during/after reset: the last stage's registers are 0 (out_reg) or its table of all-zero codes
        want = np.zeros(net.n_out, np.uint8) if out_reg else \
            LutNet([net.layers[-1]]).forward(np.zeros((1, net.layers[-1].n_in), np.uint8))[0]
        assert np.array_equal(od, want) and ov == 0
        x = np.random.default_rng(0).integers(0, 4, (20, 64)).astype(np.uint8)
        valid = np.array([1, 0, 1, 1, 0, 0] + [1] * 14 + [0] * 4)
        xf = np.zeros((len(valid), 64), np.uint8)
        xf[np.flatnonzero(valid)[:20]] = x[:int(valid.sum())]
        od, ov = p.run(xf, valid)
        assert np.array_equal(np.flatnonzero(ov), np.flatnonzero(valid) + p.latency)
        assert np.array_equal(od[ov == 1], net.forward(xf[valid == 1]))
        del zero


# -- RTL ------------------------------------------------------------------------------------------------------
def test_rtl_ports_and_lint(xs, tmp_path):
    from rtl_gen.lutnet import emit
    from testbenches.verilator import lint

    d, built = xs
    art = emit(d, tmp_path, net=built.net)
    ports = json.loads(art.ports.read_text())
    names = {p["name"]: p for p in ports["ports"]}
    assert names["in_data"]["width"] == 64 * 2 and names["out_data"]["width"] == 10 * 3
    assert {"clk", "rst", "in_valid", "out_valid"} <= set(names)
    assert ports["timing"]["latency"] == built.net.depth + 1 and ports["lutnet"]["lut_cost"] == built.net.lut_cost()
    assert lint(art.verilog, art.top).ok


def test_ice40_refuses_wide_tables():
    from rtl_gen.lutnet import LutnetRTLError, check_family

    net = random_netlist([64, 64, 32, 10], [4, 4, 6], [2, 2, 2, 4])
    with pytest.raises(LutnetRTLError, match="layer 0: fan-in x bits = 8|layer 2: fan-in x bits = 12 > 8"):
        check_family(net, "ice40")
    check_family(net, "ecp5")
    check_family(random_netlist([64, 64, 32, 32, 10], [3, 3, 3, 4], [2, 2, 2, 2, 3]), "ice40")


def test_checker_reports_first_bad_neuron(xs):
    from rtl_gen.lutnet import LutNetPipeline
    from testbenches.lutnet import check, make_vectors, run_level

    _, built = xs
    net = built.net
    bad_tables = net.layers[-1].tables.copy()
    bad_tables[net.layers[-1].offsets[3]:net.layers[-1].offsets[4]] ^= 1       # neuron 3 of the last layer
    last = net.layers[-1]
    bad = LutNet(net.layers[:-1] + [Layer(n_in=last.n_in, b_in=last.b_in, b_out=last.b_out, indptr=last.indptr,
                                          indices=last.indices, tables=bad_tables, signed_out=last.signed_out)])
    x = np.random.default_rng(0).integers(0, 4, (30, 64)).astype(np.uint8)
    vs = make_vectors(net, x)
    res = check(vs, run_level("amaranth", vs, comp=LutNetPipeline(bad)), "amaranth")
    assert not res.ok and res.summary().startswith("FAIL")
    assert f"layer {net.depth - 1} neuron 3" in res.summary() and "trace differs" in res.summary()


@pytest.mark.parametrize("level", ["model", "hwsim", "amaranth", "verilator"])
class TestLutnetLevels:
    """The whole digits test split (+ 200 random codes, seeded bubbles) on every level, bit-exact and
    cycle-exact against the netlist and the cycle-level model."""

    def test_digits_xs(self, level, xs, tmp_path_factory):
        from hwsim.lutnet.train import digits
        from rtl_gen.lutnet import component
        from rtl_gen.verilog import emit
        from testbenches import lutnet as bench

        d, built = xs
        net = built.net
        comp = component(d) if level in ("amaranth", "verilator") else None
        vs = bench.vectors(d, comp, seed=0, n_random=200)
        assert vs.n == 360 + 200 and vs.latency == net.depth + 1
        art_dir = emit(d, tmp_path_factory.mktemp("lutnet-build"), component=comp).directory \
            if level == "verilator" else None
        got, _ = bench.run(level, d, comp, vs, art_dir)
        res = bench.check(vs, got, level)
        assert res.ok, res.summary()
        y = digits(2).y_test
        assert np.array_equal(np.argmax(got["outputs"][:360], 1) == y,
                              np.argmax(built.info["model"].forward_codes(digits(2).x_test), 1) == y)
        if level != "model":
            assert np.array_equal(got["out_cycles"], vs.in_cycles + net.depth + 1)
            assert res.cycles == vs.cycles


# -- Kratos-style constant-weight primitives --------------------------------------------------------------
KRATOS = json.loads((ROOT / "tests" / "data" / "lutnet_kratos_ref.json").read_text())


def test_kratos_weights_match_reference():
    from hwsim.lutnet.kratos import hex_literal, kratos_weights

    for c in KRATOS["cases"]:
        w = kratos_weights(c["n"], c["width"], c["sparsity"])
        assert hex_literal(w, c["width"]) == c["literal"], c
        assert int(np.count_nonzero(w == 0)) >= int(c["n"] * c["sparsity"])
        assert w.max(initial=0) <= 2 ** c["width"] - 2


@pytest.mark.parametrize("rows,length,width,sparsity,conv", [(3, 13, 4, 0.5, 0), (2, 8, 8, 0.0, 0),
                                                             (1, 1, 4, 0.0, 0), (2, 5, 2, 0.9, 0),
                                                             (1, 10, 4, 0.25, 3)])
def test_kratos_gemv_rtl(rows, length, width, sparsity, conv):
    from amaranth.sim import Simulator

    from hwsim.lutnet.kratos import GemvSpec, gemv_model
    from rtl_gen.lutnet import KratosGemv

    sp = GemvSpec(rows, length, width, sparsity, conv_kernel=conv)
    rows = sp.rows
    if conv:          # the model is the valid correlation with the filter (independent of the Toeplitz form)
        x0 = np.random.default_rng(1).integers(0, 1 << width, (5, length))
        corr = np.array([[sum(int(sp.filter[j]) * int(r[i + j]) for j in range(conv)) % (1 << width)
                          for i in range(rows)] for r in x0])
        assert np.array_equal(gemv_model(sp, x0), corr)
    comp = KratosGemv(sp)
    x = np.random.default_rng(length).integers(0, 1 << width, (25, length))
    valid = [1, 1, 0] + [1] * 22 + [0, 1]
    stream, k = [], 0
    for v in valid:
        stream.append((sum(int(c) << (width * j) for j, c in enumerate(x[k])) if v and k < len(x) else 0,
                       int(v and k < len(x))))
        k += int(v and k < len(x))
    outs = []

    async def tb(ctx):
        for c in range(len(stream) + sp.latency + 1):
            d, v = stream[c] if c < len(stream) else (0, 0)
            ctx.set(comp.in_data, d)
            ctx.set(comp.in_valid, v)
            if ctx.get(comp.out_valid):
                outs.append((c, ctx.get(comp.out_data)))
            await ctx.tick()

    sim = Simulator(comp)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    got = np.array([[(v >> (width * r)) & ((1 << width) - 1) for r in range(rows)] for _, v in outs])
    assert np.array_equal(got, gemv_model(sp, x))
    in_cycles = [c for c, (_, v) in enumerate(stream) if v]
    assert [c for c, _ in outs] == [c + sp.latency for c in in_cycles]


# -- bundled netlist, flow step, synthesis ----------------------------------------------------------------
def test_bundled_netlist_and_flow_step(tmp_path):
    from hwsim.lutnet.flow import lut_step
    from hwsim.lutnet.sim import build
    from hwsim.lutnet.train import digits

    d = load_design("lutnet_digits_s_bundled")
    sim = build(d)
    res = sim.run("dataset:digits", mode="analytical")
    assert res.stats["accuracy"] == sim.net.meta["netlist_acc"] >= 0.78
    # the bundled file is what training lutnet_digits_s.yaml gives (seeded): same tables
    assert sim.net.meta["design_hash"] == load_design("lutnet_digits_s").hash
    s = lut_step(d, tmp_path, build_root=tmp_path / "build", verilator=False, synthesize=False, n_random=0,
                 log=lambda m: None)
    assert s["bit_exact"] and s["accuracy"]["netlist_acc"] == res.stats["accuracy"]
    assert s["verify"]["amaranth"]["samples"] == 360
    assert {p.name for p in (tmp_path / "lutnet").iterdir()} == {"report.txt", "report.json",
                                                                "lutnet_digits_s_bundled.npz"}
    assert LutNet.load(tmp_path / "lutnet" / "lutnet_digits_s_bundled.npz").equals(sim.net)
    assert np.argmax(sim.net.forward(digits(2).x_test), 1).shape == (360,)


def test_synthesis_keeps_tables_in_logic(tmp_path):
    from rtl_gen.lutnet import LutNetPipeline, fpga_flow
    from rtl_gen.verilog import emit_component

    net = random_netlist([8, 6, 3], [3, 3], 2, seed=4)
    art = emit_component(LutNetPipeline(net), "lut_tiny", tmp_path)
    r = fpga_flow(art.verilog, art.top, "ice40", net)
    # data + valid registers; Yosys drops the registers of inputs no table reads
    assert r.lut > 0 and 0 < r.ff <= 8 * 2 + 6 * 2 + 3 * 2 + 3 and "-nobram" in r.flags
    assert not any(k.startswith("SB_RAM") for k in r.cells)
    assert r.pnr == "ok" and r.fmax_mhz > 0


@pytest.mark.parametrize("out_reg", [False, True])
def test_amaranth_trace_equals_cycle_model_random(out_reg):
    # variable fan-in (incl. constants), wide codes, both pipeline variants: per-cycle trace incl. reset
    from rtl_gen.lutnet import LutNetPipeline
    from testbenches.lutnet import check, make_vectors, run_level

    net = random_netlist([12, 9, 7, 4], [4, 3, 2], [2, 3, 1, 4], seed=11, vary_fanin=True)
    x = np.random.default_rng(2).integers(0, 4, (60, 12)).astype(np.uint8)
    vs = make_vectors(net, x, out_reg, seed=5, bubbles=0.3)
    res = check(vs, run_level("amaranth", vs, comp=LutNetPipeline(net, out_reg)), "amaranth")
    assert res.ok, res.summary()
    assert check(vs, run_level("hwsim", vs), "hwsim").ok and check(vs, run_level("model", vs), "model").ok


def test_plots(xs, tmp_path):
    from hwsim.lutnet.plots import plots
    from hwsim.lutnet.sim import build

    d, _ = xs
    paths = plots(build(d).run("samples:10"), tmp_path)
    assert [p.name for p in paths] == ["lutnet_layers.png"] and paths[0].stat().st_size > 1000
