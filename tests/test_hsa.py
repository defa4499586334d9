"""The hsa kind (hybrid systolic array for edge LLMs): MXINT4 against microxcaling, the GEMV-mode
functional model against numpy, the RMSNorm / RoPE units against numpy references of the same op
order, the decode cycle model (clock-stepped) against its closed form, and the registry path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import datatypes as dt

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "data" / "mxint4_vectors.npz"


# ---- MXINT4 (datatypes) ----------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["normal", "heavy", "ties", "special"])
def test_mxint4_bit_exact_with_microxcaling(case):
    d = np.load(VECTORS)
    x, ref = d[f"input/{case}"], d[f"mxint4/{case}"]
    got = dt.quantize(x, "mxint4").dequantize()
    assert got.dtype == np.float32 and got.shape == ref.shape
    assert np.array_equal(got.view(np.uint32), ref.view(np.uint32))


def test_mxint4_codes_and_storage():
    f = dt.get("mxint4")
    vals = f.code_values()
    assert np.isnan(vals[8]) and sorted(vals[np.isfinite(vals)]) == [k / 4 for k in range(-7, 8)]
    q = dt.quantize(np.linspace(-3, 3, 64, dtype=np.float32).reshape(1, 64), "mxint4")
    assert not np.any(q.codes == 8)                       # -8 is never produced
    assert q.scales.shape == (1, 2)
    assert q.bits_per_element() == pytest.approx(4.25)       # 4-bit elements + an 8-bit E8M0 per 32
