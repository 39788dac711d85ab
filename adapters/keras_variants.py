"""Keras 3 execution variants: the cases and plans of ``keras[B]``, run inside backend B's compiled training step.

Selected as ``keras[tensorflow]/jit``, ``keras[jax]/jit``, ``keras[torch]/jit`` (:data:`convequiv.adapters.VARIANTS`);
each is a subclass of :class:`~convequiv.adapters.keras_adapter.KerasAdapter` whose instances bear the full name (a
column of its own; records for ``keras[B]`` cover it, one naming the variant covers only the variant). A variant
runs in a process whose Keras backend is B: :func:`convequiv.adapters.load` starts a worker process with
``KERAS_BACKEND=B`` when this process already uses another backend (Keras reads it once per process).

Every variant keeps the base adapter's plans (:meth:`KerasAdapter.support`: routes, layouts, refusals, declared
semantics) and its computation (:func:`convequiv.adapters.keras_graph.graph`: the ``keras.ops`` call or the
``keras.layers`` layer with its pad and crop steps, channels-last), and runs forward and backward the way
``model.fit`` runs a training step with ``jit_compile=True`` on that backend. The step takes the scalar loss
``sum(dy * y)`` (whose gradient with respect to ``y`` is ``dy``, exactly) and returns ``y`` with the gradients
``dx`` and, for a convolution, those of the kernel and bias (``keras.ops`` arguments, or the layer's trainable
variables):

``keras[tensorflow]/jit``
    ``tf.function(step, jit_compile=True, reduce_retracing=True)`` (Keras' ``TensorFlowTrainer.make_train_function``)
    with a ``tf.GradientTape`` inside; the layer's variables are captured by the function and assigned
    (``set_weights``) before each call. XLA compiles the step for the CPU: no TensorFlow (oneDNN / Eigen) kernel
    runs, so the base adapter's refusals by TensorFlow's CPU kernels are not this variant's
    (:meth:`KerasTensorFlowJitAdapter._tf_kernels`).
``keras[jax]/jit``
    ``jax.jit`` of ``jax.value_and_grad(loss, has_aux=True)`` (Keras' ``JAXTrainer``): a layer runs through
    ``layer.stateless_call(trainable_values, non_trainable_values, x)`` with its weights as arguments of the
    compiled function, ``keras.ops`` calls take the kernel and bias as arguments.
``keras[torch]/jit``
    ``torch.compile(step)`` with Keras' defaults (``TorchTrainer.make_train_function``: no ``fullgraph``, the
    default backend, Inductor), the step calling ``loss.backward()`` inside the compiled function as Keras'
    ``train_step`` does (Dynamo breaks the graph there; the backward is AOTAutograd's compiled one); gradients are
    read from the leaves' and the variables' ``.grad``, cleared before each step. Each program is compiled for one
    input shape (a ``fit`` whose batches have one shape; Dynamo's automatic dynamic shapes would start with a
    second shape: docs/findings/torch-compile-dynamic-shapes.md), with a code object of its own (Dynamo keeps its
    cache per code object) and the recompile limit lifted, so nothing falls back to eager silently.

Programs are cached per :meth:`Plan.signature` (plus the Keras plan's ``output_padding``, crop, depthwise and
stacking decisions; on torch also per input shapes): the layer is built once per program and its weights are set
per call, so the suite checks several value draws per compiled case (``draws_per_case``,
:func:`convequiv.reference.strategies.value_draws`). :meth:`KerasJitAdapter.compile_stats` counts programs,
compilations and first-call seconds (``convequiv bench --suite``). Both APIs run (``"ops"``, ``"layer"``); dtypes,
outputs (no JVP) and refusals are the base adapter's except where named above.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from convequiv.reference.cases import Case, ConvCase, GlobalPoolCase, PoolCase

from . import keras_graph as kg
from . import translate as tr
from .base import Arrays, Plan, Semantics, UnsupportedCase
from .keras_adapter import KerasAdapter, KerasPlan

#: ``program(xs, values, dy) -> (y, [dxs..., dvalues...])`` on NumPy arrays: ``xs`` the arrays of
#: ``graph.fn`` (channels-last ``x``, then the kernel and bias of a ``keras.ops`` call), ``values`` the
#: weights of ``graph.layer`` (kernel, bias), ``dy`` channels-last.
Program = Callable[[list[np.ndarray], list[np.ndarray], np.ndarray], tuple[Any, list[Any]]]


def signature(plan: KerasPlan) -> tuple[Any, ...]:
    """What a compiled program of ``plan`` depends on besides the input shapes."""
    return (*plan.signature(), plan.output_padding, plan.crop, plan.crop_call, plan.depthwise, plan.stacked)


def stateless(graph: kg.Graph) -> Callable[[list[Any], list[Any]], Any]:
    """``forward(xs, values)``: ``graph.fn(*xs)``, or for a layer its steps on ``xs[0]`` with the layer run
    by ``stateless_call`` on the weights ``values`` (pad and crop steps as they are), so that the weights
    are arguments of a compiled function instead of captured variables."""
    layer, steps, fn = graph.layer, graph.steps, graph.fn
    frozen = [v.value for v in layer.non_trainable_variables] if layer is not None else []

    def forward(xs: list[Any], values: list[Any]) -> Any:
        if layer is None:
            return fn(*xs)
        x = xs[0]
        for s in steps:
            x = s.stateless_call(values, frozen, x)[0] if s is layer else s(x)
        return x

    return forward


@dataclass
class JitStats:
    """Compilations of one process: programs built, compiled shapes, checks and first-call seconds."""

    programs: int = 0
    compiles: int = 0
    calls: int = 0
    first_call_seconds: float = 0.0
    seen: set[tuple[Any, ...]] = field(default_factory=set)


class KerasJitAdapter(KerasAdapter):
    """Base of the variants: a program per signature (:meth:`program`), built by the backend's hook
    :meth:`compile`, run on the inputs the base adapter would hand Keras."""

    name: ClassVar[str] = "keras[?]/jit"
    #: The Keras backend the variant needs (its process's).
    keras_backend: ClassVar[str] = ""
    compiles_per_case: ClassVar[bool] = True
    #: Value draws the suite checks per compiled case (pytest_plugin.Equivalence.check).
    draws_per_case: ClassVar[int] = 10

    def __init__(self) -> None:
        super().__init__()
        if self.backend != self.keras_backend:
            raise ValueError(
                f"{type(self).name} needs the Keras backend {self.keras_backend!r}, this process uses "
                f"{self.backend!r}; load it through convequiv.adapters.load, which starts a worker process"
            )
        self.name = type(self).name  # type: ignore[misc]
        self._programs: dict[tuple[Any, ...], Program] = {}
        self.stats = JitStats()

    #: Whether a program is compiled for one set of input shapes (the cache key then includes them).
    static_shapes: ClassVar[bool] = False

    def key(self, plan: KerasPlan, inputs: Arrays) -> tuple[Any, ...]:
        """The cache key of ``plan``'s program: its signature, and the input shapes where
        :attr:`static_shapes`."""
        if self.static_shapes:
            return (signature(plan), tuple(sorted((k, v.shape) for k, v in inputs.items())))
        return signature(plan)

    def program(self, plan: KerasPlan, inputs: Arrays, xs: list[np.ndarray], values: list[np.ndarray]) -> Program:
        """The compiled program of ``plan`` (built and cached on first use; ``xs`` and ``values`` are the
        first call's arguments, for a compiler that needs their shapes)."""
        key = self.key(plan, inputs)
        if key not in self._programs:
            self._programs[key] = self.compile(kg.graph(self.keras, plan, None), xs, values)
            self.stats.programs += 1
        return self._programs[key]

    def compile(self, graph: kg.Graph, xs: list[np.ndarray], values: list[np.ndarray]) -> Program:
        """The backend's compiled training step of ``graph`` (built without weights)."""
        raise NotImplementedError

    def run(self, plan: Plan, inputs: Arrays) -> Arrays:
        if not isinstance(plan, KerasPlan):
            raise UnsupportedCase(f"{self.name} runs KerasPlans, got {type(plan).__name__}")
        weights = kg.params(plan, inputs)
        x = tr.channels_last(inputs["x"])
        xs, values = ([x], weights) if plan.api == "layer" else ([x, *weights], [])
        shapes = tuple(sorted((k, v.shape) for k, v in inputs.items()))
        first = (signature(plan), shapes) not in self.stats.seen
        started = time.perf_counter()
        program = self.program(plan, inputs, xs, values)
        y, grads = program(xs, values, tr.channels_last(inputs["dy"]) if "dy" in inputs else np.zeros(0))
        self.stats.calls += 1
        if first:
            self.stats.seen.add((signature(plan), shapes))
            self.stats.compiles += 1
            self.stats.first_call_seconds += time.perf_counter() - started
        return self._outputs(plan, inputs, y, grads)

    def _outputs(self, plan: KerasPlan, inputs: Arrays, y: Any, grads: list[Any]) -> Arrays:
        """The check's outputs, channels-first, from the program's ``y`` and gradients."""
        grads = [self._numpy(g) for g in grads]
        out = {"y": tr.channels_first(self._numpy(y)), "dx": tr.channels_first(grads[0])}
        if "w" in inputs:  # kernel and bias gradients: ops arguments, or the layer's variables (kernel first)
            out["dw"] = tr.depthwise_kernel_back(grads[1]) if plan.depthwise else tr.kernel_channels_first(grads[1])
            if len(grads) > 2:
                out["db"] = grads[2]
        return out

    def _numpy(self, t: Any) -> np.ndarray:
        return np.asarray(t)

    def compile_stats(self) -> dict[str, float]:
        """``programs`` (compiled steps), ``compiles`` (distinct signature and shapes), ``checks``,
        ``compile_seconds`` (first calls: compilation plus one run) and ``checks_per_compile``."""
        s = self.stats
        return {
            "programs": s.programs,
            "compiles": s.compiles,
            "checks": s.calls,
            "compile_seconds": round(s.first_call_seconds, 3),
            "checks_per_compile": round(s.calls / s.compiles, 2) if s.compiles else 0.0,
        }

    def reproduction(self, plan: Plan) -> str | None:
        return None  # the standalone source of keras[B] would not take this variant's path


# -------------------------------------------------------------------------------------- TensorFlow
class KerasTensorFlowJitAdapter(KerasJitAdapter):
    name: ClassVar[str] = "keras[tensorflow]/jit"
    keras_backend: ClassVar[str] = "tensorflow"

    def _tf_kernels(self, dtype: str) -> str:
        """XLA compiles every op: no TensorFlow CPU kernel (and none of their refusals) is involved."""
        return "xla"

    def _refusal(self, case: ConvCase | PoolCase, api: str, dtype: str) -> str | None:
        """The base adapter's refusals, less the missing float64 AvgPool3D CPU kernel (XLA lowers 3-D
        pooling itself); MaxPool3D's type list lacks float64 under XLA too."""
        if isinstance(case, PoolCase) and case.nd == 3 and dtype == "float64":
            return "TensorFlow's MaxPool3D op has no float64 type (under XLA too)" if case.kind == "max" else None
        return super()._refusal(case, api, dtype)

    def semantics(self, case: Case, api: str) -> Semantics:
        """``keras.ops.max`` (global max pooling) compiled by XLA skips NaN, wherever it lies (TF 2.21:
        ``[1, nan, 2] -> 2`` with the gradient on the 2, ``[nan, nan] -> -inf``; eager ``tf.reduce_max``
        returns NaN: tensorflow/tensorflow#116992). Ties still split the gradient. The DepthPool max does
        the same, which the reference's depth pooling cannot be told (it always propagates NaN): record
        ``keras-tensorflow-jit-depth-pool-max-skips-nan``."""
        if isinstance(case, GlobalPoolCase) and case.mode == "max":
            return Semantics(ties="split", nan="ignore")
        return super().semantics(case, api)

    def compile(self, graph: kg.Graph, xs: list[np.ndarray], values: list[np.ndarray]) -> Program:
        import tensorflow as tf

        fn = graph.fn
        variables = list(graph.layer.trainable_variables) if graph.layer is not None else []

        def step(xs: list[Any], dy: Any) -> tuple[Any, list[Any]]:
            with tf.GradientTape() as tape:
                tape.watch(xs)
                y = fn(*xs)
                loss = tf.reduce_sum(y * dy)
            return y, tape.gradient(loss, [*xs, *variables])

        compiled = tf.function(step, jit_compile=True, reduce_retracing=True)
        layer = graph.layer

        def program(xs: list[np.ndarray], values: list[np.ndarray], dy: np.ndarray) -> tuple[Any, list[Any]]:
            if layer is not None:
                layer.set_weights(values)
            y, grads = compiled([tf.constant(a) for a in xs], tf.constant(dy))
            if any(g is None for g in grads):
                raise RuntimeError("tf.GradientTape found no path from an input to the output")
            return y.numpy(), [g.numpy() for g in grads]

        return program


# --------------------------------------------------------------------------------------------- JAX
class KerasJaxJitAdapter(KerasJitAdapter):
    name: ClassVar[str] = "keras[jax]/jit"
    keras_backend: ClassVar[str] = "jax"

    def compile(self, graph: kg.Graph, xs: list[np.ndarray], values: list[np.ndarray]) -> Program:
        import jax
        import jax.numpy as jnp

        forward = stateless(graph)

        def loss(xs: list[Any], values: list[Any], dy: Any) -> tuple[Any, Any]:
            y = forward(xs, values)
            return jnp.sum(y * dy), y

        grad = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)

        def step(xs: list[Any], values: list[Any], dy: Any) -> tuple[Any, list[Any]]:
            (_, y), (dxs, dvalues) = grad(xs, values, dy)
            return y, [*dxs, *dvalues]

        compiled = jax.jit(step)

        def program(xs: list[np.ndarray], values: list[np.ndarray], dy: np.ndarray) -> tuple[Any, list[Any]]:
            return compiled(xs, values, dy)  # type: ignore[no-any-return]

        return program


