"""The Keras computation of a :class:`~convequiv.adapters.keras_adapter.KerasPlan`, and its gradients.

:func:`graph` builds what a plan names and nothing else: the callable ``plan.call`` (a ``keras.ops``
function or a ``keras.layers`` class, by its dotted name), preceded by ``plan.pad_call`` when the
plan has a pre-pad (a pad op such as ``keras.ops.pad`` / ``tf.pad`` filled with ``plan.pad_value``,
or a ``ZeroPadding*D`` layer), and followed by ``plan.crop_call`` when the plan crops the output (a
``Cropping*D`` layer, or a slice), on channels-last tensors. Every layout and padding conversion is
:mod:`convequiv.adapters.translate`'s. :func:`vjp` runs it forward and backward through the
backend's own autodiff (``tf.GradientTape``, ``jax.vjp`` under ``jax.jit``, ``torch.autograd``).
Shared by the Keras 3 adapter (every backend) and the Keras 2 (``tf_keras``) adapter.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from convequiv.reference.cases import ConvCase, ConvTransposeCase, DepthPoolCase, GlobalPoolCase, PoolCase
from convequiv.reference.geometry import Pads

from . import translate as tr

if TYPE_CHECKING:
    from .keras_adapter import KerasPlan

Shape = tuple[int | None, ...]
Arrays = dict[str, np.ndarray]


def resolve(name: str) -> Any:
    """The object a dotted name denotes: ``keras.layers.Conv2D``, ``keras.ops.pad``, ``tensorflow.pad``."""
    root, *path = name.split(".")
    return reduce(getattr, path, importlib.import_module(root))


class PadOp:
    """A constant pad of the spatial axes by a pad op ``pad(x, widths, constant_values=v)`` (``keras.ops.pad``,
    ``tf.pad``), usable as a step before layers: it reports its output shape as a layer does."""

    def __init__(self, pad: Callable[..., Any], pads: Pads, value: float) -> None:
        self.pad, self.pads, self.value = pad, pads, value

    def __call__(self, x: Any) -> Any:
        return self.pad(x, tr.pad_list(self.pads), constant_values=self.value)

    def compute_output_shape(self, shape: Shape) -> Shape:
        first = tr.channels_first_shape(shape)
        sizes = tr.padded_sizes(cast(Sequence[int], first[2:]), self.pads)  # built for a known input shape
        return tr.channels_last_shape((*first[:2], *sizes))


@dataclass
class Graph:
    """One plan in Keras: ``fn(*arrays)`` on channels-last tensors, plus the steps it chains (api ``"layer"``)."""

    fn: Callable[..., Any]
    arrays: list[np.ndarray]
    steps: list[Any] = field(default_factory=list)  # pad step and layers, applied in order
    layer: Any = None  # the layer whose trainable variables receive gradients


def chain(steps: Sequence[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    def forward(x: Any) -> Any:
        for step in steps:
            x = step(x)
        return x

    return forward


def build(steps: Sequence[Any], x_shape: Sequence[int]) -> Shape:
    """Build every layer of ``steps`` for a channels-first input shape; the channels-last output shape."""
    shape = tr.channels_last_shape(x_shape)
    for step in steps:
        if hasattr(step, "build") and not step.built:
            step.build(shape)
        shape = tuple(step.compute_output_shape(shape))
    return shape


def pad_step(plan: KerasPlan) -> Any:
    """The step that applies ``plan.prepad`` (``None`` without one): a ``ZeroPadding*D`` layer or a :class:`PadOp`."""
    if plan.prepad is None:
        return None
    pad = resolve(plan.pad_call)
    if not isinstance(pad, type):
        return PadOp(pad, plan.prepad, plan.pad_value)
    if len(plan.prepad) == 1:  # ZeroPadding1D is channels-last only (Keras 2 and early Keras 3 take no data_format)
        return pad(plan.prepad[0], dtype=plan.dtype)
    return pad(plan.prepad, data_format="channels_last", dtype=plan.dtype)


class Slice:
    """Cuts ``crop`` ``(lo, hi)`` cells from the ends of the spatial axes of a channels-last tensor by indexing
    (the tensor's own ``__getitem__``, also on ``KerasTensor``s); reports its output shape as a layer does."""

    def __init__(self, crop: Pads) -> None:
        self.crop = crop

    def __call__(self, y: Any) -> Any:
        # a stop counted from the end: also for a tensor whose sizes are unknown while it is traced
        spatial = tuple(slice(lo, -hi if hi else None) for lo, hi in self.crop)
        return y[(slice(None), *spatial, slice(None))]

    def compute_output_shape(self, shape: Shape) -> Shape:
        sizes = cast(Sequence[int], shape[1:-1])
        return (shape[0], *(n - lo - hi for n, (lo, hi) in zip(sizes, self.crop)), shape[-1])


def crop_step(plan: KerasPlan) -> Any:
    """The step that applies ``plan.crop`` (``None`` without one): a ``Cropping*D`` layer or a :class:`Slice`."""
    if plan.crop is None:
        return None
    if not plan.crop_call:
        return Slice(plan.crop)
    cropping = resolve(plan.crop_call)
    if len(plan.crop) == 1:  # Cropping1D is channels-last only (no data_format)
        return cropping(plan.crop[0], dtype=plan.dtype)
    return cropping(plan.crop, data_format="channels_last", dtype=plan.dtype)


def graph(keras: Any, plan: KerasPlan, inputs: Arrays | None) -> Graph:
    """The computation of ``plan``; ``inputs=None`` builds it without data (shapes, parameter counts)."""
    x = tr.channels_last(inputs["x"]) if inputs is not None else np.zeros(0)
    case = plan.case
    if isinstance(case, ConvCase):
        return _conv(plan, case, inputs, x)
    if isinstance(case, ConvTransposeCase):
        return _conv_transpose(plan, case, inputs, x)
    if isinstance(case, PoolCase):
        return _pool(plan, case, x)
    if isinstance(case, DepthPoolCase):
        return _depth_pool(keras, plan, case, x)
    assert isinstance(case, GlobalPoolCase), f"no Keras graph for {type(case).__name__}"
    return _global_pool(plan, case, x)


def params(plan: KerasPlan, inputs: Arrays) -> list[np.ndarray]:
    """The kernel (in the plan's Keras layout) and bias of a convolution (``[]`` for pooling): the
    ``keras.ops`` arguments after ``x``, or the layer's weights in ``set_weights`` order."""
    case = plan.case
    if not isinstance(case, (ConvCase, ConvTransposeCase)):
        return []
    w = inputs["w"]  # conv (O, C/g, *k) -> (*k, C/g, O) or depthwise (*k, C, m); transposed (C, O, *k) -> (*k, O, C)
    kernel = tr.depthwise_kernel(w, case.x_shape[1]) if plan.depthwise else tr.kernel_spatial_first(w)
    return [kernel, inputs["b"]] if case.bias else [kernel]


def _conv(plan: KerasPlan, case: ConvCase, inputs: Arrays | None, x: np.ndarray) -> Graph:
    weights = [] if inputs is None else params(plan, inputs)
    pad = pad_step(plan)
    common = {"strides": case.stride, "padding": plan.padding, "dilation_rate": case.dilation}
    if plan.api == "ops":
        conv = resolve(plan.call)

        def forward(x: Any, k: Any, *b: Any) -> Any:
            if pad is not None:
                x = pad(x)
            y = conv(x, k, data_format="channels_last", **common)
            return y + b[0] if b else y

        return Graph(forward, [x, *weights])
    settings = {**common, "use_bias": case.bias, "data_format": "channels_last", "dtype": plan.dtype}
    cls = resolve(plan.call)
    if plan.depthwise:
        layer = cls(case.kernel, depth_multiplier=case.w_shape[0] // case.x_shape[1], **settings)
    else:
        layer = cls(case.w_shape[0], case.kernel, groups=case.groups, **settings)
    steps = [layer] if pad is None else [pad, layer]
    build(steps, case.x_shape)
    if inputs is not None:
        layer.set_weights(weights)
    return Graph(chain(steps), [x], steps, layer)


def _conv_transpose(plan: KerasPlan, case: ConvTransposeCase, inputs: Arrays | None, x: np.ndarray) -> Graph:
    weights = [] if inputs is None else params(plan, inputs)
    crop = crop_step(plan)
    after = [] if crop is None else [crop]
    common = {
        "strides": case.stride,
        "padding": plan.padding,
        "output_padding": plan.output_padding,
        "dilation_rate": case.dilation,
    }
    if plan.api == "ops":
        conv_transpose = resolve(plan.call)

        def forward(x: Any, k: Any, *b: Any) -> Any:
            y = conv_transpose(x, k, data_format="channels_last", **common)
            return chain(after)(y + b[0] if b else y)

        return Graph(forward, [x, *weights])
    settings = {**common, "use_bias": case.bias, "data_format": "channels_last", "dtype": plan.dtype}
    layer = resolve(plan.call)(case.out_channels, case.kernel, **settings)
    steps = [layer, *after]
    build(steps, case.x_shape)
    if inputs is not None:
        layer.set_weights(weights)
    return Graph(chain(steps), [x], steps, layer)


def _pool(plan: KerasPlan, case: PoolCase, x: np.ndarray) -> Graph:
    pad = pad_step(plan)
    before = [] if pad is None else [pad]
    if plan.api == "ops":
        pool = resolve(plan.call)

        def forward(x: Any) -> Any:
            return pool(x, case.kernel, strides=case.stride, padding=plan.padding, data_format="channels_last")

        return Graph(chain([*before, forward]), [x])
    stride = {} if case.stride is None else {"strides": case.stride}  # None: the layer's own default
    layer = resolve(plan.call)(
        case.kernel, padding=plan.padding, data_format="channels_last", dtype=plan.dtype, **stride
    )
    steps = [*before, layer]
    build(steps, case.x_shape)
    return Graph(chain(steps), [x], steps)


def _depth_pool(keras: Any, plan: KerasPlan, case: DepthPoolCase, x: np.ndarray) -> Graph:
    ops, reduce_ = keras.ops, resolve(plan.call)
    k, s = case.pool_size, case.resolved_stride
    groups = case.out_shape[1]

    def forward(x: Any) -> Any:
        if plan.stacked:  # overlapping or gapped channel windows: the k strided channel slices, stacked
            windows = ops.stack([x[..., t : t + (groups - 1) * s + 1 : s] for t in range(k)], axis=-1)
        else:  # the notes' DepthPool: channels reshaped to (C / k, k), reduced over the last axis
            # keras.ops.shape: sizes a trace leaves unknown (tf.function's relaxed shapes) are read at run time
            windows = ops.reshape(x, (*ops.shape(x)[:-1], groups, k))
        return reduce_(windows, axis=-1)

    return Graph(forward, [x])


def _global_pool(plan: KerasPlan, case: GlobalPoolCase, x: np.ndarray) -> Graph:
    if plan.api == "ops":
        reduce_ = resolve(plan.call)
        axes = tuple(range(1, case.nd + 1))  # the spatial axes of the channels-last tensor
        return Graph(lambda x: reduce_(x, axis=axes, keepdims=case.keepdims), [x])
    layer = resolve(plan.call)(data_format="channels_last", keepdims=case.keepdims, dtype=plan.dtype)
    build([layer], case.x_shape)
    return Graph(layer, [x], [layer])


# ------------------------------------------------------------------------------------ autodiff
def _numpy(backend: str, t: Any) -> np.ndarray:
    return t.detach().cpu().numpy() if backend == "torch" else np.asarray(t)


def vjp(backend: str, keras: Any, g: Graph, dy: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """``y = g.fn(*g.arrays)`` and the gradients of ``sum(dy * y)`` w.r.t. ``g.arrays``, then w.r.t. the
    trainable variables of ``g.layer`` (which ``g.fn`` calls), through the backend's own autodiff."""
    fn, arrays = g.fn, g.arrays
    variables = list(g.layer.trainable_variables) if g.layer is not None else []
    if backend == "tensorflow":
        import tensorflow as tf

        xs = [tf.constant(a) for a in arrays]
        with tf.GradientTape() as tape:
            tape.watch(xs)
            y = fn(*xs)
        grads = tape.gradient(y, xs + variables, output_gradients=tf.constant(dy))
        if any(grad is None for grad in grads):
            raise RuntimeError("tf.GradientTape found no path from an input to the output")
    elif backend == "jax":
        import jax

        def pure(xs: list[Any], values: list[Any]) -> Any:
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return fn(*xs)

        def forward_and_backward(xs: list[Any], values: list[Any], dy: Any) -> Any:
            y, pull = jax.vjp(pure, xs, values)
            return y, pull(dy)

        # One compiled program per case (forward and transpose fused) instead of one compile per
        # primitive in eager dispatch; the shapes change with every case, so nothing is reused.
        y, (dxs, dvalues) = jax.jit(forward_and_backward)(list(arrays), [v.value for v in variables], dy)
        grads = [*dxs, *dvalues]
    else:
        import torch

        xs = [torch.tensor(a, requires_grad=True) for a in arrays]
        y = fn(*xs)
        y.backward(torch.from_numpy(dy))
        grads = [t.grad for t in xs] + [v.value.grad for v in variables]
    return _numpy(backend, y), [_numpy(backend, grad) for grad in grads]
