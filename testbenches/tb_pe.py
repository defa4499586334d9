"""cocotb test of a stream unit (a MAC PE, the HSA decode GEMV lane): the shared vectors, drivers, monitor and scoreboard under Verilator.

Run by ``testbenches.bench`` / ``hwsim verify`` (environment from ``runner.run_cocotb``)."""

from __future__ import annotations

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from .cocotb_io import CocotbIO, clock_and_reset, job, save_results
from .streams import Scoreboard, StreamDriver, StreamMonitor, run_clocked


@cocotb.test()
async def pe_vectors(dut):
    ports, vs, out = job()
    si, so = ports["streams"]["i"], ports["streams"]["o"]
    io = CocotbIO(dut)
    io.set(si["valid"], 0)
    io.set(so["ready"], 0)
    clk = await clock_and_reset(dut, ports)
    drv = StreamDriver(si, vs.inputs, vs.schedule.get("in_valid"))
    sb = Scoreboard(vs.name, vs.expected["outputs"], vs.expected.get("out_cycles"))
    mon = StreamMonitor(so, vs.schedule.get("out_ready"), scoreboard=sb)
    n_out = len(vs.expected["outputs"])
    cycles = await run_clocked(io, [drv, mon], lambda: mon.count >= n_out, ReadOnly,
                               lambda: RisingEdge(clk),
                               max_cycles=4 * (vs.n + 64) + len(vs.schedule.get("in_valid", ())))
    save_results(out, {"outputs": mon.values, "in_cycles": drv.accepted_cycles,
                       "out_cycles": mon.cycles, "cycles": [cycles]})
    dut._log.info("%s: %d elements, %d outputs, %d cycles", vs.name, vs.n, mon.count, cycles)
    sb.assert_ok()
