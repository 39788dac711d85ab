"""N-d max and average pooling over the spatial axes, forward and backward.

Windows follow :mod:`convequiv.reference.geometry`: ``stride`` defaults to the kernel (PyTorch's and Keras'
default), padding takes every form of :func:`convequiv.reference.geometry.resolve_padding`, and ``ceil_mode``
applies the ceil formula with the dropped-last-window rule.

Max pooling pads with ``-inf`` (never 0) and reduces each window::

    y[n, c, i] = max_k xpad[n, c, i * s + k * d]

``nan="propagate"``: any NaN among a window's taps makes its output NaN.
``nan="ignore"``: NaN taps are skipped, i.e. the ``-inf``-padded window is reduced with
``numpy.fmax``: a window whose input taps are all NaN gives ``-inf`` if it also reads padding or the
ceil-mode overhang, and NaN otherwise.

A window lying entirely in padding is allowed for max pooling (its value is ``-inf``, the padding
value); for average pooling it is an error when its divisor would be zero.

Both poolings take ``dilation`` (``d``): tap ``k`` of window ``i`` reads ``xpad[i * s + k * d]``, as
in a dilated convolution (PyTorch's max pooling, ONNX MaxPool and AveragePool-19, ``lax.reduce_window``).

The max-pool gradient routes ``dy[n, c, i]`` to the window's maximal *input* taps (padding never
receives gradient). A tap is maximal when it equals the output, or, with ``nan="propagate"`` and a
NaN output, when it is NaN. ``ties="first"``: the first maximal tap in row-major window order
receives everything; ``ties="split"``: each of the ``m`` maximal taps receives ``dy / m``.
Gradients of overlapping windows accumulate. A window without a maximal input tap passes none.

Average pooling divides the window sum of the zero-padded input by a per-window divisor:
``count_include_pad=True`` counts the taps inside the padded extent ``[-lo, n + hi)`` (never the
ceil-mode overhang beyond it, as in PyTorch); ``False`` counts only taps on real input cells (the
TensorFlow / Keras ``"same"`` behaviour). With dilation the divisor counts the window's *taps*
(the cells it reads), never the cells it steps over. A window with a zero divisor is an error. The gradient
is ``dx[tap] += dy / divisor`` for every input tap of every window.

Inputs are converted to float64; results are float64.

Implementation: every reduction runs over the window taps (:mod:`convequiv.reference.windows`), never
over positions. A call's geometry and what small calls derive from it and the input shape are
looked up once (:func:`convequiv.reference.windows.call_plan`). Small inputs (at most
:data:`SMALL_WINDOWS` window taps) gather every window's taps with one ``take`` of their cells
(:meth:`convequiv.reference.windows.CallPlan.gather`, a padding tap reading the padding value)
and reduce them in one call; larger ones reduce a strided view of the padded input tap by tap
into the output. Both reduce the taps in row-major order.

The max-pool gradient with ``ties="first"`` on small inputs takes each window's first maximal tap
as the ``argmax`` of its gathered taps, which is that tap unless ``nan="ignore"`` meets a NaN or a
window's maximum is the ``-inf`` of padding (those calls take the general route). The general
route works on all taps at once from the tap-major windows of blocks of planes (each block's copy
under :data:`convequiv.reference.windows.CHUNK_BYTES`): which taps are maximal, the first of them
(or their count). Both add each routed gradient to its cell with one ``numpy.bincount``, in
window and tap order. The average-pool gradient is the col2im of ``dy / divisor`` broadcast over
the taps (:func:`convequiv.reference.windows.col2im`). Small average pools of finite values are
one matrix product per direction with a per-geometry matrix holding ``1 / divisor`` at every cell
a window reads (the sum of its products in any order, within the same bound); "finite" is
tested by the finite sum of squares (:func:`convequiv.reference._checks.finite`). The divisor,
that matrix and the map of which taps lie on input cells are computed once per geometry.

Floating-point warnings: the paths that may meet ``inf - inf`` or overflow (average pooling) run
under :func:`convequiv.reference._checks.quiet`; max pooling only compares, copies and adds
routed gradients with ``bincount``, which raise no floating-point warning.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import windows
from ._checks import batch_input, choice, cotangent, finite, flag, quiet
from .geometry import WindowGeometry
from .windows import (
    CallPlan,
    call_plan,
    col2im,
    outer_product,
    pad,
    padded_shape,
    tap_count_per_dim,
    tap_index,
    taps,
    window_view,
)

NAN_POLICIES = ("propagate", "ignore")
TIE_POLICIES = ("first", "split")

#: Up to this many window taps (output cells times kernel taps) the forward reductions copy the
#: windows and reduce them in one call; above it they reduce tap by tap without a copy.
SMALL_WINDOWS = 1 << 14


def _plan(
    op: str, x: object, kernel: object, stride: object, padding: object, dilation: object, ceil_mode: bool
) -> tuple[np.ndarray, CallPlan]:
    xa = batch_input(op, "x", x)
    flag(op, "ceil_mode", ceil_mode)
    return xa, call_plan(op, xa.shape, kernel, kernel if stride is None else stride, padding, dilation, ceil_mode)


def _crop(dxpad: np.ndarray, geom: WindowGeometry) -> np.ndarray:
    if dxpad.shape[dxpad.ndim - geom.nd :] == geom.sizes:
        return dxpad
    lead = (slice(None),) * (dxpad.ndim - geom.nd)
    spatial = tuple(slice(lo, lo + n) for (lo, _), n in zip(geom.padding, geom.sizes))
    return np.ascontiguousarray(dxpad[lead + spatial])


def _tap_major(view: np.ndarray, geom: WindowGeometry) -> np.ndarray:
    """Copy of a window view ``(..., *out, *kernel)`` as ``(T, ..., *out)``, taps in row-major order."""
    nd, lead = geom.nd, view.ndim - 2 * geom.nd
    order = (*range(lead + nd, lead + 2 * nd), *range(lead + nd))
    copy = np.empty(geom.kernel + view.shape[: lead + nd], dtype=view.dtype)
    copy[...] = view.transpose(order)
    return copy.reshape((-1,) + view.shape[: lead + nd])


def _reduce(xa: np.ndarray, plan: CallPlan, value: float, combine: np.ufunc) -> np.ndarray:
    """``combine`` over the taps of every window of ``xa`` padded with ``value``, in row-major tap
    order: small inputs gather every window's taps with one ``take`` (:meth:`CallPlan.gather`)
    and reduce them in one call, larger ones reduce a window view of the padded input tap by tap
    (module docstring)."""
    if plan.window_taps <= SMALL_WINDOWS:
        reduced: np.ndarray = combine.reduce(plan.gather(xa, value, "tap plane window"), axis=0)
        return reduced.reshape(plan.out_shape)
    geom = plan.geom
    view = window_view(pad(xa, geom, value), geom)
    out: np.ndarray | None = None
    for tap in taps(geom):
        values = view[tap_index(tap)]
        out = values.copy() if out is None else combine(out, values, out=out)
    assert out is not None
    return out


def _input_taps(geom: WindowGeometry) -> np.ndarray | None:
    """Boolean ``(T, P)``: whether each tap of each window lies on a real input cell (``None``
    when every tap does); computed once per geometry."""
    return geom.remember("input taps", lambda: _make_input_taps(geom))


def _make_input_taps(geom: WindowGeometry) -> np.ndarray | None:
    real = windows.input_cells(geom) >= 0
    if real.all():
        return None
    real.setflags(write=False)
    return real


def _route_tables(geom: WindowGeometry, planes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The flat offset of every tap of every window within one padded plane ``(T, P)``, the first
    flat index of each of ``planes`` planes ``(planes, 1)``, and the window numbers ``(P,)``."""
    positions = math.prod(geom.out)

    def make() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        offsets = windows.tap_offsets(geom).reshape(-1, positions)
        return offsets, (np.arange(planes) * math.prod(padded_shape(geom)))[:, None], np.arange(positions)

    return geom.remember(("route", planes), make)


