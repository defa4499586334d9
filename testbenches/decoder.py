"""The bench of ``kind: decoder``: a number-format decoder (combinational).

Vectors (``testbenches.vectors.decoder_vectors``): every code under every metadata value the port can
carry; expected values straight from the format's ``code_values`` in exact rationals.

Levels: ``hwsim`` (the decode table of hwsim.arith, which the simulators and the RTL share),
``amaranth``, ``verilator``.
"""

from __future__ import annotations

from .vectors import check as _check
from .vectors import decoder_vectors

LEVELS = ("hwsim", "amaranth", "verilator")
#: the cocotb test module (self-checking; exported with the regression suite by testbenches.export)
COCOTB_MODULE = "testbenches.tb_decoder"


def vectors(design, component, seed: int = 0):
    return decoder_vectors(component.table)


def describe(design, component, vs) -> str:
    return f"vectors: every code x metadata value ({vs.n:,}); {component.table.describe()}"


def run(level, design, component, vs, art_dir, waves: bool = False, log=None):
    if level == "hwsim":
        value, invalid = component.table.decode(vs.inputs["code"], vs.inputs.get("meta"))
        return {"value": value, "invalid": invalid}, None
    if level == "amaranth":
        from .amaranth_sim import run_decoder

        return run_decoder(component, vs), None
    from .bench import run_cocotb

    return run_cocotb(art_dir, vs, COCOTB_MODULE, waves=waves, log=log)


def check(vs, got, level):
    return _check(vs, got, level)
