"""Hypothesis strategies that build *valid* cases directly (no rejection sampling).

Requires ``hypothesis`` (``pip install convequiv[test]``); ``import convequiv.reference`` alone does not.

Every strategy draws the geometry first and then input sizes that are guaranteed to give an output
of at least one element, so nothing is filtered. Batch size, channel counts and spatial sizes are
drawn pairwise distinct wherever the constraints allow, so that a transposed layout cannot
produce a correctly shaped result by accident. Strategies of whole examples return
:class:`convequiv.reference.cases.Example` (case + seed + value kind); arrays are rebuilt from the seed,
which keeps generation cheap and every failure reproducible from its ``repr``.

Named edge cases (ONNX style, the reason in the name) live in :data:`EDGE_CASES`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from .cases import ConvCase, ConvTransposeCase, DepthPoolCase, Example, GlobalPoolCase, Padding, PoolCase
from .geometry import PADDING_STRINGS, Pads

PADDING_FORMS = ("int", "per_dim", "pairs", *PADDING_STRINGS)


def _fresh(draw: st.DrawFn, low: int, high: int, used: set[int]) -> int:
    """An int in ``[low, high]`` not in ``used`` (any value when the range is exhausted)."""
    options = [v for v in range(low, high + 1) if v not in used]
    value = draw(st.sampled_from(options or list(range(low, high + 1))))
    used.add(value)
    return value


def _per_dim(draw: st.DrawFn, nd: int, low: int, high: int, *, uniform_bias: bool = True) -> tuple[int, ...]:
    """Per-dimension ints; half of the time all equal (the common square case)."""
    if uniform_bias and draw(st.booleans()):
        return (draw(st.integers(low, high)),) * nd
    return tuple(draw(st.integers(low, high)) for _ in range(nd))


def _padding(draw: st.DrawFn, nd: int, span: tuple[int, ...], forms: Sequence[str]) -> tuple[Padding, Pads | None]:
    """A padding in one of ``forms`` and its explicit pairs (``None`` for the string forms).

    Explicit padding stays below the effective kernel so no window lies entirely in padding.
    """
    form = draw(st.sampled_from(list(forms)))
    if form in PADDING_STRINGS:
        return form, None
    limit = [max(0, k - 1) for k in span]
    if form == "int":
        p = draw(st.integers(0, min(limit)))
        return p, ((p, p),) * nd
    if form == "per_dim":
        ps = tuple(draw(st.integers(0, lim)) for lim in limit)
        return ps, tuple((p, p) for p in ps)
    pairs = tuple((draw(st.integers(0, lim)), draw(st.integers(0, lim))) for lim in limit)
    return pairs, pairs


def _sizes(
    draw: st.DrawFn,
    span: tuple[int, ...],
    pads: Pads | None,
    stride: tuple[int, ...],
    used: set[int],
    *,
    max_extra: int = 7,
) -> tuple[int, ...]:
    """Spatial sizes that give every dimension at least one output position."""
    sizes = []
    for dim, k_eff in enumerate(span):
        lo, hi = pads[dim] if pads is not None else (0, 0)
        low = max(1, k_eff - lo - hi)
        sizes.append(_fresh(draw, low, low + max_extra + stride[dim], used))
    return tuple(sizes)


def _grouping(
    draw: st.DrawFn, ndims: Sequence[int], max_groups: int, *, depthwise_og: int | None
) -> tuple[int, int, int, int]:
    """``(nd, groups, channels per group in, channels per group out)``; a depthwise draw has one
    input channel per group and ``depthwise_og`` outputs per group (``None``: any count)."""
    nd = draw(st.sampled_from(list(ndims)))
    groups = draw(st.sampled_from([1, 1, 1, *range(2, max_groups + 1)]))
    depthwise = groups > 1 and draw(st.booleans())
    cg = 1 if depthwise else draw(st.integers(1, 3))
    if depthwise and depthwise_og is not None:
        return nd, groups, cg, depthwise_og
    return nd, groups, cg, draw(st.sampled_from([v for v in (1, 2, 3) if v != cg]))


def _window(
    draw: st.DrawFn, nd: int, max_kernel: int, max_stride: int, max_dilation: int
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """A convolution's kernel, stride and dilation (half the time none) and the effective kernel."""
    kernel = _per_dim(draw, nd, 1, max_kernel, uniform_bias=False)
    stride = _per_dim(draw, nd, 1, max_stride)
    dilation = _per_dim(draw, nd, 1, max_dilation) if draw(st.booleans()) else (1,) * nd
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    return kernel, stride, dilation, span


