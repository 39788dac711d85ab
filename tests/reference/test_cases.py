"""reference.cases and the named edge cases of reference.strategies: features(), repr round-trip,
Example.inputs determinism, value kinds and dtype rounding, window_counts / most_in_a_window
against a brute-force count, and that every named edge case exercises what its name says."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convequiv.reference import cases
from convequiv.reference.cases import ConvCase, ConvTransposeCase, DepthPoolCase, Example, GlobalPoolCase, PoolCase
from convequiv.reference.strategies import (
    EDGE_CASES,
    conv_cases,
    depth_pool_cases,
    edge_cases,
    examples,
    global_pool_cases,
    pool_cases,
)

from . import naive

ALL_VALUES = ("normal", "ties", "negative", "special")
ANY_CASE = st.one_of(
    conv_cases(), pool_cases("max"), pool_cases("avg", avg_dilation=True), depth_pool_cases(), global_pool_cases()
)
NAMESPACE = {cls.__name__: cls for cls in (*cases.ALL_CASES, Example)}


# ------------------------------------------------------------------------------------------------
# features()
# ------------------------------------------------------------------------------------------------

FEATURES = [
    (
        ConvCase((2, 3, 8, 6), (5, 3, 3, 3), stride=2, padding="same"),
        {
            "conv: 2-D",
            "conv: padding same",
            "conv: padding same, stride > 1",
            "conv: padding same, stride 2+, even input",
            "conv: stride > 1",
        },
    ),
    (
        ConvCase((2, 4, 9, 7), (6, 2, 3, 3), padding=((0, 2), (1, 0)), groups=2),
        {"conv: 2-D", "conv: explicit asymmetric padding", "conv: groups > 1"},
    ),
    (
        ConvCase((3, 4, 11, 9), (4, 1, 3, 3), stride=2, padding="same_lower", dilation=2, groups=4),
        {
            "conv: 2-D",
            "conv: depthwise",
            "conv: dilation > 1",
            "conv: padding same_lower",
            "conv: padding same_lower, stride > 1",
            "conv: stride + dilation",
            "conv: stride > 1",
        },
    ),
    (
        ConvCase((2, 3, 7), (4, 3, 4), padding=((3, 0),), bias=False),
        {"conv: 1-D", "conv: even kernel", "conv: explicit asymmetric padding", "conv: no bias"},
    ),
    (ConvCase((1, 2, 5, 4, 3), (3, 2, 1, 1, 1), padding=1), {"conv: 3-D", "conv: explicit symmetric padding"}),
    (ConvCase((1, 2, 5), (3, 2, 3), padding="valid"), {"conv: 1-D", "conv: padding valid"}),
    (
        PoolCase("max", (2, 3, 5, 7), 2, stride=2, ceil_mode=True),
        {"max_pool: 2-D", "max_pool: ceil_mode", "max_pool: ceil_mode adds a window", "max_pool: no padding"},
    ),
    (
        PoolCase("max", (2, 3, 6, 8), 2, stride=2, ceil_mode=True),
        {"max_pool: 2-D", "max_pool: ceil_mode", "max_pool: no padding"},
    ),
    (
        PoolCase("max", (2, 3, 7), 3, stride=1, padding=1, dilation=2),
        {
            "max_pool: 1-D",
            "max_pool: dilation > 1",
            "max_pool: explicit symmetric padding",
            "max_pool: overlapping windows",
        },
    ),
    (
        PoolCase("avg", (2, 3, 7, 6), 3, stride=2, padding=1, count_include_pad=False),
        {
            "avg_pool: 2-D",
            "avg_pool: count_include_pad=False",
            "avg_pool: explicit symmetric padding",
            "avg_pool: overlapping windows",
        },
    ),
    (
        PoolCase("avg", (2, 3, 6, 6), (1, 3), stride=(3, 2)),
        {
            "avg_pool: 2-D",
            "avg_pool: no padding",
            "avg_pool: kernel smaller than stride",
            "avg_pool: overlapping windows",
        },
    ),
    (
        PoolCase("avg", (2, 3, 4, 4, 4), 2),
        {"avg_pool: 3-D", "avg_pool: no padding", "avg_pool: default stride (= kernel)"},
    ),
    (
        PoolCase("avg", (2, 3, 9), 3, stride=3, dilation=2),
        {"avg_pool: 1-D", "avg_pool: no padding", "avg_pool: dilation > 1"},
    ),
    (DepthPoolCase((2, 6, 4), 3), {"depth_pool: max"}),
    (DepthPoolCase((2, 7, 4), 3, mode="avg", stride=2), {"depth_pool: avg", "depth_pool: avg, stride != pool_size"}),
    (DepthPoolCase((2, 6, 4), 3, stride=3), {"depth_pool: max"}),
    (GlobalPoolCase("max", (2, 3, 4, 5, 6), keepdims=True), {"global_max_pool: 3-D, keepdims=True"}),
    (GlobalPoolCase("avg", (2, 3, 4)), {"global_avg_pool: 1-D, keepdims=False"}),
]


@pytest.mark.parametrize(
    ("case", "expected"), FEATURES, ids=lambda v: repr(v)[:60] if isinstance(v, cases.Case) else ""
)
def test_features_by_hand(case, expected):
    """features() names exactly the semantic features each hand-made case exercises."""
    assert case.features() == expected


def _floor_and_ceil_counts(case: PoolCase) -> tuple[tuple[int, ...], tuple[int, ...]]:
    pads = naive.pads_of(case.padding, case.x_shape[2:], case.kernel, case.resolved_stride, case.dilation)
    dims = list(zip(case.x_shape[2:], case.kernel, case.resolved_stride, case.dilation, pads))
    floor = tuple(naive.window_count(n, k, s, d, lo, hi, False) for n, k, s, d, (lo, hi) in dims)
    ceil = tuple(naive.window_count(n, k, s, d, lo, hi, True) for n, k, s, d, (lo, hi) in dims)
    return floor, ceil


@given(case=ANY_CASE)
def test_features_are_consistent_with_the_case(case):
    """Every feature carries the op's prefix, and the geometric ones hold exactly when the
    geometry says so (stride > 1, dilation, groups, overlapping windows, ceil_mode adding a window)."""
    feats = case.features()
    prefix = f"{case.op}: "
    assert feats and all(f.startswith(prefix) for f in feats), feats
    names = {f[len(prefix) :] for f in feats}
    assert (
        f"{case.nd}-D" in names or any(n.startswith(f"{case.nd}-D") for n in names) or isinstance(case, DepthPoolCase)
    )
    if isinstance(case, ConvCase):
        assert ("stride > 1" in names) == any(s > 1 for s in case.stride)
        assert ("dilation > 1" in names) == any(d > 1 for d in case.dilation)
        assert ("no bias" in names) == (not case.bias)
        assert ("depthwise" in names) == (case.groups > 1 and case.groups == case.x_shape[1])
        assert ("groups > 1" in names) == (case.groups > 1 and case.groups != case.x_shape[1])
    elif isinstance(case, PoolCase):
        stride = case.resolved_stride
        assert ("overlapping windows" in names) == any(s < k for s, k in zip(stride, case.kernel))
        assert ("default stride (= kernel)" in names) == (case.stride is None)
        assert ("ceil_mode" in names) == case.ceil_mode
        assert ("dilation > 1" in names) == any(d > 1 for d in case.dilation)
        floor, ceil = _floor_and_ceil_counts(case)
        assert ("ceil_mode adds a window" in names) == (case.ceil_mode and ceil != floor)


# ------------------------------------------------------------------------------------------------
# repr and Example.inputs
# ------------------------------------------------------------------------------------------------


@given(ex=examples(ANY_CASE, values=ALL_VALUES))
def test_repr_round_trips_through_eval(ex):
    """repr(example) is valid Python that rebuilds an equal example (case, seed, value kind) with
    identical arrays."""
    rebuilt = eval(repr(ex), dict(NAMESPACE))
    assert rebuilt == ex
    assert repr(rebuilt) == repr(ex)
    a, b = ex.inputs(), rebuilt.inputs()
    for name in ("x", "dy", "w", "b"):
        left, right = getattr(a, name), getattr(b, name)
        assert (left is None) == (right is None)
        if left is not None:
            np.testing.assert_array_equal(left, right)


@pytest.mark.parametrize("ex", list(EDGE_CASES.values()), ids=list(EDGE_CASES))
def test_edge_case_repr_round_trips(ex):
    """Named edge cases keep their name through repr / eval."""
    rebuilt = eval(repr(ex), dict(NAMESPACE))
    assert rebuilt == ex and rebuilt.name == ex.name


@given(ex=examples(ANY_CASE, values=ALL_VALUES), dtype=st.sampled_from([np.float16, np.float32, np.float64]))
def test_inputs_are_deterministic_and_rounded(ex, dtype):
    """inputs(dtype) is a pure function of (case, seed, values): float64 arrays of the case's shapes
    holding values exactly representable in dtype, equal to the float64 arrays rounded to dtype;
    w and b exist only for convolutions (b only with bias); dy is never all ones."""
    first, again, wide = ex.inputs(dtype), ex.inputs(dtype), ex.inputs()
    case = ex.case
    assert first.x.shape == case.x_shape and first.dy.shape == case.out_shape
    if isinstance(case, ConvCase):
        assert first.w.shape == case.w_shape
        assert (first.b is None) == (not case.bias)
        if case.bias:
            assert first.b.shape == (case.w_shape[0],)
    else:
        assert first.w is None and first.b is None
    for name in ("x", "dy", "w", "b"):
        arr = getattr(first, name)
        if arr is None:
            continue
        assert arr.dtype == np.float64
        np.testing.assert_array_equal(arr, getattr(again, name))
        np.testing.assert_array_equal(arr, arr.astype(dtype).astype(np.float64))
        with np.errstate(over="ignore"):
            np.testing.assert_array_equal(arr, getattr(wide, name).astype(dtype).astype(np.float64))
    assert not np.all(first.dy == 1.0)


@given(ex=examples(ANY_CASE, values=ALL_VALUES))
def test_value_kinds(ex):
    """ "ties": integers in [-2, 2]; "negative": all in [-3, -0.5]; "normal": finite; "special":
    NaN / +inf / -inf mixed in. A different seed gives a different x (unless x is tiny)."""
    x = ex.inputs().x
    if ex.values == "ties":
        assert np.all(np.isin(x, [-2.0, -1.0, 0.0, 1.0, 2.0]))
    elif ex.values == "negative":
        assert np.all((x >= -3.0) & (x <= -0.5))
    elif ex.values == "normal":
        assert np.all(np.isfinite(x))
    if ex.values != "ties" and x.size >= 8:
        other = Example(ex.case, ex.seed + 1, ex.values).inputs().x
        assert not np.array_equal(x, other, equal_nan=True)


def test_special_values_contain_nan_and_both_infinities():
    """ "special" fills about 5 % each of NaN, +inf and -inf."""
    x = Example(GlobalPoolCase("max", (3, 4, 10, 10)), 5, "special").inputs().x
    for fraction in (np.isnan(x).mean(), (x == np.inf).mean(), (x == -np.inf).mean()):
        assert 0.02 < fraction < 0.09


def test_unknown_value_kind_is_an_error():
    """An unknown value kind raises ValueError naming "values" and the kind."""
    with pytest.raises(ValueError, match=r"values.*'uniform'"):
        Example(GlobalPoolCase("avg", (1, 2, 3)), 0, "uniform").inputs()


# ------------------------------------------------------------------------------------------------
# window_counts and most_in_a_window
# ------------------------------------------------------------------------------------------------


def brute_force_counts(case, mask: np.ndarray) -> np.ndarray:
    """How many flagged cells each output reads, by walking every window with the naive geometry."""
    if isinstance(case, GlobalPoolCase):
        return mask.reshape(mask.shape[:2] + (-1,)).sum(axis=-1).reshape(case.out_shape)
    if isinstance(case, DepthPoolCase):
        windows = naive._depth_windows(case.x_shape[1], case.pool_size, case.stride)
        return np.stack([mask[:, w].sum(axis=1) for w in windows], axis=1)
    if isinstance(case, ConvCase):
        kernel, stride, dilation = case.w_shape[2:], case.stride, case.dilation
        pads, outs = naive.geometry(case.x_shape[2:], kernel, stride, case.padding, dilation)
        cg, og = case.w_shape[1], case.w_shape[0] // case.groups
        counts = np.zeros(case.out_shape, np.int64)
        for o in range(case.w_shape[0]):
            channels = slice((o // og) * cg, (o // og + 1) * cg)
            for i in naive.grid(outs):
                for k in naive.grid(kernel):
                    p = naive.tap_position(i, k, stride, dilation, pads)
                    if naive.on_input(p, case.x_shape[2:]):
                        counts[(slice(None), o, *i)] += mask[(slice(None), channels, *p)].sum(axis=1)
        return counts
    stride = case.resolved_stride
    pads, outs = naive.geometry(case.x_shape[2:], case.kernel, stride, case.padding, case.dilation, case.ceil_mode)
    counts = np.zeros(case.out_shape, np.int64)
    for i in naive.grid(outs):
        for k in naive.grid(case.kernel):
            p = naive.tap_position(i, k, stride, case.dilation, pads)
            if naive.on_input(p, case.x_shape[2:]):
                counts[(slice(None), slice(None), *i)] += mask[(slice(None), slice(None), *p)]
    return counts


@given(ex=examples(ANY_CASE, values=("special", "normal")))
def test_window_counts_and_most_in_a_window(ex):
    """window_counts(mask) equals a brute-force count over every window's taps, and
    most_in_a_window("nan" / "inf") is the largest such count of NaN / infinite cells (0 if none)."""
    x = ex.inputs().x
    rng = np.random.default_rng(ex.seed)
    mask = rng.random(x.shape) < 0.3
    got = ex.case.window_counts(mask)
    np.testing.assert_array_equal(got, brute_force_counts(ex.case, mask))
    assert got.shape == ex.case.out_shape
    for flag, test in (("nan", np.isnan), ("inf", np.isinf)):
        flagged = test(x)
        expected = int(brute_force_counts(ex.case, flagged).max()) if flagged.any() else 0
        assert ex.most_in_a_window(flag) == expected


# ------------------------------------------------------------------------------------------------
# Named edge cases
# ------------------------------------------------------------------------------------------------


def _pads(case):
    if isinstance(case, ConvTransposeCase):
        return case.pads  # the crop (tests/reference/test_transposed.py checks it against the naive scatter)
    kernel = case.w_shape[2:] if isinstance(case, ConvCase) else case.kernel
    stride = case.stride if isinstance(case, ConvCase) else case.resolved_stride
    return naive.pads_of(case.padding, case.x_shape[2:], kernel, stride, case.dilation)


def _drop_rule_removes_a_window(case: PoolCase) -> bool:
    pads = _pads(case)
    for n, k, s, d, (lo, hi) in zip(case.x_shape[2:], case.kernel, case.resolved_stride, case.dilation, pads):
        span = d * (k - 1) + 1
        without_drop = -(-(n + lo + hi - span) // s) + 1
        if without_drop > naive.window_count(n, k, s, d, lo, hi, True):
            return True
    return False


def _overhang(case: PoolCase) -> bool:
    pads = _pads(case)
    _, outs = naive.geometry(case.x_shape[2:], case.kernel, case.resolved_stride, case.padding, case.dilation, True)
    return any(
        (o - 1) * s + d * (k - 1) + 1 > n + lo + hi
        for o, n, k, s, d, (lo, hi) in zip(
            outs, case.x_shape[2:], case.kernel, case.resolved_stride, case.dilation, pads
        )
    )


def _kernel(case):
    return case.w_shape[2:] if isinstance(case, ConvCase) else case.kernel


def _mostly_padding(case) -> bool:
    """Some window has more taps outside the input than on it."""
    kernel = _kernel(case)
    stride = case.stride if isinstance(case, ConvCase) else case.resolved_stride
    ceil_mode = getattr(case, "ceil_mode", False)
    pads, outs = naive.geometry(case.x_shape[2:], kernel, stride, case.padding, case.dilation, ceil_mode)
    for i in naive.grid(outs):
        inside = sum(
            naive.on_input(naive.tap_position(i, k, stride, case.dilation, pads), case.x_shape[2:])
            for k in naive.grid(kernel)
        )
        if inside < math.prod(kernel) - inside:
            return True
    return False


# (fragment of the edge case's name, what must then hold)
NAME_CLAIMS = [
    ("dropped_last_window", lambda e: e.case.ceil_mode and _drop_rule_removes_a_window(e.case)),
    ("extra_window", lambda e: e.case.ceil_mode and len(set(_floor_and_ceil_counts(e.case))) == 2),
    ("overhang_not_counted", lambda e: e.case.ceil_mode and e.case.count_include_pad and _overhang(e.case)),
    (
        "same_stride2_even_input",
        lambda e: (
            e.case.padding == "same"
            and any(s == 2 and n % 2 == 0 for s, n in zip(e.case.stride or e.case.kernel, e.case.x_shape[2:]))
        ),
    ),
    ("same_lower", lambda e: e.case.padding == "same_lower"),
    ("even_kernel", lambda e: any(k % 2 == 0 for k in _kernel(e.case))),
    (
        "kernel_smaller_than_stride",
        lambda e: any(k < s for k, s in zip(_kernel(e.case), e.case.stride or _kernel(e.case))),
    ),
    ("asymmetric_padding", lambda e: any(lo != hi for lo, hi in _pads(e.case))),
    (
        "kernel_equals_stride_padded",
        lambda e: any(
            k == s > 1 and lo + hi > 0 for k, s, (lo, hi) in zip(_kernel(e.case), e.case.stride, _pads(e.case))
        ),
    ),
    ("mostly_padding", lambda e: _mostly_padding(e.case)),
    ("groups", lambda e: isinstance(e.case, DepthPoolCase) or e.case.groups > 1),  # depth: see "groups_of_3"
    ("depthwise", lambda e: e.case.groups == e.case.x_shape[1] > 1),
    ("dilation", lambda e: any(d > 1 for d in e.case.dilation)),
    ("stride2", lambda e: 2 in (e.case.stride or ())),
    ("mixed_stride", lambda e: len(set(e.case.stride)) > 1),
    ("conv1d", lambda e: e.case.nd == 1),
    ("conv3d", lambda e: e.case.nd == 3),
    ("transpose1d", lambda e: e.case.nd == 1),
    ("transpose3d", lambda e: e.case.nd == 3),
    ("output_padding", lambda e: any(e.case.output_padding)),
    ("same_lower", lambda e: e.case.padding == "same_lower"),
    ("ties", lambda e: e.values == "ties"),
    ("tied_maxima", lambda e: e.values == "ties"),
    ("overlapping", lambda e: any(s < k for s, k in zip(e.case.resolved_stride, e.case.kernel))),
    ("nan", lambda e: e.values == "special"),
    ("all_negative_with_padding", lambda e: e.values == "negative" and any(lo or hi for lo, hi in _pads(e.case))),
    ("count_include_pad", lambda e: e.case.count_include_pad and any(lo or hi for lo, hi in _pads(e.case))),
    ("exclude_pad", lambda e: not e.case.count_include_pad and any(lo or hi for lo, hi in _pads(e.case))),
    ("groups_of_3", lambda e: e.case.pool_size == 3 and e.case.stride in (None, 3)),
    ("keepdims", lambda e: e.case.keepdims),
    (
        "window_of_only_padding",
        lambda e: (e.case.window_counts(np.ones(e.case.x_shape, dtype=bool)) == 0).any(),
    ),
]


@pytest.mark.parametrize("name", list(EDGE_CASES))
def test_edge_case_exercises_what_its_name_says(name):
    """Each named edge case really has the property its name claims (a pinned example that misses
    its feature silently stops testing it)."""
    ex = EDGE_CASES[name]
    assert ex.name == name
    matched = [fragment for fragment, _ in NAME_CLAIMS if fragment in name]
    for fragment, claim in NAME_CLAIMS:
        if fragment in name:
            assert claim(ex), f"{name}: the case does not have the '{fragment}' property: {ex!r}"
    assert ex.case.op in name or ex.case.op.split("_")[0] in name
    assert matched or name in {"global_avg_pool", "depth_pool_avg"}, f"no claim checks {name}"


def test_every_op_has_edge_cases():
    """edge_cases(op) finds named cases for every op the suite checks."""
    for op in ("conv", "conv_transpose", "max_pool", "avg_pool", "depth_pool", "global_max_pool", "global_avg_pool"):
        assert edge_cases(op), op


def test_window_predicates_count_per_window():
    """The data predicates divergence conditions use count what they say, window by window."""
    case = PoolCase("max", (1, 1, 1, 4), (1, 2))
    ex = Example(case, values="normal")
    x = np.array([[[[np.nan, -np.inf, 1.0, 1.0 - 5e-6]]]])
    ex = _with_x(ex, x)
    assert ex.most_in_a_window("nan") == 1
    assert ex.fewest_in_a_window("above -inf") == 0  # the first window holds only NaN and -inf
    assert ex.most_in_a_window("+inf") == 0
    assert ex.most_near_max_in_a_window(1e-5) == 2  # 1.0 and 1.0 - 5e-6
    assert ex.most_near_max_in_a_window(1e-6) == 1
    assert ex.most_near_max_in_a_window(0.0, 4e-6) == 1  # within 4e-6 * |1.0| of the maximum: only 1.0
    assert ex.most_near_max_in_a_window(0.0, 6e-6) == 2


def test_near_max_predicate_counts_depth_windows_over_channels():
    """A depth pooling's windows are runs of channels at one position, not spatial windows."""
    x = np.array([[[1.0, 0.0], [1.0 - 5e-6, -1.0], [0.0, 2.0], [-1.0, 3.0]]])  # (N, C, W) = (1, 4, 2)
    ex = _with_x(Example(DepthPoolCase((1, 4, 2), 2, "max"), values="normal"), x)
    assert ex.most_near_max_in_a_window(1e-5) == 2  # channels 0 and 1 at position 0
    ex = _with_x(Example(DepthPoolCase((1, 4, 2), 2, "max"), values="normal"), x[:, [0, 2, 1, 3]])
    assert ex.most_near_max_in_a_window(1e-5) == 1  # the near-equal channels now lie in different windows


def _with_x(example, x):
    """An Example whose inputs() returns ``x`` (the predicates only read ``x``)."""

    class Fixed(type(example)):
        def inputs(self, dtype=np.float64):
            base = super().inputs(dtype)
            base.x = x
            return base

    return Fixed(example.case, example.seed, example.values)
