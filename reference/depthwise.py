"""The ``"taps"`` structure of :mod:`convequiv.reference.convolution`: a depthwise convolution
(one input and one output channel per group, ``C == G == O``) as a loop over kernel taps in the
channels-last layout.

With channels last, tap ``k`` of every window of a block of output rows is a view
``x_cl[n, i * s + k * d, :]`` whose innermost axis (the channels) is contiguous, and each tap's
weights ``w[:, 0, k]`` are a vector along that same axis, tiled once over the last output axis.
So the forward pass is, per tap, one contiguous multiply into a scratch block and one add::

    y_cl[n, i, c] += x_cl[n, i * s + k * d, c] * w[c, 0, k]

and the backward pass, per tap, ``dw[c, 0, k] += sum_{n, i} dy_cl[n, i, c] * x_cl[n, i * s + k * d, c]``
(a product, then a matrix-vector product with a vector of ones that sums over the block's
positions) and ``dx_cl[n, i * s + k * d, c] += dy_cl[n, i, c] * w[c, 0, k]`` through a writeable
window view. Only real products enter: no window reads past the padded input, and padding cells
hold zeros as in the im2col structure. Blocks are one batch item and enough output rows to fill
:data:`BLOCK_BYTES`, so that the scratch, the output block and the weights tile stay in cache.
The layout changes (``x`` and ``dy`` to channels last, ``y`` and ``dx`` back) are one copy each.
"""

from __future__ import annotations

import math

import numpy as np

from .geometry import WindowGeometry
from .windows import blocks, padded_shape, tap_list

#: Size of one block's output (or ``dy``) rows and of its scratch: well inside the L2 cache.
BLOCK_BYTES = 256 * 2**10


def _channels_last(xa: np.ndarray, geom: WindowGeometry) -> np.ndarray:
    """``(n, C, *sizes)`` -> zero-padded ``(n, *padded, C)`` (padding and ceil-mode overhang)."""
    nd = geom.nd
    padded = padded_shape(geom)
    out = np.zeros((xa.shape[0], *padded, xa.shape[1]))
    interior = tuple(slice(lo, lo + n) for (lo, _), n in zip(geom.padding, geom.sizes))
    out[(slice(None), *interior)] = xa.transpose(0, *range(2, 2 + nd), 1)
    return out


def _window_view(cl: np.ndarray, geom: WindowGeometry) -> np.ndarray:
    """``(n, *out, *kernel, C)`` view of a contiguous channels-last padded array."""
    nd = geom.nd
    st = cl.strides
    spatial = st[1 : 1 + nd]
    shape = (cl.shape[0], *geom.out, *geom.kernel, cl.shape[-1])
    strides = (
        st[0],
        *(a * s for a, s in zip(spatial, geom.stride)),
        *(a * d for a, d in zip(spatial, geom.dilation)),
        st[-1],
    )
    return np.ndarray(shape, cl.dtype, cl, 0, strides)


def _channels_first(cl: np.ndarray) -> np.ndarray:
    """``(n, *spatial, C)`` -> contiguous ``(n, C, *spatial)``."""
    nd = cl.ndim - 2
    return np.ascontiguousarray(cl.transpose(0, nd + 1, *range(1, nd + 1)))


def _tiles(wa: np.ndarray, geom: WindowGeometry) -> np.ndarray:
    """``(T, out[-1], C)``: each tap's weights repeated along the last output axis, so that a tap's
    product with a block is a plain contiguous multiply."""
    c, t = wa.shape[0], math.prod(geom.kernel)
    per_tap = wa.reshape(c, t).T
    return np.ascontiguousarray(np.broadcast_to(per_tap[:, None, :], (t, geom.out[-1], c)))


def _block_index(geom: WindowGeometry, bs: slice, rs: slice) -> tuple[slice, ...]:
    return (bs, rs) + (slice(None),) * (geom.nd - 1)


def _tile(tiles: np.ndarray, index: int, geom: WindowGeometry, rs: slice) -> np.ndarray:
    """Tap ``index``'s tile for a block of rows ``rs`` (in 1-D the rows are the last axis)."""
    return tiles[index, rs] if geom.nd == 1 else tiles[index]


def forward(xa: np.ndarray, wa: np.ndarray, geom: WindowGeometry) -> np.ndarray:
    """``conv(x, w, groups=C)`` for ``w`` of shape ``(C, 1, *kernel)``, without bias."""
    n, c, nd = xa.shape[0], xa.shape[1], geom.nd
    view = _window_view(_channels_last(xa, geom), geom)
    y = np.empty((n, *geom.out, c))
    tiles = _tiles(wa, geom)
    taps = tap_list(geom.kernel)
    for bs, rs in blocks(n, geom, c * 8, limit=BLOCK_BYTES):
        index = _block_index(geom, bs, rs)
        yb, vb = y[index], view[index]
        scratch = np.empty(yb.shape)
        for i, tap in enumerate(taps):
            source = vb[(slice(None),) * (1 + nd) + tap]
            np.multiply(source, _tile(tiles, i, geom, rs), out=scratch if i else yb)
            if i:
                np.add(yb, scratch, out=yb)
    return _channels_first(y)


def backward(xa: np.ndarray, wa: np.ndarray, dya: np.ndarray, geom: WindowGeometry) -> tuple[np.ndarray, np.ndarray]:
    """``(dx, dw)`` of :func:`forward` for the upstream gradient ``dy`` ``(n, C, *out)``."""
    n, c, nd = xa.shape[0], xa.shape[1], geom.nd
    view = _window_view(_channels_last(xa, geom), geom)
    dx_cl = np.zeros((n, *padded_shape(geom), c))
    dview = _window_view(dx_cl, geom)
    dy_cl = np.ascontiguousarray(dya.transpose(0, *range(2, 2 + nd), 1))
    tiles = _tiles(wa, geom)
    taps = tap_list(geom.kernel)
    dw = np.zeros((len(taps), c))
    for bs, rs in blocks(n, geom, c * 8, limit=BLOCK_BYTES):
        index = _block_index(geom, bs, rs)
        dyb, vb, dvb = dy_cl[index], view[index], dview[index]
        scratch = np.empty(dyb.shape)
        ones = np.ones(dyb.size // c)
        for i, tap in enumerate(taps):
            at = (slice(None),) * (1 + nd) + tap
            np.multiply(dyb, vb[at], out=scratch)
            dw[i] += ones @ scratch.reshape(-1, c)
            np.multiply(dyb, _tile(tiles, i, geom, rs), out=scratch)
            target = dvb[at]
            np.add(target, scratch, out=target)
    interior = tuple(slice(lo, lo + size) for (lo, _), size in zip(geom.padding, geom.sizes))
    dx = _channels_first(dx_cl[(slice(None), *interior)])
    return dx, dw.T.reshape(wa.shape)
