"""Convolution: the reference's forward and backward against the naive loop oracle (1-D, 2-D, 3-D,
every padding form, stride, dilation, groups, NaN / inf inputs, the chunked im2col path), and
against numbers computed by hand (no kernel flip, zero padding, the notes' worked examples)."""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convequiv import reference
from convequiv.reference import windows
from convequiv.reference.cases import ConvCase, Example
from convequiv.reference.strategies import conv_cases, examples, pin_edge_cases

from . import naive
from .support import assert_close

# Pinned beside the named edge cases: the 1-D and 3-D variants of the awkward features.
EXTRA = [
    Example(ConvCase((2, 4, 10), (6, 2, 4), stride=2, padding="same_lower", dilation=2, groups=2), 101),
    Example(ConvCase((3, 2, 9), (4, 2, 2), stride=3, padding="same", bias=False), 102, "special"),
    Example(
        ConvCase(
            (2, 3, 5, 6, 4),
            (3, 1, 2, 3, 2),
            stride=(2, 1, 1),
            padding=((1, 0), (0, 2), (1, 1)),
            dilation=(1, 2, 1),
            groups=3,
        ),
        103,
    ),
    Example(ConvCase((1, 2, 6, 5, 4), (4, 2, 2, 2, 2), stride=2, padding="same_lower"), 104),
    Example(
        ConvCase((2, 6, 7, 9), (6, 1, 3, 2), stride=(2, 3), padding=[1, (0, 1)], dilation=(2, 1), groups=6),
        105,
        "special",
    ),
]


def check_against_naive(ex: Example) -> None:
    case = ex.case
    inputs = ex.inputs()
    kw = case.kwargs()
    x, w, b, dy = inputs.x, inputs.w, inputs.b, inputs.dy
    abs_x, abs_w, abs_dy = np.abs(x), np.abs(w), np.abs(dy)
    abs_b = None if b is None else np.abs(b)

    cg, k = w.shape[1], math.prod(w.shape[2:])
    og = w.shape[0] // case.groups
    per_output = dy.shape[0] * math.prod(dy.shape[2:])

    y = reference.conv(x, w, b, **kw)
    assert_close(y, naive.conv(x, w, b, **kw), naive.conv(abs_x, abs_w, abs_b, **kw), cg * k + 1, what="y", case=ex)

    dx, dw, db = reference.conv_backward(x, w, dy, **kw)
    want_dx, want_dw, want_db = naive.conv_backward(x, w, dy, **kw)
    mag_dx, mag_dw, mag_db = naive.conv_backward(abs_x, abs_w, abs_dy, **kw)
    assert_close(dx, want_dx, mag_dx, og * k, what="dx", case=ex)
    assert_close(dw, want_dw, mag_dw, per_output, what="dw", case=ex)
    assert_close(db, want_db, mag_db, per_output, what="db", case=ex)


@pin_edge_cases("conv")
@given(ex=examples(conv_cases(), values=("normal", "special")))
def test_conv_matches_naive(ex):
    """conv and conv_backward (dx, dw, db) equal the naive loops within the float64 bound, for
    drawn 1-D / 2-D / 3-D cases with every padding form, stride, dilation, groups and bias, with
    finite and with NaN / inf inputs."""
    check_against_naive(ex)


@pytest.mark.parametrize("ex", EXTRA, ids=lambda e: f"{e.case.nd}d-seed{e.seed}")
def test_conv_matches_naive_pinned(ex):
    """The same comparison on pinned 1-D and 3-D cases: same_lower with stride 2, an even kernel
    and dilation; asymmetric per-dimension pairs with groups; depthwise with mixed padding forms."""
    check_against_naive(ex)


@given(
    ex=examples(conv_cases(max_kernel=3, max_groups=2)),
    chunk=st.sampled_from([1, 40, 300, 2000]),
)
def test_conv_chunked_im2col_matches_naive(ex, chunk):
    """With a tiny chunk budget the reference splits the im2col matrix into batch and row blocks;
    the result must not change (it must still equal the naive loops)."""
    with mock.patch.object(windows, "CHUNK_BYTES", chunk):
        check_against_naive(ex)


def test_conv_is_cross_correlation_by_hand():
    """A unit impulse reveals the kernel unflipped (cross-correlation), and zero padding, stride
    and dilation place taps exactly as ``i * s + k * d - lo``."""
    impulse = np.zeros((1, 1, 5))
    impulse[0, 0, 2] = 1.0
    w = np.array([[[1.0, 2.0, 3.0]]])
    np.testing.assert_array_equal(reference.conv(impulse, w)[0, 0], [3.0, 2.0, 1.0])

    x = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    edge = np.array([[[1.0, 0.0, -1.0]]])
    np.testing.assert_array_equal(reference.conv(x, edge)[0, 0], [-2.0, -2.0])
    np.testing.assert_array_equal(reference.conv(x, edge, padding=1)[0, 0], [-2.0, -2.0, -2.0, 3.0])
    np.testing.assert_array_equal(reference.conv(x, edge, padding=1, stride=2)[0, 0], [-2.0, -2.0])
    np.testing.assert_array_equal(reference.conv(x, edge, padding=[(2, 0)])[0, 0], [-1.0, -2.0, -2.0, -2.0])
    # dilation 2: taps x[i], x[i + 2], x[i + 4] on a length-6 input -> 2 outputs
    x6 = np.arange(1.0, 7.0).reshape(1, 1, 6)
    np.testing.assert_array_equal(reference.conv(x6, w, dilation=2)[0, 0], [1 + 2 * 3 + 3 * 5, 2 + 2 * 4 + 3 * 6])
    for args, kw in [((impulse, w), {}), ((x, edge), {"padding": 1, "stride": 2}), ((x6, w), {"dilation": 2})]:
        np.testing.assert_array_equal(naive.conv(*args, **kw), reference.conv(*args, **kw))


