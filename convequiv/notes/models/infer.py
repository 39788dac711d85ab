"""The reference for whole models: per-layer output shapes and parameter counts.

Shapes come from :func:`convequiv.reference.output_size` / :func:`convequiv.reference.resolve_padding`, parameter counts
from :mod:`convequiv.reference.params`, in two conventions:

* ``keras``: what ``model.summary()`` and ``count_params()`` report (BatchNormalization: 2C
  trainable + 2C non-trainable moving statistics);
* ``torch``: what ``model.parameters()`` (and torchsummary) count (BatchNorm: 2C; running
  statistics are buffers and not counted).

A layer with ``trainable=False`` (or inside a frozen :class:`~convequiv.notes.models.layers.Block`) has
all of its parameters non-trainable in both conventions.

Every problem with a description raises ``ValueError`` naming the layer's index (``3``, or ``12.4``
inside a block), its kind, and the reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

from convequiv.reference import (
    ParamCount,
    batch_norm_params,
    conv_params,
    dense_params,
    depthwise_conv_params,
    output_size,
    resolve_padding,
    separable_conv_params,
)

from . import layers as L
from .model import DATA_FORMATS, Model

Shape = tuple[int, ...]
#: What a shape rule gives: the output shape, then the Keras and the torch parameter counts.
Result = tuple[Shape, ParamCount, ParamCount]
T = TypeVar("T")
LayerT = TypeVar("LayerT", bound=L.Layer)
ZERO = ParamCount(0, 0)


class DescriptionError(ValueError):
    """A model description that cannot be turned into shapes: names the layer and the reason."""

    def __init__(self, path: Sequence[int], layer: object, reason: str):
        self.path = tuple(path)
        self.reason = reason
        where = ".".join(str(i) for i in self.path)
        super().__init__(f"layer {where} ({type(layer).__name__}): {reason}")


@dataclass(frozen=True)
class LayerInfo:
    """Reference result for one layer: shapes channels-first without the batch axis."""

    path: tuple[int, ...]
    layer: L.Layer
    input_shape: Shape
    output_shape: Shape
    keras: ParamCount
    torch: ParamCount
    children: tuple[LayerInfo, ...] = ()

    @property
    def index(self) -> str:
        return ".".join(str(i) for i in self.path)


@dataclass(frozen=True)
class ModelInfo:
    """Reference result for a model: the per-layer results and the totals per convention."""

    model: Model
    input_shape: Shape
    layers: tuple[LayerInfo, ...]

    @property
    def output_shape(self) -> Shape:
        return self.layers[-1].output_shape if self.layers else self.input_shape

    def total(self, convention: str) -> ParamCount:
        out = ZERO
        for info in self.layers:
            out = out + getattr(info, convention)
        return out


# --- helpers ----------------------------------------------------------------------------------


class _Fail(Exception):
    """Raised inside a shape rule; turned into a DescriptionError by the walker."""


def _ints(name: str, value: object, nd: int) -> tuple[int, ...]:
    if isinstance(value, bool):
        raise _Fail(f"{name} must be an int or {nd} ints, got {value!r}")
    if isinstance(value, int):
        values: tuple[int, ...] = (value,) * nd
    elif (
        isinstance(value, (tuple, list))
        and len(value) == nd
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        values = tuple(value)
    else:
        raise _Fail(f"{name} must be an int or {nd} ints (one per spatial dimension), got {value!r}")
    if any(v < 1 for v in values):
        raise _Fail(f"{name} must be positive, got {value!r}")
    return values


def _positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _Fail(f"{name} must be a positive int, got {value!r}")
    return value


def _spatial(layer: L.Layer, shape: Shape, nd: int) -> tuple[int, Shape]:
    if len(shape) != nd + 1:
        raise _Fail(f"expects a (C, {', '.join(['n'] * nd)}) input ({nd} spatial dimension(s)), got shape {shape}")
    return shape[0], shape[1:]


def _activation(layer: L.Layer) -> None:
    act = getattr(layer, "activation", None)
    if act is not None and act not in L.ACTIVATIONS:
        raise _Fail(f"unknown activation {act!r} (known: {', '.join(L.ACTIVATIONS)})")


def window_pads(
    padding: object, sizes: Shape, kernel: Shape, strides: Shape, dilation: Shape
) -> tuple[tuple[int, int], ...]:
    """Explicit ``(lo, hi)`` pads of a sliding-window layer (:func:`convequiv.reference.resolve_padding`)."""
    if isinstance(padding, str) and padding not in ("valid", "same"):
        raise _Fail(f"padding must be 'valid', 'same', an int or explicit pads, got {padding!r}")
    try:
        return resolve_padding(padding, sizes, kernel, strides, dilation)
    except (TypeError, ValueError) as exc:
        raise _Fail(str(exc)) from None


def window_out(
    sizes: Shape,
    kernel: Shape,
    strides: Shape,
    dilation: Shape,
    pads: tuple[tuple[int, int], ...],
    ceil_mode: bool = False,
) -> Shape:
    """Output sizes of a sliding window per dimension (:func:`convequiv.reference.output_size`)."""
    out = []
    for dim, (n, k, s, d, pad) in enumerate(zip(sizes, kernel, strides, dilation, pads)):
        try:
            out.append(output_size(n, k, stride=s, padding=pad, dilation=d, ceil_mode=ceil_mode))
        except ValueError as exc:
            raise _Fail(f"spatial dimension {dim}: {exc}") from None
    return tuple(out)


def _same(keras: int, torch: int | None = None) -> tuple[ParamCount, ParamCount]:
    return ParamCount(keras), ParamCount(keras if torch is None else torch)


def _call(fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    try:
        return fn(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise _Fail(str(exc)) from None


# --- shape and parameter rules, one per layer kind ---------------------------------------------

Rule = Callable[[L.Layer, Shape], Result]


def _conv(layer: L.Conv, shape: Shape) -> Result:
    nd = layer.ndim
    c, sizes = _spatial(layer, shape, nd)
    k = _ints("kernel_size", layer.kernel_size, nd)
    s = _ints("strides", layer.strides, nd)
    d = _ints("dilation_rate", layer.dilation_rate, nd)
    _positive("filters", layer.filters)
    pads = window_pads(layer.padding, sizes, k, s, d)
    out = window_out(sizes, k, s, d, pads)
    n = _call(conv_params, c, layer.filters, k, groups=layer.groups, bias=layer.use_bias, ndim=nd)
    return (layer.filters, *out), *_same(n)


def _depthwise(layer: L.DepthwiseConv2D, shape: Shape) -> Result:
    c, sizes = _spatial(layer, shape, 2)
    k, s, d = (_ints(a, getattr(layer, a), 2) for a in ("kernel_size", "strides", "dilation_rate"))
    m = _positive("depth_multiplier", layer.depth_multiplier)
    out = window_out(sizes, k, s, d, window_pads(layer.padding, sizes, k, s, d))
    n = _call(depthwise_conv_params, c, k, depth_multiplier=m, bias=layer.use_bias)
    return (c * m, *out), *_same(n)


def _separable(layer: L.SeparableConv2D, shape: Shape) -> Result:
    c, sizes = _spatial(layer, shape, 2)
    k, s, d = (_ints(a, getattr(layer, a), 2) for a in ("kernel_size", "strides", "dilation_rate"))
    m = _positive("depth_multiplier", layer.depth_multiplier)
    _positive("filters", layer.filters)
    out = window_out(sizes, k, s, d, window_pads(layer.padding, sizes, k, s, d))
    n = _call(separable_conv_params, c, layer.filters, k, depth_multiplier=m, bias=layer.use_bias)
    return (layer.filters, *out), *_same(n)


def _partial(layer: L.PartialConv2D, shape: Shape) -> Result:
    c, sizes = _spatial(layer, shape, 2)
    k = _ints("kernel_size", layer.kernel_size, 2)
    filters = _positive("filters", layer.filters)
    if len(layer.connections) != filters:
        raise _Fail(
            f"connections must list the inputs of each of the {filters} output maps, got {len(layer.connections)}"
        )
    total = 0
    for o, inputs in enumerate(layer.connections):
        if not inputs or len(set(inputs)) != len(inputs) or any(not 0 <= i < c for i in inputs):
            raise _Fail(f"connections[{o}] must be distinct input map indices in [0, {c}), got {inputs!r}")
        total += conv_params(len(inputs), 1, k)
    out = window_out(sizes, k, (1, 1), (1, 1), ((0, 0), (0, 0)))
    return (filters, *out), *_same(total)


def _pool(layer: L.Pool, shape: Shape) -> Result:
    nd = layer.ndim
    c, sizes = _spatial(layer, shape, nd)
    k = _ints("pool_size", layer.pool_size, nd)
    s = k if layer.strides is None else _ints("strides", layer.strides, nd)
    pads = window_pads(layer.padding, sizes, k, s, (1,) * nd)
    if not isinstance(layer.ceil_mode, bool):
        raise _Fail(f"ceil_mode must be a bool, got {layer.ceil_mode!r}")
    return (c, *window_out(sizes, k, s, (1,) * nd, pads, layer.ceil_mode)), ZERO, ZERO


def _subsampling(layer: L.Subsampling2D, shape: Shape) -> Result:
    c, sizes = _spatial(layer, shape, 2)
    p = _positive("pool_size", layer.pool_size)
    out = window_out(sizes, (p, p), (p, p), (1, 1), ((0, 0), (0, 0)))
    return (c, *out), *_same(depthwise_conv_params(c, 1))


def _depth_pool(layer: L.DepthPool, shape: Shape) -> Result:
    if len(shape) < 2:
        raise _Fail(f"expects a (C, *spatial) input, got shape {shape}")
    k = _positive("pool_size", layer.pool_size)
    if layer.mode not in ("max", "avg"):
        raise _Fail(f"mode must be 'max' or 'avg', got {layer.mode!r}")
    if shape[0] % k:
        raise _Fail(f"pool_size={k} must divide the {shape[0]} channels")
    return (shape[0] // k, *shape[1:]), ZERO, ZERO


def _global_pool(layer: L.GlobalPool, shape: Shape) -> Result:
    c, sizes = _spatial(layer, shape, layer.ndim)
    return ((c, *(1,) * len(sizes)) if layer.keepdims else (c,)), ZERO, ZERO


def _batch_norm(layer: L.BatchNormalization, shape: Shape) -> Result:
    c = shape[0]
    return shape, batch_norm_params(c, convention="keras"), batch_norm_params(c, convention="torch")


def _lrn(layer: L.LocalResponseNorm, shape: Shape) -> Result:
    if len(shape) < 2:
        raise _Fail(f"expects a (C, *spatial) input, got shape {shape}")
    _positive("size", layer.size)
    return shape, ZERO, ZERO


def _flatten(layer: L.Flatten, shape: Shape) -> Result:
    return (math.prod(shape),), ZERO, ZERO


def _flat(shape: Shape) -> int:
    if len(shape) != 1:
        raise _Fail(f"expects a flat input (F,), got shape {shape}; add a Flatten before it")
    return shape[0]


def _dense(layer: L.Dense, shape: Shape) -> Result:
    f = _flat(shape)
    n = _call(dense_params, f, layer.units, bias=layer.use_bias)
    return (layer.units,), *_same(n)


def _rbf(layer: L.RBF, shape: Shape) -> Result:
    f = _flat(shape)
    n = _call(dense_params, f, layer.units, bias=False)
    return (layer.units,), ParamCount(0, n), ParamCount(0, n)


def _dropout(layer: L.Dropout, shape: Shape) -> Result:
    if not isinstance(layer.rate, (int, float)) or not 0 <= layer.rate < 1:
        raise _Fail(f"rate must be in [0, 1), got {layer.rate!r}")
    return shape, ZERO, ZERO


def _activation_layer(layer: L.Activation, shape: Shape) -> Result:
    if layer.function not in L.ACTIVATIONS:
        raise _Fail(f"unknown activation {layer.function!r} (known: {', '.join(L.ACTIVATIONS)})")
    return shape, ZERO, ZERO


def _identity(layer: L.Layer, shape: Shape) -> Result:
    return shape, ZERO, ZERO


def _image(layer: L.Layer, shape: Shape) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise _Fail(f"expects an image (C, H, W), got shape {shape}")
    return shape


def _zero_padding(layer: L.ZeroPadding, shape: Shape) -> Result:
    c, sizes = _spatial(layer, shape, layer.ndim)
    pads = window_pads(layer.padding, sizes, (1,) * layer.ndim, (1,) * layer.ndim, (1,) * layer.ndim)
    return (c, *(n + lo + hi for n, (lo, hi) in zip(sizes, pads))), ZERO, ZERO


def _center_crop(layer: L.CenterCrop, shape: Shape) -> Result:
    c, h, w = _image(layer, shape)
    th, tw = _positive("height", layer.height), _positive("width", layer.width)
    if th > h or tw > w:
        raise _Fail(f"crop {th}x{tw} does not fit inside the {h}x{w} input")
    return (c, th, tw), ZERO, ZERO


def _resizing(layer: L.Resizing, shape: Shape) -> Result:
    c, _, _ = _image(layer, shape)
    if layer.interpolation not in ("bilinear", "nearest"):
        raise _Fail(f"interpolation must be 'bilinear' or 'nearest', got {layer.interpolation!r}")
    return (c, _positive("height", layer.height), _positive("width", layer.width)), ZERO, ZERO


def _random_flip(layer: L.RandomFlip, shape: Shape) -> Result:
    _image(layer, shape)
    if layer.mode not in ("horizontal", "vertical", "horizontal_and_vertical"):
        raise _Fail(f"mode must be horizontal, vertical or horizontal_and_vertical, got {layer.mode!r}")
    return shape, ZERO, ZERO


def _random_geometry(layer: L.Layer, shape: Shape) -> Result:
    _image(layer, shape)
    return shape, ZERO, ZERO


def _vgg_preprocess(layer: L.VGGPreprocess, shape: Shape) -> Result:
    if len(shape) != 3 or shape[0] != 3:
        raise _Fail(f"expects an RGB image (3, H, W), got shape {shape}")
    return shape, ZERO, ZERO


#: The shape rule of each layer type.
RULES: dict[type[L.Layer], Rule] = {}


def _rule(rule: Callable[[LayerT, Shape], Result], *kinds: type[LayerT]) -> None:
    """Register ``rule`` for the layer types ``kinds``."""
    for kind in kinds:
        # A rule takes its own layer type, which Rule (any layer) cannot say: the walker looks a rule
        # up by ``type(layer)``, so it only ever hands a rule the layers it was registered for.
        RULES[kind] = cast(Rule, rule)


_rule(_conv, L.Conv1D, L.Conv2D, L.Conv3D)
_rule(_depthwise, L.DepthwiseConv2D)
_rule(_separable, L.SeparableConv2D)
_rule(_partial, L.PartialConv2D)
_rule(_pool, L.MaxPooling1D, L.MaxPooling2D, L.MaxPooling3D, L.AveragePooling1D, L.AveragePooling2D, L.AveragePooling3D)
_rule(_subsampling, L.Subsampling2D)
_rule(_depth_pool, L.DepthPool)
_rule(_global_pool, L.GlobalAveragePooling1D, L.GlobalAveragePooling2D, L.GlobalAveragePooling3D, L.GlobalMaxPooling2D)
_rule(_batch_norm, L.BatchNormalization)
_rule(_lrn, L.LocalResponseNorm)
_rule(_flatten, L.Flatten)
_rule(_dense, L.Dense)
_rule(_rbf, L.RBF)
_rule(_dropout, L.Dropout)
_rule(_activation_layer, L.Activation)
_rule(_identity, L.Rescaling)
_rule(_zero_padding, L.ZeroPadding1D, L.ZeroPadding2D, L.ZeroPadding3D)
_rule(_center_crop, L.CenterCrop)
_rule(_resizing, L.Resizing)
_rule(_random_flip, L.RandomFlip)
_rule(_random_geometry, L.RandomRotation, L.RandomZoom)
_rule(_vgg_preprocess, L.VGGPreprocess)


def _freeze(count: ParamCount) -> ParamCount:
    return ParamCount(0, count.total)


def infer_layers(
    layers: Sequence[object], shape: Shape, *, prefix: tuple[int, ...] = (), frozen: bool = False
) -> tuple[LayerInfo, ...]:
    """Walk ``layers`` from the channels-first ``shape``; one :class:`LayerInfo` per layer."""
    infos = []
    for i, layer in enumerate(layers):
        path = (*prefix, i)
        if not isinstance(layer, L.Layer):
            raise DescriptionError(path, layer, "not a layer description (unknown layer)")
        is_frozen = frozen or not layer.trainable
        if isinstance(layer, L.Block):
            children = infer_layers(layer.layers, shape, prefix=path, frozen=is_frozen)
            out = children[-1].output_shape if children else shape
            keras = sum((ch.keras for ch in children), ZERO)
            torch = sum((ch.torch for ch in children), ZERO)
            infos.append(LayerInfo(path, layer, shape, out, keras, torch, children))
            shape = out
            continue
        rule = RULES.get(type(layer))
        if rule is None:
            raise DescriptionError(path, layer, f"unknown layer type {type(layer).__name__!r}")
        try:
            _activation(layer)
            out, keras, torch = rule(layer, shape)
        except _Fail as exc:
            raise DescriptionError(path, layer, str(exc)) from None
        if is_frozen:
            keras, torch = _freeze(keras), _freeze(torch)
        infos.append(LayerInfo(path, layer, shape, tuple(out), keras, torch))
        shape = tuple(out)
    return tuple(infos)


def infer(model: Model) -> ModelInfo:
    """Per-layer shapes and parameter counts of ``model`` (raises ``ValueError`` on a bad description)."""
    if model.data_format not in DATA_FORMATS:
        raise ValueError(f"model {model.name}: data_format must be one of {DATA_FORMATS}, got {model.data_format!r}")
    shape = model.canonical_input()
    if not shape or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in shape):
        raise ValueError(f"model {model.name}: input_shape must be positive ints, got {model.input_shape!r}")
    return ModelInfo(model, shape, infer_layers(model.layers, shape))


@dataclass(frozen=True)
class Window:
    """Resolved geometry of a sliding-window layer (per spatial dimension).

    ``pads`` are the layer's explicit ``(lo, hi)`` pads, ``same_pads`` what ``"same"`` would
    give, and ``ceil_pads`` the pads that make a floor-mode window reproduce ``ceil_mode``
    (the right pad grown by the ceil-mode overhang).
    """

    sizes: Shape
    kernel: Shape
    strides: Shape
    dilation: Shape
    pads: tuple[tuple[int, int], ...]
    same_pads: tuple[tuple[int, int], ...]
    ceil_pads: tuple[tuple[int, int], ...]
    out: Shape


def window_of(layer: L.Layer, shape: Shape) -> Window:
    """The :class:`Window` of a convolution or pooling layer applied to the channels-first ``shape``."""
    nd = getattr(layer, "ndim", 2)
    sizes = tuple(shape[1:])
    if isinstance(layer, L.Pool):
        k = _ints("pool_size", layer.pool_size, nd)
        s = k if layer.strides is None else _ints("strides", layer.strides, nd)
        d = (1,) * nd
        ceil_mode = layer.ceil_mode
    else:
        k = _ints("kernel_size", layer.kernel_size, nd)  # type: ignore[attr-defined]
        s = _ints("strides", layer.strides, nd)  # type: ignore[attr-defined]
        d = _ints("dilation_rate", layer.dilation_rate, nd)  # type: ignore[attr-defined]
        ceil_mode = False
    pads = window_pads(layer.padding, sizes, k, s, d)  # type: ignore[attr-defined]
    same = resolve_padding("same", sizes, k, s, d)
    out = window_out(sizes, k, s, d, pads, ceil_mode)
    ceil_pads = tuple(
        (lo, max(hi, (o - 1) * st + di * (kk - 1) + 1 - n - lo))
        for (lo, hi), o, st, di, kk, n in zip(pads, out, s, d, k, sizes)
    )
    return Window(sizes, k, s, d, pads, same, ceil_pads, out)
