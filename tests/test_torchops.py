"""torchops.f16r (PyTorch's fp16 rounding inside kernels) against numpy's float16 conversion."""

from __future__ import annotations

import numpy as np
from numba import njit

from datatypes.torchops import f16r


@njit(cache=True)
def _f16r_all(x, out):
    for i in range(x.shape[0]):
        out[i] = f16r(x[i])


def test_f16r_is_the_ieee_float16_rounding():
    # a stride over all float32 bit patterns, and every pattern near the subnormal boundary, near
    # 65504 / the overflow point, and around zero, for both signs
    u = [np.arange(0, 1 << 32, 4099, dtype=np.uint64).astype(np.uint32)]
    for c in (0x38800000, 0x477FE000, 0x33000000, 0x00000000, 0x3F800000):
        for sgn in (0, 0x80000000):
            u.append((np.arange(-0x3000, 0x3000) + c).astype(np.int64).clip(0, 0x7FFFFFFF).astype(np.uint32) | sgn)
    v = np.concatenate(u).view(np.float32)
    v = v[np.isfinite(v)]
    got = np.empty_like(v)
    _f16r_all(v, got)
    with np.errstate(over="ignore"):
        want = v.astype(np.float16).astype(np.float32)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
