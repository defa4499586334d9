"""cocotb test of a generated systolic array under Verilator: the shared host driver
(``testbenches.systolic_driver``) loads each GEMM's memory images, runs it, records every result
write and reads the results back, then checks outputs, total cycles, the cycle of every result write and
the write counts against the expected arrays (its own verdict); the parent process checks them again.

Run by ``testbenches.bench`` / ``hwsim verify`` (environment from ``runner.run_cocotb``)."""

from __future__ import annotations

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from .cocotb_io import CocotbIO, clock_and_reset, job, save_results
from .hostbus_driver import MASTERS, checked_keys, run_gemms_bus
from .systolic_driver import decode_results, jobs_of, mismatches, raw_to_arrays, run_gemms


@cocotb.test()
async def systolic_gemms(dut):
    ports, vs, out = job()
    sysdoc = ports["systolic"]
    io = CocotbIO(dut)
    hostbus = "hostbus" in ports            # behind rtl_gen.hostbus: Wishbone / AXI4-Lite
    if hostbus:
        MASTERS[ports["hostbus"]["bus"]](io, ReadOnly, None, ports["hostbus"]).idle()
    else:
        io.set(sysdoc["control"]["start"], 0)
        io.set(sysdoc["host"]["we"], 0)
    clk = await clock_and_reset(dut, ports)

    async def tick():
        await RisingEdge(clk)

    if hostbus:
        raw = await run_gemms_bus(io, ReadOnly, tick, ports, jobs_of(vs))
    else:
        raw = await run_gemms(io, ReadOnly, tick, sysdoc, jobs_of(vs))
    save_results(out, raw_to_arrays(raw))
    dut._log.info("%s: %d GEMMs, %d array cycles, %d host cycles (loads and read-back%s)", vs.name,
                  len(raw["cycles"]), sum(raw["cycles"]), sum(raw["io_cycles"]),
                  f" over {ports['hostbus']['bus']}" if hostbus else "")
    got = decode_results(sysdoc, vs.inputs["shapes"].tolist(), raw)
    bad = mismatches(vs.expected, got, keys=checked_keys(ports))
    assert not bad, f"{vs.name}: " + "; ".join(bad)
