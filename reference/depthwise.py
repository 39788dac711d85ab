"""The ``"taps"`` structure of :mod:`convequiv.reference.convolution`: a depthwise convolution
(one input and one output channel per group, ``C == G == O``) as a loop over kernel taps in the
channels-last layout.

With channels last, tap ``k`` of every window of a block of output rows is a view
``x_cl[n, i * s + k * d, :]`` whose innermost axis (the channels) is contiguous, and each tap's
weights ``w[:, 0, k]`` are a vector along that same axis, tiled once over the last output axis.
So the forward pass is, per tap, one contiguous multiply into a scratch block and one add::

    y_cl[n, i, c] += x_cl[n, i * s + k * d, c] * w[c, 0, k]

and the backward pass, per tap, ``dw[c, 0, k] += sum_{n, i} dy_cl[n, i, c] * x_cl[n, i * s + k * d, c]``
(one ``einsum`` per tap and block: the products summed over the block's positions without a
temporary) and ``dx_cl[n, i * s + k * d, c] += dy_cl[n, i, c] * w[c, 0, k]`` through a writeable
window view. Only real products enter: no window reads past the padded input, and padding cells
hold zeros as in the im2col structure. Blocks are batch items, or rows of one item, whose output
fills at most :data:`BLOCK_BYTES`; each block copies the input rows its windows read into a
zero-padded channels-last scratch (and ``dy`` likewise), and writes its ``y`` rows back channels
first (``dx`` rows are added back, the rows shared by neighbouring blocks receiving both sums), so
no channels-last copy of a whole array exists and every layout change happens in cache.
"""

from __future__ import annotations

import math

import numpy as np

from .geometry import WindowGeometry
from .windows import blocks, padded_shape, tap_list

#: Size of one block's output (or ``dy``) rows. Its scratch, input rows and output block stay in
#: the outer caches; on a 2-core AMD EPYC (512 KiB L2 per core, 32 MiB L3) 1-2 MiB blocks were
#: fastest (``mobilenet.dw.112`` forward 30.6 ms and backward 71 ms against 31.3 / 86 ms with
#: 256 KiB), the fewer numpy calls per array outweighing the L2 misses; smaller blocks also copy
#: more overlapping input rows.
BLOCK_BYTES = 2 * 2**20


def _input_rows(geom: WindowGeometry, rs: slice) -> slice:
    """The rows of the padded input (along the first spatial axis) that output rows ``rs`` read."""
    s, d, k = geom.stride[0], geom.dilation[0], geom.kernel[0]
    return slice(rs.start * s, (rs.stop - 1) * s + d * (k - 1) + 1)


def _channels_last_block(xa: np.ndarray, geom: WindowGeometry, bs: slice, rs: slice) -> np.ndarray:
    """The zero-padded channels-last ``(nb, rows, *padded[1:], C)`` copy of the input rows that the
    output rows ``rs`` of the batch items ``bs`` read (padding and ceil-mode overhang as zeros)."""
    rows, padded = _input_rows(geom, rs), padded_shape(geom)
    (lo, _), n = geom.padding[0], geom.sizes[0]
    first, stop = max(rows.start, lo), min(rows.stop, lo + n)
    block = np.zeros((bs.stop - bs.start, rows.stop - rows.start, *padded[1:], xa.shape[1]))
    if first < stop:
        rest = tuple(slice(lo_, lo_ + size) for (lo_, _), size in zip(geom.padding[1:], geom.sizes[1:]))
        target = (slice(None), slice(first - rows.start, stop - rows.start), *rest)
        block[target] = xa[bs, :, first - lo : stop - lo].transpose(0, *range(2, 2 + geom.nd), 1)
    return block


def _add_block(dx: np.ndarray, block: np.ndarray, geom: WindowGeometry, bs: slice, rs: slice) -> None:
    """``dx[bs]`` (channels first, unpadded) plus the input cells of a channels-last block of
    :func:`_channels_last_block`'s extent (its padding cells are dropped)."""
    rows = _input_rows(geom, rs)
    (lo, _), n = geom.padding[0], geom.sizes[0]
    first, stop = max(rows.start, lo), min(rows.stop, lo + n)
    if first >= stop:
        return
    rest = tuple(slice(lo_, lo_ + size) for (lo_, _), size in zip(geom.padding[1:], geom.sizes[1:]))
    inner = block[(slice(None), slice(first - rows.start, stop - rows.start), *rest)]
    target = dx[bs, :, first - lo : stop - lo]
    np.add(target, inner.transpose(0, geom.nd + 1, *range(1, geom.nd + 1)), out=target)


