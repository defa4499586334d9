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


def same(a, b) -> bool:
    """Exact equality of values (fp16 / bf16 / fp32 compared as float32; -0 == +0)."""
    return np.array_equal(np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32))