def test_grouped_conv_by_hand():
    """groups=2 with one input channel per group: output channel o only reads input channel o
    (y[:, 0] = 2 * x[:, 0], y[:, 1] = -3 * x[:, 1]), and the bias is added per output channel."""
    x = np.arange(12.0).reshape(1, 2, 6)
    w = np.array([2.0, -3.0]).reshape(2, 1, 1)
    y = reference.conv(x, w, np.array([0.5, 10.0]), groups=2)
    np.testing.assert_array_equal(y[0, 0], 2 * x[0, 0] + 0.5)
    np.testing.assert_array_equal(y[0, 1], -3 * x[0, 1] + 10.0)
    dx, dw, db = reference.conv_backward(x, w, np.ones((1, 2, 6)), groups=2)
    np.testing.assert_array_equal(dx[0, 0], np.full(6, 2.0))
    np.testing.assert_array_equal(dx[0, 1], np.full(6, -3.0))
    np.testing.assert_array_equal(dw.ravel(), [x[0, 0].sum(), x[0, 1].sum()])
    np.testing.assert_array_equal(db, [6.0, 6.0])


def test_notes_channels_last_example():
    """The notes' example: a (10, 8, 3) channels-last input (H=10, W=8, C=3) through six 3x3 filters
    gives (8, 6, 6) channels-last; the values equal the naive loops."""
    rng = np.random.default_rng(7)
    image_hwc = rng.standard_normal((10, 8, 3))
    filters = rng.standard_normal((6, 3, 3, 3))  # (O, C, kh, kw)
    x = image_hwc.transpose(2, 0, 1)[None]  # (1, 3, 10, 8)
    y = reference.conv(x, filters)
    out_hwc = y[0].transpose(1, 2, 0)
    assert out_hwc.shape == (8, 6, 6)
    assert_close(y, naive.conv(x, filters), naive.conv(np.abs(x), np.abs(filters)), 28, what="y", case="notes")


def test_dilation_two_makes_3x3_cover_5x5():
    """A 3x3 kernel with dilation 2 covers 5x5: effective_kernel says 5, a 5x5 input gives exactly
    one output, and that output reads the 9 cells x[2a, 2b]."""
    assert reference.effective_kernel(3, 2) == 5
    assert reference.effective_kernel((3, 3), 2) == (5, 5)
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    w = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    y = reference.conv(x, w, dilation=2)
    assert y.shape == (1, 1, 1, 1)
    assert y[0, 0, 0, 0] == sum(w[0, 0, a, b] * x[0, 0, 2 * a, 2 * b] for a in range(3) for b in range(3))


@pytest.mark.parametrize(
    "view",
    [
        lambda a: a[:, :, ::-1],
        lambda a: np.asfortranarray(a),
        lambda a: a[..., ::2],
        lambda a: a.transpose(0, 1, 3, 2),
        lambda a: a.tolist(),
    ],
    ids=["reversed", "fortran", "step-2", "transposed", "nested-list"],
)
def test_conv_accepts_any_memory_layout(view):
    """Non-contiguous, negatively strided, Fortran-ordered and nested-list inputs give the same
    numbers as a contiguous copy run through the naive loops (the strided views must use the
    input's real strides)."""
    rng = np.random.default_rng(3)
    x = view(rng.standard_normal((2, 4, 9, 8)))
    dense = np.ascontiguousarray(np.asarray(x))
    w = rng.standard_normal((6, 2, 3, 2))
    kw = {"stride": (2, 1), "padding": ((1, 2), (0, 1)), "groups": 2}
    y = reference.conv(x, w, **kw)
    assert_close(y, naive.conv(dense, w, **kw), naive.conv(np.abs(dense), np.abs(w), **kw), 12, what="y", case=kw)
    dy = rng.standard_normal(y.shape[::-1]).T  # a non-contiguous cotangent too
    got = reference.conv_backward(x, w, dy, **kw)
    want = naive.conv_backward(dense, w, dy, **kw)
    mags = naive.conv_backward(np.abs(dense), np.abs(w), np.abs(dy), **kw)
    for name, g, e, m in zip(("dx", "dw", "db"), got, want, mags):
        assert_close(g, e, m, 2000, what=name, case=kw)
