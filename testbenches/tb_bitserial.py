"""cocotb test of a generated bit-serial PE array under Verilator: the shared host driver of
``testbenches.bitserial`` (job and output files from BITSERIAL_JOB / BITSERIAL_OUT)."""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from .bitserial import VectorSet, drive


@cocotb.test()
async def bitserial_tiles(dut):
    with open(os.environ["BITSERIAL_JOB"]) as f:
        job = json.load(f)
    vs = VectorSet(**job["vs"])
    clk = dut.clk
    dut.rst.value = 1
    dut.start.value = 0
    cocotb.start_soon(Clock(clk, 10, unit="ns").start())
    for _ in range(2):
        await RisingEdge(clk)
    dut.rst.value = 0
    await FallingEdge(clk)

    class IO:
        ro = False

        def set(self, k, v):
            getattr(dut, k).value = v

        async def sample(self, k):
            if not self.ro:
                await ReadOnly()
                self.ro = True
            return int(getattr(dut, k).value)

    io = IO()

    async def between_tiles():
        if io.ro:        # leave the read-only phase (an idle cycle; cycles are counted from the start)
            await RisingEdge(clk)
            await FallingEdge(clk)
            io.ro = False

    io.between_tiles = between_tiles

    async def edge():
        await RisingEdge(clk)
        await FallingEdge(clk)
        io.ro = False

    out = await drive(io, edge, vs, job["acc_width"], job["code_bits"], job["meta_bits"])
    with open(os.environ["BITSERIAL_OUT"], "w") as f:
        json.dump(out, f)
