"""The core every op is built from: a pad, a strided window view, and bounded chunks.

``window_view(xpad, geom)`` exposes a padded array ``(..., *padded)`` as
``(..., *out, *kernel)`` without copying: element ``[..., i, k]`` is
``xpad[..., i * s + k * d]`` (per spatial dimension). Indexing the trailing kernel axes with one
tap gives a strided ``(..., *out)`` view, so ops loop over kernel taps, never over positions.

Anything that must materialise windows (the im2col matrix of a convolution) does it in blocks of
batch items and output rows whose size stays under :data:`CHUNK_BYTES`.

Small calls skip the padded copy and the view: a :class:`CallPlan` (one per input shape and
geometry, cached by :func:`call_plan`) holds the flat index of the input cell every tap of every
window reads, so one ``take`` gathers all windows (a padding tap reads one extra cell holding the
padding value) and one ``bincount`` scatters values back onto the cells they came from.

The suite calls these on tiny arrays many times per example, so the fixed cost of a call matters as
much as its throughput: :func:`pad` writes the interior and the border slabs of one new array (no
``numpy.pad``), :func:`window_view` builds the view with the ``numpy.ndarray`` constructor on the
padded buffer (``as_strided`` only for a non-contiguous input), and the tap list of a geometry is
built once.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from types import EllipsisType
from typing import Any, TypeVar, cast

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .geometry import WindowGeometry, through_cache, window_geometry

T = TypeVar("T")

#: A NumPy index built from tuples of slices and ints.
Index = tuple[Any, ...]

#: Upper bound, in bytes, on any temporary window copy (the im2col block of a convolution).
CHUNK_BYTES = 32 * 2**20


def _pad_plan(geom: WindowGeometry) -> tuple[tuple[int, ...], tuple[slice, ...], list[tuple[slice, ...]]] | None:
    """Padded spatial shape, the interior's index, and the index of every border slab (``None``
    when nothing is padded); computed once per geometry."""
    return geom.remember("pad", lambda: _make_pad_plan(geom))


def _make_pad_plan(geom: WindowGeometry) -> tuple[tuple[int, ...], tuple[slice, ...], list[tuple[slice, ...]]] | None:
    widths = [(lo, hi + oh) for (lo, hi), oh in zip(geom.padding, geom.overhang)]
    if not any(lo or hi for lo, hi in widths):
        return None
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(geom.sizes, widths))
    interior = tuple(slice(lo, lo + n) for n, (lo, _) in zip(geom.sizes, widths))
    slabs = []
    for dim, (lo, hi) in enumerate(widths):
        # Slabs of earlier dimensions already cover their full extent; this one spans the interior
        # of the earlier dimensions only (no cell is written twice) and everything after it.
        before, after = interior[:dim], (slice(None),) * (len(widths) - dim - 1)
        if lo:
            slabs.append((*before, slice(0, lo), *after))
        if hi:
            slabs.append((*before, slice(padded[dim] - hi, padded[dim]), *after))
    return padded, interior, slabs


#: Below this many elements :func:`pad` fills the whole array and then writes the interior (two
#: calls); above it, only the border slabs are filled, so no cell is written twice.
SMALL_PAD = 1 << 16


def pad(x: np.ndarray, geom: WindowGeometry, value: float) -> np.ndarray:
    """Pad the trailing spatial axes by ``(lo, hi + overhang)`` with the constant ``value``."""
    plan = _pad_plan(geom)
    if plan is None:
        return x
    padded, interior, slabs = plan
    shape = x.shape[: x.ndim - geom.nd] + padded
    inside: Index = (Ellipsis, *interior)
    if x.size < SMALL_PAD:
        out = np.zeros(shape, dtype=x.dtype) if value == 0 else np.full(shape, value, dtype=x.dtype)
        out[inside] = x
        return out
    out = np.empty(shape, dtype=x.dtype)
    out[inside] = x
    for slab in slabs:
        border: Index = (Ellipsis, *slab)
        out[border] = value
    return out


def _view_layout(
    shape: tuple[int, ...], strides: tuple[int, ...], geom: WindowGeometry
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return geom.remember(("view", shape, strides), lambda: _make_view_layout(shape, strides, geom))


def _make_view_layout(
    shape: tuple[int, ...], strides: tuple[int, ...], geom: WindowGeometry
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    nd = geom.nd
    spatial_strides = strides[-nd:]
    view_shape = shape[:-nd] + geom.out + geom.kernel
    view_strides = (
        strides[:-nd]
        + tuple(st * s for st, s in zip(spatial_strides, geom.stride))
        + tuple(st * d for st, d in zip(spatial_strides, geom.dilation))
    )
    return view_shape, view_strides


def window_view(xpad: np.ndarray, geom: WindowGeometry, *, writeable: bool = False) -> np.ndarray:
    """``(..., *out, *kernel)`` strided view of ``xpad`` (see module docstring).

    A writeable view is only safe to update one tap at a time: different taps alias the same
    memory when windows overlap.
    """
    shape, strides = _view_layout(xpad.shape, xpad.strides, geom)
    if not xpad.flags.c_contiguous or (writeable and not xpad.flags.writeable):
        return as_strided(xpad, shape, strides, writeable=writeable)
    view = np.ndarray(shape, xpad.dtype, xpad, 0, strides)
    if not writeable:
        view.setflags(write=False)
    return view


@functools.lru_cache(maxsize=1024)
def tap_list(kernel: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Kernel tap indices in row-major window order (the order that defines "first maximum")."""
    return tuple(np.ndindex(*kernel))


