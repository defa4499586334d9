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
  complement; formats whose value depends on a selector/zero point are not decoded by this PE);
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

#: Widest decoded operand (two's complement bits) a PE decoder produces.
MAX_DECODE_BITS = 32


class PEError(ValueError):
    """An operand format or accumulator the PE cannot implement; the message says why and what works."""


def signed_width(lo: int, hi: int) -> int:
    """Smallest two's-complement width holding every integer in [lo, hi]."""
    w = 1
    while not (-(1 << (w - 1)) <= lo and hi <= (1 << (w - 1)) - 1):
        w += 1
    return w


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
    """The PE decoder of a format, or PEError saying why the format has no PE."""
    fmt = dt.get(name)
    if fmt.family == "int":
        vals = fmt.code_values(None)            # symmetric two's complement
    else:
        if fmt.n_meta > 1:
            raise PEError(f"format {fmt.name!r} decodes differently per group metadata value "
                          f"({fmt.n_meta} values); the systolic PE has no metadata input")
        vals = fmt.code_values()
    if fmt.bits > 8:
        raise PEError(f"format {fmt.name!r} has {fmt.bits}-bit codes; the PE decodes codes of at most 8 bits")
    vals = np.asarray(vals, dtype=np.float64)
    valid = np.isfinite(vals)
    if not valid.any():
        raise PEError(f"format {fmt.name!r} has no finite code values")
    v32 = np.where(valid, vals, 0.0).astype(np.float32)          # what the reference multiplies
    ints, frac = dt.exact_fixed_point(v32)
    decode = np.array(ints, dtype=object)
    lo, hi = min(ints), max(ints)
    width = signed_width(lo, hi)
    if width > MAX_DECODE_BITS:
        raise PEError(f"format {fmt.name!r} decodes to {width}-bit fixed point ({frac} fractional bits); "
                      f"the PE decoder is at most {MAX_DECODE_BITS} bits wide")
    return PEFormat(name=fmt.name, bits=fmt.bits, decode=decode.astype(np.int64), valid=valid,
                    frac_bits=frac, width=width)


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
    """Width N of an ``int<N>`` accumulator spec, or PEError (floating accumulators have no exact PE)."""
    if isinstance(spec, str) and spec.startswith("int") and spec[3:].isdigit():
        n = int(spec[3:])
        if 2 <= n <= 64:
            return n
    raise PEError(f"accumulator {spec!r}: the systolic PE accumulates exactly in two's complement; "
                  f"use int<N> with N in 2..64")


def min_accumulator_bits(w: PEFormat, a: PEFormat, k: int) -> int:
    """Accumulator width that holds any sum of ``k`` products without wrapping."""
    cands = [w.lo * a.lo, w.lo * a.hi, w.hi * a.lo, w.hi * a.hi]
    return signed_width(min(cands) * k, max(cands) * k)


def wrap(x: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement wrap of int64 values to ``bits`` (<= 64) bits."""
    x = np.asarray(x, dtype=np.int64)
    if bits >= 64:
        return x
    s = np.int64(64 - bits)
    return (x << s) >> s


def reference_gemm(a_codes: np.ndarray, w_codes: np.ndarray, weight: str, activation: str,
                   acc_bits: int) -> np.ndarray:
    """numpy reference of the quantized GEMM the array computes: ``wrap(decode(A) @ decode(W), acc_bits)``.

    ``a_codes`` is M x K activation codes, ``w_codes`` K x N weight codes. int64 matmul is exact modulo
    2**64 and wrapping to N <= 64 bits commutes with it, so the result is exact.
    """
    wf, af = pe_format(weight), pe_format(activation)
    a = af.decoded(af.check_codes(a_codes, "activation codes"))
    w = wf.decoded(wf.check_codes(w_codes, "weight codes"))
    return wrap(np.matmul(a, w), acc_bits)


def fixed_point_to_float(values: np.ndarray, frac_bits: int) -> np.ndarray:
    """float64 view of fixed-point integers (exact while |value| < 2**53)."""
    return np.asarray(values, dtype=np.float64) * math.ldexp(1.0, -frac_bits)
