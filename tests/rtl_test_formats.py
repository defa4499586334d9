"""Formats used only by the RTL tests (not registered in datatypes)."""

from __future__ import annotations

import numpy as np

import datatypes as dt


class RazerLike(dt.Format):
    """Not registered: E2M1 whose negative-zero code decodes to a per-group special value chosen by
    a 2-bit selector ({+5, -5, +8} and, for selector 3, no special: the code is unused). This is
    the shape RaZeR/BitMoD formats give ``code_values(meta)``."""

    family = "test"
    name = "razer_like"
    bits = 4
    n_meta = 4

    def code_values(self, meta=0):
        v = dt.get("float4_e2m1fn").code_values().copy()
        v[0x8] = [5.0, -5.0, 8.0, np.nan][meta]
        return v
