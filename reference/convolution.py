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

and ``dx`` is ``dxpad`` with the padding cropped away. Every sum is one matrix product per block
of an im2col matrix whose size is bounded by :data:`convequiv.reference.windows.CHUNK_BYTES`. Inputs are
converted to float64 and the results are float64.
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import as_float64, batch_input, cotangent, is_int, quiet
from .geometry import WindowGeometry, window_geometry
from .windows import blocks, pad, tap_index, taps, window_view


def _setup(op: str, x: object, w: object, stride: object, padding: object, dilation: object, groups: object):
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
    geom = window_geometry(op, xa.shape[2:], wa.shape[2:], stride=stride, padding=padding, dilation=dilation)
    return xa, wa, g, geom


def _im2col(view: np.ndarray, groups: int) -> np.ndarray:
    """Window block ``(n, C, *out, *kernel)`` -> ``(G, Cg * prod(kernel), n * prod(out))`` copy."""
    n, c = view.shape[:2]
    nd = (view.ndim - 2) // 2
    split = view.reshape((n, groups, c // groups) + view.shape[2:])
    order = (1, 2, *range(3 + nd, 3 + 2 * nd), 0, *range(3, 3 + nd))
    rows = (c // groups) * math.prod(view.shape[2 + nd :])
    return split.transpose(order).reshape(groups, rows, -1)


def _from_groups(mat: np.ndarray, n: int, out: tuple[int, ...]) -> np.ndarray:
    """``(G, Og, n * prod(out))`` -> ``(n, G * Og, *out)``."""
    g, og = mat.shape[:2]
    nd = len(out)
    blocked = mat.reshape((g, og, n) + out)
    return blocked.transpose((2, 0, 1, *range(3, 3 + nd))).reshape((n, g * og) + out)


def _to_groups(arr: np.ndarray, groups: int) -> np.ndarray:
    """``(n, G * Og, *out)`` -> ``(G, Og, n * prod(out))`` copy."""
    n, o = arr.shape[:2]
    nd = arr.ndim - 2
    split = arr.reshape((n, groups, o // groups) + arr.shape[2:])
    return split.transpose((1, 2, 0, *range(3, 3 + nd))).reshape(groups, o // groups, -1)


def _block_bytes(c: int, geom: WindowGeometry) -> int:
    return c * math.prod(geom.kernel) * 8


@quiet
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
    op = "conv"
    xa, wa, g, geom = _setup(op, x, w, stride, padding, dilation, groups)
    o = wa.shape[0]
    ba = None
    if b is not None:
        ba = as_float64(op, "b", b)
        if ba.shape != (o,):
            raise ValueError(f"{op}: b must have shape (O,) = ({o},), got shape {ba.shape}")
    n = xa.shape[0]
    view = window_view(pad(xa, geom, 0.0), geom)
    wmat = wa.reshape(g, o // g, -1)
    y = np.empty((n, o) + geom.out, dtype=np.float64)
    for bs, rs in blocks(n, geom, _block_bytes(xa.shape[1], geom)):
        cols = _im2col(view[bs, :, rs], g)
        out = (rs.stop - rs.start,) + geom.out[1:]
        y[bs, :, rs] = _from_groups(np.matmul(wmat, cols), cols.shape[2] // math.prod(out), out)
    if ba is not None:
        y += ba.reshape((o,) + (1,) * geom.nd)
    return y


@quiet
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
    op = "conv_backward"
    xa, wa, g, geom = _setup(op, x, w, stride, padding, dilation, groups)
    n, o = xa.shape[0], wa.shape[0]
    dya = cotangent(op, dy, (n, o) + geom.out)
    xpad = pad(xa, geom, 0.0)
    view = window_view(xpad, geom)
    dxpad = np.zeros(xpad.shape, dtype=np.float64)
    dview = window_view(dxpad, geom, writeable=True)
    wmat = wa.reshape(g, o // g, -1)
    dwmat = np.zeros_like(wmat)
    kernel_axes = (slice(None),) * 2
    for bs, rs in blocks(n, geom, _block_bytes(xa.shape[1], geom)):
        cols = _im2col(view[bs, :, rs], g)
        dyg = _to_groups(dya[bs, :, rs], g)
        dwmat += np.matmul(dyg, cols.transpose(0, 2, 1))
        out = (rs.stop - rs.start,) + geom.out[1:]
        nb = cols.shape[2] // math.prod(out)
        dcols = np.matmul(wmat.transpose(0, 2, 1), dyg).reshape((g, xa.shape[1] // g) + geom.kernel + (nb,) + out)
        dblock = dview[bs, :, rs]
        for tap in taps(geom):
            contribution = dcols[(*kernel_axes, *tap)]  # (G, Cg, nb, *out)
            dblock[tap_index(tap)] += _from_groups(contribution.reshape(g, xa.shape[1] // g, -1), nb, out)
    crop = (slice(None), slice(None)) + tuple(slice(lo, lo + size) for (lo, _), size in zip(geom.padding, geom.sizes))
    dx = np.ascontiguousarray(dxpad[crop])
    db = dya.sum(axis=(0, *range(2, dya.ndim)))
    return dx, dwmat.reshape(wa.shape), db
