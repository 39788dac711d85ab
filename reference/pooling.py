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
"""

from __future__ import annotations

import numpy as np

from ._checks import batch_input, choice, cotangent, flag, quiet
from .geometry import WindowGeometry, window_geometry
from .windows import outer_product, pad, tap_count_per_dim, tap_index, taps, window_view

NAN_POLICIES = ("propagate", "ignore")
TIE_POLICIES = ("first", "split")


def _geometry(op, x, kernel, stride, padding, dilation, ceil_mode) -> tuple[np.ndarray, WindowGeometry]:
    xa = batch_input(op, "x", x)
    flag(op, "ceil_mode", ceil_mode)
    geom = window_geometry(
        op,
        xa.shape[2:],
        kernel,
        stride=kernel if stride is None else stride,
        padding=padding,
        dilation=dilation,
        ceil_mode=ceil_mode,
    )
    return xa, geom


def _crop(dxpad: np.ndarray, geom: WindowGeometry) -> np.ndarray:
    lead = (slice(None),) * (dxpad.ndim - geom.nd)
    spatial = tuple(slice(lo, lo + n) for (lo, _), n in zip(geom.padding, geom.sizes))
    return np.ascontiguousarray(dxpad[lead + spatial])


def _input_taps(geom: WindowGeometry) -> np.ndarray:
    """Boolean ``(*out, *kernel)``: whether each tap of each window lies on a real input cell."""
    inside = np.ones(geom.sizes, dtype=bool)
    return window_view(pad(inside, geom, False), geom)


def _max_reduce(view: np.ndarray, geom: WindowGeometry, nan: str) -> np.ndarray:
    combine = np.maximum if nan == "propagate" else np.fmax
    out: np.ndarray | None = None
    for tap in taps(geom):
        values = view[tap_index(tap)]
        out = values.copy() if out is None else combine(out, values, out=out)
    assert out is not None
    return out


@quiet
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
    xa, geom = _geometry(op, x, kernel, stride, padding, dilation, ceil_mode)
    return _max_reduce(window_view(pad(xa, geom, -np.inf), geom), geom, nan)


@quiet
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
    xa, geom = _geometry(op, x, kernel, stride, padding, dilation, ceil_mode)
    dya = cotangent(op, dy, xa.shape[:2] + geom.out)
    xpad = pad(xa, geom, -np.inf)
    view = window_view(xpad, geom)
    out = _max_reduce(view, geom, nan)
    real = _input_taps(geom)
    out_is_nan = np.isnan(out) if nan == "propagate" else np.zeros(out.shape, dtype=bool)

    def maximal(tap: tuple[int, ...]) -> np.ndarray:
        values = view[tap_index(tap)]
        hit = (values == out) | (out_is_nan & np.isnan(values))
        return hit & real[tap_index(tap)]

    dxpad = np.zeros(xpad.shape, dtype=np.float64)
    dview = window_view(dxpad, geom, writeable=True)
    if ties == "first":
        taken = np.zeros(out.shape, dtype=bool)
        for tap in taps(geom):
            chosen = maximal(tap) & ~taken
            taken |= chosen
            dview[tap_index(tap)] += np.where(chosen, dya, 0.0)
    else:
        count = np.zeros(out.shape, dtype=np.int64)
        for tap in taps(geom):
            count += maximal(tap)
        share = dya / np.maximum(count, 1)
        for tap in taps(geom):
            dview[tap_index(tap)] += np.where(maximal(tap), share, 0.0)
    return _crop(dxpad, geom)


def _avg_divisor(op: str, geom: WindowGeometry, count_include_pad: bool) -> np.ndarray:
    counts = tap_count_per_dim(geom, lo_bound="padding" if count_include_pad else "input")
    for dim, c in enumerate(counts):
        if not c.all():
            raise ValueError(
                f"{op}: with padding {geom.padding} an output window along spatial dimension {dim} "
                f"contains no {'padded' if count_include_pad else 'input'} cell, so its average is "
                "undefined; reduce the padding"
            )
    return outer_product(counts)


@quiet
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
    flag(op, "count_include_pad", count_include_pad)
    xa, geom = _geometry(op, x, kernel, stride, padding, dilation, ceil_mode)
    divisor = _avg_divisor(op, geom, count_include_pad)
    view = window_view(pad(xa, geom, 0.0), geom)
    total = np.zeros(xa.shape[:2] + geom.out, dtype=np.float64)
    for tap in taps(geom):
        total += view[tap_index(tap)]
    return total / divisor


@quiet
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
    flag(op, "count_include_pad", count_include_pad)
    xa, geom = _geometry(op, x, kernel, stride, padding, dilation, ceil_mode)
    share = cotangent(op, dy, xa.shape[:2] + geom.out) / _avg_divisor(op, geom, count_include_pad)
    padded_shape = xa.shape[:2] + tuple(
        n + lo + hi + oh for n, (lo, hi), oh in zip(geom.sizes, geom.padding, geom.overhang)
    )
    dxpad = np.zeros(padded_shape, dtype=np.float64)
    dview = window_view(dxpad, geom, writeable=True)
    for tap in taps(geom):
        dview[tap_index(tap)] += share
    return _crop(dxpad, geom)
