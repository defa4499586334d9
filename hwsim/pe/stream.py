"""Cycle-level model of the stream MAC processing element (``rtl_gen.pe.ProcessingElement``).

It advances the same clock as the RTL: given the per-cycle offer/ready schedule of the two streams it
returns, for every element, the cycle in which it was accepted, for every result the cycle in which
it was handed over, and the results themselves (``rtl_gen.arith.MacSpec`` arithmetic). Testbenches
compare both the values and these cycle numbers with amaranth.sim and Verilator, exactly.

Protocol (identical to the RTL): cycle c is one clock period; ``in_valid[c]`` says whether the source
offers its next element in cycle c, ``out_ready[c]`` whether the sink accepts; past the end of either
array the value is 1. ``stall = o.valid & ~o.ready``; ``i.ready = ~stall``; with ``stages`` = 1 an
element accepted in cycle c is accumulated at the end of c and, if it carries ``last``, o.valid is
high from cycle c + 1; with ``stages`` = 2 the product is registered first (o.valid from c + 2).
A stalled cycle changes no state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class PERun:
    outputs: np.ndarray       #: int64, one per element with ``last`` set (accumulator value)
    in_cycles: np.ndarray     #: int64, cycle in which each element was accepted
    out_cycles: np.ndarray    #: int64, cycle in which each output was accepted by the sink
    cycles: int               #: cycles simulated = last output handshake cycle + 1


def _at(a: np.ndarray | None, c: int) -> bool:
    return True if a is None or c >= len(a) else bool(a[c])


def pe_timing(last: Any, stages: int, in_valid: Any = None, out_ready: Any = None,
              max_cycles: int | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """(in_cycles, out_cycles, cycles) of the PE protocol for elements with flags ``last``."""
    last = np.asarray(last, dtype=bool)
    iv = None if in_valid is None else np.asarray(in_valid, dtype=bool)
    ordy = None if out_ready is None else np.asarray(out_ready, dtype=bool)
    n, n_out = len(last), int(last.sum())
    limit = max_cycles if max_cycles is not None else 4 * (n + stages + 8) + \
        (0 if iv is None else len(iv)) + (0 if ordy is None else len(ordy))
    in_cycles = np.full(n, -1, dtype=np.int64)
    out_cycles = np.full(n_out, -1, dtype=np.int64)
    k = j = 0
    o_valid = p_valid = p_last = False
    c = 0
    while j < n_out:
        if c >= limit:
            raise RuntimeError(f"PE model did not finish within {limit} cycles")
        ready = _at(ordy, c)
        stall = o_valid and not ready
        fire_in = (not stall) and k < n and _at(iv, c)
        if o_valid and ready:
            out_cycles[j] = c
            j += 1
        if fire_in:
            in_cycles[k] = c
        if not stall:
            if stages == 1:
                o_valid = bool(fire_in and last[k])
            else:
                o_valid = p_valid and p_last
                p_valid, p_last = fire_in, bool(fire_in and last[k])
        k += int(fire_in)
        c += 1
    return in_cycles, out_cycles, c


def simulate_pe(spec: Any, stages: int, w_code: Any, a_code: Any, last: Any, w_meta: Any = None,
                in_valid: Any = None, out_ready: Any = None) -> PERun:
    """Run the PE model: values from ``spec`` (an ``rtl_gen.arith.MacSpec``), cycles from the protocol."""
    products = spec.products(w_code, a_code, w_meta)
    outputs = spec.accumulate(products, last)
    in_c, out_c, cycles = pe_timing(last, stages, in_valid, out_ready)
    return PERun(outputs=outputs, in_cycles=in_c, out_cycles=out_c, cycles=cycles)
