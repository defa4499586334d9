"""Shared access to tests/data/reference_vectors_research.npz (made by
tests/reference/generate_research_vectors.py from the published reference code)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

PATH = Path(__file__).resolve().parent / "data" / "reference_vectors_research.npz"


@lru_cache(maxsize=1)
def vectors() -> dict[str, np.ndarray]:
    with np.load(PATH) as z:
        return {k: z[k] for k in z.files}


def keys(prefix: str) -> list[str]:
    return sorted(k for k in vectors() if k.startswith(prefix))


def bits32(a) -> np.ndarray:
    """The float32 bit patterns of ``a`` (fp16 / bf16 / fp32 widen exactly, sign of zero kept)."""
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32)).view(np.uint32)


def same(a, b) -> bool:
    """Bit-pattern equality (fp16 / bf16 / fp32 compared as float32 bit patterns: +0.0 != -0.0)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.array_equal(bits32(a), bits32(b))


def diff_message(key: str, got, ref) -> str:
    """Where two results differ in bit pattern (for an assertion message)."""
    g, r = bits32(got), bits32(ref)
    if g.shape != r.shape:
        return f"{key}: shape {g.shape} != reference {r.shape}"
    bad = np.argwhere(g != r)
    if not len(bad):
        return f"{key}: equal"
    i = tuple(bad[0])
    return (f"{key}: {len(bad)} of {r.size} bit patterns differ; first at {i}: ours "
            f"{np.asarray(got, np.float32)[i]!r} reference {np.asarray(ref, np.float32)[i]!r}")


def tokens(x4: np.ndarray) -> np.ndarray:
    """[batch, heads, tokens, head_dim] -> [tokens, heads * head_dim] (the reference's grouping)."""
    b, h, t, d = x4.shape
    return x4.transpose(0, 2, 1, 3).reshape(b * t, h * d)


def heads(x2: np.ndarray, h: int) -> np.ndarray:
    """[tokens, heads * head_dim] -> [1, heads, tokens, head_dim] (inverse of :func:`tokens` for batch 1)."""
    t, c = x2.shape
    return x2.reshape(1, t, h, c // h).transpose(0, 2, 1, 3)
