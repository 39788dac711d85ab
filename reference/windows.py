"""The core every op is built from: a pad, a strided window view, and bounded chunks.

``window_view(xpad, geom)`` exposes a padded array ``(..., *padded)`` as
``(..., *out, *kernel)`` without copying: element ``[..., i, k]`` is
``xpad[..., i * s + k * d]`` (per spatial dimension). Indexing the trailing kernel axes with one
tap gives a strided ``(..., *out)`` view, so ops loop over kernel taps, never over positions.

Anything that must materialise windows (the im2col matrix of a convolution) does it in blocks of
batch items and output rows whose size stays under :data:`CHUNK_BYTES`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from types import EllipsisType

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .geometry import WindowGeometry

#: Upper bound, in bytes, on any temporary window copy (the im2col block of a convolution).
CHUNK_BYTES = 32 * 2**20


def pad(x: np.ndarray, geom: WindowGeometry, value: float) -> np.ndarray:
    """Pad the trailing spatial axes by ``(lo, hi + overhang)`` with the constant ``value``."""
    lead = [(0, 0)] * (x.ndim - geom.nd)
    widths = lead + [(lo, hi + oh) for (lo, hi), oh in zip(geom.padding, geom.overhang)]
    if not any(lo or hi for lo, hi in widths):
        return x
    return np.pad(x, widths, mode="constant", constant_values=value)


def window_view(xpad: np.ndarray, geom: WindowGeometry, *, writeable: bool = False) -> np.ndarray:
    """``(..., *out, *kernel)`` strided view of ``xpad`` (see module docstring).

    A writeable view is only safe to update one tap at a time: different taps alias the same
    memory when windows overlap.
    """
    nd = geom.nd
    spatial_strides = xpad.strides[-nd:]
    shape = xpad.shape[:-nd] + geom.out + geom.kernel
    strides = (
        xpad.strides[:-nd]
        + tuple(st * s for st, s in zip(spatial_strides, geom.stride))
        + tuple(st * d for st, d in zip(spatial_strides, geom.dilation))
    )
    return as_strided(xpad, shape, strides, writeable=writeable)


def taps(geom: WindowGeometry) -> Iterator[tuple[int, ...]]:
    """Kernel tap indices in row-major window order (the order that defines "first maximum")."""
    return iter(np.ndindex(*geom.kernel))


def tap_index(tap: tuple[int, ...]) -> tuple[EllipsisType | int, ...]:
    """The index ``(..., *tap)``: applied to a :func:`window_view` it gives that tap of every
    window, a strided ``(..., *out)`` view."""
    return (Ellipsis, *tap)


def tap_count_per_dim(geom: WindowGeometry, *, lo_bound: str) -> list[np.ndarray]:
    """Per spatial dimension, how many taps of each output window lie inside a region.

    ``lo_bound="input"`` counts taps on real input cells ``[0, n)``; ``"padding"`` counts taps
    inside the padded extent ``[-lo, n + hi)`` (never the ceil-mode overhang). A window's count is
    the product of its per-dimension counts, because windows are boxes.
    """
    counts = []
    for n, k, s, d, (lo, hi), out in zip(geom.sizes, geom.kernel, geom.stride, geom.dilation, geom.padding, geom.out):
        starts = np.arange(out)[:, None] * s - lo + np.arange(k)[None, :] * d
        low, high = (0, n) if lo_bound == "input" else (-lo, n + hi)
        counts.append(((starts >= low) & (starts < high)).sum(axis=1))
    return counts


def outer_product(factors: list[np.ndarray]) -> np.ndarray:
    """``out[i0, i1, ...] = factors[0][i0] * factors[1][i1] * ...``."""
    result = np.ones((), dtype=np.float64)
    for f in factors:
        result = np.multiply.outer(result, f.astype(np.float64))
    return result


def blocks(batch: int, geom: WindowGeometry, bytes_per_window: int) -> Iterator[tuple[slice, slice]]:
    """``(batch slice, first-output-axis slice)`` blocks whose window copies fit :data:`CHUNK_BYTES`.

    ``bytes_per_window`` is the size of one output position's materialised window (all channels).
    """
    rows = geom.out[0]
    row_bytes = bytes_per_window * math.prod(geom.out[1:])
    item_bytes = row_bytes * rows
    if item_bytes <= CHUNK_BYTES:
        per_block = max(1, CHUNK_BYTES // max(item_bytes, 1))
        for b0 in range(0, batch, per_block):
            yield slice(b0, min(batch, b0 + per_block)), slice(0, rows)
        return
    rows_per_block = max(1, CHUNK_BYTES // max(row_bytes, 1))
    for b0 in range(batch):
        for r0 in range(0, rows, rows_per_block):
            yield slice(b0, b0 + 1), slice(r0, min(rows, r0 + rows_per_block))
