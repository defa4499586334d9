"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("default", deadline=None, max_examples=60)
settings.load_profile("default")

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def reference_vectors() -> dict[str, np.ndarray]:
    with np.load(DATA / "reference_vectors.npz") as z:
        return {k: z[k] for k in z.files}
