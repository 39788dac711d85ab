"""Max and average pooling: the reference against the naive loop oracle (1-D, 2-D, 3-D, every
padding form, ceil_mode with the dropped-last-window rule, dilation of both kinds, both count_include_pad values,
tie-heavy and NaN / inf inputs under every tie and NaN policy, paddings far beyond the kernel),
and against numbers computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from convequiv import reference
from convequiv.reference.cases import Example, PoolCase
from convequiv.reference.strategies import examples, pin_edge_cases, pool_cases

from . import naive
from .support import assert_close, assert_identical

TIES = ("first", "split")
NANS = ("propagate", "ignore")

EXTRA_MAX = [
    Example(PoolCase("max", (2, 3, 5), 2, stride=2, padding=1, ceil_mode=True), 201, "ties"),
    Example(
        PoolCase("max", (1, 2, 5, 4, 6), (2, 3, 2), stride=2, padding="same_lower", dilation=(1, 2, 1)), 202, "special"
    ),
    Example(
        PoolCase("max", (2, 1, 4, 5, 3), 2, stride=1, padding=((1, 0), (0, 1), (1, 1)), ceil_mode=True), 203, "negative"
    ),
    Example(PoolCase("max", (3, 2, 9), 3, stride=2, padding="same", dilation=2, ceil_mode=True), 204, "special"),
]
EXTRA_AVG = [
    Example(
        PoolCase(
            "avg",
            (2, 1, 5, 6, 3),
            (2, 3, 2),
            stride=(2, 2, 1),
            padding=((1, 0), (1, 1), (0, 1)),
            ceil_mode=True,
            count_include_pad=False,
        ),
        211,
    ),
    Example(PoolCase("avg", (3, 2, 8), 4, stride=3, padding="same", count_include_pad=True), 212, "special"),
    Example(PoolCase("avg", (2, 3, 5), 2, stride=2, padding=1, ceil_mode=True, count_include_pad=True), 213),
    Example(
        PoolCase("avg", (2, 2, 9, 4, 5), (3, 2, 2), stride=(2, 1, 3), padding="same_lower", dilation=(2, 1, 2)),
        214,
        "special",
    ),
    Example(
        PoolCase("avg", (3, 2, 10), 3, stride=2, padding=2, dilation=2, ceil_mode=True, count_include_pad=False), 215
    ),
    Example(
        PoolCase("avg", (2, 1, 7, 6), 2, stride=3, padding=((2, 0), (1, 2)), dilation=3, ceil_mode=True), 216, "special"
    ),
]


def check_max_pool(ex: Example) -> None:
    case = ex.case
    inputs = ex.inputs()
    kw = case.kwargs()
    taps = math.prod(case.kernel)
    for nan in NANS:
        got = reference.max_pool(inputs.x, case.kernel, nan=nan, **kw)
        assert_identical(got, naive.max_pool(inputs.x, case.kernel, nan=nan, **kw), what=f"y (nan={nan})", case=ex)
        for ties in TIES:
            dx = reference.max_pool_backward(inputs.x, inputs.dy, case.kernel, ties=ties, nan=nan, **kw)
            want = naive.max_pool_backward(inputs.x, inputs.dy, case.kernel, ties=ties, nan=nan, **kw)
            magnitude = naive.max_pool_backward(inputs.x, np.abs(inputs.dy), case.kernel, ties=ties, nan=nan, **kw)
            assert_close(dx, want, magnitude, taps + 1, what=f"dx (ties={ties}, nan={nan})", case=ex)


def check_avg_pool(ex: Example) -> None:
    case = ex.case
    inputs = ex.inputs()
    kw = case.kwargs()
    taps = math.prod(case.kernel)
    y = reference.avg_pool(inputs.x, case.kernel, **kw)
    assert_close(
        y,
        naive.avg_pool(inputs.x, case.kernel, **kw),
        naive.avg_pool(np.abs(inputs.x), case.kernel, **kw),
        taps + 1,
        what="y",
        case=ex,
    )
    dx = reference.avg_pool_backward(inputs.x, inputs.dy, case.kernel, **kw)
    want = naive.avg_pool_backward(inputs.x, inputs.dy, case.kernel, **kw)
    magnitude = naive.avg_pool_backward(inputs.x, np.abs(inputs.dy), case.kernel, **kw)
    assert_close(dx, want, magnitude, taps + 1, what="dx", case=ex)


@pin_edge_cases("max_pool")
@given(ex=examples(pool_cases("max"), values=("normal", "ties", "negative", "special")))
def test_max_pool_matches_naive(ex):
    """max_pool equals the naive loops exactly (NaN positions equal) under both NaN policies, and
    max_pool_backward equals them within the float64 bound under every tie x NaN policy, for
    drawn 1-D / 2-D / 3-D cases: every padding form, default and explicit strides, dilation,
    ceil_mode; normal, tie-heavy integer, all-negative and NaN / +-inf inputs."""
    check_max_pool(ex)


@pin_edge_cases("avg_pool")
@given(ex=examples(pool_cases("avg", avg_dilation=True), values=("normal", "special")))
def test_avg_pool_matches_naive(ex):
    """avg_pool and avg_pool_backward equal the naive loops within the float64 bound, with both
    count_include_pad values, ceil_mode (overhang never counted), dilation, every padding form,
    1-D to 3-D, finite and NaN / inf inputs."""
    check_avg_pool(ex)


@pytest.mark.parametrize("ex", EXTRA_MAX + EXTRA_AVG, ids=lambda e: f"{e.case.kind}-{e.case.nd}d-seed{e.seed}")
def test_pooling_matches_naive_pinned(ex):
    """Pinned 1-D and 3-D cases: the dropped last window in 1-D, same_lower with dilation in 3-D,
    asymmetric pairs with ceil_mode, an even average kernel under "same" with stride 3; dilated
    average pooling with same_lower in 3-D, with ceil_mode and count_include_pad=False in 1-D, and
    with asymmetric padding wider than a dilation step."""
    (check_max_pool if ex.case.kind == "max" else check_avg_pool)(ex)


@st.composite
def wide_geometry(draw):
    """Pooling geometry *outside* what the shared strategies draw: padding up to 4 on either side
    (windows entirely in padding, right padding wider than the kernel) and inputs as small as one
    cell; some of these have no output at all."""
    nd = draw(st.integers(1, 2))
    kind = draw(st.sampled_from(["max", "avg"]))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    padding = tuple((draw(st.integers(0, 4)), draw(st.integers(0, 4))) for _ in range(nd))
    sizes = tuple(draw(st.integers(1, 5)) for _ in range(nd))
    extra = {} if kind == "max" else {"count_include_pad": draw(st.booleans())}
    return (
        kind,
        (2, 2, *sizes),
        kernel,
        {"stride": stride, "padding": padding, "dilation": dilation, "ceil_mode": draw(st.booleans()), **extra},
    )


def _outcome(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except ValueError as exc:
        return exc


@example(
    geometry=("max", (2, 2, 2), (1,), {"stride": (1,), "padding": ((1, 1),), "dilation": (1,), "ceil_mode": True}),
    seed=0,
)
@example(
    geometry=(
        "avg",
        (2, 2, 3),
        (2,),
        {"stride": (1,), "padding": ((2, 0),), "count_include_pad": False, "ceil_mode": False},
    ),
    seed=0,
)
@given(geometry=wide_geometry(), seed=st.integers(0, 2**32 - 1))
def test_pooling_wide_padding_matches_naive(geometry, seed):
    """With padding far beyond the kernel the reference still equals the naive loops: windows that
    lie entirely in padding give -inf for max pooling (and pass no gradient), 0 for average pooling
    with count_include_pad, and a ValueError without it; geometries without any window raise
    ValueError in both."""
    kind, shape, kernel, kw = geometry
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, shape).astype(np.float64)
    x[rng.random(shape) < 0.15] = np.nan
    ops = (reference.max_pool, naive.max_pool) if kind == "max" else (reference.avg_pool, naive.avg_pool)
    got, want = _outcome(ops[0], x, kernel, **kw), _outcome(ops[1], x, kernel, **kw)
    assert isinstance(got, ValueError) == isinstance(want, ValueError), (got, want, geometry)
    if isinstance(got, ValueError):
        return
    dy = rng.standard_normal(got.shape)
    taps = math.prod(kernel)
    if kind == "max":
        for nan in NANS:
            assert_identical(
                reference.max_pool(x, kernel, nan=nan, **kw),
                naive.max_pool(x, kernel, nan=nan, **kw),
                what="y",
                case=geometry,
            )
            for ties in TIES:
                assert_close(
                    reference.max_pool_backward(x, dy, kernel, ties=ties, nan=nan, **kw),
                    naive.max_pool_backward(x, dy, kernel, ties=ties, nan=nan, **kw),
                    naive.max_pool_backward(x, np.abs(dy), kernel, ties=ties, nan=nan, **kw),
                    taps + 1,
                    what=f"dx ties={ties} nan={nan}",
                    case=geometry,
                )
    else:
        assert_close(got, want, naive.avg_pool(np.abs(x), kernel, **kw), taps + 1, what="y", case=geometry)
        assert_close(
            reference.avg_pool_backward(x, dy, kernel, **kw),
            naive.avg_pool_backward(x, dy, kernel, **kw),
            naive.avg_pool_backward(x, np.abs(dy), kernel, **kw),
            taps + 1,
            what="dx",
            case=geometry,
        )


# ------------------------------------------------------------------------------------------------
# Hand-computed numbers
# ------------------------------------------------------------------------------------------------


def test_max_pool_pads_with_minus_infinity():
    """An all-negative input with padding 1: every output is one of the inputs (never a padded 0),
    and windows entirely in padding would be -inf, not 0."""
    x = -np.arange(1.0, 7.0).reshape(1, 1, 6)  # -1 .. -6
    y = reference.max_pool(x, 2, padding=1)  # windows [pad,-1] [-2,-3] [-4,-5] [-6,pad]
    np.testing.assert_array_equal(y[0, 0], [-1.0, -2.0, -4.0, -6.0])
    far = reference.max_pool(x, 2, stride=2, padding=[(2, 0)])  # first window [pad, pad]
    assert far[0, 0, 0] == -np.inf
    dx = reference.max_pool_backward(x, np.ones_like(far), 2, stride=2, padding=[(2, 0)])
    np.testing.assert_array_equal(dx[0, 0], [1.0, 0.0, 1.0, 0.0, 1.0, 0.0])  # padding never gets gradient


def test_max_pool_tie_policies_by_hand():
    """x = [2, 2, 1, 2], kernel 2, stride 1, dy = [1, 10, 100]: "first" gives every window's
    gradient to its first maximum ([1, 10, 0, 100]); "split" shares tied maxima ([0.5, 10.5, 0, 100])."""
    x = np.array([[[2.0, 2.0, 1.0, 2.0]]])
    dy = np.array([[[1.0, 10.0, 100.0]]])
    first = reference.max_pool_backward(x, dy, 2, stride=1, ties="first")
    split = reference.max_pool_backward(x, dy, 2, stride=1, ties="split")
    np.testing.assert_array_equal(first[0, 0], [1.0, 10.0, 0.0, 100.0])
    np.testing.assert_array_equal(split[0, 0], [0.5, 10.5, 0.0, 100.0])


def test_max_pool_nan_policies_by_hand():
    """x = [nan, 1, 3, nan], kernel 2: "propagate" gives [nan, nan] and routes each gradient to
    the window's NaN; "ignore" (an fmax reduction) gives [1, 3] and routes to the finite maxima.
    An all-NaN window stays NaN under "ignore" unless it reaches padding (then -inf)."""
    x = np.array([[[np.nan, 1.0, 3.0, np.nan]]])
    dy = np.array([[[1.0, 2.0]]])
    np.testing.assert_array_equal(reference.max_pool(x, 2, nan="propagate")[0, 0], [np.nan, np.nan])
    np.testing.assert_array_equal(reference.max_pool(x, 2, nan="ignore")[0, 0], [1.0, 3.0])
    np.testing.assert_array_equal(reference.max_pool_backward(x, dy, 2, nan="propagate")[0, 0], [1.0, 0.0, 0.0, 2.0])
    np.testing.assert_array_equal(reference.max_pool_backward(x, dy, 2, nan="ignore")[0, 0], [0.0, 1.0, 2.0, 0.0])
    all_nan = np.full((1, 1, 2), np.nan)
    np.testing.assert_array_equal(reference.max_pool(all_nan, 2, nan="ignore")[0, 0], [np.nan])
    np.testing.assert_array_equal(reference.max_pool(all_nan, 2, padding=1, nan="ignore")[0, 0], [-np.inf, -np.inf])
    np.testing.assert_array_equal(
        reference.max_pool_backward(all_nan, np.ones((1, 1, 1)), 2, nan="ignore"), np.zeros((1, 1, 2))
    )


def test_avg_pool_divisors_by_hand():
    """x = [1, 2, 3], kernel 2, stride 1, padding 1: count_include_pad=True divides every window
    by 2 ([0.5, 1.5, 2.5, 1.5]); False divides by the real cells only ([1, 1.5, 2.5, 3])."""
    x = np.array([[[1.0, 2.0, 3.0]]])
    np.testing.assert_array_equal(reference.avg_pool(x, 2, stride=1, padding=1)[0, 0], [0.5, 1.5, 2.5, 1.5])
    np.testing.assert_array_equal(
        reference.avg_pool(x, 2, stride=1, padding=1, count_include_pad=False)[0, 0], [1.0, 1.5, 2.5, 3.0]
    )
    dx = reference.avg_pool_backward(x, np.array([[[1.0, 2.0, 4.0, 8.0]]]), 2, stride=1, padding=1)
    np.testing.assert_array_equal(dx[0, 0], [0.5 + 1.0, 1.0 + 2.0, 2.0 + 4.0])


def test_avg_pool_dilation_by_hand():
    """x = [5, 3, 7, 6, 1, 9, 2], kernel 3, dilation 2, stride 2, padding 1: the windows read padded
    cells {0, 2, 4}, {2, 4, 6}, {4, 6, 8} of [p, x0, ..., x6, p], i.e. taps [p, 3, 6], [3, 6, 9],
    [6, 9, p]; the cells a window steps over are never counted. count_include_pad divides every
    window by its 3 taps ([3, 6, 5]), without it by the taps on input ([4.5, 6, 7.5]); the gradient
    reaches the taps only."""
    x = np.array([[[5.0, 3.0, 7.0, 6.0, 1.0, 9.0, 2.0]]])
    dy = np.array([[[3.0, 6.0, 12.0]]])
    kw = {"stride": 2, "padding": 1, "dilation": 2}
    np.testing.assert_array_equal(reference.avg_pool(x, 3, **kw)[0, 0], [3.0, 6.0, 5.0])
    np.testing.assert_array_equal(reference.avg_pool(x, 3, count_include_pad=False, **kw)[0, 0], [4.5, 6.0, 7.5])
    dx = reference.avg_pool_backward(x, dy, 3, **kw)
    np.testing.assert_array_equal(dx[0, 0], [0.0, 1.0 + 2.0, 0.0, 1.0 + 2.0 + 4.0, 0.0, 2.0 + 4.0, 0.0])
    dx = reference.avg_pool_backward(x, dy, 3, count_include_pad=False, **kw)
    np.testing.assert_array_equal(dx[0, 0], [0.0, 1.5 + 2.0, 0.0, 1.5 + 2.0 + 6.0, 0.0, 2.0 + 6.0, 0.0])


def test_ceil_mode_overhang_is_never_counted_by_hand():
    """x = 1..6, kernel 3, stride 2, padding 1, ceil_mode: four windows over padded cells
    [p,1,2] [2,3,4] [4,5,6] [6,p,overhang]; with count_include_pad the last divisor is 2 (padding
    counts, the overhang does not), without it 1."""
    x = np.arange(1.0, 7.0).reshape(1, 1, 6)
    kw = {"stride": 2, "padding": 1, "ceil_mode": True}
    np.testing.assert_array_equal(reference.avg_pool(x, 3, **kw)[0, 0], [1.0, 3.0, 5.0, 3.0])
    np.testing.assert_array_equal(reference.avg_pool(x, 3, count_include_pad=False, **kw)[0, 0], [1.5, 3.0, 5.0, 6.0])
    np.testing.assert_array_equal(reference.max_pool(x, 3, **kw)[0, 0], [2.0, 4.0, 6.0, 6.0])


def test_ceil_mode_drops_a_window_starting_in_the_right_padding_by_hand():
    """n = 5, kernel 2, stride 2, padding 1: ceil((5 + 2 - 2) / 2) + 1 = 4 windows, but the fourth
    would start at padded cell 6 = n + lo, inside the right padding, so it is dropped: 3 outputs
    over [p, x0] [x1, x2] [x3, x4]. Without padding ceil_mode adds a window instead."""
    x = np.array([[[5.0, 1.0, 7.0, 2.0, 3.0]]])
    y = reference.max_pool(x, 2, stride=2, padding=1, ceil_mode=True)
    np.testing.assert_array_equal(y[0, 0], [5.0, 7.0, 3.0])
    np.testing.assert_array_equal(reference.max_pool(x, 2, stride=2, ceil_mode=True)[0, 0], [5.0, 7.0, 3.0])
    np.testing.assert_array_equal(reference.max_pool(x, 2, stride=2)[0, 0], [5.0, 7.0])


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_stride_defaults_to_kernel(kind):
    """stride=None means stride = kernel (PyTorch's and Keras' default), per dimension."""
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 9))
    op = reference.max_pool if kind == "max" else reference.avg_pool
    np.testing.assert_array_equal(op(x, (2, 3)), op(x, (2, 3), stride=(2, 3)))
    assert op(x, (2, 3)).shape == (2, 3, 3, 3)
