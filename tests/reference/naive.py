"""A deliberately naive implementation of every op of :mod:`convequiv.reference`, the oracle for the fast one.

Written from the definitions in the design brief (§2), sharing no code with ``reference``: padding
is resolved here again, output lengths come from counting windows, and every op is a set of plain
Python loops over every output position and every kernel tap, computing each tap's input
coordinate ``i * s + k * d - lo`` per spatial dimension and checking by hand whether it lies on a
real input cell. No padded copies, no strided views, no im2col. The only vectorisation is in the
convolution, over the batch and channel axes *inside* one group (a small matrix product per
output position and tap), which carries no geometry; the group bookkeeping stays explicit.

Everything is float64 and slow on purpose; callers keep the shapes small.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

NEG_INF = float("-inf")


def quiet(fn):
    """inf - inf and NaN arithmetic are part of the semantics under test, not accidents."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------------------------


def per_dim(value, nd: int) -> tuple[int, ...]:
    """An int or a sequence of ``nd`` ints as a tuple."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * nd
    values = tuple(int(v) for v in value)
    assert len(values) == nd, (value, nd)
    return values


def pads_of(padding, sizes, kernel, stride, dilation) -> tuple[tuple[int, int], ...]:
    """Explicit ``(lo, hi)`` pairs from any padding form (brief §2, written out again)."""
    nd = len(sizes)
    kernel, stride, dilation = per_dim(kernel, nd), per_dim(stride, nd), per_dim(dilation, nd)
    if padding == "valid":
        return ((0, 0),) * nd
    if padding in ("same", "same_lower"):
        pairs = []
        for n, k, s, d in zip(sizes, kernel, stride, dilation):
            out = math.ceil(n / s)
            total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
            if padding == "same":
                lo = total // 2
                hi = total - lo
            else:
                hi = total // 2
                lo = total - hi
            pairs.append((lo, hi))
        return tuple(pairs)
    if isinstance(padding, (int, np.integer)):
        return ((int(padding), int(padding)),) * nd
    pairs = []
    for entry in padding:
        if isinstance(entry, (int, np.integer)):
            pairs.append((int(entry), int(entry)))
        else:
            lo, hi = entry
            pairs.append((int(lo), int(hi)))
    assert len(pairs) == nd
    return tuple(pairs)


def window_count(n: int, k: int, s: int, d: int, lo: int, hi: int, ceil_mode: bool) -> int:
    """How many windows one spatial dimension has, by counting them.

    Floor mode: the windows ``j = 0, 1, ...`` that fit entirely inside the padded extent
    ``[0, n + lo + hi)``. Ceil mode adds one partial window when the last full window leaves
    padded cells unread behind it, then drops the last window if it would start in the right
    padding (at or after padded cell ``n + lo``).
    """
    extent = n + lo + hi
    span = d * (k - 1) + 1
    count = 0
    while count * s + span <= extent:
        count += 1
    if ceil_mode and count:
        last_read = (count - 1) * s + span - 1
        if last_read < extent - 1:
            count += 1
        if (count - 1) * s >= n + lo:
            count -= 1
    return count


def geometry(sizes, kernel, stride, padding, dilation=1, ceil_mode=False):
    """``(pads, out_sizes)``; raises ``ValueError`` when a dimension has no window."""
    nd = len(sizes)
    kernel, stride, dilation = per_dim(kernel, nd), per_dim(stride, nd), per_dim(dilation, nd)
    pads = pads_of(padding, sizes, kernel, stride, dilation)
    outs = tuple(
        window_count(n, k, s, d, lo, hi, ceil_mode)
        for n, k, s, d, (lo, hi) in zip(sizes, kernel, stride, dilation, pads)
    )
    if min(outs) < 1:
        raise ValueError(f"no output window: sizes {sizes}, kernel {kernel}, pads {pads}, stride {stride}")
    return pads, outs


def tap_position(i, k, stride, dilation, pads) -> tuple[int, ...]:
    """Input coordinate of tap ``k`` of window ``i`` (may lie outside the input)."""
    return tuple(ii * s + kk * d - lo for ii, kk, s, d, (lo, _) in zip(i, k, stride, dilation, pads))


def on_input(p, sizes) -> bool:
    return all(0 <= pp < n for pp, n in zip(p, sizes))


def in_padded_extent(p, sizes, pads) -> bool:
    """Inside ``[-lo, n + hi)`` in every dimension (real cells and explicit padding, no overhang)."""
    return all(-lo <= pp < n + hi for pp, n, (lo, hi) in zip(p, sizes, pads))


def grid(shape):
    """Every multi-index of ``shape`` in row-major order."""
    return itertools.product(*(range(s) for s in shape))


# --------------------------------------------------------------------------------------------
# Convolution
# --------------------------------------------------------------------------------------------


def _conv_geometry(x, w, stride, padding, dilation, groups):
    nd = x.ndim - 2
    kernel = w.shape[2:]
    stride, dilation = per_dim(stride, nd), per_dim(dilation, nd)
    pads, outs = geometry(x.shape[2:], kernel, stride, padding, dilation)
    cg, og = x.shape[1] // groups, w.shape[0] // groups
    assert w.shape[1] == cg
    return kernel, stride, dilation, pads, outs, cg, og


@quiet
def conv(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """``y[n, o, i] = b[o] + sum_{c, k} w[o, c, k] * x[n, g * Cg + c, i * s + k * d - lo]``."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    kernel, stride, dilation, pads, outs, cg, og = _conv_geometry(x, w, stride, padding, dilation, groups)
    y = np.zeros((x.shape[0], w.shape[0], *outs))
    for g in range(groups):
        ins, outs_of_g = slice(g * cg, (g + 1) * cg), slice(g * og, (g + 1) * og)
        for i in grid(outs):
            for k in grid(kernel):
                p = tap_position(i, k, stride, dilation, pads)
                if on_input(p, x.shape[2:]):
                    # (N, Cg) @ (Cg, Og): the sum over the group's input channels.
                    y[(slice(None), outs_of_g, *i)] += x[(slice(None), ins, *p)] @ w[(outs_of_g, slice(None), *k)].T
    if b is not None:
        for o in range(w.shape[0]):
            y[:, o] += b[o]
    return y


