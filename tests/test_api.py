"""The public datatype API: registry, names, and clear errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest

import datatypes as dt

X = np.ones((2, 8), np.float32)


def test_formats_and_get():
    names = dt.formats()
    assert len(names) == len(set(names)) >= 47
    for n in names:
        f = dt.get(n)
        assert f.name == n and dt.get(n.upper()) is f and dt.get(f) is f
        d = f.describe()
        for key in ("rounding", "ties", "overflow", "scale"):
            assert d[key], (n, key)
    assert set(dt.formats(bits=4)) <= set(names) and all(dt.get(n).bits == 4 for n in dt.formats(bits=4))


def test_unknown_format_suggests_close_names():
    with pytest.raises(dt.FormatError, match=r"unknown format 'sf5'.*did you mean.*'sf4_5'"):
        dt.quantize(X, "sf5")
    with pytest.raises(dt.FormatError, match="unknown format 'zzz'"):
        dt.get("zzz")
    with pytest.raises(dt.FormatError, match="must be a name"):
        dt.get(4)


@pytest.mark.parametrize("bad, what", [
    (np.array([[1.0, np.nan]], np.float32), r"1 non-finite value\(s\).*index \(0, 1\)"),
    (np.array([[np.inf, 1.0, -np.inf]]), r"2 non-finite"),
    (np.zeros((0, 4), np.float32), "empty"),
    (np.float32(1.0), "scalar"),
])
def test_bad_values(bad, what):
    with pytest.raises(dt.InputError, match=what):
        dt.quantize(bad, "nf4")


@pytest.mark.parametrize("bad, what", [
    (np.arange(8).reshape(2, 4), "integer/bool dtype int64"),
    (np.ones((2, 4), bool), "integer/bool dtype bool"),
    (np.ones((2, 4), np.complex64), "complex"),
    (np.array([["a", "b"]]), "dtype <U1"),
    ("abc", "not str"),
])
def test_bad_types(bad, what):
    with pytest.raises(dt.InputTypeError, match=what):
        dt.quantize(bad, "int4")


@pytest.mark.parametrize("g", [0, -1, -128, 2.5, "8", True])
def test_bad_group_sizes(g):
    with pytest.raises(dt.FormatError, match="group_size must be a positive integer or None"):
        dt.quantize(X, "sf4", group_size=g)


def test_options():
    with pytest.raises(dt.FormatError, match=r"'sf4_5' does not take option\(s\) symmetric; it takes: quantile=1.0"):
        dt.quantize(X, "sf4", symmetric=False)
    with pytest.raises(dt.FormatError, match="quantile=0 must be a clip ratio"):
        dt.quantize(X, "nf4", quantile=0)
    with pytest.raises(dt.FormatError, match="symmetric='no' must be True or False"):
        dt.quantize(X, "int4", symmetric="no")
    with pytest.raises(dt.FormatError, match="rule='fast' is not one of 'ocp', 'better'"):
        dt.quantize(np.ones((1, 32), np.float32), "mxfp4", rule="fast")
    with pytest.raises(dt.FormatError, match="overflow='inf' is not one of"):
        dt.quantize(X, "float8_e4m3fn", overflow="inf")


def test_lists_and_ml_dtypes_input_accepted():
    import ml_dtypes

    a = dt.quantize([[0.5, -1.0, 0.25]], "nf4").dequantize()
    b = dt.quantize(np.float32([[0.5, -1.0, 0.25]]), "nf4").dequantize()
    assert np.array_equal(a, b)
    c = dt.quantize(np.float32([[0.5, -1.0, 0.25]]).astype(ml_dtypes.bfloat16), "nf4").dequantize()
    assert np.array_equal(b, c)


def test_exact_fixed_point():
    ints, frac = dt.exact_fixed_point([0.5, -1.5, 6.0, np.nan, 0.0])
    assert frac == 1 and ints == [1, -3, 12, 0, 0]
    for name in dt.formats():
        vals = dt.get(name).code_values()
        ints, frac = dt.exact_fixed_point(vals)
        ok = np.isfinite(vals)
        assert all(i * 2.0 ** -frac == v for i, v in zip(np.array(ints, object)[ok], vals[ok]))
