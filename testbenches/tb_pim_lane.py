"""cocotb test of the generated FP16 lane (``rtl_gen.pim.Fp16Lane``, combinational): every operand triple
of the vector file, the result bit patterns checked against the file (its own verdict); the parent process
(``testbenches.pim``) checks them again. numpy-only harness."""

from __future__ import annotations

import cocotb
from cocotb.triggers import Timer

from .cocotb_io import CocotbIO, job, save_results
from .pim_driver import drive_lane, mismatches


@cocotb.test()
async def pim_lane(dut):
    _, vs, out = job()

    async def settle():
        await Timer(1, unit="ns")

    got = {"y": await drive_lane(CocotbIO(dut), settle, vs.inputs)}
    save_results(out, got)
    bad = mismatches(vs.expected, got)
    assert not bad, f"{vs.name}: " + "; ".join(bad)
