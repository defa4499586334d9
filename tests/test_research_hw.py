"""The hardware contract of every research format (RaZeR, BitMoD, P3-LLM): the per-code decode
under every metadata value is exact fixed point, every code a quantization produces decodes to a
finite value, and the memory image round-trips to the same dequantized tensor."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import datatypes as dt

FAMILIES = ("razer", "bitmod", "p3llm")
NAMES = [n for n in dt.formats() if dt.get(n).family in FAMILIES]


def test_families_registered():
    for name in ("razer4", "nvfp4_razer", "nvfp4_razer_act", "mxfp4_razer", "bitmod3", "bitmod4",
                 "bitmod_ant3", "bitmod_ant4", "bitmod.fp4_er_pos", "bitmod.fp3_ea_neg", "p3llm_fp8",
                 "p3llm_kv4", "p3llm_score8"):
        assert name in NAMES
    assert dt.get("nvfp4_razer_e3m3") is dt.get("nvfp4_razer")


def _input(name: str) -> np.ndarray:
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    if name == "p3llm_score8":
        return rng.uniform(0, 1.5, (8, 256)).astype(np.float32)
    x = (rng.standard_t(5, size=(8, 256)) * 0.05).astype(np.float32)
    x[1, :128] = 0.0
    return x


@pytest.mark.parametrize("name", NAMES)
def test_code_values_exact_fixed_point(name):
    f = dt.get(name)
    assert f.n_meta >= 1
    for meta in range(f.n_meta):
        vals = f.code_values(meta)
        assert vals.shape == (1 << f.bits,)
        finite = np.isfinite(vals)
        ints, frac = dt.exact_fixed_point(vals[finite])
        assert np.array_equal(np.array(ints, dtype=np.float64) * 2.0 ** -frac, vals[finite])


@pytest.mark.parametrize("name", NAMES)
def test_produced_codes_decode_finite_and_pack_round_trip(name):
    f = dt.get(name)
    q = dt.quantize(_input(name), name)
    meta = q.meta if q.meta is not None else np.zeros(q.scales.shape if q.scales is not None else (8, 1), np.uint8)
    g = q.codes.shape[1] if q.group_size is None else q.group_size
    per_el_meta = np.repeat(meta, g, axis=1)[:, :q.codes.shape[1]]
    if f.n_meta == 16:                          # p3llm_kv4: meta is the zero point
        table = np.stack([f.code_values(m) for m in range(16)])
    else:
        table = np.stack([f.code_values(m) for m in range(f.n_meta)])
    assert np.isfinite(table[per_el_meta, q.codes]).all()
    p = q.pack()
    u = dt.unpack(p)
    assert np.array_equal(u.codes, q.codes)
    assert np.array_equal(np.asarray(u.dequantize(), np.float32), np.asarray(q.dequantize(), np.float32))
    assert p.nbytes > 0 and q.bits_per_element() >= f.bits
