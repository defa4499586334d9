"""NVFP4: E2M1 elements, an E4M3 scale per 16 elements and an fp32 scale per tensor.

Exactly ``quant_nvfp4`` of yc2367/NVFP4-RaZeR @ HEAD (spec §3.8), in float32:
    gs  = fp32(amax(|w|) / 2688)                 # 2688 = 6 * 448, per tensor
    ws  = w / gs
    bs  = E4M3_RNE(clamp(max|ws| / 6, 2**-9, 448))  # per block of 16, stored as an E4M3 code
    q   = e2m1_round(ws / bs)                    # formula rounding, ties away from zero (spec §1.2)
    w^  = bf16(fp32(q * bs) * gs)
An all-zero tensor (gs = 0, where the reference produces NaN) quantizes to zeros.
"""

from __future__ import annotations

import numpy as np
from ._jit import njit

from .format import Format
from .minifloat import E2M1, E4M3, encode, round_to_bf16
from .mx import _E2M1_CODE_OF_TWICE, e2m1_code, e2m1_round
from .registry import register


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
        self.levels = np.unique(E2M1.table)
        self._table = E2M1.table.copy()
        self._table[8] = np.nan
        self._e2m1 = np.nan_to_num(self._table).astype(np.float32)
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
