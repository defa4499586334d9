"""The processing element (PE) the array simulators assume: operand decoders and an exact MAC.

A PE multiplies a *decoded weight* by a *decoded activation* and adds the product into a two's-complement
accumulator of ``int<N>`` bits. Both decoders are pure lookup tables from the operand code to an exact
fixed-point integer::

    value(code) == decode[code] * 2**-frac_bits

where ``value`` is the float32 number the reference dequantizer multiplies by the group scale
(``fmt.code_values()`` cast to float32, exactly as ``datatypes`` dequantizes). Scales (per group, per
channel, per tensor) are *not* applied in the array: they belong to a dequantization epilogue after it,
so the array result is the exact integer GEMM of the decoded codes, with its binary point at
``frac_w + frac_a``.

Which formats have a PE (``pe_format(name)``):

* every code the format can produce decodes to a finite value (codes that decode to NaN, e.g. the E4M3
  NaN pattern or the unused negative-zero code of a 15-level codebook, are rejected in the operand
  data, before any kernel runs);
* the decode does not depend on per-group metadata (integer formats are taken as symmetric two's
  complement); weights whose value depends on a per-group selector (RaZeR, BitMoD) are decoded by
  ``weight_pe_format``, with the selector in the high bits of each weight lane (docs/systolic.md s. 12);
* the decoded integer is at most 32 bits wide (two's complement), so e.g. ``float8_e5m2`` (33 bits) has
  no PE.

Accumulator semantics: **wrap** (two's complement modulo 2**N) after every addition. Wrapping is a ring
homomorphism, so the result equals the exact integer sum reduced modulo 2**N whatever the order of
additions; saturation would make the result depend on the array's summation order and is not offered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

import datatypes as dt

from ..arith import decode_table, parse_accumulator, signed_width, wrap
from ..errors import NoDecoderError, WidthError

#: Widest decoded operand (two's complement bits) the array simulators' kernels take.
MAX_DECODE_BITS = 32


class PEError(ValueError):
    """An operand format or accumulator the PE cannot implement; the message says why and what works."""


@dataclass(frozen=True)
class PEFormat:
    """Exact fixed-point decoder of one operand format."""

    name: str                 #: canonical format name
    bits: int                 #: code width
    decode: np.ndarray        #: int64[2**bits]: decoded integer per code (0 where invalid)
    valid: np.ndarray         #: bool[2**bits]: codes with a finite value
    frac_bits: int            #: binary point: value = decode * 2**-frac_bits
    width: int                #: two's-complement width of the decoded integer

    @property
    def lo(self) -> int:
        return int(self.decode[self.valid].min())

    @property
    def hi(self) -> int:
        return int(self.decode[self.valid].max())

    def bytes_per_element(self) -> float:
        """Storage of one code in memory (bytes; 4-bit codes are packed two per byte)."""
        return self.bits / 8.0

    def check_codes(self, codes: np.ndarray, what: str) -> np.ndarray:
        """Validate an operand code array (integers, every code decodable); returns it as uint8."""
        arr = np.asarray(codes)
        if arr.dtype.kind not in "iu":
            raise PEError(f"{what}: codes must be an integer array (uint8 codes of {self.name}), "
                          f"got dtype {arr.dtype}")
        if arr.size:
            lo, hi = int(arr.min()), int(arr.max())
            if lo < 0 or hi >= (1 << self.bits):
                raise PEError(f"{what}: codes must lie in 0..{(1 << self.bits) - 1} for {self.bits}-bit "
                              f"{self.name}, found {lo if lo < 0 else hi}")
        arr = arr.astype(np.uint8, copy=False)
        if arr.size and not self.valid.all():
            bad = ~self.valid[arr]
            if bad.any():
                idx = tuple(int(i) for i in np.argwhere(bad)[0])
                raise PEError(f"{what}: code {int(arr[idx])} at index {idx} has no value in {self.name} "
                              f"(the format never produces it: NaN/unused code), so no PE can decode it")
        return arr

    def decoded(self, codes: np.ndarray) -> np.ndarray:
        """Decoded integers (int64) of already validated codes."""
        return self.decode[codes]


@lru_cache(maxsize=None)
def pe_format(name: str) -> PEFormat:
    """The PE decoder of a format, or PEError saying why the format has no PE. The table is
    ``hwsim.arith.decode_table`` without metadata -- the same table the RTL decoders implement."""
    fmt = dt.get(name)
    if fmt.family != "int" and fmt.n_meta > 1:
        raise PEError(f"format {fmt.name!r} decodes differently per group metadata value "
                      f"({fmt.n_meta} values); the systolic PE has no metadata input")
    try:
        t = decode_table(fmt, use_meta=False)       # integers: symmetric two's complement
    except NoDecoderError as e:
        raise PEError(str(e)) from None
    valid = t.valid_array()[0]
    if not valid.any():
        raise PEError(f"format {fmt.name!r} has no finite code values")
    if t.width > MAX_DECODE_BITS:
        raise PEError(f"format {fmt.name!r} decodes to {t.width}-bit fixed point ({t.frac_bits} fractional "
                      f"bits); the PE decoder is at most {MAX_DECODE_BITS} bits wide")
    return PEFormat(name=fmt.name, bits=fmt.bits, decode=np.where(valid, t.array()[0], 0), valid=valid,
                    frac_bits=t.frac_bits, width=t.width)


def has_selector(name: str) -> bool:
    """Whether a weight format decodes differently per group selector (RaZeR special value, BitMoD data
    type, ...): the systolic PE then takes the selector with every weight code (``weight_pe_format``)."""
    fmt = dt.get(name)
    return fmt.family != "int" and fmt.n_meta > 1


@lru_cache(maxsize=None)
def weight_pe_format(name: str) -> PEFormat:
    """The array PE's weight decoder. Formats without a selector: ``pe_format``. Formats with one (see
    ``has_selector``): the group's selector travels with each weight code as its high bits,
    ``lane = code | selector << bits``, and ``decode[lane] = decode_table(fmt, use_meta=True)[selector][code]``
    -- one ``hwsim.arith`` table per selector value, the same the stand-alone PEs/decoders implement;
    selector values >= n_meta are invalid lanes. ``bits`` is then code bits + selector bits."""
    if not has_selector(name):
        return pe_format(name)
    fmt = dt.get(name)
    try:
        t = decode_table(fmt, use_meta=True)
    except NoDecoderError as e:
        raise PEError(str(e)) from None
    if t.width > MAX_DECODE_BITS:
        raise PEError(f"format {fmt.name!r} decodes to {t.width}-bit fixed point ({t.frac_bits} fractional "
                      f"bits); the PE decoder is at most {MAX_DECODE_BITS} bits wide")
    n_codes = 1 << t.bits
    rows = 1 << t.meta_bits
    dec = np.zeros((rows, n_codes), np.int64)
    ok = np.zeros((rows, n_codes), bool)
    dec[:t.n_meta] = np.where(t.valid_array(), t.array(), 0)
    ok[:t.n_meta] = t.valid_array()
    return PEFormat(name=fmt.name, bits=t.bits + t.meta_bits, decode=dec.ravel(), valid=ok.ravel(),
                    frac_bits=t.frac_bits, width=t.width)


def combine_selector(codes: np.ndarray, selectors: np.ndarray, name: str) -> np.ndarray:
    """Weight lanes ``code | selector << bits`` of codes [K, N] and per-element selectors [K, N]."""
    bits = dt.get(name).bits
    return (np.asarray(codes, np.int64) | (np.asarray(selectors, np.int64) << bits)).astype(np.uint8)


def pe_formats() -> list[str]:
    """Names of every library format that has a PE decoder."""
    out = []
    for n in dt.formats():
        try:
            pe_format(n)
        except PEError:
            continue
        out.append(n)
    return out


def product_width(w: PEFormat, a: PEFormat) -> int:
    """Two's-complement width of the largest product of a decoded weight and a decoded activation."""
    cands = [w.lo * a.lo, w.lo * a.hi, w.hi * a.lo, w.hi * a.hi]
    return signed_width(min(cands), max(cands))