def taps(geom: WindowGeometry) -> Iterator[tuple[int, ...]]:
    """Kernel tap indices in row-major window order (the order that defines "first maximum")."""
    return iter(tap_list(geom.kernel))


def tap_index(tap: tuple[int, ...]) -> tuple[EllipsisType | int, ...]:
    """The index ``(..., *tap)``: applied to a :func:`window_view` it gives that tap of every
    window, a strided ``(..., *out)`` view."""
    return (Ellipsis, *tap)


#: Up to this many values :func:`col2im` adds them with one ``numpy.bincount`` (a fixed cost of a
#: few calls); above it, one strided add per tap (a fixed cost per tap, but vectorised).
SMALL_SCATTER = 1 << 14


def padded_shape(geom: WindowGeometry) -> tuple[int, ...]:
    """Spatial shape of a padded array: ``n + lo + hi + overhang`` per dimension."""
    plan = _pad_plan(geom)
    return geom.sizes if plan is None else plan[0]


def tap_offsets(geom: WindowGeometry) -> np.ndarray:
    """Flat offset of ``xpad[i * s + k * d]`` within one padded plane, as a ``(T * P,)`` array in
    ``(*kernel, *out)`` order (computed once per geometry)."""
    return geom.remember("offsets", lambda: _make_tap_offsets(geom))


def _make_tap_offsets(geom: WindowGeometry) -> np.ndarray:
    padded = padded_shape(geom)
    plane_strides = [math.prod(padded[dim + 1 :]) for dim in range(geom.nd)]
    nd = geom.nd
    offsets = np.zeros(geom.kernel + geom.out, dtype=np.int64)
    for dim, (k, s, d, out, step) in enumerate(zip(geom.kernel, geom.stride, geom.dilation, geom.out, plane_strides)):
        along = [1] * (2 * nd)
        along[dim], along[nd + dim] = k, out
        offsets += (np.arange(k) * (d * step)).reshape(along[:nd] + [1] * nd)
        offsets += (np.arange(out) * (s * step)).reshape([1] * nd + along[nd:])
    flat = offsets.reshape(-1)
    flat.setflags(write=False)
    return flat


def input_cells(geom: WindowGeometry) -> np.ndarray:
    """``(T, P)``: the flat index, within one unpadded plane ``(*sizes)``, of the input cell that tap
    ``k`` of window ``p`` reads, or ``-1`` where the tap reads padding or the ceil-mode overhang
    (computed once per geometry)."""
    return geom.remember("input cells", lambda: _make_input_cells(geom))


def _make_input_cells(geom: WindowGeometry) -> np.ndarray:
    offsets = tap_offsets(geom).reshape(math.prod(geom.kernel), math.prod(geom.out))
    inside = np.ones(offsets.shape, dtype=bool)
    coords = []
    for c, n, (lo, _) in zip(np.unravel_index(offsets, padded_shape(geom)), geom.sizes, geom.padding):
        inside &= (c >= lo) & (c < lo + n)
        coords.append(np.clip(c - lo, 0, n - 1))
    cells = np.where(inside, np.ravel_multi_index(tuple(coords), geom.sizes), -1)
    cells.setflags(write=False)
    return cells


#: Axis orders of :func:`gather_index`: planes ``c``, window taps ``k`` (row-major) and windows
#: ``p`` (output positions, row-major).
GATHER_ORDERS = {"plane tap window": (0, 1, 2), "tap plane window": (1, 0, 2), "plane window tap": (0, 2, 1)}


