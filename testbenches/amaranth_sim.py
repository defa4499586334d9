"""The amaranth.sim backend: runs the same vectors, drivers, monitors and checker as the
cocotb/Verilator backend, on the Amaranth component directly (no Verilog, no C++ build). Fast and
always on; a failure here is the generator's, a failure only under Verilator is the toolchain's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from amaranth.sim import Simulator

from rtl_gen.arith import int_array
from rtl_gen.verilog import describe_ports

from .streams import Scoreboard, StreamDriver, StreamMonitor, run_clocked, run_comb
from .vectors import VectorSet


def port_signals(comp) -> dict[str, Any]:
    """Port name (as in the Verilog and ports.json) -> Amaranth value."""
    out = {}
    for path, _member, value in comp.signature.flatten(comp):
        out["__".join(map(str, path))] = value.as_value() if hasattr(value, "as_value") else value
    return out


class AmaranthIO:
    def __init__(self, ctx, signals: dict[str, Any]):
        self.ctx = ctx
        self.sig = signals
        self.mask = {k: (1 << len(v)) - 1 for k, v in signals.items()}

    def set(self, name: str, value: int) -> None:
        self.ctx.set(self.sig[name], value)

    def get(self, name: str) -> int:
        return self.ctx.get(self.sig[name]) & self.mask[name]


async def _nothing():
    return None


def run_decoder(dec, vs: VectorSet) -> dict[str, np.ndarray]:
    """Apply every vector to a Decoder under amaranth.sim; returns {"value", "invalid"}."""
    ports = describe_ports(dec, "dut")
    outs = {p["name"]: p for p in ports["ports"] if p["direction"] == "output"}
    result: dict[str, np.ndarray] = {}

    async def tb(ctx):
        io = AmaranthIO(ctx, port_signals(dec))
        result.update(await run_comb(io, vs.inputs, outs, _nothing))

    sim = Simulator(dec)
    sim.add_testbench(tb)
    sim.run()
    return {"value": result["value"], "invalid": result["invalid"].astype(bool)}


def run_clocked_sim(dut, testbench, vcd: str | None = None) -> None:
    """Run the async ``testbench(ctx)`` against ``dut`` under a clock, writing a VCD if asked."""
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()


def run_pe(pe, vs: VectorSet, vcd: str | None = None) -> dict[str, np.ndarray]:
    """Run the PE vectors under amaranth.sim; returns outputs, in/out handshake cycles, cycles."""
    return run_stream_unit(pe, vs, pe.spec.acc_width, vcd)


def run_stream_unit(dut, vs: VectorSet, out_bits: int, vcd: str | None = None) -> dict[str, np.ndarray]:
    """A unit with one input stream ``i`` and one signed ``out_bits``-wide output stream ``o`` (a MAC PE,
    the HSA GEMV lane) under amaranth.sim with the shared driver, monitor and scoreboard."""
    ports = describe_ports(dut, "dut")
    drv = StreamDriver(ports["streams"]["i"], vs.inputs, vs.schedule.get("in_valid"))
    sb = Scoreboard(vs.name, vs.expected["outputs"], vs.expected.get("out_cycles"))
    mon = StreamMonitor(ports["streams"]["o"], vs.schedule.get("out_ready"), scoreboard=sb)
    n_out = len(vs.expected["outputs"])
    box: dict[str, int] = {}

    async def tb(ctx):
        io = AmaranthIO(ctx, port_signals(dut))

        async def tick():
            await ctx.tick()

        box["cycles"] = await run_clocked(io, [drv, mon], lambda: mon.count >= n_out, _nothing, tick,
                                          max_cycles=4 * (vs.n + 64) + len(vs.schedule.get("in_valid", ())))

    run_clocked_sim(dut, tb, vcd)
    return {"outputs": int_array(mon.values, out_bits),
            "in_cycles": np.array(drv.accepted_cycles, dtype=np.int64),
            "out_cycles": np.array(mon.cycles, dtype=np.int64),
            "cycles": np.array([box["cycles"]], dtype=np.int64)}
