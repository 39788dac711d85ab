"""How a description becomes Keras layers: a framework-free plan, one op per Keras layer.

The plan is what :mod:`convequiv.notes.models.build_keras` instantiates (with the planned names) and what
the Keras summaries print, so both always agree. Shapes are channels-last (Keras' default layout);
parameter counts follow the Keras convention.

Translation rules:

* ``activation`` stays inside the layer (Keras fuses it);
* padding: ``"valid"`` / ``"same"`` are native; explicit pads that equal what ``"same"`` gives
  become ``"same"``; other explicit pads become a pad layer before a ``"valid"`` layer
  (``ZeroPadding{n}D`` for convolution and average pooling that counts pads, the custom
  ``NegInfPadding{n}D`` for max pooling so padded cells never win); PyTorch's ``ceil_mode`` for max
  pooling becomes extra ``-inf`` padding on the right;
* a ``Block`` is a nested ``Sequential`` (or ``keras.applications`` model, class ``Functional``)
  and is one row;
* layers Keras lacks (``DepthPool``, ``Subsampling2D``, ``PartialConv2D``, ``RBF``,
  ``LocalResponseNorm``, ``VGGPreprocess``) are small custom layers of the same names.

Names follow Keras: the snake-case class name, numbered ``_1``, ``_2``... per name in creation
order; explicit names count for nothing. The functional API adds an ``InputLayer`` row, named
``input_layer`` by Keras 3 and ``input_1`` by Keras 2 (``flavor``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import cast

from convequiv.adapters.translate import has_padding, padded_sizes
from convequiv.reference import ParamCount

from . import layers as L
from .infer import ZERO, LayerInfo, LayerT, ModelInfo, Shape, window_of
from .model import to_layout
from .plan_torch import UnsupportedLayer

FLAVORS = ("keras3", "keras2")


@dataclass(frozen=True)
class KerasOp:
    """One Keras layer: ``kind`` is its class, ``args`` its constructor arguments (channels-last)."""

    kind: str
    args: Mapping[str, object]
    name: str
    path: tuple[int, ...]
    output_shape: Shape
    params: ParamCount
    trainable: bool = True
    children: tuple[KerasOp, ...] = field(default_factory=tuple)
    application: str | None = None


def to_snake_case(name: str) -> str:
    """Keras' automatic layer-name stem: ``MaxPooling2D`` -> ``max_pooling2d``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


