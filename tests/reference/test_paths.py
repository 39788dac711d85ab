"""Every way the reference may compute a result gives the naive oracle's result: the structures the
convolution's cost rule chooses between (forced both ways), the small-input and the large-input
paths of the scatter (col2im), of the pooling reductions and of the max-pool gradient (forced by
their size thresholds), the blocked paths, the joint expected values and bounds of a case, and the
geometry cache (which must never change what is accepted, or an error's message)."""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from convequiv import reference
from convequiv.reference import convolution, geometry, joint, pooling, windows
from convequiv.reference.cases import ConvCase, Example, PoolCase
from convequiv.reference.strategies import conv_cases, examples, pool_cases

from . import naive
from .support import assert_close
from .test_pooling import check_avg_pool, check_max_pool

DEPTHWISE = [
    Example(ConvCase((2, 5, 9, 8), (5, 1, 3, 3), padding=1, groups=5), 1, "special"),
    Example(ConvCase((3, 4, 11, 9), (4, 1, 3, 3), stride=2, padding="same", dilation=2, groups=4), 2),
    Example(ConvCase((2, 3, 10), (3, 1, 4), stride=3, padding=((2, 1),), groups=3), 3, "special"),
    Example(ConvCase((1, 2, 5, 6, 4), (2, 1, 2, 3, 2), stride=(1, 2, 1), padding="same_lower", groups=2), 4),
    Example(ConvCase((2, 6, 7, 9), (6, 1, 3, 2), stride=(2, 3), padding=[1, (0, 1)], dilation=(2, 1), groups=6), 5),
    Example(ConvCase((2, 3, 1, 1), (3, 1, 1, 1), groups=3, bias=False), 6),
]


def check_structure(ex: Example, structure: str) -> None:
    """conv and conv_backward computed by ``structure`` equal the naive loops within the float64
    bound (the bound of test_conv: C / groups * prod(kernel) + 1 terms forward, O / groups *
    prod(kernel) for dx, N * prod(out) for dw and db)."""
    case = ex.case
    x, w, b, dy = (getattr(ex.inputs(), k) for k in ("x", "w", "b", "dy"))
    kw = case.kwargs()
    s, p, d, g = kw["stride"], kw["padding"], kw["dilation"], kw["groups"]
    taps = math.prod(case.kernel)
    cg, og = case.w_shape[1], case.w_shape[0] // case.groups
    per_output = dy.shape[0] * math.prod(dy.shape[2:])
    absolute = [None if a is None else np.abs(a) for a in (x, w, b, dy)]
    y = convolution._conv(x, w, b, s, p, d, g, structure)
    assert_close(y, naive.conv(x, w, b, **kw), naive.conv(*absolute[:3], **kw), cg * taps + 1, what="y", case=ex)
    got = convolution._conv_backward(x, w, dy, s, p, d, g, structure)
    want = naive.conv_backward(x, w, dy, **kw)
    mags = naive.conv_backward(absolute[0], absolute[1], absolute[3], **kw)
    for name, a, e, m, terms in zip(("dx", "dw", "db"), got, want, mags, (og * taps, per_output, per_output)):
        assert_close(a, e, m, terms, what=f"{name} ({structure})", case=ex)


@pytest.mark.parametrize("structure", convolution.STRUCTURES)
@pytest.mark.parametrize("ex", DEPTHWISE, ids=lambda e: f"{e.case.nd}d-seed{e.seed}")
def test_depthwise_structures_match_naive(ex, structure):
    """A depthwise convolution computed by the im2col product and by the channels-last tap loop
    (whichever the cost rule would choose) equals the naive loops: 1-D to 3-D, stride, dilation,
    every padding form, NaN / inf inputs, a 1 x 1 input."""
    check_structure(ex, structure)


@given(
    ex=examples(conv_cases(max_groups=4), values=("normal", "special")),
    structure=st.sampled_from(convolution.STRUCTURES),
)
@example(ex=DEPTHWISE[0], structure="taps")
def test_forced_structure_matches_naive(ex, structure):
    """Forcing either structure on any drawn convolution gives the naive result (``"taps"`` applies
    only to depthwise shapes; elsewhere it falls back to im2col)."""
    check_structure(ex, structure)


