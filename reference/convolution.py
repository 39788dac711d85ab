"""Grouped, strided, dilated N-d convolution (cross-correlation) and its backward pass.

Layout: ``x`` is ``(N, C, *spatial)``, ``w`` is ``(O, C // groups, *kernel)``, ``b`` is ``(O,)``.
With ``G = groups``, ``Cg = C // G``, ``Og = O // G`` and ``g = o // Og`` the group of output
channel ``o``, the forward pass is (no kernel flip)::

    y[n, o, i] = b[o] + sum_{c < Cg, k} w[o, c, k] * xpad[n, g * Cg + c, i * s + k * d]

where ``i`` and ``k`` are multi-indices over the spatial axes and ``xpad`` is ``x`` zero-padded by
the resolved ``(lo, hi)`` pairs. The backward pass, for an upstream gradient ``dy`` shaped like
``y``, follows from the same sum::

    db[o]       = sum_{n, i} dy[n, o, i]
    dw[o, c, k] = sum_{n, i} dy[n, o, i] * xpad[n, g * Cg + c, i * s + k * d]
    dxpad[n, g * Cg + c, i * s + k * d] += sum_{o in group g} dy[n, o, i] * w[o, c, k]

and ``dx`` is ``dxpad`` with the padding cropped away. Inputs are converted to float64 and the
results are float64.

Two structures compute these sums; both loop over blocks of batch items (and, for one huge item,
over blocks of output rows), never over channels or positions. With ``T = prod(kernel)`` taps,
``P`` output positions per item and ``K = Cg * T``:

* ``"gemm"`` (im2col): each block's windows are copied once into an ``(items, G, K, P)`` matrix,
  and one batched matrix product per block writes ``y`` directly in its ``(N, O, *out)`` layout
  (``(G, Og, K) @ (items, G, K, P)``, no transpose of the result). The backward pass reuses that
  matrix: ``dw`` is ``dy @ cols^T`` per item (summed over the block), and ``dcols = w^T @ dy`` is
  added back through the window geometry (tap by tap into a writeable window view). A small call
  (at most :data:`convequiv.reference.windows.SMALL_SCATTER` values in the matrix) gathers the
  whole matrix with one ``take`` of every tap's input cell, padding reading zero, and adds
  ``dcols`` back with one ``bincount`` (:class:`convequiv.reference.windows.CallPlan`): no padded
  copy, no per-block loop. A ``1 x ... x 1`` kernel with stride 1 and no padding copies nothing:
  ``x`` itself is the matrix.
* ``"taps"`` (:mod:`convequiv.reference.depthwise`): a depthwise convolution (``C == G == O``: one
  input and one output channel per group) as a loop over kernel taps in the channels-last layout,
  one contiguous multiply and add per tap and cache-sized block, no im2col copy.

The cost rule (:func:`structure`, decided once per call shape): a depthwise convolution takes the
tap loop when it has at least :data:`TAPS_MIN_OUTPUTS` output values per batch item, everything
else takes im2col. Why: im2col's product per group and item has one output row (``Og == 1``) and
``K = T`` columns, a matrix-vector product that streams the ``T`` copied values of every position
once: its time is the copy of ``T * P`` values plus one product call per group and item (``N * G``
calls of a few microseconds each), and those calls dominate a depthwise layer (``G`` in the
hundreds). The tap loop moves the same ``T * P`` values per channel but through the cache, in
``2 T`` vectorised calls per block of about :data:`convequiv.reference.depthwise.BLOCK_BYTES`,
plus block-wise layout copies; for a small output those fixed costs exceed the products' and
im2col wins.
With more than one input channel per group the product has a real contraction (``K = Cg * T``)
and im2col's copy pays for itself; with several output channels per group (a depth multiplier, or
a single-channel input with many filters) its product reuses every copied value ``Og`` times.

Memory: the im2col block stays under :data:`convequiv.reference.windows.CHUNK_BYTES` (and under
:data:`CACHE_BYTES` when a block of at least one item fits it, so that a copied block is still in
cache when the product reads it); the tap loop holds the result (``y``, or ``dx``) and block-sized
channels-last copies and scratch (:data:`convequiv.reference.depthwise.BLOCK_BYTES` each).
"""

from __future__ import annotations

import math

import numpy as np

from . import depthwise, windows
from ._checks import as_float64, batch_input, cotangent, is_int, quiet
from .geometry import WindowGeometry
from .windows import CallPlan, Index, call_plan, pad, tap_index, tap_list, window_view

#: Preferred size of one block's im2col matrix or scratch array: about the per-core L2 cache, so
#: that a block copied (or written) by one call is read by the next from cache.
CACHE_BYTES = 2 * 2**20

