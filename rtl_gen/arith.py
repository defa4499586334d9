"""The arithmetic contract of the generated RTL, in plain Python/numpy (no Amaranth).

Everything the decoders and the MAC datapath compute is defined here, so the cycle-level simulators
and the testbenches reproduce the RTL bit for bit without importing the generators.

Decoded values (``decode_table``)
    A format's decoder maps a ``bits``-wide code (and, when the format has group metadata, a
    ``meta_bits``-wide metadata value) to a two's-complement integer ``value`` of ``width`` bits that
    means ``value * 2**-frac_bits``. The integers are ``datatypes.exact_fixed_point`` of the format's
    ``code_values(meta)`` (one ``frac_bits`` for all codes and metadata values), so the decode is
    exact. Codes whose value is NaN (unused codes such as E2M1's negative zero in MXFP4, FP8 NaN),
    and metadata values >= ``n_meta``, decode to 0 with ``invalid = 1``.

MAC datapath (``MacSpec``)
    product = w_value * a_value            exact, ``product_width`` bits, binary point
                                            ``product_frac = w.frac_bits + a.frac_bits``
    acc'    = wrap(acc + product)           two's complement, ``acc_width`` bits; overflow wraps
                                            modulo 2**acc_width (no saturation, no flag)
    The accumulator holds ``acc * 2**-product_frac``. ``acc_width`` must hold one product
    (``acc_width >= product_width``) and be at most 128 bits. Up to 64 bits the numpy models use
    int64 arrays; wider products/accumulators (e.g. SF4's 58-bit exact levels x INT8) use numpy
    object arrays of Python ints, equally exact (``int_array``).
    The block/group *scale* of a format is not applied here: it belongs to the dequantisation step
    after the dot product, exactly as in BitMoD's ``dequant`` unit (spec §4.3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

import datatypes as dt

from .errors import NoDecoderError, WidthError

#: Widest decoder output (decode tables are int64 arrays).
MAX_DECODER_WIDTH = 64
#: Widest product and accumulator.
MAX_WIDTH = 128
#: Largest (metadata values x codes) lookup table a table decoder is generated for.
MAX_TABLE_ENTRIES = 4096


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


def default_use_meta(fmt: dt.Format) -> bool:
    """Whether a decoder of ``fmt`` takes group metadata by default: formats with more than one
    metadata value, except those whose default decode needs none (symmetric INT: two's complement;
    asymmetric INT takes the zero point as metadata when asked with ``use_meta=True``)."""
    return fmt.n_meta > 1 and not bool(fmt.options.get("symmetric", False))


@dataclass(frozen=True)
class FixedPointTable:
    """Exact fixed-point decode of one format: ``ints[meta][code] * 2**-frac_bits``.

    ``n_meta`` rows (1 when the decoder takes no metadata); ``valid[meta][code]`` is False where the
    format's value is NaN (the RTL outputs 0 and raises ``invalid``).
    """

    format: str
    bits: int
    use_meta: bool
    n_meta: int
    meta_bits: int
    frac_bits: int
    width: int
    ints: tuple[tuple[int, ...], ...] = field(repr=False)
    valid: tuple[tuple[bool, ...], ...] = field(repr=False)
    #: the Format object the table was made from (also works for formats not in the registry)
    source: Any = field(default=None, repr=False, compare=False)

    @property
    def n_codes(self) -> int:
        return 1 << self.bits

    @property
    def lo(self) -> int:
        return min(min(r) for r in self.ints)

    @property
    def hi(self) -> int:
        return max(max(r) for r in self.ints)

    def array(self) -> np.ndarray:
        """int64 array [n_meta, 2**bits] of the decoded integers (invalid entries 0)."""
        return np.array(self.ints, dtype=np.int64)

    def valid_array(self) -> np.ndarray:
        return np.array(self.valid, dtype=bool)

    def decode(self, codes: Any, meta: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised decode: (int64 values, bool invalid) of code (and metadata) arrays, exactly
        what the RTL decoder outputs (metadata values >= n_meta give 0 / invalid)."""
        c = np.asarray(codes, dtype=np.int64)
        if np.any((c < 0) | (c >= self.n_codes)):
            raise ValueError(f"{self.format}: codes must be in 0..{self.n_codes - 1}")
        if not self.use_meta:
            m = np.zeros_like(c)
            in_range = np.ones(c.shape, bool)
        else:
            if meta is None:
                raise ValueError(f"{self.format}: this decoder takes group metadata (0..{self.n_meta - 1})")
            m = np.broadcast_to(np.asarray(meta, dtype=np.int64), c.shape)
            if np.any((m < 0) | (m >= (1 << self.meta_bits))):
                raise ValueError(f"{self.format}: metadata must fit in {self.meta_bits} bits")
            in_range = m < self.n_meta
            m = np.where(in_range, m, 0)
        vals = self.array()[m, c]
        ok = self.valid_array()[m, c] & in_range
        return np.where(ok, vals, 0), ~ok

    def describe(self) -> str:
        meta = f", {self.meta_bits}-bit metadata ({self.n_meta} values)" if self.use_meta else ""
        return (f"{self.format}: {self.bits}-bit code{meta} -> signed {self.width}-bit value, "
                f"binary point {self.frac_bits} (value * 2**-{self.frac_bits})")