def gather_index(geom: WindowGeometry, planes: int, order: str) -> tuple[np.ndarray, bool]:
    """The flat index, into ``planes`` unpadded planes followed by one cell that holds the padding
    value (a ``(planes * prod(sizes) + 1,)`` array), of the cell that tap ``k`` of window ``p`` of
    plane ``c`` reads: ``c * prod(sizes) + input_cells[k, p]``, or that last cell where the tap
    reads padding. A contiguous array whose axes follow ``order`` (a key of
    :data:`GATHER_ORDERS`), and whether any tap reads padding (for small calls, through the
    :class:`CallPlan` that keeps it)."""
    cells, plane = input_cells(geom), math.prod(geom.sizes)
    index = np.where(cells < 0, planes * plane, cells + (np.arange(planes) * plane)[:, None, None])
    arranged = np.ascontiguousarray(index.transpose(GATHER_ORDERS[order]))
    arranged.setflags(write=False)
    return arranged, bool((cells < 0).any())


class CallPlan:
    """A geometry applied to inputs of one shape ``(*lead, *sizes)``: the output shape, the number
    of window taps, and the gather indices of the small paths, derived once (:func:`call_plan`
    caches one plan per argument set, so a call of a known shape looks nothing else up)."""

    def __init__(self, geom: WindowGeometry, shape: tuple[int, ...]) -> None:
        self.geom = geom
        self.shape = shape
        self.lead = shape[: len(shape) - geom.nd]
        self.planes = math.prod(self.lead)
        self.out_shape = self.lead + geom.out
        #: Window taps of the whole call: planes times output positions times kernel taps.
        self.window_taps = self.planes * math.prod(geom.out) * math.prod(geom.kernel)
        self._indices: dict[str, tuple[np.ndarray, bool]] = {}
        #: What an op derives from the geometry alone, kept here too so that a call of a known
        #: shape finds it in one lookup (:meth:`remember`).
        self.memo: dict[Any, Any] = {}

    def remember(self, key: object, make: Callable[[], T]) -> T:
        """``self.geom.remember(key, make)``, kept in this plan as well."""
        try:
            return cast(T, self.memo[key])
        except KeyError:
            value = self.memo[key] = self.geom.remember(key, make)
            return value

    def gather_index(self, order: str) -> tuple[np.ndarray, bool]:
        """:func:`gather_index` of this call's planes (computed once per plan and order)."""
        try:
            return self._indices[order]
        except KeyError:
            found = self._indices[order] = gather_index(self.geom, self.planes, order)
            return found

    def gather(self, x: np.ndarray, value: float, order: str) -> np.ndarray:
        """Every tap of every window of ``x`` (this plan's shape) in the layout ``order`` of
        :func:`gather_index`, a tap on padding reading ``value``: one ``take``, with no padded
        copy of ``x``."""
        index, reads_padding = self.gather_index(order)
        flat = x.reshape(-1)
        if reads_padding:
            source = np.empty(flat.size + 1, dtype=flat.dtype)
            source[:-1] = flat
            source[-1] = value
            flat = source
        return flat.take(index)

    def scatter(self, values: np.ndarray) -> np.ndarray:
        """The array of this plan's shape whose every cell is the sum of ``values[..., k, p]``
        over the taps ``k`` of the windows ``p`` that read it (taps on padding are dropped),
        ``values`` being ``(*lead, *kernel, *out)``: one ``numpy.bincount``, which adds a cell's
        values in tap order from zero, as :func:`col2im` does (its result, cropped, is identical)."""
        index, _ = self.gather_index("plane tap window")
        size = self.planes * math.prod(self.geom.sizes)
        summed = np.bincount(index.reshape(-1), weights=values.reshape(-1), minlength=size + 1)
        return summed[:-1].reshape(self.shape)


