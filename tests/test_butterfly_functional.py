"""FP16 functional model of the butterfly accelerator: against numpy (np.fft.fft, dense B @ x) within the
FP16 error bound, and bit-exact against an independent scalar FP16 oracle of the BU operation order."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from hwsim.butterfly import functional as fn


def r16(v: float) -> float:
    """Round a double to binary16 (RNE, subnormals, overflow to inf) -- independent of numpy."""
    if math.isnan(v):
        return v
    if abs(v) >= 65520.0:
        return math.copysign(math.inf, v)
    return struct.unpack("<e", struct.pack("<e", v))[0]


def scalar_linear(x, tw):
    """The BU linear-mode order, pair by pair, in Python doubles + r16 (double >= 2*11+2 bits)."""
    n = len(x)
    y = [float(v) for v in x]
    for idx in range(tw.shape[0]):
        s = n >> (idx + 1)
        for k in range(n // 2):
            lo = (k // s) * 2 * s + k % s
            hi = lo + s
            t = [[float(tw[idx, k, i, j]) for j in range(2)] for i in range(2)]
            a, b = y[lo], y[hi]
            y[lo] = r16(r16(a * t[0][0]) + r16(b * t[0][1]))
            y[hi] = r16(r16(a * t[1][0]) + r16(b * t[1][1]))
    return np.array(y, dtype=np.float16)


def scalar_fft(xr, xi):
    n = len(xr)
    _, W16 = fn.fft_twiddles(n)
    re, im = [float(v) for v in xr], [float(v) for v in xi]
    for idx in range(n.bit_length() - 1):
        s = n >> (idx + 1)
        for k in range(n // 2):
            lo = (k // s) * 2 * s + k % s
            hi = lo + s
            wr, wi = float(W16[idx, k, 0]), float(W16[idx, k, 1])
            tr = r16(r16(re[hi] * wr) - r16(im[hi] * wi))
            ti = r16(r16(re[hi] * wi) + r16(im[hi] * wr))
            re[lo], im[lo], re[hi], im[hi] = r16(re[lo] + tr), r16(im[lo] + ti), r16(re[lo] - tr), r16(im[lo] - ti)
    return np.array(re, dtype=np.float16), np.array(im, dtype=np.float16)


def awkward(rng, shape):
    """FP16 values with signed zeros, subnormals, tiny and large magnitudes mixed in."""
    x = (rng.standard_normal(shape) * 2.0 ** rng.integers(-20, 8, shape)).astype(np.float16)
    x.flat[:: 7] = np.float16(-0.0)
    x.flat[3:: 11] = np.float16(2.0 ** -24) * rng.integers(-3, 4, x.flat[3:: 11].shape)
    return x


@pytest.mark.parametrize("n", [2, 4, 16, 64])
@pytest.mark.parametrize("seed", [0, 1])
def test_linear_bit_exact_vs_scalar_oracle(n, seed):
    rng = np.random.default_rng(seed)
    x = awkward(rng, n)
    tw = fn.random_twiddle(n, rng)[0]
    tw.flat[::5] = np.float16(-0.0)
    got = fn.butterfly_linear(x, tw)
    assert np.array_equal(got.view(np.uint16), scalar_linear(x, tw).view(np.uint16))


@pytest.mark.parametrize("n", [2, 8, 32, 128])
@pytest.mark.parametrize("seed", [0, 1])
def test_fft_bit_exact_vs_scalar_oracle(n, seed):
    rng = np.random.default_rng(seed + 10)
    xr, xi = awkward(rng, n), awkward(rng, n)
    gr, gi = fn.fft_bitreversed(xr, xi)
    er, ei = scalar_fft(xr, xi)
    assert np.array_equal(gr.view(np.uint16), er.view(np.uint16))
    assert np.array_equal(gi.view(np.uint16), ei.view(np.uint16))


@pytest.mark.parametrize("n", [2, 4, 16, 256, 4096])
def test_fft_against_numpy(n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((4, n)).astype(np.float16)
    xi = rng.standard_normal((4, n)).astype(np.float16)
    X = np.fft.fft(x.astype(np.float64) + 1j * xi.astype(np.float64))[:, fn.bitrev(n)]
    rr, ri = fn.fft_bitreversed(x, xi, "reference")
    assert np.allclose(rr + 1j * ri, X, rtol=0, atol=1e-9 * n)
    hr, hi = fn.fft_bitreversed(x, xi)
    bound = fn.fft_bound(x, xi)
    assert (np.abs(hr - X.real) <= bound).all() and (np.abs(hi - X.imag) <= bound).all()
    # normwise the error is ~ u log2 n, far inside the bound
    rel = np.linalg.norm((hr + 1j * hi) - X) / np.linalg.norm(X)
    assert rel < 2 * fn.U16 * (n.bit_length() - 1) + 1e-3


@pytest.mark.parametrize("n", [2, 8, 64, 256])
def test_linear_against_dense(n):
    rng = np.random.default_rng(n + 1)
    tw = fn.random_twiddle(n, rng)[0]
    x = rng.standard_normal((5, n)).astype(np.float16)
    B = fn.dense(tw)
    exact = x.astype(np.float64) @ B.T
    assert np.allclose(fn.butterfly_linear(x, tw, "reference"), exact, atol=1e-12)
    got = fn.butterfly_linear(x, tw).astype(np.float64)
    assert (np.abs(got - exact) <= fn.linear_bound(x, tw)).all()
    # B is the product of log2 n factors of 2n non-zeros each
    for idx in range(tw.shape[0]):
        assert np.count_nonzero(fn.factor_dense(tw[idx], n, n >> (idx + 1))) == 2 * n


def test_dense_fft_factors_equal_dft():
    """The FFT twiddles as 2x2 blocks [[1, W], [1, -W]] multiply out to the bit-reversed DFT matrix."""
    n = 16
    W, _ = fn.fft_twiddles(n)
    M = np.eye(n, dtype=complex)
    for idx in range(fn._log2(n, "n")):
        lo, hi = fn.pairs(n, n >> (idx + 1))
        F = np.zeros((n, n), dtype=complex)
        F[lo, lo], F[lo, hi], F[hi, lo], F[hi, hi] = 1, W[idx], 1, -W[idx]
        M = F @ M
    D = np.fft.fft(np.eye(n), axis=0)
    assert np.allclose(M, D[fn.bitrev(n)])


def test_layer_expansion_and_truncation_match_dense():
    rng = np.random.default_rng(3)
    d, h = 16, 64
    tw1 = fn.random_twiddle(d, rng, nstacks=h // d)
    x = rng.standard_normal((3, d)).astype(np.float16)
    y = fn.butterfly_layer(x, tw1, h, None, "reference")
    dense1 = np.concatenate([fn.dense(tw1[k]) for k in range(h // d)], axis=0)
    assert np.allclose(y, x.astype(np.float64) @ dense1.T)
    tw2 = fn.random_twiddle(h, rng, nstacks=1)
    z = fn.butterfly_layer(y, tw2, d, None, "reference")
    assert np.allclose(z, y @ fn.dense(tw2[0])[:d].T)


def test_fbfly_block_hardware_vs_artefact_rounding():
    rng = np.random.default_rng(5)
    S, d, h = 32, 16, 64
    p = fn.fbfly_params(rng, d, h)
    x = rng.standard_normal((S, d)).astype(np.float16)
    hw, art = fn.fbfly_block(x, p, "hardware"), fn.fbfly_block(x, p, "artefact")
    assert hw.dtype == np.float16 and hw.shape == (S, d) and art.dtype == np.float32
    assert np.array_equal(fn.qtorch_fp16(art).view(np.uint32), art.view(np.uint32))
    scale = np.abs(art.astype(np.float64)).max()
    assert np.abs(hw.astype(np.float64) - art).max() <= 0.05 * scale
    # the hardware 2-D FFT (two BU passes + bit-reversal address permutation) against numpy
    a = fn.layer_norm(fn._q(x), *p["ln1"])
    X = np.fft.fft2(a.astype(np.float64)).real
    got = fn.fft2_real(a, "hardware").astype(np.float64)
    assert np.abs(got - X).max() <= 4 * fn.U16 * (S.bit_length() + d.bit_length()) * np.abs(a).sum()


def test_quantized_twiddles_on_format_grid():
    rng = np.random.default_rng(7)
    tw = fn.random_twiddle(64, rng)
    q = fn.quantize_twiddle(tw, "int4", group_size=128)
    assert q.dtype == np.float16 and q.shape == tw.shape
    groups = q.astype(np.float64).reshape(-1, 128)
    for g in groups:           # int4 with one scale per group: at most 16 distinct levels per group
        assert len(np.unique(g)) <= 16


def test_bad_sizes_are_one_line_errors():
    with pytest.raises(fn.FunctionalError, match="power of two"):
        fn.fft_bitreversed(np.zeros(12, np.float16))
    with pytest.raises(fn.FunctionalError, match="do not match"):
        fn.butterfly_linear(np.zeros(8, np.float16), fn.random_twiddle(16, np.random.default_rng(0))[0])


def test_block_arrangement_rule():
    assert fn.block_types(4) == ["fbfly"] * 4
    assert fn.block_types(4, 1) == ["softmax", "softmax", "softmax", "fbfly"]
    assert fn.block_types(3, 0) == ["softmax"] * 3
    assert fn.block_types(2, 5) == ["fbfly", "fbfly"]


def test_attention_block_against_float64():
    """The softmax block with FP16 rounding points stays within FP16 noise of the unrounded block."""
    rng = np.random.default_rng(11)
    S, d, h, heads = 16, 32, 64, 2
    p = fn.attention_params(rng, d, h)
    x = rng.standard_normal((S, d)).astype(np.float16)
    y = fn.attention_block(x, p, heads)
    assert y.dtype == np.float32 and y.shape == (S, d)
    assert np.array_equal(fn.qtorch_fp16(y).view(np.uint32), y.view(np.uint32))    # on qtorch's grid
    # unrounded float64 reference of the same block
    f = lambda t: np.asarray(t, np.float64)

    def ln(v, g, b):
        mu = v.mean(-1, keepdims=True)
        return (v - mu) / np.sqrt(((v - mu) ** 2).mean(-1, keepdims=True) + 1e-5) * f(g) + f(b)

    from math import erf
    xv = f(x)
    a = ln(xv, *p["ln1"])
    q, k, v = ((a @ f(p[w]) + f(p["b" + w])).reshape(S, heads, -1).transpose(1, 0, 2) for w in ("wq", "wk", "wv"))
    sc = q @ k.transpose(0, 2, 1) / math.sqrt(d // heads)
    pr = np.exp(sc - sc.max(-1, keepdims=True))
    pr /= pr.sum(-1, keepdims=True)
    xv = xv + (pr @ v).transpose(1, 0, 2).reshape(S, d) @ f(p["wo"]) + f(p["bo"])
    a = ln(xv, *p["ln2"])
    u = a @ f(p["w1"]) + f(p["bf1"])
    g = 0.5 * u * (1 + np.vectorize(erf)(u / math.sqrt(2)))
    ref = xv + g @ f(p["w2"]) + f(p["bf2"])
    err = np.abs(f(y) - ref)
    assert err.max() <= 40 * fn.U16 * np.abs(ref).max()


def test_fabnet_forward_with_quantized_butterflies():
    rng = np.random.default_rng(13)
    S, d, h = 16, 16, 32
    params = [fn.attention_params(rng, d, h), fn.fbfly_params(rng, d, h)]
    x = rng.standard_normal((S, d)).astype(np.float16)
    y = fn.fabnet_forward(x, params, heads=2, att_layer=1)
    manual = fn.fbfly_block(fn.attention_block(x, params[0], 2), params[1])
    assert np.array_equal(y.view(np.uint16), manual.view(np.uint16))
    q = fn.quantize_params(params[1], "int8", group_size=128)
    yq = fn.fbfly_block(x, q)
    assert yq.dtype == np.float16 and not np.array_equal(yq, fn.fbfly_block(x, params[1]))
    assert np.abs(yq.astype(np.float64) - fn.fbfly_block(x, params[1])).max() < 0.1 * np.abs(yq).max()


def test_qtorch_quantizer_bit_exact():
    """The artefact's FP16 quantizer (qtorch 0.3.0 float_quantize, nearest) against qtorch's own outputs
    (tests/data/butterfly_qtorch_fp16.npz, from tests/reference/generate_butterfly_qtorch_reference.py)."""
    from pathlib import Path
    with np.load(Path(__file__).parent / "data" / "butterfly_qtorch_fp16.npz") as z:
        x, y = z["x"], z["y"]
    got = fn.qtorch_fp16(x.view(np.float32)).view(np.uint32)
    bad = np.flatnonzero(got != y)
    assert bad.size == 0, [(hex(x[i]), hex(got[i]), hex(y[i])) for i in bad[:5]]
    # it is not IEEE round-to-nearest-even: ties go away from zero, and it saturates at 131008
    assert fn.qtorch_fp16(np.float32(1 + 2 ** -11)) == np.float32(1 + 2 ** -10)
    assert fn.qtorch_fp16(np.float32(np.inf)) == np.float32(131008)