@st.composite
def conv_cases(
    draw: st.DrawFn,
    ndims: Sequence[int] = (1, 2, 3),
    *,
    paddings: Sequence[str] = PADDING_FORMS,
    max_kernel: int = 4,
    max_stride: int = 3,
    max_dilation: int = 3,
    max_groups: int = 3,
) -> ConvCase:
    """Grouped / depthwise convolutions with every padding form, stride, dilation and bias."""
    nd, groups, cg, og = _grouping(draw, ndims, max_groups, depthwise_og=None)
    kernel, stride, dilation, span = _window(draw, nd, max_kernel, max_stride, max_dilation)
    padding, pads = _padding(draw, nd, span, paddings)
    used = {groups * cg}
    n = _fresh(draw, 1, 3, used)
    sizes = _sizes(draw, span, pads, stride, used, max_extra=9 - 2 * nd)
    return ConvCase(
        x_shape=(n, groups * cg, *sizes),
        w_shape=(groups * og, cg, *kernel),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        bias=draw(st.booleans()),
    )


@st.composite
def conv_transpose_cases(
    draw: st.DrawFn,
    ndims: Sequence[int] = (1, 2, 3),
    *,
    paddings: Sequence[str] = PADDING_FORMS,
    max_kernel: int = 4,
    max_stride: int = 3,
    max_dilation: int = 3,
    max_groups: int = 3,
) -> ConvTransposeCase:
    """Grouped / depthwise transposed convolutions with every padding form (explicit padding below
    the effective kernel, as for ``conv``), stride, dilation, ``output_padding`` (a third of the
    explicit cases, any value below ``max(stride, dilation)``) and bias; input lengths drawn so that
    every output dimension has at least one cell."""
    nd, groups, cg, og = _grouping(draw, ndims, max_groups, depthwise_og=1)
    kernel, stride, dilation, span = _window(draw, nd, max_kernel, max_stride, max_dilation)
    padding, pads = _padding(draw, nd, span, paddings)
    extra = (0,) * nd
    if pads is not None and draw(st.integers(0, 2)) == 0:
        extra = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    used = {groups * cg, groups * og}
    n = _fresh(draw, 1, 3, used)
    sizes = []
    for dim in range(nd):
        lo, hi = pads[dim] if pads is not None else (0, 0)
        # (n - 1) * s - lo - hi + span + extra >= 1
        short = lo + hi + 1 - span[dim] - extra[dim]
        low = 1 + max(0, -(-short // stride[dim]))
        sizes.append(_fresh(draw, low, low + 6 - nd, used))
    return ConvTransposeCase(
        x_shape=(n, groups * cg, *sizes),
        w_shape=(groups * cg, og, *kernel),
        stride=stride,
        padding=padding,
        output_padding=extra,
        dilation=dilation,
        groups=groups,
        bias=draw(st.booleans()),
    )


@st.composite
def pool_cases(
    draw: st.DrawFn,
    kind: str = "max",
    ndims: Sequence[int] = (1, 2, 3),
    *,
    paddings: Sequence[str] = PADDING_FORMS,
    max_kernel: int = 4,
    max_stride: int = 3,
    dilation: bool = True,
    ceil_mode: bool = True,
    avg_dilation: bool = False,
) -> PoolCase:
    """Max (``kind="max"``) or average pooling; ``stride=None`` (the default) about a third of
    the time; dilation for max pooling, and for average pooling only with ``avg_dilation=True``
    (ONNX AveragePool-19 and ``lax.reduce_window`` dilate average pooling; most pooling APIs
    cannot, so the suite's common average-pool property leaves it out)."""
    nd = draw(st.sampled_from(list(ndims)))
    kernel = _per_dim(draw, nd, 1, max_kernel, uniform_bias=True)
    stride = None if draw(st.integers(0, 2)) == 0 else _per_dim(draw, nd, 1, max_stride)
    dilated = dilation and (kind == "max" or avg_dilation)
    dil = _per_dim(draw, nd, 1, 2) if dilated and draw(st.booleans()) else (1,) * nd
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dil))
    # Padding up to half the effective kernel: every window keeps at least one input cell.
    form = draw(st.sampled_from(list(paddings)))
    half = [s // 2 for s in span]
    padding: Padding
    pads: Pads | None
    if form in PADDING_STRINGS:
        padding, pads = form, None
    elif form == "int":
        p = draw(st.integers(0, min(half)))
        padding, pads = p, ((p, p),) * nd
    elif form == "per_dim":
        padding = tuple(draw(st.integers(0, h)) for h in half)
        pads = tuple((p, p) for p in padding)
    else:
        padding = pads = tuple((draw(st.integers(0, h)), draw(st.integers(0, h))) for h in half)
    used: set[int] = set()
    n = _fresh(draw, 1, 3, used)
    c = _fresh(draw, 1, 4, used)
    strides = kernel if stride is None else stride
    sizes = _sizes(draw, span, pads, strides, used, max_extra=10 - 2 * nd)
    arguments: dict[str, Any] = {
        "kind": kind,
        "x_shape": (n, c, *sizes),
        "kernel": kernel,
        "stride": stride,
        "padding": padding,
        "dilation": dil,
        "ceil_mode": ceil_mode and draw(st.booleans()),
        "count_include_pad": draw(st.booleans()),
    }
    case = PoolCase(**arguments)
    # A dilated window can step over every input cell: counting only input cells it has no divisor (the
    # reference refuses it), counting the padded extent it has one.
    excluded = kind == "avg" and not case.count_include_pad and any(d > 1 for d in dil)
    if excluded and case.window_counts(np.ones(case.x_shape, dtype=bool)).min() == 0:
        case = PoolCase(**{**arguments, "count_include_pad": True})
    return case


@st.composite
def depth_pool_cases(
    draw: st.DrawFn, ndims: Sequence[int] = (1, 2, 3), *, modes: Sequence[str] = ("max", "avg"), strided: bool = True
) -> DepthPoolCase:
    """Channel pooling in contiguous groups; sometimes with a stride other than the pool size."""
    nd = draw(st.sampled_from(list(ndims)))
    k = draw(st.integers(1, 4))
    stride = draw(st.integers(1, 4)) if strided and draw(st.integers(0, 3)) == 0 else None
    windows = draw(st.integers(1, 4))
    c = k + (windows - 1) * (k if stride is None else stride)
    used = {c}
    n = _fresh(draw, 1, 3, used)
    sizes = tuple(_fresh(draw, 1, 6, used) for _ in range(nd))
    return DepthPoolCase(x_shape=(n, c, *sizes), pool_size=k, mode=draw(st.sampled_from(list(modes))), stride=stride)


@st.composite
def global_pool_cases(
    draw: st.DrawFn, ndims: Sequence[int] = (1, 2, 3), *, modes: Sequence[str] = ("max", "avg")
) -> GlobalPoolCase:
    """Global max / average pooling with and without ``keepdims``."""
    nd = draw(st.sampled_from(list(ndims)))
    used: set[int] = set()
    n = _fresh(draw, 1, 3, used)
    c = _fresh(draw, 1, 5, used)
    sizes = tuple(_fresh(draw, 1, 7, used) for _ in range(nd))
    return GlobalPoolCase(mode=draw(st.sampled_from(list(modes))), x_shape=(n, c, *sizes), keepdims=draw(st.booleans()))


def examples(cases: st.SearchStrategy, values: Sequence[str] = ("normal",)) -> st.SearchStrategy[Example]:
    """Examples of ``cases`` with a random seed and one of the value kinds ``values``."""
    return st.builds(Example, cases, st.integers(0, 2**32 - 1), st.sampled_from(list(values)))


#: The value kinds each op is checked with: ties matter to max gradients, NaN and infinities to
#: every reduction, all-negative windows to max pooling's padding.
OP_VALUES: dict[str, tuple[str, ...]] = {
    "conv": ("normal", "ties"),
    "conv_transpose": ("normal", "ties"),
    "max_pool": ("normal", "ties", "negative", "special"),
    "avg_pool": ("normal", "special"),
    "depth_pool": ("normal", "ties", "special"),
    "global_max_pool": ("normal", "ties", "special"),
    "global_avg_pool": ("normal", "ties", "special"),
}


def op_examples(op: str) -> st.SearchStrategy[Example]:
    """The examples the suite (and ``convequiv hunt``) draws for ``op``."""
    cases: dict[str, st.SearchStrategy] = {
        "conv": conv_cases(),
        "conv_transpose": conv_transpose_cases(),
        "max_pool": pool_cases("max"),
        "avg_pool": pool_cases("avg"),
        "depth_pool": depth_pool_cases(),
        "global_max_pool": global_pool_cases(modes=("max",)),
        "global_avg_pool": global_pool_cases(modes=("avg",)),
    }
    if op not in cases:
        raise ValueError(f"op_examples: unknown op {op!r}; choose one of {', '.join(cases)}")
    return examples(cases[op], values=OP_VALUES[op])


# Documented edge cases, named for the reason they exist.
EDGE_CASES: dict[str, Example] = {
    e.name: e
    for e in (
        Example(ConvCase((2, 3, 8, 6), (5, 3, 3, 3), stride=2, padding="same"), 1, name="conv_same_stride2_even_input"),
        Example(ConvCase((2, 3, 7, 8), (5, 3, 2, 4), padding="same"), 2, name="conv_same_even_kernel"),
        Example(
            ConvCase((3, 2, 9, 10), (4, 2, 2, 2), stride=3, padding="same"), 3, name="conv_kernel_smaller_than_stride"
        ),
        Example(
            ConvCase((2, 3, 8, 7), (4, 3, 3, 2), stride=2, padding="same_lower"), 4, name="conv_same_lower_stride2"
        ),
        Example(
            ConvCase((2, 4, 9, 7), (6, 2, 3, 3), padding=((0, 2), (1, 0)), groups=2),
            5,
            name="conv_asymmetric_padding_groups",
        ),
        Example(
            ConvCase((3, 4, 11, 9), (4, 1, 3, 3), stride=2, padding="same", dilation=2, groups=4),
            6,
            name="conv_depthwise_stride_dilation",
        ),
        Example(ConvCase((2, 3, 7), (4, 3, 4), padding=((3, 0),), bias=False), 7, name="conv1d_window_mostly_padding"),
        Example(
            ConvCase((2, 1, 4, 6), (3, 1, 3, 2), stride=2, padding=((0, 0), (1, 1))),
            17,
            name="conv_kernel_equals_stride_padded",  # XLA CPU aborts compiling its gradient (docs/findings)
        ),
        Example(
            ConvCase((2, 3, 4, 5, 6), (2, 3, 2, 3, 2), stride=(1, 2, 1), padding="same"),
            8,
            name="conv3d_same_mixed_stride",
        ),
        Example(
            # Keras' torch backend shifted "same" transposed outputs by one cell before 3.15.0.
            ConvTransposeCase((2, 3, 4, 5), (3, 4, 3, 3), stride=2, padding="same"),
            51,
            name="conv_transpose_same_stride2",
        ),
        Example(
            ConvTransposeCase((2, 3, 5, 4), (3, 2, 3, 2), stride=2, padding=((1, 2), (0, 1))),
            52,
            name="conv_transpose_asymmetric_padding",
        ),
        Example(
            # output_padding 2 at stride 1 is allowed only because the dilation is 3.
            ConvTransposeCase((2, 2, 5, 4), (2, 3, 2, 2), stride=(1, 2), output_padding=(2, 1), dilation=(3, 1)),
            53,
            name="conv_transpose_output_padding_dilation",
        ),
        Example(
            # Kernel 2 at stride 3: one cell in three receives no tap and holds the bias.
            ConvTransposeCase((2, 3, 4, 5), (3, 2, 2, 2), stride=3),
            54,
            name="conv_transpose_kernel_smaller_than_stride",
        ),
        Example(
            ConvTransposeCase((2, 3, 5, 4), (3, 2, 4, 3), stride=2, padding="same_lower"),
            55,
            name="conv_transpose_same_lower",
        ),
        Example(
            ConvTransposeCase((2, 4, 5, 6), (4, 1, 3, 3), stride=2, padding=1, output_padding=1, groups=4),
            56,
            name="conv_transpose_depthwise_output_padding",
        ),
        Example(
            ConvTransposeCase((3, 4, 6), (4, 3, 3), stride=2, padding="valid", groups=2, bias=False),
            57,
            name="conv_transpose1d_valid_groups",
        ),
        Example(
            ConvTransposeCase((2, 2, 3, 4, 2), (2, 3, 2, 3, 2), stride=(2, 1, 3), padding="same"),
            58,
            name="conv_transpose3d_same_mixed_stride",
        ),
        Example(
            PoolCase("max", (2, 3, 8, 6), 3, stride=2, padding="same"), 11, name="max_pool_same_stride2_even_input"
        ),
        Example(PoolCase("max", (2, 3, 5, 7), 2, stride=2, ceil_mode=True), 12, name="max_pool_ceil_mode_extra_window"),
        Example(
            # Height 5, kernel 2: the ceil-mode window would start in the right padding and is
            # dropped; width 6, kernel 3: ceil mode adds a window.
            PoolCase("max", (2, 3, 5, 6), (2, 3), stride=2, padding=1, ceil_mode=True),
            13,
            name="max_pool_ceil_mode_dropped_last_window",
        ),
        Example(PoolCase("max", (2, 3, 6, 5), 2, padding=1), 14, "negative", name="max_pool_all_negative_with_padding"),
        Example(PoolCase("max", (2, 3, 6, 7), 2), 15, "ties", name="max_pool_tied_maxima"),
        Example(PoolCase("max", (2, 3, 6, 7), 3, stride=1), 16, "ties", name="max_pool_tied_maxima_overlapping"),
        Example(PoolCase("max", (2, 3, 6, 7), 2), 17, "special", name="max_pool_nan_and_inf"),
        Example(PoolCase("max", (2, 3, 7, 8), 3, stride=1, padding=1, dilation=2), 18, name="max_pool_dilation"),
        Example(PoolCase("max", (2, 3, 9, 7), (1, 3), stride=(3, 2)), 19, name="max_pool_kernel_smaller_than_stride"),
        Example(
            # Width 1, padding 1, dilation 2: the two taps of every window are the two padding
            # cells, so each window reads no input element (output -inf, no gradient).
            PoolCase("max", (2, 3, 4, 1), (2, 2), stride=1, padding=(0, 1), dilation=(1, 2)),
            20,
            name="max_pool_window_of_only_padding",
        ),
        Example(
            PoolCase("avg", (2, 3, 7, 6), 3, stride=2, padding=1, count_include_pad=True),
            21,
            name="avg_pool_count_include_pad",
        ),
        Example(
            PoolCase("avg", (2, 3, 7, 6), 3, stride=2, padding=1, count_include_pad=False),
            22,
            name="avg_pool_exclude_pad",
        ),
        Example(
            PoolCase("avg", (2, 3, 8, 6), 3, stride=2, padding="same", count_include_pad=False),
            23,
            name="avg_pool_same_stride2_even_input",
        ),
        Example(
            PoolCase("avg", (2, 3, 5, 6), 3, stride=2, padding=1, ceil_mode=True),
            24,
            name="avg_pool_ceil_mode_overhang_not_counted",
        ),
        Example(PoolCase("avg", (2, 3, 4, 5), 2, padding=((1, 0), (0, 1))), 25, name="avg_pool_window_mostly_padding"),
        Example(DepthPoolCase((2, 6, 4, 5), 3), 31, name="depth_pool_max_groups_of_3"),
        Example(DepthPoolCase((2, 6, 4, 5), 2), 32, "ties", name="depth_pool_max_ties"),
        Example(DepthPoolCase((2, 8, 3, 5), 4, mode="avg"), 33, name="depth_pool_avg"),
        Example(GlobalPoolCase("avg", (2, 3, 5, 7), keepdims=False), 41, name="global_avg_pool"),
        Example(GlobalPoolCase("max", (2, 3, 5, 7), keepdims=True), 42, "ties", name="global_max_pool_ties_keepdims"),
        Example(GlobalPoolCase("max", (2, 3, 4, 6)), 43, "special", name="global_max_pool_nan"),
    )
}


def value_draws(example: Example, count: int) -> list[Example]:
    """``example`` and ``count - 1`` more examples of its case (:func:`value_draw` 1, 2, ...). For adapters
    that compile per case (``draws_per_case`` of the compiled variants): one compilation checks many
    inputs, and each draw reproduces from its own ``repr``."""
    return [value_draw(example, i) for i in range(max(1, count))]


def value_draw(example: Example, i: int) -> Example:
    """The ``i``-th value draw of ``example``'s case (0: ``example`` itself): seed ``seed + i`` (mod 2**32)
    and, in turn, the value kinds the op is checked with (:data:`OP_VALUES`), starting after the
    example's own."""
    if i == 0:
        return example
    kinds = OP_VALUES.get(example.case.op, (example.values,))
    start = kinds.index(example.values) if example.values in kinds else -1
    name = f"{example.name}+{i}" if example.name else ""
    return Example(example.case, (example.seed + i) % 2**32, kinds[(start + i) % len(kinds)], name)


def edge_cases(op: str) -> list[Example]:
    """The named edge cases of one op (``"conv"``, ``"max_pool"``, ``"avg_pool"``, ...)."""
    return [e for e in EDGE_CASES.values() if e.case.op == op]


def pin_edge_cases(op: str, argname: str = "ex") -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorator: add every named edge case of ``op`` as an explicit ``@example`` (``argname=``).

    The reference's own proof uses it; the equivalence suite runs named edge cases as test items of
    their own, so that a failing one never stops the drawn examples."""
    from hypothesis import example

    def decorate(test: Callable[..., None]) -> Callable[..., None]:
        for pinned in reversed(edge_cases(op)):
            test = example(**{argname: pinned})(test)
        return test

    return decorate
