"""SF4-study codebooks: published tables, their construction, and the quantizer's properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.stats import norm, t

import datatypes as dt
from research_vectors import same
from datatypes.codebook import TABLES, normal_float_levels

CODEBOOKS = dt.formats(family="codebook")


# ---- tables ---------------------------------------------------------------------------------------
def test_nf4_from_normal_quantiles():
    assert np.abs(normal_float_levels(norm.ppf) - TABLES["nf4"]).max() < 2e-7


@pytest.mark.parametrize("nu", [3, 4, 5])
def test_sf4_from_student_t_quantiles_rounded_to_six_decimals(nu):
    levels = normal_float_levels(lambda p: t.ppf(p, nu))
    assert np.array_equal(np.round(levels, 6), TABLES[f"sf4_{nu}"])


def test_sf4_6_and_7_from_student_t_quantiles():
    # sf4_6 is stored to 6 decimals with one entry one unit lower in the last digit (0.137742 where
    # rounding gives 0.137743); sf4_7 is stored unrounded.
    assert np.abs(normal_float_levels(lambda p: t.ppf(p, 6)) - TABLES["sf4_6"]).max() < 1e-6
    assert np.abs(normal_float_levels(lambda p: t.ppf(p, 7)) - TABLES["sf4_7"]).max() < 2e-7


def test_sf4_alias_is_student_t_nu5():
    assert dt.get("sf4") is dt.get("sf4_5")
    assert dt.get("e2m1") is dt.get("fp4_basic")
    assert dt.get("e2m1_sr") is dt.get("fp4_range")
    assert dt.get("e2m1_sp") is dt.get("fp4_prec2")


@pytest.mark.parametrize("name", CODEBOOKS)
def test_table_shape_and_codes(name):
    f = dt.get(name)
    lv = f.levels
    assert np.all(np.diff(lv) > 0)
    assert len(lv) in ((15, 16) if f.bits == 4 else (7, 8))
    vals = f.code_values()
    assert len(vals) == 1 << f.bits
    # every level has exactly one code (decoding to the float32 level), and unused codes are NaN
    assert np.array_equal(np.sort(vals[~np.isnan(vals)]), lv.astype(np.float32))
    assert np.isnan(vals).sum() == (1 << f.bits) - len(lv)


def test_e2m1_codes_are_the_standard_layout():
    vals = dt.get("fp4_basic").code_values()
    assert list(vals[:8]) == [0, 0.5, 1, 1.5, 2, 3, 4, 6]
    assert list(vals[9:]) == [-0.5, -1, -1.5, -2, -3, -4, -6]
    assert np.isnan(vals[8])                   # negative zero: unused
    # supernormal variants decode the negative-zero code to their extra value
    assert dt.get("fp4_range").code_values()[8] == 8.0
    assert dt.get("fp4_prec2").code_values()[8] == 5.0
    assert dt.get("fp4_prec1").code_values()[8] == 2.5
    assert dt.get("apot4-sp").code_values()[8] == 0.5
    assert np.array_equal(dt.get("nf4").code_values(), np.float32(TABLES["nf4"]))  # index codes


# ---- exhaustive over codes --------------------------------------------------------------------------
def _unit_scale_group(f):
    """Every level once, in scale units, plus max(levels) so that the group's scale is exactly 1."""
    top = float(f.levels.max())
    assert abs(f.levels).max() == top or f.name in ("fp4_range", "en_25", "denorm4")
    lv = f.levels[np.abs(f.levels) <= top]       # levels a unit-scale group can hold
    return np.concatenate([lv, [top]]).astype(np.float32)


@pytest.mark.parametrize("name", CODEBOOKS)
def test_every_reachable_level_quantizes_to_its_code(name):
    f = dt.get(name)
    x = _unit_scale_group(f)
    q = dt.quantize(x[None, :], f, group_size=None)
    assert q.scales[0, 0] == np.float32(1.0)
    vals = f.code_values()
    assert np.array_equal(vals[q.codes[0]].astype(np.float32), x)
    assert same(q.dequantize()[0], x)


@pytest.mark.parametrize("name", CODEBOOKS)
def test_exact_midpoints_go_to_the_lower_level(name):
    f = dt.get(name)
    top = float(f.levels.max())
    mids = (f.levels[:-1] + f.levels[1:]) / 2          # the reference computes them in float64 ...
    keep = np.abs(mids) < top
    x = np.concatenate([mids[keep], [top]]).astype(np.float32)   # ... and compares in float32
    y = dt.quantize(x[None, :], f, group_size=None).dequantize()[0][:-1]
    assert np.array_equal(y, f.levels[:-1][keep].astype(np.float32))


# ---- properties ---------------------------------------------------------------------------------------
finite32 = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False, width=32)


