"""Every backward pass checked without any oracle, in float64: the dot-product (adjoint) identity
with random cotangents, and central finite differences.

* Linear ops (conv in x, in w and in b; average, depth-average and global-average pooling):
  ``<op(x), dy> == <x, op_backward(dy)>``.
* Max-type ops (max, depth-max and global-max pooling) are linear for a fixed routing: the output
  is the routed input value, so ``<y, dy> == <x, dx>`` holds under both tie policies (tied maxima
  are equal) as long as windows with a non-finite output get ``dy = 0``; the backward pass is also
  linear in ``dy`` for any input, NaN included.
* Finite differences along random directions (and along every unit vector when the array is
  small): exact for these piecewise-linear functions as long as no routing changes, which the
  distinct-valued inputs (spacing 2**-4, step 2**-10) guarantee for the max-type ops.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from convequiv import reference
from convequiv.reference.strategies import (
    conv_cases,
    depth_pool_cases,
    examples,
    global_pool_cases,
    pin_edge_cases,
    pool_cases,
)

from .support import assert_inner_equal, directions, distinct_values, finite_difference_check, inner

H = 2.0**-10
TIES = ("first", "split")
NANS = ("propagate", "ignore")


def _abs_inner(a, b) -> float:
    return inner(np.abs(a), np.abs(b))


def _finite_cotangent(y: np.ndarray, dy: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(y), dy, 0.0)


def _with_specials(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """About 15 % of the cells replaced by NaN, +inf or -inf."""
    x = x.copy()
    pick = rng.random(x.shape)
    x[pick < 0.05] = np.nan
    x[(pick >= 0.05) & (pick < 0.10)] = np.inf
    x[(pick >= 0.10) & (pick < 0.15)] = -np.inf
    return x


# ------------------------------------------------------------------------------------------------
# Convolution
# ------------------------------------------------------------------------------------------------


@pin_edge_cases("conv")
@given(ex=examples(conv_cases()))
def test_conv_backward_adjoint(ex):
    """<conv(x, w), dy> == <x, dx> == <w, dw> and <b broadcast, dy> == <b, db> for a random dy."""
    case, inputs = ex.case, ex.inputs()
    kw = case.kwargs()
    x, w, dy = inputs.x, inputs.w, inputs.dy
    b = inputs.b if inputs.b is not None else np.random.default_rng(ex.seed).standard_normal(w.shape[0])
    y = reference.conv(x, w, **kw)
    dx, dw, db = reference.conv_backward(x, w, dy, **kw)
    scale = inner(np.abs(dy), reference.conv(np.abs(x), np.abs(w), **kw))
    k = math.prod(w.shape[2:])
    per_output = dy.shape[0] * math.prod(dy.shape[2:])
    terms = max(w.shape[1] * k + dy.size, (w.shape[0] // case.groups) * k + x.size, per_output + w.size)
    lhs = inner(y, dy)
    assert_inner_equal(lhs, inner(x, dx), scale, terms, what="<conv(x), dy> vs <x, dx>", case=ex)
    assert_inner_equal(lhs, inner(w, dw), scale, terms, what="<conv(x), dy> vs <w, dw>", case=ex)
    b_full = np.broadcast_to(b.reshape((1, -1) + (1,) * case.nd), dy.shape)
    assert_inner_equal(
        inner(b_full, dy), inner(b, db), _abs_inner(b_full, dy), dy.size, what="<b, dy> vs <b, db>", case=ex
    )


@given(ex=examples(conv_cases(max_kernel=3, max_groups=2)))
def test_conv_backward_finite_differences(ex):
    """Central differences of L = <dy, conv(x, w, b)> along random directions (and every unit
    vector of small arrays) in x, w and b equal <dx, v>, <dw, v> and <db, v>."""
    case, inputs = ex.case, ex.inputs()
    kw = case.kwargs()
    rng = np.random.default_rng(ex.seed)
    x, w, dy = inputs.x, inputs.w, inputs.dy
    b = inputs.b if inputs.b is not None else rng.standard_normal(w.shape[0])
    dx, dw, db = reference.conv_backward(x, w, dy, **kw)
    terms = w.shape[1] * math.prod(w.shape[2:]) + dy.size + 1

    def loss(xx, ww, bb):
        return inner(dy, reference.conv(xx, ww, bb, **kw)), inner(
            np.abs(dy), reference.conv(np.abs(xx), np.abs(ww), np.abs(bb), **kw)
        )

    common = {"h": H, "terms": terms, "case": ex}
    finite_difference_check(lambda z: loss(z, w, b), x, dx, directions(rng, x.shape), what="dx", **common)
    finite_difference_check(lambda z: loss(x, z, b), w, dw, directions(rng, w.shape), what="dw", **common)
    finite_difference_check(lambda z: loss(x, w, z), b, db, directions(rng, b.shape), what="db", **common)


# ------------------------------------------------------------------------------------------------
# Max and average pooling
# ------------------------------------------------------------------------------------------------


@pin_edge_cases("max_pool")
@given(ex=examples(pool_cases("max"), values=("normal", "ties", "negative", "special")))
def test_max_pool_backward_fixed_routing_identities(ex):
    """For every tie and NaN policy, with dy zeroed on non-finite outputs: <y, dy> == <x, dx>
    (the routing picks input cells equal to the output), sum(dx) == sum(dy) (every finite window
    routes all of its gradient to input cells), and the backward pass is linear in dy even with
    NaN / inf inputs."""
    case, inputs = ex.case, ex.inputs()
    kw = case.kwargs()
    x = inputs.x
    k = math.prod(case.kernel)
    rng = np.random.default_rng(ex.seed)
    other = rng.standard_normal(inputs.dy.shape)
    for nan in NANS:
        y = reference.max_pool(x, case.kernel, nan=nan, **kw)
        dy = _finite_cotangent(y, inputs.dy)
        scale = _abs_inner(y, dy)
        terms = max(y.size, k + x.size)
        for ties in TIES:

            def back(g, ties=ties, nan=nan):
                return reference.max_pool_backward(x, g, case.kernel, ties=ties, nan=nan, **kw)

            dx = back(dy)
            what = f"ties={ties}, nan={nan}"
            assert_inner_equal(inner(y, dy), inner(x, dx), scale, terms, what=f"<y, dy> vs <x, dx> ({what})", case=ex)
            assert_inner_equal(
                float(dx.sum()),
                float(dy.sum()),
                float(np.abs(dy).sum()),
                terms,
                what=f"sum(dx) vs sum(dy) ({what})",
                case=ex,
            )
            combined, parts = back(inputs.dy + 3.0 * other), back(inputs.dy) + 3.0 * back(other)
            bound = 8 * math.ulp(1.0) * (k + 2) * (back(np.abs(inputs.dy)) + 3.0 * back(np.abs(other)))
            assert np.all(np.abs(combined - parts) <= bound), f"max_pool_backward is not linear in dy ({what}); {ex!r}"


@given(ex=examples(pool_cases("max")), special=st.booleans())
def test_max_pool_backward_finite_differences(ex, special):
    """On distinct-valued inputs (optionally with NaN / +-inf cells, held fixed), central
    differences of L = <dy, max_pool(x)> over the finite outputs equal <dx, v> for every tie and
    NaN policy, along random directions and every unit vector of small inputs."""
    case = ex.case
    kw = case.kwargs()
    rng = np.random.default_rng(ex.seed)
    x = distinct_values(rng, case.x_shape)
    if special:
        x = _with_specials(rng, x)
    dy0 = ex.inputs().dy
    dirs = directions(rng, x.shape, usable=np.isfinite(x))
    for nan in NANS:
        y = reference.max_pool(x, case.kernel, nan=nan, **kw)
        dy = _finite_cotangent(y, dy0)

        def loss(z, nan=nan, dy=dy):
            out = reference.max_pool(z, case.kernel, nan=nan, **kw)
            return inner(dy, out), _abs_inner(dy, out)

        for ties in TIES:
            dx = reference.max_pool_backward(x, dy, case.kernel, ties=ties, nan=nan, **kw)
            finite_difference_check(loss, x, dx, dirs, h=H, terms=y.size + 1, what=f"dx ties={ties} nan={nan}", case=ex)


@pin_edge_cases("avg_pool")
@given(ex=examples(pool_cases("avg", avg_dilation=True)))
def test_avg_pool_backward_adjoint(ex):
    """<avg_pool(x), dy> == <x, avg_pool_backward(dy)> for both count_include_pad values, ceil_mode,
    dilation and every padding form."""
    case, inputs = ex.case, ex.inputs()
    kw = case.kwargs()
    y = reference.avg_pool(inputs.x, case.kernel, **kw)
    dx = reference.avg_pool_backward(inputs.x, inputs.dy, case.kernel, **kw)
    scale = inner(np.abs(inputs.dy), reference.avg_pool(np.abs(inputs.x), case.kernel, **kw))
    k = math.prod(case.kernel)
    terms = max(k + 1 + y.size, k + 1 + inputs.x.size)
    assert_inner_equal(inner(y, inputs.dy), inner(inputs.x, dx), scale, terms, what="<y, dy> vs <x, dx>", case=ex)


@given(ex=examples(pool_cases("avg", avg_dilation=True)))
def test_avg_pool_backward_finite_differences(ex):
    """Central differences of L = <dy, avg_pool(x)> equal <avg_pool_backward(dy), v>."""
    case, inputs = ex.case, ex.inputs()
    kw = case.kwargs()
    rng = np.random.default_rng(ex.seed)
    dx = reference.avg_pool_backward(inputs.x, inputs.dy, case.kernel, **kw)

    def loss(z):
        return inner(inputs.dy, reference.avg_pool(z, case.kernel, **kw)), inner(
            np.abs(inputs.dy), reference.avg_pool(np.abs(z), case.kernel, **kw)
        )

    terms = math.prod(case.kernel) + 2 + inputs.dy.size
    finite_difference_check(loss, inputs.x, dx, directions(rng, inputs.x.shape), h=H, terms=terms, what="dx", case=ex)


# ------------------------------------------------------------------------------------------------
# Depth pooling
# ------------------------------------------------------------------------------------------------


@pin_edge_cases("depth_pool")
@given(ex=examples(depth_pool_cases(), values=("normal", "ties", "special")))
def test_depth_pool_backward_adjoint(ex):
    """avg: <depth_pool(x), dy> == <x, dx>; max: the same with dy zeroed on non-finite outputs,
    under both tie policies, plus sum(dx) == sum(dy)."""
    case, inputs = ex.case, ex.inputs()
    kw = {"mode": case.mode, "stride": case.stride}
    x = inputs.x
    y = reference.depth_pool(x, case.pool_size, **kw)
    dy = _finite_cotangent(y, inputs.dy) if case.mode == "max" else inputs.dy
    if case.mode == "avg":
        x = np.where(np.isfinite(x), x, 0.0)  # linear identity: finite inputs
        y = reference.depth_pool(x, case.pool_size, **kw)
    scale = (
        _abs_inner(y, dy)
        if case.mode == "max"
        else inner(np.abs(dy), reference.depth_pool(np.abs(x), case.pool_size, **kw))
    )
    terms = case.pool_size + 2 + x.size
    for ties in TIES:
        dx = reference.depth_pool_backward(x, dy, case.pool_size, ties=ties, **kw)
        assert_inner_equal(inner(y, dy), inner(x, dx), scale, terms, what=f"<y, dy> vs <x, dx> ties={ties}", case=ex)
        assert_inner_equal(
            float(dx.sum()),
            float(dy.sum()),
            float(np.abs(dy).sum()),
            terms,
            what=f"sum(dx) vs sum(dy) ties={ties}",
            case=ex,
        )


@given(ex=examples(depth_pool_cases()))
def test_depth_pool_backward_finite_differences(ex):
    """Central differences of L = <dy, depth_pool(x)> equal <dx, v> (max on distinct values)."""
    case = ex.case
    kw = {"mode": case.mode, "stride": case.stride}
    rng = np.random.default_rng(ex.seed)
    x = distinct_values(rng, case.x_shape) if case.mode == "max" else ex.inputs().x
    dy = ex.inputs().dy

    def loss(z):
        out = reference.depth_pool(z, case.pool_size, **kw)
        return inner(dy, out), inner(np.abs(dy), reference.depth_pool(np.abs(z), case.pool_size, **kw))

    for ties in TIES:
        dx = reference.depth_pool_backward(x, dy, case.pool_size, ties=ties, **kw)
        finite_difference_check(
            loss,
            x,
            dx,
            directions(rng, x.shape),
            h=H,
            terms=case.pool_size + 2 + dy.size,
            what=f"dx ties={ties}",
            case=ex,
        )


# ------------------------------------------------------------------------------------------------
# Global pooling
# ------------------------------------------------------------------------------------------------


@pin_edge_cases("global_max_pool")
@pin_edge_cases("global_avg_pool")
@given(ex=examples(global_pool_cases(), values=("normal", "ties", "special")))
def test_global_pool_backward_adjoint(ex):
    """avg: <global_avg_pool(x), dy> == <x, dx> (finite x); max: the same with dy zeroed on
    non-finite outputs, for every tie and NaN policy, plus sum(dx) == sum(dy)."""
    case, inputs = ex.case, ex.inputs()
    keep = case.keepdims
    terms = inputs.x.size + 2
    if case.mode == "avg":
        x = np.where(np.isfinite(inputs.x), inputs.x, 0.0)
        y = reference.global_avg_pool(x, keepdims=keep)
        dx = reference.global_avg_pool_backward(x, inputs.dy, keepdims=keep)
        scale = inner(np.abs(inputs.dy), reference.global_avg_pool(np.abs(x), keepdims=keep))
        assert_inner_equal(inner(y, inputs.dy), inner(x, dx), scale, terms, what="<y, dy> vs <x, dx>", case=ex)
        return
    for nan in NANS:
        y = reference.global_max_pool(inputs.x, keepdims=keep, nan=nan)
        dy = _finite_cotangent(y, inputs.dy)
        for ties in TIES:
            dx = reference.global_max_pool_backward(inputs.x, dy, keepdims=keep, ties=ties, nan=nan)
            what = f"ties={ties}, nan={nan}"
            assert_inner_equal(
                inner(y, dy), inner(inputs.x, dx), _abs_inner(y, dy), terms, what=f"<y, dy> vs <x, dx> {what}", case=ex
            )
            assert_inner_equal(
                float(dx.sum()),
                float(dy.sum()),
                float(np.abs(dy).sum()),
                terms,
                what=f"sum(dx) vs sum(dy) {what}",
                case=ex,
            )


@given(ex=examples(global_pool_cases()), special=st.booleans())
def test_global_pool_backward_finite_differences(ex, special):
    """Central differences of L = <dy, global_pool(x)> equal <dx, v>; max pooling on distinct
    values, optionally with NaN / +-inf cells held fixed, under every tie and NaN policy."""
    case = ex.case
    keep = case.keepdims
    rng = np.random.default_rng(ex.seed)
    dy0 = ex.inputs().dy
    if case.mode == "avg":
        x = ex.inputs().x
        dx = reference.global_avg_pool_backward(x, dy0, keepdims=keep)

        def loss(z):
            return inner(dy0, reference.global_avg_pool(z, keepdims=keep)), inner(
                np.abs(dy0), reference.global_avg_pool(np.abs(z), keepdims=keep)
            )

        finite_difference_check(loss, x, dx, directions(rng, x.shape), h=H, terms=x.size + 2, what="dx", case=ex)
        return
    x = distinct_values(rng, case.x_shape)
    if special:
        x = _with_specials(rng, x)
    dirs = directions(rng, x.shape, usable=np.isfinite(x))
    for nan in NANS:
        dy = _finite_cotangent(reference.global_max_pool(x, keepdims=keep, nan=nan), dy0)

        def loss(z, nan=nan, dy=dy):
            out = reference.global_max_pool(z, keepdims=keep, nan=nan)
            return inner(dy, out), _abs_inner(dy, out)

        for ties in TIES:
            dx = reference.global_max_pool_backward(x, dy, keepdims=keep, ties=ties, nan=nan)
            finite_difference_check(
                loss, x, dx, dirs, h=H, terms=dy.size + 2, what=f"dx ties={ties} nan={nan}", case=ex
            )
