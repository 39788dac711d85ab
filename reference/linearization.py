"""Forward-mode derivatives: the JVP of every op along tangent inputs, and its rounding-error bound.

The JVP of ``y = f(x, w, b)`` at the inputs, along tangents ``(tx, tw, tb)`` (drawn like ``dy``:
:meth:`convequiv.reference.cases.Example.inputs` with ``tangents=True``), is the directional
derivative ``lim (f(x + h tx, w + h tw, b + h tb) - f(x, w, b)) / h``, i.e. the reference's
linearization of the op at the inputs:

* convolution (and transposed convolution) is linear in ``x`` and ``w`` separately and affine in
  ``b``: ``jvp = conv(tx, w) + conv(x, tw) + tb`` (the bias broadcast over the positions);
* average pooling (windowed, depth, global) is linear: ``jvp = avg(tx)`` with the op's own windows
  and divisors;
* max pooling (windowed, depth, global) is piecewise linear: ``jvp`` is the tangent at the tap the
  forward selects, by the same rules as the gradient
  (:func:`convequiv.reference.pooling.max_pool_backward`): the maximal *input* taps (equal to the
  output, or NaN where the output is NaN under ``nan="propagate"``), and of them the first in
  row-major window order (``ties="first"``) or the mean of the tangents of all ``m`` of them
  (``ties="split"``). A window without a maximal input tap (only padding) has ``jvp = 0``. This is
  the transpose of the gradient's routing: ``<jvp, dy> = <tx, dx>`` for every ``dy``.

Bounds (:mod:`convequiv.reference.tolerance`, same analysis): the convolution's JVP is a sum of
``2 * C / groups * prod(kernel)`` products plus the bias tangent, computed by frameworks as two
convolutions and their sum, so three partial results (four with the bias) may be stored in the
tested format; an average's JVP is the forward's bound on ``|tx|``; a max JVP under
``ties="first"`` copies one tangent and is exact (bound 0), under ``ties="split"`` it is a mean of
at most ``prod(kernel)`` tangents.

Inputs are float64 arrays (already rounded to the tested format); results are float64.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from . import tolerance as tol
from .channel_pooling import depth_pool, global_avg_pool
from .pooling import avg_pool
from .windows import pad, tap_index, taps, window_view

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

    from .cases import Arrays, Case, Inputs


def _max_jvp(x: np.ndarray, t: np.ndarray, case: Case, ties: str, nan: str) -> np.ndarray:
    """JVP of a windowed max over ``case``'s geometry (a :class:`~.cases.PoolCase` of kind max)."""
    geom = case.geometry  # type: ignore[attr-defined]
    view = window_view(pad(x, geom, -np.inf), geom)
    tangent = window_view(pad(t, geom, 0.0), geom)
    real = window_view(pad(np.ones(geom.sizes, dtype=bool), geom, False), geom)
    combine = np.maximum if nan == "propagate" else np.fmax
    out: np.ndarray | None = None
    for tap in taps(geom):
        values = view[tap_index(tap)]
        out = values.copy() if out is None else combine(out, values, out=out)
    assert out is not None
    out_is_nan = np.isnan(out) if nan == "propagate" else np.zeros(out.shape, dtype=bool)
    total = np.zeros(out.shape)
    count = np.zeros(out.shape, dtype=np.int64)
    for tap in taps(geom):
        values = view[tap_index(tap)]
        hit = ((values == out) | (out_is_nan & np.isnan(values))) & real[tap_index(tap)]
        if ties == "first":
            hit &= count == 0
        total += np.where(hit, tangent[tap_index(tap)], 0.0)
        count += hit
    return total / np.maximum(count, 1)


def _channels_as_width(a: np.ndarray) -> np.ndarray:
    """``(N, C, *S)`` -> ``(N * prod(S), 1, C)``: depth pooling as 1-D pooling over the channels."""
    return np.moveaxis(a, 1, -1).reshape(-1, 1, a.shape[1])


def _channels_back(flat: np.ndarray, like: np.ndarray) -> np.ndarray:
    shape = (like.shape[0], *like.shape[2:], flat.shape[-1])
    return np.ascontiguousarray(np.moveaxis(flat.reshape(shape), -1, 1))


def _depth_as_pool(case: Case) -> Case:
    from .cases import PoolCase

    c, k, s = case.x_shape[1], case.pool_size, case.resolved_stride  # type: ignore[attr-defined]
    rows = math.prod((case.x_shape[0], *case.x_shape[2:]))
    return PoolCase("max", (rows, 1, c), k, stride=s)


def _global_as_pool(case: Case) -> Case:
    from .cases import PoolCase

    area = math.prod(case.x_shape[2:])
    return PoolCase("max", (case.x_shape[0] * case.x_shape[1], 1, area), area)


