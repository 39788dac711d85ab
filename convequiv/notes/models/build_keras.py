"""Build a Keras 3 model from a description (Keras imported on first use, with the process's backend).

The layers are exactly those of :func:`convequiv.notes.models.plan_keras.plan`, with the planned names,
so ``model.summary()`` prints what :func:`convequiv.notes.models.render.keras_summary` prints.
``api="sequential"`` gives a ``keras.Sequential``, ``"functional"`` a ``keras.Model(inputs,
outputs)``. Nothing is downloaded: a block naming ``application="vgg16"`` becomes
``keras.applications.VGG16(weights=None, include_top=False)``.

Layers Keras lacks are defined here with the planned class names, on ``keras.ops`` only (any
backend): ``NegInfPadding{1,2,3}D`` (pads with ``-inf`` before max pooling), ``PartialConv2D``
(kernel of the connected ``(input, output)`` pairs only, scattered into a dense kernel),
``Subsampling2D``, ``RBF`` (frozen centres), ``DepthPool``, ``LocalResponseNorm`` (across channels,
window ``size``: ``size // 2`` channels before, ``(size - 1) // 2`` after, as PyTorch) and
``VGGPreprocess`` (RGB -> BGR, minus the ImageNet means). ``lecun_tanh`` is
``1.7159 * tanh(2x / 3)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .infer import ModelInfo, infer
from .model import Model
from .plan_keras import KerasOp, model_name, plan

#: A tensor of the Keras backend in use (Keras ships no type information).
Tensor = Any
#: A Keras shape, channels-last, ``None`` where unknown (the batch axis).
KerasShape = tuple[int | None, ...]


def _channels(shape: KerasShape) -> int:
    """The channel count of a channels-last Keras shape (known once a layer is built)."""
    channels = shape[-1]
    if channels is None:
        raise ValueError(f"a channels-last shape with a known channel count expected, got {shape}")
    return channels


@functools.cache
def _custom() -> dict[str, Any]:
    import keras
    from keras import ops

    def lecun_tanh(x: Tensor) -> Tensor:
        return 1.7159 * ops.tanh(x * (2.0 / 3.0))

    def _pads(padding: Iterable[Sequence[int]]) -> list[list[int]]:
        return [[0, 0], *[[int(lo), int(hi)] for lo, hi in padding], [0, 0]]

    class _NegInfPadding(keras.layers.Layer):
        def __init__(self, padding: Iterable[Iterable[int]], **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.padding = tuple(tuple(p) for p in padding)

        def call(self, x: Tensor) -> Tensor:
            return ops.pad(x, _pads(self.padding), constant_values=float("-inf"))

        def compute_output_shape(self, shape: KerasShape) -> KerasShape:
            spatial = [None if n is None else n + lo + hi for n, (lo, hi) in zip(shape[1:-1], self.padding)]
            return (shape[0], *spatial, shape[-1])

    pads = {f"NegInfPadding{n}D": type(f"NegInfPadding{n}D", (_NegInfPadding,), {}) for n in (1, 2, 3)}

    class PartialConv2D(keras.layers.Layer):
        def __init__(
            self,
            filters: int,
            kernel_size: Iterable[int],
            connections: Iterable[Iterable[int]],
            activation: str | None = None,
            **kwargs: Any,
        ) -> None:
            super().__init__(**kwargs)
            self.filters, self.kernel_size = filters, tuple(kernel_size)
            self.connections = tuple(tuple(c) for c in connections)
            self.activation = activation

        def build(self, shape: KerasShape) -> None:
            import numpy as np

            pairs = [(i, o) for o, inputs in enumerate(self.connections) for i in inputs]
            sel_in = np.zeros((len(pairs), _channels(shape)), dtype="float32")
            sel_out = np.zeros((len(pairs), self.filters), dtype="float32")
            for j, (i, o) in enumerate(pairs):
                sel_in[j, i] = sel_out[j, o] = 1.0
            self.sel_in, self.sel_out = ops.convert_to_tensor(sel_in), ops.convert_to_tensor(sel_out)
            self.kernel = self.add_weight(shape=(*self.kernel_size, len(pairs)), name="kernel")
            self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")

        def call(self, x: Tensor) -> Tensor:
            full = ops.einsum("hwj,jc,jo->hwco", self.kernel, self.sel_in, self.sel_out)
            y = ops.conv(x, full, strides=1, padding="valid") + self.bias
            return _activation(self.activation)(y)

        def compute_output_shape(self, shape: KerasShape) -> KerasShape:
            h, w = (None if n is None else n - k + 1 for n, k in zip(shape[1:3], self.kernel_size))
            return (shape[0], h, w, self.filters)

    class Subsampling2D(keras.layers.Layer):
        def __init__(self, pool_size: int = 2, activation: str | None = None, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.pool_size, self.activation = pool_size, activation

        def build(self, shape: KerasShape) -> None:
            self.coefficient = self.add_weight(shape=(shape[-1],), initializer="ones", name="coefficient")
            self.bias = self.add_weight(shape=(shape[-1],), initializer="zeros", name="bias")

        def call(self, x: Tensor) -> Tensor:
            p = self.pool_size
            total = ops.average_pool(x, p, p, padding="valid") * float(p * p)
            return _activation(self.activation)(total * self.coefficient + self.bias)

        def compute_output_shape(self, shape: KerasShape) -> KerasShape:
            p = self.pool_size
            return (shape[0], *(None if n is None else n // p for n in shape[1:3]), shape[-1])

    class RBF(keras.layers.Layer):
        def __init__(self, units: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.units = units

        def build(self, shape: KerasShape) -> None:
            self.centres = self.add_weight(shape=(shape[-1], self.units), trainable=False, name="centres")

        def call(self, x: Tensor) -> Tensor:
            return ops.sum((x[:, :, None] - self.centres[None]) ** 2, axis=1)

        def compute_output_shape(self, shape: KerasShape) -> KerasShape:
            return (shape[0], self.units)

    class DepthPool(keras.layers.Layer):
        def __init__(self, pool_size: int = 2, mode: str = "max", **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.pool_size, self.mode = pool_size, mode

        def call(self, x: Tensor) -> Tensor:
            k = self.pool_size
            groups = ops.reshape(x, (-1, *x.shape[1:-1], x.shape[-1] // k, k))
            return ops.max(groups, axis=-1) if self.mode == "max" else ops.mean(groups, axis=-1)

        def compute_output_shape(self, shape: KerasShape) -> KerasShape:
            return (*shape[:-1], _channels(shape) // self.pool_size)

    class LocalResponseNorm(keras.layers.Layer):
        def __init__(
            self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0, **kwargs: Any
        ) -> None:
            super().__init__(**kwargs)
            self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

        def call(self, x: Tensor) -> Tensor:
            rank = len(x.shape)
            square = ops.pad(x * x, [[0, 0]] * (rank - 1) + [[self.size // 2, (self.size - 1) // 2]])
            c = x.shape[-1]
            total = sum(square[..., i : i + c] for i in range(self.size))
            return x / (self.k + self.alpha * total) ** self.beta

        def compute_output_shape(self, shape: KerasShape) -> KerasShape:
            return shape

    class VGGPreprocess(keras.layers.Layer):
        def call(self, x: Tensor) -> Tensor:
            return ops.flip(x, axis=-1) - ops.convert_to_tensor([103.939, 116.779, 123.68], dtype=x.dtype)

        def compute_output_shape(self, shape: KerasShape) -> KerasShape:
            return shape

    def _activation(name: str | None) -> Callable[[Tensor], Tensor]:
        if name == "lecun_tanh":
            return lecun_tanh
        activation: Callable[[Tensor], Tensor] = keras.activations.get(name)
        return activation

    classes = {c.__name__: c for c in (PartialConv2D, Subsampling2D, RBF, DepthPool, LocalResponseNorm, VGGPreprocess)}
    return {**pads, **classes, "lecun_tanh": lecun_tanh}


def _layer(op: KerasOp) -> Any:
    import keras

    custom = _custom()
    args = dict(op.args)
    if op.kind == "Activation":
        args["activation"] = args.pop("function")
    if op.kind not in custom and args.get("activation") == "lecun_tanh":
        args["activation"] = custom["lecun_tanh"]
    if op.kind == "ZeroPadding1D":  # one (lo, hi) pair, not a tuple of pairs
        pairs = args["padding"]
        assert isinstance(pairs, tuple)  # the plan's explicit (lo, hi) pairs
        args["padding"] = tuple(pairs[0])
    if op.kind == "Sequential":
        layer = keras.Sequential([_layer(child) for child in op.children], name=op.name)
    elif op.kind == "Functional":
        layer = _application(op)
    elif op.kind in custom:
        layer = custom[op.kind](name=op.name, **args)
    else:
        layer = getattr(keras.layers, op.kind)(name=op.name, **args)
    if not op.trainable:
        layer.trainable = False
    return layer


def _application(op: KerasOp) -> Any:
    import keras

    if op.application != "vgg16":
        raise ValueError(f"layer {op.path}: unknown Keras application {op.application!r}")
    app = keras.applications.VGG16(weights=None, include_top=False, name=op.name)
    frozen = {child.name for child in op.children if not child.trainable}
    for layer in app.layers:
        if layer.name in frozen:
            layer.trainable = False
    return app


def build(model: Model | ModelInfo) -> Any:
    """The Keras model of a description (``keras.Sequential`` or functional ``keras.Model``)."""
    import keras

    info = model if isinstance(model, ModelInfo) else infer(model)
    ops = plan(info, "keras3")
    name = model_name(info, "keras3")
    shape = tuple(ops[0].output_shape) if ops and ops[0].kind == "InputLayer" else None
    if shape is None:
        from .model import to_layout

        inputs = keras.Input(shape=to_layout(info.input_shape, "channels_last"))
        return keras.Sequential([inputs, *(_layer(op) for op in ops)], name=name)
    inputs = keras.Input(shape=shape, name=ops[0].name)
    x = inputs
    for op in ops[1:]:
        x = _layer(op)(x)
    return keras.Model(inputs, x, name=name)