class Namer:
    """Keras' automatic names: ``stem``, ``stem_1``, ``stem_2``... per stem."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, stem: str, explicit: str | None = None, *, zero_based: bool = True) -> str:
        if explicit:
            return explicit
        n = self.counts[stem]
        self.counts[stem] += 1
        if not zero_based:
            return f"{stem}_{n + 1}"
        return stem if n == 0 else f"{stem}_{n}"


def _fail(info: LayerInfo, reason: str) -> UnsupportedLayer:
    return UnsupportedLayer(f"layer {info.index} ({type(info.layer).__name__}): Keras build: {reason}")


class _Planner:
    def __init__(self, info: LayerInfo, namer: Namer, frozen: bool):
        self.info = info
        self.namer = namer
        self.trainable = not frozen
        self.ops: list[KerasOp] = []

    def add(
        self, kind: str, shape: Shape, params: ParamCount = ZERO, *, explicit: str | None = None, **args: object
    ) -> None:
        if not self.trainable:
            params = ParamCount(0, params.total)
        name = self.namer(to_snake_case(kind), explicit)
        self.ops.append(
            KerasOp(kind, args, name, self.info.path, to_layout(shape, "channels_last"), params, self.trainable)
        )


def _padded(shape: Shape, pads: tuple[tuple[int, int], ...]) -> Shape:
    """A channels-first ``(C, *spatial)`` shape after padding the spatial axes."""
    return (shape[0], *padded_sizes(shape[1:], pads))


def _window_padding(
    p: _Planner,
    info: LayerInfo,
    pads: tuple[tuple[int, int], ...],
    same_pads: tuple[tuple[int, int], ...],
    pad_kind: str,
    native: object = None,
) -> str:
    """Keras ``padding`` for a window layer: ``native`` when it is ``"valid"``/``"same"``, else from
    the explicit ``pads`` (adding a ``pad_kind`` layer first when neither string fits)."""
    if native in ("valid", "same"):
        return native
    if not has_padding(tuple(pads)):
        return "valid"
    if tuple(pads) == tuple(same_pads):
        return "same"
    p.add(pad_kind, _padded(info.input_shape, pads), padding=tuple(pads))
    return "valid"


def _conv(p: _Planner, layer: L.Conv, info: LayerInfo) -> None:
    win = window_of(layer, info.input_shape)
    if any(s > 1 for s in win.strides) and any(d > 1 for d in win.dilation):
        raise _fail(info, "Keras convolutions cannot combine strides > 1 with dilation_rate > 1")
    nd = layer.ndim
    padding = _window_padding(p, info, win.pads, win.same_pads, f"ZeroPadding{nd}D", layer.padding)
    p.add(
        layer.keras_class,
        info.output_shape,
        info.keras,
        explicit=layer.name,
        filters=layer.filters,
        kernel_size=win.kernel,
        strides=win.strides,
        padding=padding,
        dilation_rate=win.dilation,
        groups=layer.groups,
        use_bias=layer.use_bias,
        activation=layer.activation,
    )


def _depthwise(p: _Planner, layer: L.DepthwiseConv2D | L.SeparableConv2D, info: LayerInfo) -> None:
    win = window_of(layer, info.input_shape)
    padding = _window_padding(p, info, win.pads, win.same_pads, "ZeroPadding2D", layer.padding)
    args: dict[str, object] = dict(
        kernel_size=win.kernel,
        strides=win.strides,
        padding=padding,
        depth_multiplier=layer.depth_multiplier,
        dilation_rate=win.dilation,
        use_bias=layer.use_bias,
        activation=layer.activation,
    )
    if isinstance(layer, L.SeparableConv2D):
        args["filters"] = layer.filters
    p.add(type(layer).__name__, info.output_shape, info.keras, explicit=layer.name, **args)


def _pool(p: _Planner, layer: L.Pool, info: LayerInfo) -> None:
    win = window_of(layer, info.input_shape)
    nd = layer.ndim
    cls = type(layer).__name__
    if layer.mode == "max":
        native = None if layer.ceil_mode else layer.padding
        pads = win.ceil_pads if layer.ceil_mode else win.pads
        padding = _window_padding(p, info, pads, win.same_pads, f"NegInfPadding{nd}D", native)
    else:
        include = layer.count_include_pad if layer.count_include_pad is not None else layer.padding != "same"  # type: ignore[attr-defined]
        if layer.ceil_mode and win.ceil_pads != win.pads:
            raise _fail(info, "average pooling in ceil mode with a partial last window has no Keras layer")
        if all(lo == 0 and hi == 0 for lo, hi in win.pads):
            padding = "valid"
        elif not include:
            if tuple(win.pads) != tuple(win.same_pads):
                raise _fail(info, "average pooling that excludes pads other than 'same' ones has no Keras layer")
            padding = "same"
        else:
            p.add(f"ZeroPadding{nd}D", _padded(info.input_shape, win.pads), padding=tuple(win.pads))
            padding = "valid"
    p.add(cls, info.output_shape, explicit=layer.name, pool_size=win.kernel, strides=win.strides, padding=padding)


def _fields(*names: str) -> Callable[[_Planner, L.Layer, LayerInfo], None]:
    def plan(p: _Planner, layer: L.Layer, info: LayerInfo) -> None:
        p.add(
            layer.keras_class,
            info.output_shape,
            info.keras,
            explicit=layer.name,
            **{n: getattr(layer, n) for n in names},
        )

    return plan


def _zero_padding(p: _Planner, layer: L.ZeroPadding, info: LayerInfo) -> None:
    from convequiv.reference import resolve_padding

    pads = resolve_padding(layer.padding, info.input_shape[1:], 1)
    p.add(layer.keras_class, info.output_shape, explicit=layer.name, padding=pads)


def _partial(p: _Planner, layer: L.PartialConv2D, info: LayerInfo) -> None:
    k = layer.kernel_size
    p.add(
        "PartialConv2D",
        info.output_shape,
        info.keras,
        explicit=layer.name,
        filters=layer.filters,
        kernel_size=(k, k) if isinstance(k, int) else tuple(k),
        connections=layer.connections,
        activation=layer.activation,
    )


#: How a layer of each type is planned.
LayerPlan = Callable[[_Planner, L.Layer, LayerInfo], None]
PLANS: dict[type[L.Layer], LayerPlan] = {}


def _plan(rule: Callable[[_Planner, LayerT, LayerInfo], None], *kinds: type[LayerT]) -> None:
    """Register ``rule`` for the layer types ``kinds``."""
    for kind in kinds:
        # A rule takes its own layer type, which LayerPlan (any layer) cannot say: the planner looks a
        # rule up by ``type(layer)``, so it only ever hands a rule the layers it was registered for.
        PLANS[kind] = cast(LayerPlan, rule)


_plan(_conv, L.Conv1D, L.Conv2D, L.Conv3D)
_plan(_depthwise, L.DepthwiseConv2D)
_plan(_depthwise, L.SeparableConv2D)
_plan(_partial, L.PartialConv2D)
_plan(_pool, L.MaxPooling1D, L.MaxPooling2D, L.MaxPooling3D, L.AveragePooling1D, L.AveragePooling2D, L.AveragePooling3D)
_plan(_fields("pool_size", "activation"), L.Subsampling2D)
_plan(_fields("pool_size", "mode"), L.DepthPool)
_plan(
    _fields("keepdims"),
    L.GlobalAveragePooling1D,
    L.GlobalAveragePooling2D,
    L.GlobalAveragePooling3D,
    L.GlobalMaxPooling2D,
)
_plan(_fields("momentum", "epsilon"), L.BatchNormalization)
_plan(_fields("size", "alpha", "beta", "k"), L.LocalResponseNorm)
_plan(_fields(), L.Flatten, L.VGGPreprocess)
_plan(_fields("units", "use_bias", "activation"), L.Dense)
_plan(_fields("units"), L.RBF)
_plan(_fields("rate"), L.Dropout)
_plan(_fields("function"), L.Activation)
_plan(_fields("scale", "offset"), L.Rescaling)
_plan(_zero_padding, L.ZeroPadding1D, L.ZeroPadding2D, L.ZeroPadding3D)
_plan(_fields("height", "width"), L.CenterCrop)
_plan(_fields("height", "width", "interpolation"), L.Resizing)
_plan(_fields("mode"), L.RandomFlip)
_plan(_fields("factor"), L.RandomRotation)
_plan(_fields("height_factor", "width_factor"), L.RandomZoom)


def plan_layers(infos: tuple[LayerInfo, ...], namer: Namer, frozen: bool = False) -> tuple[KerasOp, ...]:
    """The Keras layers of a stack of already inferred layers, named in creation order."""
    ops: list[KerasOp] = []
    for info in infos:
        layer = info.layer
        is_frozen = frozen or not layer.trainable
        if isinstance(layer, L.Block):
            if layer.application:
                name = layer.name or layer.application
                children = plan_layers(info.children, Namer(), is_frozen)
                kind = "Functional"
            else:
                children = plan_layers(info.children, namer, is_frozen)
                name = namer("sequential", layer.name)
                kind = "Sequential"
            params = ParamCount(0, info.keras.total) if is_frozen else info.keras
            ops.append(
                KerasOp(
                    kind,
                    {},
                    name,
                    info.path,
                    to_layout(info.output_shape, "channels_last"),
                    params,
                    not is_frozen,
                    children,
                    layer.application,
                )
            )
            continue
        planner = _Planner(info, namer, is_frozen)
        PLANS[type(layer)](planner, layer, info)
        ops.extend(planner.ops)
    return tuple(ops)


def plan(model_info: ModelInfo, flavor: str = "keras3") -> tuple[KerasOp, ...]:
    """The Keras layers of a model; functional models start with their ``InputLayer``."""
    if flavor not in FLAVORS:
        raise ValueError(f"flavor must be one of {FLAVORS}, got {flavor!r}")
    model = model_info.model
    namer = Namer()
    ops: list[KerasOp] = []
    if model.api == "functional":
        stem, zero_based = ("input_layer", True) if flavor == "keras3" else ("input", False)
        name = namer(stem, model.input_name, zero_based=zero_based)
        ops.append(KerasOp("InputLayer", {}, name, (), to_layout(model_info.input_shape, "channels_last"), ZERO))
    ops.extend(plan_layers(model_info.layers, namer))
    return tuple(ops)


def model_name(model_info: ModelInfo, flavor: str = "keras3") -> str:
    """The name a Keras summary prints for the model."""
    model = model_info.model
    if model.keras_name:
        return model.keras_name
    if model.api == "sequential":
        return "sequential"
    return "functional" if flavor == "keras3" else "model"


def total_params(ops: tuple[KerasOp, ...]) -> ParamCount:
    """Sum over the top-level layers (a nested model counts once, as a whole)."""
    total = ZERO
    for op in ops:
        total = total + op.params
    return total