def jvp(case: Case, inputs: Inputs, *, ties: str = "first", nan: str = "propagate") -> np.ndarray:
    """The reference's JVP of ``case`` at ``inputs`` along ``inputs.tx`` (and ``tw``, ``tb``)."""
    from .cases import ConvCase, ConvTransposeCase, DepthPoolCase, GlobalPoolCase, PoolCase

    x, tx = inputs.x, inputs.tx
    assert tx is not None, "jvp needs tangents: Example.inputs(dtype, tangents=True)"
    if isinstance(case, (ConvCase, ConvTransposeCase)):
        assert inputs.w is not None and inputs.tw is not None
        out: np.ndarray = case.apply(tx, inputs.w, inputs.tb) + case.apply(x, inputs.tw)
        return out
    if isinstance(case, PoolCase):
        if case.kind == "avg":
            return avg_pool(tx, case.kernel, **case.kwargs())
        return _max_jvp(x, tx, case, ties, nan)
    if isinstance(case, DepthPoolCase):
        if case.mode == "avg":
            return depth_pool(tx, case.pool_size, mode="avg", stride=case.stride)
        flat = _max_jvp(_channels_as_width(x), _channels_as_width(tx), _depth_as_pool(case), ties, nan)
        return _channels_back(flat, x)
    assert isinstance(case, GlobalPoolCase)
    if case.mode == "avg":
        return global_avg_pool(tx, keepdims=case.keepdims)
    rows = (x.shape[0] * x.shape[1], 1, -1)
    flat = _max_jvp(x.reshape(rows), tx.reshape(rows), _global_as_pool(case), ties, nan)
    return flat.reshape(case.out_shape)


def jvp_bound(
    case: Case,
    inputs: Inputs,
    dtype: DTypeLike,
    *,
    ties: str = "first",
    nan: str = "propagate",
    accumulate: DTypeLike | None = None,
) -> np.ndarray:
    """Per-element rounding-error bound of :func:`jvp` for a framework computing in ``dtype``
    (accumulating in ``accumulate``; module docstring)."""
    from .cases import ConvCase, ConvTransposeCase, GlobalPoolCase, Inputs, PoolCase

    assert inputs.tx is not None, "jvp_bound needs tangents: Example.inputs(dtype, tangents=True)"
    absolute = Inputs(
        x=inputs.x, dy=inputs.dy, w=None if inputs.w is None else np.abs(inputs.w), b=None, tx=np.abs(inputs.tx)
    )
    if isinstance(case, (ConvCase, ConvTransposeCase)):
        assert inputs.tw is not None and inputs.w is not None
        absolute.x, absolute.tw = np.abs(inputs.x), np.abs(inputs.tw)
        absolute.tb = None if inputs.tb is None else np.abs(inputs.tb)
        magnitude = jvp(case, absolute)
        terms = 2 * case.products_per_output + 1
        return tol.sum_bound(magnitude, terms, dtype, accumulate=accumulate, roundings=3 + case.bias)
    mode = case.kind if isinstance(case, PoolCase) else case.mode  # type: ignore[attr-defined]
    if mode == "max" and ties == "first":
        return np.zeros(case.out_shape)  # one tangent copied
    if isinstance(case, PoolCase):
        taps_per_window = math.prod(case.kernel)
    elif isinstance(case, GlobalPoolCase):
        taps_per_window = math.prod(case.x_shape[2:])
    else:
        taps_per_window = case.pool_size  # type: ignore[attr-defined]
    magnitude = jvp(case, absolute, ties=ties, nan=nan)
    return tol.sum_bound(magnitude, taps_per_window + 1, dtype, accumulate=accumulate)


def draw_tangents(rng: np.random.Generator, case: Case) -> dict[str, np.ndarray]:
    """Tangents drawn like ``dy`` (standard normal): ``tx``, and for a convolution ``tw`` and ``tb``
    (with a bias). :meth:`~convequiv.reference.cases.Example.inputs` draws them after every other
    array, so asking for tangents leaves ``x``, ``w``, ``b`` and ``dy`` as they were."""
    drawn = {"tx": rng.standard_normal(case.x_shape)}
    w_shape = getattr(case, "w_shape", None)
    if w_shape is not None:
        drawn["tw"] = rng.standard_normal(w_shape)
        if getattr(case, "bias", False):
            drawn["tb"] = rng.standard_normal(case.out_shape[1])
    return drawn


def linearize(cls: type) -> None:
    """Make a case class's ``expected`` and ``bounds`` (those it defines itself) add ``jvp`` and its
    bound when the inputs carry tangents; without tangents they are untouched, so nothing is computed
    for adapters that do not produce a JVP. Called for every subclass of
    :class:`~convequiv.reference.cases.Case` as it is defined."""
    own = vars(cls)
    if "expected" in own and not getattr(own["expected"], "__isabstractmethod__", False):
        expected_only = own["expected"]

        @functools.wraps(expected_only)
        def expected(self: Case, inputs: Inputs, **policy: str) -> Arrays:
            out: Arrays = expected_only(self, inputs, **policy)
            if inputs.tx is not None:
                out["jvp"] = jvp(self, inputs, **policy)
            return out

        cls.expected = expected  # type: ignore[attr-defined]
    if "bounds" in own and not getattr(own["bounds"], "__isabstractmethod__", False):
        bounds_only = own["bounds"]

        @functools.wraps(bounds_only)
        def bounds(self: Case, inputs: Inputs, dtype: DTypeLike, **policy: Any) -> Arrays:
            out: Arrays = bounds_only(self, inputs, dtype, **policy)
            if inputs.tx is not None:
                out["jvp"] = jvp_bound(self, inputs, dtype, **policy)
            return out

        cls.bounds = bounds  # type: ignore[attr-defined]
