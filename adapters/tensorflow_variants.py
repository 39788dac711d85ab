"""TensorFlow execution variants: the cases and plans of ``tensorflow``, run on two other paths.

Selected as ``tensorflow/<variant>`` (:data:`convequiv.adapters.VARIANTS`); each is a subclass of
:class:`~convequiv.adapters.tensorflow_adapter.TensorFlowAdapter` whose instances bear the full
name (a column of its own; records for ``tensorflow`` cover it, one naming the variant covers only
the variant). Both keep the base adapter's plans (functions, padding routes, layouts, arguments)
and add float16 and bfloat16 and the JVP (``tf.autodiff.ForwardAccumulator``, forward mode, along
the tangents the suite draws; :mod:`convequiv.reference.linearization`).

``tensorflow/xla``
    Forward, ``tf.GradientTape`` backward and forward-mode JVP inside one
    ``tf.function(jit_compile=True)``: TensorFlow lowers the ops to XLA (tf2xla) and compiles them
    for the CPU, so neither oneDNN nor TensorFlow's own (Eigen) kernels run. One function per
    *signature* (the plan without batch and spatial sizes: function, padding argument, pre-pad,
    kernel layout, arguments, dtype); ``tf.function`` traces it once per input shape and XLA
    compiles each trace (``reduce_retracing``: after a second shape it traces with unknown sizes,
    XLA still compiles per concrete shape). :meth:`TensorFlowXlaAdapter.compile_stats` counts
    traces, compiled shapes and first-call seconds (``convequiv bench --suite``). XLA implements the
    ops itself, so the refusals of TensorFlow's CPU kernels (:class:`TensorFlowAdapter`) are not
    its refusals; :meth:`TensorFlowXlaAdapter.support` keeps the refusals TensorFlow makes in
    Python before any kernel (and those of tf2xla, checked the same way: the compiled call must
    raise inside TensorFlow) and runs every other case.
``tensorflow/no-onednn``
    TensorFlow with ``TF_ENABLE_ONEDNN_OPTS=0``, read once at import: the adapter runs in a worker
    process started with it (:data:`convequiv.adapters.VARIANT_ENVIRONMENT`), where float32 runs on
    TensorFlow's own (Eigen) CPU kernels as float64 always does. The base adapter's refusals follow
    (``TensorFlowAdapter._eigen``); the constructor checks that oneDNN is really off.

Reduced precision: float16 and bfloat16 run where TensorFlow has the CPU kernel (``MaxPool3D`` and
``AvgPool3D`` have none for float16: ``NotFoundError``, checked like every refusal). Which format
the sums accumulate in is declared by :meth:`TensorFlowVariant.semantics` and argued in
:mod:`convequiv.reference.tolerance`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import tensorflow as tf

from convequiv.reference.cases import Case, ConvCase, DepthPoolCase, PoolCase

from . import translate as tr
from .base import GRADIENTS, Arrays, Plan, Semantics, Unsupported
from .tensorflow_adapter import (
    EIGEN_KERNEL_REFUSALS,
    TensorFlowAdapter,
    TensorFlowPlan,
    _attempt,
    _onednn_enabled,
)

PRIMALS = ("x", "w", "b")
Step = Callable[..., dict[str, Any]]


def _gradient_step(plan: TensorFlowPlan, names: tuple[str, ...]) -> Step:
    """``step(*primals, dy) -> {"y", "d<name>"...}`` on TensorFlow tensors laid out as the plan says
    (channels-last data, kernels in ``plan.kernel_layout``), as :meth:`TensorFlowAdapter.run` does."""

    def step(*arrays: Any) -> dict[str, Any]:
        primals, dy = list(arrays[: len(names)]), arrays[len(names)]
        t = dict(zip(names, primals))
        with tf.GradientTape() as tape:
            tape.watch(primals)
            y = TensorFlowAdapter._forward(plan, t)
        out: dict[str, Any] = {"y": y}
        # A wrongly shaped y (recorded divergences) has no gradient against dy. Only eager shapes are
        # the computed ones: a traced function's static shape may be partly unknown (reduce_retracing)
        # or wrong (tf-conv3d-dilation-static-shape, Conv3D's shape function), while the op computes
        # the right one.
        if tf.executing_eagerly() and tuple(y.shape) != tuple(dy.shape) and not plan.probe:
            return out
        grads = tape.gradient(y, primals, output_gradients=None if plan.probe else dy)
        for name, grad in zip(names, grads):
            if grad is not None:
                out[f"d{name}"] = grad
        return out

    return step


def _jvp_step(plan: TensorFlowPlan, names: tuple[str, ...]) -> Step:
    """``step(*primals, *tangents) -> {"jvp"}``: forward mode (``tf.autodiff.ForwardAccumulator``)."""

    def step(*arrays: Any) -> dict[str, Any]:
        primals, tangents = list(arrays[: len(names)]), list(arrays[len(names) :])
        with tf.autodiff.ForwardAccumulator(primals, tangents) as accumulator:
            y = TensorFlowAdapter._forward(plan, dict(zip(names, primals)))
        return {"jvp": accumulator.jvp(y)}

    return step


class TensorFlowVariant(TensorFlowAdapter):
    """Base of the variants: reduced precision, the JVP, and the hook :meth:`step` (the callable
    one check runs)."""

    name: ClassVar[str] = "tensorflow/?"
    dtypes: ClassVar[tuple[str, ...]] = ("float32", "float64", "float16", "bfloat16")
    produces: ClassVar[frozenset[str]] = GRADIENTS | {"jvp"}

    def support(self, case: Case, api: str, dtype: str) -> TensorFlowPlan | Unsupported:
        plan = super().support(case, api, dtype)
        if isinstance(plan, TensorFlowPlan) and dtype == "float16" and self._pool3d(case, api):
            kind = case.kind if isinstance(case, PoolCase) else case.mode  # type: ignore[attr-defined]
            return Unsupported(f"{kind.capitalize()}Pool3D has no float16 CPU kernel", attempt=_attempt(plan))
        return plan

    @staticmethod
    def _pool3d(case: Case, api: str) -> bool:
        """Whether ``case`` runs as MaxPool3D / AvgPool3D: 3-D pooling (``tf.nn.pool`` too), or 3-D
        depth-window pooling through ``tf.nn.max_pool`` / ``avg_pool`` (the generic API reduces instead)."""
        if isinstance(case, PoolCase):
            return case.nd == 3
        return isinstance(case, DepthPoolCase) and case.nd == 3 and api == "nn"

    def semantics(self, case: Case, api: str) -> Semantics:
        base = super().semantics(case, api)
        return Semantics(ties=base.ties, nan=base.nan, **self.accumulation(case, api))

    def accumulation(self, case: Case, api: str) -> dict[str, str]:
        """``accumulate`` / ``accumulate_gradients`` of :class:`Semantics` (reference/tolerance.py):
        TensorFlow's own CPU kernels compute float16 / bfloat16 in Eigen's half types, whose every
        operation rounds to the storage format."""
        return {}

    def step(self, plan: TensorFlowPlan, names: tuple[str, ...], kind: str) -> Step:
        """The callable of one check: ``kind`` ``"gradients"`` (forward and backward) or ``"jvp"``."""
        return _gradient_step(plan, names) if kind == "gradients" else _jvp_step(plan, names)

    def run(self, plan: Plan, inputs: Arrays) -> Arrays:
        if not isinstance(plan, TensorFlowPlan):
            raise TypeError(f"{self.name}: run() takes a TensorFlowPlan from support(), got {plan.describe()}")
        names = tuple(k for k in PRIMALS if k in inputs and (k == "x" or plan.kernel_layout))
        primals = [self._to_tf(plan, k, inputs[k]) for k in names]
        result = self.step(plan, names, "gradients")(*primals, tf.constant(tr.channels_last(inputs["dy"])))
        out = {"y": tr.channels_first(result["y"].numpy())}
        for name in names:
            grad = result.get(f"d{name}")
            if grad is None:
                continue
            g = grad.numpy()
            out[f"d{name}"] = (
                tr.channels_first(g) if name == "x" else self._kernel_from_tf(plan, g) if name == "w" else g
            )
        if "tx" in inputs:
            tangents = [self._to_tf(plan, k, inputs[f"t{k}"]) for k in names]
            try:
                jvp = self.step(plan, names, "jvp")(*primals, *tangents)["jvp"]
            except (ValueError, TypeError, tf.errors.OpError):
                return out  # forward mode refused (MaxPoolGradGrad): jvp missing, recorded divergences say where
            out["jvp"] = tr.channels_first(jvp.numpy())
        return out

    def _to_tf(self, plan: TensorFlowPlan, name: str, a: np.ndarray) -> Any:
        if name == "x":
            return tf.constant(tr.channels_last(a))
        if name == "w":
            return tf.constant(self._kernel_to_tf(plan, a))
        return tf.constant(a)

    def reproduction(self, plan: Plan) -> str | None:
        return None


# --------------------------------------------------------------------------------------------- XLA
def signature(plan: TensorFlowPlan) -> tuple[Any, ...]:
    """What the traced step of ``plan`` depends on besides the input shapes (:meth:`Plan.signature`
    and TensorFlow's own plan fields)."""
    return (*plan.signature(), repr(plan.arguments), plan.channel_windows, plan.probe)


@dataclass
class XlaStats:
    """Compilations of one process: traced signatures, compiled shapes, first-call seconds."""

    traces: int = 0
    compiles: int = 0
    calls: int = 0
    first_call_seconds: float = 0.0
    seen: set[tuple[Any, ...]] = field(default_factory=set)


#: tf2xla's AvgPool3D with a window over the channels: "TF to XLA legalization failed ... 'mhlo.reduce_window'
#: op inferred type(s) ... are incompatible with return type(s)" (InvalidArgumentError, TF 2.21).
XLA_AVGPOOL3D_DEPTH = "tf2xla fails to legalize AvgPool3D with a depth window (mhlo.reduce_window type mismatch)"
#: What tf2xla raises for MaxPool with an explicit padding list (UnimplementedError, TF 2.21).
XLA_EXPLICIT_POOLING = "XLA does not support pooling ops with explicit padding"


class TensorFlowXlaAdapter(TensorFlowVariant):
    name: ClassVar[str] = "tensorflow/xla"
    compiles_per_case: ClassVar[bool] = True
    #: Value draws the suite checks per compiled case (pytest_plugin.Equivalence.check).
    draws_per_case: ClassVar[int] = 10
    #: XLA's fast min/max follows neither NaN policy in reductions (suite/test_semantics.py).
    no_nan_policy: ClassVar[dict[str, str]] = {"global_max_pool": "tf-xla-max-skips-nan"}

    def accumulation(self, case: Case, api: str) -> dict[str, str]:
        """XLA's CPU compiler computes float16 / bfloat16 convolutions and reductions in float32 and
        rounds each HLO result to the storage format: the forward output is one float32 sum rounded
        once; derivatives chain several stored HLO results (reference/tolerance.py)."""
        return {"accumulate": "float32"}

    def __init__(self) -> None:
        self._steps: dict[tuple[Any, ...], Step] = {}
        self.stats = XlaStats()

    def support(self, case: Case, api: str, dtype: str) -> TensorFlowPlan | Unsupported:
        # the base adapter's plans without TensorFlowVariant's float16 3-D pooling refusal: that is the CPU
        # kernels' (XLA lowers float16 MaxPool3D / AvgPool3D; float64 MaxPool3D is refused by the op's type list)
        plan = TensorFlowAdapter.support(self, case, api, dtype)
        if not isinstance(plan, TensorFlowPlan):
            return plan
        plan = replace(plan, kernels="xla")
        if isinstance(case, PoolCase) and plan.route == "explicit padding list":
            # tf2xla's MaxPool lowering takes SAME or VALID only
            return Unsupported(XLA_EXPLICIT_POOLING, attempt=_attempt(plan), message=XLA_EXPLICIT_POOLING)
        return plan

    def _conv_refusal(self, case: ConvCase, api: str, dtype: str, plan: TensorFlowPlan) -> str | None:
        """tf2xla lowers Conv2D, Conv3D, DepthwiseConv2dNative and their gradients with groups, dilation,
        unequal strides and explicit padding lists (feature_group_count, rhs_dilation, window strides,
        padding pairs): the refusals of TensorFlow's Eigen kernels are not XLA's."""
        reason = super()._conv_refusal(case, api, dtype, plan)
        return None if reason in EIGEN_KERNEL_REFUSALS else reason

    def _eigen(self, dtype: str) -> bool:
        """XLA runs no TensorFlow kernel: the plans are those of a TensorFlow with oneDNN on (float32 not
        Eigen), whatever this CPU would pick, as they were measured against XLA; float64 keeps the
        refusals it shares with the Eigen kernels (those are made before any kernel runs)."""
        return dtype == "float64"

    def _depth_refusal(self, case: DepthPoolCase, dtype: str) -> str | None:
        """tf2xla lowers MaxPool and its gradient with a depth window as any other window (the refusals of
        TensorFlow's MaxPoolGrad kernel are not XLA's); the others are :class:`TensorFlowAdapter`'s."""
        if case.mode == "max" and not (case.nd == 3 and dtype == "float64"):
            return None
        if case.mode == "avg" and case.nd == 3 and case.pool_size > 1:
            return XLA_AVGPOOL3D_DEPTH
        if case.mode == "avg":  # tf2xla lowers a depth window in float64 too (no Eigen refusal)
            return super()._depth_refusal(case, "float32")
        return super()._depth_refusal(case, dtype)

    def _pool3d_refuses(self, kind: str, dtype: str) -> bool:
        """tf2xla lowers float64 AvgPool3D (no CPU kernel runs); MaxPool3D's type list still lacks float64."""
        return kind == "max" and dtype == "float64"

    def step(self, plan: TensorFlowPlan, names: tuple[str, ...], kind: str) -> Step:
        key = (signature(plan), names, kind)
        if key not in self._steps:
            traced = super().step(plan, names, kind)
            stats = self.stats

            def counted(*arrays: Any) -> dict[str, Any]:
                stats.traces += 1  # runs once per trace, not per call
                return traced(*arrays)

            self._steps[key] = tf.function(counted, jit_compile=True, reduce_retracing=True)
        return self._steps[key]

    def run(self, plan: Plan, inputs: Arrays) -> Arrays:
        shapes = tuple(sorted((k, v.shape) for k, v in inputs.items()))
        key = (signature(plan), shapes) if isinstance(plan, TensorFlowPlan) else ()
        first = key not in self.stats.seen
        started = time.perf_counter()
        try:
            return super().run(plan, inputs)
        finally:
            self.stats.calls += 1
            if first:
                self.stats.seen.add(key)
                self.stats.compiles += 1
                self.stats.first_call_seconds += time.perf_counter() - started

    def compile_stats(self) -> dict[str, float]:
        """``traces`` (tf.function traces), ``compiles`` (distinct signature and shapes: one XLA
        compilation each), ``checks``, ``compile_seconds`` (first calls) and ``checks_per_compile``."""
        s = self.stats
        return {
            "signatures": len(self._steps),
            "traces": s.traces,
            "compiles": s.compiles,
            "checks": s.calls,
            "compile_seconds": round(s.first_call_seconds, 3),
            "checks_per_compile": round(s.calls / s.compiles, 2) if s.compiles else 0.0,
        }


# --------------------------------------------------------------------------------------- no oneDNN
class TensorFlowNoOneDnnAdapter(TensorFlowVariant):
    name: ClassVar[str] = "tensorflow/no-onednn"

    def __init__(self) -> None:
        if _onednn_enabled():
            raise ValueError(
                "tensorflow/no-onednn needs TF_ENABLE_ONEDNN_OPTS=0 before TensorFlow is imported; "
                "load it through convequiv.adapters.load, which starts a worker process with it"
            )