#: A depthwise convolution takes the tap loop from this many output values per batch item on
#: (the cost rule in the module docstring).
TAPS_MIN_OUTPUTS = 2**12

STRUCTURES = ("gemm", "taps")


def _setup(
    op: str, x: object, w: object, stride: object, padding: object, dilation: object, groups: object
) -> tuple[np.ndarray, np.ndarray, int, CallPlan]:
    xa = batch_input(op, "x", x)
    wa = as_float64(op, "w", w)
    nd = xa.ndim - 2
    if wa.ndim != xa.ndim:
        raise ValueError(
            f"{op}: w must have shape (O, C // groups, *kernel) with {nd} kernel dimension(s) to match "
            f"x of shape {xa.shape}, got shape {wa.shape}"
        )
    if 0 in wa.shape:
        raise ValueError(f"{op}: w must not have an empty dimension, got shape {wa.shape}")
    if not is_int(groups):
        raise TypeError(f"{op}: groups must be an int, got {groups!r}")
    if groups < 1:  # type: ignore[operator]
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    g = int(groups)  # type: ignore[call-overload]
    c, o = xa.shape[1], wa.shape[0]
    if c % g:
        raise ValueError(f"{op}: groups={g} must divide the input channels C={c} of x")
    if o % g:
        raise ValueError(f"{op}: groups={g} must divide the output channels O={o} of w")
    if wa.shape[1] != c // g:
        raise ValueError(
            f"{op}: channel mismatch: w.shape[1] must be C // groups = {c} // {g} = {c // g}, "
            f"got w of shape {wa.shape} for x of shape {xa.shape}"
        )
    plan = call_plan(op, xa.shape, wa.shape[2:], stride, padding, dilation, False, kernel_is_shape=True)
    return xa, wa, g, plan


def structure(channels: int, out_channels: int, groups: int, geom: WindowGeometry) -> str:
    """``"gemm"`` or ``"taps"`` for one call shape, by the cost rule of the module docstring."""
    return geom.remember(
        ("conv", channels, out_channels, groups), lambda: _structure(channels, out_channels, groups, geom)
    )


def _structure(channels: int, out_channels: int, groups: int, geom: WindowGeometry) -> str:
    if not channels == groups == out_channels:
        return "gemm"
    outputs = channels * math.prod(geom.out)
    return "taps" if outputs >= TAPS_MIN_OUTPUTS else "gemm"


def _blocks(batch: int, geom: WindowGeometry, bytes_per_window: int) -> list[tuple[slice, slice]]:
    """Blocks of :func:`convequiv.reference.windows.blocks` sized for the cache when an item fits it."""
    limit = windows.CHUNK_BYTES
    item = bytes_per_window * math.prod(geom.out)
    if item <= CACHE_BYTES:
        limit = min(limit, CACHE_BYTES)
    if item * batch <= limit:
        return [(slice(0, batch), slice(0, geom.out[0]))]
    return list(windows.blocks(batch, geom, bytes_per_window, limit=limit))


def _no_copy(xa: np.ndarray, geom: WindowGeometry) -> bool:
    """A 1 x ... x 1 kernel, stride 1, no padding, contiguous ``x``: ``x`` itself is the im2col matrix."""
    return geom.remember("pointwise", lambda: _pointwise(geom)) and bool(xa.flags.c_contiguous)


def _pointwise(geom: WindowGeometry) -> bool:
    return (
        all(k == 1 for k in geom.kernel)
        and all(s == 1 for s in geom.stride)
        and not any(lo or hi for lo, hi in geom.padding)
    )


def _cols(view: np.ndarray, groups: int) -> np.ndarray:
    """Window block ``(n, C, *out, *kernel)`` -> ``(n, G, Cg * prod(kernel), prod(out))`` copy."""
    n, c = view.shape[:2]
    nd = (view.ndim - 2) // 2
    order = (0, 1, *range(2 + nd, 2 + 2 * nd), *range(2, 2 + nd))
    cols = np.empty((n, c) + view.shape[2 + nd :] + view.shape[2 : 2 + nd])
    cols[...] = view.transpose(order)
    return cols.reshape(n, groups, -1, math.prod(view.shape[2 : 2 + nd]))


def _small(plan: CallPlan) -> bool:
    """Whether the im2col matrix of the whole call has at most ``SMALL_SCATTER`` values: then it is
    gathered with one ``take`` (:meth:`CallPlan.gather`) and its gradient scattered with one
    ``bincount`` (:meth:`CallPlan.scatter`)."""
    return plan.window_taps <= windows.SMALL_SCATTER