@quiet
def conv_backward(x, w, dy, *, stride=1, padding=0, dilation=1, groups=1):
    """``(dx, dw, db)`` of ``sum(dy * conv(x, w, b))``, accumulated tap by tap from the definition."""
    x, w, dy = (np.asarray(a, np.float64) for a in (x, w, dy))
    kernel, stride, dilation, pads, outs, cg, og = _conv_geometry(x, w, stride, padding, dilation, groups)
    assert dy.shape == (x.shape[0], w.shape[0], *outs)
    dx, dw, db = np.zeros(x.shape), np.zeros(w.shape), np.zeros(w.shape[0])
    for i in grid(outs):
        for o in range(w.shape[0]):
            for n in range(x.shape[0]):
                db[o] += dy[(n, o, *i)]
    for g in range(groups):
        ins, outs_of_g = slice(g * cg, (g + 1) * cg), slice(g * og, (g + 1) * og)
        for i in grid(outs):
            upstream = dy[(slice(None), outs_of_g, *i)]  # (N, Og)
            for k in grid(kernel):
                p = tap_position(i, k, stride, dilation, pads)
                if not on_input(p, x.shape[2:]):
                    continue  # a zero-padding cell: no gradient, no contribution to dw
                dx[(slice(None), ins, *p)] += upstream @ w[(outs_of_g, slice(None), *k)]
                dw[(outs_of_g, slice(None), *k)] += upstream.T @ x[(slice(None), ins, *p)]
    return dx, dw, db


# --------------------------------------------------------------------------------------------
# Max and average pooling
# --------------------------------------------------------------------------------------------


def _pool_geometry(x, kernel, stride, padding, dilation, ceil_mode):
    nd = x.ndim - 2
    kernel = per_dim(kernel, nd)
    stride = kernel if stride is None else per_dim(stride, nd)
    dilation = per_dim(dilation, nd)
    pads, outs = geometry(x.shape[2:], kernel, stride, padding, dilation, ceil_mode)
    return kernel, stride, dilation, pads, outs


def _windows(x, kernel, stride, dilation, pads, outs):
    """For every output position: the list of its taps' input coordinates, ``None`` for taps that
    fall outside the input (explicit padding or ceil-mode overhang), in row-major tap order."""
    result = []
    for i in grid(outs):
        taps = []
        for k in grid(kernel):
            p = tap_position(i, k, stride, dilation, pads)
            taps.append(p if on_input(p, x.shape[2:]) else None)
        result.append((i, taps))
    return result


def window_max(values: list[float], nan: str) -> float:
    """Max of a window's tap values (``-inf`` for padding taps) under a NaN policy."""
    if nan == "propagate":
        if any(math.isnan(v) for v in values):
            return math.nan
        return max(values)
    real = [v for v in values if not math.isnan(v)]
    return max(real) if real else math.nan


