"""Quantized tensors and their memory image.

``QuantizedTensor`` holds one uint8 code per element, the per-group scales as stored, the per-group
metadata and (for two-level formats) the per-tensor scale. ``pack()`` turns it into the memory image
the RTL reads: codes bit-packed little-end first per row (4-bit: element 2k in bits [3:0] of byte k,
element 2k+1 in bits [7:4]; b-bit codes in general: element i occupies bits [b*i, b*i+b) of the row's
little-endian bit stream), each row padded to whole bytes; scales and metadata as the format's
``pack_group_data`` hook writes them (default: as stored; e.g. RaZeR puts its selector into spare
scale bits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InputError
from .layout import group_layout

if TYPE_CHECKING:
    from .format import Format


@dataclass(frozen=True, eq=False)
class QuantizedTensor:
    format: Format
    codes: np.ndarray                 #: uint8, one code per element, shape of the input
    scales: np.ndarray | None         #: per-group scales as stored, shape (..., n_groups)
    meta: np.ndarray | None           #: per-group metadata (selector, zero point, ...) or None
    group_size: int | None            #: None = one group per row
    tensor_scale: Any = None          #: second-level scale: a float per tensor (NVFP4-style), or an
                                      #: array of per-row / per-channel scales (format-defined)
    options: dict[str, Any] = field(default_factory=dict)
    negative_zeros: np.ndarray | None = None  #: bool, shape of codes: elements whose reference
                                      #: reconstruction is -0.0 although their code decodes to +0
                                      #: (formats without a -0 code; None = no such element)
    extras: dict[str, Any] = field(default_factory=dict)  #: format-specific per-group results
                                      #: (e.g. BitMoD's "candidate_mse"); not part of the memory image

    @property
    def candidate_mse(self) -> np.ndarray | None:
        """Per group, the error of every candidate datatype the format's search compared (shape
        (..., n_groups, n_candidates), in the candidates' order; NaN for a candidate not searched),
        or None for a format without a search."""
        return self.extras.get("candidate_mse")

    @property
    def shape(self) -> tuple[int, ...]:
        return self.codes.shape

    @property
    def n_groups(self) -> int:
        return group_layout(self.shape[-1], self.group_size)[1]

    def dequantize(self, signed_zero: bool = True) -> np.ndarray:
        """Exact reconstruction, as the reference produces it, bit for bit (float32 or float16;
        bfloat16 results come as float32 arrays whose values are all bfloat16-representable).

        The sign of zero follows the reference too: where a format's codes have no -0 (integers,
        RaZeR's one zero code) but the reference computes -0.0 (e.g. ``scale * round(w / scale)``
        for a small negative w), ``negative_zeros`` remembers it. ``signed_zero=False`` gives the
        decode of the codes alone (what hardware and the memory image produce: +0 there)."""
        c = self.codes.reshape(-1, self.shape[-1])
        s = None if self.scales is None else self.scales.reshape(c.shape[0], -1)
        m = None if self.meta is None else self.meta.reshape(c.shape[0], -1)
        g, _ = group_layout(self.shape[-1], self.group_size)
        out = self.format._dequantize2d(c, s, m, g, self.tensor_scale, self.options).reshape(self.shape)
        if signed_zero and self.negative_zeros is not None:
            out[self.negative_zeros] = -0.0
        return out

    def bits_per_element(self) -> float:
        """Storage per element including scales and metadata (and the per-tensor scale(s), amortised)."""
        n = self.codes.size
        scale_bits, meta_bits, tensor_bits = self.format.storage_bits(self.options)
        total = n * self.format.bits
        if self.scales is not None:
            total += self.scales.size * scale_bits
        if self.meta is not None:
            total += self.meta.size * meta_bits
        if self.tensor_scale is not None:
            total += np.size(self.tensor_scale) * tensor_bits
        return total / n

    def pack(self) -> "PackedTensor":
        scales, meta = self.format.pack_group_data(
            None if self.scales is None else self.scales.copy(),
            None if self.meta is None else self.meta.copy(), self.options)
        ts = self.tensor_scale
        nz = None if self.negative_zeros is None else np.packbits(self.negative_zeros.ravel(), bitorder="little")
        return PackedTensor(
            format=self.format.name, shape=self.shape, group_size=self.group_size,
            bits=self.format.bits, data=pack_codes(self.codes.reshape(-1, self.shape[-1]), self.format.bits),
            scales=scales, meta=meta, tensor_scale=ts.copy() if isinstance(ts, np.ndarray) else ts,
            options=dict(self.options), negative_zeros=nz)


@dataclass(frozen=True, eq=False)
class PackedTensor:
    """Memory image of a quantized tensor: ``data`` is uint8 [rows, ceil(row_len*bits/8)]."""

    format: str
    shape: tuple[int, ...]
    group_size: int | None
    bits: int
    data: np.ndarray
    scales: np.ndarray | None
    meta: np.ndarray | None
    tensor_scale: Any
    options: dict[str, Any]

    negative_zeros: np.ndarray | None = None   #: sideband, not part of the memory image: the
                                               #: QuantizedTensor's negative_zeros as a little-endian
                                               #: bit mask (so unpack(pack(q)) dequantizes bit for
                                               #: bit like q; hardware reading the image decodes +0)

    @property
    def nbytes(self) -> int:
        n = self.data.nbytes
        n += 0 if self.scales is None else self.scales.nbytes
        n += 0 if self.meta is None else self.meta.nbytes
        ts = self.tensor_scale
        return n + (0 if ts is None else ts.nbytes if isinstance(ts, np.ndarray) else 4)


def pack_codes(codes2d: np.ndarray, bits: int) -> np.ndarray:
    """Bit-pack uint8 codes [R, C] of ``bits`` bits each, little-end first, rows padded to bytes."""
    if codes2d.size and int(codes2d.max()) >> bits:
        raise InputError(f"codes do not fit in {bits} bits (max code {int(codes2d.max())})")
    if bits == 8:
        return np.ascontiguousarray(codes2d, dtype=np.uint8)
    if bits == 4:
        r, c = codes2d.shape
        padded = np.zeros((r, c + (c & 1)), dtype=np.uint8)
        padded[:, :c] = codes2d
        return (padded[:, 0::2] | (padded[:, 1::2] << 4)).astype(np.uint8)
    planes = (codes2d[..., None] >> np.arange(bits, dtype=np.uint8)) & 1
    return np.packbits(planes.reshape(codes2d.shape[0], -1), axis=1, bitorder="little")


def unpack_codes(data: np.ndarray, bits: int, row_len: int) -> np.ndarray:
    """Inverse of :func:`pack_codes`."""
    if bits == 8:
        return np.ascontiguousarray(data[:, :row_len], dtype=np.uint8)
    if bits == 4:
        out = np.empty((data.shape[0], data.shape[1] * 2), dtype=np.uint8)
        out[:, 0::2] = data & 0xF
        out[:, 1::2] = data >> 4
        return np.ascontiguousarray(out[:, :row_len])
    planes = np.unpackbits(data, axis=1, bitorder="little")[:, : row_len * bits]
    planes = planes.reshape(data.shape[0], row_len, bits).astype(np.uint8)
    return (planes << np.arange(bits, dtype=np.uint8)).sum(axis=2, dtype=np.uint8)