def _window_view(cl: np.ndarray, geom: WindowGeometry, rows: int) -> np.ndarray:
    """``(n, rows, *out[1:], *kernel, C)`` view of a contiguous channels-last padded block."""
    nd = geom.nd
    st = cl.strides
    spatial = st[1 : 1 + nd]
    shape = (cl.shape[0], rows, *geom.out[1:], *geom.kernel, cl.shape[-1])
    strides = (
        st[0],
        *(a * s for a, s in zip(spatial, geom.stride)),
        *(a * d for a, d in zip(spatial, geom.dilation)),
        st[-1],
    )
    return np.ndarray(shape, cl.dtype, cl, 0, strides)


def _tiles(wa: np.ndarray, geom: WindowGeometry) -> np.ndarray:
    """``(T, out[-1], C)``: each tap's weights repeated along the last output axis, so that a tap's
    product with a block is a plain contiguous multiply."""
    c, t = wa.shape[0], math.prod(geom.kernel)
    per_tap = wa.reshape(c, t).T
    return np.ascontiguousarray(np.broadcast_to(per_tap[:, None, :], (t, geom.out[-1], c)))


def _tile(tiles: np.ndarray, index: int, geom: WindowGeometry, rs: slice) -> np.ndarray:
    """Tap ``index``'s tile for a block of rows ``rs`` (in 1-D the rows are the last axis)."""
    return tiles[index, rs] if geom.nd == 1 else tiles[index]


def forward(xa: np.ndarray, wa: np.ndarray, geom: WindowGeometry) -> np.ndarray:
    """``conv(x, w, groups=C)`` for ``w`` of shape ``(C, 1, *kernel)``, without bias."""
    n, c, nd = xa.shape[0], xa.shape[1], geom.nd
    y = np.empty((n, c, *geom.out))
    tiles = _tiles(wa, geom)
    taps = tap_list(geom.kernel)
    for bs, rs in blocks(n, geom, c * 8, limit=BLOCK_BYTES):
        rows = rs.stop - rs.start
        vb = _window_view(_channels_last_block(xa, geom, bs, rs), geom, rows)
        yb = np.empty((bs.stop - bs.start, rows, *geom.out[1:], c))
        scratch = np.empty(yb.shape)
        for i, tap in enumerate(taps):
            source = vb[(slice(None),) * (1 + nd) + tap]
            np.multiply(source, _tile(tiles, i, geom, rs), out=scratch if i else yb)
            if i:
                np.add(yb, scratch, out=yb)
        y[bs, :, rs] = yb.transpose(0, nd + 1, *range(1, nd + 1))
    return y


def backward(xa: np.ndarray, wa: np.ndarray, dya: np.ndarray, geom: WindowGeometry) -> tuple[np.ndarray, np.ndarray]:
    """``(dx, dw)`` of :func:`forward` for the upstream gradient ``dy`` ``(n, C, *out)``."""
    n, c, nd = xa.shape[0], xa.shape[1], geom.nd
    dx = np.zeros(xa.shape)
    tiles = _tiles(wa, geom)
    taps = tap_list(geom.kernel)
    dw = np.zeros((len(taps), c))
    axes = "nijklm"[: 1 + nd] + "c"
    products = f"{axes},{axes}->c"  # sum over a block's positions of dy times one tap of x, per channel
    for bs, rs in blocks(n, geom, c * 8, limit=BLOCK_BYTES):
        rows = rs.stop - rs.start
        xb = _channels_last_block(xa, geom, bs, rs)
        dxb = np.zeros(xb.shape)
        vb, dvb = _window_view(xb, geom, rows), _window_view(dxb, geom, rows)
        dyb = np.ascontiguousarray(dya[bs, :, rs].transpose(0, *range(2, 2 + nd), 1))
        scratch = np.empty(dyb.shape)
        for i, tap in enumerate(taps):
            at = (slice(None),) * (1 + nd) + tap
            dw[i] += np.einsum(products, dyb, vb[at])
            np.multiply(dyb, _tile(tiles, i, geom, rs), out=scratch)
            target = dvb[at]
            np.add(target, scratch, out=target)
        _add_block(dx, dxb, geom, bs, rs)
    return dx, dw.T.reshape(wa.shape)
