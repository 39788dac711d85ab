"""Grouped, strided, dilated N-d transposed convolution (the adjoint of ``conv``) and its backward pass.

Layout: ``x`` is ``(N, C, *spatial)``, ``w`` is ``(C, O // groups, *kernel)`` (PyTorch's layout: the
weight of the convolution from ``O`` to ``C`` channels whose adjoint this is), ``b`` is ``(O,)``.
With ``G = groups``, ``Cg = C // G``, ``Og = O // G`` and ``g = c // Cg`` the group of input
channel ``c``, every input element scatters the kernel into the output (no kernel flip)::

    y[n, g * Og + o, j] = b[g * Og + o] + sum_{c in group g, i, k : i * s + k * d - lo = j} w[c, o, k] * x[n, c, i]

where ``i``, ``k`` and ``j`` are multi-indices over the spatial axes and ``i * s + k * d - lo = j``
holds in every spatial dimension. Only targets ``0 <= j < out`` exist: a tap landing in the padding ``lo`` before
the output or ``hi`` after it is cropped away. Output length per dimension, with input length
``n`` and effective kernel ``d * (k - 1) + 1``:

* explicit padding (an int, per-dimension ints or ``(lo, hi)`` pairs) and ``"valid"``
  (``lo = hi = 0``): ``out = (n - 1) * s - lo - hi + d * (k - 1) + 1 + output_padding``;
* ``"same"`` and ``"same_lower"``: ``out = n * s`` and ``(lo, hi) = resolve_padding(padding, n * s,
  k, s, d)``, the forward padding of a convolution of an ``n * s`` input (whose output has ``n``
  positions): ``total = max(d * (k - 1) + 1 - s, 0)``, ``lo = total // 2`` for ``"same"`` (an odd
  cell at the end), ``lo = total - total // 2`` for ``"same_lower"`` (at the beginning),
  ``hi = total - lo``. When the effective kernel is shorter than the stride, the last
  ``s - d * (k - 1) - 1`` cells receive no tap (they hold the bias). ``output_padding`` must be 0.

``output_padding`` lengthens the high end of a dimension; it must be smaller than
``max(stride, dilation)`` in every dimension (PyTorch's rule). An output length below 1 is an error.

This is the adjoint of ``conv`` with the same stride, padding, dilation and groups applied to an
input ``x'`` shaped like ``y``: ``<conv(x', w), x> == <x', conv_transpose(x, w)>``, so
``conv_transpose(x, w)`` equals ``conv_backward(x', w, x)[0]`` for any such ``x'``. (With ``output_padding >= stride``,
which only a dilation allows, ``conv`` has more than ``n`` outputs and the identity holds for its
first ``n``.)

Other conventions, per dimension:

* TensorFlow ``conv{1,2,3}d_transpose(..., padding="SAME")`` with output size ``n * s`` is ``"same"``.
* ONNX ``ConvTranspose`` with ``auto_pad`` ``SAME_UPPER`` / ``SAME_LOWER`` sets ``out = n * s`` and
  ``total_padding = s * (n - 1) + output_padding + d * (k - 1) + 1 - out``, start padding
  ``total_padding // 2`` (``SAME_UPPER``: an odd cell at the end) or ``total_padding -
  total_padding // 2`` (``SAME_LOWER``: at the beginning). With ``output_padding = 0`` this is
  ``"same"`` / ``"same_lower"`` whenever the effective kernel is at least the stride. Otherwise
  ONNX's total is negative, and its split can put some of the ``s - d * (k - 1) - 1`` empty cells
  at the beginning (as a negative start padding); here they are all at the end, which keeps the
  op the adjoint of ``conv(padding="same")``.
* Keras ``Conv{1,2,3}DTranspose(padding="valid")`` without ``output_padding`` gives
  ``(n - 1) * s + max(d * (k - 1) + 1, s)``: ``"valid"`` with ``output_padding =
  max(s - d * (k - 1) - 1, 0)``.

Backward pass, for an upstream gradient ``dy`` shaped like ``y`` and ``j = i * s + k * d - lo``::

    db[o]       = sum_{n, j} dy[n, o, j]
    dx[n, c, i] = sum_{o < Og, k : 0 <= j < out} w[c, o, k] * dy[n, g * Og + o, j]
    dw[c, o, k] = sum_{n, i : 0 <= j < out} x[n, c, i] * dy[n, g * Og + o, j]

(``dx`` is ``conv(dy, w)`` of the same geometry, its first ``n`` outputs). Only output cells that
exist enter these sums, so a non-finite ``x`` or ``w`` never meets the zero of a cropped cell (no
``inf * 0`` in ``dw`` or ``dx``).

Implementation: the forward pass is the ``dx`` half of ``conv_backward`` (col2im): one matrix
product per block of input positions gives every tap's contribution, which is added tap by tap
into a zero buffer of the padded output through a writeable window view, then cropped. The
backward pass reads ``dy`` through the window view of the same geometry, one tap at a time and
only at the input positions whose tap lands on an output cell, with one matrix product for ``dx``
and one for ``dw`` per tap. Small calls (at most :data:`convequiv.reference.windows.SMALL_SCATTER`
values per pass) skip the tap loops: the forward scatters every tap's contribution with one
``col2im``; the backward, when ``x`` and ``w`` are finite (a tap on a cropped cell then adds a
finite value times zero: nothing), copies every window of the zero-padded ``dy`` once and takes
one matrix product for ``dx`` and one for ``dw``. Copies stay under
:data:`convequiv.reference.windows.CHUNK_BYTES`. Inputs are converted to float64 and the results are float64.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import windows
from ._checks import as_float64, batch_input, cotangent, is_int, per_dim, quiet
from .geometry import WindowGeometry, resolve_padding, through_cache
from .windows import blocks, pad, plan_of, tap_index, taps, window_view

SAME_FORMS = ("same", "same_lower")


def _explicit_out(n: int, k: int, s: int, d: int, lo: int, hi: int, extra: int) -> int:
    return (n - 1) * s - lo - hi + d * (k - 1) + 1 + extra


def _output_padding(
    op: str, output_padding: object, stride: tuple[int, ...], dilation: tuple[int, ...]
) -> tuple[int, ...]:
    """``output_padding`` per dimension, each ``>= 0`` and ``< max(stride, dilation)``."""
    extra = per_dim(op, "output_padding", output_padding, len(stride), minimum=0)
    for dim, (p, s, d) in enumerate(zip(extra, stride, dilation)):
        if p >= max(s, d):
            raise ValueError(
                f"{op}: output_padding must be smaller than max(stride, dilation) in every dimension, got "
                f"output_padding={output_padding!r} (stride {s}, dilation {d} in spatial dimension {dim})"
            )
    return extra


def transposed_geometry(
    op: str,
    sizes: tuple[int, ...],
    kernel: object,
    *,
    stride: object,
    padding: object,
    output_padding: object,
    dilation: object,
) -> WindowGeometry:
    """Validate and resolve the geometry of a transposed convolution of inputs ``sizes``.

    Returns the geometry of the adjoint convolution: its ``sizes`` are the transposed output
    lengths, its ``padding`` the resolved ``(lo, hi)`` pairs and its ``out`` the input ``sizes``.
    Cached for plain arguments, like :func:`convequiv.reference.geometry.window_geometry`.
    """
    args = (op, sizes, kernel, stride, padding, output_padding, dilation)
    return through_cache(_cached_geometry, _resolve_geometry, args)


def _resolve_geometry(
    op: str,
    sizes: tuple[int, ...],
    kernel: object,
    stride: object,
    padding: object,
    output_padding: object,
    dilation: object,
) -> WindowGeometry:
    nd = len(sizes)
    ks = per_dim(op, "kernel", kernel, nd)
    ss = per_dim(op, "stride", stride, nd)
    ds = per_dim(op, "dilation", dilation, nd)
    extra = _output_padding(op, output_padding, ss, ds)
    if isinstance(padding, str) and padding in SAME_FORMS:
        if any(extra):
            raise ValueError(
                f"{op}: output_padding must be 0 with padding={padding!r} (the output length is input * stride), "
                f"got output_padding={output_padding!r}"
            )
        outs = tuple(n * s for n, s in zip(sizes, ss))
        return WindowGeometry(outs, ks, ss, ds, resolve_padding(padding, outs, ks, ss, ds, op=op), tuple(sizes))
    pads = resolve_padding(padding, sizes, ks, ss, ds, op=op)
    outs_list = []
    for dim, (n, k, s, d, (lo, hi), p) in enumerate(zip(sizes, ks, ss, ds, pads, extra)):
        out = _explicit_out(n, k, s, d, lo, hi, p)
        if out < 1:
            raise ValueError(
                f"{op}: output size along spatial dimension {dim} would be {out} (input {n}, kernel {k}, "
                f"dilation {d}, effective kernel {d * (k - 1) + 1}, padding ({lo}, {hi}), stride {s}, "
                f"output_padding {p}); it must be at least 1"
            )
        outs_list.append(out)
    return WindowGeometry(tuple(outs_list), ks, ss, ds, pads, tuple(sizes))


_cached_geometry = functools.lru_cache(maxsize=4096)(_resolve_geometry)


def transposed_output_size(
    n: int,
    kernel: int,
    *,
    stride: int = 1,
    padding: object = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    """Output length of one spatial dimension of a transposed convolution (module docstring).

    Explicit ``padding`` (an int or a ``(lo, hi)`` pair) and ``"valid"``:
    ``(n - 1) * s - lo - hi + d * (k - 1) + 1 + output_padding``; ``"same"`` and ``"same_lower"``:
    ``n * s``. Raises ``ValueError`` when the output would be smaller than 1.
    """
    op = "transposed_output_size"
    (size,) = per_dim(op, "n", n, 1)
    (k,) = per_dim(op, "kernel", kernel, 1)
    (s,) = per_dim(op, "stride", stride, 1)
    (d,) = per_dim(op, "dilation", dilation, 1)
    (extra,) = _output_padding(op, output_padding, (s,), (d,))
    if isinstance(padding, str):
        return transposed_geometry(op, (size,), k, stride=s, padding=padding, output_padding=extra, dilation=d).sizes[0]
    ((lo, hi),) = resolve_padding([padding], (size,), k, s, d, op=op)
    out = _explicit_out(size, k, s, d, lo, hi, extra)
    if out < 1:
        raise ValueError(
            f"{op}: output size would be {out} (n={size}, effective kernel={d * (k - 1) + 1}, padding=({lo}, {hi}), "
            f"stride={s}, output_padding={extra}); it must be at least 1"
        )
    return out


def _setup(
    op: str,
    x: object,
    w: object,
    stride: object,
    padding: object,
    output_padding: object,
    dilation: object,
    groups: object,
) -> tuple[np.ndarray, np.ndarray, int, WindowGeometry]:
    xa = batch_input(op, "x", x)
    wa = as_float64(op, "w", w)
    nd = xa.ndim - 2
    if wa.ndim != xa.ndim:
        raise ValueError(
            f"{op}: w must have shape (C, O // groups, *kernel) with {nd} kernel dimension(s) to match "
            f"x of shape {xa.shape}, got shape {wa.shape}"
        )
    if 0 in wa.shape:
        raise ValueError(f"{op}: w must not have an empty dimension, got shape {wa.shape}")
    if not is_int(groups):
        raise TypeError(f"{op}: groups must be an int, got {groups!r}")
    if groups < 1:  # type: ignore[operator]
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    g = int(groups)  # type: ignore[call-overload]
    c = xa.shape[1]
    if c % g:
        raise ValueError(f"{op}: groups={g} must divide the input channels C={c} of x")
    if wa.shape[0] != c:
        raise ValueError(
            f"{op}: channel mismatch: w.shape[0] must be the input channels C = {c} of x (w is "
            f"(C, O // groups, *kernel)), got w of shape {wa.shape} for x of shape {xa.shape}"
        )
    geom = transposed_geometry(
        op,
        xa.shape[2:],
        wa.shape[2:],
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
    )
    return xa, wa, g, geom


def _tap_columns(wa: np.ndarray, groups: int, xblock: np.ndarray) -> np.ndarray:
    """Input block ``(n, C, *rows)`` -> ``(n, O, *kernel, *rows)``: the contribution of every tap
    (``sum_c w[c, o, k] * x[n, c, i]`` within each group), one matrix product per group and item."""
    n, c = xblock.shape[:2]
    kernel = wa.shape[2:]
    cg, og = c // groups, wa.shape[1]
    wmat = wa.reshape(groups, cg, og * math.prod(kernel)).transpose(0, 2, 1)  # (G, Og * K, Cg)
    cols: np.ndarray = np.matmul(wmat, xblock.reshape(n, groups, cg, -1))  # (n, G, Og * K, prod(rows))
    return cols.reshape((n, groups * og) + kernel + xblock.shape[2:])


def _padded(geom: WindowGeometry) -> tuple[int, ...]:
    return tuple(out + lo + hi for out, (lo, hi) in zip(geom.sizes, geom.padding))


def _crop(ypad: np.ndarray, geom: WindowGeometry) -> np.ndarray:
    index = (slice(None),) * 2 + tuple(slice(lo, lo + out) for out, (lo, _) in zip(geom.sizes, geom.padding))
    return np.ascontiguousarray(ypad[index])


def _tap_box(geom: WindowGeometry, tap: tuple[int, ...], rows: slice) -> tuple[slice, ...] | None:
    """Input positions ``i`` (within ``rows`` along the first axis) whose tap ``tap`` lands on an
    output cell, ``0 <= i * s + k * d - lo < out``, per dimension; ``None`` when there is none."""
    box = []
    for dim, (k, n, s, d, (lo, _), out) in enumerate(
        zip(tap, geom.out, geom.stride, geom.dilation, geom.padding, geom.sizes)
    ):
        first = max(0, -((k * d - lo) // s))
        stop = min(n, (out - 1 + lo - k * d) // s + 1)
        if dim == 0:
            first, stop = max(first, rows.start), min(stop, rows.stop)
        if first >= stop:
            return None
        box.append(slice(first, stop))
    return tuple(box)


@quiet
def conv_transpose(
    x: object,
    w: object,
    b: object = None,
    *,
    stride: int | tuple[int, ...] = 1,
    padding: object = 0,
    output_padding: int | tuple[int, ...] = 0,
    dilation: int | tuple[int, ...] = 1,
    groups: int = 1,
) -> np.ndarray:
    """Grouped N-d transposed convolution ``y = conv_transpose(x, w) + b`` (module docstring).

    ``w`` is ``(C, O // groups, *kernel)``. ``padding``: int, per-dimension ints, per-dimension
    ``(lo, hi)`` pairs, ``"valid"``, ``"same"`` or ``"same_lower"``; ``output_padding`` adds cells
    at the high end. Returns float64 ``(N, O, *out)``.
    """
    op = "conv_transpose"
    xa, wa, g, geom = _setup(op, x, w, stride, padding, output_padding, dilation, groups)
    o = g * wa.shape[1]
    ba = None
    if b is not None:
        ba = as_float64(op, "b", b)
        if ba.shape != (o,):
            raise ValueError(f"{op}: b must have shape (O,) = ({o},), got shape {ba.shape}")
    n = xa.shape[0]
    if n * o * math.prod(geom.kernel) * math.prod(geom.out) <= windows.SMALL_SCATTER:
        y = plan_of(geom, (n, o) + geom.sizes).scatter(_tap_columns(wa, g, xa))  # one product, one scatter
        if ba is not None:
            y += ba.reshape((o,) + (1,) * geom.nd)
        return y
    ypad = np.zeros((n, o) + _padded(geom), dtype=np.float64)
    view = window_view(ypad, geom, writeable=True)
    channel_axes: tuple[slice, ...] = (slice(None),) * 2
    for bs, rs in blocks(n, geom, o * math.prod(geom.kernel) * 8):
        cols = _tap_columns(wa, g, xa[bs, :, rs])  # (nb, O, *kernel, *rows)
        block = view[bs, :, rs]  # (nb, O, *rows, *kernel)
        for tap in taps(geom):
            column: tuple[slice | int, ...] = (*channel_axes, *tap)
            block[tap_index(tap)] += cols[column]
    y = _crop(ypad, geom)
    if ba is not None:
        y += ba.reshape((o,) + (1,) * geom.nd)
    return y


def _im2col_is_exact(xa: np.ndarray, wa: np.ndarray, values: int) -> bool:
    """Whether the backward pass may read every tap of the zero-padded ``dy`` (a small call whose
    ``x`` and ``w`` are finite): a tap on a cropped cell then multiplies a finite value by zero
    and adds nothing, as the tap-by-tap path, which skips those taps, adds nothing."""
    return values <= windows.SMALL_SCATTER and bool(np.isfinite(xa).all()) and bool(np.isfinite(wa).all())


def _backward_im2col(
    xa: np.ndarray, wa: np.ndarray, dya: np.ndarray, geom: WindowGeometry, g: int
) -> tuple[np.ndarray, np.ndarray]:
    """``dx`` and ``dw`` from one copy of every window of the zero-padded ``dy``
    (:meth:`CallPlan.gather`: ``cols[n, o, k, i]`` is tap ``k`` of the window at input position
    ``i``) and one matrix product each: ``dx[n, c, i] = sum_{o, k} w[c, o, k] * cols[n, o, k, i]``
    and ``dw[c, o, k] = sum_{n, i} x[n, c, i] * cols[n, o, k, i]`` within each group. Empty sums
    are +0 (``+ 0.0`` turns a product's -0 into +0, as the tap-by-tap path leaves it)."""
    n, c = xa.shape[:2]
    og = wa.shape[1]
    cols = plan_of(geom, dya.shape).gather(dya, 0.0, "plane tap window").reshape(n, g, og * math.prod(wa.shape[2:]), -1)
    xk = xa.reshape(n, g, c // g, -1)  # (N, G, Cg, positions)
    wmat = wa.reshape(g, c // g, -1)  # (G, Cg, Og * K)
    dx = np.matmul(wmat, cols).reshape(xa.shape) + 0.0
    dw = np.matmul(xk, cols.transpose(0, 1, 3, 2)).sum(axis=0).reshape(wa.shape) + 0.0
    return dx, dw


@quiet
def conv_transpose_backward(
    x: object,
    w: object,
    dy: object,
    *,
    stride: int | tuple[int, ...] = 1,
    padding: object = 0,
    output_padding: int | tuple[int, ...] = 0,
    dilation: int | tuple[int, ...] = 1,
    groups: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dx, dw, db)`` of ``sum(dy * conv_transpose(x, w, b))`` (module docstring).

    ``dy`` must have the forward output shape ``(N, O, *out)``. All results are float64.
    """
    op = "conv_transpose_backward"
    xa, wa, g, geom = _setup(op, x, w, stride, padding, output_padding, dilation, groups)
    n, c = xa.shape[:2]
    og = wa.shape[1]
    dya = cotangent(op, dy, (n, g * og) + geom.sizes)
    if _im2col_is_exact(xa, wa, n * g * og * math.prod(geom.kernel) * math.prod(geom.out)):
        dx, dw = _backward_im2col(xa, wa, dya, geom, g)
        return dx, dw, dya.sum(axis=(0, *range(2, dya.ndim)))
    view = window_view(pad(dya, geom, 0.0), geom)  # (N, O, *x spatial, *kernel)
    wtaps = wa.reshape((g, c // g, og) + geom.kernel)
    dx = np.zeros(xa.shape, dtype=np.float64)
    dw = np.zeros(wtaps.shape, dtype=np.float64)
    for bs, rs in blocks(n, geom, (g * og + 2 * c) * 8):
        for tap in taps(geom):
            box = _tap_box(geom, tap, rs)
            if box is None:
                continue
            index = (bs, slice(None), *box)
            xbox = xa[index]
            nb = xbox.shape[0]
            dyk = view[index + tap].reshape(nb, g, og, -1)  # (nb, G, Og, positions)
            xk = xbox.reshape(nb, g, c // g, -1)
            dw[tap_index(tap)] += np.matmul(xk, dyk.transpose(0, 1, 3, 2)).sum(axis=0)
            dx[index] += np.matmul(wtaps[tap_index(tap)], dyk).reshape(xbox.shape)
    db = dya.sum(axis=(0, *range(2, dya.ndim)))
    return dx, dw.reshape(wa.shape), db
