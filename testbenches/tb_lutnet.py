"""cocotb test of a generated LUT-netlist pipeline under Verilator: drives the vector stream one sample per
cycle (with the bubbles of the vector set), records ``out_data``/``out_valid`` in every cycle, and saves the
trace; the parent process (``testbenches.lutnet``) unpacks and checks it. Environment (set by
``testbenches.lutnet._run_verilator``): HWSIM_LUT_VECTORS, HWSIM_LUT_RESULTS."""

from __future__ import annotations

import io
import os
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from hwsim.report import atomic_write

from .lutnet import LutVectors, input_stream


@cocotb.test()
async def lutnet_stream(dut):
    vs = LutVectors.load(os.environ["HWSIM_LUT_VECTORS"])
    out_path = Path(os.environ["HWSIM_LUT_RESULTS"])
    data, valid = input_stream(vs)
    dut.in_valid.value = 0
    dut.in_data.value = 0
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    await RisingEdge(dut.clk)
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    od, ov = [], []
    for c in range(vs.cycles):
        dut.in_data.value = data[c] if c < len(data) else 0
        dut.in_valid.value = valid[c] if c < len(valid) else 0
        await ReadOnly()
        od.append(int(dut.out_data.value))
        ov.append(int(dut.out_valid.value))
        await RisingEdge(dut.clk)
    buf = io.BytesIO()
    np.savez(buf, out_data=np.array([str(v) for v in od]), out_valid=np.array(ov, np.int64))
    atomic_write(out_path, buf.getvalue())