def decode_table(fmt: str | dt.Format, use_meta: bool | None = None) -> FixedPointTable:
    """The exact fixed-point decode table of a format, or NoDecoderError if it has no hardware decoder.

    ``use_meta``: None = ``default_use_meta(fmt)``; True = one row per metadata value
    ``code_values(m)``, m in range(n_meta); False = the single row ``code_values()``.
    """
    f = dt.get(fmt)
    if f.bits > 8:
        raise NoDecoderError(f"format {f.name!r} has {f.bits}-bit codes; decoders are generated for "
                             f"formats of at most 8 bits per element")
    if use_meta is None:
        use_meta = default_use_meta(f)
    if use_meta and f.n_meta < 2:
        raise NoDecoderError(f"format {f.name!r} has no group metadata (n_meta = {f.n_meta}); "
                             f"use its decoder without metadata")
    rows = [f.code_values(m) for m in range(f.n_meta)] if use_meta else [f.code_values()]
    n_codes = 1 << f.bits
    for m, r in enumerate(rows):
        r = np.asarray(r, dtype=np.float64)
        if r.shape != (n_codes,):
            raise NoDecoderError(f"format {f.name!r}: code_values({m}) has shape {r.shape}, expected ({n_codes},)")
        if np.isinf(r).any():
            bad = [c for c in range(n_codes) if np.isinf(r[c])]
            raise NoDecoderError(
                f"format {f.name!r} has no hardware decoder: code(s) {', '.join(f'0x{c:02x}' for c in bad)} "
                f"decode to +-Inf, which no fixed-point value can hold; use a format without Inf "
                f"(e.g. float8_e4m3fn instead of float8_e5m2)")
    stacked = np.stack([np.asarray(r, dtype=np.float64) for r in rows])
    ints, frac = dt.exact_fixed_point(stacked)
    valid = ~np.isnan(stacked)
    grid = [tuple(ints[m * n_codes:(m + 1) * n_codes]) for m in range(len(rows))]
    lo = min(min(r) for r in grid)
    hi = max(max(r) for r in grid)
    width = signed_width(lo, hi)
    if width > MAX_DECODER_WIDTH:
        raise NoDecoderError(
            f"format {f.name!r} has no hardware decoder: its exact values need a {width}-bit fixed-point "
            f"output (binary point {frac}); the limit is {MAX_DECODER_WIDTH} bits")
    n_meta = len(rows)
    meta_bits = max(1, (n_meta - 1).bit_length()) if use_meta else 0
    return FixedPointTable(format=f.name, bits=f.bits, use_meta=bool(use_meta), n_meta=n_meta,
                           meta_bits=meta_bits, frac_bits=frac, width=width, ints=tuple(grid),
                           valid=tuple(tuple(bool(v) for v in row) for row in valid), source=f)


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


# ---- the MAC datapath ------------------------------------------------------------------------------