@given(ex=examples(conv_cases(max_kernel=3, max_groups=3)), chunk=st.sampled_from([1, 64, 700]))
def test_taps_in_small_blocks_match_naive(ex, chunk):
    """The tap loop with tiny blocks (split into batch items and row blocks) still equals the naive loops."""
    with mock.patch("convequiv.reference.depthwise.BLOCK_BYTES", chunk):
        check_structure(ex, "taps")


def test_cost_rule_chooses_by_shape():
    """Depthwise layers with a large output per item take the tap loop; small ones, grouped ones
    with a real contraction and dense ones take im2col."""
    rule = convolution.structure
    big = geometry.window_geometry("conv", (112, 112), (3, 3), stride=1, padding=1)
    small = geometry.window_geometry("conv", (8, 8), (3, 3), stride=1, padding=1)
    assert rule(32, 32, 32, big) == "taps"
    assert rule(4, 4, 4, small) == "gemm"
    assert rule(128, 128, 32, big) == "gemm"  # 4 channels per group
    assert rule(32, 64, 32, big) == "gemm"  # a depth multiplier of 2
    assert rule(64, 64, 1, big) == "gemm"


@given(ex=examples(conv_cases(), values=("normal", "special")), small=st.sampled_from([-1, 10**9]))
def test_backward_scatter_paths_match_naive(ex, small):
    """col2im by one bincount (every call small) and by tap adds (none small) both give the naive
    gradients; so does the backward's choice between the per-item and the group-major matrix,
    which follows the same threshold."""
    with mock.patch.object(windows, "SMALL_SCATTER", small):
        check_structure(ex, "gemm")


@st.composite
def plane_geometries(draw: st.DrawFn) -> geometry.WindowGeometry:
    """A 2-D window geometry over a 6 x 5 input: kernels up to 3, strides up to 3, dilation up to
    2, padding up to 2 on each side, either rounding mode (those with an empty output are skipped)."""
    pair = st.tuples(st.integers(0, 2), st.integers(0, 2))
    try:
        return geometry.window_geometry(
            "t",
            (6, 5),
            draw(st.tuples(st.integers(1, 3), st.integers(1, 3))),
            stride=draw(st.tuples(st.integers(1, 3), st.integers(1, 3))),
            padding=draw(st.tuples(pair, pair)),
            dilation=draw(st.tuples(st.integers(1, 2), st.integers(1, 2))),
            ceil_mode=draw(st.booleans()),
        )
    except ValueError:
        assume(False)
        raise


@settings(max_examples=60)
@given(geom=plane_geometries(), seed=st.integers(0, 2**16))
def test_col2im_paths_are_identical(geom, seed):
    """The bincount scatter and the tap-by-tap scatter add the same values in the same (tap)
    order: their results are identical, bit for bit, and equal a plain loop's."""
    values = np.random.default_rng(seed).standard_normal((2, 3) + geom.kernel + geom.out)
    with mock.patch.object(windows, "SMALL_SCATTER", 10**9):
        by_count = windows.col2im(values, geom)
    with mock.patch.object(windows, "SMALL_SCATTER", -1):
        by_taps = windows.col2im(values, geom)
    loop = np.zeros(by_taps.shape)
    for tap in np.ndindex(*geom.kernel):
        for i in np.ndindex(*geom.out):
            at = tuple(o * s + k * d for o, s, k, d in zip(i, geom.stride, tap, geom.dilation))
            loop[(slice(None), slice(None), *at)] += values[(slice(None), slice(None), *tap, *i)]
    assert np.array_equal(by_count, by_taps) and np.array_equal(by_taps, loop)


