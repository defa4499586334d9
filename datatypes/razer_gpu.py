"""The RaZeR GPU inference path of yc2367/NVFP4-RaZeR @ 82ecc9a (``inference/``, spec §3.6): the
gpt-fast quantizer with least-squares scale refit, and the memory images its kernels read.

``razer4_gptfast`` (``WeightOnlyRaZeRQuantHandler._quantize_groups_razer_4bit_batched``, group 128,
fp32 math on the fp16 weight; rows = output channels N, groups along the input dimension K):
    codebooks, tried in the order (neg, is8) = (0,0), (0,1), (1,0), (1,1): canonical nibbles,
        cb[0x0] = special (+5, +8, -5, -8), cb[0x8] = 0.0, every other nibble = E2M1 (signed)
    s0  = fp32(max|x| / max|cb|)                (6 or 8)
    i1  = argmin_i |x - fp32(s0 * cb[i])|        (first index on ties)
    s   = |sum(x * cb[i1]) / sum(cb[i1]**2)|, at least 1e-8 (PyTorch's fp32 summation order)
    i2  = argmin_i |x - fp32(s * cb[i])|;  mse = mean((x - s * cb[i2])**2)
    keep the first codebook with the strictly smallest mse; an all-zero group: nibble 0x8, s = 1.
``codes`` are the nibbles the kernels read: for a negative special, every nibble other than 0x0 / 0x8
has its sign bit flipped (the packed fp16 scale carries the sign). ``scales`` = the fp32 s,
``meta`` = 2 * neg + is8, ``candidate_mse`` = the four mse values per group (inf for an all-zero group
except the first).  ``dequantize()`` is what the kernels compute from the memory image, element by
element: fp16(value * fp16 scale), value = (nibble == 0 ? fix : E2M1(nibble)) with the signed scale,
i.e. +-5 / +-8 times |fp16(s)| for the special lane (zero is +0.0, as the quantizer's codebook has it).

Memory images (functions, checked against the reference packers' own outputs):
* :func:`pack_gptfast` -> ``qB`` int32 [K/8, N] (nibble k of a word = element 8w + k, bits 4k..4k+3)
  and ``scaling`` fp16 [K/128, N] (fp16(s), negated for a negative special, bit 14 = special is 8; the
  reference asserts bit 14 was 0, i.e. |s| < 2).
``razer4_gptfast_g16`` (the handler's groupsize 16): the same search per 16, then s snapped to the
nearest of 64 payloads (E4M3 codes 0x00..0x3F times 16, first on ties; ``scales`` = payload index) and
every element re-assigned at that scale (nibbles not flipped: the byte carries the special's sign);
``pack_gptfast`` gives ``qB`` and ``scaling`` int32 [K/128, N, 2] of scale bytes payload | is8 << 6 |
neg << 7.
* :func:`pack_marlin` -> ``B`` int32 [K/16, 2N] and ``s`` fp16 [K/128, N], the Marlin tile layout and
  scale permutation of ``marlin_razer.Layer._pack_weights_and_scales``, from Marlin-RaZeR codes (the
  special lane is code 0x8, zero is 0x0) and encoded scales (sign = special sign, mantissa LSB = 1
  for the special 8; the kernel clears that LSB before use). :func:`marlin_codes` converts a
  ``razer4_gptfast`` tensor to those codes and scales (its decode then uses the 15-bit scale
  fp16(s) & ~1, which differs from fp16(s) by at most one fp16 ulp where the LSB was set).
  :func:`unpack_marlin` inverts :func:`pack_marlin`.
"""

from __future__ import annotations

import numpy as np

from ._jit import njit
from .errors import InputError
from .format import Format, unique_levels
from .minifloat import E2M1, E4M3
from .registry import register
from .torchops import SUM_SCRATCH, f16r, fp16_input, torch_mean_f32, torch_sum_f32

#: canonical codebooks by meta = 2 * neg + is8 (float32): 0x0 = special, 0x8 = 0.0, others E2M1
CODEBOOKS = np.stack([np.where(np.arange(16) == 0, sv, np.where(np.arange(16) == 8, 0.0, E2M1.table))
                      for sv in (5.0, 8.0, -5.0, -8.0)]).astype(np.float32)


