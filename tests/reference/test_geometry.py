"""Geometry: padding resolution, effective kernel and output sizes. ``output_size`` must equal the
shape every op actually returns for every padding form, with and without ceil_mode, and agree
with the naive oracle's window counting; plus the worked numbers of the notes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convequiv import reference
from convequiv.reference.cases import ConvCase
from convequiv.reference.strategies import PADDING_FORMS, conv_cases, examples, pool_cases

from . import naive


def test_notes_output_size_examples():
    """cnn_param(28, 3, 0, 1) = 26 and cnn_param(28, 3, 1, 1) = 28: a 28-wide input with a 3-wide
    kernel, stride 1, gives 26 without padding and 28 with padding 1; a convolution returns it."""
    assert reference.output_size(28, 3) == 26
    assert reference.output_size(28, 3, padding=0, stride=1) == 26
    assert reference.output_size(28, 3, padding=1, stride=1) == 28
    x, w = np.ones((1, 1, 28, 28)), np.ones((1, 1, 3, 3))
    assert reference.conv(x, w).shape == (1, 1, 26, 26)
    assert reference.conv(x, w, padding=1).shape == (1, 1, 28, 28)


def test_effective_kernel():
    """d * (k - 1) + 1 per dimension: an int for int arguments, a tuple otherwise (either argument
    may be the sequence); a 3x3 kernel with dilation 2 spans 5x5."""
    assert reference.effective_kernel(3, 2) == 5
    assert reference.effective_kernel(3) == 3
    assert reference.effective_kernel(1, 7) == 1
    assert reference.effective_kernel((3, 3), 2) == (5, 5)
    assert reference.effective_kernel(3, (1, 2, 3)) == (3, 5, 7)
    assert reference.effective_kernel((2, 4), (3, 1)) == (4, 4)
    assert reference.output_size(5, 3, dilation=2) == 1
    assert reference.output_size(4, 3, dilation=2, padding=(1, 0)) == 1


def test_resolve_padding_forms_by_hand():
    """Every padding form resolves to explicit (lo, hi) pairs as documented."""
    rp = reference.resolve_padding
    assert rp(2, (5, 6, 7), 3) == ((2, 2),) * 3
    assert rp([1, 0], (5, 6), 3) == ((1, 1), (0, 0))
    assert rp([(1, 2), 3], (5, 6), 3) == ((1, 2), (3, 3))
    assert rp(((0, 4),), 5, 3) == ((0, 4),)
    assert rp("valid", (5, 6), 3) == ((0, 0), (0, 0))
    # same: out = ceil(28 / 2) = 14, total = 13 * 2 + 3 - 28 = 1 -> the odd cell goes to the end
    assert rp("same", 28, 3, 2) == ((0, 1),)
    assert rp("same_lower", 28, 3, 2) == ((1, 0),)
    # even kernel, stride 1: total = 3 -> same (1, 2), same_lower (2, 1)
    assert rp("same", (5, 6), 4) == ((1, 2), (1, 2))
    assert rp("same_lower", (5, 6), 4) == ((2, 1), (2, 1))
    # dilation widens the kernel: k=3, d=2 spans 5, total = 4
    assert rp("same", 6, 3, 1, 2) == ((2, 2),)
    # kernel smaller than the stride: nothing to pad
    assert rp("same", 9, 2, 3) == ((0, 0),)
    assert rp("same", (8, 7), (3, 2), (2, 3)) == ((0, 1), (0, 1))


@given(
    n=st.integers(1, 40),
    k=st.integers(1, 6),
    s=st.integers(1, 5),
    d=st.integers(1, 3),
)
def test_same_padding_properties(n, k, s, d):
    """ "same" and "same_lower" give ceil(n / s) outputs, the same total padding, mirrored halves
    differing by at most one (the odd cell at the end for "same", at the start for "same_lower"),
    and the (lo, hi) pairs of the naive oracle."""
    ((lo, hi),) = reference.resolve_padding("same", n, k, s, d)
    ((llo, lhi),) = reference.resolve_padding("same_lower", n, k, s, d)
    assert (lo, hi) == (lhi, llo)
    assert 0 <= hi - lo <= 1
    assert ((lo, hi),) == naive.pads_of("same", (n,), k, s, d)
    assert ((llo, lhi),) == naive.pads_of("same_lower", (n,), k, s, d)
    for padding in ("same", "same_lower"):
        assert reference.output_size(n, k, stride=s, padding=padding, dilation=d) == math.ceil(n / s)


@given(
    n=st.integers(1, 12),
    k=st.integers(1, 5),
    s=st.integers(1, 4),
    d=st.integers(1, 3),
    lo=st.integers(0, 6),
    hi=st.integers(0, 6),
    ceil_mode=st.booleans(),
)
def test_output_size_counts_the_windows(n, k, s, d, lo, hi, ceil_mode):
    """output_size equals the naive oracle's count of windows (those that fit in the padded
    extent; in ceil mode one partial window more when cells are left unread, minus a last window
    starting in the right padding) for paddings up to twice the kernel; where there is no window
    it raises ValueError naming the output size."""
    count = naive.window_count(n, k, s, d, lo, hi, ceil_mode)
    if count < 1:
        with pytest.raises(ValueError, match="output size"):
            reference.output_size(n, k, stride=s, padding=(lo, hi), dilation=d, ceil_mode=ceil_mode)
        return
    assert reference.output_size(n, k, stride=s, padding=(lo, hi), dilation=d, ceil_mode=ceil_mode) == count
    if lo == hi:
        assert reference.output_size(n, k, stride=s, padding=lo, dilation=d, ceil_mode=ceil_mode) == count


def test_ceil_mode_by_hand():
    """ceil_mode: 5 cells, kernel 2, stride 2 gives 3 windows (one partial) instead of 2; with
    padding 1 the fourth ceil window would start in the right padding and is dropped (3); a
    division without remainder adds nothing; PyTorch's classic 7 -> 3 vs 4."""
    assert reference.output_size(5, 2, stride=2) == 2
    assert reference.output_size(5, 2, stride=2, ceil_mode=True) == 3
    assert reference.output_size(5, 2, stride=2, padding=1) == 3
    assert reference.output_size(5, 2, stride=2, padding=1, ceil_mode=True) == 3
    assert reference.output_size(6, 2, stride=2, padding=1, ceil_mode=True) == 4
    assert reference.output_size(6, 2, stride=2, ceil_mode=True) == 3
    assert reference.output_size(7, 3, stride=2, ceil_mode=False) == 3
    assert reference.output_size(8, 3, stride=2, ceil_mode=True) == 4
    assert reference.output_size(8, 3, stride=2, ceil_mode=False) == 3


