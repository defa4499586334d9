"""Cycle models of the HSA's decode GEMV mode and of its RMSNorm and RoPE units.

Decode GEMV mode of one layer ``Y[M, N] = A[M, K] @ W[K, N]`` (M = 1 for the projections of one token;
M = heads / kv_heads for decode attention, whose streamed operand is the KV cache). The streamed operand
W comes from DRAM; a *beat* is what one lane takes: ``lane_width`` elements along K (for MXINT4 weights
with a 32-wide lane: one MX block, 32 x 4 + 8 = 136 bits). There are ``beats = N * ceil(K / w)`` beats;
the ``lanes`` lanes run in lock step, so the layer has ``n = ceil(beats / lanes)`` steps, and step j
(1-based) needs ``need_j = min(j * lanes, beats) * beat_bits`` bits delivered. A step holds its lanes M
cycles (one per activation row). DRAM delivers ``B`` bits per cycle from cycle ``D`` on (data of cycle t
is usable in cycle t + 1), so the step j issues in cycle

    t_j = max(t_{j-1} + M, D + ceil(need_j / B)),        t_0 = -M

and the layer ends ``M - 1 + lane_latency`` cycles after the last issue: ``cycles = t_n + M + lane_latency``.
The closed form (:func:`decode_cycles`) uses that ``f(j) = ceil(need_j / B) + M (n - j)`` is maximal at
j in {1, n - 1, n} (monotone for j < n: non-decreasing when a step's bits take at least M cycles of DRAM,
non-increasing otherwise); :func:`decode_cycles_stepped` advances the clock cycle by cycle (Numba) and
the tests check the two are equal.

Utilisation = MACs / (lanes * lane_width * cycles): 100 % when the lanes consume exactly what the DRAM
delivers (``lanes * beat_bits == B * M``) and the latencies are hidden (long layers).

RMSNorm of a d-vector with L lanes (float32 unit, one vector at a time)::

    2 * ceil(d / L)          squares pass and scale pass
    + log2(L)                adder tree
    + 2                      multiply by 1/d, add eps
    + rsqrt_latency          reciprocal square root
    + 2                      the two multiplies of the scale pass drain

RoPE of P pairs with L lanes: ``ceil(P / L) + latency``.
"""

from __future__ import annotations

import math

import numpy as np

from datatypes._jit import njit


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def decode_steps(N: int, K: int, lane_width: int, lanes: int) -> tuple[int, int]:
    """(beats, steps) of one layer."""
    beats = N * _ceil_div(K, lane_width)
    return beats, _ceil_div(beats, lanes)


def decode_cycles(N: int, K: int, M: int, lane_width: int, lanes: int, beat_bits: int, dram_bits: int,
                  dram_latency: int, lane_latency: int) -> int:
    """Closed form of the decode GEMV mode's cycles for one layer instance (module docstring)."""
    beats, n = decode_steps(N, K, lane_width, lanes)

    def f(j: int) -> int:
        need = min(j * lanes, beats) * beat_bits
        return dram_latency + _ceil_div(need, dram_bits) + M * (n - j)

    t_n = max(f(j) for j in {1, max(1, n - 1), n})
    return t_n + M + lane_latency


@njit(cache=True)
def _stepped(beats, M, lanes, beat_bits, dram_bits, dram_latency, lane_latency):
    delivered = np.int64(0)       # bits usable in the current cycle
    done = np.int64(0)            # beats issued
    busy_until = np.int64(0)      # first cycle the lanes are free again
    t = np.int64(0)
    last_issue = np.int64(-1)
    while done < beats:
        if t >= busy_until:
            take = min(lanes, beats - done)
            if delivered >= (done + take) * beat_bits:
                done += take
                busy_until = t + M
                last_issue = t
        if t >= dram_latency:
            delivered += dram_bits            # arrives at the end of cycle t
        t += 1
    return last_issue + M + lane_latency


def decode_cycles_stepped(N: int, K: int, M: int, lane_width: int, lanes: int, beat_bits: int, dram_bits: int,
                          dram_latency: int, lane_latency: int) -> int:
    """The same machine advanced cycle by cycle (Numba)."""
    beats, _ = decode_steps(N, K, lane_width, lanes)
    return int(_stepped(np.int64(beats), np.int64(M), np.int64(lanes), np.int64(beat_bits), np.int64(dram_bits),
                        np.int64(dram_latency), np.int64(lane_latency)))


def rmsnorm_cycles(d: int, lanes: int, rsqrt_latency: int) -> int:
    """Cycles of the RMSNorm unit for one d-vector."""
    return 2 * _ceil_div(d, lanes) + int(math.log2(lanes)) + 2 + rsqrt_latency + 2


def rope_cycles(pairs: int, lanes: int, latency: int) -> int:
    """Cycles of the RoPE unit for ``pairs`` element pairs of one token."""
    return _ceil_div(pairs, lanes) + latency
