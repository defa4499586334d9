"""cocotb test of a generated bit-serial PE array: the shared host driver
(``testbenches.bitserial_driver``) runs every tile of the vector file, and the test checks every
accumulator and every tile's cycle count against the file (its own verdict); the parent process
(``testbenches.bitserial``) checks them again. numpy-only harness: it runs in exported suites without hwsim.

Run by ``testbenches.bench`` / ``hwsim verify`` (environment from ``runner.run_cocotb``)."""

from __future__ import annotations

import cocotb
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from .bitserial_driver import drive_tiles, flatten, mismatches, tiles_from_arrays
from .cocotb_io import clock_and_reset, job, save_results


@cocotb.test()
async def bitserial_tiles(dut):
    ports, vs, out = job()
    width = {p["name"]: p["width"] for p in ports["ports"]}
    n_tiles = len(vs.expected["cycles"])
    n_results = len(vs.expected["outputs"]) // n_tiles          # rows x cols accumulators per tile
    acc_width = width["result"] // n_results
    dut.start.value = 0
    clk = await clock_and_reset(dut, ports)
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

        async def between_tiles(self):
            if self.ro:        # leave the read-only phase (an idle cycle; cycles are counted from the start)
                await RisingEdge(clk)
                await FallingEdge(clk)
                self.ro = False

    io = IO()

    async def edge():
        await RisingEdge(clk)
        await FallingEdge(clk)
        io.ro = False

    raw = await drive_tiles(io, edge, tiles_from_arrays(vs.inputs), n_results, acc_width)
    got = flatten(raw)
    save_results(out, got)
    dut._log.info("%s: %d tiles, %d issues, %d cycles", vs.name, n_tiles, vs.n, sum(raw["cycles"]))
    bad = mismatches(vs.expected, got)
    assert not bad, f"{vs.name}: " + "; ".join(bad)
