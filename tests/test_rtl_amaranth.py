"""Decoders and PEs under amaranth.sim, for the full format sweep (fast, always on): every code
under every metadata value of every decoder, every (weight, activation) code pair of every
3/4-bit weight format x {INT8, FP8-E4M3}, and random accumulate streams that wrap the accumulator,
with stalls. The vectors, drivers, monitor and checker are the ones the Verilator runs use."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

import datatypes as dt
from hwsim.pe.stream import simulate_pe
from rtl_gen import Decoder, MacDatapath, ProcessingElement, arith
from rtl_gen.errors import NoDecoderError, RTLError
from testbenches import amaranth_sim
from testbenches.streams import Scoreboard
from testbenches.vectors import check, decoder_vectors, pe_vectors

from rtl_test_formats import RazerLike

WEIGHTS = arith.hardware_formats(4)             # every registered 3/4-bit (and smaller) format with a decoder
ACTIVATIONS = [n for n in arith.hardware_formats(8) if dt.get(n).bits == 8]
DECODERS = [(n, m) for n in arith.hardware_formats(8) for m in ([False, True] if dt.get(n).n_meta > 1 else [None])
            if not (m and dt.get(n).bits > 4)]   # 8-bit INT with a zero point: 65,536 vectors, covered in test_rtl_arith


def test_sweep_is_not_empty():
    assert len(WEIGHTS) >= 30 and {"int8", "float8_e4m3fn"} <= set(ACTIVATIONS)


@pytest.mark.parametrize("name,use_meta", DECODERS)
def test_decoder_every_code_every_meta(name, use_meta):
    styles = ["auto"]
    t = arith.decode_table(name, use_meta)
    if t.n_meta * t.n_codes <= arith.MAX_TABLE_ENTRIES and arith.find_structure(t).kind != "table":
        styles.append("table")                  # the structured decoder must equal the lookup table
    for style in styles:
        dec = Decoder(name, use_meta=use_meta, style=style)
        vs = decoder_vectors(dec.table)
        res = check(vs, amaranth_sim.run_decoder(dec, vs), f"amaranth/{style}")
        assert res.ok, res.summary()
        assert res.vectors == (1 << t.meta_bits if t.use_meta else 1) * t.n_codes


def _pe_cases():
    cases = []
    for w in WEIGHTS:
        for a in ("int8", "float8_e4m3fn"):
            pw = arith.MacSpec.make(w, a, 128).product_width
            cases.append((w, a, None, min(128, pw + 1)))
    for w in ("int2", "int3"):                  # asymmetric INT: the zero point is group metadata
        cases.append((w, "int8", True, arith.MacSpec.make(w, "int8", 128, True).product_width + 1))
    return cases


@pytest.mark.parametrize("weight,act,meta,acc", _pe_cases())
def test_pe_exhaustive_pairs_and_wrapping_stream(weight, act, meta, acc):
    pe = ProcessingElement(weight, act, acc, weight_meta=meta)
    vs = pe_vectors(pe.spec, pe.latency, seed=7, n_packets=9, max_packet=48)
    assert vs.info["exhaustive_pairs"] == pe.spec.weight.n_meta * pe.spec.weight.n_codes * 256
    assert vs.info["overflow_packets"] + vs.info["underflow_packets"] > 0   # the stream does wrap
    res = check(vs, amaranth_sim.run_pe(pe, vs), "amaranth")
    assert res.ok, res.summary()


@pytest.mark.parametrize("stages", [1, 2])
def test_pe_stages_stalls_and_model(stages):
    """Latency is a property of the component and the cycle model reproduces the RTL's cycles,
    including gaps on the input and back-pressure on the output."""
    pe = ProcessingElement("fp4_prec2", "float8_e4m3fn", "int23", stages=stages)
    assert pe.latency == stages and pe.initiation_interval == 1
    vs = pe_vectors(pe.spec, pe.latency, seed=stages, n_packets=30, max_packet=64)
    sched = vs.schedule
    assert not sched["in_valid"].all() and not sched["out_ready"].all()
    got = amaranth_sim.run_pe(pe, vs)
    res = check(vs, got, "amaranth")
    assert res.ok, res.summary()
    # exhaustive part: II 1 (one element per cycle) and latency exactly `stages`
    n_a = vs.info["exhaustive_pairs"]
    assert np.array_equal(got["in_cycles"][:n_a], np.arange(n_a))
    assert np.array_equal(got["out_cycles"][:n_a], np.arange(n_a) + stages)
    run = simulate_pe(pe.spec, stages, vs.inputs["w_code"], vs.inputs["a_code"], vs.inputs["last"],
                      None, sched["in_valid"], sched["out_ready"])
    assert np.array_equal(run.outputs, got["outputs"]) and run.cycles == int(got["cycles"][0])


def test_pe_wider_than_64_bits():
    """Accumulators above 64 bits: the model switches to exact Python ints; the RTL agrees."""
    pe = ProcessingElement("sf4", "float8_e4m3fn", 100)
    vs = pe_vectors(pe.spec, pe.latency, seed=4, n_packets=6, max_packet=32)
    assert vs.expected["outputs"].dtype == object
    res = check(vs, amaranth_sim.run_pe(pe, vs), "amaranth")
    assert res.ok, res.summary()


def test_mac_datapath_wraps_psum():
    dp = MacDatapath("int4", "int8", "int12")
    rows = []

    async def tb(ctx):
        for w, a, psum in [(8, 0x80, 2047), (8, 0x80, -2048), (7, 0x7F, 0), (1, 0xFF, -2048)]:
            ctx.set(dp.w_code, w)
            ctx.set(dp.a_code, a)
            ctx.set(dp.psum_in, psum)
            rows.append((ctx.get(dp.product), ctx.get(dp.psum_out)))

    sim = Simulator(dp)
    sim.add_testbench(tb)
    sim.run()
    # (-8)(-128) = 1024; 2047 + 1024 wraps to -1025; -2048 + 1024 = -1024; 7 * 127; -2048 - 1 wraps to 2047
    assert rows == [(1024, -1025), (1024, -1024), (889, 889), (-1, 2047)]


# ---- the checker can fail ---------------------------------------------------------------------------

class _BrokenDecoder(Decoder):
    """A decoder whose lookup table has one wrong entry (what a generator bug would look like)."""

    def __init__(self):
        super().__init__("fp4_range", style="table")
        t = self.table
        ints = list(t.ints[0])
        ints[0x8] = 15                      # +7.5 instead of +8 for the supernormal code
        object.__setattr__(t, "ints", (tuple(ints),))


def test_checker_catches_a_wrong_decoder():
    dec = _BrokenDecoder()
    vs = decoder_vectors(arith.decode_table("fp4_range"))
    res = check(vs, amaranth_sim.run_decoder(dec, vs), "amaranth")
    assert not res.ok and any("code=8" in m and "expected 16" in m for m in res.mismatches), res.summary()


def test_checker_catches_wrong_latency():
    pe = ProcessingElement("int4", "int8", "int16", stages=2)
    vs = pe_vectors(pe.spec, 1, seed=3, n_packets=3, max_packet=8)   # vectors for latency 1
    got = amaranth_sim.run_pe(pe, vs)
    res = check(vs, got, "amaranth")
    assert not res.ok and any(m.startswith("out_cycles[0]") for m in res.mismatches)
    sb = Scoreboard("x", vs.expected["outputs"], vs.expected["out_cycles"])
    for v, c in zip(got["outputs"], got["out_cycles"]):
        sb.observe(int(v), int(c))
    assert sb.errors > 0 and not sb.ok and "expected cycle" in sb.report()


def test_bad_parameters_fail_before_any_build():
    with pytest.raises(NoDecoderError, match="Inf"):
        ProcessingElement("fp4_basic", "float8_e5m2", 32)
    with pytest.raises(RTLError, match="stages"):
        ProcessingElement("int4", "int8", 16, stages=3)
    with pytest.raises(RTLError, match="style"):
        Decoder("int4", style="rom")
    with pytest.raises(NoDecoderError, match="no arithmetic structure"):
        Decoder("nf4", style="structured")
    with pytest.raises(NoDecoderError, match="lookup-table decoder would need"):
        Decoder("int8", use_meta=True, style="table")              # 256 zero points x 256 codes


def test_start_done_driver_measures_latency():
    """The start/done helper (for units such as a systolic-array top) on a tiny Amaranth counter
    whose done comes exactly `n` cycles after start, n set per run through `before_start`."""
    from amaranth import Module, Signal
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    from rtl_gen.verilog import describe_ports
    from testbenches.streams import StartDone, run_clocked

    class Counter(wiring.Component):
        def __init__(self):
            super().__init__({"start": In(1), "n": In(4), "done": Out(1)})

        def elaborate(self, platform):
            m = Module()
            left = Signal(5)
            busy = Signal()
            m.d.sync += self.done.eq(0)
            with m.If(self.start):
                m.d.sync += [left.eq(self.n - 1), busy.eq(1)]
            with m.Elif(busy):
                m.d.sync += left.eq(left - 1)
                with m.If(left == 0):
                    m.d.sync += [busy.eq(0), self.done.eq(1)]
            return m

    dut = Counter()
    ports = describe_ports(dut, "counter")
    assert ports["control"] == {"start": "start", "done": "done"} and ports["clock"] == "clk"
    runs = [3, 1, 7, 2]
    ctl = StartDone(ports["control"], runs=len(runs), gap=2, before_start=lambda io, k: io.set("n", runs[k]))

    async def tb(ctx):
        io = amaranth_sim.AmaranthIO(ctx, amaranth_sim.port_signals(dut))

        async def nothing():
            return None

        async def tick():
            await ctx.tick()

        await run_clocked(io, [ctl], lambda: ctl.finished, nothing, tick, max_cycles=200)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    # done rises n + 1 cycles after the start pulse (n counting cycles + the registered done)
    assert ctl.latencies == [n + 1 for n in runs]
    assert all(b - a >= 2 for a, b in zip(ctl.done_cycles, ctl.start_cycles[1:]))


def test_meta_dependent_exception_decoder_and_pe():
    fmt = RazerLike()
    t = arith.decode_table(fmt)
    assert t.use_meta and t.n_meta == 4 and t.meta_bits == 2
    s = arith.find_structure(t)
    assert (s.kind, s.ebits, s.mbits, s.exceptions) == ("minifloat", 2, 1, (0x8,))
    for style in ("auto", "table"):
        dec = Decoder(fmt, style=style)
        vs = decoder_vectors(dec.table)
        res = check(vs, amaranth_sim.run_decoder(dec, vs), f"amaranth/{style}")
        assert res.ok, res.summary()
        assert vs.expected["invalid"].sum() == 1                      # code 8 under selector 3
    pe = ProcessingElement(fmt, "float8_e4m3fn", 26, stages=2)
    assert pe.spec.weight.use_meta and pe.spec.product_width == 23
    vs = pe_vectors(pe.spec, pe.latency, seed=11, n_packets=9, max_packet=64)
    assert vs.info["exhaustive_pairs"] == 4 * 16 * 256
    res = check(vs, amaranth_sim.run_pe(pe, vs), "amaranth")
    assert res.ok, res.summary()