def parse_accumulator(acc: int | str) -> int:
    """Accumulator width in bits from ``int<N>`` / ``N``; WidthError for anything else."""
    if isinstance(acc, str):
        s = acc.strip().lower()
        if s in ("fp32", "fp16", "bf16"):
            from .errors import UnsupportedKindError
            raise UnsupportedKindError(
                f"accumulator {acc!r}: only integer (two's complement) accumulators have RTL; "
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


@dataclass(frozen=True)
class MacSpec:
    """Exact arithmetic of one MAC: decoded weight x decoded activation, accumulated with wrap-around.

    Build with ``MacSpec.make(weight, activation, accumulator, weight_meta=None)``.
    """

    weight: FixedPointTable
    activation: FixedPointTable
    acc_width: int
    product_width: int
    product_frac: int

    @classmethod
    def make(cls, weight: str | dt.Format, activation: str | dt.Format, accumulator: int | str,
             weight_meta: bool | None = None) -> "MacSpec":
        w = decode_table(weight, weight_meta)
        af = dt.get(activation)
        if default_use_meta(af):
            raise NoDecoderError(
                f"activation format {af.name!r} needs group metadata ({af.n_meta} values); the PE decodes "
                f"activations without metadata -- use e.g. int8 or float8_e4m3fn")
        a = decode_table(af, False)
        acc = parse_accumulator(accumulator)
        corners = [x * y for x in (w.lo, w.hi) for y in (a.lo, a.hi)]
        pw = signed_width(min(corners), max(corners))
        if pw > MAX_WIDTH:
            raise WidthError(
                f"{w.format} x {a.format}: one exact product needs {pw} bits ({w.width}-bit weight x "
                f"{a.width}-bit activation); the limit is {MAX_WIDTH}, so this PE has no RTL")
        if acc < pw:
            raise WidthError(
                f"accumulator int{acc} is narrower than one exact product of {w.format} x {a.format} "
                f"({pw} bits, binary point {w.frac_bits + a.frac_bits}); use int{pw} or wider "
                f"(up to int{MAX_WIDTH})")
        return cls(weight=w, activation=a, acc_width=acc, product_width=pw,
                   product_frac=w.frac_bits + a.frac_bits)

    def wrap(self, x: Any) -> np.ndarray:
        """Values reduced to ``acc_width``-bit two's complement (wrap-around)."""
        return wrap(x, self.acc_width)

    def products(self, w_code: Any, a_code: Any, w_meta: Any = None) -> np.ndarray:
        """Exact products (binary point ``product_frac``) of code arrays: int64, or Python ints
        (object array) when ``product_width`` > 64."""
        wv, _ = self.weight.decode(w_code, w_meta)
        av, _ = self.activation.decode(a_code)
        if self.product_width > 64:
            return wv.astype(object) * av.astype(object)
        return wv * av

    def accumulate(self, products: Any, last: Any) -> np.ndarray:
        """Accumulator value emitted at each element with ``last`` set: the wrapped sum of the
        products since the previous ``last`` (or the start). Elements after the final ``last`` emit
        nothing. Vectorised: sums in uint64 (exact modulo 2**64), then wrapped to ``acc_width``
        (accumulators wider than 64 bits: exact Python-int sums)."""
        last = np.asarray(last, dtype=bool)
        ends = np.nonzero(last)[0]
        if ends.size == 0:
            return int_array([], self.acc_width)
        starts = np.concatenate([[0], ends[:-1] + 1])
        if self.acc_width > 64:
            p = np.asarray(products, dtype=object)
            return self.wrap(np.add.reduceat(p[: ends[-1] + 1], starts))
        p = np.ascontiguousarray(products, dtype=np.int64)
        sums = np.add.reduceat(p[: ends[-1] + 1].view(np.uint64), starts)
        return self.wrap(sums.view(np.int64))

    def describe(self) -> dict[str, Any]:
        return {
            "weight": {"format": self.weight.format, "code_bits": self.weight.bits,
                       "meta_bits": self.weight.meta_bits, "n_meta": self.weight.n_meta,
                       "width": self.weight.width, "frac_bits": self.weight.frac_bits},
            "activation": {"format": self.activation.format, "code_bits": self.activation.bits,
                           "width": self.activation.width, "frac_bits": self.activation.frac_bits},
            "product": {"width": self.product_width, "frac_bits": self.product_frac},
            "accumulator": {"width": self.acc_width, "frac_bits": self.product_frac,
                            "overflow": f"wraps modulo 2**{self.acc_width} (two's complement)"},
        }


def hardware_formats(max_bits: int | None = None, names: Sequence[str] | None = None) -> list[str]:
    """Registered formats (of at most ``max_bits`` bits) that have a hardware decoder."""
    out = []
    for n in names if names is not None else dt.formats():
        f = dt.get(n)
        if max_bits is not None and f.bits > max_bits:
            continue
        try:
            decode_table(f)
        except NoDecoderError:
            continue
        out.append(n)
    return out


def exact_value(table: FixedPointTable, code: int, meta: int = 0) -> float:
    """The decoded value as a float (for messages)."""
    return math.ldexp(table.ints[meta if table.use_meta else 0][code], -table.frac_bits)
