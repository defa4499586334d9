"""cocotb test of a combinational decoder: every vector of the shared set under Verilator."""

from __future__ import annotations

import cocotb
import numpy as np
from cocotb.triggers import Timer

from .cocotb_io import CocotbIO, job, save_results
from .streams import run_comb


@cocotb.test()
async def decoder_vectors(dut):
    ports, vs, out = job()
    outs = {p["name"]: p for p in ports["ports"] if p["direction"] == "output"}
    got = await run_comb(CocotbIO(dut), vs.inputs, outs, lambda: Timer(1, unit="ns"))
    got["invalid"] = got["invalid"].astype(bool)
    save_results(out, got)
    bad = int(np.sum(got["value"] != vs.expected["value"]) + np.sum(got["invalid"] != vs.expected["invalid"]))
    assert bad == 0, f"{vs.name}: {bad} of {vs.n} vectors differ from the datatypes model"
