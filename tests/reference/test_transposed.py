"""Transposed convolution: the reference's forward and backward against the naive loop oracle (1-D,
2-D, 3-D, every padding form, output_padding, stride, dilation, groups, NaN / inf inputs, the
chunked path), the adjoint identities with conv, finite differences, output sizes, numbers computed
by hand, the other frameworks' padding conventions, parameter counts and the rounding-error bounds.
Bad input is covered by the table of test_errors.py."""

from __future__ import annotations

import math
from dataclasses import dataclass
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convequiv import reference
from convequiv.reference import tolerance, windows

from . import naive
from .support import assert_close, assert_inner_equal, directions, finite_difference_check, inner

H = 2.0**-10
SAME_FORMS = ("same", "same_lower")
PADDING_FORMS = ("int", "per_dim", "pairs", "valid", *SAME_FORMS)


# ------------------------------------------------------------------------------------------------
# Cases
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransposedCase:
    """``reference.conv_transpose`` with these shapes and keywords (``bias=False``: no ``b``)."""

    x_shape: tuple[int, ...]
    w_shape: tuple[int, ...]
    stride: tuple[int, ...]
    padding: object = 0
    output_padding: tuple[int, ...] | int = 0
    dilation: tuple[int, ...] | int = 1
    groups: int = 1
    bias: bool = True

    @property
    def nd(self) -> int:
        return len(self.x_shape) - 2

    @property
    def out_shape(self) -> tuple[int, ...]:
        """From the naive oracle's geometry, not the reference's."""
        _, outs = naive.transposed_geometry(
            self.x_shape[2:], self.w_shape[2:], self.stride, self.padding, self.output_padding, self.dilation
        )
        return (self.x_shape[0], self.groups * self.w_shape[1], *outs)

    def kwargs(self) -> dict:
        return {
            "stride": self.stride,
            "padding": self.padding,
            "output_padding": self.output_padding,
            "dilation": self.dilation,
            "groups": self.groups,
        }

    def conv_kwargs(self) -> dict:
        """The convolution whose adjoint this is: the same geometry without output_padding."""
        kw = self.kwargs()
        del kw["output_padding"]
        return kw


@dataclass(frozen=True)
class Example:
    """A case and the seed its arrays are drawn from; ``values="special"`` puts about 15 % NaN,
    +inf and -inf into ``x`` (weights, bias and ``dy`` stay standard normal)."""

    case: TransposedCase
    seed: int = 0
    values: str = "normal"

    def inputs(self):
        rng = np.random.default_rng(self.seed)
        case = self.case
        x = rng.standard_normal(case.x_shape)
        if self.values == "special":
            pick = rng.random(case.x_shape)
            x[pick < 0.05] = np.nan
            x[(pick >= 0.05) & (pick < 0.10)] = np.inf
            x[(pick >= 0.10) & (pick < 0.15)] = -np.inf
        w = rng.standard_normal(case.w_shape)
        b = rng.standard_normal(case.groups * case.w_shape[1]) if case.bias else None
        return x, w, b, rng.standard_normal(case.out_shape)


def _per_dim(draw, nd: int, low: int, high: int) -> tuple[int, ...]:
    if draw(st.booleans()):
        return (draw(st.integers(low, high)),) * nd
    return tuple(draw(st.integers(low, high)) for _ in range(nd))