def max_pool(
    x: object,
    kernel: int | tuple[int, ...],
    *,
    stride: int | tuple[int, ...] | None = None,
    padding: object = 0,
    dilation: int | tuple[int, ...] = 1,
    ceil_mode: bool = False,
    nan: str = "propagate",
) -> np.ndarray:
    """Max pooling with ``-inf`` padding (semantics and NaN policies in the module docstring)."""
    op = "max_pool"
    choice(op, "nan", nan, NAN_POLICIES)
    xa, plan = _plan(op, x, kernel, stride, padding, dilation, ceil_mode)
    return _reduce(xa, plan, -np.inf, np.maximum if nan == "propagate" else np.fmax)


def max_pool_backward(
    x: object,
    dy: object,
    kernel: int | tuple[int, ...],
    *,
    stride: int | tuple[int, ...] | None = None,
    padding: object = 0,
    dilation: int | tuple[int, ...] = 1,
    ceil_mode: bool = False,
    ties: str = "first",
    nan: str = "propagate",
) -> np.ndarray:
    """Gradient of ``sum(dy * max_pool(x, ...))`` with respect to ``x`` (module docstring)."""
    op = "max_pool_backward"
    choice(op, "ties", ties, TIE_POLICIES)
    choice(op, "nan", nan, NAN_POLICIES)
    xa, plan = _plan(op, x, kernel, stride, padding, dilation, ceil_mode)
    dya = cotangent(op, dy, plan.out_shape)
    return max_pool_gradients(xa, [dya], plan, ties, nan)[1][0]


