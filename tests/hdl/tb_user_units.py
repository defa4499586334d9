"""cocotb tests of hand-written Verilog units wired to hwsim's verification library (testbenches.streams,
testbenches.cocotb_io, testbenches.vectorset): a few lines per unit, as docs/cocotb.md shows."""

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge, Timer

from testbenches.cocotb_io import CocotbIO
from testbenches.streams import Scoreboard, StreamDriver, StreamMonitor, run_clocked, run_comb
from testbenches.vectorset import VectorSet

#: the user's stream ports, described the way ports.json describes generated ones
IN = {"role": "sink", "valid": "in_valid", "ready": "in_ready", "payload": "in_payload", "width": 17,
      "signed": False, "fields": {"w_code": {"offset": 0, "width": 8, "signed": False},
                                  "a_code": {"offset": 8, "width": 8, "signed": False},
                                  "last": {"offset": 16, "width": 1, "signed": False}}}
OUT = {"role": "source", "valid": "out_valid", "ready": "out_ready", "payload": "out_payload", "width": 20,
       "signed": True, "fields": {}}


@cocotb.test()
async def mac_against_hwsim_vectors(dut):
    vs = VectorSet.load(os.environ["HWSIM_VECTORS"])
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    drv = StreamDriver(IN, {k: vs.inputs[k] for k in ("w_code", "a_code", "last")}, vs.schedule.get("in_valid"))
    sb = Scoreboard("user_mac_int8", vs.expected["outputs"])          # values only: its own timing
    mon = StreamMonitor(OUT, vs.schedule.get("out_ready"), scoreboard=sb)
    await run_clocked(CocotbIO(dut), [drv, mon], lambda: mon.count >= len(vs.expected["outputs"]), ReadOnly,
                      lambda: RisingEdge(dut.clk), max_cycles=8 * vs.n + 1000)
    sb.assert_ok()


@cocotb.test()
async def decoder_against_hwsim_vectors(dut):
    vs = VectorSet.load(os.environ["HWSIM_VECTORS"])
    got = await run_comb(CocotbIO(dut), vs.inputs, {"value": {"width": 5, "signed": True},
                                                   "invalid": {"width": 1, "signed": False}},
                         lambda: Timer(1, unit="ns"))
    bad = np.flatnonzero(got["value"] != vs.expected["value"])
    assert bad.size == 0, f"{bad.size} codes differ, first: code {int(vs.inputs['code'][bad[0]])}"