@settings(max_examples=60)
@given(geom=plane_geometries(), seed=st.integers(0, 2**16))
def test_gather_and_scatter_equal_the_padded_window_view(geom, seed):
    """A plan's gather copies exactly the padded input's window view, in each of its layouts, and
    its scatter adds exactly what col2im adds, cropped (the same values in the same tap order)."""
    x = np.random.default_rng(seed).standard_normal((2, 3, 6, 5))
    plan = windows.CallPlan(geom, x.shape)
    view = windows.window_view(windows.pad(x, geom, -7.5), geom).reshape(6, -1, math.prod(geom.kernel))  # (c, P, T)
    layouts = {"plane tap window": (0, 2, 1), "tap plane window": (2, 0, 1), "plane window tap": (0, 1, 2)}
    for order, axes in layouts.items():
        assert np.array_equal(plan.gather(x, -7.5, order), view.transpose(axes)), order
    values = np.random.default_rng(seed + 1).standard_normal((2, 3) + geom.kernel + geom.out)
    padded = windows.col2im(values, geom)
    inner = (slice(None), slice(None)) + tuple(slice(lo, lo + n) for (lo, _), n in zip(geom.padding, geom.sizes))
    assert np.array_equal(plan.scatter(values), padded[inner])


def test_call_plan_cache_never_changes_what_is_accepted():
    """A call's plan is cached like its geometry: equal spellings share it, the common spelling
    (int arguments, a kernel read off a shape) is answered from the cache, and other types are
    resolved afresh: ``True`` and ``2.0`` are rejected with the usual message however often the
    equal int spelling was cached before."""
    plan = windows.call_plan("max_pool", (2, 3, 8, 8), 3, 2, 0, 1, False)
    assert windows.call_plan("max_pool", (2, 3, 8, 8), 3, 2, 0, 1, False) is plan
    assert windows.call_plan("max_pool", (2, 3, 8, 8), (3, 3), [2, 2], [(0, 0), (0, 0)], 1, False).geom == plan.geom
    shaped = windows.call_plan("conv", (2, 3, 8, 8), (3, 3), 2, "same", 1, False, kernel_is_shape=True)
    assert shaped.out_shape == (2, 3, 4, 4) and shaped.window_taps == 6 * 16 * 9
    for bad in (True, 2.0):
        with pytest.raises(TypeError, match="stride must be an int or a sequence"):
            windows.call_plan("max_pool", (2, 3, 8, 8), 3, bad, 0, 1, False)
        with pytest.raises(TypeError, match="kernel must be an int or a sequence"):
            windows.call_plan("max_pool", (2, 3, 8, 8), bad, 2, 0, 1, False)
    with pytest.raises(TypeError, match="ceil_mode must be a bool"):
        windows.call_plan("max_pool", (2, 3, 8, 8), 3, 2, 0, 1, 0)


@pytest.mark.parametrize("small", [-1, 10**9])
@given(ex=examples(pool_cases("max"), values=("normal", "ties", "negative", "special")))
def test_max_pool_paths_match_naive(small, ex):
    """The forward reduction with and without the gathered taps, and the gradient's first-tap
    search by the taps' argmax (and its fallbacks: a NaN under ``nan="ignore"``, a ``-inf`` window
    with padding), by the maximal taps' argmax and by rank, all equal the naive loops (every tie
    and NaN policy)."""
    with mock.patch.object(pooling, "SMALL_WINDOWS", small):
        check_max_pool(ex)


@pytest.mark.parametrize("small", [-1, 10**9])
@given(ex=examples(pool_cases("avg", avg_dilation=True), values=("normal", "special")))
def test_avg_pool_paths_match_naive(small, ex):
    """Window sums with and without the tap-major copy equal the naive loops."""
    with mock.patch.object(pooling, "SMALL_WINDOWS", small):
        check_avg_pool(ex)


def _minus_inf_row() -> np.ndarray:
    x = np.arange(2 * 1 * 4 * 5, dtype=np.float64).reshape(2, 1, 4, 5)
    x[0, 0, 0, :] = -np.inf  # with padding 1, the top windows read only -inf input cells and padding
    return x


