"""cocotb test of a generated HBM-PIM block (``rtl_gen.pim.PimBlock``): applies the vector file's command
stream cycle by cycle (``testbenches.pim_driver.drive_block``), serving the bank reads from and applying the
bank writes to block 0's bank images, and checks the banks' results and the DRAM cycles of the bank writes
against the file (its own verdict); the parent process (``testbenches.pim``) checks them again. numpy-only
harness: it runs in exported suites without hwsim.

Run by ``testbenches.bench`` / ``hwsim verify`` (environment from ``runner.run_cocotb``)."""

from __future__ import annotations

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, Timer

from .cocotb_io import CocotbIO, job, save_results
from .pim_driver import block_results, drive_block, mismatches


@cocotb.test()
async def pim_block(dut):
    ports, vs, out = job()
    lanes = {p["name"]: p["width"] for p in ports["ports"]}["even_rdata"] // 16
    clk = getattr(dut, ports["clock"])
    rst = getattr(dut, ports["reset"])
    cocotb.start_soon(Clock(clk, 10, unit="ns").start())
    rst.value = 1
    await RisingEdge(clk)
    await Timer(1, unit="ns")
    rst.value = 0

    async def tick(settle=False):
        if settle:
            await Timer(1, unit="ns")
        else:
            await RisingEdge(clk)
            await Timer(1, unit="ns")

    even, odd, writes = await drive_block(CocotbIO(dut), tick, vs.inputs, lanes)
    got = block_results(even, odd, vs.inputs["gemv_at"]) | {"write_cycles": writes}
    save_results(out, got)
    dut._log.info("%s: %d DRAM cycles, %d bank writes, %d lanes", vs.name, vs.n, len(writes), lanes)
    bad = mismatches(vs.expected, got, lanes)
    assert not bad, f"{vs.name}: " + "; ".join(bad)
