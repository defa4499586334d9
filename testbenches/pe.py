"""The bench of ``kind: pe``: one MAC processing element (stream in, accumulator out).

Vectors (``testbenches.vectors.pe_vectors``): every (metadata, weight, activation) code pair, then a
seeded random accumulate stream that overflows and underflows the accumulator, with stalls on both
handshakes. Expected outputs come from the datatypes model in exact rationals; expected cycles from
the documented timing (``hwsim.pe.stream.pe_timing``).

Levels: ``hwsim`` (hwsim.arith's MAC and the hwsim.pe.stream cycle model), ``amaranth``, ``verilator``.
"""

from __future__ import annotations

import numpy as np

from .vectors import check as _check
from .vectors import pe_vectors

LEVELS = ("hwsim", "amaranth", "verilator")
#: the cocotb test module (self-checking; exported with the regression suite by testbenches.export)
COCOTB_MODULE = "testbenches.tb_pe"


def vectors(design, component, seed: int = 0):
    return pe_vectors(component.spec, component.latency, seed=seed)


def describe(design, component, vs) -> str:
    info = vs.info
    return (f"vectors: {info['exhaustive_pairs']:,} exhaustive (meta, weight, activation) pairs + "
            f"{info['stream_elements']:,}-element random stream in {info['packets'] - info['exhaustive_pairs']} "
            f"packets ({info['overflow_packets']} overflow, {info['underflow_packets']} underflow the "
            f"int{component.spec.acc_width} accumulator), latency {component.latency}, II "
            f"{component.initiation_interval}")


def run(level, design, component, vs, art_dir, waves: bool = False, log=None):
    if level == "hwsim":
        from hwsim.pe.stream import simulate_pe

        r = simulate_pe(component.spec, component.latency, vs.inputs["w_code"], vs.inputs["a_code"],
                        vs.inputs["last"], vs.inputs.get("w_meta"), vs.schedule.get("in_valid"),
                        vs.schedule.get("out_ready"))
        return {"outputs": r.outputs, "in_cycles": r.in_cycles, "out_cycles": r.out_cycles,
                "cycles": np.array([r.cycles])}, None
    if level == "amaranth":
        from .amaranth_sim import run_pe

        return run_pe(component, vs), None
    from .bench import run_cocotb

    return run_cocotb(art_dir, vs, COCOTB_MODULE, waves=waves, log=log)


def check(vs, got, level):
    return _check(vs, got, level)
