"""Depth (channel) pooling and global pooling.

Depth pooling reduces the channel axis in contiguous windows of ``pool_size`` channels taken every
``stride`` channels (``stride`` defaults to ``pool_size``: groups ``[0..k-1], [k..2k-1], ...``)::

    y[n, j, i] = reduce_{0 <= t < k} x[n, j * stride + t, i]       with reduce = max or mean

This is the notes' Keras ``DepthPool`` layer and TensorFlow's ``tf.nn.max_pool`` with a depth
window. The last window must end on the last channel: ``(C - pool_size) % stride == 0``
(``C % pool_size == 0`` for the default stride); with ``stride > pool_size`` the channels between
windows are skipped, as in 1-D pooling. Max mode follows :func:`convequiv.reference.pooling.max_pool` (NaN propagates;
``ties`` as in :func:`convequiv.reference.pooling.max_pool_backward`).

Global pooling reduces all spatial axes: ``y[n, c] = reduce_i x[n, c, i]`` (shape ``(N, C)``, or
``(N, C, 1, ..., 1)`` with ``keepdims=True``); the mean is the sum (one matrix-vector product with
a vector of ones, its terms added in the BLAS's order) over the count. The global max gradient
goes to the first maximum in row-major order (``ties="first"``) or is split evenly among tied maxima (``ties="split"``); with
``nan="propagate"`` a NaN is the maximum, with ``nan="ignore"`` NaN entries are skipped (an all-NaN
channel gives NaN and passes no gradient).

Inputs are converted to float64; results are float64.
"""

from __future__ import annotations

import numpy as np

from ._checks import batch_input, choice, cotangent, flag, is_int, quiet
from .pooling import NAN_POLICIES, TIE_POLICIES, avg_pool_backward, max_pool_backward

DEPTH_MODES = ("max", "avg")


def _depth_setup(op: str, x: object, pool_size: object, mode: object, stride: object) -> tuple[np.ndarray, int, int]:
    xa = batch_input(op, "x", x)
    choice(op, "mode", mode, DEPTH_MODES)
    c = xa.shape[1]
    for name, value in (("pool_size", pool_size), ("stride", pool_size if stride is None else stride)):
        if not is_int(value) or value < 1:  # type: ignore[operator]
            raise ValueError(f"{op}: {name} must be a positive int, got {value!r}")
    k = int(pool_size)  # type: ignore[call-overload]
    s = k if stride is None else int(stride)  # type: ignore[call-overload]
    if k > c:
        raise ValueError(f"{op}: pool_size={k} exceeds the channel count C={c}")
    if (c - k) % s:
        what = f"pool_size={k} must divide" if stride is None else f"pool_size={k} with stride={s} must tile"
        raise ValueError(f"{op}: {what} the channel count C={c}")
    return xa, k, s


@quiet
def depth_pool(x: object, pool_size: int, *, mode: str = "max", stride: int | None = None) -> np.ndarray:
    """Pool the channel axis in contiguous windows (module docstring). ``(N, C', *S)``."""
    xa, k, s = _depth_setup("depth_pool", x, pool_size, mode, stride)
    c_out = (xa.shape[1] - k) // s + 1
    # One strided channel slice per tap t (channels t, t + s, ...), combined elementwise: no copy
    # of the input, and np.maximum propagates NaN as max_pool does.
    taps = [xa[:, t : t + (c_out - 1) * s + 1 : s] for t in range(k)]
    combine = np.maximum if mode == "max" else np.add
    out = taps[0].copy()
    for tap in taps[1:]:
        combine(out, tap, out=out)
    return out if mode == "max" else out / k


@quiet
def depth_pool_backward(
    x: object,
    dy: object,
    pool_size: int,
    *,
    mode: str = "max",
    stride: int | None = None,
    ties: str = "first",
) -> np.ndarray:
    """Gradient of ``sum(dy * depth_pool(x, ...))`` with respect to ``x``."""
    op = "depth_pool_backward"
    choice(op, "ties", ties, TIE_POLICIES)
    xa, k, s = _depth_setup(op, x, pool_size, mode, stride)
    c_out = (xa.shape[1] - k) // s + 1
    dya = cotangent(op, dy, (xa.shape[0], c_out, *xa.shape[2:]))
    flat, dflat = _channels_last_1d(xa), _channels_last_1d(dya)
    if mode == "max":
        dx = max_pool_backward(flat, dflat, k, stride=s, ties=ties)
    else:
        dx = avg_pool_backward(flat, dflat, k, stride=s)
    return _restore(dx, xa)


