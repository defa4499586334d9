"""The systolic-array generator on every level: one seeded workload set per design through the numpy
reference (hwsim.pe.reference_gemm), hwsim's cycle-level kernels, amaranth.sim and cocotb/Verilator,
compared with np.array_equal against the datatypes model (outputs) and docs/systolic.md's closed forms
(cycles, the cycle of every result write, write and accumulate counts).

Cost control: amaranth.sim runs every bundled systolic design plus a sweep of non-square arrays and PE
latencies 1-3 (cheap). Verilator builds one design per (size, dataflow) -- INT8 x INT8 except SF4 x
E4M3 (4x4 ws) and INT4 x INT8 (4x4 is) -- plus the 3x2 latency-2 int16 design: ten builds, ~10-15 s
each cold, cached by Verilog hash in the repository's build/."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwsim import cli
from hwsim.design import DesignError, load, loads
from rtl_gen.errors import RTLError, UnsupportedKindError
from rtl_gen.systolic import (SEL, SystolicArray, SystolicConfig, WorkloadTooLarge, pack_lanes, tile_words,
                              unpack_lanes, untile_words)
from rtl_gen.verilog import emit, verilog_ports
from testbenches import systolic as S
from testbenches.amaranth_sim import AmaranthIO, port_signals
from testbenches.verilator import lint
from test_levels import SYSTOLIC as VERILATOR

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build"
SYSTOLIC = sorted(p for p in (REPO / "designs").glob("sa_*.yaml") if load(p).verify)

YAML = """
schema: 1
name: sa_t
kind: systolic
array: {{rows: {R}, cols: {C}, dataflow: {df}, pe_latency: {L}}}
operands: {{weight: {w}, activation: {a}, accumulator: {acc}}}
memory: {{ifmap_kb: {kb}, filter_kb: {kb}, ofmap_kb: {kb}, backing: {backing}}}
"""


def ydesign(R=2, C=2, df="ws", L=1, w="int8", a="int8", acc="int32", kb=1, backing="none"):
    return loads(YAML.format(R=R, C=C, df=df, L=L, w=w, a=a, acc=acc, kb=kb, backing=backing), "sa_t.yaml")


def test_catalog():
    names = {p.stem for p in SYSTOLIC}
    assert set(VERILATOR) <= names
    cfgs = [SystolicConfig.from_design(load(REPO / "designs" / f"{n}.yaml")) for n in VERILATOR]
    assert {(c.rows, c.dataflow) for c in cfgs if c.rows == c.cols} == {(s, d) for s in (2, 4, 8) for d in ("ws", "os", "is")}
    assert any(c.spec.weight.bits == 4 for c in cfgs) and any(c.pe_latency == 2 for c in cfgs)


# ---- parameters are checked before anything is built ----------------------------------------------
@pytest.mark.parametrize("kw,match", [
    ({"w": "float8_e5m2"}, r"operands.weight = 'float8_e5m2': no PE for this format.*Inf"),
    ({"a": "bitmod4"}, "no PE for this format.*metadata"),   # weights may carry a selector, activations not
    ({"w": "fp4_basic", "a": "float8_e4m3fn", "acc": "int16"}, "needs 23 bits; use int<N> with N >= 23"),
])
def test_design_errors_when_loading(kw, match):
    """What no level can build is refused once, by the design schema, for the simulator and the RTL."""
    with pytest.raises(DesignError, match=match) as e:
        ydesign(**kw)
    assert str(e.value).startswith("sa_t.yaml: ")


@pytest.mark.parametrize("kw,err,match", [
    ({"backing": "dram"}, UnsupportedKindError, "backing = 'dram'.*no DRAM interface"),
    ({"R": 64, "C": 32}, RTLError, "2048 PEs.*at most 1024"),
    ({"L": 9}, RTLError, "pe_latency = 9.*1..8"),
    ({"kb": 1, "acc": "int64", "R": 1, "C": 129}, RTLError, "ofmap_kb = 1: smaller than one 8256-bit word"),
    ({"kb": 4096}, RTLError, "at most 65536 words"),
])
def test_errors_before_any_build(tmp_path, kw, err, match):
    d = ydesign(**kw)
    with pytest.raises(err, match=match) as e:
        emit(d, tmp_path / "build")
    assert str(e.value).startswith("sa_t.yaml: ")
    assert not (tmp_path / "build").exists()


def test_workload_must_fit_the_memories():
    cfg = SystolicConfig.from_design(ydesign(kb=1))   # 512 words of 2 x int8, result: 128 words of 2 x int32
    cfg.check_workload(128, 2, 2)
    with pytest.raises(WorkloadTooLarge, match="needs 129 words of the result memory.*has 128"):
        cfg.check_workload(129, 2, 2)
    with pytest.raises(WorkloadTooLarge, match="needs 600 words of the activation memory.*has 512"):
        cfg.check_workload(100, 2, 11)                      # ceil(11/2) * 100
    with pytest.raises(WorkloadTooLarge, match="M = 0"):
        cfg.check_workload(0, 3, 2)


# ---- memory layouts -------------------------------------------------------------------------------
def test_tiles_and_lanes_roundtrip():
    rng = np.random.default_rng(0)
    S_ = rng.integers(-(1 << 40), 1 << 40, size=(7, 11))
    V = tile_words(S_, 4)
    assert V.shape == (3 * 7, 4) and V[7 + 2, 1] == S_[2, 5] and V[2 * 7, 3] == 0
    assert np.array_equal(untile_words(V, 7, 11), S_)
    words = pack_lanes(V, 48)
    assert int(words[9]) >> 48 & ((1 << 48) - 1) == S_[2, 5] & ((1 << 48) - 1)
    assert np.array_equal(unpack_lanes(words, 4, 48, signed=True), V)


@pytest.mark.parametrize("df", ["ws", "is", "os"])
def test_pack_follows_the_documented_layout(df):
    cfg = SystolicConfig.make("t", 3, 2, df, "int4", "int8", "int24", 1, (1, 1, 1))
    rng = np.random.default_rng(1)
    M, N, K = 5, 3, 4
    a = rng.integers(0, 256, (M, K)).astype(np.uint8)
    w = rng.integers(0, 16, (K, N)).astype(np.uint8)
    aw, ww = cfg.pack(a, w)
    mems = cfg.memories()
    A = unpack_lanes(aw, mems["activation"].lanes, 8, False)
    Wl = unpack_lanes(ww, mems["weight"].lanes, 4, False)
    need = cfg.words_needed(M, N, K)
    assert (len(aw), len(ww)) == (need["activation"], need["weight"])
    if df == "ws":     # A: word f*M + m, lane r = A[m, f*R + r]; W: word f*K + k, lane c = W[k, f*C + c]
        assert A[1 * M + 2, 0] == a[2, 3] and Wl[1 * K + 3, 0] == w[3, 2]
    elif df == "is":   # A^T: word f*K + k, lane c = A[f*C + c, k]; W^T: word f*N + n, lane r = W[f*R + r, n]
        assert A[2 * K + 1, 0] == a[4, 1] and Wl[1 * N + 2, 0] == w[3, 2]
    else:              # A^T: word f*K + k, lane r = A[f*R + r, k]; W: word f*K + k, lane c = W[k, f*C + c]
        assert A[1 * K + 2, 1] == a[4, 2] and Wl[1 * K + 0, 0] == w[0, 2]
    y = rng.integers(-1000, 1000, (M, N))
    r, c = cfg.result_lanes(M, N)
    words = pack_lanes(tile_words(y.T if df == "is" else y, cfg.cols), cfg.acc_bits)
    assert np.array_equal(cfg.unpack(words, M, N), y)
    elem = cfg.element_of_bank_word(M, N)
    for word in range(len(words)):
        for bank in range(cfg.cols):
            m, n = elem[word, bank]
            if m >= 0:
                assert unpack_lanes(words[word:word + 1], cfg.cols, cfg.acc_bits, True)[0, bank] == y[m, n]


# ---- emission -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(df="ws"), dict(df="os"), dict(df="is"), dict(R=3, C=2, df="ws", L=2, acc="int16"),
                                dict(R=2, C=3, df="os", L=3), dict(R=1, C=3, df="is", L=2),
                                dict(R=2, C=2, w="sf4", a="float8_e4m3fn", acc="int64", kb=2)])
def test_emit_ports_json_and_lint(tmp_path, kw):
    d = ydesign(**kw)
    art = emit(d, tmp_path)
    ports = json.loads(art.ports.read_text())
    text = art.verilog.read_text()
    assert sorted(verilog_ports(text, "sa_t")) == sorted(p["name"] for p in ports["ports"])
    sysd = ports["systolic"]
    assert ports["control"] == {"start": "start", "done": "done"} and ports["clock"] == "clk"
    assert sysd["control"]["busy"] == "busy" and sysd["shape_inputs"]["M"] == "gemm_m"
    widths = {p["name"]: p["width"] for p in ports["ports"]}
    mems = sysd["memories"]
    assert widths["host__wdata"] == widths["host__rdata"] == max(m["word_bits"] for m in mems.values())
    assert widths["host__addr"] == max(m["addr_bits"] for m in mems.values())
    assert widths["mon_write"] == sysd["monitor"]["width"] == 2 * d.array.cols + d.array.cols * mems["result"]["addr_bits"]
    assert mems["result"]["lanes"] == d.array.cols and mems["result"]["lane_bits"] == int(d.operands.accumulator[3:])
    assert ports["arithmetic"]["accumulator"]["width"] == int(d.operands.accumulator[3:])
    assert ports["timing"]["pe_latency"] == d.array.pe_latency
    r = lint(art.verilog, "sa_t")
    assert r.ok, r.summary()


def test_cli_rtl_systolic(tmp_path, capsys):
    rc = cli.main(["rtl", str(REPO / "designs" / "sa_is_2x2_int8.yaml"), "--lint", "-o", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "systolic 2x2 IS, PE latency 1: int8" in out and "memories (words x bits): activation 512x16b" in out
    assert "verilator --lint-only -Wall: clean" in out
    rc = cli.main(["rtl", str(REPO / "designs" / "tpu_like_32x32_ws_int8.yaml"), "-o", str(tmp_path / "x")])
    assert rc == 2 and "backing = 'dram'" in capsys.readouterr().err and not (tmp_path / "x").exists()


# ---- amaranth.sim: every bundled design, and a sweep of shapes and latencies ----------------------
def _levels(cfg, vs, comp=None):
    got = {"model": S.run_model(cfg, vs), "hwsim": S.run_hwsim(cfg, vs),
           "amaranth": S.run_amaranth(comp or SystolicArray(cfg), vs)}
    return {b: S.check(vs, g, b) for b, g in got.items()}, got


@pytest.mark.parametrize("path", SYSTOLIC, ids=lambda p: p.stem)
def test_bundled_design_on_amaranth(path):
    cfg = SystolicConfig.from_design(load(path))
    vs = S.systolic_vectors(cfg, seed=3)
    res, got = _levels(cfg, vs)
    for r in res.values():
        assert r.ok, r.summary()
    assert np.array_equal(got["amaranth"]["cycles"], got["hwsim"]["cycles"])
    assert np.array_equal(got["amaranth"]["write_cycles"], got["hwsim"]["write_cycles"])
    shapes = vs.info["shapes"]
    assert any(M > cfg.rows and N > cfg.cols and K > cfg.rows for M, N, K in shapes)   # several folds both ways
    assert any(K % cfg.rows and N % cfg.cols for M, N, K in shapes)                     # partial tiles


SWEEP = [(R, C, df, L) for (R, C) in [(3, 2), (2, 3), (1, 4), (4, 1)] for df in ("ws", "is", "os")
         for L in (1, 2, 3) if (R * 3 + C + L + "wio".index(df[0])) % 2 == 0 or (R, C) == (3, 2)]


@pytest.mark.parametrize("R,C,df,L", SWEEP)
def test_sweep_shapes_latencies_and_wrapping(R, C, df, L):
    """Non-square arrays, PE latencies 1-3, an int16 accumulator driven past its range by extreme
    operands (the partial sums wrap inside the array and in accumulate-on-write)."""
    cfg = SystolicConfig.make("t", R, C, df, "int8", "int8", "int16", L, (2, 2, 8))
    rng = np.random.default_rng(R * 100 + C * 10 + L)
    ops = []
    for M, N, K in S.default_shapes(R, C)[:4] + [(3, 4, 40)]:
        ops.append((rng.choice(np.array([0x80, 0x7F, 0x81, 0x01], np.uint8), (M, K)),
                    rng.choice(np.array([0x80, 0x7F, 0xFF], np.uint8), (K, N))))
    vs = S.systolic_vectors(cfg, operands=ops)
    exact = np.concatenate([(a.astype(np.int8).astype(np.int64) @ w.astype(np.int8).astype(np.int64)).ravel()
                            for a, w in ops])
    assert (exact != vs.expected["outputs"]).sum() > 0                  # the accumulator did wrap
    res, _ = _levels(cfg, vs)
    for r in res.values():
        assert r.ok, r.summary()


def test_checker_fails_on_wrong_rtl_and_wrong_data():
    """The loop can fail: an array generated with the wrong PE latency misses every cycle check, and a
    corrupted expected output is reported with its GEMM and element."""
    right = SystolicConfig.make("t", 2, 3, "ws", "int8", "int8", "int32", 1, (1, 1, 1))
    wrong = SystolicConfig.make("t", 2, 3, "ws", "int8", "int8", "int32", 2, (1, 1, 1))
    vs = S.systolic_vectors(right, [(4, 5, 3), (2, 2, 2)])
    r = S.check(vs, S.run_amaranth(SystolicArray(wrong), vs), "amaranth")
    assert not r.ok and any(m.startswith("cycles[0] (GEMM 0 4x5x3)") for m in r.mismatches)
    assert any(m.startswith("write_cycles[") for m in r.mismatches)
    vs.expected["outputs"][21] += 1
    r = S.check(vs, S.run_model(right, vs), "model")
    assert not r.ok and r.mismatches[0].startswith("outputs[21] (GEMM 1 2x2x2, Y[0, 1])"), r.mismatches


def test_host_port_start_and_busy():
    """Operand memories read back what the host wrote; while busy, host writes and a second start are
    ignored; done is a one-cycle pulse and busy falls with it."""
    cfg = SystolicConfig.make("t", 2, 2, "os", "int8", "int8", "int32", 1, (1, 1, 1))
    comp = SystolicArray(cfg)
    log: dict[str, list] = {"done": [], "busy": []}

    async def tb(ctx):
        io = AmaranthIO(ctx, port_signals(comp))
        words = [0x1234, 0xBEEF, 0x0101]
        for sel in ("activation", "weight"):
            io.set("host__sel", SEL[sel])
            io.set("host__we", 1)
            for i, w in enumerate(words):
                io.set("host__addr", i)
                io.set("host__wdata", w ^ SEL[sel])
                await ctx.tick()
        io.set("host__we", 0)
        for sel in ("activation", "weight"):
            io.set("host__sel", SEL[sel])
            got = []
            for i in range(len(words) + 1):
                if i < len(words):
                    io.set("host__addr", i)
                if i:
                    got.append(io.get("host__rdata"))
                await ctx.tick()
            assert got == [w ^ SEL[sel] for w in words]
        # GEMM 1x1x1 on the 2x2 OS array: N = 1 + (1 + 2 + 2 + 1 - 3) + 2 = 6 cycles
        io.set("gemm_m", 1), io.set("gemm_n", 1), io.set("gemm_k", 1), io.set("start", 1)
        await ctx.tick()
        io.set("host__sel", SEL["activation"]), io.set("host__addr", 0), io.set("host__wdata", 0x7777)
        for i in range(8):                                    # start held high: ignored while busy
            io.set("host__we", int(i < 5))                    # host writes while busy: ignored
            log["done"].append(io.get("done"))
            log["busy"].append(io.get("busy"))
            await ctx.tick()
        io.set("start", 0)
        for _ in range(20):                                   # the second run (started in cycle 6)
            if io.get("done"):
                break
            await ctx.tick()
        await ctx.tick()
        log["mem0"] = io.get("host__rdata")

    sim = Simulator(comp)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    assert log["done"][:7] == [0, 0, 0, 0, 0, 0, 1] and log["busy"][:7] == [1, 1, 1, 1, 1, 1, 0]
    assert log["busy"][7] == 1                               # start still high at the edge after done: a new run
    assert log["mem0"] == 0x1234 ^ SEL["activation"]


# ---- the whole loop through the command (levels one by one: tests/test_levels.py) ---------------
def test_cli_verify_systolic(capsys):
    rc = cli.main(["verify", str(REPO / "designs" / "sa_ws_3x2_l2_int8.yaml"), "-o", str(BUILD), "--seed", "5"])
    out = capsys.readouterr().out
    assert rc == 0, out
    lines = out.strip().splitlines()
    assert lines[-1].startswith("PASS: sa_ws_3x2_l2_int8: 4 level run(s)") and "cycles simulated" in lines[-1]
    for b in ("model", "hwsim", "amaranth", "verilator"):
        assert any(ln.startswith(f"PASS systolic-sa_ws_3x2_l2_int8 [{b}]") for ln in lines)
    assert "6 GEMMs (MxNxK: 1x1x1, 3x2x3, 7x5x8" in out and "seed 5" in out
