"""cocotb test of the generated Butterfly Engine under Verilator: the shared host driver
(``testbenches.butterfly_driver``) runs every job; the parent process (``testbenches.butterfly``)
checks the outputs and cycles. Environment: HWSIM_BFLY_JOBS (JSON jobs), HWSIM_BFLY_OUT (results)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from .butterfly_driver import run_jobs
from .cocotb_io import CocotbIO


@cocotb.test()
async def butterfly_engine(dut):
    jobs = json.loads(Path(os.environ["HWSIM_BFLY_JOBS"]).read_text())
    io = CocotbIO(dut)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    io.set("start", 0)
    io.set("coef_we", 0)
    dut.rst.value = 1
    for _ in range(2):
        await RisingEdge(dut.clk)
    dut.rst.value = 0

    async def tick():
        await RisingEdge(dut.clk)

    async def settle():
        await ReadOnly()

    # cocotb cannot write signals in the ReadOnly phase: the driver writes only before settle()
    raw = await run_jobs(io, settle, tick, jobs)
    tmp = Path(os.environ["HWSIM_BFLY_OUT"] + ".tmp")
    tmp.write_text(json.dumps(raw))
    tmp.replace(os.environ["HWSIM_BFLY_OUT"])
    dut._log.info("%d jobs, %d cycles", len(raw["cycles"]), sum(raw["cycles"]))
