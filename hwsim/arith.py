"""The one arithmetic model of the hardware (decoders, MAC), in plain Python/numpy (no Amaranth).

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
from .widths import MAX_WIDTH, int_array, parse_accumulator, signed_width, wrap  # noqa: F401  (re-exported)

#: Widest decoder output (decode tables are int64 arrays).
MAX_DECODER_WIDTH = 64
#: Largest (metadata values x codes) lookup table a table decoder is generated for.
MAX_TABLE_ENTRIES = 4096


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


# ---- the MAC datapath ------------------------------------------------------------------------------

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
