"""Kratos-style unrolled constant-weight primitives (abdelfattah-lab/Kratos-benchmark): a fully unrolled
sparse GEMV ``y = W x`` with the weights baked into the logic, swept over sparsity.

Weights (``kratos_weights``) follow Kratos' ``util.py::generate_flattened_bit``: after ``reset_seed()``
(``np.random.seed(114514)``), the first ``int(n * sparsity)`` entries are 0 and the others
``np.random.randint(1, 2**w - 1)`` (1 .. 2**w - 2), then ``np.random.shuffle``; element 0 is written in the
most significant bits of the hex literal. Arithmetic is ``w`` bits throughout: every product and every
partial sum is taken modulo 2**w (``multiply_core_evo.v``). Pipeline: a register on the inputs, on the
products and on every level of the adder tree (padded to a power of two with zeros), so
latency = 2 + ceil(log2 LENGTH) cycles, II = 1; a valid bit travels beside the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SEED = 114514


def kratos_weights(n: int, w: int, sparsity: float, seed: int = SEED) -> np.ndarray:
    """``n`` weights of ``w`` bits with Kratos' generator (legacy numpy RNG, the global stream after
    ``np.random.seed(seed)``; a RandomState gives the identical stream without touching global state)."""
    if w < 2 or w > 16:
        raise ValueError(f"kratos weight width {w!r}: allowed 2..16 (randint(1, 2**w - 1) is empty for w = 1)")
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"kratos sparsity {sparsity!r}: allowed 0..1")
    rs = np.random.RandomState(seed)
    params = np.zeros(n, dtype=int)
    threshold = int(n * sparsity)
    for i in range(n):
        if i + 1 > threshold:
            params[i] = rs.randint(1, 2 ** w - 1)
    rs.shuffle(params)
    return params.astype(np.int64)


def hex_literal(params: np.ndarray, w: int) -> str:
    """Kratos' Verilog literal: element 0 in the most significant digits (w = 4 or 8, as Kratos)."""
    if w not in (4, 8):
        raise ValueError("Kratos writes literals for data widths 4 and 8 only")
    return f"{len(params) * w}'h" + "".join(format(int(v), "x").zfill(w // 4) for v in params)


@dataclass(frozen=True)
class GemvSpec:
    """A GEMV ``rows x length`` (``conv_kernel`` = 0), or a 1-D convolution (one channel, stride 1, valid
    padding) of a ``length``-pixel input with a ``conv_kernel``-tap constant filter: the same unrolled
    datapath with the Toeplitz matrix of the filter (rows = length - conv_kernel + 1; ``rows`` is ignored).
    The conv filter is drawn with the same generator (Kratos' conv wrappers use ``gen_long_constant_bits``,
    which we do not reproduce)."""

    rows: int
    length: int
    width: int
    sparsity: float
    seed: int = SEED
    conv_kernel: int = 0

    def __post_init__(self):
        if self.rows < 1 or self.length < 1:
            raise ValueError(f"kratos gemv rows/length = {self.rows}/{self.length}: must be >= 1")
        if self.conv_kernel and not 1 <= self.conv_kernel <= self.length:
            raise ValueError(f"kratos conv_kernel = {self.conv_kernel}: allowed 1..length ({self.length})")
        if self.conv_kernel:
            object.__setattr__(self, "rows", self.length - self.conv_kernel + 1)

    @property
    def filter(self) -> np.ndarray:
        return kratos_weights(self.conv_kernel, self.width, self.sparsity, self.seed)

    @property
    def weights(self) -> np.ndarray:
        """[rows, length]: row-major from one Kratos stream of rows*length weights (GEMV), or the filter's
        Toeplitz matrix (conv1d)."""
        if self.conv_kernel:
            W = np.zeros((self.rows, self.length), np.int64)
            f = self.filter
            for r in range(self.rows):
                W[r, r:r + self.conv_kernel] = f
            return W
        return kratos_weights(self.rows * self.length, self.width, self.sparsity, self.seed).reshape(
            self.rows, self.length)

    @property
    def latency(self) -> int:
        return 2 + math.ceil(math.log2(self.length)) if self.length > 1 else 2

    @property
    def nonzeros(self) -> int:
        return int(np.count_nonzero(self.weights))


def gemv_model(spec: GemvSpec, x: np.ndarray) -> np.ndarray:
    """y[s, r] = sum_k W[r, k] * x[s, k] mod 2**w (x: [N, length] unsigned w-bit codes); for a conv spec this
    is the valid 1-D correlation ``y[s, r] = sum_j f[j] * x[s, r + j]``."""
    x = np.asarray(x, np.int64)
    if x.ndim != 2 or x.shape[1] != spec.length or x.min() < 0 or x.max() >= (1 << spec.width):
        raise ValueError(f"gemv inputs: expected [N, {spec.length}] codes 0..{(1 << spec.width) - 1}")
    m = (1 << spec.width) - 1
    prod = (x[:, None, :] * spec.weights[None, :, :]) & m
    return (prod.sum(axis=2) & m).astype(np.int64)
