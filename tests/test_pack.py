"""Memory images: bit packing layout and pack/unpack round trips for every format."""

from __future__ import annotations

import numpy as np
import pytest

import datatypes as dt
from research_vectors import same
from datatypes.qtensor import pack_codes, unpack_codes


def test_nibble_order_is_little_end_first():
    codes = np.array([[0x1, 0x2, 0x3, 0x4, 0x5]], np.uint8)
    assert pack_codes(codes, 4).tolist() == [[0x21, 0x43, 0x05]]


def test_three_bit_stream():
    codes = np.array([[0b101, 0b011, 0b111]], np.uint8)
    # bits little-end first: 101 | 011<<3 | 111<<6 = 0b111_011_101 -> bytes 0xDD, 0x01
    assert pack_codes(codes, 3).tolist() == [[0b11011101, 0b1]]


@pytest.mark.parametrize("bits", [2, 3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("cols", [1, 7, 8, 33])
def test_pack_codes_round_trip(bits, cols):
    codes = np.random.default_rng(bits * 100 + cols).integers(0, 1 << bits, (3, cols)).astype(np.uint8)
    packed = pack_codes(codes, bits)
    assert packed.shape == (3, (cols * bits + 7) // 8)
    assert np.array_equal(unpack_codes(packed, bits, cols), codes)


@pytest.mark.parametrize("name", dt.formats())
def test_quantized_tensor_round_trip(name):
    f = dt.get(name)
    g = f.default_group_size
    x = np.random.default_rng(7).standard_normal((3, 2, 96)).astype(np.float32)
    if getattr(f, "input_range", None):          # formats defined on a bounded domain
        lo, hi = f.input_range
        x = np.clip(np.abs(x), lo, hi * 0.99).astype(np.float32)
    q = dt.quantize(x, f)
    p = q.pack()
    assert p.data.shape[1] == (96 * f.bits + 7) // 8
    q2 = dt.unpack(p)
    assert np.array_equal(q2.codes, q.codes)
    assert same(q2.dequantize(), q.dequantize())
    assert p.nbytes * 8 >= q.bits_per_element() * x.size - 64
    assert q.group_size == g
