"""How the generated decoders compute a format's decode table (formula + exceptions, or a table).

The decode tables themselves -- the one arithmetic model of decoders and MACs that the simulators, the
testbenches and these generators share -- are in :mod:`hwsim.arith` (re-exported here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwsim.arith import (MAX_DECODER_WIDTH, MAX_TABLE_ENTRIES, MAX_WIDTH, FixedPointTable, MacSpec,  # noqa: F401
                         decode_table, default_use_meta, exact_value, hardware_formats, int_array,
                         parse_accumulator, signed_width, wrap)


# ---- structure of a decode table --------------------------------------------------------------------

@dataclass(frozen=True)
class Structure:
    """How a decoder computes its table: arithmetically where the format has structure.

    kind:
      "int":       value = sign_extend(code) << shift
      "offset":    value = (code - meta) << shift            (asymmetric INT: meta = zero point)
      "minifloat": sign/exponent/mantissa with ``ebits``/``mbits``, subnormals at field 0:
                   mag = field == 0 ? man : ((1 << mbits) | man) << (field - 1);
                   value = (sign ? -mag : mag) << shift
      "table":     value = the table (a case statement on {meta, code})
    ``exceptions``: codes whose value (for some metadata value) differs from the formula; the decoder
    looks those up in the table (e.g. E2M1's negative-zero code carrying a supernormal value).
    """

    kind: str
    shift: int = 0
    ebits: int = 0
    mbits: int = 0
    exceptions: tuple[int, ...] = ()

    def describe(self) -> str:
        exc = (f" + {len(self.exceptions)} table code(s) {', '.join(f'0x{c:x}' for c in self.exceptions)}"
               if self.exceptions else "")
        if self.kind == "int":
            return f"two's complement << {self.shift}{exc}"
        if self.kind == "offset":
            return f"(code - meta) << {self.shift}{exc}"
        if self.kind == "minifloat":
            return f"sign/E{self.ebits}M{self.mbits} << {self.shift}{exc}"
        return "lookup table"


def _formula(kind: str, bits: int, ebits: int, n_meta: int) -> np.ndarray | None:
    """Unshifted formula values [n_meta, 2**bits] (int64) of a candidate structure, or None."""
    c = np.arange(1 << bits, dtype=np.int64)
    if kind == "int":
        v = np.where(c >= (1 << (bits - 1)), c - (1 << bits), c)
        return np.broadcast_to(v, (n_meta, c.size))
    if kind == "offset":
        if n_meta != (1 << bits):
            return None
        return c[None, :] - np.arange(n_meta, dtype=np.int64)[:, None]
    mbits = bits - 1 - ebits
    sign = c >> (bits - 1)
    fieldv = (c >> mbits) & ((1 << ebits) - 1)
    man = c & ((1 << mbits) - 1)
    mag = np.where(fieldv == 0, man, ((1 << mbits) | man) << np.maximum(fieldv - 1, 0))
    return np.broadcast_to(np.where(sign == 1, -mag, mag), (n_meta, c.size))


def find_structure(table: FixedPointTable) -> Structure:
    """The arithmetic structure with the fewest exception codes (at most max(2, 2**bits / 8)), or
    ``Structure("table")``. Every returned structure reproduces ``table`` exactly (checked here)."""
    bits, n = table.bits, table.n_meta
    if table.width > 62:                   # formula values in int64 with room for the shift
        return Structure("table")
    ints = table.array()
    valid = table.valid_array()
    nz = np.abs(ints[valid & (ints != 0)])
    if nz.size == 0:
        return Structure("table")
    g = int(np.gcd.reduce(nz))
    k0 = (g & -g).bit_length() - 1
    limit = max(2, (1 << bits) // 8)
    best: Structure | None = None
    candidates = [("int", 0)]
    if table.use_meta:
        candidates.append(("offset", 0))
    candidates += [("minifloat", e) for e in range(1, bits)]
    for kind, ebits in candidates:
        base = _formula(kind, bits, ebits, n)
        if base is None:
            continue
        for k in range(k0, k0 + table.frac_bits + 4):
            if k > 62 - int(np.abs(base).max()).bit_length():
                break
            cand = base << k
            bad = np.where(valid, cand != ints, cand != 0).any(axis=0)
            exc = tuple(int(c) for c in np.nonzero(bad)[0])
            if len(exc) <= limit and (best is None or len(exc) < len(best.exceptions)):
                best = Structure(kind, shift=k, ebits=ebits if kind == "minifloat" else 0,
                                 mbits=bits - 1 - ebits if kind == "minifloat" else 0, exceptions=exc)
    if best is None:
        return Structure("table")
    if not np.array_equal(_structured_values(best, table), np.where(valid, ints, 0)):
        raise AssertionError(f"structure {best} does not reproduce {table.format}")  # pragma: no cover
    return best


def _structured_values(s: Structure, table: FixedPointTable) -> np.ndarray:
    """What a structured decoder outputs for every (meta, code): formula, with table exceptions."""
    base = _formula(s.kind, table.bits, s.ebits, table.n_meta).copy() << s.shift
    ints = np.where(table.valid_array(), table.array(), 0)
    for c in s.exceptions:
        base[:, c] = ints[:, c]
    return base