def _channels_last_1d(xa: np.ndarray) -> np.ndarray:
    """``(N, C, *S)`` -> ``(N * prod(S), 1, C)``: depth pooling becomes 1-D pooling."""
    return np.moveaxis(xa, 1, -1).reshape(-1, 1, xa.shape[1])


def _restore(flat: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_channels_last_1d` for a result with ``flat.shape[-1]`` channels."""
    shape = (like.shape[0], *like.shape[2:], flat.shape[-1])
    return np.ascontiguousarray(np.moveaxis(flat.reshape(shape), -1, 1))


def _global_shape(xa: np.ndarray, keepdims: bool) -> tuple[int, ...]:
    return xa.shape[:2] + ((1,) * (xa.ndim - 2) if keepdims else ())


@quiet
def global_avg_pool(x: object, *, keepdims: bool = False) -> np.ndarray:
    """Mean over all spatial axes: ``(N, C)`` or ``(N, C, 1, ...)`` with ``keepdims``."""
    op = "global_avg_pool"
    keep = flag(op, "keepdims", keepdims)
    xa = batch_input(op, "x", x)
    area = xa[0, 0].size
    sums = xa.reshape(-1, area) @ np.ones(area)  # one matrix-vector product: a sum of area terms in any order
    means: np.ndarray = sums / area
    return means.reshape(_global_shape(xa, keep))


@quiet
def global_avg_pool_backward(x: object, dy: object, *, keepdims: bool = False) -> np.ndarray:
    """``dx[n, c, i] = dy[n, c] / prod(spatial)``."""
    op = "global_avg_pool_backward"
    keep = flag(op, "keepdims", keepdims)
    xa = batch_input(op, "x", x)
    dya = cotangent(op, dy, _global_shape(xa, keep))
    area = xa[0, 0].size
    return np.broadcast_to((dya / area).reshape(xa.shape[:2] + (1,) * (xa.ndim - 2)), xa.shape).copy()


@quiet
def global_max_pool(x: object, *, keepdims: bool = False, nan: str = "propagate") -> np.ndarray:
    """Max over all spatial axes (NaN policy in the module docstring)."""
    op = "global_max_pool"
    keep = flag(op, "keepdims", keepdims)
    choice(op, "nan", nan, NAN_POLICIES)
    xa = batch_input(op, "x", x)
    flat = xa.reshape(xa.shape[:2] + (-1,))
    reduced: np.ndarray = flat.max(axis=-1) if nan == "propagate" else np.fmax.reduce(flat, axis=-1)
    return reduced.reshape(_global_shape(xa, keep))


@quiet
def global_max_pool_backward(
    x: object,
    dy: object,
    *,
    keepdims: bool = False,
    ties: str = "first",
    nan: str = "propagate",
) -> np.ndarray:
    """Gradient of ``sum(dy * global_max_pool(x, ...))`` (tie and NaN policies in the module docstring)."""
    op = "global_max_pool_backward"
    keep = flag(op, "keepdims", keepdims)
    choice(op, "ties", ties, TIE_POLICIES)
    choice(op, "nan", nan, NAN_POLICIES)
    xa = batch_input(op, "x", x)
    dya = cotangent(op, dy, _global_shape(xa, keep)).reshape(xa.shape[:2] + (1,))
    flat: np.ndarray = xa.reshape(xa.shape[:2] + (-1,))
    peak = (flat.max(axis=-1) if nan == "propagate" else np.fmax.reduce(flat, axis=-1))[..., None]
    maximal = (flat == peak) | (np.isnan(flat) & np.isnan(peak) & (nan == "propagate"))
    if ties == "first":
        first = np.argmax(maximal, axis=-1)[..., None]
        maximal = maximal & (np.arange(flat.shape[-1]) == first)
    count = np.maximum(maximal.sum(axis=-1, keepdims=True), 1)
    dx: np.ndarray = maximal * (dya / count)
    return dx.reshape(xa.shape)