@njit(cache=True, inline="always")
def _argmin16(x, s, cb):
    best = abs(x - s * cb[0])
    bi = 0
    for i in range(1, 16):
        d = abs(x - s * cb[i])
        if d < best:
            best = d
            bi = i
    return bi


@njit(cache=True, error_model="numpy")
def _gptfast_kernel(x, g, cbs, codes, scales, meta, mse_out):
    rows, cols = x.shape
    scratch = np.empty(SUM_SCRATCH, np.float32)
    buf = np.empty(g, np.float32)
    idx = np.empty(g, np.int64)
    best_idx = np.empty(g, np.int64)
    for r in range(rows):
        for j in range(scales.shape[1]):
            s0 = j * g
            n = min(s0 + g, cols) - s0
            xg = x[r, s0:s0 + n]
            amax = np.float32(0.0)
            for k in range(n):
                a = abs(xg[k])
                amax = a if a > amax else amax
            if amax == np.float32(0.0):
                for k in range(n):
                    codes[r, s0 + k] = 8
                scales[r, j] = np.float32(1.0)
                meta[r, j] = 0
                mse_out[r, j, 0] = np.float32(0.0)
                for c in range(1, 4):
                    mse_out[r, j, c] = np.float32(np.inf)
                continue
            best = np.float32(np.inf)
            bc = 0
            bs = np.float32(0.0)
            for c in range(4):
                cb = cbs[c]
                init_s = amax / (np.float32(8.0) if (c & 1) else np.float32(6.0))
                for k in range(n):
                    idx[k] = _argmin16(xg[k], init_s, cb)
                for k in range(n):
                    buf[k] = xg[k] * cb[idx[k]]
                num = torch_sum_f32(buf, n, scratch)
                for k in range(n):
                    v = cb[idx[k]]
                    buf[k] = v * v
                den = torch_sum_f32(buf, n, scratch)
                s = abs(num / den) if den > np.float32(1e-12) else abs(init_s)
                s = max(s, np.float32(1e-8))
                for k in range(n):
                    i2 = _argmin16(xg[k], s, cb)
                    idx[k] = i2
                    d = xg[k] - s * cb[i2]
                    buf[k] = d * d
                e = torch_mean_f32(buf, n, scratch)
                mse_out[r, j, c] = e
                if e < best:
                    best = e
                    bc = c
                    bs = s
                    for k in range(n):
                        best_idx[k] = idx[k]
            scales[r, j] = bs
            meta[r, j] = bc
            neg = bc >= 2
            for k in range(n):
                nib = best_idx[k]
                if neg and nib != 0 and nib != 8:
                    nib ^= 8
                codes[r, s0 + k] = np.uint8(nib)


@njit(cache=True)
def _gptfast_dequant(codes, scales16, meta, g, values, out):
    """out = fp16(values[meta, nibble] * |fp16 scale|) (values carry the special's sign; zero is +0)."""
    rows, cols = codes.shape
    for r in range(rows):
        for k in range(cols):
            j = k // g
            out[r, k] = f16r(values[meta[r, j], codes[r, k]] * scales16[r, j])