def _dim_padding(padding, dim: int):
    """The ``output_size`` spelling of one dimension of any padding form."""
    return padding if isinstance(padding, (str, int)) else padding[dim]


def _op_shapes(ex) -> list[tuple[str, tuple[int, ...]]]:
    case, inputs = ex.case, ex.inputs()
    kw = case.kwargs()
    if isinstance(case, ConvCase):
        y = reference.conv(inputs.x, inputs.w, inputs.b, **kw)
        dx, dw, db = reference.conv_backward(inputs.x, inputs.w, np.ones(y.shape), **kw)
        assert (dx.shape, dw.shape, db.shape) == (inputs.x.shape, inputs.w.shape, (inputs.w.shape[0],))
        return [("conv", y.shape)]
    forward = reference.max_pool if case.kind == "max" else reference.avg_pool
    backward = reference.max_pool_backward if case.kind == "max" else reference.avg_pool_backward
    y = forward(inputs.x, case.kernel, **kw)
    assert backward(inputs.x, np.ones(y.shape), case.kernel, **kw).shape == inputs.x.shape
    return [(case.op, y.shape)]


@pytest.mark.parametrize("form", PADDING_FORMS)
@given(data=st.data())
def test_output_size_is_the_shape_ops_return(form, data):
    """For each padding form (int, per-dimension ints, (lo, hi) pairs, valid, same, same_lower)
    and with and without ceil_mode, output_size per spatial dimension is exactly the shape conv,
    max_pool and avg_pool return (and their backward passes return the input's shape)."""
    cases = st.one_of(
        conv_cases(paddings=(form,)),
        pool_cases("max", paddings=(form,)),
        pool_cases("avg", paddings=(form,), avg_dilation=True),
    )
    ex = data.draw(examples(cases), label="example")
    case = ex.case
    if isinstance(case, ConvCase):
        kernel, stride, dilation, ceil_mode = case.w_shape[2:], case.stride, case.dilation, False
    else:
        kernel, stride, dilation, ceil_mode = case.kernel, case.resolved_stride, case.dilation, case.ceil_mode
    expected = tuple(
        reference.output_size(n, k, stride=s, padding=_dim_padding(case.padding, dim), dilation=d, ceil_mode=ceil_mode)
        for dim, (n, k, s, d) in enumerate(zip(case.x_shape[2:], kernel, stride, dilation))
    )
    for op, shape in _op_shapes(ex):
        assert shape[2:] == expected, f"{op} returned {shape}, output_size says {expected}; {ex!r}"
        assert shape == case.out_shape, f"{op} returned {shape}, the case says {case.out_shape}; {ex!r}"
