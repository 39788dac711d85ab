"""Depth (channel) pooling and global pooling: the reference against the naive loop oracle for
both modes, strided depth windows, keepdims, every tie and NaN policy, tie-heavy and NaN / inf
inputs, and against numbers computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given

from convequiv import reference
from convequiv.reference.cases import DepthPoolCase, Example, GlobalPoolCase
from convequiv.reference.strategies import depth_pool_cases, examples, global_pool_cases, pin_edge_cases

from . import naive
from .support import assert_close, assert_identical

TIES = ("first", "split")
NANS = ("propagate", "ignore")

EXTRA = [
    Example(DepthPoolCase((2, 7, 3), 3, mode="max", stride=2), 301, "ties"),
    Example(DepthPoolCase((3, 7, 2, 3, 2), 3, mode="avg", stride=2), 302),
    Example(DepthPoolCase((1, 5, 4, 3), 2, mode="max", stride=3), 303, "special"),
    Example(GlobalPoolCase("max", (2, 3, 4, 3, 2), keepdims=True), 311, "special"),
    Example(GlobalPoolCase("avg", (3, 2, 5), keepdims=True), 312, "special"),
    Example(GlobalPoolCase("max", (2, 4, 7), keepdims=False), 313, "ties"),
]


def check_depth_pool(ex: Example) -> None:
    case = ex.case
    inputs = ex.inputs()
    kw = {"mode": case.mode, "stride": case.stride}
    y = reference.depth_pool(inputs.x, case.pool_size, **kw)
    want = naive.depth_pool(inputs.x, case.pool_size, **kw)
    if case.mode == "max":
        assert_identical(y, want, what="y", case=ex)
    else:
        magnitude = naive.depth_pool(np.abs(inputs.x), case.pool_size, **kw)
        assert_close(y, want, magnitude, case.pool_size + 1, what="y", case=ex)
    for ties in TIES:
        dx = reference.depth_pool_backward(inputs.x, inputs.dy, case.pool_size, ties=ties, **kw)
        magnitude = naive.depth_pool_backward(inputs.x, np.abs(inputs.dy), case.pool_size, ties=ties, **kw)
        want = naive.depth_pool_backward(inputs.x, inputs.dy, case.pool_size, ties=ties, **kw)
        assert_close(dx, want, magnitude, case.pool_size + 1, what=f"dx (ties={ties})", case=ex)


def check_global_pool(ex: Example) -> None:
    case = ex.case
    inputs = ex.inputs()
    keep = case.keepdims
    area = math.prod(case.x_shape[2:])
    if case.mode == "avg":
        y = reference.global_avg_pool(inputs.x, keepdims=keep)
        magnitude = naive.global_avg_pool(np.abs(inputs.x), keepdims=keep)
        assert_close(y, naive.global_avg_pool(inputs.x, keepdims=keep), magnitude, area + 1, what="y", case=ex)
        dx = reference.global_avg_pool_backward(inputs.x, inputs.dy, keepdims=keep)
        want = naive.global_avg_pool_backward(inputs.x, inputs.dy, keepdims=keep)
        magnitude = naive.global_avg_pool_backward(inputs.x, np.abs(inputs.dy), keepdims=keep)
        assert_close(dx, want, magnitude, 2, what="dx", case=ex)
        return
    for nan in NANS:
        y = reference.global_max_pool(inputs.x, keepdims=keep, nan=nan)
        assert_identical(y, naive.global_max_pool(inputs.x, keepdims=keep, nan=nan), what=f"y (nan={nan})", case=ex)
        for ties in TIES:
            kw = {"keepdims": keep, "ties": ties, "nan": nan}
            dx = reference.global_max_pool_backward(inputs.x, inputs.dy, **kw)
            want = naive.global_max_pool_backward(inputs.x, inputs.dy, **kw)
            magnitude = naive.global_max_pool_backward(inputs.x, np.abs(inputs.dy), **kw)
            assert_close(dx, want, magnitude, 2, what=f"dx (ties={ties}, nan={nan})", case=ex)


@pin_edge_cases("depth_pool")
@given(ex=examples(depth_pool_cases(), values=("normal", "ties", "special")))
def test_depth_pool_matches_naive(ex):
    """depth_pool equals the naive loops (max exactly, avg within the float64 bound) and
    depth_pool_backward within the bound under both tie policies, for contiguous channel groups
    with and without a stride, 1-D to 3-D, finite, tie-heavy and NaN / inf inputs."""
    check_depth_pool(ex)


@pin_edge_cases("global_max_pool")
@pin_edge_cases("global_avg_pool")
@given(ex=examples(global_pool_cases(), values=("normal", "ties", "special")))
def test_global_pool_matches_naive(ex):
    """global_max_pool (exactly) and global_avg_pool, and their backward passes (within the
    float64 bound), equal the naive loops with and without keepdims, under every tie and NaN
    policy, 1-D to 3-D, finite, tie-heavy and NaN / inf inputs."""
    check_global_pool(ex)


@pytest.mark.parametrize("ex", EXTRA, ids=lambda e: f"{e.case.op}-{e.case.nd}d-seed{e.seed}")
def test_channel_pooling_matches_naive_pinned(ex):
    """Pinned cases: overlapping and gapped strided depth windows, 3-D global pooling with keepdims."""
    (check_depth_pool if isinstance(ex.case, DepthPoolCase) else check_global_pool)(ex)


def test_depth_pool_groups_are_contiguous_by_hand():
    """Six channels with pool_size 3 pool [0, 1, 2] and [3, 4, 5] (not every third channel);
    stride 2 with pool_size 3 on seven channels pools [0..2], [2..4], [4..6]."""
    x = np.array([1.0, 9.0, 2.0, 3.0, 4.0, 8.0]).reshape(1, 6, 1)
    np.testing.assert_array_equal(reference.depth_pool(x, 3)[0, :, 0], [9.0, 8.0])
    np.testing.assert_array_equal(reference.depth_pool(x, 3, mode="avg")[0, :, 0], [4.0, 5.0])
    dx = reference.depth_pool_backward(x, np.array([1.0, 2.0]).reshape(1, 2, 1), 3)
    np.testing.assert_array_equal(dx[0, :, 0], [0.0, 1.0, 0.0, 0.0, 0.0, 2.0])
    x7 = np.array([1.0, 0.0, 5.0, 2.0, 0.0, 7.0, 6.0]).reshape(1, 7, 1)
    np.testing.assert_array_equal(reference.depth_pool(x7, 3, stride=2)[0, :, 0], [5.0, 5.0, 7.0])
    dx = reference.depth_pool_backward(x7, np.array([1.0, 10.0, 100.0]).reshape(1, 3, 1), 3, stride=2)
    np.testing.assert_array_equal(dx[0, :, 0], [0.0, 0.0, 11.0, 0.0, 0.0, 100.0, 0.0])


def test_global_pools_by_hand():
    """Global pooling reduces every spatial axis: (N, C) or (N, C, 1, ..., 1) with keepdims; the
    max gradient follows the tie policy, and under nan="ignore" an all-NaN channel gives NaN and
    passes no gradient."""
    x = np.array([[[[1.0, 4.0], [4.0, 2.0]], [[np.nan, np.nan], [np.nan, np.nan]]]])  # (1, 2, 2, 2)
    assert reference.global_avg_pool(x[:, :1]).tolist() == [[2.75]]
    assert reference.global_avg_pool(x[:, :1], keepdims=True).shape == (1, 1, 1, 1)
    np.testing.assert_array_equal(reference.global_max_pool(x, nan="ignore"), [[4.0, np.nan]])
    dy = np.array([[8.0, 5.0]])
    first = reference.global_max_pool_backward(x, dy, ties="first", nan="ignore")
    split = reference.global_max_pool_backward(x, dy, ties="split", nan="ignore")
    np.testing.assert_array_equal(first[0, 0], [[0.0, 8.0], [0.0, 0.0]])
    np.testing.assert_array_equal(split[0, 0], [[0.0, 4.0], [4.0, 0.0]])
    np.testing.assert_array_equal(first[0, 1], np.zeros((2, 2)))
    propagate = reference.global_max_pool_backward(x, dy, ties="first", nan="propagate")
    np.testing.assert_array_equal(propagate[0, 1], [[5.0, 0.0], [0.0, 0.0]])
    dx = reference.global_avg_pool_backward(x[:, :1], np.array([[[[8.0]]]]), keepdims=True)
    np.testing.assert_array_equal(dx, np.full((1, 1, 2, 2), 2.0))
