"""JAX's transposed convolution (op ``conv_transpose``), planned and run for
:class:`~convequiv.adapters.jax_adapter.JaxAdapter`, through two APIs:

* ``"lax"``: ``jax.lax.conv_transpose(x, w, strides, padding, rhs_dilation, dimension_numbers,
  transpose_kernel=True)``;
* ``"dilated"``: ``jax.lax.conv_general_dilated`` with ``lhs_dilation=stride`` and unit window
  strides (how Flax's ``ConvTranspose`` and others write it): the input dilated by the stride,
  correlated with the flipped kernel.

Layouts: channels-first throughout, with identity dimension numbers (as for the convolution,
:mod:`convequiv.adapters.jax_adapter`). Both APIs compute the correlation of the input dilated by
the stride ``s`` (``s - 1`` zeros between elements), padded by ``(P_lo, P_hi)``, with the flipped
kernel (``rhs_dilation = d``). A tap of input ``i`` at kernel index ``k`` lands on output
``i * s + k * d - lo`` (the reference's definition) exactly when, per dimension, with ``D = d * (k -
1)`` (the effective kernel less one) and ``tail`` the cells past the last tap (the case's
``output_padding``, or for ``"same"`` with an effective kernel shorter than the stride the ``s - D -
1`` empty cells it adds; ``n - (full - lo - hi)``)::

    P_lo = D - lo,    P_hi = D - hi + tail

which gives ``(n - 1) * s + 1 + P_lo + P_hi - D = (n - 1) * s - lo - hi + D + 1 + tail`` outputs, the
canonical length; ``(lo, hi)`` are the case's resolved pads (``case.pads``, also for ``"same"`` and
``"same_lower"``). They are not negative for the suite's cases (explicit padding below the
effective kernel; ``"same"`` pads at most ``D``); a larger crop gives a negative ``P``, which lax
takes as cutting the dilated input (forward and gradients checked against the reference for a
crop one cell past ``D``, outside the suite).

``"lax"`` (routes ``native SAME``, ``native VALID``, ``explicit pairs``): ``transpose_kernel=True``
flips the spatial axes and swaps the kernel's two channel axes; with the kernel spec ``OIHW``
(identity) our ``(C, O / groups, *k)`` weight is read as the forward convolution's kernel from ``O``
to ``C`` channels, PyTorch's layout. lax reads its ``padding`` two ways (its docstring): the strings
are the padding of the forward convolution it is the transpose of, resolved per dimension on the
effective kernel ``K = D + 1`` (``jax._src.lax.convolution._conv_transpose_padding``), while integer
pairs are ``(P_lo, P_hi)`` themselves, the padding of the dilated input:

* ``"SAME"``: ``P = (ceil((K + s - 2) / 2), floor((K + s - 2) / 2))`` when ``K > s``, else ``(K - 1,
  s - 1)``; ``n * s`` outputs with the odd cell of the crop at the end, and the ``s - K`` empty cells
  at the end when ``K < s``: canonical ``"same"`` in every case, which is passed by name;
* ``"VALID"``: ``P = (K - 1, s - 1 + max(K - s, 0))``, ``(n - 1) * s + max(K, s)`` outputs, Keras'
  convention: canonical ``"valid"`` with ``output_padding = max(s - K, 0)`` in every dimension,
  passed by name where the case is exactly that;
* every other case (``"same_lower"``, integers, pairs, ``"valid"`` with another ``output_padding``)
  as the integer pairs ``(P_lo, P_hi)``. (``use_consistent_padding=True``, which reads pairs as the
  forward padding too, is a recent parameter and not used, so that a plan means the same on every
  JAX the package accepts, ``jax>=0.4.20``.)

``lax.conv_transpose`` has no ``feature_group_count``: with ``groups > 1`` the route gains ``per
group`` and the op runs once per group, on the group's input channels and kernel slice, and the
outputs are concatenated along the channel axis (exact: the groups share no sum).

``"dilated"`` (route ``lhs_dilation pairs``): ``conv_general_dilated(x, w', window_strides=1,
padding=((P_lo, P_hi), ...), lhs_dilation=s, rhs_dilation=d, feature_group_count=groups)`` with the
kernel regrouped to the forward layout ``(O, C / groups, *k)``: ``w'[g * Og + o, c] = w[g * Cg + c,
o]`` flipped along every spatial axis (a reshape to ``(G, Cg, Og, *k)``, a swap of the two channel
axes, a reshape and a flip, inside the differentiated function). lax's ``"SAME"`` would resolve on
the dilated input at unit stride, ``(n - 1) * s + 1`` outputs, never the transposed convolution's,
so this API always passes pairs.

The bias is added after the call, broadcast over the spatial axes. Gradients are ``jax.vjp`` of the
whole forward function (slices, concatenation, kernel flips included), as for every other op.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jax import lax

from convequiv.reference.cases import ConvTransposeCase

from .base import Plan

#: ``(P_lo, P_hi)`` of the dilated input per spatial dimension.
Pairs = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class JaxTransposePlan(Plan):
    """``padding`` is lax's argument as passed: ``"SAME"``, ``"VALID"`` or the pairs ``(P_lo, P_hi)``
    of the dilated input (module docstring). ``per_group`` runs ``lax.conv_transpose`` once per group
    (api ``"lax"`` with ``groups > 1``)."""

    per_group: bool = False

    def describe(self) -> str:
        """One line, e.g. ``jax.lax.conv_transpose(strides=(2, 2), padding='SAME', rhs_dilation=(1, 1),
        transpose_kernel=True) [native SAME]``."""
        case = self.case
        assert isinstance(case, ConvTransposeCase)
        if self.api == "lax":
            args = (
                f"strides={case.stride}, padding={self.padding!r}, rhs_dilation={case.dilation}, transpose_kernel=True"
            )
            text = f"{self.call}({args})"
            if self.per_group:
                text += f" once per group ({case.groups} calls, concatenated)"
        else:
            args = (
                f"window_strides={(1,) * case.nd}, padding={self.padding!r}, lhs_dilation={case.stride}, "
                f"rhs_dilation={case.dilation}, feature_group_count={case.groups}"
            )
            text = f"{self.call}({args}) of the flipped, regrouped kernel"
        return f"{text} [{self.route}]"


def tail(case: ConvTransposeCase) -> tuple[int, ...]:
    """The output cells past the last tap per dimension: ``output_padding``, or for ``"same"`` with an
    effective kernel shorter than the stride the empty cells it adds (``out - (full - lo - hi)``)."""
    return tuple(n - (f - lo - hi) for n, f, (lo, hi) in zip(case.out_shape[2:], case.full_sizes, case.pads))


def dilated_pairs(case: ConvTransposeCase) -> Pairs:
    """``(D - lo, D - hi + tail)`` per dimension: the padding of the stride-dilated input."""
    spans = (d * (k - 1) for d, k in zip(case.dilation, case.kernel))
    return tuple((span - lo, span - hi + t) for span, (lo, hi), t in zip(spans, case.pads, tail(case)))


def _is_keras_valid(case: ConvTransposeCase) -> bool:
    """``"valid"`` with ``output_padding = max(s - K, 0)`` in every dimension: lax's ``"VALID"``."""
    keras_extra = tuple(max(s - d * (k - 1) - 1, 0) for s, d, k in zip(case.stride, case.dilation, case.kernel))
    return case.padding == "valid" and case.output_padding == keras_extra


