"""The bench of ``kind: hsa``: one decode GEMV lane (``rtl_gen.hsa.MxDotLane``).

Vectors: seeded packets of 1..6 MX blocks (one output each): random MXINT4 codes (never -8), E8M0
exponents concentrated where the shift crosses 0 and the accumulator width (floor shifts, truncated
left shifts, zero contributions) and spread over 0..254, activations over every code of the format,
plus extreme blocks (all +7 / -7 weights with the largest / smallest activations); offered with random
gaps (in_valid 80 %) and back-pressure (out_ready 70 %) after an unstalled start. Expected outputs from
the numpy reference ``gemv_mxint4_reference`` (vectorised, not the lane model); expected cycles from the
documented protocol (``hwsim.pe.stream.pe_timing`` with 2 stages).

Levels: ``model`` (``functional.gemv_mxint4``, outputs only), ``hwsim`` (``hwsim.hsa.lane``: values and
clock), ``amaranth``, ``verilator``.
"""

from __future__ import annotations

import numpy as np

from .vectors import VectorSet
from .vectors import check as _check

LEVELS = ("model", "hwsim", "amaranth", "verilator")
COCOTB_MODULE = "testbenches.tb_pe"     # the same stream-in, stream-out test as a MAC PE
BLOCK = 32


def _act_values(comp, codes):
    from hwsim.pe.model import pe_format

    return pe_format(comp.activation).decode[codes].astype(np.int64)


def vectors(design, component, seed: int = 0, n_packets: int = 40) -> VectorSet:
    from hwsim.hsa.lane import LANE_LATENCY, lane_outputs
    from hwsim.pe.model import pe_format
    from hwsim.pe.stream import pe_timing

    rng = np.random.default_rng(seed)
    A, F = component.acc_bits, component.frac_bits
    af = pe_format(component.activation)
    acodes = np.flatnonzero(af.valid)
    lens = rng.integers(1, 7, n_packets)
    n = int(lens.sum()) + 2
    wcodes = np.array([c for c in range(16) if c != 8], np.uint8)
    codes = rng.choice(wcodes, (n, BLOCK)).astype(np.uint8)
    acts = rng.choice(acodes, (n, BLOCK)).astype(np.int64)
    centre = 129 - F
    exps = np.where(rng.random(n) < 0.7, rng.integers(centre - 30, centre + A + 3, n), rng.integers(0, 255, n))
    exps = np.clip(exps, 0, 254).astype(np.uint8)
    # two extreme one-block packets first: +7 x largest, -7 x smallest activation, largest exponent
    big, small = acodes[np.argmax(af.decode[acodes])], acodes[np.argmin(af.decode[acodes])]
    codes[0], acts[0], exps[0] = 7, big, min(254, centre + A - 1)
    codes[1], acts[1], exps[1] = 9, small, min(254, centre + 3)
    last = np.zeros(n, bool)
    last[[0, 1]] = True
    last[np.cumsum(lens) + 1] = True
    vals = _act_values(component, acts)
    outputs = lane_outputs(codes, exps, vals, last, A, F, reference=True)
    horizon = 3 * n + 64
    in_valid = np.ones(horizon, bool)
    out_ready = np.ones(horizon, bool)
    in_valid[8:] = rng.random(horizon - 8) < 0.8
    out_ready[8:] = rng.random(horizon - 8) < 0.7
    in_c, out_c, cycles = pe_timing(last, LANE_LATENCY, in_valid, out_ready)
    inputs = {f"w{k}": codes[:, k] for k in range(BLOCK)}
    inputs["e"] = exps
    inputs |= {f"a{k}": acts[:, k] for k in range(BLOCK)}
    inputs["last"] = last
    return VectorSet(name=f"hsa-lane-mxint4-{component.activation}-int{A}-f{F}", kind="hsa", inputs=inputs,
                     expected={"outputs": outputs, "in_cycles": in_c, "out_cycles": out_c,
                               "cycles": np.array([cycles], np.int64)},
                     schedule={"in_valid": in_valid, "out_ready": out_ready},
                     info={"vectors": n, "packets": int(last.sum()), "cycles": int(cycles), "seed": seed})


def _arrays(vs):
    codes = np.stack([np.asarray(vs.inputs[f"w{k}"], np.uint8) for k in range(BLOCK)], 1)
    acts = np.stack([np.asarray(vs.inputs[f"a{k}"], np.int64) for k in range(BLOCK)], 1)
    return codes, np.asarray(vs.inputs["e"], np.uint8), acts, np.asarray(vs.inputs["last"], bool)


def describe(design, component, vs) -> str:
    return (f"vectors: {vs.info['vectors']:,} MX blocks in {vs.info['packets']} packets (outputs), random gaps "
            f"and back-pressure; {component.summary()}")


def run(level, design, component, vs, art_dir, waves: bool = False, log=None):
    codes, exps, acts, last = _arrays(vs)
    vals = _act_values(component, acts)
    if level == "model":
        from hwsim.hsa.lane import lane_outputs

        return {"outputs": lane_outputs(codes, exps, vals, last, component.acc_bits, component.frac_bits)}, None
    if level == "hwsim":
        from hwsim.hsa.lane import simulate_lane

        r = simulate_lane(codes, exps, vals, last, component.acc_bits, component.frac_bits,
                          vs.schedule.get("in_valid"), vs.schedule.get("out_ready"))
        return {"outputs": r.outputs, "in_cycles": r.in_cycles, "out_cycles": r.out_cycles,
                "cycles": np.array([r.cycles])}, None
    if level == "amaranth":
        return _run_amaranth(component, vs), None
    from .bench import run_cocotb

    return run_cocotb(art_dir, vs, COCOTB_MODULE, waves=waves, log=log)


def _run_amaranth(lane, vs, vcd=None) -> dict:
    """The lane under amaranth.sim with the shared driver, monitor and scoreboard (as ``run_pe``)."""
    from .amaranth_sim import run_stream_unit

    return run_stream_unit(lane, vs, lane.acc_bits, vcd)


def check(vs, got, level):
    if level == "model":
        sub = VectorSet(name=vs.name, kind=vs.kind, inputs=vs.inputs, expected={"outputs": vs.expected["outputs"]},
                        schedule=vs.schedule, info=vs.info)
        return _check(sub, got, level)
    return _check(vs, got, level)
