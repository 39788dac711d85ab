"""Rounding-error bounds: how far a correct floating-point result may be from the reference.

Every value these ops produce is a sum of at most ``n`` products (or a quotient of such a sum).
Computed in a floating-point format with unit roundoff ``u`` (``2**-24`` for float32, ``2**-53``
for float64), in *any* summation order and with or without fused multiply-add, the classic bound
(Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1) is::

    |computed - exact| <= gamma(n) * magnitude,   gamma(n) = n * u / (1 - n * u)

where ``magnitude`` is the same sum taken over absolute values, e.g. ``conv(|x|, |w|, |b|)``. The
reference computes ``magnitude`` itself, by running its own op on absolute values; because its
float64 result carries the same kind of error, the bound used here adds both::

    bound = (gamma(n + 1, dtype) + gamma(n + 1, float64)) * magnitude + 2 * n * tiny(dtype)

The ``+ 1`` covers the final rounding of the result (or one division), and the last term covers
products and partial sums flushed to zero by CPUs running with flush-to-zero / denormals-are-zero
(oneDNN and TensorFlow enable it). Inputs are exactly representable in ``dtype`` (the suite
rounds them before computing the reference), so no input rounding term is needed. Max pooling is
exact: its forward bound is zero.

This bound is rigorous for every correct summation algorithm; it does not cover algorithms that
transform the inputs first (Winograd, FFT). A layout bug (a transposed kernel, shifted padding)
produces errors of the order of ``magnitude`` itself, far above the bound.

The same analysis decides every other comparison of values computed two ways: a batched against a
per-sample convolution, a framework against the reference, a window-by-window sum against an
im2col product. Neither side is exact (their summation orders differ between BLAS kernels, CPUs
and libraries), but each lies within its own bound of the exact sum, so :func:`agree` accepts
them when they are within the sum of both bounds::

    |a - b| <= (gamma(n + 1, dtype_a) + gamma(n + 1, dtype_b)) * magnitude
               + 2 * n * (tiny(dtype_a) + tiny(dtype_b))

with ``n`` the larger of the two term counts (a zero product, or a zero added, is exact and may
be counted or not). The dtype of a side is the precision it was computed in: float32 for a
framework's float32 result (its inputs rounded to float32 first, as above), float64 for the
reference; an exact side (an integer, the ``1`` a normalised sum must give) contributes nothing.
For a float64 side the ``tiny`` term is negligible; with ``dtype_b = float64`` the bound is
``sum_bound`` plus ``2 * n * tiny(float64)``. A single correctly rounded operation (a division,
a subtraction of two values, a conversion to float32) counts as one term. Operations that round
nothing are compared bit for bit and need no bound: max and min (pooling forward), copies and
reshapes, routing one gradient per input cell (non-overlapping max windows), sums of exact zeros,
integer counts and shapes. Statistical checks (the fraction of values dropout zeroes) are not
rounding questions: their margins are a stated number of standard deviations of the sampling
distribution.

**Reduced precision** (float16, bfloat16; :mod:`convequiv.reference.precision`). A framework that
stores data in a format ``s`` may accumulate sums in a wider format ``a``. The same analysis then
gives, for a sum of ``n`` products accumulated in ``a`` whose partial results are stored in ``s``
at most ``r`` times on the way (``r = 1``: only the result; a JVP built from two stored
convolutions and their sum: ``r = 3``)::

    |computed - exact| <= ((1 + u_s)**r (1 + gamma(n + 1, a)) - 1) * magnitude
                          + 2 n tiny(a) + r tiny(s)

(:func:`sum_bound` with ``accumulate=a``, ``roundings=r``). Accumulated in ``s`` itself, every
partial sum is rounded to ``s`` and the bound is ``growth(n + r, s) * magnitude + 2 (n + r - 1)
tiny(s)``, ``growth(n) = (1 + u)**n - 1``: the exact form of which ``gamma(n)`` is the bound, finite
for every ``n`` (``gamma`` refuses ``n u >= 1``, which a bfloat16 sum of 256 terms reaches: such a
sum may legitimately lose every small term, and its bound says so). Multiplying two float16 or
bfloat16 values is exact in float32 (11 + 11 and 8 + 8 significand bits), so a float32-accumulated
sum rounds only at its additions. A float32 bound is unchanged by any of this.

Which format each framework accumulates in, per adapter (declared by ``Adapter.semantics``:
``accumulate`` for the forward output ``y``, ``accumulate_gradients`` for the derivatives ``dx``,
``dw``, ``db``, ``jvp``), and how we know:

* **PyTorch, CPU** (``torch`` and its variants): forward sums in float32, derivatives in the
  storage format. Reductions and the forward kernels compute in ``at::opmath_type`` /
  ``at::acc_type``, which is ``float`` for ``Half`` and ``BFloat16`` on the CPU
  (pytorch/pytorch ``aten/src/ATen/OpMathType.h``, ``aten/src/ATen/AccumulateType.h``:
  ``CPU_ACC_TYPE(BFloat16, float)``, ``CPU_ACC_TYPE(Half, float)``; oneDNN's bf16 convolutions
  accumulate in f32). Several backward kernels add contributions straight into the gradient tensor
  of the storage type: ``cpu_max_pool_backward`` does ``grad_input_ptr[maxindex] +=
  grad_output_ptr[index]`` on ``scalar_t`` (``aten/src/ATen/native/cpu/MaxPoolKernel.cpp``), as do
  the average-pooling backward and ``col2im`` of the slow convolution backward, which is also the
  forward of the transposed convolution (``slow_conv_transpose{2,3}d``: its ``y`` is declared
  accumulated in the storage format; measured 1.3x over the float32-accumulation bound in
  float16). Measured: on drawn
  cases the derivatives exceed the float32-accumulation bound by up to 2.2x (convolution ``dx`` in
  bfloat16 without oneDNN) and stay within a third of the storage bound; the forward outputs stay
  within the float32-accumulation bound.
* **TensorFlow's own CPU kernels** (``tensorflow/no-onednn``, and float16 everywhere: oneDNN has no
  float16 on CPUs without AVX512-FP16): the storage format for everything. Eigen's ``half`` and
  ``bfloat16`` implement each arithmetic operation by converting to float, operating and
  rounding back (Eigen ``Eigen/src/Core/arch/Default/Half.h``, ``BFloat16.h``), so every partial
  sum is stored. Measured: average pooling's forward exceeds the float32-accumulation bound by 1.9x.
* **XLA on the CPU** (``tensorflow/xla``): forward sums in float32, derivatives in the storage
  format. XLA's CPU compiler computes the bfloat16 / float16 ops its CPU backend lacks in float32
  (``FloatNormalization`` with ``CpuFloatSupport``, openxla/xla ``xla/service/cpu/cpu_float_support.h``)
  and rounds each HLO result to its declared type, so a derivative built from several HLO ops
  (``reduce_max``'s gradient: a division and a product) is stored more than once. Measured: forward outputs within the
  float32-accumulation bound; ``reduce_max``'s bfloat16 gradient and ``reduce_mean``'s float16 JVP
  exceed it (1.03x, 1.06x) and stay within the storage bound.

A framework that accumulates in the storage format is not failing: its results are checked against
the bound of the accumulation it uses, which is looser, and the checks stay strict for everything
else (a storage-format bound still catches a transposed kernel or shifted padding, errors of the order
of ``magnitude``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from . import precision
from ._checks import per_dim
from .channel_pooling import global_avg_pool
from .convolution import conv, conv_backward
from .pooling import avg_pool, avg_pool_backward, max_pool_backward
from .transposed import conv_transpose, conv_transpose_backward

if TYPE_CHECKING:
    # not at run time: ``import convequiv.reference`` loads no NumPy submodule
    from numpy.typing import ArrayLike, DTypeLike


def unit_roundoff(dtype: DTypeLike) -> float:
    """``u = eps / 2`` of a floating dtype (``"bfloat16"`` too: :mod:`convequiv.reference.precision`)."""
    return float(precision.finfo(dtype).eps) / 2


def gamma(n: int, dtype: DTypeLike) -> float:
    """``n * u / (1 - n * u)``; raises if ``n * u >= 1`` (the bound no longer exists)."""
    nu = n * unit_roundoff(dtype)
    if nu >= 1:
        raise ValueError(f"gamma: n={n} terms is too many for {precision.name(dtype)} (n * u >= 1)")
    return nu / (1 - nu)


def growth(n: int, dtype: DTypeLike) -> float:
    """``(1 + u)**n - 1``: the relative error of ``n`` roundings in a row, of which :func:`gamma` is the
    bound; finite for every ``n`` (a bfloat16 sum of 300 terms has ``n * u > 1``). Used for the
    reduced-precision formats (module docstring)."""
    return math.expm1(n * math.log1p(unit_roundoff(dtype)))


def _tiny(dtype: DTypeLike) -> float:
    return float(precision.finfo(dtype).tiny)


def _taps(kernel: object, nd: int) -> int:
    return math.prod(per_dim("tolerance", "kernel", kernel, nd))


def sum_bound(
    magnitude: np.ndarray,
    terms: int,
    dtype: DTypeLike,
    *,
    accumulate: DTypeLike | None = None,
    roundings: int = 1,
) -> np.ndarray:
    """Bound for results that are sums of at most ``terms`` rounded products (module docstring).

    ``dtype`` is the storage format of the inputs and the result, ``accumulate`` the format the sum
    is accumulated in (``None``: the storage format), ``roundings`` how many times a partial result
    is stored in ``dtype`` on the way (1: only the result; a JVP stored as two partial convolutions
    and their sum: 3). With float32 / float64 storage accumulated in it and one rounding, this is
    exactly ``(gamma(terms + 1, dtype) + gamma(terms + 1, float64)) * |magnitude| + 2 terms tiny``."""
    terms, roundings = max(int(terms), 1), max(int(roundings), 1)
    acc = precision.wider(dtype, accumulate)
    reference = gamma(terms + roundings, np.float64)
    if acc == precision.name(dtype):  # accumulated in the storage format: every rounding is one of dtype's
        steps = terms + roundings
        own = growth(steps, dtype) if precision.is_reduced(dtype) else gamma(steps, dtype)
        floor = 2 * (terms + roundings - 1) * _tiny(dtype)
    else:  # accumulated in ``acc`` (at most terms + 1 roundings), then stored ``roundings`` times
        stored, summed = growth(roundings, dtype), gamma(terms + 1, acc)
        own = stored + summed + stored * summed
        floor = 2 * terms * _tiny(acc) + roundings * _tiny(dtype)
    return (own + reference) * np.abs(np.asarray(magnitude, dtype=np.float64)) + floor


def conv_bound(
    x: object,
    w: object,
    b: object,
    *,
    dtype: DTypeLike,
    stride: int | tuple[int, ...] = 1,
    padding: object = 0,
    dilation: int | tuple[int, ...] = 1,
    groups: int = 1,
    accumulate: DTypeLike | None = None,
) -> np.ndarray:
    """Forward bound: ``C / groups * prod(kernel)`` products plus the bias per output."""
    wa = np.abs(np.asarray(w, dtype=np.float64))
    ba = None if b is None else np.abs(np.asarray(b, dtype=np.float64))
    magnitude = conv(
        np.abs(np.asarray(x, dtype=np.float64)),
        wa,
        ba,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
    )
    # the bias may be added to a result already stored in dtype: a second rounding where dtype is coarser
    roundings = 1 if ba is None or precision.wider(dtype, accumulate) == precision.name(dtype) else 2
    return sum_bound(magnitude, wa[0].size + 1, dtype, accumulate=accumulate, roundings=roundings)


def conv_backward_bound(
    x: object,
    w: object,
    dy: object,
    *,
    dtype: DTypeLike,
    stride: int | tuple[int, ...] = 1,
    padding: object = 0,
    dilation: int | tuple[int, ...] = 1,
    groups: int = 1,
    accumulate: DTypeLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bounds ``(dx, dw, db)``: each is a sum over output positions, channels and taps."""
    xa, wa, dya = (np.abs(np.asarray(a, dtype=np.float64)) for a in (x, w, dy))
    mdx, mdw, mdb = conv_backward(xa, wa, dya, stride=stride, padding=padding, dilation=dilation, groups=groups)
    per_output = dya[0, 0].size * dya.shape[0]
    dx_terms = (wa.shape[0] // groups) * math.prod(wa.shape[2:])
    acc: dict[str, Any] = {"accumulate": accumulate}
    return (
        sum_bound(mdx, dx_terms, dtype, **acc),
        sum_bound(mdw, per_output, dtype, **acc),
        sum_bound(mdb, per_output, dtype, **acc),
    )


def avg_pool_bound(
    x: ArrayLike, kernel: int | tuple[int, ...], *, dtype: DTypeLike, accumulate: DTypeLike | None = None, **kwargs: Any
) -> np.ndarray:
    """Window sum of ``prod(kernel)`` terms, then one division (or reciprocal multiply).

    ``kwargs`` are :func:`avg_pool`'s (``stride``, ``padding``, ``dilation``, ``ceil_mode``,
    ``count_include_pad``); dilation spreads the taps apart but leaves ``prod(kernel)`` of them."""
    magnitude = avg_pool(np.abs(np.asarray(x, dtype=np.float64)), kernel, **kwargs)
    taps = _taps(kernel, np.ndim(x) - 2)
    return sum_bound(magnitude, taps + 1, dtype, accumulate=accumulate)


def avg_pool_backward_bound(
    x: ArrayLike,
    dy: object,
    kernel: int | tuple[int, ...],
    *,
    dtype: DTypeLike,
    accumulate: DTypeLike | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """Each input cell accumulates ``dy / divisor`` from at most ``prod(kernel)`` windows (with or
    without ``dilation``: one cell is at most one tap of each window)."""
    magnitude = avg_pool_backward(x, np.abs(np.asarray(dy, dtype=np.float64)), kernel, **kwargs)
    taps = _taps(kernel, np.ndim(x) - 2)
    return sum_bound(magnitude, taps + 1, dtype, accumulate=accumulate)


def max_pool_backward_bound(
    x: ArrayLike,
    dy: object,
    kernel: int | tuple[int, ...],
    *,
    dtype: DTypeLike,
    accumulate: DTypeLike | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """Routed gradients of at most ``prod(kernel)`` overlapping windows accumulate per input cell."""
    magnitude = max_pool_backward(x, np.abs(np.asarray(dy, dtype=np.float64)), kernel, **kwargs)
    taps = _taps(kernel, np.ndim(x) - 2)
    return sum_bound(magnitude, taps + 1, dtype, accumulate=accumulate)


def global_avg_pool_bound(
    x: object, *, dtype: DTypeLike, keepdims: bool = False, accumulate: DTypeLike | None = None
) -> np.ndarray:
    """A mean of ``prod(spatial)`` terms."""
    xa = np.abs(np.asarray(x, dtype=np.float64))
    return sum_bound(global_avg_pool(xa, keepdims=keepdims), xa[0, 0].size + 1, dtype, accumulate=accumulate)


def agree(
    a: ArrayLike, b: ArrayLike, magnitude: ArrayLike, terms: int, dtype: DTypeLike, other: DTypeLike | None = np.float64
) -> bool:
    """Whether ``a`` and ``b``, two computations of the same sums, agree up to their rounding.

    Each value is a sum of at most ``terms`` rounded products in any order; ``a`` was computed in
    ``dtype``, ``b`` in ``other`` (float64 by default, as the reference computes; ``None`` when
    ``b`` is exact); ``magnitude`` is the same sums over absolute values (it broadcasts against
    ``a``). Each side lies within its gamma bound of the exact sum, so elementwise (module
    docstring)::

        |a - b| <= (gamma(terms + 1, dtype) + gamma(terms + 1, other)) * |magnitude|
                   + 2 * terms * (tiny(dtype) + tiny(other))

    where an exact ``b`` (``other=None``) contributes neither of its terms. Equal elements
    (infinities included) always agree; a NaN on either side, or ``a`` and ``b`` of different
    shapes, never do.
    """
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a64.shape != b64.shape:
        return False
    terms = max(int(terms), 1)
    sides = [dtype] if other is None else [dtype, other]
    factor = sum(gamma(terms + 1, side) for side in sides)
    floor = 2 * terms * sum(float(np.finfo(np.dtype(side)).tiny) for side in sides)
    bound = factor * np.abs(np.asarray(magnitude, dtype=np.float64)) + floor
    with np.errstate(invalid="ignore"):
        return bool(np.all((a64 == b64) | (np.abs(a64 - b64) <= bound)))


def conv_transpose_bound(
    x: object,
    w: object,
    b: object,
    *,
    dtype: DTypeLike,
    stride: int | tuple[int, ...] = 1,
    padding: object = 0,
    output_padding: int | tuple[int, ...] = 0,
    dilation: int | tuple[int, ...] = 1,
    groups: int = 1,
    accumulate: DTypeLike | None = None,
) -> np.ndarray:
    """Forward bound: an output cell receives at most one product per input channel of its group
    and kernel tap, ``C / groups * prod(kernel)`` products, plus the bias."""
    wa = np.abs(np.asarray(w, dtype=np.float64))
    ba = None if b is None else np.abs(np.asarray(b, dtype=np.float64))
    magnitude = conv_transpose(
        np.abs(np.asarray(x, dtype=np.float64)),
        wa,
        ba,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
        groups=groups,
    )
    roundings = 1 if ba is None or precision.wider(dtype, accumulate) == precision.name(dtype) else 2  # as conv_bound
    terms = (wa.shape[0] // groups) * math.prod(wa.shape[2:]) + 1
    return sum_bound(magnitude, terms, dtype, accumulate=accumulate, roundings=roundings)


def conv_transpose_backward_bound(
    x: object,
    w: object,
    dy: object,
    *,
    dtype: DTypeLike,
    stride: int | tuple[int, ...] = 1,
    padding: object = 0,
    output_padding: int | tuple[int, ...] = 0,
    dilation: int | tuple[int, ...] = 1,
    groups: int = 1,
    accumulate: DTypeLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bounds ``(dx, dw, db)``: ``dx`` sums ``O / groups * prod(kernel)`` products, ``dw`` one per
    batch item and input position, ``db`` one per batch item and output position."""
    xa, wa, dya = (np.abs(np.asarray(a, dtype=np.float64)) for a in (x, w, dy))
    kw: dict[str, Any] = {"stride": stride, "padding": padding, "output_padding": output_padding, "dilation": dilation}
    mdx, mdw, mdb = conv_transpose_backward(xa, wa, dya, groups=groups, **kw)
    dx_terms = wa.shape[1] * math.prod(wa.shape[2:])
    dw_terms = xa.shape[0] * math.prod(xa.shape[2:])
    db_terms = dya.shape[0] * math.prod(dya.shape[2:])
    return (
        sum_bound(mdx, dx_terms, dtype, accumulate=accumulate),
        sum_bound(mdw, dw_terms, dtype, accumulate=accumulate),
        sum_bound(mdb, db_terms, dtype, accumulate=accumulate),
    )