def _gathered_cols(xa: np.ndarray, plan: CallPlan, groups: int) -> np.ndarray:
    """The im2col matrix ``(n, G, Cg * prod(kernel), prod(out))`` of ``x`` ``(n, C, *sizes)`` by one
    ``take`` of every tap's cell (:meth:`CallPlan.gather`, padding reading zero): the same matrix
    as :func:`_cols` of the padded input's window view."""
    cols = plan.gather(xa, 0.0, "plane tap window")
    return cols.reshape(xa.shape[0], groups, -1, math.prod(plan.geom.out))


def _rows(geom: WindowGeometry, rs: slice) -> tuple[int, ...]:
    return (rs.stop - rs.start,) + geom.out[1:]


def _whole(geom: WindowGeometry, rs: slice) -> bool:
    return bool(rs.start == 0 and rs.stop == geom.out[0])


def _forward_gemm(xa: np.ndarray, wa: np.ndarray, g: int, plan: CallPlan, y: np.ndarray) -> None:
    geom = plan.geom
    n, c = xa.shape[:2]
    o = wa.shape[0]
    wmat = wa.reshape(g, o // g, -1)
    if _no_copy(xa, geom):
        for bs, _ in _blocks(n, geom, 0):
            nb = bs.stop - bs.start
            np.matmul(wmat, xa[bs].reshape(nb, g, c // g, -1), out=y[bs].reshape(nb, g, o // g, -1))
        return
    if _small(plan):
        np.matmul(wmat, _gathered_cols(xa, plan, g), out=y.reshape(n, g, o // g, -1))
        return
    view = window_view(pad(xa, geom, 0.0), geom)
    for bs, rs in _blocks(n, geom, c * math.prod(geom.kernel) * 8):
        cols = _cols(view[bs, :, rs], g)
        nb = cols.shape[0]
        if _whole(geom, rs):
            np.matmul(wmat, cols, out=y[bs].reshape(nb, g, o // g, -1))
        else:
            y[bs, :, rs] = np.matmul(wmat, cols).reshape((nb, o) + _rows(geom, rs))


def conv(
    x: object,
    w: object,
    b: object = None,
    *,
    stride: int | tuple[int, ...] = 1,
    padding: object = 0,
    dilation: int | tuple[int, ...] = 1,
    groups: int = 1,
) -> np.ndarray:
    """Grouped N-d cross-correlation ``y = conv(x, w) + b`` (formula in the module docstring).

    ``padding``: int, per-dimension ints, per-dimension ``(lo, hi)`` pairs, ``"valid"``, ``"same"``
    or ``"same_lower"`` (see :mod:`convequiv.reference.geometry`). Returns float64 ``(N, O, *out)``.
    """
    return _conv(x, w, b, stride, padding, dilation, groups, None)


@quiet
def _conv(
    x: object,
    w: object,
    b: object,
    stride: object,
    padding: object,
    dilation: object,
    groups: object,
    forced: str | None,
) -> np.ndarray:
    """:func:`conv` with its structure chosen by the cost rule, or ``forced`` (the proof runs both)."""
    op = "conv"
    xa, wa, g, plan = _setup(op, x, w, stride, padding, dilation, groups)
    geom = plan.geom
    n, c = xa.shape[:2]
    o = wa.shape[0]
    ba = None
    if b is not None:
        ba = as_float64(op, "b", b)
        if ba.shape != (o,):
            raise ValueError(f"{op}: b must have shape (O,) = ({o},), got shape {ba.shape}")
    if (forced or structure(c, o, g, geom)) == "taps" and c == g == o:
        y = depthwise.forward(xa, wa, geom)
    else:
        y = np.empty((n, o) + geom.out, dtype=np.float64)
        _forward_gemm(xa, wa, g, plan, y)
    if ba is not None:
        y += ba.reshape((o,) + (1,) * geom.nd)
    return y


def _crop(dxpad: np.ndarray, geom: WindowGeometry) -> np.ndarray:
    if dxpad.shape[2:] == geom.sizes:
        return dxpad
    crop = (slice(None), slice(None)) + tuple(slice(lo, lo + size) for (lo, _), size in zip(geom.padding, geom.sizes))
    return np.ascontiguousarray(dxpad[crop])


def _padded_zeros(xa: np.ndarray, geom: WindowGeometry) -> np.ndarray:
    shape = xa.shape[:2] + tuple(n + lo + hi + oh for n, (lo, hi), oh in zip(geom.sizes, geom.padding, geom.overhang))
    return np.zeros(shape, dtype=np.float64)


def _cols_by_group(view: np.ndarray, groups: int) -> np.ndarray:
    """Window block ``(n, C, *out, *kernel)`` -> ``(G, Cg * prod(kernel), n * prod(out))`` copy:
    the positions of every item of the block side by side, so that ``dw`` is one product with a
    contraction over all of them."""
    n, c = view.shape[:2]
    nd = (view.ndim - 2) // 2
    order = (1, *range(2 + nd, 2 + 2 * nd), 0, *range(2, 2 + nd))
    cols = np.empty((c,) + view.shape[2 + nd :] + (n,) + view.shape[2 : 2 + nd])
    cols[...] = view.transpose(order)
    return cols.reshape(groups, -1, n * math.prod(view.shape[2 : 2 + nd]))


def _backward_gemm(
    xa: np.ndarray, wa: np.ndarray, dya: np.ndarray, g: int, plan: CallPlan
) -> tuple[np.ndarray, np.ndarray]:
    """im2col backward: ``x`` itself for a 1 x 1 kernel without stride or padding; the per-item
    matrix and one col2im for a small call (at most ``SMALL_SCATTER`` values in dcols); otherwise
    blocks of the group-major matrix, whose ``dw`` product contracts over every position of the
    block at once and whose ``dcols`` go back tap by tap."""
    geom = plan.geom
    n, c = xa.shape[:2]
    o = wa.shape[0]
    og, cg, nd = o // g, c // g, geom.nd
    wmat = wa.reshape(g, og, -1)
    wmat_t = wmat.transpose(0, 2, 1)
    dwmat = np.zeros_like(wmat)
    if _no_copy(xa, geom):
        dx = np.empty(xa.shape, dtype=np.float64)
        for bs, _ in _blocks(n, geom, 0):
            nb = bs.stop - bs.start
            dyb = dya[bs].reshape(nb, g, og, -1)
            dwmat += np.matmul(dyb, xa[bs].reshape(nb, g, cg, -1).transpose(0, 1, 3, 2)).sum(axis=0)
            np.matmul(wmat_t, dyb, out=dx[bs].reshape(nb, g, cg, -1))
        return dx, dwmat
    if _small(plan):
        cols = _gathered_cols(xa, plan, g)  # (n, G, K, P)
        dyb = dya.reshape(n, g, og, -1)
        dwmat += np.matmul(dyb, cols.transpose(0, 1, 3, 2)).sum(axis=0)
        np.matmul(wmat_t, dyb, out=cols)  # dcols, in the im2col buffer
        return plan.scatter(cols), dwmat
    view = window_view(pad(xa, geom, 0.0), geom)
    dxpad = _padded_zeros(xa, geom)
    dview = window_view(dxpad, geom, writeable=True)
    for bs, rs in _blocks(n, geom, c * math.prod(geom.kernel) * 8):
        cols = _cols_by_group(view[bs, :, rs], g)  # (G, K, nb * P)
        rows = _rows(geom, rs)
        nb = bs.stop - bs.start
        dy_block = np.empty((o, nb) + rows)
        dy_block[...] = dya[bs, :, rs].transpose(1, 0, *range(2, 2 + nd))
        dyg = dy_block.reshape(g, og, -1)
        dwmat += np.matmul(dyg, cols.transpose(0, 2, 1))
        np.matmul(wmat_t, dyg, out=cols)
        dcols = cols.reshape((c,) + geom.kernel + (nb,) + rows)
        dblock = dview[bs, :, rs]
        for tap in tap_list(geom.kernel):
            target = dblock[tap_index(tap)]
            at: Index = (slice(None), *tap)
            np.add(target, dcols[at].swapaxes(0, 1), out=target)
    return _crop(dxpad, geom), dwmat


def conv_backward(
    x: object,
    w: object,
    dy: object,
    *,
    stride: int | tuple[int, ...] = 1,
    padding: object = 0,
    dilation: int | tuple[int, ...] = 1,
    groups: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dx, dw, db)`` of ``sum(dy * conv(x, w, b))`` (formulas in the module docstring).

    ``dy`` must have the forward output shape ``(N, O, *out)``. All results are float64.
    """
    return _conv_backward(x, w, dy, stride, padding, dilation, groups, None)


@quiet
def _conv_backward(
    x: object,
    w: object,
    dy: object,
    stride: object,
    padding: object,
    dilation: object,
    groups: object,
    forced: str | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`conv_backward` with its structure chosen by the cost rule, or ``forced``."""
    op = "conv_backward"
    xa, wa, g, plan = _setup(op, x, w, stride, padding, dilation, groups)
    geom = plan.geom
    n, c = xa.shape[:2]
    o = wa.shape[0]
    dya = cotangent(op, dy, (n, o) + geom.out)
    if (forced or structure(c, o, g, geom)) == "taps" and c == g == o:
        dx, dwmat = depthwise.backward(xa, wa, dya, geom)
    else:
        dx, dwmat = _backward_gemm(xa, wa, dya, g, plan)
    db = dya.sum(axis=(0, *range(2, dya.ndim)))
    return dx, dwmat.reshape(wa.shape), db