def maximal_taps(values: list[float], is_input: list[bool], peak: float, nan: str) -> list[int]:
    """Indices of the input taps that hold the window's maximum (NaN counts when it propagates)."""
    chosen = []
    for t, (v, real) in enumerate(zip(values, is_input)):
        if not real:
            continue
        if v == peak or (nan == "propagate" and math.isnan(peak) and math.isnan(v)):
            chosen.append(t)
    return chosen


@quiet
def max_pool(x, kernel, *, stride=None, padding=0, dilation=1, ceil_mode=False, nan="propagate"):
    """Max over each window; taps outside the input read ``-inf``."""
    x = np.asarray(x, np.float64)
    kernel, stride, dilation, pads, outs = _pool_geometry(x, kernel, stride, padding, dilation, ceil_mode)
    y = np.empty(x.shape[:2] + outs)
    for i, taps in _windows(x, kernel, stride, dilation, pads, outs):
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                values = [NEG_INF if p is None else float(x[(n, c, *p)]) for p in taps]
                y[(n, c, *i)] = window_max(values, nan)
    return y


@quiet
def max_pool_backward(
    x, dy, kernel, *, stride=None, padding=0, dilation=1, ceil_mode=False, ties="first", nan="propagate"
):
    """Route each ``dy`` to the window's maximal input taps: all to the first, or split evenly."""
    x, dy = np.asarray(x, np.float64), np.asarray(dy, np.float64)
    kernel, stride, dilation, pads, outs = _pool_geometry(x, kernel, stride, padding, dilation, ceil_mode)
    assert dy.shape == x.shape[:2] + outs
    dx = np.zeros(x.shape)
    for i, taps in _windows(x, kernel, stride, dilation, pads, outs):
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                values = [NEG_INF if p is None else float(x[(n, c, *p)]) for p in taps]
                chosen = maximal_taps(values, [p is not None for p in taps], window_max(values, nan), nan)
                if not chosen:
                    continue
                g = dy[(n, c, *i)]
                if ties == "first":
                    dx[(n, c, *taps[chosen[0]])] += g
                else:
                    for t in chosen:
                        dx[(n, c, *taps[t])] += g / len(chosen)
    return dx


def _avg_divisors(x, kernel, stride, dilation, pads, outs, count_include_pad):
    """Per output position: the number of taps that count (padded extent or input only); with
    dilation, the taps the window reads, never the cells between them."""
    divisors = {}
    sizes = x.shape[2:]
    for i in grid(outs):
        count = 0
        for k in grid(kernel):
            p = tap_position(i, k, stride, dilation, pads)
            inside = in_padded_extent(p, sizes, pads) if count_include_pad else on_input(p, sizes)
            count += inside
        if count == 0:
            raise ValueError(f"window {i} has no counted cell")
        divisors[i] = count
    return divisors


@quiet
def avg_pool(x, kernel, *, stride=None, padding=0, dilation=1, ceil_mode=False, count_include_pad=True):
    """Sum of the window's input taps over the divisor of ``count_include_pad``."""
    x = np.asarray(x, np.float64)
    kernel, stride, dilation, pads, outs = _pool_geometry(x, kernel, stride, padding, dilation, ceil_mode)
    divisors = _avg_divisors(x, kernel, stride, dilation, pads, outs, count_include_pad)
    y = np.empty(x.shape[:2] + outs)
    for i, taps in _windows(x, kernel, stride, dilation, pads, outs):
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                total = 0.0
                for p in taps:
                    if p is not None:
                        total += x[(n, c, *p)]
                y[(n, c, *i)] = total / divisors[i]
    return y


@quiet
def avg_pool_backward(x, dy, kernel, *, stride=None, padding=0, dilation=1, ceil_mode=False, count_include_pad=True):
    """Every input tap of a window receives ``dy / divisor``."""
    x, dy = np.asarray(x, np.float64), np.asarray(dy, np.float64)
    kernel, stride, dilation, pads, outs = _pool_geometry(x, kernel, stride, padding, dilation, ceil_mode)
    assert dy.shape == x.shape[:2] + outs
    divisors = _avg_divisors(x, kernel, stride, dilation, pads, outs, count_include_pad)
    dx = np.zeros(x.shape)
    for i, taps in _windows(x, kernel, stride, dilation, pads, outs):
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                for p in taps:
                    if p is not None:
                        dx[(n, c, *p)] += dy[(n, c, *i)] / divisors[i]
    return dx