def _nan_window() -> np.ndarray:
    x = np.arange(2 * 2 * 4 * 4, dtype=np.float64).reshape(2, 2, 4, 4)
    x[1, 0, 1, 2] = np.nan
    x[0, 1, 0, 0] = x[0, 1, 0, 1] = np.nan
    return x


FIRST_MAX_FALLBACKS = {
    "-inf windows beside padding": (_minus_inf_row(), {"kernel": 2, "stride": 1, "padding": 1}),
    "a window wholly in padding": (np.ones((1, 2, 3, 3)), {"kernel": 2, "stride": 2, "padding": 1, "ceil_mode": True}),
    "NaN taps": (_nan_window(), {"kernel": 2, "stride": 1, "padding": 0}),
    "NaN taps beside padding": (_nan_window(), {"kernel": 3, "stride": 2, "padding": 1}),
}


@pytest.mark.parametrize("nan", ["propagate", "ignore"])
@pytest.mark.parametrize("name", list(FIRST_MAX_FALLBACKS))
def test_max_pool_first_tap_shortcut_and_its_fallbacks(name, nan):
    """The small first-tap route (the taps' argmax) leaves the cases it cannot decide to the
    general route: a NaN under ``nan="ignore"``, a ``-inf`` maximum with padding (the first
    maximal input tap may follow a padding tap, or not exist); results equal the naive loops
    exactly (each cell receives one ``dy`` per window, added in window order)."""
    x, kw = FIRST_MAX_FALLBACKS[name]
    y = naive.max_pool(x, nan=nan, **kw)
    dy = np.random.default_rng(3).standard_normal(y.shape)
    assert np.array_equal(reference.max_pool(x, nan=nan, **kw), y, equal_nan=True)
    got = reference.max_pool_backward(x, dy, nan=nan, **kw)
    assert np.array_equal(got, naive.max_pool_backward(x, dy, nan=nan, **kw), equal_nan=True)


@given(ex=examples(pool_cases("max"), values=("ties", "special")), chunk=st.sampled_from([1, 100, 5000]))
def test_max_pool_gradient_in_plane_blocks_matches_naive(ex, chunk):
    """The max-pool gradient computed in blocks of planes (a tiny chunk budget) equals the naive loops."""
    with mock.patch.object(windows, "CHUNK_BYTES", chunk):
        check_max_pool(ex)


def test_max_pool_gradients_share_routing():
    """max_pool_gradients with several upstream gradients returns max_pool and each
    max_pool_backward exactly (same maxima, same routing)."""
    ex = Example(PoolCase("max", (2, 3, 7, 8), 3, stride=1, padding=1, dilation=2), 9, "ties")
    x, dy = ex.inputs().x, ex.inputs().dy
    kw = ex.case.kwargs()
    for ties in ("first", "split"):
        y, grads = pooling.max_pool_gradients(
            x, [dy, np.abs(dy)], windows.CallPlan(ex.case.geometry, x.shape), ties, "propagate"
        )
        assert np.array_equal(y, reference.max_pool(x, 3, **kw))
        for got, upstream in zip(grads, (dy, np.abs(dy))):
            assert np.array_equal(got, reference.max_pool_backward(x, upstream, 3, ties=ties, **kw))


JOINT_OPS = {"conv": conv_cases(), "max": pool_cases("max"), "avg": pool_cases("avg", avg_dilation=True)}


