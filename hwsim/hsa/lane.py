"""Cycle-level model of one decode GEMV lane (``rtl_gen.hsa.MxDotLane``): the values of
``functional.gemv_mxint4`` per packet (one output: the blocks up to an element with ``last``), the clock
of the stream protocol the lane shares with the 2-stage PE (``hwsim.pe.stream.pe_timing``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..pe.stream import pe_timing
from .functional import gemv_mxint4, gemv_mxint4_reference

#: cycles from accepting a ``last`` block to o.valid (the RTL's two stages)
LANE_LATENCY = 2


@dataclass(frozen=True)
class LaneRun:
    outputs: np.ndarray
    in_cycles: np.ndarray
    out_cycles: np.ndarray
    cycles: int


def packets(last) -> list[tuple[int, int]]:
    """(first, end) element index of every packet."""
    ends = np.flatnonzero(np.asarray(last, bool))
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(int)
    return [(int(s), int(e) + 1) for s, e in zip(starts, ends)]


def lane_outputs(codes, exps, acts, last, acc_bits: int, frac_bits: int, reference: bool = False) -> np.ndarray:
    """Accumulator per packet: codes uint8 [n, 32], exps uint8 [n], acts int64 values [n, 32]."""
    f = gemv_mxint4_reference if reference else gemv_mxint4
    out = []
    for s, e in packets(last):
        out.append(int(f(np.ascontiguousarray(codes[s:e]).reshape(1, -1), np.asarray(exps[s:e], np.uint8).reshape(1, -1),
                         np.asarray(acts[s:e]).reshape(-1), acc_bits, frac_bits)[0]))
    return np.array(out, np.int64)


def simulate_lane(codes, exps, acts, last, acc_bits: int, frac_bits: int, in_valid=None, out_ready=None) -> LaneRun:
    outputs = lane_outputs(codes, exps, acts, last, acc_bits, frac_bits)
    in_c, out_c, cycles = pe_timing(last, LANE_LATENCY, in_valid, out_ready)
    return LaneRun(outputs, in_c, out_c, cycles)
