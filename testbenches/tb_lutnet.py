"""cocotb test of a generated LUT-netlist pipeline: drives the vector stream one sample per cycle (with the
bubbles of the vector set), records ``out_data``/``out_valid`` in every cycle, and checks the outputs, their
cycles and the whole per-cycle trace against the vector file (its own verdict); the parent process checks
them again. numpy-only harness (``lutnet_driver``): it runs in exported suites without hwsim.

Run by ``testbenches.bench`` / ``hwsim verify`` (environment from ``runner.run_cocotb``)."""

from __future__ import annotations

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from .cocotb_io import CocotbIO, clock_and_reset, job, save_results
from .lutnet_driver import mismatches, run_stream


@cocotb.test()
async def lutnet_stream(dut):
    ports, vs, out = job()
    lut = ports["lutnet"]
    io = CocotbIO(dut)
    io.set(lut["valid"]["in"], 0)
    io.set(lut["in"]["port"], 0)
    clk = await clock_and_reset(dut, ports)

    async def settle():
        await ReadOnly()

    async def tick():
        await RisingEdge(clk)

    got = await run_stream(io, settle, tick, lut, vs.inputs["x"], vs.schedule["in_valid"],
                           len(vs.expected["trace_valid"]))
    save_results(out, got)
    dut._log.info("%s: %d samples, %d cycles, %d valid outputs", vs.name, vs.n, len(got["trace_valid"]),
                  len(got["outputs"]))
    bad = mismatches(vs.expected, got)
    assert not bad, f"{vs.name}: " + "; ".join(bad)