def accumulator_bits(spec: str) -> int:
    """Width N of an ``int<N>`` accumulator the simulators' kernels take (2..64), or PEError."""
    try:
        n = parse_accumulator(spec)
    except (WidthError, ValueError) as e:
        raise PEError(str(e)) from None
    if n > 64:
        raise PEError(f"accumulator {spec!r}: the array simulators accumulate in int64; use int<N> with N in 2..64")
    return n


def min_accumulator_bits(w: PEFormat, a: PEFormat, k: int) -> int:
    """Accumulator width that holds any sum of ``k`` products without wrapping."""
    cands = [w.lo * a.lo, w.lo * a.hi, w.hi * a.lo, w.hi * a.hi]
    return signed_width(min(cands) * k, max(cands) * k)


def reference_gemm(a_codes: np.ndarray, w_codes: np.ndarray, weight: str, activation: str,
                   acc_bits: int, checked: bool = False) -> np.ndarray:
    """The one exact reference of the quantized GEMM the arrays compute: ``wrap(decode(A) @ decode(W),
    acc_bits)``, int64 [M, N] (``a_codes`` M x K activation codes, ``w_codes`` K x N weight codes, or
    weight lanes with the selector in the high bits for formats with one: ``weight_pe_format``).

    float64 BLAS when every partial sum is below 2**53 (then exact), else an int64 kernel (exact
    modulo 2**64; wrapping to N <= 64 bits commutes with it). ``checked``: the codes were validated.
    """
    wf, af = weight_pe_format(weight), pe_format(activation)
    if not checked:
        a_codes = af.check_codes(a_codes, "activation codes")
        w_codes = wf.check_codes(w_codes, "weight codes")
    a, w = af.decoded(a_codes), wf.decoded(w_codes)
    amax, wmax = max(abs(af.lo), abs(af.hi)), max(abs(wf.lo), abs(wf.hi))
    if amax * wmax * a.shape[1] < 2 ** 53:
        return wrap(np.rint(a.astype(np.float64) @ w.astype(np.float64)).astype(np.int64), acc_bits)
    from .exact import exact_matmul_int

    return exact_matmul_int(np.ascontiguousarray(a), np.ascontiguousarray(w), np.int64(64 - acc_bits))


def fixed_point_to_float(values: np.ndarray, frac_bits: int) -> np.ndarray:
    """float64 view of fixed-point integers (exact while |value| < 2**53)."""
    return np.asarray(values, dtype=np.float64) * math.ldexp(1.0, -frac_bits)