@pytest.mark.parametrize("op", list(JOINT_OPS))
@given(data=st.data())
def test_expected_and_bounds_equal_expected_and_bounds(op, data):
    """case.expected_and_bounds gives case.expected's values (within the float64 bound of two
    computations of the same sums: the stacked call may pick another structure) and
    case.bounds' bounds (their magnitudes agree the same way), for every output."""
    ex = data.draw(examples(JOINT_OPS[op], values=("normal", "ties", "special")))
    dtype = data.draw(st.sampled_from(["float32", "float64"]))
    ties = data.draw(st.sampled_from(["first", "split"]))
    case, inputs = ex.case, ex.inputs(dtype)
    want, bounds = case.expected(inputs, ties=ties), case.bounds(inputs, dtype, ties=ties)
    got, got_bounds = case.expected_and_bounds(inputs, dtype, ties=ties)
    both_float64 = case.bounds(inputs, np.float64, ties=ties)  # two float64 computations: tolerance.agree's bound
    assert set(got) == set(want) and set(got_bounds) == set(bounds)
    for key in want:
        a, b = np.asarray(got[key]), np.asarray(want[key])
        assert a.shape == b.shape and np.array_equal(np.isnan(a), np.isnan(b)), (key, ex)
        with np.errstate(invalid="ignore"):
            agree = (a == b) | np.isnan(a) | (np.abs(a - b) <= both_float64[key])
        assert agree.all(), (key, ex)
        assert np.allclose(got_bounds[key], bounds[key], rtol=1e-9, atol=0, equal_nan=True), (key, ex)


def test_joint_falls_back_for_other_cases():
    """Cases without a joint computation take expected() and bounds() as they are."""
    from convequiv.reference.cases import DepthPoolCase

    ex = Example(DepthPoolCase((2, 6, 4, 5), 3), 31)
    inputs = ex.inputs("float32")
    got, got_bounds = joint.expected_and_bounds(ex.case, inputs, "float32")
    for key, value in ex.case.expected(inputs).items():
        assert np.array_equal(got[key], value)
    for key, value in ex.case.bounds(inputs, "float32").items():
        assert np.array_equal(got_bounds[key], value)


def test_geometry_cache_never_changes_what_is_accepted():
    """The cached geometry answers equal arguments alike however they are spelled (lists or
    tuples) and never answers an argument of another type: True, 2.0 and NumPy integers are
    resolved afresh (the first two rejected with the usual message, NumPy integers accepted)."""
    resolve = geometry.window_geometry
    a = resolve("conv", (8, 8), (3, 3), stride=2, padding="same")
    assert resolve("conv", (8, 8), [3, 3], stride=[2, 2], padding="same") == a
    assert resolve("conv", (8, 8), 3, stride=2, padding=[(0, 1), (0, 1)]) == a
    assert resolve("conv", (8, 8), np.int64(3), stride=np.int64(2), padding="same") == a
    for bad, message in ((True, "kernel must be an int or a sequence"), (3.0, "kernel must be an int or a sequence")):
        with pytest.raises(TypeError, match=message):
            resolve("conv", (8, 8), bad, stride=2, padding="same")
    with pytest.raises(TypeError, match="ceil_mode must be a bool"):
        resolve("max_pool", (8, 8), 3, stride=2, padding=0, ceil_mode=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="output size along spatial dimension 0 would be 0"):
        resolve("conv", (2, 8), 3, stride=1, padding=0)
    with pytest.raises(ValueError, match="output size along spatial dimension 0 would be 0"):
        resolve("conv", (2, 8), 3, stride=1, padding=0)  # an error is never cached


def test_transposed_geometry_cache_never_changes_what_is_accepted():
    """The same for the transposed convolution's geometry: spellings of one geometry share its
    cached answer, other types are resolved afresh, errors are raised every time."""
    from convequiv.reference.transposed import transposed_geometry as resolve

    a = resolve("conv_transpose", (4, 5), (3, 3), stride=2, padding=1, output_padding=1, dilation=1)
    b = resolve("conv_transpose", (4, 5), [3, 3], stride=[2, 2], padding=[1, 1], output_padding=(1, 1), dilation=1)
    assert b == a
    assert resolve("conv_transpose", (4, 5), np.int64(3), stride=2, padding=1, output_padding=1, dilation=1) == a
    with pytest.raises(TypeError, match="stride must be an int or a sequence"):
        resolve("conv_transpose", (4, 5), 3, stride=2.0, padding=1, output_padding=1, dilation=1)
    for _ in range(2):  # an error is never cached
        with pytest.raises(ValueError, match="output_padding must be smaller than max"):
            resolve("conv_transpose", (4, 5), 3, stride=2, padding=1, output_padding=2, dilation=1)
