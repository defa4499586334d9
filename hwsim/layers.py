"""The layers every workload reduces to: a GEMM ``Y[M, N] = A[M, K] @ W[K, N]`` repeated ``repeat`` times,
a convolution (im2col onto a GEMM), and a network of them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np


class WorkloadError(ValueError):
    """A workload that cannot be built: the message names the spec (or file and line), the field and the
    allowed values."""


def _positive(value, what: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise WorkloadError(f"{where}: {what} = {value!r}: expected a positive integer")
    if value <= 0:
        raise WorkloadError(f"{where}: {what} = {value}: must be a positive integer")
    return int(value)


@dataclass(frozen=True)
class Gemm:
    """``Y[M, N] = A[M, K] @ W[K, N]``, ``repeat`` identical instances."""

    M: int
    N: int
    K: int
    name: str = "gemm"
    repeat: int = 1
    kind: str = "gemm"            #: gemm | conv | attention | projection | ffn | head (for reports)
    source: str = ""              #: where it came from (spec or file:line), for messages
    unique_a: int = 0             #: distinct activation elements (conv: H*W*C, not M*K); 0 = M*K

    @property
    def activation_elements(self) -> int:
        """Distinct activation elements one instance reads from DRAM (im2col duplicates are on-chip)."""
        return self.unique_a or self.M * self.K

    def __post_init__(self):
        where = self.source or f"layer {self.name!r}"
        for k in ("M", "N", "K", "repeat"):
            _positive(getattr(self, k), k, where)

    @property
    def macs(self) -> int:
        """Multiply-accumulates of all ``repeat`` instances."""
        return self.M * self.N * self.K * self.repeat

    def describe(self) -> str:
        r = f" x{self.repeat}" if self.repeat > 1 else ""
        return f"{self.name}: M={self.M} N={self.N} K={self.K}{r}"


@dataclass(frozen=True)
class Conv:
    """2-D convolution on an H x W x C input with N filters of R x S x C (NHWC, batch 1).

    ``convention``: "standard" (PyTorch: floor((H + 2 pad - R) / stride) + 1) or "scalesim" (SCALE-Sim
    3.0.0: ceil((H - R + stride) / stride), no padding; windows that run past the input read nothing).
    """

    H: int
    W: int
    R: int
    S: int
    C: int
    N: int
    stride_h: int = 1
    stride_w: int = 1
    pad_h: int = 0
    pad_w: int = 0
    name: str = "conv"
    convention: str = "standard"
    source: str = ""

    def __post_init__(self):
        where = self.source or f"conv layer {self.name!r}"
        for k in ("H", "W", "R", "S", "C", "N", "stride_h", "stride_w"):
            _positive(getattr(self, k), k, where)
        for k in ("pad_h", "pad_w"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise WorkloadError(f"{where}: {k} = {v!r}: must be an integer >= 0")
        if self.convention not in ("standard", "scalesim"):
            raise WorkloadError(f"{where}: convention = {self.convention!r}: allowed: standard, scalesim")
        if self.convention == "scalesim" and (self.pad_h or self.pad_w):
            raise WorkloadError(f"{where}: SCALE-Sim convolutions have no padding")
        if self.R > self.H + 2 * self.pad_h:
            raise WorkloadError(f"{where}: filter height R = {self.R} is larger than the (padded) input "
                                f"height {self.H + 2 * self.pad_h}")
        if self.S > self.W + 2 * self.pad_w:
            raise WorkloadError(f"{where}: filter width S = {self.S} is larger than the (padded) input "
                                f"width {self.W + 2 * self.pad_w}")

    @property
    def out_h(self) -> int:
        if self.convention == "scalesim":
            return int(math.ceil((self.H - self.R + self.stride_h) / self.stride_h))
        return (self.H + 2 * self.pad_h - self.R) // self.stride_h + 1

    @property
    def out_w(self) -> int:
        if self.convention == "scalesim":
            return int(math.ceil((self.W - self.S + self.stride_w) / self.stride_w))
        return (self.W + 2 * self.pad_w - self.S) // self.stride_w + 1

    def as_gemm(self) -> Gemm:
        """The im2col GEMM: M = output pixels, N = filters, K = R * S * C."""
        return Gemm(M=self.out_h * self.out_w, N=self.N, K=self.R * self.S * self.C, name=self.name,
                    kind="conv", source=self.source, unique_a=min(self.H * self.W * self.C,
                                                                 self.out_h * self.out_w * self.R * self.S * self.C))

    def im2col(self, x: np.ndarray, fill) -> np.ndarray:
        """Activation matrix A[M, K] of an input ``x`` [H, W, C] (codes or values).

        Row m = output pixel (oh * out_w + ow); column k = (r * S + s) * C + c (the SCALE-Sim order).
        Positions outside the input (padding, or SCALE-Sim windows past the edge) take ``fill`` (the
        code of zero).
        """
        x = np.asarray(x)
        if x.shape != (self.H, self.W, self.C):
            raise WorkloadError(f"{self.name}: input has shape {x.shape}, expected (H, W, C) = "
                                f"{(self.H, self.W, self.C)}")
        ph, pw = self.pad_h, self.pad_w
        extra_h = max(0, (self.out_h - 1) * self.stride_h + self.R - (self.H + 2 * ph))
        extra_w = max(0, (self.out_w - 1) * self.stride_w + self.S - (self.W + 2 * pw))
        xp = np.full((self.H + 2 * ph + extra_h, self.W + 2 * pw + extra_w, self.C), fill, dtype=x.dtype)
        xp[ph:ph + self.H, pw:pw + self.W] = x
        oh = np.arange(self.out_h) * self.stride_h
        ow = np.arange(self.out_w) * self.stride_w
        rr = np.arange(self.R)
        ss = np.arange(self.S)
        rows = (oh[:, None, None, None] + rr[None, None, :, None])        # [oh, 1, R, 1]
        cols = (ow[None, :, None, None] + ss[None, None, None, :])        # [1, ow, 1, S]
        patches = xp[rows, cols]                                            # [oh, ow, R, S, C]
        return np.ascontiguousarray(patches.reshape(self.out_h * self.out_w, self.R * self.S * self.C))

    def weights_as_matrix(self, w: np.ndarray) -> np.ndarray:
        """Filters [R, S, C, N] -> W[K, N] in the im2col column order."""
        w = np.asarray(w)
        if w.shape != (self.R, self.S, self.C, self.N):
            raise WorkloadError(f"{self.name}: filters have shape {w.shape}, expected (R, S, C, N) = "
                                f"{(self.R, self.S, self.C, self.N)}")
        return np.ascontiguousarray(w.reshape(self.R * self.S * self.C, self.N))


@dataclass(frozen=True)
class Network:
    """An ordered list of GEMM layers (convs already lowered), with a name."""

    name: str
    layers: tuple[Gemm, ...]
    convs: tuple = field(default=(), compare=False)      #: the Conv of each layer where there is one

    @property
    def macs(self) -> int:
        return sum(l.macs for l in self.layers)

    def __len__(self) -> int:
        return len(self.layers)


def network(items: Iterable[Gemm | Conv], name: str = "network") -> Network:
    layers, convs = [], []
    for it in items:
        if isinstance(it, Conv):
            layers.append(it.as_gemm())
            convs.append(it)
        elif isinstance(it, Gemm):
            layers.append(it)
            convs.append(None)
        else:
            raise WorkloadError(f"not a layer: {it!r}")
    if not layers:
        raise WorkloadError(f"workload {name!r} has no layers")
    return Network(name=name, layers=tuple(layers), convs=tuple(convs))


# ---- LLM layers ------------------------------------------------------------------------------------