class Razer4GptFast(Format):
    name = "razer4_gptfast"
    family = "razer"
    bits = 4
    description = ("RaZeR GPU path (NVFP4-RaZeR inference/gpt_fast_integration): E2M1 + special from "
                   "{+5,+8,-5,-8} per 128 with a least-squares scale refit; fp16 in, fp16 out")
    default_group_size = 128
    group_sizes = (128,)
    options = {}
    rounding = "nearest codebook entry: argmin |x - s * cb[i]| in fp32, first nibble on ties"
    ties = "to the lower nibble index"
    overflow = "saturate; to the extreme codebook entry"
    scale_rule = ("per group: s = |sum(x c) / sum(c^2)| of the codes c chosen with s0 = amax / 6 (or 8), "
                  "then re-assigned; fp32, packed as fp16 (sign = special sign, bit 14 = special 8)")
    output_dtype = "float16"
    scale_bits = 16
    meta_bits = 0          # in the packed fp16 scale word
    n_meta = 4

    def __init__(self):
        self.levels = unique_levels(E2M1.table)
        self._values32 = np.stack([self.code_values(m) for m in range(4)]).astype(np.float32)

    def code_values(self, meta: int = 0) -> np.ndarray:
        """Value of each nibble in units of |scale| under meta = 2 * neg + is8 (the kernel's decode:
        nibble 0x0 = the special, 0x8 = 0, others E2M1 times the signed scale)."""
        m = int(meta)
        v = E2M1.table.astype(np.float64).copy()
        v[0] = 8.0 if m & 1 else 5.0
        v[8] = 0.0
        if m >= 2:
            v = -v
            v[8] = 0.0
        return v

    def _prepare_input(self, arr):
        return fp16_input(arr)

    def _quantize2d(self, x, g, opts):
        if x.shape[1] % g:
            raise InputError(f"razer4_gptfast: the row length {x.shape[1]} must be a multiple of 128 "
                             "(the gpt-fast packer's K)")
        rows, cols = x.shape
        ng = cols // g
        codes = np.empty((rows, cols), np.uint8)
        scales = np.empty((rows, ng), np.float32)
        meta = np.empty((rows, ng), np.uint8)
        mse = np.empty((rows, ng, 4), np.float32)
        _gptfast_kernel(x, g, CODEBOOKS, codes, scales, meta, mse)
        return codes, scales, meta, None, {"candidate_mse": mse}

    def _dequantize2d(self, codes, scales, meta, g, tensor_scale, opts):
        out = np.empty(codes.shape, np.float32)
        s16 = np.abs(scales).astype(np.float16).astype(np.float32)
        _gptfast_dequant(codes, s16, meta, g, self._values32, out)
        return out.astype(np.float16)


#: the g16 kernel's 64 scale payloads: E4M3 codes 0x00..0x3F (top exponent bit 0) times 16
G16_SCALES = (E4M3.table[:64] * 16.0).astype(np.float32)


@njit(cache=True, error_model="numpy")
def _gptfast_g16_kernel(x, g, cbs, table, codes, scales, meta, mse_out):
    """The g16 path: the g128 group search (scales s, flags), then s snapped to the nearest payload
    (first on ties) and every element re-assigned to the nearest entry of its codebook at that scale."""
    rows, cols = x.shape
    tmp_codes = np.empty((1, g), np.uint8)
    tmp_s = np.empty((1, 1), np.float32)
    tmp_m = np.empty((1, 1), np.uint8)
    tmp_e = np.empty((1, 1, 4), np.float32)
    xr = np.empty((1, g), np.float32)
    for r in range(rows):
        for j in range(scales.shape[1]):
            s0 = j * g
            for k in range(g):
                xr[0, k] = x[r, s0 + k]
            _gptfast_kernel(xr, g, cbs, tmp_codes, tmp_s, tmp_m, tmp_e)
            m = tmp_m[0, 0]
            s = tmp_s[0, 0]
            best = abs(s - table[0])
            pi = 0
            for i in range(1, table.shape[0]):
                d = abs(s - table[i])
                if d < best:
                    best = d
                    pi = i
            scales[r, j] = np.uint8(pi)
            meta[r, j] = m
            for c in range(4):
                mse_out[r, j, c] = tmp_e[0, 0, c]
            sq = table[pi]
            cb = cbs[m]
            for k in range(g):
                codes[r, s0 + k] = np.uint8(_argmin16(xr[0, k], sq, cb))


@njit(cache=True)
def _g16_dequant(codes, payload, meta, g, table, cbs, out):
    rows, cols = codes.shape
    for r in range(rows):
        for k in range(cols):
            j = k // g
            out[r, k] = f16r(cbs[meta[r, j], codes[r, k]] * table[payload[r, j]])