# --------------------------------------------------------------------------------------------
# Depth (channel) pooling and global pooling
# --------------------------------------------------------------------------------------------


def _depth_windows(c: int, pool_size: int, stride):
    s = pool_size if stride is None else stride
    windows = []
    start = 0
    while start + pool_size <= c:
        windows.append(list(range(start, start + pool_size)))
        start += s
    assert windows and windows[-1][-1] == c - 1, "channels not tiled"
    return windows


@quiet
def depth_pool(x, pool_size, *, mode="max", stride=None):
    """``y[n, j, i] = reduce_t x[n, j * stride + t, i]``; max propagates NaN."""
    x = np.asarray(x, np.float64)
    windows = _depth_windows(x.shape[1], pool_size, stride)
    y = np.empty((x.shape[0], len(windows), *x.shape[2:]))
    for n in range(x.shape[0]):
        for i in grid(x.shape[2:]):
            for j, channels in enumerate(windows):
                values = [float(x[(n, c, *i)]) for c in channels]
                if mode == "max":
                    y[(n, j, *i)] = window_max(values, "propagate")
                else:
                    total = 0.0
                    for v in values:
                        total += v
                    y[(n, j, *i)] = total / pool_size
    return y


@quiet
def depth_pool_backward(x, dy, pool_size, *, mode="max", stride=None, ties="first"):
    x, dy = np.asarray(x, np.float64), np.asarray(dy, np.float64)
    windows = _depth_windows(x.shape[1], pool_size, stride)
    assert dy.shape == (x.shape[0], len(windows), *x.shape[2:])
    dx = np.zeros(x.shape)
    for n in range(x.shape[0]):
        for i in grid(x.shape[2:]):
            for j, channels in enumerate(windows):
                g = dy[(n, j, *i)]
                if mode == "avg":
                    for c in channels:
                        dx[(n, c, *i)] += g / pool_size
                    continue
                values = [float(x[(n, c, *i)]) for c in channels]
                chosen = maximal_taps(values, [True] * len(values), window_max(values, "propagate"), "propagate")
                if not chosen:
                    continue
                if ties == "first":
                    dx[(n, channels[chosen[0]], *i)] += g
                else:
                    for t in chosen:
                        dx[(n, channels[t], *i)] += g / len(chosen)
    return dx


def _global_out(x, keepdims):
    return x.shape[:2] + ((1,) * (x.ndim - 2) if keepdims else ())


@quiet
def global_avg_pool(x, *, keepdims=False):
    x = np.asarray(x, np.float64)
    y = np.empty(x.shape[:2])
    area = math.prod(x.shape[2:])
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            total = 0.0
            for i in grid(x.shape[2:]):
                total += x[(n, c, *i)]
            y[n, c] = total / area
    return y.reshape(_global_out(x, keepdims))


@quiet
def global_avg_pool_backward(x, dy, *, keepdims=False):
    x, dy = np.asarray(x, np.float64), np.asarray(dy, np.float64)
    assert dy.shape == _global_out(x, keepdims)
    dy = dy.reshape(x.shape[:2])
    area = math.prod(x.shape[2:])
    dx = np.zeros(x.shape)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in grid(x.shape[2:]):
                dx[(n, c, *i)] = dy[n, c] / area
    return dx


@quiet
def global_max_pool(x, *, keepdims=False, nan="propagate"):
    x = np.asarray(x, np.float64)
    y = np.empty(x.shape[:2])
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            y[n, c] = window_max([float(x[(n, c, *i)]) for i in grid(x.shape[2:])], nan)
    return y.reshape(_global_out(x, keepdims))


@quiet
def global_max_pool_backward(x, dy, *, keepdims=False, ties="first", nan="propagate"):
    x, dy = np.asarray(x, np.float64), np.asarray(dy, np.float64)
    assert dy.shape == _global_out(x, keepdims)
    dy = dy.reshape(x.shape[:2])
    dx = np.zeros(x.shape)
    cells = list(grid(x.shape[2:]))
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            values = [float(x[(n, c, *i)]) for i in cells]
            chosen = maximal_taps(values, [True] * len(values), window_max(values, nan), nan)
            if not chosen:
                continue
            if ties == "first":
                dx[(n, c, *cells[chosen[0]])] += dy[n, c]
            else:
                for t in chosen:
                    dx[(n, c, *cells[t])] += dy[n, c] / len(chosen)
    return dx


# --------------------------------------------------------------------------------------------
# Transposed convolution
# --------------------------------------------------------------------------------------------


