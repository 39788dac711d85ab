"""Values the deciders compute two ways, compared within their rounding bounds.

Every comparison goes through :func:`convequiv.reference.tolerance.agree`: two computations of the
same sums agree when they are within the sum of both computations' gamma bounds, given the sums
over absolute values (``magnitude``) and the number of terms (the module docstring of
:mod:`convequiv.reference.tolerance` derives it). The helpers here supply those two for the
convolution, as :func:`~convequiv.reference.tolerance.conv_bound` and
:func:`~convequiv.reference.tolerance.conv_backward_bound` count them. Exact operations (max,
copies, shapes) are compared bit for bit by the deciders themselves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypedDict, Unpack

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from convequiv.reference import conv, conv_backward
from convequiv.reference.tolerance import agree


class Geometry(TypedDict, total=False):
    """Keyword arguments of :func:`~convequiv.reference.conv` besides the arrays and ``groups``."""

    stride: int | tuple[int, ...]
    padding: object
    dilation: int | tuple[int, ...]


class ConvArgs(Geometry, total=False):
    """Every keyword argument of :func:`~convequiv.reference.conv` besides the arrays."""

    groups: int


def _abs(a: ArrayLike | None) -> np.ndarray | None:
    return None if a is None else np.abs(np.asarray(a, dtype=np.float64))


def conv_terms(w: ArrayLike) -> int:
    """Terms of one output of ``conv``: ``C / groups * prod(kernel)`` products plus the bias."""
    return int(np.asarray(w)[0].size) + 1


def conv_agree(
    a: ArrayLike,
    b: ArrayLike,
    x: ArrayLike,
    w: ArrayLike,
    bias: ArrayLike | None = None,
    *,
    dtype: DTypeLike = np.float64,
    **kwargs: Unpack[ConvArgs],
) -> bool:
    """``a`` (computed in ``dtype``) and ``b`` (in float64) are both ``conv(x, w, bias, **kwargs)``
    within rounding: magnitude ``conv(|x|, |w|, |bias|)``, :func:`conv_terms` terms."""
    magnitude = conv(_abs(x), _abs(w), _abs(bias), **kwargs)
    return agree(a, b, magnitude, conv_terms(w), dtype)


def conv_backward_agree(
    got: Sequence[ArrayLike], x: ArrayLike, w: ArrayLike, dy: ArrayLike, *, groups: int = 1, **kwargs: Unpack[Geometry]
) -> tuple[bool, bool, bool]:
    """Whether each of ``got = (dx, dw, db)``, computed in float64, is ``conv_backward(x, w, dy)``'s
    within rounding: ``dx`` sums ``O / groups * prod(kernel)`` terms, ``dw`` and ``db`` one per
    output position of every sample."""
    reference = conv_backward(x, w, dy, groups=groups, **kwargs)
    magnitudes = conv_backward(_abs(x), _abs(w), _abs(dy), groups=groups, **kwargs)
    w, dy = np.asarray(w), np.asarray(dy)
    per_output = dy.shape[0] * math.prod(dy.shape[2:])
    terms = ((w.shape[0] // groups) * math.prod(w.shape[2:]), per_output, per_output)
    dx, dw, db = (agree(g, r, m, n, np.float64) for g, r, m, n in zip(got, reference, magnitudes, terms, strict=True))
    return dx, dw, db