class Razer4GptFastG16(Format):
    name = "razer4_gptfast_g16"
    family = "razer"
    bits = 4
    description = ("RaZeR GPU path, g16 (NVFP4-RaZeR gpt-fast, experimental): the g128 search per 16, scale "
                   "snapped to a 6-bit E3M3-like payload, one byte per block with the special's flags; fp16 out")
    default_group_size = 16
    group_sizes = (16,)
    options = {}
    rounding = "nearest codebook entry at the snapped scale: argmin |x - s * cb[i]| in fp32, first on ties"
    ties = "to the lower nibble index"
    overflow = "saturate; to the extreme codebook entry"
    scale_rule = ("per 16: the least-squares scale of razer4_gptfast, snapped to the nearest of 64 payloads "
                  "(E4M3 codes 0x00..0x3F times 16; scales = payload index); byte = payload | is8 << 6 | neg << 7")
    output_dtype = "float16"
    scale_bits = 8
    meta_bits = 0          # in the scale byte
    n_meta = 4

    def __init__(self):
        self.levels = unique_levels(E2M1.table)

    def code_values(self, meta: int = 0) -> np.ndarray:
        """The canonical codebook of meta = 2 * neg + is8 (0x0 = the signed special, 0x8 = 0, others
        E2M1); value = entry * the block's payload scale."""
        v = CODEBOOKS[int(meta)].astype(np.float64)
        v[8] = 0.0
        return v

    def _prepare_input(self, arr):
        return fp16_input(arr)

    def _quantize2d(self, x, g, opts):
        if x.shape[1] % g:
            raise InputError(f"razer4_gptfast_g16: the row length {x.shape[1]} must be a multiple of 16 "
                             "(whole blocks)")
        rows, cols = x.shape
        ng = cols // g
        codes = np.empty((rows, cols), np.uint8)
        scales = np.empty((rows, ng), np.uint8)
        meta = np.empty((rows, ng), np.uint8)
        mse = np.empty((rows, ng, 4), np.float32)
        _gptfast_g16_kernel(x, g, CODEBOOKS, G16_SCALES, codes, scales, meta, mse)
        return codes, scales, meta, None, {"candidate_mse": mse}

    def _dequantize2d(self, codes, scales, meta, g, tensor_scale, opts):
        out = np.empty(codes.shape, np.float32)
        cbs = np.stack([self.code_values(m) for m in range(4)]).astype(np.float32)
        _g16_dequant(codes, scales, meta, g, G16_SCALES, cbs, out)
        return out.astype(np.float16)

    def pack_group_data(self, scales, meta, opts):
        """The kernel's scale byte per block: payload | is8 << 6 | neg << 7."""
        if scales is None:
            return scales, meta
        m = meta.astype(np.uint8)
        return (scales.astype(np.uint8) | ((m & 1) << 6) | ((m >> 1) << 7)).astype(np.uint8), None

    def unpack_group_data(self, scales, meta, opts):
        if scales is None or meta is not None:
            return scales, meta
        b = np.asarray(scales, np.uint8)
        return (b & 0x3F).astype(np.uint8), (((b >> 7) << 1) | ((b >> 6) & 1)).astype(np.uint8)


register(Razer4GptFast(), ("razer_gptfast",))
register(Razer4GptFastG16(), ("razer_gptfast_g16",))


# ---- memory images ------------------------------------------------------------------------------------
def _check_2d(q, what: str, names=("razer4_gptfast",)):
    if q.format.name not in names:
        raise InputError(f"{what} takes a {' or '.join(names)} tensor, got format {q.format.name!r}")
    if q.codes.ndim != 2:
        raise InputError(f"{what} takes a 2-D weight [N, K], got shape {q.codes.shape}")


def gptfast_scale_words(q) -> np.ndarray:
    """fp16 scale words [N, K/128]: fp16(s), negated for a negative special, bit 14 = special 8."""
    _check_2d(q, "gptfast_scale_words")
    s = q.scales.astype(np.float16)
    neg = q.meta >= 2
    s = np.where(neg, -s, s)
    bits = s.view(np.uint16)
    if np.any(bits & 0x4000):
        raise InputError(f"razer4_gptfast: the gpt-fast packer needs |scale| < 2 (bit 14 of the fp16 word carries "
                         f"the 5-vs-8 flag); largest scale here is {float(np.abs(q.scales).max()):g}")
    return (bits | ((q.meta.astype(np.uint16) & 1) << 14)).astype(np.uint16).view(np.float16)


