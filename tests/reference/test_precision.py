"""Reduced precision: float16 and bfloat16 by name (bfloat16 through ml_dtypes, imported only when
asked for), and the bounds of sums stored in one format and accumulated in another: they must bound
simulated float32-accumulated and storage-accumulated sums, keep the float32 / float64 bounds exactly
as they were, and tell the two accumulations apart."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convequiv.reference import precision, tolerance
from convequiv.reference.strategies import conv_cases, examples

from .test_tolerance import float32_conv

REDUCED = ("float16", "bfloat16")


def test_the_reference_imports_no_ml_dtypes_until_bfloat16_is_asked_for():
    code = (
        "import sys, convequiv.reference, convequiv.reference.cases as c; "
        "assert 'ml_dtypes' not in sys.modules; "
        "c.Example(c.PoolCase('max', (1, 1, 4), 2)).inputs('float16'); assert 'ml_dtypes' not in sys.modules; "
        "c.Example(c.PoolCase('max', (1, 1, 4), 2)).inputs('bfloat16'); assert 'ml_dtypes' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_formats_by_name():
    assert precision.numpy_dtype("bfloat16").name == "bfloat16"
    assert precision.numpy_dtype("float16") == np.float16
    assert tolerance.unit_roundoff("bfloat16") == 2.0**-8
    assert tolerance.unit_roundoff("float16") == 2.0**-11
    assert float(precision.finfo("bfloat16").tiny) == 2.0**-126
    assert precision.wider("bfloat16", "float32") == "float32"
    assert precision.wider("float64", "float32") == "float64"  # nothing accumulates more coarsely than it stores
    assert precision.wider("float16", None) == "float16"
    assert precision.is_reduced("bfloat16") and not precision.is_reduced(np.float32)


@given(ex=examples(conv_cases()), dtype=st.sampled_from(REDUCED))
def test_inputs_are_exactly_representable(ex, dtype):
    inputs = ex.inputs(dtype, tangents=True)
    for name, a in vars(inputs).items():
        if a is not None:
            np.testing.assert_array_equal(a.astype(precision.numpy_dtype(dtype)).astype(np.float64), a, err_msg=name)
    assert all(v.dtype == precision.numpy_dtype(dtype) for v in inputs.astype(dtype).values())


def test_growth_is_gamma_without_its_limit():
    for dtype in ("float32", "float16", "bfloat16"):
        for n in (1, 10, 100):
            assert tolerance.growth(n, dtype) <= tolerance.gamma(n, dtype)
            assert tolerance.growth(n, dtype) == pytest.approx(tolerance.gamma(n, dtype), rel=n * 2.0**-7)
    assert math.isfinite(tolerance.growth(1000, "bfloat16"))  # n u > 1: gamma refuses, growth does not
    with pytest.raises(ValueError):
        tolerance.gamma(1000, "bfloat16")


def test_float32_and_float64_bounds_are_unchanged():
    """With no accumulation format, or a narrower one, the float32 / float64 bound is the formula of
    the module docstring, bit for bit."""
    magnitude = np.array([0.0, 1.0, 3.5e3])
    for dtype in (np.float32, np.float64):
        expected = (tolerance.gamma(10, dtype) + tolerance.gamma(10, np.float64)) * magnitude + 18 * float(
            np.finfo(dtype).tiny
        )
        for accumulate in (None, dtype, "float16", "bfloat16"):
            np.testing.assert_array_equal(tolerance.sum_bound(magnitude, 9, dtype, accumulate=accumulate), expected)


def test_the_accumulation_format_tightens_the_bound():
    """Stored in dtype once and accumulated in float32, the relative bound is about u(dtype) plus
    (terms + 1) u(float32); accumulated in dtype, about (terms + 1) u(dtype)."""
    magnitude = np.array([1e3])
    for dtype in REDUCED:
        coarse = tolerance.sum_bound(magnitude, 50, dtype)[0] / 1e3
        fine = tolerance.sum_bound(magnitude, 50, dtype, accumulate="float32")[0] / 1e3
        u = tolerance.unit_roundoff(dtype)
        assert 51 * u < coarse
        assert u < fine < 1.01 * u + 52 * tolerance.unit_roundoff("float32") + float(precision.finfo(dtype).tiny)


def _round(a: np.ndarray, dtype: str) -> np.ndarray:
    return a.astype(precision.numpy_dtype(dtype)).astype(np.float64)


@given(
    values=st.lists(st.floats(-1e3, 1e3, width=16), min_size=1, max_size=200),
    weights=st.lists(st.floats(-10, 10, width=16), min_size=200, max_size=200),
    dtype=st.sampled_from(REDUCED),
)
def test_bounds_bound_simulated_sums(values, weights, dtype):
    """A dot product of dtype values accumulated in float32 and stored once in dtype stays within the
    float32-accumulation bound; accumulated in dtype itself (every partial sum rounded), within the
    storage bound."""
    a = _round(np.array(values), dtype)
    b = _round(np.array(weights[: a.size]), dtype)
    products = a * b
    exact = math.fsum(products)
    magnitude = np.abs(products).sum()
    in_float32 = np.float32(0)
    in_storage = 0.0
    for p in products:
        in_float32 = np.float32(in_float32 + np.float32(p))
        in_storage = float(_round(np.array(in_storage + float(_round(np.array(p), dtype))), dtype))
    stored = float(_round(np.array(float(in_float32)), dtype))
    n = a.size
    assert abs(stored - exact) <= tolerance.sum_bound(np.array(magnitude), n, dtype, accumulate="float32")
    assert abs(in_storage - exact) <= tolerance.sum_bound(np.array(magnitude), n, dtype)


@pytest.mark.parametrize("dtype", REDUCED)
def test_storage_accumulation_breaks_the_float32_bound(dtype):
    """Stagnation: 1 + 1000 increments below half an ulp of 1 stays 1 when every partial sum is
    rounded to dtype; that error is far above the float32-accumulation bound and within the storage
    bound, so the declared accumulation format is discriminating."""
    u = tolerance.unit_roundoff(dtype)
    terms = np.array([1.0] + [0.9 * u] * 1000)
    total = 0.0
    for t in terms:
        total = float(_round(np.array(total + t), dtype))
    exact, magnitude = math.fsum(terms), terms.sum()
    assert total == 1.0
    assert abs(total - exact) > tolerance.sum_bound(np.array(magnitude), terms.size, dtype, accumulate="float32")
    assert abs(total - exact) <= tolerance.sum_bound(np.array(magnitude), terms.size, dtype)


@given(ex=examples(conv_cases(), values=("normal",)), dtype=st.sampled_from(REDUCED))
def test_conv_bounds_bound_a_float32_accumulated_reduced_conv(ex, dtype):
    """A convolution of dtype inputs computed in float32 (BLAS, any order) and rounded to dtype once
    stays within the bounds with accumulate="float32"; its JVP from two such convolutions too."""
    case = ex.case
    inputs = ex.inputs(dtype, tangents=True)
    kw = case.kwargs()
    y = _round(float32_conv(inputs.x, inputs.w, inputs.b, **kw).astype(np.float64), dtype)
    parts = [float32_conv(inputs.tx, inputs.w, inputs.tb, **kw), float32_conv(inputs.x, inputs.tw, None, **kw)]
    jvp = _round(sum(_round(p.astype(np.float64), dtype) for p in parts), dtype)
    want = case.expected(inputs)
    bounds = case.bounds(inputs, dtype, accumulate="float32")
    assert np.all(np.abs(y - want["y"]) <= bounds["y"])
    assert np.all(np.abs(jvp - want["jvp"]) <= bounds["jvp"])