def transposed_geometry(sizes, kernel, stride, padding, output_padding=0, dilation=1):
    """``(pads, out_sizes)`` of a transposed convolution of inputs ``sizes``, from the definition:
    explicit padding and ``"valid"`` give ``out = (n - 1) * s - lo - hi + d * (k - 1) + 1 +
    output_padding``; ``"same"`` / ``"same_lower"`` give ``out = n * s`` with the padding the
    forward ``"same"`` form gives an input of length ``n * s``."""
    nd = len(sizes)
    kernel, stride, dilation = per_dim(kernel, nd), per_dim(stride, nd), per_dim(dilation, nd)
    extra = per_dim(output_padding, nd)
    if isinstance(padding, str) and padding != "valid":
        outs = tuple(n * s for n, s in zip(sizes, stride))
        return pads_of(padding, outs, kernel, stride, dilation), outs
    pads = pads_of(padding, sizes, kernel, stride, dilation)
    outs = tuple(
        (n - 1) * s - lo - hi + d * (k - 1) + 1 + p
        for n, k, s, d, (lo, hi), p in zip(sizes, kernel, stride, dilation, pads, extra)
    )
    if min(outs) < 1:
        raise ValueError(f"no output cell: sizes {sizes}, kernel {kernel}, pads {pads}, stride {stride}")
    return pads, outs


def _transposed_geometry(x, w, stride, padding, output_padding, dilation, groups):
    nd = x.ndim - 2
    kernel = w.shape[2:]
    stride, dilation = per_dim(stride, nd), per_dim(dilation, nd)
    pads, outs = transposed_geometry(x.shape[2:], kernel, stride, padding, output_padding, dilation)
    assert w.shape[0] == x.shape[1]
    return kernel, stride, dilation, pads, outs, x.shape[1] // groups, w.shape[1]


@quiet
def conv_transpose(x, w, b=None, *, stride=1, padding=0, output_padding=0, dilation=1, groups=1) -> np.ndarray:
    """Every input element, times the kernel, scattered into the output:
    ``y[n, g * Og + o, i * s + k * d - lo] += x[n, g * Cg + c, i] * w[g * Cg + c, o, k]`` for the
    targets that lie on the output (``0 <= j < out``); then ``+ b``."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    kernel, stride, dilation, pads, outs, cg, og = _transposed_geometry(
        x, w, stride, padding, output_padding, dilation, groups
    )
    y = np.zeros((x.shape[0], groups * og, *outs))
    for g in range(groups):
        ins, outs_of_g = slice(g * cg, (g + 1) * cg), slice(g * og, (g + 1) * og)
        for i in grid(x.shape[2:]):
            for k in grid(kernel):
                j = tap_position(i, k, stride, dilation, pads)
                if on_input(j, outs):
                    # (N, Cg) @ (Cg, Og): the group's input channels times one kernel tap.
                    y[(slice(None), outs_of_g, *j)] += x[(slice(None), ins, *i)] @ w[(ins, slice(None), *k)]
    if b is not None:
        for o in range(groups * og):
            y[:, o] += b[o]
    return y


@quiet
def conv_transpose_backward(x, w, dy, *, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """``(dx, dw, db)`` of ``sum(dy * conv_transpose(x, w, b))``, accumulated from the definition:
    every (input element, tap) pair whose target ``j`` is an output cell passes ``dy[j]`` back."""
    x, w, dy = (np.asarray(a, np.float64) for a in (x, w, dy))
    kernel, stride, dilation, pads, outs, cg, og = _transposed_geometry(
        x, w, stride, padding, output_padding, dilation, groups
    )
    assert dy.shape == (x.shape[0], groups * og, *outs)
    dx, dw, db = np.zeros(x.shape), np.zeros(w.shape), np.zeros(groups * og)
    for j in grid(outs):
        for o in range(groups * og):
            for n in range(x.shape[0]):
                db[o] += dy[(n, o, *j)]
    for g in range(groups):
        ins, outs_of_g = slice(g * cg, (g + 1) * cg), slice(g * og, (g + 1) * og)
        for i in grid(x.shape[2:]):
            for k in grid(kernel):
                j = tap_position(i, k, stride, dilation, pads)
                if not on_input(j, outs):
                    continue  # the target was cropped away: no output, no gradient
                upstream = dy[(slice(None), outs_of_g, *j)]  # (N, Og)
                dx[(slice(None), ins, *i)] += upstream @ w[(ins, slice(None), *k)].T
                dw[(ins, slice(None), *k)] += x[(slice(None), ins, *i)].T @ upstream
    return dx, dw, db
