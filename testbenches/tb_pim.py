"""cocotb side of the ``pim`` bench (testbenches.pim): the FP16 lane and the PIM block under Verilator."""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, Timer

from .cocotb_io import CocotbIO
from .pim import drive_block, drive_lane


def _job():
    with np.load(os.environ["HWSIM_PIM_IN"]) as z:
        return {k: z[k] for k in z.files}, os.environ["HWSIM_PIM_OUT"]


@cocotb.test()
async def pim_lane(dut):
    if os.environ.get("HWSIM_PIM_UNIT") != "lane":
        return
    v, out = _job()

    async def settle():
        await Timer(1, unit="ns")
    y = await drive_lane(CocotbIO(dut), settle, v)
    np.savez(out, y=y)


@cocotb.test()
async def pim_block(dut):
    if os.environ.get("HWSIM_PIM_UNIT") != "block":
        return
    inp, out = _job()
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    await RisingEdge(dut.clk)
    await Timer(1, unit="ns")
    dut.rst.value = 0

    async def tick(settle=False):
        if settle:
            await Timer(1, unit="ns")
        else:
            await RisingEdge(dut.clk)
            await Timer(1, unit="ns")
    even, odd, writes = await drive_block(CocotbIO(dut), tick, inp, int(os.environ.get("HWSIM_PIM_LANES", "16")))
    np.savez(out, even=even, odd=odd, writes=writes)