def _rows(min_size=1, max_size=300):
    return st.lists(finite32, min_size=min_size, max_size=max_size).map(lambda v: np.array(v, np.float32)[None, :])


@given(x=_rows(), name=st.sampled_from(CODEBOOKS), g=st.sampled_from([None, 1, 7, 32, 128]))
def test_idempotent(x, name, g):
    f = dt.get(name)
    if -f.levels.max() not in f.levels:
        # tables without -max(levels) (fp4_range, en_25) rescale when a negative element holds the
        # group's absmax (it maps to a level of smaller magnitude); idempotence holds otherwise
        gg = x.shape[1] if g is None else g
        for s in range(0, x.shape[1], gg):
            grp = x[0, s:s + gg]
            assume(grp.max() >= -grp.min())
    q = dt.quantize(x, f, group_size=g)
    y = q.dequantize()
    q2 = dt.quantize(y, f, group_size=g)
    assert same(q2.dequantize(), y)
    nz = q.scales != 0
    assert np.array_equal(q2.scales[nz], q.scales[nz])


@given(x=_rows(min_size=2), name=st.sampled_from(CODEBOOKS))
def test_monotone_within_a_group(x, name):
    xs = np.sort(x, axis=1)
    y = dt.quantize(xs, name, group_size=None).dequantize()
    assert np.all(np.diff(y[0]) >= 0)


@given(x=_rows(), name=st.sampled_from(CODEBOOKS))
def test_nearest_level(x, name):
    f = dt.get(name)
    q = dt.quantize(x, f, group_size=None)
    s = np.float64(q.scales[0, 0])
    assume(s > 0)
    v = (x[0] / np.float32(s)).astype(np.float64)          # what the quantizer compares (fp32)
    chosen = f.code_values()[q.codes[0]]
    dist = np.abs(v[:, None] - f.levels[None, :])
    best = dist.min(axis=1)
    # exact up to the float32 rounding of the midpoints the reference compares with
    assert np.all(np.abs(v - chosen) <= best + 1e-6 * max(1.0, float(np.abs(f.levels).max())))


@pytest.mark.parametrize("name", CODEBOOKS)
def test_all_zero_group(name):
    f = dt.get(name)
    x = np.zeros((2, 256), np.float32)
    x[1, :128] = np.linspace(-1, 1, 128)
    q = dt.quantize(x, f, group_size=128)
    assert q.scales[0, 0] == 0 and q.scales[0, 1] == 0 and q.scales[1, 1] == 0
    y = q.dequantize()
    # bit patterns: +0.0 as the reference (0/0 matches no level interval, so its sum of levels is +0)
    assert not np.any(y[0].view(np.uint32)) and not np.any(y[1, 128:].view(np.uint32))
    first_nonneg = int(np.searchsorted(f.levels, 0.0))
    assert np.all(f.code_values()[q.codes[0]] == np.float32(f.levels[first_nonneg]))


def test_tail_group_is_quantized_on_its_own():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 300)).astype(np.float32)
    q = dt.quantize(x, "sf4", group_size=128)
    assert q.scales.shape == (3, 3) and q.n_groups == 3
    head = dt.quantize(x[:, :256], "sf4", group_size=128)
    tail = dt.quantize(x[:, 256:], "sf4", group_size=None)
    assert np.array_equal(q.codes, np.concatenate([head.codes, tail.codes], axis=1))
    assert np.array_equal(q.scales, np.concatenate([head.scales, tail.scales], axis=1))


def test_group_size_at_least_row_length_means_per_row():
    x = np.random.default_rng(2).standard_normal((4, 100)).astype(np.float32)
    a = dt.quantize(x, "nf4", group_size=None)
    for g in (100, 128, 10_000):
        b = dt.quantize(x, "nf4", group_size=g)
        assert np.array_equal(a.codes, b.codes) and np.array_equal(a.scales, b.scales)


def test_nd_input_groups_along_last_axis():
    x = np.random.default_rng(3).standard_normal((2, 3, 256)).astype(np.float32)
    q = dt.quantize(x, "nf4", group_size=64)
    flat = dt.quantize(x.reshape(6, 256), "nf4", group_size=64)
    assert q.codes.shape == (2, 3, 256) and q.scales.shape == (2, 3, 4)
    assert same(q.dequantize().reshape(6, 256), flat.dequantize())


def test_input_dtypes_are_converted_to_float32_like_the_reference():
    x = np.random.default_rng(4).standard_normal((2, 64))
    a = dt.quantize(x.astype(np.float32), "sf4").dequantize()
    assert same(dt.quantize(x.astype(np.float64).astype(np.float32).astype(np.float64), "sf4").dequantize(), a)
    h = x.astype(np.float16)
    assert same(dt.quantize(h, "sf4").dequantize(), dt.quantize(h.astype(np.float32), "sf4").dequantize())
