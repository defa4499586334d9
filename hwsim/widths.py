"""Two's-complement widths, wrap-around and the accumulator spec: the one helper every level uses
(the simulators' kernels, the RTL datapath, the YAML schemas, the benches). numpy only."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .errors import UnsupportedKindError, WidthError

#: Widest product and accumulator (RTL; the array simulators' kernels take up to 64 bits).
MAX_WIDTH = 128


def signed_width(lo: int, hi: int) -> int:
    """Smallest two's-complement width holding every integer in [lo, hi] (at least 2 bits)."""
    w = 2
    while not (-(1 << (w - 1)) <= lo and hi <= (1 << (w - 1)) - 1):
        w += 1
    return w


def int_array(values: Any, width: int) -> np.ndarray:
    """Integers of at most ``width`` bits as an int64 array (width <= 64) or an object array of
    Python ints (wider)."""
    if width <= 64:
        return np.asarray(values, dtype=np.int64)
    arr = np.empty(len(values), dtype=object)
    arr[:] = [int(v) for v in values]
    return arr


def wrap(x: Any, width: int) -> np.ndarray:
    """Integers reduced to ``width``-bit two's complement (wrap-around modulo 2**width).
    int64 in and out for width <= 64; Python ints (object array) otherwise."""
    if width <= 64:
        u = np.array(x, dtype=np.int64).view(np.uint64)
        s = np.uint64(64 - width)
        return (u << s).view(np.int64) >> np.int64(64 - width)
    half, full = 1 << (width - 1), 1 << width
    return int_array([((int(v) + half) % full) - half for v in np.asarray(x, dtype=object).ravel()], width)


def parse_accumulator(acc: int | str) -> int:
    """Accumulator width in bits from ``int<N>`` / ``N``; WidthError for anything else."""
    if isinstance(acc, str):
        s = acc.strip().lower()
        if s in ("fp32", "fp16", "bf16"):
            raise UnsupportedKindError(
                f"accumulator {acc!r}: only integer (two's complement) accumulators are implemented (exact and order-independent); "
                f"use int<N>, e.g. int32")
        if not (s.startswith("int") and s[3:].isdigit()):
            raise WidthError(f"accumulator {acc!r}: expected int<N> (N = 2..{MAX_WIDTH}), e.g. int32")
        acc = int(s[3:])
    if isinstance(acc, bool) or not isinstance(acc, (int, np.integer)):
        raise WidthError(f"accumulator width must be an integer or 'int<N>', got {acc!r}")
    acc = int(acc)
    if not 2 <= acc <= MAX_WIDTH:
        raise WidthError(f"accumulator width {acc} is impossible: allowed 2..{MAX_WIDTH} bits")
    return acc


def accumulator_rule(max_bits: int, what: str) -> Callable[[str], str | None]:
    """A schema check (hwsim.spec.param ``check=``) for an ``int<N>`` accumulator with N <= max_bits."""
    def check(value: str) -> str | None:
        try:
            n = parse_accumulator(value)
        except (WidthError, UnsupportedKindError) as e:
            return str(e).replace(f"N = 2..{MAX_WIDTH}", f"N = 2..{max_bits}")
        if n > max_bits:
            return f"expected int<N> with N = 2..{max_bits}: {what}"
        return None

    return check
