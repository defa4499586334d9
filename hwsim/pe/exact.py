"""Exact integer matrix product (Numba) for the GEMM reference when float64 would not be exact."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _wrap(x, sh):
    return (x << sh) >> sh


@njit(cache=True)
def exact_matmul_int(a, w, sh):
    """wrap(a @ w) for int64 matrices with int64 (mod 2**64) arithmetic; used when float64 is not exact."""
    M, K = a.shape
    N = w.shape[1]
    out = np.zeros((M, N), np.int64)
    for m in range(M):
        for k in range(K):
            av = a[m, k]
            if av == 0:
                continue
            for n in range(N):
                out[m, n] += av * w[k, n]
    for m in range(M):
        for n in range(N):
            out[m, n] = _wrap(out[m, n], sh)
    return out


