"""Codebook (lookup-table) formats of the SF4 study ("Learning from Students", ICML 2024).

Every key of the reference ``FLOAT_MAPPING`` (cornell-zhang/llm-datatypes @ b0f1a17,
``weight_only.py``) with its level list exactly as published, and the reference quantizer
``quantize_4bit`` (spec §1.1, §2.4), all in float32:

    scale = fp32(fp32(absmax(group) * quantile) / max(levels))      # max(levels), not max |level|
    x     = fp32(w / scale)
    idx   = #{ i : x > fp32((L[i] + L[i+1]) / 2) }                  # midpoints in float64, cast
    w_hat = fp32(L[idx]) * scale

so values beyond the extreme levels saturate and an exact tie goes to the lower level (toward -inf).
An all-zero group has scale 0 and reconstructs to 0 (the reference's 0/0 matches no interval).

Code assignment (the reference never materialises codes; this is the hardware view, spec §2.6):
* symmetric tables with one zero (15 or 7 levels): sign-magnitude, magnitude index = position among
  the ascending non-negative levels; the negative-zero code (1000 / 100) is unused.
* a symmetric table plus one extra positive value (fp4_range +8, fp4_prec1 +2.5, fp4_prec2 +5,
  apot4-sp +0.5, en_25 +1): sign-magnitude, and the negative-zero code decodes to the extra value.
* every other table (NF4, SF4, NF3/SF3 and their *_nz, denorm4): code = index in the ascending list.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from ._jit import njit

from .format import Format, check_quantile
from .registry import register

# Level tables, ascending, exactly as in the reference source (spec §2.2).
TABLES: dict[str, list[float]] = {
    "nf4": [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0],
    "nf3": [-1.0, -0.5350227084855379, -0.24693143181157517, 0.0, 0.18333748033548752, 0.3819939543209139, 0.6229857417143423, 1.0],
    "nf3_nz": [-1.0, -0.5840457615163138, -0.3225133196607414, -0.10387883073852357, 0.10387883073852357, 0.3225133196607414, 0.5840457615163137, 1.0],
    "sf4_3": [-1.0, -0.575725, -0.403755, -0.29162, -0.204868, -0.131054, -0.064036, 0.0, 0.055934, 0.113835, 0.176078, 0.246078, 0.329642, 0.438727, 0.60598, 1.0],
    "sf3_3": [-1.0, -0.3622475096628733, -0.15466881612248634, 0.0, 0.11383526480516333, 0.24607773854836362, 0.43872699492795214, 1.0],
    "sf3_3_nz": [-1.0, -0.5015162581807956, -0.2628875575162947, -0.08299175634976376, 0.08299175634976376, 0.2628875575162947, 0.5015162581807955, 1.0],
    "sf4_4": [-1.0, -0.608729, -0.435845, -0.318393, -0.225229, -0.144689, -0.070863, 0.0, 0.061908, 0.125773, 0.193936, 0.269711, 0.358617, 0.471724, 0.638231, 1.0],
    "sf3_4": [-1.0, -0.39278935395019254, -0.1705619364387109, 0.0, 0.1257725217978133, 0.26971116287994534, 0.4717241438815071, 1.0],
    "sf3_4_nz": [-1.0, -0.5238993613586714, -0.27862916172493263, -0.08844753653560009, 0.08844753653560009, 0.27862916172493263, 0.5238993613586711, 1.0],
    "sf4_5": [-1.0, -0.627781, -0.454736, -0.334331, -0.237434, -0.152899, -0.074982, 0.0, 0.065513, 0.132965, 0.204661, 0.283835, 0.375805, 0.491076, 0.656781, 1.0],
    "sf3_5": [-1.0, -0.41084770299806544, -0.1801188154332576, 0.0, 0.1329647268004446, 0.2838347036415534, 0.49107557131011725, 1.0],
    "sf3_5_nz": [-1.0, -0.5368359642710748, -0.2878651877735525, -0.09166749796557234, 0.09166749796557234, 0.2878651877735525, 0.5368359642710749, 1.0],
    "sf4_6": [-1.0, -0.640101, -0.467104, -0.344838, -0.245517, -0.15835, -0.077722, 0.0, 0.067911, 0.137742, 0.211771, 0.293169, 0.387111, 0.503714, 0.66875, 1.0],
    "sf3_6": [-1.0, -0.4227024811287854, -0.18645957091951085, 0.0, 0.1377424733823289, 0.29316883983286, 0.5037142212421039, 1.0],
    "sf3_6_nz": [-1.0, -0.5452285431525636, -0.2939135955820373, -0.09378393351237442, 0.09378393351237442, 0.2939135955820373, 0.5452285431525635, 1.0],
    "sf4_7": [-1.0, -0.648695668605137, -0.4758049192191136, -0.35226650560941064, -0.25124728719118344, -0.16222176644114206, -0.07967003587244491, 0.0, 0.06961628484673037, 0.1411376777420972, 0.21681690757912492, 0.2997785136806453, 0.39509153065438735, 0.5125912352606964, 0.6770872505232854, 1.0],
    "fp4": [-12.0, -8.0, -6.0, -4.0, -3.0, -2.0, -0.0625, 0, 0.0625, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0],
    "fp4_e2m1_bnb": [-12.0, -8.0, -6.0, -4.0, -3.0, -2.0, -0.0625, 0, 0.0625, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0],
    "fp4_e1m2": [-3.5, -3.0, -2.5, -2.0, -1.75, -1.5, -1.25, 0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5],
    "fp4_e2m1": [-6.0, -4.0, -3.0, -2.0, -1.5, -1.0, -0.0625, 0, 0.0625, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0],
    "fp4_basic": [-6.0, -4.0, -3.0, -2.0, -1.5, -1.0, -0.5, 0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0],
    "fp4_no_sub": [-6.0, -4.0, -3.0, -2.0, -1.5, -1.0, -0.75, 0, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0],
    "fp4_range": [-6.0, -4.0, -3.0, -2.0, -1.5, -1.0, -0.5, 0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0],
    "fp4_prec1": [-6.0, -4.0, -3.0, -2.0, -1.5, -1.0, -0.5, 0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0],
    "fp4_prec2": [-6.0, -4.0, -3.0, -2.0, -1.5, -1.0, -0.5, 0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0],
    "fp4_log": [-16.0, -8.0, -4.0, -2.0, -1.0, -0.5, -0.25, 0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0],
    "fp3_log": [-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0],
    "en_25": [-0.787862, -0.609476, -0.459471, -0.333333, -0.227264, -0.138071, -0.063069, 0.0, 0.063069, 0.138071, 0.227264, 0.333333, 0.459471, 0.609476, 0.787862, 1.0],
    "apot4": [-1.0, -0.8, -0.6, -0.4, -0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0],
    "apot4-sp": [-1.0, -0.8, -0.6, -0.4, -0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0],
    "mokey": [-16, -8, -6, -4, -3, -2, -1, 0, 1, 2, 3, 4, 6, 8, 16],
    "denorm4": [-7, -6, -5, -4, -3, -2, -1, -0.5, 0, 0.5, 1, 2, 3, 4, 5, 6],
}

DESCRIPTIONS = {
    "nf4": "NormalFloat4 (QLoRA): normal-quantile levels",
    "nf3": "3-bit NormalFloat", "nf3_nz": "3-bit NormalFloat without a zero level",
    "sf4_5": "Student Float SF4 (Student-t, nu=5): the SF4 paper's proposed format",
    "fp4": "bitsandbytes-style FP4 (x2 scaled, +-0.0625 subnormal; Intel NC definition)",
    "fp4_e2m1_bnb": "bitsandbytes-style FP4 (same table as 'fp4')",
    "fp4_e1m2": "FP4 E1M2", "fp4_e2m1": "Intel NC 'fp4_e2m1' (+-0.0625 instead of +-0.5; not OCP E2M1)",
    "fp4_basic": "OCP E2M1 with subnormals (standard FP4)",
    "fp4_no_sub": "E2M1 without subnormal: +-0.5 replaced by +-0.75",
    "fp4_range": "super-range E2M1: negative zero code -> +8, scale divisor 8",
    "fp4_prec1": "super-precision E2M1 (alt.): negative zero code -> +2.5",
    "fp4_prec2": "super-precision E2M1: negative zero code -> +5",
    "fp4_log": "symmetric 4-bit logarithmic (E3M0-like)", "fp3_log": "symmetric 3-bit logarithmic",
    "en_25": "EN_25 codebook (asymmetric)", "apot4": "4-bit Additive-Powers-of-Two",
    "apot4-sp": "APoT4 with super-precision: negative zero code -> +0.5",
    "mokey": "Mokey 4-bit codebook", "denorm4": "denorm4 codebook (asymmetric, -7..6)",
}
for _nu in range(3, 8):
    DESCRIPTIONS.setdefault(f"sf4_{_nu}", f"Student Float 4-bit (Student-t, nu={_nu})")
    DESCRIPTIONS.setdefault(f"sf3_{_nu}", f"3-bit Student Float (nu={_nu})")
    DESCRIPTIONS.setdefault(f"sf3_{_nu}_nz", f"3-bit Student Float without a zero level (nu={_nu})")

ALIASES = {"sf4_5": ("sf4",), "fp4_basic": ("e2m1",), "fp4_range": ("e2m1_sr",), "fp4_prec2": ("e2m1_sp",)}


def normal_float_levels(ppf: Callable[[np.ndarray], np.ndarray], offset: float = 0.9677083) -> np.ndarray:
    """The QLoRA NormalFloat construction (spec §2.3) for a quantile function ``ppf``.

    8 positive levels ``ppf(linspace(offset, 0.5, 9)[:-1])``, 7 negative ``-ppf(linspace(offset, 0.5,
    8)[:-1])``, an exact zero, sorted and divided by the largest magnitude. ``ppf`` = the standard
    normal quantile gives NF4; the Student-t quantile with nu degrees of freedom gives SF4-nu.
    """
    pos = ppf(np.linspace(offset, 0.5, 9)[:-1])
    neg = -ppf(np.linspace(offset, 0.5, 8)[:-1])
    v = np.sort(np.concatenate([pos, [0.0], neg]))
    return v / np.abs(v).max()


def code_assignment(levels: np.ndarray, bits: int) -> tuple[str, np.ndarray]:
    """(scheme, code of each level) for an ascending level list; see the module docstring."""
    half = 1 << (bits - 1)
    present = set(levels.tolist())
    mags = [v for v in levels.tolist() if v >= 0 and (v == 0 or -v in present)]
    extra = [v for v in levels.tolist() if v > 0 and -v not in present]
    unpaired_neg = [v for v in levels.tolist() if v < 0 and -v not in present]
    if len(mags) == half and mags[0] == 0 and not unpaired_neg and len(extra) <= 1:
        codes = np.array([half if v in extra else (half | mags.index(-v)) if v < 0 else mags.index(v)
                          for v in levels.tolist()], dtype=np.uint8)
        return (f"sign-magnitude, -0 code = +{extra[0]:g}" if extra else "sign-magnitude"), codes
    return "index", np.arange(len(levels), dtype=np.uint8)


@njit(cache=True, error_model="numpy")
def _quantize_kernel(x, g, mids, lut, divisor, quantile, codes, scales):
    """Codes and fp32 scales of the reference midpoint quantizer, group by group.

    code = lut[#{i: v > mids[i]}] is computed as lut[0] + sum_i [v > mids[i]] * (lut[i+1] - lut[i]),
    one pass per midpoint over the group, so the inner loops vectorise.
    """
    rows, cols = x.shape
    n_mid = mids.shape[0]
    step = np.empty(n_mid, np.int32)
    for i in range(n_mid):
        step[i] = np.int32(lut[i + 1]) - np.int32(lut[i])
    zero_idx = 0
    for i in range(n_mid):
        if np.float32(0.0) > mids[i]:
            zero_idx += 1
    buf = np.empty(g, np.float32)
    acc = np.empty(g, np.int32)
    for r in range(rows):
        for j in range(scales.shape[1]):
            s = j * g
            n = min(s + g, cols) - s
            amax = np.float32(0.0)
            for k in range(n):
                a = abs(x[r, s + k])
                amax = a if a > amax else amax
            scale = (amax * quantile) / divisor
            scales[r, j] = scale
            if scale == np.float32(0.0):
                # the reference divides 0/0 here and reconstructs 0 whatever the code; zeros get
                # the zero code, (subnormal) non-zeros the extreme level of their sign
                for k in range(n):
                    v = x[r, s + k]
                    codes[r, s + k] = lut[n_mid] if v > 0 else (lut[0] if v < 0 else lut[zero_idx])
                continue
            c0 = np.int32(lut[0])
            for k in range(n):
                buf[k] = x[r, s + k] / scale
                acc[k] = c0
            for i in range(n_mid):
                m = mids[i]
                d = step[i]
                for k in range(n):
                    acc[k] += np.int32(buf[k] > m) * d
            for k in range(n):
                codes[r, s + k] = np.uint8(acc[k])


@njit(cache=True)
def _dequantize_kernel(codes, scales, g, values, out):
    rows, cols = codes.shape
    for r in range(rows):
        for k in range(cols):
            out[r, k] = values[codes[r, k]] * scales[r, k // g]


class CodebookFormat(Format):
    family = "codebook"
    rounding = "nearest level: midpoints (L[i]+L[i+1])/2 computed in float64, compared in float32"
    ties = "to the lower level; toward -inf: toward zero for positive ties, away from zero for negative"
    overflow = "saturate; to the extreme level"
    options = {"quantile": 1.0}
    scale_bits = 32

    def __init__(self, name: str, levels: list[float], description: str = ""):
        self.name = name
        self.levels = np.asarray(levels, dtype=np.float64)
        n = len(levels)
        self.bits = 4 if n > 8 else 3
        if not np.all(np.diff(self.levels) > 0):
            raise ValueError(f"levels of {name} are not strictly ascending")
        self.description = description
        self.divisor = float(max(levels))
        self.scale_rule = (f"per group: fp32 absmax * quantile / {self.divisor:g} (max level); "
                           "fp32, not quantized")
        self.code_scheme, self.level_codes = code_assignment(self.levels, self.bits)
        self._mids = np.array([(levels[i] + levels[i + 1]) / 2 for i in range(n - 1)], dtype=np.float32)
        # decoded values are the float32 levels: the reference multiplies fp32(L[idx]) by the scale
        self._values = np.full(1 << self.bits, np.nan)
        self._values[self.level_codes] = self.levels.astype(np.float32)
        self._values32 = np.where(np.isnan(self._values), 0.0, self._values).astype(np.float32)

    def _validate_options(self, opts):
        check_quantile(self, opts)

    def code_values(self, meta: int = 0) -> np.ndarray:
        """float32 levels (as float64) by code: what dequantization multiplies by the scale. The
        published float64 levels are ``levels``; they define the midpoints."""
        return self._values.copy()

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["codes"] = self.code_scheme
        return d

    def _quantize2d(self, x, g, opts):
        rows, cols = x.shape
        n_groups = -(-cols // g)
        codes = np.empty((rows, cols), dtype=np.uint8)
        scales = np.empty((rows, n_groups), dtype=np.float32)
        _quantize_kernel(x, g, self._mids, self.level_codes, np.float32(self.divisor),
                         np.float32(opts["quantile"]), codes, scales)
        return codes, scales, None, None

    def _dequantize2d(self, codes, scales, meta, g, tensor_scale, opts):
        out = np.empty(codes.shape, dtype=np.float32)
        _dequantize_kernel(codes, scales, g, self._values32, out)
        return out


for _name, _levels in TABLES.items():
    register(CodebookFormat(_name, _levels, DESCRIPTIONS.get(_name, "")), ALIASES.get(_name, ()))
