"""Every canonical -> framework translation, written once: data and kernel layouts, padding.

The reference is channels-first: data ``(N, C, *spatial)``, convolution weights
``(O, C / groups, *kernel)``, padding as resolved ``(lo, hi)`` pairs per spatial dimension
(:func:`convequiv.reference.resolve_padding`). Frameworks differ in four ways, each handled here:

* **data layout**: channels-last ``(N, *spatial, C)`` for TensorFlow and Keras
  (:func:`channels_last`, :func:`channels_first`, and the same for shapes);
* **kernel layout**: spatial-first ``(*kernel, C / groups, O)`` ("HWIO") for TensorFlow and Keras
  (:func:`kernel_spatial_first`); depthwise kernels ``(*kernel, C, m)`` where output channel
  ``c * m + j`` is channel ``c``'s ``j``-th filter (:func:`depthwise_kernel`), the same numbering
  as the reference's grouped weights with ``groups == C``; the ``*_shape`` functions give the
  translated shapes without data (symbolic arguments, shape inference);
* **padding spelling**: a named form (``"valid"`` / ``"same"``) where the framework has one,
  explicit per-side lists in the framework's order (:func:`flat_pad_widths` for ``torch.nn.functional.pad``,
  :func:`pad_list` for ``tf.pad`` / ``keras.ops.pad`` / ``numpy.pad``), or a pre-pad of the
  input followed by an unpadded op when the framework cannot take the padding natively;
  ``jax.lax`` takes the string forms by their XLA names (:func:`xla_padding_name`) and explicit
  pairs over every axis of the data (:func:`pad_pairs`); ONNX takes ``auto_pad`` names
  (:func:`onnx_auto_pad`) or a ``pads`` list of every begin, then every end (:func:`onnx_pads`);
* **ceil mode** where a framework has none: explicit high padding that reaches exactly the span
  the windows read (:func:`padding_to_span`, exact integer arithmetic on the resolved geometry).

Every layout function is an exact permutation or copy (no arithmetic), so translating there and
back is the identity; the tests check that round trip.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convequiv.reference.geometry import Pads, WindowGeometry

Shape = tuple[int, ...]
OptionalShape = tuple[int | None, ...]


# --------------------------------------------------------------------------------- data layouts
def channels_last(a: np.ndarray) -> np.ndarray:
    """``(N, C, *spatial)`` -> ``(N, *spatial, C)``; an ``(N, C)`` array is returned as it is."""
    return np.ascontiguousarray(np.moveaxis(a, 1, -1)) if a.ndim > 2 else a


def channels_first(a: np.ndarray) -> np.ndarray:
    """``(N, *spatial, C)`` -> ``(N, C, *spatial)``; an ``(N, C)`` array is returned as it is."""
    return np.ascontiguousarray(np.moveaxis(a, -1, 1)) if a.ndim > 2 else a


def channels_last_shape(shape: Sequence[int | None]) -> OptionalShape:
    """The shape of :func:`channels_last` of an array of ``shape``."""
    s = tuple(shape)
    return (s[0], *s[2:], s[1]) if len(s) > 2 else s


def channels_first_shape(shape: Sequence[int | None]) -> OptionalShape:
    """The shape of :func:`channels_first` of an array of ``shape``."""
    s = tuple(shape)
    return (s[0], s[-1], *s[1:-1]) if len(s) > 2 else s


# ------------------------------------------------------------------------------- kernel layouts
def kernel_spatial_first(w: np.ndarray) -> np.ndarray:
    """``(O, C / groups, *kernel)`` -> ``(*kernel, C / groups, O)`` (TensorFlow's HWIO)."""
    return np.ascontiguousarray(np.transpose(w, (*range(2, w.ndim), 1, 0)))


def kernel_channels_first(k: np.ndarray) -> np.ndarray:
    """Inverse of :func:`kernel_spatial_first`: ``(*kernel, I, O)`` -> ``(O, I, *kernel)``."""
    nd = k.ndim - 2
    return np.ascontiguousarray(np.transpose(k, (nd + 1, nd, *range(nd))))


def depthwise_kernel(w: np.ndarray, channels: int) -> np.ndarray:
    """Grouped weights with ``groups == channels`` ``(C * m, 1, *kernel)`` -> ``(*kernel, C, m)``."""
    spatial = tuple(range(2, w.ndim))
    return np.ascontiguousarray(np.transpose(w, (*spatial, 0, 1)).reshape(w.shape[2:] + (channels, -1)))


def kernel_spatial_first_shape(shape: Sequence[int]) -> Shape:
    """The shape of :func:`kernel_spatial_first` of weights of ``shape`` (a symbolic kernel argument)."""
    s = tuple(shape)
    return (*s[2:], s[1], s[0])


def depthwise_kernel_shape(shape: Sequence[int], channels: int) -> Shape:
    """The shape of :func:`depthwise_kernel` of weights of ``shape``: ``(C * m, 1, *kernel)`` ->
    ``(*kernel, C, m)``."""
    s = tuple(shape)
    return (*s[2:], channels, s[0] // channels)


def depthwise_kernel_back(k: np.ndarray) -> np.ndarray:
    """Inverse of :func:`depthwise_kernel`: ``(*kernel, C, m)`` -> ``(C * m, 1, *kernel)``."""
    nd = k.ndim - 2
    return np.ascontiguousarray(np.moveaxis(k.reshape(k.shape[:nd] + (-1,)), -1, 0)[:, None])


# ------------------------------------------------------------------------------------- padding
def has_padding(pads: Pads) -> bool:
    return any(lo or hi for lo, hi in pads)


def symmetric(pads: Pads) -> bool:
    """The same amount on both sides of every spatial dimension."""
    return all(lo == hi for lo, hi in pads)


def per_side(pads: Pads) -> Shape:
    """The one-int-per-dimension spelling of symmetric padding (``padding=(1, 2)`` in PyTorch)."""
    if not symmetric(pads):
        raise ValueError(f"padding {pads} is not symmetric")
    return tuple(lo for lo, _ in pads)


def flat_pad_widths(pads: Pads) -> list[int]:
    """``torch.nn.functional.pad`` order: the last dimension first, ``lo, hi`` each."""
    return [v for lo, hi in reversed(pads) for v in (lo, hi)]


def pad_list(pads: Pads, *, channels_last_layout: bool = True) -> list[list[int]]:
    """Per-axis ``[lo, hi]`` for every axis of the data (``tf.pad``, ``keras.ops.pad``, ``numpy.pad``,
    TensorFlow's explicit padding): ``[[0, 0], [lo, hi], ..., [0, 0]]`` channels-last, or
    ``[[0, 0], [0, 0], [lo, hi], ...]`` channels-first."""
    spatial = [[lo, hi] for lo, hi in pads]
    return [[0, 0], *spatial, [0, 0]] if channels_last_layout else [[0, 0], [0, 0], *spatial]


def named_padding(padding: object, pads: Pads) -> str | None:
    """``"valid"`` / ``"same"`` when the canonical padding has that name in frameworks (no padding
    at all is ``"valid"`` whatever its spelling); ``None`` when it must be spelled out."""
    if padding in ("valid", "same"):
        return str(padding)
    return None if has_padding(pads) else "valid"


def padded_sizes(sizes: Sequence[int], pads: Pads) -> Shape:
    """Spatial sizes after padding by ``pads``."""
    return tuple(n + lo + hi for n, (lo, hi) in zip(sizes, pads))


def torch_pool_takes(pads: Pads, kernel: Sequence[int]) -> bool:
    """Whether PyTorch's pooling takes ``pads`` as its own ``padding=``: symmetric and at most half
    the (undilated) kernel in every dimension (``pad should be at most half of effective kernel
    size`` is checked against ``kernel // 2``)."""
    return symmetric(pads) and all(lo <= k // 2 for (lo, _), k in zip(pads, kernel))


# ------------------------------------------------------------------ padding spelled for XLA (jax.lax)
#: ``jax.lax``'s names of the canonical padding strings; lax resolves each exactly as the reference
#: does (on the dilated kernel; ``SAME`` puts an odd cell at the end, ``SAME_LOWER`` at the start).
XLA_PADDING_NAMES = {"valid": "VALID", "same": "SAME", "same_lower": "SAME_LOWER"}


def xla_padding_name(padding: object) -> str | None:
    """``"VALID"`` / ``"SAME"`` / ``"SAME_LOWER"`` for a canonical string padding; ``None`` for every
    other form (ints, pairs), which is spelled out as pairs even where it is zero."""
    return XLA_PADDING_NAMES.get(padding) if isinstance(padding, str) else None


def pad_pairs(pads: Pads, *, channels_last_layout: bool = True) -> tuple[tuple[int, int], ...]:
    """:func:`pad_list` as a tuple of ``(lo, hi)`` tuples, for APIs that take (and hash) tuples:
    ``jax.lax.reduce_window``'s explicit padding names every axis of the data."""
    return tuple((lo, hi) for lo, hi in pad_list(pads, channels_last_layout=channels_last_layout))


def lax_pad_config(pairs: Sequence[tuple[int, int]]) -> tuple[tuple[int, int, int], ...]:
    """``jax.lax.pad``'s configuration: ``(lo, hi, interior)`` per axis, with no interior padding."""
    return tuple((lo, hi, 0) for lo, hi in pairs)


def padding_to_span(geometry: WindowGeometry) -> Pads:
    """Explicit padding that reaches exactly as far as the windows of ``geometry`` read:
    ``(lo, max(span - n - lo, 0))`` per dimension (:attr:`WindowGeometry.span`).

    For a framework without ``ceil_mode``: given the ceil-mode geometry, floor-mode windows over
    an input padded this way are exactly the ceil-mode windows. The high side is ``hi`` plus the
    ceil-mode overhang, or less when the last window stops short of the padding (cutting padding
    that no window reads changes no window, and never admits a window that ceil mode drops, one
    starting in the right padding); it is never negative. Integer arithmetic, exact."""
    return tuple(
        (lo, max(span - n - lo, 0)) for (lo, _), span, n in zip(geometry.padding, geometry.span, geometry.sizes)
    )


def high_padding_beyond(pads: Pads, reach: Pads) -> Pads:
    """``(0, reach_hi - hi)`` per dimension: what padding by ``reach`` (e.g. :func:`padding_to_span`)
    adds on the high side of an input already padded by ``pads`` (same low sides); negative where
    ``reach`` stops short of ``pads``, i.e. a cut of that much of the padding already applied."""
    if any(lo != reach_lo for (lo, _), (reach_lo, _) in zip(pads, reach)):
        raise ValueError(f"padding {reach} does not start where {pads} does")
    return tuple((0, reach_hi - hi) for (_, hi), (_, reach_hi) in zip(pads, reach))


# ------------------------------------------------------------------------- padding spelled for ONNX
#: ONNX's ``auto_pad`` names of the canonical padding strings. ONNX resolves ``SAME_UPPER`` /
#: ``SAME_LOWER`` on the dilated kernel with ``out = ceil(n / s)``, an odd cell at the end / the start,
#: as the reference's ``"same"`` / ``"same_lower"`` do.
ONNX_AUTO_PAD = {"valid": "VALID", "same": "SAME_UPPER", "same_lower": "SAME_LOWER"}


def onnx_auto_pad(padding: object) -> str | None:
    """``"VALID"`` / ``"SAME_UPPER"`` / ``"SAME_LOWER"`` for a canonical string padding; ``None`` for
    every other form (spelled as ``pads`` with ``auto_pad="NOTSET"``)."""
    return ONNX_AUTO_PAD.get(padding) if isinstance(padding, str) else None


def onnx_pads(pads: Pads) -> list[int]:
    """ONNX's ``pads`` attribute: every begin, then every end, ``[x1_begin, x2_begin, ..., x1_end,
    x2_end, ...]`` over the spatial axes."""
    return [lo for lo, _ in pads] + [hi for _, hi in pads]


def onnx_pads_back(flat: Sequence[int]) -> Pads:
    """Inverse of :func:`onnx_pads`: ``(lo, hi)`` pairs from ONNX's begin-then-end list."""
    nd = len(flat) // 2
    return tuple((int(flat[i]), int(flat[nd + i])) for i in range(nd))
