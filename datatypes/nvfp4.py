"""NVFP4: E2M1 elements, an E4M3 scale per 16 elements and an fp32 scale per tensor.

Exactly ``quant_nvfp4`` of yc2367/NVFP4-RaZeR @ HEAD (spec §3.8), in float32:
    gs  = fp32(amax(|w|) / 2688)                 # 2688 = 6 * 448, per tensor
    ws  = w / gs
    bs  = E4M3_RNE(clamp(max|ws| / 6, 2**-9, 448))  # per block of 16, stored as an E4M3 code
    q   = e2m1_round(ws / bs)                    # formula rounding, ties away from zero (spec §1.2)
    w^  = bf16(fp32(q * bs) * gs)
An all-zero tensor (gs = 0, where the reference produces NaN) quantizes to zeros.
A negative input that rounds to zero gets code 0x8 and decodes to -0.0, as the reference's
``sign(m) * floor(|m| + 0.5)`` gives (torch.sign(-0.0) = 0, so an input -0.0 gives +0.0).

``nvfp4_4over6`` (``quant_nvfp4_4over6`` of NVFP4-RaZeR @ 82ecc9a, after "Four over Six",
arXiv 2512.02010): per block two E4M3 scales, bs6 = E4M3(clamp(bmax / 6)) and bs4 = E4M3(clamp(bmax
/ 4)); each rounds |ws / bs| to the E2M1 magnitudes by midpoints (ties to the smaller magnitude),
times torch.sign(ws); err = fp32 sum over the block of (q * bs - ws)**2 in PyTorch's order; the 4
scale is kept if its err is strictly smaller. ``candidate_mse`` = [err6, err4] per block.
"""

from __future__ import annotations

import numpy as np
from ._jit import njit

from .format import Format, unique_levels
from .minifloat import E2M1, E4M3, encode, round_to_bf16
from .mx import _E2M1_CODE_OF_TWICE, e2m1_code, e2m1_round
from .registry import register
from .razer import _e2m1_index, _e2m1_mag
from .torchops import SUM_SCRATCH, torch_sum_f32


@njit(cache=True, error_model="numpy")
def _nvfp4_kernel(x, g, gs, lut, e4m3_table, codes, scales):
    rows, cols = x.shape
    lo = np.float32(2.0 ** -9)
    hi = np.float32(448.0)
    six = np.float32(6.0)
    for r in range(rows):
        for j in range(scales.shape[1]):
            s = j * g
            e = min(s + g, cols)
            bmax = np.float32(0.0)
            for k in range(s, e):
                a = abs(x[r, k] / gs)
                bmax = a if a > bmax else bmax
            sc = encode(min(max(bmax / six, lo), hi), 3, 7, 0x7E, 7, np.uint8(0x7E))
            scales[r, j] = sc
            bs = e4m3_table[sc]
            for k in range(s, e):
                codes[r, k] = e2m1_code(e2m1_round((x[r, k] / gs) / bs), lut)