@st.composite
def transposed_cases(
    draw,
    ndims=(1, 2, 3),
    *,
    paddings=PADDING_FORMS,
    max_kernel: int = 4,
    max_stride: int = 3,
    max_dilation: int = 3,
    max_groups: int = 3,
) -> TransposedCase:
    """Grouped / depthwise transposed convolutions with every padding form (explicit padding up
    to the whole effective kernel per side, so some taps land entirely in the cropped padding),
    output_padding up to ``max(stride, dilation) - 1``, stride, dilation and bias. Input sizes are
    drawn so that every output has at least one cell; channel counts per group differ between
    input and output, so a transposed weight layout cannot pass by accident."""
    nd = draw(st.sampled_from(list(ndims)))
    groups = draw(st.sampled_from([1, 1, 1, *range(2, max_groups + 1)]))
    depthwise = groups > 1 and draw(st.booleans())
    cg = 1 if depthwise else draw(st.integers(1, 3))
    og = draw(st.sampled_from([v for v in (1, 2, 3) if v != cg]))
    kernel = tuple(draw(st.integers(1, max_kernel if nd < 3 else min(max_kernel, 3))) for _ in range(nd))
    stride = _per_dim(draw, nd, 1, max_stride)
    dilation = _per_dim(draw, nd, 1, max_dilation) if draw(st.booleans()) else (1,) * nd
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    form = draw(st.sampled_from(list(paddings)))
    padding: object
    if form in ("valid", *SAME_FORMS):
        padding, pads = form, [(0, 0)] * nd
    elif form == "int":
        p = draw(st.integers(0, min(span)))
        padding, pads = p, [(p, p)] * nd
    elif form == "per_dim":
        padding = tuple(draw(st.integers(0, k)) for k in span)
        pads = [(p, p) for p in padding]
    else:
        pads = [(draw(st.integers(0, k)), draw(st.integers(0, k))) for k in span]
        padding = tuple(pads)
    if form in SAME_FORMS or draw(st.booleans()):
        extra = (0,) * nd
    else:
        extra = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    sizes = []
    for k_eff, s, (lo, hi), p in zip(span, stride, pads, extra):
        low = max(1, 1 + -(-(lo + hi + 1 - k_eff - p) // s))
        sizes.append(draw(st.integers(low, low + (5, 3, 2)[nd - 1])))
    return TransposedCase(
        x_shape=(draw(st.integers(1, 3)), groups * cg, *sizes),
        w_shape=(groups * cg, og, *kernel),
        stride=stride,
        padding=padding,
        output_padding=extra,
        dilation=dilation,
        groups=groups,
        bias=draw(st.booleans()),
    )


def examples(cases=None, values=("normal",)):
    return st.builds(
        Example, transposed_cases() if cases is None else cases, st.integers(0, 2**32 - 1), st.sampled_from(values)
    )


# Pinned beside the drawn cases: the awkward features, named.
PINNED = {
    "same_stride2_even_kernel": Example(TransposedCase((2, 3, 5, 4), (3, 2, 4, 2), (2, 2), "same"), 1),
    "same_kernel_shorter_than_stride": Example(TransposedCase((2, 2, 4, 3), (2, 3, 2, 1), (3, 2), "same"), 2),
    "same_lower_1d_dilation_groups": Example(
        TransposedCase((2, 4, 6), (4, 3, 2), (2,), "same_lower", dilation=2, groups=2), 3, "special"
    ),
    "same_lower_3d_even_kernel": Example(TransposedCase((1, 2, 3, 4, 2), (2, 3, 2, 2, 4), (2, 1, 3), "same_lower"), 4),
    "asymmetric_pairs_output_padding_3d": Example(
        TransposedCase(
            (2, 3, 3, 4, 2),
            (3, 2, 2, 3, 2),
            (2, 1, 2),
            ((1, 0), (0, 2), (1, 1)),
            output_padding=(1, 0, 1),
            dilation=(1, 2, 1),
            groups=3,
        ),
        5,
    ),
    "output_padding_from_dilation": Example(
        TransposedCase((2, 2, 5), (2, 3, 3), (1,), 1, output_padding=2, dilation=3, bias=True), 6
    ),
    "taps_entirely_in_padding": Example(TransposedCase((2, 2, 3), (2, 3, 2), (1,), [(3, 0)]), 7, "special"),
    "depthwise_mixed_padding_forms": Example(
        TransposedCase((2, 4, 5, 6), (4, 2, 3, 2), (2, 3), [1, (0, 2)], output_padding=(1, 2), groups=4), 8
    ),
}


# ------------------------------------------------------------------------------------------------
# Against the naive oracle
# ------------------------------------------------------------------------------------------------


def check_against_naive(ex: Example) -> None:
    case = ex.case
    x, w, b, dy = ex.inputs()
    kw = case.kwargs()
    abs_b = None if b is None else np.abs(b)
    k = math.prod(case.w_shape[2:])
    cg, og = case.x_shape[1] // case.groups, case.w_shape[1]

    y = reference.conv_transpose(x, w, b, **kw)
    want = naive.conv_transpose(x, w, b, **kw)
    assert_close(y, want, naive.conv_transpose(np.abs(x), np.abs(w), abs_b, **kw), cg * k + 1, what="y", case=ex)

    got = reference.conv_transpose_backward(x, w, dy, **kw)
    wants = naive.conv_transpose_backward(x, w, dy, **kw)
    mags = naive.conv_transpose_backward(np.abs(x), np.abs(w), np.abs(dy), **kw)
    per_input = x.shape[0] * math.prod(x.shape[2:])
    per_output = dy.shape[0] * math.prod(dy.shape[2:])
    for name, g, e, m, terms in zip(("dx", "dw", "db"), got, wants, mags, (og * k, per_input, per_output)):
        assert_close(g, e, m, terms, what=name, case=ex)


@given(ex=examples(values=("normal", "special")))
def test_conv_transpose_matches_naive(ex):
    """conv_transpose and conv_transpose_backward (dx, dw, db) equal the naive scatter loops within
    the float64 bound, for drawn 1-D / 2-D / 3-D cases with every padding form, output_padding,
    stride, dilation, groups and bias, with finite and with NaN / inf inputs (a NaN or inf input
    whose taps are all cropped away leaves no trace, not even in dw)."""
    check_against_naive(ex)


@pytest.mark.parametrize("name", list(PINNED))
def test_conv_transpose_matches_naive_pinned(name):
    """The same comparison on named cases: "same" with even kernels and stride 2, "same" with a
    kernel shorter than the stride (empty cells at the end), "same_lower" in 1-D and 3-D,
    asymmetric pairs with output_padding in 3-D, output_padding >= stride (allowed by dilation),
    taps landing entirely in the cropped padding, depthwise with mixed padding forms."""
    check_against_naive(PINNED[name])


@given(ex=examples(transposed_cases(max_kernel=3, max_groups=2)), chunk=st.sampled_from([1, 40, 300, 2000]))
def test_conv_transpose_chunked_matches_naive(ex, chunk):
    """With a tiny chunk budget both passes split the work into batch and row blocks; the results
    must still equal the naive loops."""
    with mock.patch.object(windows, "CHUNK_BYTES", chunk):
        check_against_naive(ex)


@given(ex=examples(values=("normal", "special")), small=st.sampled_from([-1, 10**9]))
def test_conv_transpose_small_and_large_paths_match_naive(ex, small):
    """Every call small (the forward's one scatter by col2im, the backward's one im2col copy of the
    padded dy when x and w are finite) and none small (tap by tap): both equal the naive loops."""
    with mock.patch.object(windows, "SMALL_SCATTER", small):
        check_against_naive(ex)


@pytest.mark.parametrize("padding", [2, [(3, 1)], "same", "same_lower"])
def test_non_finite_weights_match_naive(padding):
    """NaN and inf in w: the forward pass and dx equal the naive loops exactly in their NaN / inf
    pattern, including where a non-finite tap lands only on cropped cells (it must leave no trace)."""
    rng = np.random.default_rng(17)
    x, dy = rng.standard_normal((2, 2, 6)), None
    w = rng.standard_normal((2, 3, 4))
    w[0, 1, 0], w[1, 2, 3], w[1, 0, 1] = np.inf, np.nan, -np.inf
    kw = {"stride": 2, "padding": padding}
    y = reference.conv_transpose(x, w, **kw)
    assert_close(
        y, naive.conv_transpose(x, w, **kw), naive.conv_transpose(np.abs(x), np.abs(w), **kw), 9, what="y", case=kw
    )
    dy = rng.standard_normal(y.shape)
    got = reference.conv_transpose_backward(x, w, dy, **kw)
    want = naive.conv_transpose_backward(x, w, dy, **kw)
    mags = naive.conv_transpose_backward(np.abs(x), np.abs(w), np.abs(dy), **kw)
    for name, g, e, m in zip(("dx", "dw", "db"), got, want, mags):
        assert_close(g, e, m, 100, what=name, case=kw)


@pytest.mark.parametrize(
    "view",
    [
        lambda a: a[:, :, ::-1],
        np.asfortranarray,
        lambda a: a[..., ::2],
        lambda a: a.transpose(0, 1, 3, 2),
        np.ndarray.tolist,
    ],
    ids=["reversed", "fortran", "step-2", "transposed", "nested-list"],
)
def test_conv_transpose_accepts_any_memory_layout(view):
    """Non-contiguous, negatively strided, Fortran-ordered and nested-list inputs (and a
    non-contiguous cotangent) give the same numbers as a contiguous copy through the naive loops."""
    rng = np.random.default_rng(3)
    x = view(rng.standard_normal((2, 4, 9, 8)))
    dense = np.ascontiguousarray(np.asarray(x))
    w = rng.standard_normal((4, 3, 3, 2))
    kw = {"stride": (2, 1), "padding": ((1, 2), (0, 1)), "output_padding": (1, 0), "groups": 2}
    y = reference.conv_transpose(x, w, **kw)
    magnitude = naive.conv_transpose(np.abs(dense), np.abs(w), **kw)
    assert_close(y, naive.conv_transpose(dense, w, **kw), magnitude, 13, what="y", case=kw)
    dy = rng.standard_normal(y.shape[::-1]).T
    got = reference.conv_transpose_backward(x, w, dy, **kw)
    want = naive.conv_transpose_backward(dense, w, dy, **kw)
    mags = naive.conv_transpose_backward(np.abs(dense), np.abs(w), np.abs(dy), **kw)
    for name, g, e, m in zip(("dx", "dw", "db"), got, want, mags):
        assert_close(g, e, m, 2000, what=name, case=kw)


# ------------------------------------------------------------------------------------------------
# The adjoint of conv
# ------------------------------------------------------------------------------------------------


def _conv_truncated(case: TransposedCase, z: np.ndarray, w: np.ndarray, *, absolute: bool = False) -> np.ndarray:
    """conv with the same geometry, keeping its first ``n`` outputs per dimension (it has more
    only when output_padding >= stride)."""
    if absolute:
        z, w = np.abs(z), np.abs(w)
    out = reference.conv(z, w, **case.conv_kwargs())
    return out[(slice(None), slice(None), *(slice(0, n) for n in case.x_shape[2:]))]


@given(ex=examples())
def test_conv_transpose_is_the_adjoint_of_conv(ex):
    """<conv(x', w), x> == <x', conv_transpose(x, w)> for random x (shaped like conv's output) and
    x' (shaped like conv_transpose's output), for every padding form, with conv taking the same
    stride, padding, dilation and groups; and the other way round, <conv_transpose(x, w), x'> ==
    <x, conv(x', w)>, with both sides computed from the other op."""
    case = ex.case
    x, w, _, xp = ex.inputs()  # xp: a random array shaped like the transposed output
    kw = case.kwargs()
    y = reference.conv_transpose(x, w, **kw)
    assert y.shape == xp.shape
    conv_xp = _conv_truncated(case, xp, w)
    k = math.prod(case.w_shape[2:])
    cg, og = case.x_shape[1] // case.groups, case.w_shape[1]
    terms = max(og * k + x.size, cg * k + xp.size)
    scale = inner(np.abs(x), _conv_truncated(case, xp, w, absolute=True))
    what = "<conv(x'), x> vs <x', conv_transpose(x)>"
    assert_inner_equal(inner(conv_xp, x), inner(xp, y), scale, terms, what=what, case=ex)
    what = "<conv_transpose(x), x'> vs <x, conv(x')>"
    assert_inner_equal(inner(y, xp), inner(x, conv_xp), scale, terms, what=what, case=ex)


@given(ex=examples())
def test_conv_transpose_is_conv_backward_and_back(ex):
    """conv_transpose(x, w) is conv_backward's dx for a conv of an input shaped like the
    transposed output and an upstream gradient x (zero past conv's first n outputs), and
    conv_transpose_backward's dx is conv(dy, w) with the same geometry."""
    case = ex.case
    x, w, _, dy = ex.inputs()
    kw = case.kwargs()
    k = math.prod(case.w_shape[2:])
    cg, og = case.x_shape[1] // case.groups, case.w_shape[1]
    conv_out = reference.conv(dy, w, **case.conv_kwargs()).shape
    upstream = np.zeros(conv_out)
    upstream[(slice(None), slice(None), *(slice(0, n) for n in x.shape[2:]))] = x
    via_conv = reference.conv_backward(dy, w, upstream, **case.conv_kwargs())[0]
    magnitude = reference.conv_backward(np.abs(dy), np.abs(w), np.abs(upstream), **case.conv_kwargs())[0]
    assert_close(reference.conv_transpose(x, w, **kw), via_conv, magnitude, cg * k + 1, what="y", case=ex)
    dx = reference.conv_transpose_backward(x, w, dy, **kw)[0]
    assert_close(
        dx, _conv_truncated(case, dy, w), _conv_truncated(case, dy, w, absolute=True), og * k, what="dx", case=ex
    )


# ------------------------------------------------------------------------------------------------
# Gradients without an oracle
# ------------------------------------------------------------------------------------------------


@given(ex=examples())
def test_conv_transpose_backward_adjoint(ex):
    """<conv_transpose(x, w), dy> == <x, dx> == <w, dw> and <b broadcast, dy> == <b, db>."""
    case = ex.case
    x, w, b, dy = ex.inputs()
    kw = case.kwargs()
    b = b if b is not None else np.random.default_rng(ex.seed).standard_normal(dy.shape[1])
    y = reference.conv_transpose(x, w, **kw)
    dx, dw, db = reference.conv_transpose_backward(x, w, dy, **kw)
    scale = inner(np.abs(dy), reference.conv_transpose(np.abs(x), np.abs(w), **kw))
    k = math.prod(case.w_shape[2:])
    cg, og = case.x_shape[1] // case.groups, case.w_shape[1]
    terms = max(cg * k + dy.size, og * k + x.size, x.shape[0] * math.prod(x.shape[2:]) + w.size)
    lhs = inner(y, dy)
    assert_inner_equal(lhs, inner(x, dx), scale, terms, what="<conv_transpose(x), dy> vs <x, dx>", case=ex)
    assert_inner_equal(lhs, inner(w, dw), scale, terms, what="<conv_transpose(x), dy> vs <w, dw>", case=ex)
    b_full = np.broadcast_to(b.reshape((1, -1) + (1,) * case.nd), dy.shape)
    scale_b = inner(np.abs(b_full), np.abs(dy))
    assert_inner_equal(inner(b_full, dy), inner(b, db), scale_b, dy.size, what="<b, dy> vs <b, db>", case=ex)


@given(ex=examples(transposed_cases(max_kernel=3, max_groups=2)))
def test_conv_transpose_backward_finite_differences(ex):
    """Central differences of L = <dy, conv_transpose(x, w, b)> along random directions (and every
    unit vector of small arrays) in x, w and b equal <dx, v>, <dw, v> and <db, v>."""
    case = ex.case
    x, w, b, dy = ex.inputs()
    kw = case.kwargs()
    rng = np.random.default_rng(ex.seed)
    b = b if b is not None else rng.standard_normal(dy.shape[1])
    dx, dw, db = reference.conv_transpose_backward(x, w, dy, **kw)
    terms = (case.x_shape[1] // case.groups) * math.prod(case.w_shape[2:]) + dy.size + 1

    def loss(xx, ww, bb):
        y = reference.conv_transpose(xx, ww, bb, **kw)
        return inner(dy, y), inner(np.abs(dy), reference.conv_transpose(np.abs(xx), np.abs(ww), np.abs(bb), **kw))

    common = {"h": H, "terms": terms, "case": ex}
    finite_difference_check(lambda z: loss(z, w, b), x, dx, directions(rng, x.shape), what="dx", **common)
    finite_difference_check(lambda z: loss(x, z, b), w, dw, directions(rng, w.shape), what="dw", **common)
    finite_difference_check(lambda z: loss(x, w, z), b, db, directions(rng, b.shape), what="db", **common)


# ------------------------------------------------------------------------------------------------
# Output sizes
# ------------------------------------------------------------------------------------------------


def _padding_of_dim(padding: object, dim: int) -> object:
    """The one-dimension form of a padding: a string or int as is, the dim-th entry otherwise."""
    if isinstance(padding, (str, int)):
        return padding
    return padding[dim]


@given(ex=examples())
def test_transposed_output_size_is_the_output_shape(ex):
    """transposed_output_size, dimension by dimension, gives the shape conv_transpose returns (and
    the naive oracle's), for every padding form; "same" and "same_lower" give n * s."""
    case = ex.case
    x, w, b, _ = ex.inputs()
    shape = reference.conv_transpose(x, w, b, **case.kwargs()).shape
    assert shape == case.out_shape
    nd = case.nd
    stride = naive.per_dim(case.stride, nd)
    extra, dilation = naive.per_dim(case.output_padding, nd), naive.per_dim(case.dilation, nd)
    for dim in range(nd):
        size = reference.transposed_output_size(
            case.x_shape[2 + dim],
            case.w_shape[2 + dim],
            stride=stride[dim],
            padding=_padding_of_dim(case.padding, dim),
            output_padding=extra[dim],
            dilation=dilation[dim],
        )
        assert size == shape[2 + dim], (dim, size, shape, case)
        if case.padding in SAME_FORMS:
            assert size == case.x_shape[2 + dim] * stride[dim]


def test_transposed_output_size_by_hand():
    """(n - 1) * s - lo - hi + d * (k - 1) + 1 + output_padding: 32 -> 64 with k=3, s=2, p=1, op=1
    (the usual decoder upsampling), 32 -> 65 without padding, 5 -> 11 "valid"; "same" n * s even
    for a kernel shorter than the stride; a (lo, hi) pair; dilation; Keras's "valid" default length
    (n - 1) * s + max(k_eff, s) as "valid" with output_padding max(s - k_eff, 0)."""
    size = reference.transposed_output_size
    assert size(32, 3, stride=2, padding=1, output_padding=1) == 64
    assert size(32, 3, stride=2) == 65
    assert size(5, 3, stride=2, padding="valid") == 11
    assert size(5, 3, stride=2, padding="same") == size(5, 3, stride=2, padding="same_lower") == 10
    assert size(4, 1, stride=3, padding="same") == 12
    assert size(4, 1, stride=3, padding="valid") == 10
    assert size(6, 2, stride=2, padding=(0, 1)) == 11
    assert size(6, 3, stride=1, dilation=3, output_padding=2) == 14
    for n, k, s, d in [(4, 1, 3, 1), (4, 2, 3, 1), (5, 3, 2, 1), (3, 2, 2, 3)]:
        k_eff = d * (k - 1) + 1
        keras = size(n, k, stride=s, dilation=d, padding="valid", output_padding=max(s - k_eff, 0))
        assert keras == (n - 1) * s + max(k_eff, s)


# ------------------------------------------------------------------------------------------------
# By hand, and the other frameworks' conventions
# ------------------------------------------------------------------------------------------------


def test_conv_transpose_by_hand_1d():
    """Each input element scatters the kernel, unflipped, at i * s + k * d - lo: x = [1, 1] with
    w = [1, 2, 3] and stride 2 gives [1, 2, 4, 2, 3] (the overlap adds); padding 1 crops one cell
    at each end; output_padding 1 appends a cell no tap reaches (it holds the bias); "same" and
    "same_lower" keep n * s = 4 cells, dropping the odd padding cell at the end or the beginning;
    dilation 2 spreads the taps; a kernel shorter than the stride leaves "same"'s last cells empty."""
    x = np.ones((1, 1, 2))
    w = np.array([[[1.0, 2.0, 3.0]]])

    def ct(xx, ww, **kw):
        return reference.conv_transpose(xx, ww, **kw)[0, 0].tolist()

    assert ct(x[..., :1], w) == [1.0, 2.0, 3.0]
    assert ct(x, w, stride=2) == [1.0, 2.0, 4.0, 2.0, 3.0]
    assert ct(x, w, stride=2, padding=1) == [2.0, 4.0, 2.0]
    assert ct(x, w, stride=2, padding=[(2, 0)]) == [4.0, 2.0, 3.0]
    assert ct(x, w, stride=2, output_padding=1) == [1.0, 2.0, 4.0, 2.0, 3.0, 0.0]
    assert reference.conv_transpose(x, w, [0.5], stride=2, output_padding=1)[0, 0, -1] == 0.5
    assert ct(x, w, stride=2, padding="same") == [1.0, 2.0, 4.0, 2.0]
    assert ct(x, w, stride=2, padding="same_lower") == [2.0, 4.0, 2.0, 3.0]
    assert ct(x[..., :1], w, dilation=2) == [1.0, 0.0, 2.0, 0.0, 3.0]
    assert ct(x, np.array([[[5.0]]]), stride=3, padding="same") == [5.0, 0.0, 0.0, 5.0, 0.0, 0.0]
    assert ct(x, np.array([[[5.0]]]), stride=3, padding="same_lower") == [5.0, 0.0, 0.0, 5.0, 0.0, 0.0]
    for kw in [{"stride": 2}, {"stride": 2, "padding": 1}, {"stride": 2, "padding": "same_lower"}, {"dilation": 2}]:
        np.testing.assert_array_equal(naive.conv_transpose(x, w, **kw), reference.conv_transpose(x, w, **kw))


def test_grouped_conv_transpose_by_hand():
    """groups=2, weight (C, O // groups, k) = (2, 2, 1): input channel 0 feeds output channels 0
    and 1, input channel 1 feeds output channels 2 and 3, and the bias is per output channel."""
    x = np.arange(10.0).reshape(1, 2, 5)
    w = np.array([1.0, 2.0, -1.0, 3.0]).reshape(2, 2, 1)
    y = reference.conv_transpose(x, w, np.array([0.0, 0.5, 1.0, 1.5]), groups=2)
    np.testing.assert_array_equal(y[0], [x[0, 0], 2 * x[0, 0] + 0.5, -x[0, 1] + 1.0, 3 * x[0, 1] + 1.5])
    dx, dw, db = reference.conv_transpose_backward(x, w, np.ones((1, 4, 5)), groups=2)
    np.testing.assert_array_equal(dx[0], [np.full(5, 3.0), np.full(5, 2.0)])
    np.testing.assert_array_equal(dw.ravel(), [x[0, 0].sum(), x[0, 0].sum(), x[0, 1].sum(), x[0, 1].sum()])
    np.testing.assert_array_equal(db, [5.0] * 4)


def _onnx_pads(n: int, k_eff: int, s: int, *, lower: bool) -> tuple[int, int]:
    """ONNX ConvTranspose auto_pad SAME_UPPER / SAME_LOWER with output_shape n * s and
    output_padding 0, written out from its definition."""
    total = s * (n - 1) + k_eff - n * s
    half = total // 2
    return (total - half, half) if lower else (half, total - half)


@given(
    n=st.integers(1, 6),
    k=st.integers(1, 5),
    s=st.integers(1, 3),
    d=st.integers(1, 3),
    lower=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_same_forms_are_onnx_auto_pad_when_the_kernel_covers_the_stride(n, k, s, d, lower, seed):
    """With an effective kernel at least the stride, "same" / "same_lower" equal explicit padding
    with ONNX's SAME_UPPER / SAME_LOWER pads (output n * s). With a shorter kernel ONNX's total is
    negative; here the s - k_eff cells no tap reaches are all at the end (each holds the bias)."""
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal((2, 3, n)), rng.standard_normal((3, 2, k)), rng.standard_normal(2)
    form = "same_lower" if lower else "same"
    y = reference.conv_transpose(x, w, b, stride=s, padding=form, dilation=d)
    assert y.shape == (2, 2, n * s)
    k_eff = d * (k - 1) + 1
    if k_eff >= s:
        pads = [_onnx_pads(n, k_eff, s, lower=lower)]
        np.testing.assert_array_equal(y, reference.conv_transpose(x, w, b, stride=s, padding=pads, dilation=d))
    else:
        empty = s - k_eff
        np.testing.assert_array_equal(y[..., n * s - empty :], np.broadcast_to(b[:, None], (2, 2, empty)))
        np.testing.assert_array_equal(y[..., : n * s - empty], reference.conv_transpose(x, w, b, stride=s, dilation=d))


# ------------------------------------------------------------------------------------------------
# Parameter counts
# ------------------------------------------------------------------------------------------------


def test_conv_transpose_params_by_hand():
    """C * (O / groups) * prod(kernel) + O: ConvTranspose2d(64, 32, 3) / Conv2DTranspose(32, 3) on
    64 channels has 64 * 32 * 9 + 32 = 18,464 (18,432 without bias); groups divide the weight
    count; an int kernel is square / cubic in ``ndim`` dimensions."""
    assert reference.conv_transpose_params(64, 32, 3) == 18464
    assert reference.conv_transpose_params(64, 32, (3, 3), bias=False) == 18432
    assert reference.conv_transpose_params(8, 16, 3, groups=4) == 8 * 4 * 9 + 16
    assert reference.conv_transpose_params(3, 4, 5, ndim=1) == 3 * 4 * 5 + 4
    assert reference.conv_transpose_params(3, 4, 2, ndim=3) == 3 * 4 * 8 + 4


@given(
    g=st.integers(1, 4),
    cg=st.integers(1, 8),
    og=st.integers(1, 8),
    kernel=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    bias=st.booleans(),
)
def test_conv_transpose_params_counts_the_arrays(g, cg, og, kernel, bias):
    """conv_transpose_params equals the entries of the weight (C, O // groups, *kernel) and bias (O,)
    that conv_transpose accepts, and equals conv_params with the same arguments."""
    c, o = g * cg, g * og
    count = reference.conv_transpose_params(c, o, tuple(kernel), groups=g, bias=bias)
    w = np.zeros((c, og, *kernel))
    x = np.zeros((1, c) + (2,) * len(kernel))
    y = reference.conv_transpose(x, w, np.zeros(o) if bias else None, groups=g)
    assert y.shape[1] == o
    assert count == w.size + (o if bias else 0)
    assert count == reference.conv_params(c, o, tuple(kernel), groups=g, bias=bias)


# ------------------------------------------------------------------------------------------------
# Rounding-error bounds
# ------------------------------------------------------------------------------------------------


def _float32_conv_transpose(x, w, b, dy, *, stride, padding, output_padding, dilation, groups):
    """The forward and backward sums computed in float32 (one float32 matrix product per input
    position and tap, accumulated in float32), for the bound to hold against."""
    x32, w32, dy32 = (a.astype(np.float32) for a in (x, w, dy))
    nd = x.ndim - 2
    kernel = w.shape[2:]
    stride, dilation = naive.per_dim(stride, nd), naive.per_dim(dilation, nd)
    pads, outs = naive.transposed_geometry(x.shape[2:], kernel, stride, padding, output_padding, dilation)
    cg, og = x.shape[1] // groups, w.shape[1]
    y = np.zeros(dy.shape, np.float32)
    dx, dw = np.zeros(x.shape, np.float32), np.zeros(w.shape, np.float32)
    for g in range(groups):
        ins, outs_of_g = slice(g * cg, (g + 1) * cg), slice(g * og, (g + 1) * og)
        for i in naive.grid(x.shape[2:]):
            for k in naive.grid(kernel):
                j = naive.tap_position(i, k, stride, dilation, pads)
                if naive.on_input(j, outs):
                    at_j, at_i, tap = (slice(None), outs_of_g, *j), (slice(None), ins, *i), (ins, slice(None), *k)
                    y[at_j] += x32[at_i] @ w32[tap]
                    dx[at_i] += dy32[at_j] @ w32[tap].T
                    dw[tap] += x32[at_i].T @ dy32[at_j]
    y += b.astype(np.float32).reshape((-1,) + (1,) * nd)
    db = dy32.sum(axis=(0, *range(2, dy.ndim)), dtype=np.float32)
    return y, dx, dw, db


@given(ex=examples(transposed_cases(max_kernel=3, max_groups=2)))
def test_conv_transpose_bounds_hold_for_float32_and_catch_layout_bugs(ex):
    """conv_transpose_bound and conv_transpose_backward_bound (float32) bound the error of float32
    sums against the float64 reference, and equal sum_bound with C / groups * prod(kernel) + 1
    (forward), O / groups * prod(kernel) (dx), N * prod(input) (dw) and N * prod(output) (db)
    terms."""
    case = ex.case
    x, w, b, dy = ex.inputs()
    x, w, dy = (a.astype(np.float32).astype(np.float64) for a in (x, w, dy))
    b = (b if b is not None else np.zeros(dy.shape[1])).astype(np.float32).astype(np.float64)
    kw = case.kwargs()
    y64 = reference.conv_transpose(x, w, b, **kw)
    grads64 = reference.conv_transpose_backward(x, w, dy, **kw)
    y32, *grads32 = _float32_conv_transpose(x, w, b, dy, **kw)
    bound = tolerance.conv_transpose_bound(x, w, b, dtype=np.float32, **kw)
    bounds = tolerance.conv_transpose_backward_bound(x, w, dy, dtype=np.float32, **kw)
    assert np.all(np.abs(y32 - y64) <= bound)
    for name, g32, g64, bnd in zip(("dx", "dw", "db"), grads32, grads64, bounds):
        assert np.all(np.abs(g32 - g64) <= bnd), name

    k = math.prod(case.w_shape[2:])
    mag = reference.conv_transpose(np.abs(x), np.abs(w), np.abs(b), **kw)
    cg, og = case.x_shape[1] // case.groups, case.w_shape[1]
    np.testing.assert_array_equal(bound, tolerance.sum_bound(mag, cg * k + 1, np.float32))
    mags = reference.conv_transpose_backward(np.abs(x), np.abs(w), np.abs(dy), **kw)
    terms = (og * k, x.shape[0] * math.prod(x.shape[2:]), dy.shape[0] * math.prod(dy.shape[2:]))
    for bnd, m, t in zip(bounds, mags, terms):
        np.testing.assert_array_equal(bnd, tolerance.sum_bound(m, t, np.float32))


def test_conv_transpose_bound_catches_layout_bugs():
    """A flipped kernel, swapped weight axes or a padding shifted by one cell land far above the
    float32 forward bound."""
    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((3, 3, 3, 2)), rng.standard_normal(3)
    kw = {"stride": 2, "padding": 1, "output_padding": 1}
    y = reference.conv_transpose(x, w, b, **kw)
    bound = tolerance.conv_transpose_bound(x, w, b, dtype=np.float32, **kw)
    wrongs = [
        reference.conv_transpose(x, w[:, :, ::-1, ::-1], b, **kw),
        reference.conv_transpose(x, w.transpose(1, 0, 2, 3), b, **kw),
        reference.conv_transpose(x, w, b, stride=2, padding=((0, 2), (1, 1)), output_padding=1),
    ]
    for wrong in wrongs:
        assert wrong.shape == y.shape
        assert np.max(np.abs(wrong - y) / bound) > 1e4


def test_transposed_term_count_is_tight():
    """Counting products with all-ones inputs: an output cell of conv_transpose receives at most
    C / groups * prod(kernel) products (the bound's term count, without the bias), and exactly that
    many where every tap of every input channel of its group reaches it (stride 1, interior)."""
    x, w = np.ones((1, 6, 7, 7)), np.ones((6, 2, 3, 2))
    counts = reference.conv_transpose(x, w, groups=3)
    assert counts.max() == 2 * 6
    assert np.all(counts[..., 2:-2, 1:-1] == 2 * 6)
    strided = reference.conv_transpose(x, w, groups=3, stride=2, dilation=(1, 2), output_padding=(1, 1))
    assert strided.max() <= 2 * 6