# ------------------------------------------------------------------------------------------- torch
class KerasTorchJitAdapter(KerasJitAdapter):
    name: ClassVar[str] = "keras[torch]/jit"
    keras_backend: ClassVar[str] = "torch"
    static_shapes: ClassVar[bool] = True  # module docstring

    def __init__(self) -> None:
        super().__init__()
        import torch._dynamo.config as dynamo_config
        import torch._inductor.config as inductor_config

        dynamo_config.recompile_limit = 1 << 30
        dynamo_config.accumulated_recompile_limit = 1 << 30
        dynamo_config.fail_on_recompile_limit_hit = True  # never run eager silently
        inductor_config.compile_threads = 1

    def _numpy(self, t: Any) -> np.ndarray:
        return np.asarray(t.detach().cpu().numpy()) if hasattr(t, "detach") else np.asarray(t)

    def compile(self, graph: kg.Graph, xs: list[np.ndarray], values: list[np.ndarray]) -> Program:
        import torch

        from .torch_variants import _own_code

        fn, layer = graph.fn, graph.layer
        variables = [v.value for v in layer.trainable_variables] if layer is not None else []

        def step(xs: list[Any], dy: Any) -> Any:
            y = fn(*xs)
            loss = (y * dy).sum()
            loss.backward()
            return y

        compiled = torch.compile(_own_code(step, "keras_step"))

        def program(xs: list[np.ndarray], values: list[np.ndarray], dy: np.ndarray) -> tuple[Any, list[Any]]:
            if layer is not None:
                layer.set_weights(values)
            for v in variables:
                v.grad = None  # Keras' train_step: zero_grad()
            leaves = [torch.tensor(a, requires_grad=True) for a in xs]
            y = compiled(leaves, torch.from_numpy(dy))
            grads = [t.grad for t in leaves] + [v.grad for v in variables]
            if any(g is None for g in grads):
                raise RuntimeError("torch autograd found no path from an input to the output")
            return y, grads

        return program