def call_plan(
    op: str,
    shape: tuple[int, ...],
    kernel: object,
    stride: object,
    padding: object,
    dilation: object,
    ceil_mode: bool,
    *,
    kernel_is_shape: bool = False,
) -> CallPlan:
    """The :class:`CallPlan` of an array's channels-first ``shape`` ``(N, C, *sizes)`` under the
    geometry of :func:`convequiv.reference.geometry.window_geometry` (which validates every
    argument), cached for plain arguments as the geometry is. The common spelling (an int kernel,
    or one read off an array's shape: ``kernel_is_shape``; int stride and dilation; int or string
    padding) goes to the cache without the general check."""
    kind = type(padding)
    if (
        (kernel_is_shape or type(kernel) is int)
        and type(stride) is int
        and type(dilation) is int
        and (kind is int or kind is str)
        and type(ceil_mode) is bool
    ):
        return _cached_plan(op, shape, kernel, stride, padding, dilation, ceil_mode)
    args = (op, shape, kernel, stride, padding, dilation)
    if type(ceil_mode) is bool:
        return through_cache(_cached_plan, _resolve_plan, args, ceil_mode)
    return _resolve_plan(op, tuple(shape), kernel, stride, padding, dilation, ceil_mode)


#: How many plans the caches keep (least recently used first out): each holds at most three gather
#: indices of at most ``SMALL_SCATTER`` int64 entries (128 KiB), only for small calls.
PLAN_CACHE_SIZE = 1024


@functools.lru_cache(maxsize=PLAN_CACHE_SIZE)
def _cached_plan(
    op: str, shape: tuple[int, ...], kernel: object, stride: object, padding: object, dilation: object, ceil_mode: bool
) -> CallPlan:
    return _resolve_plan(op, shape, kernel, stride, padding, dilation, ceil_mode)


def _resolve_plan(
    op: str, shape: tuple[int, ...], kernel: object, stride: object, padding: object, dilation: object, ceil_mode: bool
) -> CallPlan:
    geom = window_geometry(
        op, shape[2:], kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode
    )
    return plan_of(geom, shape)


@functools.lru_cache(maxsize=PLAN_CACHE_SIZE)
def plan_of(geom: WindowGeometry, shape: tuple[int, ...]) -> CallPlan:
    """The one :class:`CallPlan` of a resolved geometry and an input shape (cached: callers that
    hold a geometry already, such as a test case, share the plan of the calls that resolve it)."""
    return CallPlan(geom, shape)


def col2im(values: np.ndarray, geom: WindowGeometry) -> np.ndarray:
    """The padded array ``z`` with ``z[..., i * s + k * d] = sum of values[..., k, i]`` over every
    tap ``k`` of every window ``i`` that reads the cell; ``values`` is ``(..., *kernel, *out)``.

    The sums are taken in tap order starting from zero, in both ways of computing them: small
    inputs (at most :data:`SMALL_SCATTER` values) go through one ``numpy.bincount`` over the flat
    cell index of every value (which adds in index order, and a cell's values come in tap order),
    larger ones through one strided add per tap. The results are identical.
    """
    nd = geom.nd
    lead = values.shape[: values.ndim - 2 * nd]
    padded = padded_shape(geom)
    if values.size <= SMALL_SCATTER:
        planes, plane = math.prod(lead), math.prod(padded)
        index = (np.arange(planes) * plane)[:, None] + tap_offsets(geom)
        summed = np.bincount(index.reshape(-1), weights=values.reshape(-1), minlength=planes * plane)
        return summed.reshape(lead + padded)
    z = np.zeros(lead + padded, dtype=np.float64)
    view = window_view(z, geom, writeable=True)
    rest = (slice(None),) * nd
    for tap in tap_list(geom.kernel):
        at: Index = (Ellipsis, *tap)
        source: Index = (Ellipsis, *tap, *rest)
        target = view[at]
        np.add(target, values[source], out=target)
    return z


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


def blocks(
    batch: int, geom: WindowGeometry, bytes_per_window: int, *, limit: int | None = None
) -> Iterator[tuple[slice, slice]]:
    """``(batch slice, first-output-axis slice)`` blocks whose window copies fit ``limit`` bytes
    (:data:`CHUNK_BYTES` by default, read at call time).

    ``bytes_per_window`` is the size of one output position's materialised window (all channels).
    """
    limit = CHUNK_BYTES if limit is None else limit
    rows = geom.out[0]
    row_bytes = bytes_per_window * math.prod(geom.out[1:])
    item_bytes = row_bytes * rows
    if item_bytes <= limit:
        per_block = max(1, limit // max(item_bytes, 1))
        for b0 in range(0, batch, per_block):
            yield slice(b0, min(batch, b0 + per_block)), slice(0, rows)
        return
    rows_per_block = max(1, limit // max(row_bytes, 1))
    for b0 in range(batch):
        for r0 in range(0, rows, rows_per_block):
            yield slice(b0, b0 + 1), slice(r0, min(rows, r0 + rows_per_block))
