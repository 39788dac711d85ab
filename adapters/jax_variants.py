"""JAX execution variants: the cases and plans of ``jax``, run on another path.

Selected as ``jax/<variant>`` (:data:`convequiv.adapters.VARIANTS`); each is a subclass of
:class:`~convequiv.adapters.jax_adapter.JaxAdapter` whose instances bear the full name (a column of
its own; records for ``jax`` cover it, one naming the variant covers only the variant). Every
variant keeps the base adapter's plans, refusals, declared semantics and forward functions
(:mod:`convequiv.adapters.jax_adapter`, :mod:`convequiv.adapters.jax_transposed`).

``jax/eager``
    The forward function of the plan, ``jax.vjp`` (forward and backward) and ``jax.jvp`` run inside
    ``jax.disable_jit()``: nothing is staged into one program. Every ``jax.numpy`` function that JAX
    itself wraps in ``jax.jit`` (``jnp.max``, ``jnp.mean``, ``jnp.stack``, ``jnp.flip``,
    ``jnp.concatenate``...) runs its Python body instead, so each primitive of the forward, of its
    linearization and of the transposed (backward) program is dispatched on its own
    (``jax._src.dispatch.apply_primitive``): XLA compiles that one primitive, cached per primitive,
    parameters, shapes and dtypes, and runs it. No fusion across primitives, no common
    subexpressions shared between the forward, the VJP and the JVP: the path of code run without
    ``jax.jit``, where the NaN and tie rules of the gradient rules apply primitive by primitive
    (the ``jnp.max`` gradient at a NaN maximum is ``0 / 0``, NaN, where a jitted program gives 0).

``jax/eager`` compiles too: XLA builds one executable per primitive, parameters and shapes
(``jax._src.dispatch.xla_primitive_callable``), so every new case still costs compilations, a
dozen or more small ones (forward, linearization, transpose) instead of one fused program. Measured
on the suite's derandomized streams (8 drawn examples per op, every op and API, float32 and
float64, 176 checks, CPU time of whole checks on a shared 2-core machine): ``jax`` 5.8 checks per
CPU second, ``jax/eager`` 2.7 (the jitted program with the JVP: 5.1). Hence it keeps the base
adapter's ``compiles_per_case`` (the smaller example budget of compiled adapters).

The JVP (output ``jvp``, as for ``jax``): ``jax.jvp`` of the forward function at ``(x, w, b)``
along the tangents ``(tx, tw, tb)`` the suite draws, checked against the reference's
linearization (:mod:`convequiv.reference.linearization`). ``jax.jvp`` of ``lax.reduce_window`` max
is ``select_and_gather_add`` with the selector ``ge`` (the same selection as the gradient's
``select_and_scatter_add``: the tangent of the first maximum, ``ties="first"``), lowered on CPU as a
variadic ``reduce_window`` over (value, tangent) pairs whose init is ``(-inf, 0)``; ``jnp.max``'s
JVP is the mean tangent of the elements equal to the maximum (``ties="split"``). Where they differ
from the reference (NaN, windows whose maximum is ``-inf``): records ``jax-*-jvp-*``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import jax
import numpy as np

from .base import GRADIENTS
from .jax_adapter import AnyJaxPlan, JaxAdapter, Program, _forward_and_backward, _forward_fn


class JaxEagerAdapter(JaxAdapter):
    """``jax/eager``: forward, VJP and JVP op by op under ``jax.disable_jit()`` (module docstring)."""

    name = "jax/eager"
    produces: ClassVar[frozenset[str]] = GRADIENTS | {"jvp"}

    def _program(
        self, plan: AnyJaxPlan, primals: tuple[np.ndarray, ...], dy: np.ndarray, tangents: tuple[np.ndarray, ...]
    ) -> Program:
        """The un-jitted forward, ``jax.vjp`` and ``jax.jvp`` of ``plan``, called under
        ``jax.disable_jit()``; nothing is cached here (JAX caches each primitive's executable)."""
        step = _forward_and_backward(_forward_fn(plan))

        def eager(*arrays: Any) -> Any:
            with jax.disable_jit():
                return step(*arrays)

        return eager
