"""``keras[tensorflow]/onnx``: the Keras op or layer converted to ONNX by ``tf2onnx`` and run by ONNX Runtime.

The deployment path of a Keras model on the TensorFlow backend: the computation of the ``keras[tensorflow]``
plan (:func:`convequiv.adapters.keras_graph.graph`: the ``keras.ops`` call, or the ``keras.layers`` layer
with its pad and crop steps, channels-last) is traced as a ``tf.function`` with a static input signature,
converted by ``tf2onnx.convert.from_function`` at :data:`OPSET`, and run on ONNX Runtime's CPU execution
provider. ``tf2onnx.convert.from_keras`` does not take Keras 3 models (tf2onnx 1.17 with Keras 3.15:
``KeyError: 'keras_tensor_1'``), so the layer runs through ``layer.stateless_call`` with its weights as
inputs of the function: one conversion per case geometry and input shapes checks several value draws
(``draws_per_case``), the kernel and bias reaching ONNX Runtime as graph inputs.

Forward only (ONNX Runtime has no gradients): ``dx``, ``dw``, ``db`` are reported as not checked. float32
only, the format deployed models use. No TensorFlow CPU kernel runs, so the base adapter's refusals by
TensorFlow's Eigen kernels are not this variant's; the refusals of Keras itself (constructor and
``keras.ops`` checks) are raised while tracing, and proven the same way. tf2onnx cannot convert Keras'
grouped convolutions (:meth:`KerasTensorFlowOnnxAdapter._refusal`): a proven refusal.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from convequiv.reference.cases import ConvCase, PoolCase

from . import keras_graph as kg
from . import translate as tr
from .base import Arrays
from .keras_adapter import KerasPlan
from .keras_variants import KerasJitAdapter, Program, stateless

#: The ONNX opset tf2onnx writes: the newest it supports (tf2onnx 1.17: 18).
OPSET = 18


class KerasTensorFlowOnnxAdapter(KerasJitAdapter):
    name: ClassVar[str] = "keras[tensorflow]/onnx"
    keras_backend: ClassVar[str] = "tensorflow"
    dtypes: ClassVar[tuple[str, ...]] = ("float32",)
    produces: ClassVar[frozenset[str]] = frozenset({"y"})
    #: ONNX Runtime's MaxPool and ReduceMax follow no NaN policy (the suite's NaN-policy proof reads the records).
    no_nan_policy: ClassVar[dict[str, str]] = {"max_pool": "ort-maxpool-nan", "global_max_pool": "ort-reducemax-nan"}
    static_shapes: ClassVar[bool] = True  # ONNX models converted with static shapes

    def __init__(self) -> None:
        super().__init__()
        self.distributions = ("keras", "tensorflow", "tf2onnx", "onnxruntime")  # type: ignore[misc]
        self.frameworks = ("keras", "tensorflow", "tf2onnx", "onnxruntime", "onnx")  # type: ignore[misc]

    def versions(self) -> dict[str, str]:
        import onnxruntime
        import tf2onnx

        return {**super().versions(), "tf2onnx": tf2onnx.__version__, "onnxruntime": onnxruntime.__version__}

    def _tf_kernels(self, dtype: str) -> str:
        """ONNX Runtime runs the model: no TensorFlow CPU kernel (and none of their refusals) is involved."""
        return ""

    def _refusal(self, case: ConvCase | PoolCase, api: str, dtype: str) -> str | None:
        """Keras' own refusals, and tf2onnx's of a grouped convolution: Keras runs it inside a nested
        ``tf.function(jit_compile=True)`` (TensorFlow's CPU kernels have no groups), which tf2onnx leaves as
        an unconverted ``PartitionedCall`` node ("Unsupported ops: Counter({'PartitionedCall': 1})"); ONNX
        Runtime then refuses the model ("No Op registered for PartitionedCall").
        onnx/tensorflow-onnx#2099 (open since 2023)."""
        reason = super()._refusal(case, api, dtype)
        if reason is None and isinstance(case, ConvCase) and case.groups > 1 and not self._depthwise(case):
            return (
                "tf2onnx cannot convert Keras' grouped convolution (a nested jit_compile tf.function, left as an "
                "unsupported PartitionedCall node: onnx/tensorflow-onnx#2099)"
            )
        return reason

    def compile(self, graph: kg.Graph, xs: list[np.ndarray], values: list[np.ndarray]) -> Program:
        """The ONNX Runtime session of ``graph`` converted for arrays shaped like ``xs`` (the function's
        inputs) and ``values`` (the layer's weights, inputs of the model too); the program returns no
        gradients."""
        import tensorflow as tf
        import tf2onnx

        from .onnxruntime_adapter import session

        run, n_x = stateless(graph), len(xs)

        def forward(*arrays: Any) -> Any:  # the weights become inputs of the model
            return run(list(arrays[:n_x]), list(arrays[n_x:]))

        specs = [tf.TensorSpec(a.shape, tf.as_dtype(a.dtype), name=f"in{i}") for i, a in enumerate([*xs, *values])]
        traced = tf.function(forward, input_signature=specs)
        proto, _ = tf2onnx.convert.from_function(traced, input_signature=specs, opset=OPSET)
        runner = session(proto)
        names = {i.name for i in runner.get_inputs()}  # tf2onnx keeps the specs' names ("in0", ...)

        def program(xs: list[np.ndarray], values: list[np.ndarray], dy: np.ndarray) -> tuple[Any, list[Any]]:
            feed = {f"in{i}": a for i, a in enumerate([*xs, *values])}
            return runner.run(None, {k: v for k, v in feed.items() if k in names})[0], []

        return program

    def _outputs(self, plan: KerasPlan, inputs: Arrays, y: Any, grads: list[Any]) -> Arrays:
        return {"y": tr.channels_first(np.asarray(y))}