@njit(cache=True)
def _dequantize_kernel(codes, scale_codes, g, gs, e2m1_table, e4m3_table, out):
    rows, cols = codes.shape
    for r in range(rows):
        for k in range(cols):
            out[r, k] = (e2m1_table[codes[r, k]] * e4m3_table[scale_codes[r, k // g]]) * gs


class NVFP4(Format):
    name = "nvfp4"
    family = "microscaling"
    bits = 4
    description = "NVIDIA NVFP4: E2M1 elements, E4M3 scale per 16, fp32 scale per tensor"
    default_group_size = 16
    group_sizes = (16,)
    options = {}
    rounding = "nearest E2M1 value by the reference formula (float32 steps); block scale E4M3 RNE"
    ties = "away from zero; elements (block scale: to even)"
    overflow = "none; the block scale is block max / 6, clamped to [2**-9, 448]"
    scale_rule = "E4M3 per 16 of w / gs (scales = E4M3 codes); gs = fp32 amax / 2688 per tensor"
    output_dtype = "bfloat16"
    scale_bits = 8
    tensor_scale_bits = 32

    def __init__(self):
        self.levels = unique_levels(E2M1.table)
        self._table = E2M1.table.copy()          # code 0x8 = -0.0 (negative inputs rounding to 0)
        self._e2m1 = self._table.astype(np.float32)
        self._e4m3 = np.nan_to_num(E4M3.table).astype(np.float32)

    def code_values(self, meta: int = 0) -> np.ndarray:
        return self._table.copy()

    def _quantize2d(self, x, g, opts):
        rows, cols = x.shape
        codes = np.zeros((rows, cols), dtype=np.uint8)
        scales = np.empty((rows, -(-cols // g)), dtype=np.uint8)
        gs = np.float32(np.abs(x).max() / np.float32(2688.0))
        if gs == 0:
            scales[:] = E4M3.encode_array(np.float32(2.0 ** -9))
            return codes, scales, None, 0.0
        _nvfp4_kernel(x, g, gs, _E2M1_CODE_OF_TWICE, self._e4m3, codes, scales)
        return codes, scales, None, float(gs)

    def _dequantize2d(self, codes, scales, meta, g, tensor_scale, opts):
        out = np.empty(codes.shape, dtype=np.float32)
        _dequantize_kernel(codes, scales, g, np.float32(tensor_scale), self._e2m1, self._e4m3, out)
        return round_to_bf16(out)


register(NVFP4())


# ---- NVFP4 "4 over 6" ------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _nvfp4_4over6_kernel(x, g, gs, e4m3_table, codes, scales, meta, mse):
    rows, cols = x.shape
    scratch = np.empty(SUM_SCRATCH, np.float32)
    ws = np.empty(g, np.float32)
    e6 = np.empty(g, np.float32)
    e4 = np.empty(g, np.float32)
    i6 = np.empty(g, np.int32)
    i4 = np.empty(g, np.int32)
    lo = np.float32(2.0 ** -9)
    hi = np.float32(448.0)
    zero = np.float32(0.0)
    for r in range(rows):
        for j in range(scales.shape[1]):
            s = j * g
            n = min(s + g, cols) - s
            xg = x[r, s:s + n]
            bmax = zero
            for k in range(n):
                v = xg[k] / gs
                ws[k] = v
                a = abs(v)
                bmax = a if a > bmax else bmax
            c6 = encode(min(max(bmax / np.float32(6.0), lo), hi), 3, 7, 0x7E, 7, np.uint8(0x7E))
            c4 = encode(min(max(bmax / np.float32(4.0), lo), hi), 3, 7, 0x7E, 7, np.uint8(0x7E))
            b6 = e4m3_table[c6]
            b4 = e4m3_table[c4]
            for k in range(n):
                v = ws[k]
                sg = np.float32(v > zero) - np.float32(v < zero)     # torch.sign (+0 for -0.0)
                m6 = _e2m1_index(abs(v / b6), True)
                m4 = _e2m1_index(abs(v / b4), True)
                i6[k] = m6
                i4[k] = m4
                d6 = (_e2m1_mag(m6) * sg) * b6 - v
                d4 = (_e2m1_mag(m4) * sg) * b4 - v
                e6[k] = d6 * d6
                e4[k] = d4 * d4
            err6 = torch_sum_f32(e6, n, scratch)
            err4 = torch_sum_f32(e4, n, scratch)
            mse[r, j, 0] = err6
            mse[r, j, 1] = err4
            use4 = err4 < err6
            meta[r, j] = 1 if use4 else 0
            scales[r, j] = c4 if use4 else c6
            for k in range(n):
                m = i4[k] if use4 else i6[k]
                codes[r, s + k] = np.uint8(m | 8) if ws[k] < zero else np.uint8(m)


class NVFP4FourOverSix(NVFP4):
    name = "nvfp4_4over6"
    description = ("NVFP4 'four over six' (NVFP4-RaZeR quant_nvfp4_4over6): per block of 16 the E4M3 "
                   "scale maps the block max to 6 or to 4, whichever gives the smaller squared error")
    rounding = "nearest E2M1 magnitude by midpoints of |x / bs| (ties to the smaller magnitude), sign of x"
    ties = "to the smaller magnitude (block scale: to even)"
    overflow = "none; the block max maps to 6 or 4"
    scale_rule = ("E4M3 per 16 of w / gs (scales = E4M3 codes): clamp(bmax / 6, 2**-9, 448) or "
                  "clamp(bmax / 4, ...), the one with the smaller fp32 sum of squared errors (meta = 1: "
                  "max -> 4; ties keep 6); gs = fp32 amax / 2688 per tensor")
    meta_bits = 0          # the scale code alone decodes; meta records the choice

    def _quantize2d(self, x, g, opts):
        rows, cols = x.shape
        ng = -(-cols // g)
        codes = np.zeros((rows, cols), dtype=np.uint8)
        scales = np.empty((rows, ng), dtype=np.uint8)
        meta = np.zeros((rows, ng), dtype=np.uint8)
        mse = np.zeros((rows, ng, 2), dtype=np.float32)
        gs = np.float32(np.abs(x).max() / np.float32(2688.0))
        if gs == 0:
            scales[:] = E4M3.encode_array(np.float32(2.0 ** -9))
            return codes, scales, meta, 0.0, {"candidate_mse": mse}
        _nvfp4_4over6_kernel(x, g, gs, self._e4m3, codes, scales, meta, mse)
        return codes, scales, meta, float(gs), {"candidate_mse": mse}


register(NVFP4FourOverSix(), ("nvfp4_4o6",))
