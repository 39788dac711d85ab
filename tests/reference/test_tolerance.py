"""reference.tolerance: unit roundoff, gamma, sum_bound and the op bounds. The bounds must really
bound the error of a float32 computation of the same sums (computed here with NumPy in float32),
and a layout bug (transposed kernel, two swapped taps) must land far above them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convequiv import reference
from convequiv.reference import tolerance
from convequiv.reference.strategies import EDGE_CASES, conv_cases, examples, global_pool_cases, pool_cases

from . import naive


def test_unit_roundoff():
    """u = eps / 2: 2**-24 for float32, 2**-53 for float64, 2**-11 for float16."""
    assert tolerance.unit_roundoff(np.float32) == 2.0**-24
    assert tolerance.unit_roundoff(np.float64) == 2.0**-53
    assert tolerance.unit_roundoff("float16") == 2.0**-11


def test_gamma():
    """gamma(n) = n u / (1 - n u), increasing in n; it refuses n u >= 1 with a ValueError naming n."""
    u = 2.0**-24
    assert tolerance.gamma(1, np.float32) == u / (1 - u)
    assert tolerance.gamma(1000, np.float32) == 1000 * u / (1 - 1000 * u)
    assert tolerance.gamma(10, np.float64) < tolerance.gamma(11, np.float64) < tolerance.gamma(11, np.float32)
    with pytest.raises(ValueError, match="n=16777216"):
        tolerance.gamma(2**24, np.float32)


def test_sum_bound_formula():
    """sum_bound = (gamma(terms + 1, dtype) + gamma(terms + 1, float64)) * |magnitude| + 2 terms tiny,
    elementwise, with at least one term."""
    magnitude = np.array([[0.0, 1.0], [-3.5, 1e30]])
    got = tolerance.sum_bound(magnitude, 9, np.float32)
    factor = tolerance.gamma(10, np.float32) + tolerance.gamma(10, np.float64)
    expected = factor * np.abs(magnitude) + 18 * float(np.finfo(np.float32).tiny)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(
        tolerance.sum_bound(magnitude, 0, np.float32), tolerance.sum_bound(magnitude, 1, np.float32)
    )
    assert got[0, 0] > 0  # a zero magnitude still allows flushed denormals


@given(
    values=st.lists(st.floats(-1e6, 1e6, width=32), min_size=1, max_size=300),
    weights=st.lists(st.floats(-1e3, 1e3, width=32), min_size=300, max_size=300),
)
def test_sum_bound_bounds_float32_sums_and_dots(values, weights):
    """float32 sums in several orders (pairwise, sequential, sorted, reversed) and a float32 dot
    product stay within sum_bound of the exact value (fsum of float64 products, which are exact
    for float32 factors)."""
    a = np.array(values, np.float32)
    b = np.array(weights[: a.size], np.float32)
    n = a.size
    exact_sum = math.fsum(a.astype(np.float64))
    bound = float(tolerance.sum_bound(np.abs(a.astype(np.float64)).sum(), n, np.float32))
    orders = [a, a[::-1], np.sort(a), a[np.argsort(np.abs(a))]]
    for order in orders:
        for total in (np.sum(order, dtype=np.float32), np.cumsum(order, dtype=np.float32)[-1]):
            assert abs(float(total) - exact_sum) <= bound
    products = a.astype(np.float64) * b.astype(np.float64)
    dot_bound = float(tolerance.sum_bound(np.abs(products).sum(), n, np.float32))
    assert abs(float(np.dot(a, b)) - math.fsum(products)) <= dot_bound


def float32_conv(x, w, b, *, stride, padding, dilation, groups) -> np.ndarray:
    """A float32 convolution computed with NumPy: an im2col matrix gathered by loops, then one
    float32 matrix product per group (BLAS, any summation order) and a float32 bias add."""
    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    nd = x.ndim - 2
    kernel = w.shape[2:]
    pads, outs = naive.geometry(x.shape[2:], kernel, stride, padding, dilation)
    stride, dilation = naive.per_dim(stride, nd), naive.per_dim(dilation, nd)
    cols = np.zeros((x.shape[0], *outs, x.shape[1], *kernel), np.float32)
    for i in naive.grid(outs):
        for k in naive.grid(kernel):
            p = naive.tap_position(i, k, stride, dilation, pads)
            if naive.on_input(p, x.shape[2:]):
                cols[(slice(None), *i, slice(None), *k)] = x32[(slice(None), slice(None), *p)]
    n, positions = x.shape[0], math.prod(outs)
    cols = cols.reshape(n, positions, groups, -1)
    og = w.shape[0] // groups
    y = np.empty((n, positions, w.shape[0]), np.float32)
    for g in range(groups):
        y[:, :, g * og : (g + 1) * og] = np.matmul(cols[:, :, g], w32[g * og : (g + 1) * og].reshape(og, -1).T)
    if b is not None:
        y = y + b.astype(np.float32)
    return np.moveaxis(y, -1, 1).reshape((n, w.shape[0], *outs))


@given(ex=examples(conv_cases(), values=("normal",)), scale=st.sampled_from([1.0, 1e-3, 1e4]))
def test_conv_bound_bounds_a_float32_conv(ex, scale):
    """For float32-representable inputs, a float32 NumPy convolution differs from the float64
    reference by at most conv_bound(dtype=float32), elementwise."""
    case = ex.case
    inputs = ex.inputs(np.float32)
    kw = case.kwargs()
    x = (inputs.x * scale).astype(np.float32).astype(np.float64)
    y32 = float32_conv(x, inputs.w, inputs.b, **kw)
    exact = reference.conv(x, inputs.w, inputs.b, **kw)
    bound = tolerance.conv_bound(x, inputs.w, inputs.b, dtype=np.float32, **kw)
    err = np.abs(y32.astype(np.float64) - exact)
    worst = np.unravel_index(int(np.argmax(err - bound)), err.shape)
    assert np.all(err <= bound), f"error {err[worst]:.3e} > bound {bound[worst]:.3e} at {worst}; {ex!r}"


def _conv_edge_cases():
    return [e for e in EDGE_CASES.values() if e.case.op == "conv"]


@pytest.mark.parametrize("ex", _conv_edge_cases(), ids=lambda e: e.name)
def test_kernel_layout_bugs_are_far_above_the_conv_bound(ex):
    """Transposing the spatial axes of a square 2-D kernel, or swapping two neighbouring taps of
    one filter, moves some output by more than 1000 times its float32 bound: the bound cannot hide
    a layout bug."""
    case, inputs = ex.case, ex.inputs(np.float32)
    kw = case.kwargs()
    y = reference.conv(inputs.x, inputs.w, inputs.b, **kw)
    bound = tolerance.conv_bound(inputs.x, inputs.w, inputs.b, dtype=np.float32, **kw)
    wrong = []
    kernel = inputs.w.shape[2:]
    if len(kernel) == 2 and kernel[0] == kernel[1]:
        wrong.append(("transposed", np.swapaxes(inputs.w, -1, -2)))
    swapped = inputs.w.copy()
    flat = swapped.reshape(swapped.shape[0], swapped.shape[1], -1)
    flat[0, 0, [0, 1]] = flat[0, 0, [1, 0]]
    wrong.append(("two taps swapped", swapped))
    for label, w_bad in wrong:
        ratio = np.abs(reference.conv(inputs.x, w_bad, inputs.b, **kw) - y) / bound
        assert ratio.max() > 1e3, f"{label}: largest error only {ratio.max():.1f} x the bound; {ex!r}"


@given(ex=examples(pool_cases("avg", avg_dilation=True), values=("normal",)))
def test_avg_pool_bound_bounds_a_float32_avg_pool(ex):
    """A float32 average pooling (window sums in float32, then a float32 division) stays within
    avg_pool_bound of the float64 reference, dilated or not."""
    case = ex.case
    inputs = ex.inputs(np.float32)
    kw = case.kwargs()
    x32 = inputs.x.astype(np.float32)
    pads, outs = naive.geometry(
        case.x_shape[2:], case.kernel, case.resolved_stride, case.padding, case.dilation, case.ceil_mode
    )
    total = np.zeros(case.x_shape[:2] + outs, np.float32)
    count = np.zeros(outs, np.float32)
    for i in naive.grid(outs):
        for k in naive.grid(case.kernel):
            p = naive.tap_position(i, k, case.resolved_stride, case.dilation, pads)
            if naive.on_input(p, case.x_shape[2:]):
                total[(slice(None), slice(None), *i)] += x32[(slice(None), slice(None), *p)]
            inside = (
                naive.in_padded_extent(p, case.x_shape[2:], pads)
                if case.count_include_pad
                else naive.on_input(p, case.x_shape[2:])
            )
            count[i] += inside
    y32 = total / count
    exact = reference.avg_pool(inputs.x, case.kernel, **kw)
    bound = tolerance.avg_pool_bound(inputs.x, case.kernel, dtype=np.float32, **kw)
    assert np.all(np.abs(y32.astype(np.float64) - exact) <= bound), ex


@given(ex=examples(global_pool_cases(modes=("avg",)), values=("normal",)))
def test_global_avg_pool_bound_bounds_a_float32_mean(ex):
    """np.mean in float32 over the spatial axes stays within global_avg_pool_bound."""
    case = ex.case
    inputs = ex.inputs(np.float32)
    axes = tuple(range(2, 2 + case.nd))
    y32 = np.mean(inputs.x.astype(np.float32), axis=axes, dtype=np.float32, keepdims=case.keepdims)
    exact = reference.global_avg_pool(inputs.x, keepdims=case.keepdims)
    bound = tolerance.global_avg_pool_bound(inputs.x, dtype=np.float32, keepdims=case.keepdims)
    assert np.all(np.abs(y32.astype(np.float64) - exact) <= bound), ex


def test_agree_formula():
    """agree's bound is (gamma(terms + 1, dtype) + gamma(terms + 1, other)) * |magnitude| + 2 terms (tiny(dtype) +
    tiny(other)), elementwise; an exact other (None) contributes nothing. At the bound the two agree, one step above
    it they do not."""
    magnitude = np.array([0.0, 1.0, -3.5, 1e30])
    for dtype, other in ((np.float64, np.float64), (np.float32, np.float64), (np.float32, np.float32)):
        bound = (tolerance.gamma(10, dtype) + tolerance.gamma(10, other)) * np.abs(magnitude) + 18 * (
            float(np.finfo(dtype).tiny) + float(np.finfo(other).tiny)
        )
        zero = np.zeros_like(magnitude)
        assert tolerance.agree(zero, bound, magnitude, 9, dtype, other)
        assert tolerance.agree(-bound, zero, magnitude, 9, dtype, other)
        for i in range(magnitude.size):
            above = bound.copy()
            above[i] = np.nextafter(bound[i], np.inf)
            assert not tolerance.agree(zero, above, magnitude, 9, dtype, other), (dtype, other, i)
    exact = tolerance.gamma(10, np.float32) * np.abs(magnitude) + 18 * float(np.finfo(np.float32).tiny)
    assert tolerance.agree(np.zeros(4), exact, magnitude, 9, np.float32, None)
    assert not tolerance.agree(np.zeros(4), exact * (1 + 2**-40), magnitude, 9, np.float32, None)
    # float64 against the reference: sum_bound plus 2 terms tiny(float64)
    np.testing.assert_array_equal(
        tolerance.sum_bound(magnitude, 9, np.float32) + 18 * float(np.finfo(np.float64).tiny),
        (tolerance.gamma(10, np.float32) + tolerance.gamma(10, np.float64)) * np.abs(magnitude)
        + 18 * (float(np.finfo(np.float32).tiny) + float(np.finfo(np.float64).tiny)),
    )


def test_agree_equal_values_shapes_and_nan():
    """Equal values agree with no magnitude at all (infinities too); different shapes or a NaN never agree."""
    values = np.array([1.5, -np.inf, np.inf, 0.0])
    assert tolerance.agree(values, values.copy(), np.zeros(4), 1, np.float64)
    assert not tolerance.agree(values, values[:3], np.ones(4), 1, np.float64)
    assert not tolerance.agree(np.ones((2, 1)), np.ones((1, 2)), 1.0, 1, np.float64)
    assert not tolerance.agree(np.array([np.nan]), np.array([np.nan]), np.array([1e300]), 1, np.float64)
    assert not tolerance.agree(np.array([1.0, 2.0]), np.array([1.0, 2.5]), np.array([1.0, 2.0]), 1, np.float64)


@given(
    values=st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=400),
    width=st.sampled_from([32, 64]),
)
def test_agree_accepts_two_summation_orders(values, width):
    """Two real computations of the same sum in different orders, both in float32 or both in float64 (pairwise
    np.sum against a sequential cumsum, sorted against reversed), and a float32 sum against a float64 one, agree.
    One step beyond the bound around the float64 result, they would not (the bound has no hidden slack)."""
    dtype = np.float32 if width == 32 else np.float64
    a = np.array(values, dtype)
    n = a.size
    magnitude = np.abs(a.astype(np.float64)).sum()
    pairwise, sequential = np.sum(a, dtype=dtype), np.cumsum(a, dtype=dtype)[-1]
    ascending, reverse = np.sum(np.sort(a), dtype=dtype), np.cumsum(a[::-1], dtype=dtype)[-1]
    assert tolerance.agree(pairwise, sequential, magnitude, n, dtype, dtype)
    assert tolerance.agree(ascending, reverse, magnitude, n, dtype, dtype)
    as64 = np.cumsum(a.astype(np.float64))[-1]
    assert tolerance.agree(sequential, as64, magnitude, n, dtype)
    factor = tolerance.gamma(n + 1, dtype) + tolerance.gamma(n + 1, np.float64)
    floor = 2 * n * (float(np.finfo(dtype).tiny) + float(np.finfo(np.float64).tiny))
    beyond = np.nextafter(float(as64) + factor * magnitude + floor, np.inf)
    while beyond - float(as64) <= factor * magnitude + floor:
        beyond = np.nextafter(beyond, np.inf)
    assert not tolerance.agree(beyond, as64, magnitude, n, dtype)


@given(ex=examples(conv_cases(), values=("normal",)))
def test_agree_accepts_real_convolutions_computed_two_ways(ex):
    """The reference convolution of a batch against the same convolution sample by sample (different BLAS calls,
    so possibly different summation orders), and a float32 convolution (float32_conv above) against the reference,
    agree within agree's float64 and float32 bounds."""
    case = ex.case
    inputs = ex.inputs(np.float32)
    kw = case.kwargs()
    x, w, b = inputs.x, inputs.w, inputs.b
    batched = reference.conv(x, w, b, **kw)
    single = np.concatenate([reference.conv(x[i : i + 1], w, b, **kw) for i in range(x.shape[0])])
    magnitude = reference.conv(np.abs(x), np.abs(w), None if b is None else np.abs(b), **kw)
    terms = w[0].size + 1
    assert tolerance.agree(batched, single, magnitude, terms, np.float64)
    assert tolerance.agree(float32_conv(x, w, b, **kw), batched, magnitude, terms, np.float32)
