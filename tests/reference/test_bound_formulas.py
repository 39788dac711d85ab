"""Every op's error bound is exactly the formula of reference/tolerance.py, term count included: a
bound looser than its formula (a widened factor, an extra term, a larger n) fails here, as a bound
that does not hold fails test_tolerance.py. The formula is written out again below, from the module
docstring, with the term count of each op derived from its geometry:

    bound(n, magnitude) = (gamma(n + 1, dtype) + gamma(n + 1, float64)) * magnitude + 2 n tiny(dtype)

conv: n = C / groups * prod(kernel) + 1 (the bias), magnitude conv(|x|, |w|, |b|); its dx: n = O /
groups * prod(kernel); dw and db: n = N * prod(output spatial); average pooling and its gradient:
n = prod(kernel) + 1 (the division); max-pool gradient: n = prod(kernel) + 1; global average:
n = prod(spatial) + 1."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given

from convequiv import reference
from convequiv.reference import tolerance
from convequiv.reference.strategies import conv_cases, examples, global_pool_cases, pool_cases

DTYPES = (np.float32, np.float64)


def formula(n: int, magnitude: np.ndarray, dtype: type[np.floating]) -> np.ndarray:
    """The module docstring's bound, computed without the module."""

    def gamma(k: int, u: float) -> float:
        return k * u / (1 - k * u)

    u = float(np.finfo(dtype).eps) / 2
    factor = gamma(n + 1, u) + gamma(n + 1, 2.0**-53)
    return factor * np.abs(magnitude) + 2 * n * float(np.finfo(dtype).tiny)


def assert_is_formula(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """Equal up to the rounding of the two evaluations of the same expression (a few ulps)."""
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=0, err_msg=what)


@given(ex=examples(conv_cases(), values=("normal",)))
def test_conv_bounds_are_their_formula(ex):
    case = ex.case
    inputs = ex.inputs(np.float64)
    kw = case.kwargs()
    x, w, dy = np.abs(inputs.x), np.abs(inputs.w), np.abs(inputs.dy)
    b = None if inputs.b is None else np.abs(inputs.b)
    taps = math.prod(case.w_shape[2:])
    n_y = case.w_shape[1] * taps + 1  # w_shape[1] is C / groups
    n_dx = case.w_shape[0] // case.groups * taps
    n_dw = case.x_shape[0] * math.prod(case.out_shape[2:])
    mdx, mdw, mdb = reference.conv_backward(x, w, dy, **kw)
    for dtype in DTYPES:
        y = tolerance.conv_bound(inputs.x, inputs.w, inputs.b, dtype=dtype, **kw)
        assert_is_formula(y, formula(n_y, reference.conv(x, w, b, **kw), dtype), f"conv y, {dtype.__name__}")
        dx, dw, db = tolerance.conv_backward_bound(inputs.x, inputs.w, inputs.dy, dtype=dtype, **kw)
        assert_is_formula(dx, formula(n_dx, mdx, dtype), "conv dx")
        assert_is_formula(dw, formula(n_dw, mdw, dtype), "conv dw")
        assert_is_formula(db, formula(n_dw, mdb, dtype), "conv db")


@given(ex=examples(pool_cases("avg"), values=("normal",)))
def test_avg_pool_bounds_are_their_formula(ex):
    case = ex.case
    inputs = ex.inputs(np.float64)
    kw = case.kwargs()
    n = math.prod(case.kernel) + 1
    magnitude = reference.avg_pool(np.abs(inputs.x), case.kernel, **kw)
    routed = reference.avg_pool_backward(inputs.x, np.abs(inputs.dy), case.kernel, **kw)
    for dtype in DTYPES:
        y = tolerance.avg_pool_bound(inputs.x, case.kernel, dtype=dtype, **kw)
        assert_is_formula(y, formula(n, magnitude, dtype), "avg_pool y")
        dx = tolerance.avg_pool_backward_bound(inputs.x, inputs.dy, case.kernel, dtype=dtype, **kw)
        assert_is_formula(dx, formula(n, routed, dtype), "avg_pool dx")


@given(ex=examples(pool_cases("max")))
def test_max_pool_gradient_bound_is_its_formula(ex):
    case = ex.case
    inputs = ex.inputs(np.float64)
    kw = case.kwargs()
    n = math.prod(case.kernel) + 1
    routed = reference.max_pool_backward(inputs.x, np.abs(inputs.dy), case.kernel, **kw)
    for dtype in DTYPES:
        dx = tolerance.max_pool_backward_bound(inputs.x, inputs.dy, case.kernel, dtype=dtype, **kw)
        assert_is_formula(dx, formula(n, routed, dtype), "max_pool dx")


@given(ex=examples(global_pool_cases(modes=("avg",)), values=("normal",)))
def test_global_avg_pool_bound_is_its_formula(ex):
    case = ex.case
    inputs = ex.inputs(np.float64)
    n = math.prod(case.x_shape[2:]) + 1
    magnitude = reference.global_avg_pool(np.abs(inputs.x), keepdims=case.keepdims)
    for dtype in DTYPES:
        y = tolerance.global_avg_pool_bound(inputs.x, dtype=dtype, keepdims=case.keepdims)
        assert_is_formula(y, formula(n, magnitude, dtype), "global_avg_pool y")