def max_pool_gradients(
    xa: np.ndarray, dys: list[np.ndarray], plan: CallPlan, ties: str, nan: str
) -> tuple[np.ndarray, list[np.ndarray]]:
    """``(max_pool(x), [max_pool_backward(x, dy) for dy in dys])`` with the maxima and their
    routing found once: ``x`` has the ``plan``'s shape ``(..., *sizes)``, each ``dy`` its output
    shape ``(..., *out)``, all float64 and already checked. The gradients of several ``dy`` (an
    upstream gradient and its absolute value, for an error bound) share every step but the last
    ``bincount``."""
    if ties == "first" and plan.window_taps <= SMALL_WINDOWS:
        routed = _route_first_small(xa, dys, plan, nan)
        if routed is not None:
            return routed
    geom, lead = plan.geom, plan.lead
    planes, positions, t = plan.planes, math.prod(geom.out), math.prod(geom.kernel)
    padded = padded_shape(geom)
    view = window_view(pad(xa, geom, -np.inf), geom).reshape((planes,) + geom.out + geom.kernel)
    flat_dys = [dy.reshape(planes, positions) for dy in dys]
    per_block = max(1, windows.CHUNK_BYTES // max(1, 8 * t * positions))
    if per_block >= planes:
        peak, grads = _route(view, flat_dys, geom, ties, nan)
    else:
        parts = [
            _route(view[p0 : p0 + per_block], [dy[p0 : p0 + per_block] for dy in flat_dys], geom, ties, nan)
            for p0 in range(0, planes, per_block)
        ]
        peak = np.concatenate([part[0] for part in parts])
        grads = [np.concatenate([part[1][i] for part in parts]) for i in range(len(dys))]
    return peak.reshape(lead + geom.out), [_crop(grad.reshape(lead + padded), geom) for grad in grads]


def _route_first_small(
    xa: np.ndarray, dys: list[np.ndarray], plan: CallPlan, nan: str
) -> tuple[np.ndarray, list[np.ndarray]] | None:
    """:func:`max_pool_gradients` with ``ties="first"`` for small inputs, when the first maximal tap
    is the ``argmax`` of the window's taps; ``None`` where that shortcut does not hold (the
    general route then decides).

    ``argmax`` returns the first tap equal to the maximum, and the first NaN when there is one:
    exactly the first maximal tap of ``nan="propagate"``, and of ``"ignore"`` when no window holds
    a NaN. It may pick a padding tap only in a window whose maximum is ``-inf`` (the padding
    value), where the first maximal *input* tap may come later or not exist, so geometries with
    padding leave every such call to the general route. The routed gradients are one ``bincount``
    each, adding a cell's values in window order as :func:`_route` does."""
    index, reads_padding = plan.gather_index("plane window tap")  # (planes, P, T)
    taps_ = plan.gather(xa, -np.inf, "plane window tap")
    chosen = taps_.argmax(axis=2).reshape(-1) + _row_starts(index.shape[0] * index.shape[1], index.shape[2])
    peak = taps_.reshape(-1).take(chosen)
    if nan == "ignore" and np.isnan(peak).any():
        return None
    if reads_padding and np.fmin.reduce(peak) == -np.inf:
        return None
    read, size = index.reshape(-1).take(chosen), xa.size
    grads = [np.bincount(read, weights=dy.reshape(-1), minlength=size + 1) for dy in dys]
    return peak.reshape(plan.out_shape), [grad[:-1].reshape(xa.shape) for grad in grads]


@functools.lru_cache(maxsize=256)
def _row_starts(rows: int, t: int) -> np.ndarray:
    """``arange(rows) * t``: the flat position of the first tap of every window of a ``(rows, t)`` array."""
    starts = np.arange(rows) * t
    starts.setflags(write=False)
    return starts


def _route(
    view: np.ndarray, dys: list[np.ndarray], geom: WindowGeometry, ties: str, nan: str
) -> tuple[np.ndarray, list[np.ndarray]]:
    """One block of planes: the maxima ``(planes, P)`` and each ``dy``'s routed gradient as a flat
    ``(planes * prod(padded),)`` array (module docstring)."""
    planes, positions = view.shape[0], dys[0].shape[1]
    t = math.prod(geom.kernel)
    plane = math.prod(padded_shape(geom))
    taps_ = _tap_major(view, geom).reshape(t, planes, positions)
    peak = (np.maximum if nan == "propagate" else np.fmax).reduce(taps_, axis=0)
    hit = taps_ == peak
    if nan == "propagate":
        peak_nan = np.isnan(peak)
        if peak_nan.any():
            hit |= np.isnan(taps_) & peak_nan
    real = _input_taps(geom)
    if real is not None:
        hit &= real.reshape(t, 1, positions)
    offsets, base, columns = _route_tables(geom, planes)
    if ties == "first":
        if hit.size <= SMALL_WINDOWS:
            first, routed = np.argmax(hit, axis=0), hit.any(axis=0)
        else:  # argmax along the first axis copies; the largest rank is the first maximal tap
            best = (hit * np.arange(t, 0, -1, dtype=np.int32).reshape(t, 1, 1)).max(axis=0)
            first, routed = np.minimum(t - best, t - 1), best > 0
        index = (base + offsets[first, columns]).reshape(-1)
        every = routed.all()
        weights = [(dy if every else np.where(routed, dy, 0.0)).reshape(-1) for dy in dys]
    else:
        count = np.maximum(hit.sum(axis=0), 1)
        index = (base + offsets[:, None, :]).reshape(-1)
        weights = [np.where(hit, dy / count, 0.0).reshape(-1) for dy in dys]
    return peak, [np.bincount(index, weights=w, minlength=planes * plane) for w in weights]


def _avg_divisor(op: str, geom: WindowGeometry, count_include_pad: bool) -> np.ndarray:
    return geom.remember(("divisor", count_include_pad), lambda: _make_avg_divisor(op, geom, count_include_pad))


def _make_avg_divisor(op: str, geom: WindowGeometry, count_include_pad: bool) -> np.ndarray:
    counts = tap_count_per_dim(geom, lo_bound="padding" if count_include_pad else "input")
    for dim, c in enumerate(counts):
        if not c.all():
            raise ValueError(
                f"{op}: with padding {geom.padding} an output window along spatial dimension {dim} "
                f"contains no {'padded' if count_include_pad else 'input'} cell, so its average is "
                "undefined; reduce the padding"
            )
    divisor = outer_product(counts)
    divisor.setflags(write=False)
    return divisor


def avg_pool(
    x: object,
    kernel: int | tuple[int, ...],
    *,
    stride: int | tuple[int, ...] | None = None,
    padding: object = 0,
    dilation: int | tuple[int, ...] = 1,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> np.ndarray:
    """Average pooling: window sum over a divisor set by ``count_include_pad`` (module docstring)."""
    op = "avg_pool"
    include_pad = flag(op, "count_include_pad", count_include_pad)
    xa, plan = _plan(op, x, kernel, stride, padding, dilation, ceil_mode)
    return _average(op, xa, plan, include_pad)


@quiet
def _average(op: str, xa: np.ndarray, plan: CallPlan, count_include_pad: bool) -> np.ndarray:
    matrix = _avg_matrix(op, plan, count_include_pad)
    if matrix is not None:
        rows = xa.reshape(-1, matrix.shape[0])
        if finite(rows):
            averaged: np.ndarray = rows.dot(matrix)
            return averaged.reshape(plan.out_shape)
    total = _reduce(xa, plan, 0.0, np.add)
    quotient: np.ndarray = np.divide(total, _avg_divisor(op, plan.geom, count_include_pad), out=total)
    return quotient


def avg_pool_backward(
    x: object,
    dy: object,
    kernel: int | tuple[int, ...],
    *,
    stride: int | tuple[int, ...] | None = None,
    padding: object = 0,
    dilation: int | tuple[int, ...] = 1,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> np.ndarray:
    """Gradient of ``sum(dy * avg_pool(x, ...))`` with respect to ``x`` (module docstring)."""
    op = "avg_pool_backward"
    include_pad = flag(op, "count_include_pad", count_include_pad)
    _, plan = _plan(op, x, kernel, stride, padding, dilation, ceil_mode)  # x: its shape only
    dya = cotangent(op, dy, plan.out_shape)
    return _average_backward(op, dya, plan, include_pad)


@quiet
def _average_backward(op: str, dya: np.ndarray, plan: CallPlan, count_include_pad: bool) -> np.ndarray:
    matrix = _avg_matrix(op, plan, count_include_pad)
    if matrix is not None:
        rows = dya.reshape(-1, matrix.shape[1])
        if finite(rows):
            spread: np.ndarray = rows.dot(matrix.T)
            return spread.reshape(plan.shape)
    return _spread(dya / _avg_divisor(op, plan.geom, count_include_pad), plan.geom)


def _avg_matrix(op: str, plan: CallPlan, count_include_pad: bool) -> np.ndarray | None:
    """``(prod(sizes), P)``: ``1 / divisor`` of window ``p`` at every input cell it reads, so that
    small average pools are one product, ``y = x @ A`` and ``dx = dy @ A^T`` per plane (a zero
    entry meets every other cell, so only finite inputs take it); ``None`` above
    :data:`SMALL_WINDOWS` entries. Computed once per geometry (after :func:`_avg_divisor` has
    checked every divisor)."""
    return plan.remember(
        ("average matrix", count_include_pad), lambda: _make_avg_matrix(op, plan.geom, count_include_pad)
    )


def _make_avg_matrix(op: str, geom: WindowGeometry, count_include_pad: bool) -> np.ndarray | None:
    cells, positions = math.prod(geom.sizes), math.prod(geom.out)
    matrix = None
    if cells * positions <= SMALL_WINDOWS:
        divisor = _avg_divisor(op, geom, count_include_pad).reshape(-1)
        read = windows.input_cells(geom)  # (T, P)
        inside = read >= 0
        window = np.broadcast_to(np.arange(positions), read.shape)[inside]
        matrix = np.zeros((cells, positions))
        matrix[read[inside], window] = 1.0 / divisor[window]
        matrix.setflags(write=False)
    return matrix


def _spread(share: np.ndarray, geom: WindowGeometry) -> np.ndarray:
    """``dx[tap] += share`` for every input tap of every window: the col2im of ``share`` repeated
    over the taps, cropped."""
    nd, lead = geom.nd, share.shape[: share.ndim - geom.nd]
    values = np.broadcast_to(share.reshape(lead + (1,) * nd + geom.out), lead + geom.kernel + geom.out)
    return _crop(col2im(values, geom), geom)