def pack_gptfast(q) -> tuple[np.ndarray, np.ndarray]:
    """The gpt-fast state-dict tensors of a [N, K] weight: ``razer_qB`` int32 [K/8, N] and
    ``razer_scaling``: razer4_gptfast: fp16 [K/128, N]; razer4_gptfast_g16: int32 [K/128, N, 2] (the
    eight scale bytes of each 128 elements, bytes 0-3 little-endian in word 0, 4-7 in word 1)."""
    _check_2d(q, "pack_gptfast", ("razer4_gptfast", "razer4_gptfast_g16"))
    n, k = q.codes.shape
    if k % 128:
        raise InputError(f"pack_gptfast: K (the row length) must be a multiple of 128, got {k}")
    nib = q.codes.astype(np.uint32).reshape(n, k // 8, 8)
    words = np.bitwise_or.reduce(nib << (np.arange(8, dtype=np.uint32) * 4), axis=2).astype(np.uint32)
    qB = np.ascontiguousarray(words.view(np.int32).T)
    if q.format.name == "razer4_gptfast":
        return qB, np.ascontiguousarray(gptfast_scale_words(q).T)
    b, _ = q.format.pack_group_data(q.scales, q.meta, q.options)
    b = b.astype(np.uint32).reshape(n, k // 128, 2, 4) << (np.arange(4, dtype=np.uint32) * 8)
    w2 = np.bitwise_or.reduce(b, axis=3).astype(np.uint32).view(np.int32)        # [N, K/128, 2]
    return qB, np.ascontiguousarray(w2.transpose(1, 0, 2))


def unpack_gptfast(qB: np.ndarray, scaling: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(nibbles uint8 [N, K], |fp16 scale| float32 [N, K/128], meta [N, K/128]) of a gpt-fast image."""
    w = np.ascontiguousarray(np.asarray(qB).T).view(np.uint32)
    nib = ((w[:, :, None] >> (np.arange(8, dtype=np.uint32) * 4)) & 0xF).astype(np.uint8)
    bits = np.ascontiguousarray(np.asarray(scaling, np.float16).T).view(np.uint16)
    meta = (((bits >> 15) & 1) << 1 | ((bits >> 14) & 1)).astype(np.uint8)
    s = (bits & 0x3FFF).view(np.float16).astype(np.float32)
    return nib.reshape(w.shape[0], -1), s, meta


def _marlin_perms() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    perm = []
    for i in range(32):
        perm1 = []
        col = i // 4
        for block in (0, 1):
            for row in (2 * (i % 4), 2 * (i % 4) + 1, 2 * (i % 4 + 4), 2 * (i % 4 + 4) + 1):
                perm1.append(16 * row + col + 8 * block)
        for j in range(4):
            perm.extend(p + 256 * j for p in perm1)
    perm = np.array(perm, np.int64).reshape(-1, 8)[:, [0, 1, 4, 5, 2, 3, 6, 7]].reshape(-1)
    scale_perm = np.array([i + 8 * j for i in range(8) for j in range(8)], np.int64)
    scale_perm_single = np.array([2 * i + j for i in range(4) for j in (0, 1, 8, 9, 16, 17, 24, 25)], np.int64)
    return perm, scale_perm, scale_perm_single


_PERM, _SCALE_PERM, _SCALE_PERM_SINGLE = _marlin_perms()


def pack_marlin(codes: np.ndarray, scales: np.ndarray, groupsize: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Marlin memory image (``B`` int32 [K/16, 2N], ``s`` fp16 [K/groupsize, N]) of Marlin-RaZeR codes
    [N, K] (0..15) and encoded fp16 scales [N, K/groupsize]; groupsize 128 or K (per channel)."""
    codes = np.asarray(codes)
    n, k = codes.shape
    if k % 128 or n % 256:
        raise InputError(f"pack_marlin: K must be a multiple of 128 and N of 256, got [N, K] = [{n}, {k}]")
    if groupsize not in (128, k):
        raise InputError(f"pack_marlin: groupsize must be 128 or K={k}, got {groupsize}")
    s = np.ascontiguousarray(np.asarray(scales, np.float16).T)
    ps = _SCALE_PERM if groupsize != k else _SCALE_PERM_SINGLE
    s = s.reshape(-1, ps.size)[:, ps].reshape(-1, n)
    w = np.ascontiguousarray(codes.T).astype(np.uint32)
    w = w.reshape(k // 16, 16, n // 16, 16).transpose(0, 2, 1, 3).reshape(k // 16, n * 16)
    w = w.reshape(-1, _PERM.size)[:, _PERM].reshape(w.shape)
    chunks = (w.reshape(w.shape[0], -1, 8) & 0xF) << (np.arange(8, dtype=np.uint32) * 4)
    packed = np.bitwise_or.reduce(chunks, axis=2).astype(np.uint32).view(np.int32)
    return np.ascontiguousarray(packed), np.ascontiguousarray(s)


def unpack_marlin(B: np.ndarray, s: np.ndarray, n: int, k: int, groupsize: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`pack_marlin`: (codes [N, K], encoded fp16 scales [N, K/groupsize])."""
    w = np.asarray(B).view(np.uint32)
    nib = ((w[:, :, None] >> (np.arange(8, dtype=np.uint32) * 4)) & 0xF).reshape(k // 16, n * 16)
    inv = np.empty_like(_PERM)
    inv[_PERM] = np.arange(_PERM.size)
    nib = nib.reshape(-1, _PERM.size)[:, inv].reshape(k // 16, n * 16)
    codes = nib.reshape(k // 16, n // 16, 16, 16).transpose(0, 2, 1, 3).reshape(k, n).T
    ps = _SCALE_PERM if groupsize != k else _SCALE_PERM_SINGLE
    pinv = np.empty_like(ps)
    pinv[ps] = np.arange(ps.size)
    sc = np.asarray(s, np.float16).reshape(-1, ps.size)[:, pinv].reshape(-1, n)
    return np.ascontiguousarray(codes.astype(np.uint8)), np.ascontiguousarray(sc.T)


def marlin_codes(q) -> tuple[np.ndarray, np.ndarray]:
    """Marlin-RaZeR codes [N, K] and encoded fp16 scales [N, K/128] of a razer4_gptfast weight: the
    special lane is code 0x8 (-0 in E2M1, which the kernel replaces), zero is 0x0, the other nibbles
    as the gpt-fast image (signs already flipped for a negative special); scale = fp16(s) negated for
    a negative special, mantissa LSB = 1 for the special 8 (the kernel clears it before use)."""
    _check_2d(q, "marlin_codes")
    c = q.codes
    out = np.where(c == 0, 8, np.where(c == 8, 0, c)).astype(np.uint8)
    s = q.scales.astype(np.float16)
    s = np.where(q.meta >= 2, -s, s)
    bits = (s.view(np.uint16) & 0xFFFE) | (q.meta.astype(np.uint16) & 1)
    return out, bits.astype(np.uint16).view(np.float16)


def marlin_decode(codes: np.ndarray, scales: np.ndarray, groupsize: int = 128) -> np.ndarray:
    """The Marlin-RaZeR kernel's per-element value (fp16): code 0x8 -> fix = 5 or 8 (scale LSB),
    other codes E2M1; times the scale with its LSB cleared (its sign = the special's sign)."""
    bits = np.asarray(scales, np.float16).view(np.uint16)
    fix = np.where(bits & 1, np.float32(8.0), np.float32(5.0))
    s = (bits & 0xFFFE).view(np.float16).astype(np.float32)
    c = np.asarray(codes)
    v = np.where(c == 8, np.repeat(fix, groupsize, axis=1), E2M1.table.astype(np.float32)[c])
    return (v * np.repeat(s, groupsize, axis=1)).astype(np.float16)
