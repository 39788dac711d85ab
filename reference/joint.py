"""A case's expected values and their rounding-error bounds in one pass, sharing the work.

:meth:`convequiv.reference.cases.Case.expected` runs the reference on the example's inputs and
:meth:`~convequiv.reference.cases.Case.bounds` runs it again on absolute values (the ``magnitude``
of :mod:`convequiv.reference.tolerance`). Every equivalence check needs both, so
:func:`expected_and_bounds` computes them together where the two share work:

* convolution: ``conv(x, w, b)`` and ``conv(|x|, |w|, |b|)`` are one convolution with twice the
  groups, of ``x`` and ``|x|`` stacked along the channels and ``w`` and ``|w|`` along the output
  channels (group ``g`` of the first half never reads the second); the backward pass likewise with
  ``dy`` and ``|dy|`` stacked, which gives ``dx``, ``dw``, ``db`` and their magnitudes at once;
* max pooling: the gradient of ``dy`` and of ``|dy|`` take the same route (the maxima depend on
  ``x`` only), so the maxima, the routing and the forward output are found once
  (:func:`convequiv.reference.pooling.max_pool_gradients`);
* average pooling: ``avg_pool(x)`` and ``avg_pool(|x|)`` are one call on the two stacked along the
  batch, and so are the gradients of ``dy`` and ``|dy|``.

The bounds are :func:`convequiv.reference.tolerance.sum_bound` of those magnitudes with the term
counts of the matching ``tolerance.*_bound`` function; the values equal :meth:`expected`'s (the
stacked calls run the same per-group products, up to the summation order a different structure
may choose, within the float64 bound). Other cases (depth and global pooling, whose reference
calls are a handful of NumPy calls each), and inputs with tangents, take
``case.expected`` and ``case.bounds`` as they are.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from . import tolerance as tol
from .convolution import conv, conv_backward
from .pooling import avg_pool, avg_pool_backward, max_pool_gradients
from .windows import plan_of

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

    from .cases import Arrays, Case, Inputs


def expected_and_bounds(
    case: Case, inputs: Inputs, dtype: DTypeLike, *, ties: str = "first", nan: str = "propagate", **bound_options: Any
) -> tuple[Arrays, Arrays]:
    """``(case.expected(inputs, ...), case.bounds(inputs, dtype, ...))``, sharing their work.

    ``bound_options`` whose value is not ``None`` go to ``case.bounds`` as they are, and the two
    are then computed apart (as they are for inputs with tangents)."""
    joint = _JOINT.get(type(case).__name__)
    options = {k: v for k, v in bound_options.items() if v is not None}
    if joint is None or options or getattr(inputs, "tx", None) is not None:
        return case.expected(inputs, ties=ties, nan=nan), case.bounds(inputs, dtype, ties=ties, nan=nan, **options)
    return joint(case, inputs, dtype, ties, nan)


def _conv(case: Any, inputs: Inputs, dtype: DTypeLike, ties: str, nan: str) -> tuple[Arrays, Arrays]:
    x, w, b, dy = inputs.x, inputs.w, inputs.b, inputs.dy
    assert w is not None
    kw = {**case.kwargs(), "groups": 2 * case.groups}
    c, o = x.shape[1], w.shape[0]
    both = conv(
        np.concatenate([x, np.abs(x)], axis=1),
        np.concatenate([w, np.abs(w)]),
        None if b is None else np.concatenate([b, np.abs(b)]),
        **kw,
    )
    dx, dw, db = conv_backward(
        np.concatenate([x, np.abs(x)], axis=1),
        np.concatenate([w, np.abs(w)]),
        np.concatenate([dy, np.abs(dy)], axis=1),
        **kw,
    )
    taps = math.prod(case.kernel)
    per_output = dy.shape[0] * math.prod(dy.shape[2:])
    terms = {
        "y": w.shape[1] * taps + 1,
        "dx": o // case.groups * taps,
        "dw": per_output,
        "db": per_output,
    }
    split = {"y": (both[:, :o], both[:, o:]), "dx": (dx[:, :c], dx[:, c:]), "dw": (dw[:o], dw[o:])}
    if case.bias:
        split["db"] = (db[:o], db[o:])
    want = {k: v for k, (v, _) in split.items()}
    bounds = {k: tol.sum_bound(m, terms[k], dtype) for k, (_, m) in split.items()}
    return want, bounds


def _pool(case: Any, inputs: Inputs, dtype: DTypeLike, ties: str, nan: str) -> tuple[Arrays, Arrays]:
    x, dy = inputs.x, inputs.dy
    taps = math.prod(case.kernel)
    if case.kind == "max":
        y, (dx, mdx) = max_pool_gradients(x, [dy, np.abs(dy)], plan_of(case.geometry, x.shape), ties, nan)
        return {"y": y, "dx": dx}, {"y": np.zeros(case.out_shape), "dx": tol.sum_bound(mdx, taps + 1, dtype)}
    kw = case.kwargs()
    n = x.shape[0]
    both = avg_pool(np.concatenate([x, np.abs(x)]), case.kernel, **kw)
    twice = np.broadcast_to(x, (2,) + x.shape).reshape((2 * n,) + x.shape[1:])
    grads = avg_pool_backward(twice, np.concatenate([dy, np.abs(dy)]), case.kernel, **kw)
    want = {"y": both[:n], "dx": grads[:n]}
    bounds = {"y": tol.sum_bound(both[n:], taps + 1, dtype), "dx": tol.sum_bound(grads[n:], taps + 1, dtype)}
    return want, bounds


_JOINT = {"ConvCase": _conv, "PoolCase": _pool}