def transposed_plan(case: ConvTransposeCase, api: str, dtype: str) -> JaxTransposePlan:
    """The plan of ``case`` through ``api`` (``"lax"`` or ``"dilated"``; module docstring)."""
    if api == "dilated":
        call = "jax.lax.conv_general_dilated"
        return JaxTransposePlan(case, api, dtype, "lhs_dilation pairs", call, dilated_pairs(case))
    padding: str | Pairs
    if case.padding == "same":
        route, padding = "native SAME", "SAME"
    elif _is_keras_valid(case):
        route, padding = "native VALID", "VALID"
    else:
        route, padding = "explicit pairs", dilated_pairs(case)
    per_group = case.groups > 1
    if per_group:
        route += ", per group"
    return JaxTransposePlan(case, api, dtype, route, "jax.lax.conv_transpose", padding, per_group=per_group)


def _identity_numbers(case: ConvTransposeCase) -> lax.ConvDimensionNumbers:
    axes = tuple(range(case.nd + 2))
    return lax.ConvDimensionNumbers(axes, axes, axes)


def _padding(plan: JaxTransposePlan) -> str | Pairs:
    assert isinstance(plan.padding, (str, tuple)), plan.padding
    return plan.padding


def conv_transpose(plan: JaxTransposePlan, x: jax.Array, w: jax.Array, b: jax.Array | None) -> jax.Array:
    """The forward op of ``plan`` on channels-first ``x``, ``w`` ``(C, O / groups, *k)`` and ``b``."""
    case = plan.case
    assert isinstance(case, ConvTransposeCase)
    numbers = _identity_numbers(case)
    if plan.api == "dilated":
        groups, cg, og = case.groups, case.x_shape[1] // case.groups, case.w_shape[1]
        regrouped = w.reshape((groups, cg, og) + case.kernel).swapaxes(1, 2).reshape((groups * og, cg) + case.kernel)
        y = lax.conv_general_dilated(
            x,
            jnp.flip(regrouped, tuple(range(2, case.nd + 2))),
            window_strides=(1,) * case.nd,
            padding=_padding(plan),
            lhs_dilation=case.stride,
            rhs_dilation=case.dilation,
            dimension_numbers=numbers,
            feature_group_count=groups,
        )
    else:
        pieces = [(x, w)]
        if plan.per_group:
            cg = case.x_shape[1] // case.groups
            pieces = [(x[:, g * cg : (g + 1) * cg], w[g * cg : (g + 1) * cg]) for g in range(case.groups)]
        parts = [
            lax.conv_transpose(
                xg,
                wg,
                case.stride,
                _padding(plan),
                rhs_dilation=case.dilation,
                dimension_numbers=numbers,
                transpose_kernel=True,
            )
            for xg, wg in pieces
        ]
        y = parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=1)
    return y if b is None else y + b.reshape((1, -1) + (1,) * case.nd)
