"""Non-dominated (Pareto) sets: every objective is minimised."""

from __future__ import annotations

import numpy as np


def non_dominated(objectives) -> np.ndarray:
    """Boolean mask of the rows of ``objectives`` (points x objectives, all minimised) that no other row
    dominates (another row is <= in every objective and < in at least one). Rows with a NaN are never
    in the set. Equal rows are all kept."""
    x = np.asarray(objectives, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"objectives must be a 2-D array (points x objectives), got shape {x.shape}")
    n = len(x)
    keep = np.zeros(n, dtype=bool)
    ok = ~np.isnan(x).any(axis=1)
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return keep
    # lexicographic order: a row can only be dominated by rows before it
    order = idx[np.lexsort(x[idx].T[::-1])]
    front: list[int] = []
    for i in order:
        if front:
            f = x[front]
            dom = np.all(f <= x[i], axis=1) & np.any(f < x[i], axis=1)
            if dom.any():
                continue
        front.append(i)
    keep[front] = True
    return keep
