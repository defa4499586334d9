"""Narrow host bus (rtl_gen.hostbus): a 2x2 array behind Wishbone classic / AXI4-Lite, driven only through
the bus (testbenches.hostbus_driver), gives the datatypes model's results bit for bit and the
closed-form cycle count in its CYCLES CSR, under amaranth.sim, Verilator and (when installed) Icarus;
the wide top is unchanged; a bus-wrapped design's pins fit an iCE40 package the wide one cannot."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hwsim.design import load
from hwsim.spec import SpecError
from rtl_gen.systolic import SystolicArray, SystolicConfig
from rtl_gen.verilog import component_for, emit, to_verilog
from testbenches import systolic as bench

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build" / "test"
WB = REPO / "designs" / "fpga" / "sa_ws_2x2_int8_wb.yaml"
AXIL = REPO / "designs" / "fpga" / "sa_os_2x2_int8_axil.yaml"
WIDE = REPO / "designs" / "sa_ws_2x2_int8.yaml"
SHAPES = [(1, 1, 1), (5, 3, 4), (3, 5, 5)]       # one MAC, several folds both ways


def _design(path: Path, **rtl):
    d = load(path)
    return d.replace(rtl=rtl) if rtl else d


def _pins(ports: dict) -> int:
    return sum(p["width"] for p in ports["ports"])


def test_wide_stays_default_and_unchanged():
    d = load(WIDE)
    assert d.rtl.host_bus == "wide" and d.rtl.debug_ports is None
    comp = component_for(d)
    assert isinstance(comp, SystolicArray) and "mon_write" in comp.signature.members
    # the registry's top is the array exactly as built before the option existed
    assert to_verilog(comp, "t") == to_verilog(SystolicArray(SystolicConfig.from_design(d)), "t")


def test_bad_host_bus_names_key_and_choices():
    with pytest.raises(SpecError, match=r"rtl\.host_bus = 'pcie'.*wide, wishbone, axi4lite"):
        _design(WIDE, host_bus="pcie")


def test_register_map_in_ports_json_and_pin_count():
    wb = emit(load(WB), BUILD)
    ports = json.loads(wb.ports.read_text())
    hb = ports["hostbus"]
    assert hb["bus"] == "wishbone" and hb["csr"]["CTRL"]["word"] == 0 and hb["csr"]["CYCLES"]["word"] == 4
    assert hb["memories"]["result"]["words_per_memory_word"] == 2       # 2 banks x int32 = 64-bit words
    assert "monitor" not in ports["systolic"] and "host" not in ports["systolic"]
    names = {p["name"] for p in ports["ports"]}
    assert names == {"clk", "rst"} | {f"bus__{k}" for k in ("adr", "dat_w", "dat_r", "sel", "cyc", "stb", "we", "ack")}
    # 32-bit data both ways + 12-bit word address + 5 strobes + clk/rst; iCE40HX8K cb132 has 95 IO
    assert _pins(ports) == 32 + 32 + 12 + 5 + 2 == 83
    wide = json.loads(emit(load(WIDE), BUILD).ports.read_text())
    assert _pins(wide) > 95                                    # the same array, wide: not in that package
    # a 4x4 array: 353 pins wide (more than any iCE40 package), under 100 behind the bus
    from rtl_gen.verilog import describe_ports

    d44 = load(REPO / "designs" / "sa_ws_4x4_int8.yaml")
    wide44, bus44 = component_for(d44), component_for(d44.replace(rtl={"host_bus": "wishbone"}))
    assert _pins(describe_ports(wide44, "t")) > 206
    assert _pins(describe_ports(bus44, "t")) <= 95
    for c in (wide44, bus44, bus44.inner):
        c._MustUse__silence = True              # only their ports were needed (no UnusedElaboratable warning)
    wide_nodbg = json.loads(emit(_design(WIDE, debug_ports=False), BUILD).ports.read_text())
    assert "mon_write" not in {p["name"] for p in wide_nodbg["ports"]}


def _amaranth(design, shapes=SHAPES):
    comp = component_for(design)
    vs = bench.vectors(design, comp, seed=3, shapes=shapes)
    got = bench.run_amaranth(comp, vs)
    return vs, got, comp.config


@pytest.mark.parametrize("path, rtl", [(WB, None), (AXIL, None), (WIDE, {"debug_ports": False})],
                         ids=["wishbone", "axi4lite", "wide-no-debug"])
def test_bus_amaranth_bit_exact_and_cycle_exact(path, rtl):
    design = _design(path, **(rtl or {}))
    vs, got, cfg = _amaranth(design)
    res = bench.check(vs, got, "amaranth")
    assert res.ok, res.summary()
    assert vs.info["rtl_keys"] == ["outputs", "cycles"]
    # the CYCLES CSR equals hwsim's cycle-level count (and the closed form in vs.expected)
    hw = bench.run_hwsim(cfg, vs)
    assert np.array_equal(got["cycles"], hw["cycles"]) and np.array_equal(got["cycles"], vs.expected["cycles"])
    assert np.array_equal(got["outputs"].astype(np.int64), bench.run_model(cfg, vs)["outputs"])
    if path != WIDE:        # bus transfer cycles are counted apart from the array's
        assert (got["load_cycles"] > 0).all() and (got["readback_cycles"] > 0).all()


def test_bus_with_debug_ports_checks_every_write_cycle():
    design = _design(WB, host_bus="axi4lite", debug_ports=True)
    vs, got, _ = _amaranth(design, [(3, 5, 5)])
    assert "rtl_keys" in vs.info and "write_cycles" in vs.info["rtl_keys"]
    res = bench.check(vs, got, "amaranth")
    assert res.ok, res.summary()
    assert (got["write_cycles"] >= 0).all()


def test_axi4lite_partial_strobe_is_refused():
    """wstrb != 0b1111: SLVERR and nothing written (the CSR keeps its value)."""
    from amaranth.sim import Simulator

    comp = component_for(load(AXIL))
    b = comp.bus
    seen = {}

    async def tb(ctx):
        async def write(word, data, strb):
            ctx.set(b.awaddr, word << 2)
            ctx.set(b.wdata, data)
            ctx.set(b.wstrb, strb)
            ctx.set(b.awvalid, 1)
            ctx.set(b.wvalid, 1)
            ctx.set(b.bready, 1)
            while not ctx.get(b.awready):
                await ctx.tick()
            await ctx.tick()
            ctx.set(b.awvalid, 0)
            ctx.set(b.wvalid, 0)
            while not ctx.get(b.bvalid):
                await ctx.tick()
            resp = ctx.get(b.bresp)
            await ctx.tick()
            return resp

        async def read(word):
            ctx.set(b.araddr, word << 2)
            ctx.set(b.arvalid, 1)
            ctx.set(b.rready, 1)
            while not ctx.get(b.arready):
                await ctx.tick()
            await ctx.tick()
            ctx.set(b.arvalid, 0)
            while not ctx.get(b.rvalid):
                await ctx.tick()
            v = ctx.get(b.rdata)
            await ctx.tick()
            return v

        seen["ok"] = await write(1, 7, 0xF)
        seen["bad"] = await write(1, 9, 0x3)
        seen["M"] = await read(1)

    sim = Simulator(comp)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    assert seen == {"ok": 0, "bad": 2, "M": 7}


def test_bus_verilator(tmp_path):
    design = load(WB)
    comp = component_for(design)
    art = emit(design, BUILD, component=comp)
    vs = bench.vectors(design, comp, seed=1, shapes=SHAPES)
    got, note = bench.run("verilator", design, comp, vs, art.directory)
    assert not got.pop("_runner_failed", False), note
    res = bench.check(vs, got, "verilator")
    assert res.ok, res.summary()
    assert "wishbone" in note and "array cycles (CYCLES CSR)" in note


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog not installed (setup.sh installs it)")
def test_bus_exported_suite_icarus(tmp_path):
    """The exported suite (bus driver shipped in hwsim_tb/) passes under Icarus without hwsim."""
    from test_export import _run

    from testbenches.export import export_suite

    suite = export_suite(load(AXIL), tmp_path / "build")
    copy = tmp_path / "suite"
    shutil.copytree(suite, copy)
    rc, out, (tests, failed) = _run(copy, "icarus", tmp_path / "run")
    assert rc == 0 and tests == 1 and failed == 0, out[-3000:]


@pytest.mark.parametrize("path, rtl", [(WB, None), (AXIL, {"host_bus": "axi4lite", "debug_ports": True})],
                         ids=["wishbone", "axi4lite-debug"])
def test_bus_tops_lint_clean(path, rtl):
    from testbenches.verilator import lint

    art = emit(_design(path, **(rtl or {})), BUILD)
    r = lint(art.verilog, art.top)
    assert r.ok, "\n".join(r.messages[:10])


def test_one_bus_word_per_memory_word():
    """A 1x1 array: every memory word fits one 32-bit bus word (no staging register, sub_word_bits 0)."""
    design = load(WB).replace(array={"rows": 1, "cols": 1})
    comp = component_for(design)
    assert comp.register_map()["sub_word_bits"] == 0
    vs = bench.vectors(design, comp, seed=4, shapes=[(1, 1, 1), (3, 2, 4)])
    res = bench.check(vs, bench.run_amaranth(comp, vs), "amaranth")
    assert res.ok, res.summary()


def test_while_busy_memory_writes_dropped_csrs_live():
    """While the array runs: CTRL reads busy, a memory-window write and an M write are ignored; after
    done, CYCLES equals the closed form of the shape that was started."""
    from hwsim.systolic.timing import FoldPlan
    from rtl_gen.verilog import describe_ports
    from testbenches.amaranth_sim import AmaranthIO, port_signals, run_clocked_sim
    from testbenches.hostbus_driver import WishboneMaster

    comp = component_for(load(WB))
    hb = describe_ports(comp, "dut")["hostbus"]
    act0 = hb["memories"]["activation"]["base_word"]
    csr = {k: v["word"] for k, v in hb["csr"].items()}
    seen = {}

    async def nothing():
        return None

    async def tb(ctx):
        async def tick():
            await ctx.tick()

        bus = WishboneMaster(AmaranthIO(ctx, port_signals(comp)), nothing, tick, hb)
        bus.idle()
        await bus.write(act0, 0x0102)
        for k, v in (("M", 6), ("N", 3), ("K", 5)):
            await bus.write(csr[k], v)
        await bus.write(csr["CTRL"], 1)
        seen["ctrl_busy"] = await bus.read(csr["CTRL"])
        await bus.write(act0, 0x7777)               # dropped: the array owns the memories
        await bus.write(csr["M"], 1)                # ignored while busy
        while not (await bus.read(csr["CTRL"])) & 2:
            pass
        seen["act0"] = await bus.read(act0)
        seen["M"] = await bus.read(csr["M"])
        seen["cycles"] = await bus.read(csr["CYCLES"])

    run_clocked_sim(comp, tb)
    assert seen == {"ctrl_busy": 1, "act0": 0x0102, "M": 6, "cycles": FoldPlan("ws", 2, 2, 1, 6, 3, 5).cycles}
