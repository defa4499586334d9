"""BBS (bi-directional bit-level sparsity) study on the INT8 weights of a real model.

Every Linear weight is quantized to INT8 per output channel (symmetric, ``int8`` with one group per
row), then pruned with each BBS method; the table reports, pooled over all weights:

* bit sparsity: zero bits of the stored integers (what a zero-skipping bit-serial PE skips);
* BBS sparsity: skippable bits when every bit column of every 8-weight sub-group is processed
  as its ones or its zeros, whichever are fewer (BitVert);
* effectual bits per column: mean (and max) of min(ones, 8 - ones) per sub-group and column;
* bits/weight: the exact size of the compressed encoding (kept columns + per-group metadata,
  ``datatypes.bbs.encode``), per weight, without the per-row INT8 scale;
* SQNR of the dequantized weights (integers x per-row scale) against the float weights.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import datatypes as dt
from datatypes import bbs

from .report import Progress, atomic_write, format_table

#: (label, method or None for dense INT8, keyword arguments); group 32 as in the BitVert
#: evaluation (BitVertCA_Grp32_N2 / BitVertZP_Grp32_N4), BitWave's bit flip as the baseline.
CONFIGS = [
    ("INT8 dense", None, {}),
    ("bit flip (BitWave) N=4 g32", "bit_flip", {"n_pruned": 4, "group_size": 32}),
    ("BBS rounded avg N=2 g32", "round_avg", {"n_pruned": 2, "group_size": 32}),
    ("BBS rounded avg N=4 g32", "round_avg", {"n_pruned": 4, "group_size": 32}),
    ("BBS zero-point N=4 g32 c5", "zero_point_shift", {"n_pruned": 4, "group_size": 32, "const_bits": 5}),
]


@dataclass
class BBSRow:
    label: str
    bit_sparsity: float
    bbs_sparsity: float
    effectual_per_column: float
    max_effectual: int
    bits_per_weight: float
    sqnr_db: float


def int8_weights(tensors: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (int8 integers, per-row fp32 scale) by symmetric per-channel INT8 quantization."""
    out = {}
    for name, t in tensors.items():
        q = dt.quantize(np.asarray(t, np.float32), "int8", group_size=None)
        out[name] = (q.codes.view(np.int8).reshape(t.shape), q.scales.reshape(t.shape[0], 1))
    return out


def bbs_table(tensors: dict[str, np.ndarray], configs=CONFIGS, progress: bool = True) -> list[BBSRow]:
    ints = int8_weights(tensors)
    signal = sum(float(np.sum(np.square(t, dtype=np.float64))) for t in tensors.values())
    n = sum(t.size for t in tensors.values())
    bar = Progress(len(configs), "bbs", enabled=progress)
    rows = []
    for label, method, kw in configs:
        ones = eff = total = 0
        max_eff = 0
        eff_cols = 0
        size_bits = 0
        err = 0.0
        for name, (w, scale) in ints.items():
            if method is None:
                stored, rep, values, bits = w, "twos", w, 8 * w.size
            else:
                p = bbs.prune(w, method, bits=8, **kw)
                stored, rep, values = p.stored, ("twos" if method != "bit_flip" else "sign_magnitude"), p.values
                bits = p.encode().total_bits
            cv = bbs.column_view(stored, 8, 8, rep)
            ones += int(cv.ones.sum())
            eff += int(cv.effectual.sum())
            total += cv.total_bits
            eff_cols += cv.effectual.size
            max_eff = max(max_eff, cv.max_effectual_per_column)
            size_bits += bits
            d = values.astype(np.float64) * scale - tensors[name]
            err += float(np.dot(d.ravel(), d.ravel()))
        rows.append(BBSRow(label, 1 - ones / total, 1 - eff / total, eff / eff_cols, max_eff, size_bits / n,
                           10 * math.log10(signal / err) if err > 0 else math.inf))
        bar.step(label)
    return rows


def render(rows: list[BBSRow]) -> str:
    return format_table(
        ["INT8 weights", "bit sparsity", "BBS sparsity", "eff. bits/col", "max", "bits/weight", "SQNR dB"],
        [[r.label, f"{r.bit_sparsity:.3f}", f"{r.bbs_sparsity:.3f}", f"{r.effectual_per_column:.3f}",
          str(r.max_effectual), f"{r.bits_per_weight:.3f}", f"{r.sqnr_db:.2f}"] for r in rows],
        align="lrrrrrr")


def run(tensors: dict[str, np.ndarray], out: str | Path | None, title: str) -> list[BBSRow]:
    """Print the BBS table (and write bbs.txt / bbs.csv into ``out``)."""
    print(title + " -- BBS on per-channel INT8 weights (8-weight sub-groups)", file=sys.stderr)
    rows = bbs_table(tensors)
    text = render(rows)
    print()
    print(f"{title}: INT8 per channel, bit-serial columns in 8-weight sub-groups")
    print(text)
    if out is not None:
        o = Path(out)
        atomic_write(o / "bbs.txt", title + "\n\n" + text + "\n")
        csv = ["config,bit_sparsity,bbs_sparsity,effectual_bits_per_column,max_effectual,bits_per_weight,sqnr_db"]
        csv += [f"{r.label},{r.bit_sparsity:.6f},{r.bbs_sparsity:.6f},{r.effectual_per_column:.6f},"
                f"{r.max_effectual},{r.bits_per_weight:.6f},{r.sqnr_db:.6f}" for r in rows]
        atomic_write(o / "bbs.csv", "\n".join(csv) + "\n")
        print(f"\nwrote {o / 'bbs.txt'}, {o / 'bbs.csv'}")
    return rows
