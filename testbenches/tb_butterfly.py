"""cocotb test of the generated Butterfly Engine: the shared host driver (``testbenches.butterfly_driver``)
runs every job of the vector file, and the test checks every output code and cycle count against the file
(its own verdict); the parent process (``testbenches.butterfly``) checks them again. numpy-only harness: it
runs in exported suites without hwsim.

Run by ``testbenches.bench`` / ``hwsim verify`` (environment from ``runner.run_cocotb``)."""

from __future__ import annotations

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from .butterfly_driver import flatten, jobs_from_arrays, mismatches, run_jobs
from .cocotb_io import CocotbIO, clock_and_reset, job, save_results


@cocotb.test()
async def butterfly_engine(dut):
    ports, vs, out = job()
    io = CocotbIO(dut)
    io.set("start", 0)
    io.set("coef_we", 0)
    clk = await clock_and_reset(dut, ports)

    async def tick():
        await RisingEdge(clk)

    async def settle():
        await ReadOnly()

    # cocotb cannot write signals in the ReadOnly phase: the driver writes only before settle()
    raw = await run_jobs(io, settle, tick, jobs_from_arrays(vs.inputs))
    got = flatten(raw)
    save_results(out, got)
    dut._log.info("%s: %d jobs, %d cycles", vs.name, len(raw["cycles"]), sum(raw["cycles"]))
    bad = mismatches(vs.inputs, vs.expected, got)
    assert not bad, f"{vs.name}: " + "; ".join(bad)
