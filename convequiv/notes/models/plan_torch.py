"""How a description becomes PyTorch modules: a framework-free plan, one op per module.

The plan is what :mod:`convequiv.notes.models.build_torch` instantiates and what the torchsummary table
prints, so both always agree on the modules, their order, shapes (channels-first) and parameter
counts (PyTorch convention: ``parameters()``; BatchNorm running statistics are buffers).

Translation rules (a description layer may become several modules):

* an ``activation`` becomes its own module after the layer (``ReLU``, ``Sigmoid``, ``Tanh``,
  ``Softmax(dim=1)``, ``LeCunTanh``);
* padding: symmetric pads go into the layer's ``padding`` argument (pooling: only while each pad is
  at most half the window, PyTorch's limit); otherwise an explicit pad module runs first
  (``ZeroPad{n}d`` for convolution and average pooling that counts pads, ``ConstantPad{n}d`` with
  ``-inf`` for max pooling, so padded cells never win);
* ``SeparableConv2D`` -> a depthwise ``Conv2d`` without bias + a pointwise ``1 x 1`` ``Conv2d``;
* global pooling -> ``AdaptiveAvgPool{n}d(1)`` / ``AdaptiveMaxPool{n}d(1)`` + ``Flatten``;
* ``Flatten(functional=True)`` -> a reshape that summary tools do not list (like ``x.view`` in
  ``forward``);
* ``Block`` -> a nested ``Sequential`` (summary tools list its leaves, never the container);
* layers PyTorch lacks (the notes' ``DepthPool``, LeNet-5's ``Subsampling2d``, ``PartialConv2d``
  and ``RBF``, ``Rescaling``, crops, resizing, augmentation, VGG preprocessing) become small
  modules of :mod:`convequiv.notes.models.build_torch` with the same names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import cast

from convequiv.adapters.translate import padded_sizes, symmetric, torch_pool_takes
from convequiv.reference import ParamCount, dense_params, depthwise_conv_params, output_size, resolve_padding

from . import layers as L
from .infer import ZERO, LayerInfo, LayerT, ModelInfo, Shape, Window, window_of


class UnsupportedLayer(ValueError):
    """A description layer the framework cannot express faithfully (names the layer)."""


@dataclass(frozen=True)
class TorchOp:
    """One module: ``kind`` is the ``torch.nn`` (or convequiv) class, ``args`` its arguments."""

    kind: str
    args: Mapping[str, object]
    path: tuple[int, ...]
    output_shape: Shape
    params: ParamCount
    listed: bool = True
    trainable: bool = True
    children: tuple[TorchOp, ...] = field(default_factory=tuple)


ACTIVATION_MODULES = {
    "relu": "ReLU",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "softmax": "Softmax",
    "lecun_tanh": "LeCunTanh",
}


def _fail(info: LayerInfo, reason: str) -> UnsupportedLayer:
    return UnsupportedLayer(f"layer {info.index} ({type(info.layer).__name__}): PyTorch build: {reason}")


class _Planner:
    def __init__(self, info: LayerInfo, frozen: bool):
        self.info = info
        self.trainable = not frozen
        self.ops: list[TorchOp] = []

    def add(self, kind: str, shape: Shape, params: ParamCount = ZERO, *, listed: bool = True, **args: object) -> None:
        self.add_op(kind, shape, args, params, listed=listed)

    def add_op(
        self, kind: str, shape: Shape, args: Mapping[str, object], params: ParamCount = ZERO, *, listed: bool = True
    ) -> None:
        """:meth:`add` with the module's arguments in a mapping (for arguments chosen case by case)."""
        if not self.trainable:
            params = ParamCount(0, params.total)
        self.ops.append(TorchOp(kind, dict(args), self.info.path, tuple(shape), params, listed, self.trainable))

    def activation(self, name: str | None, shape: Shape) -> None:
        if name is not None:
            self.add_op(ACTIVATION_MODULES[name], shape, {"dim": 1} if name == "softmax" else {})


def _padded(shape: Shape, pads: tuple[tuple[int, int], ...]) -> Shape:
    """A channels-first ``(C, *spatial)`` shape after padding the spatial axes."""
    return (shape[0], *padded_sizes(shape[1:], pads))


def _conv(p: _Planner, layer: L.Conv, info: LayerInfo) -> None:
    win = window_of(layer, info.input_shape)
    nd = layer.ndim
    shape = info.input_shape
    padding: object = tuple(lo for lo, _ in win.pads)
    if not symmetric(win.pads):
        shape = _padded(shape, win.pads)
        p.add(f"ZeroPad{nd}d", shape, padding=win.pads)
        padding = (0,) * nd
    p.add(
        f"Conv{nd}d",
        info.output_shape,
        info.torch,
        in_channels=info.input_shape[0],
        out_channels=layer.filters,
        kernel_size=win.kernel,
        stride=win.strides,
        padding=padding,
        dilation=win.dilation,
        groups=layer.groups,
        bias=layer.use_bias,
    )
    p.activation(layer.activation, info.output_shape)


def _depthwise(p: _Planner, layer: L.DepthwiseConv2D | L.SeparableConv2D, info: LayerInfo) -> None:
    win = window_of(layer, info.input_shape)
    c = info.input_shape[0]
    m = layer.depth_multiplier
    shape = info.input_shape
    padding: object = tuple(lo for lo, _ in win.pads)
    if not symmetric(win.pads):
        shape = _padded(shape, win.pads)
        p.add("ZeroPad2d", shape, padding=win.pads)
        padding = (0, 0)
    separable = isinstance(layer, L.SeparableConv2D)
    depth_bias = layer.use_bias and not separable
    depth_shape = (c * m, *info.output_shape[1:])
    args = dict(in_channels=c, out_channels=c * m, kernel_size=win.kernel, stride=win.strides, padding=padding)
    args.update(dilation=win.dilation, groups=c, bias=depth_bias)
    p.add_op(
        "Conv2d",
        depth_shape,
        args,
        ParamCount(depthwise_conv_params(c, win.kernel, depth_multiplier=m, bias=depth_bias)),
    )
    if isinstance(layer, L.SeparableConv2D):
        point = ParamCount(dense_params(c * m, layer.filters, bias=layer.use_bias))
        p.add(
            "Conv2d",
            info.output_shape,
            point,
            in_channels=c * m,
            out_channels=layer.filters,
            kernel_size=(1, 1),
            bias=layer.use_bias,
        )
    p.activation(layer.activation, info.output_shape)


def _pool(p: _Planner, layer: L.Pool, info: LayerInfo) -> None:
    win = window_of(layer, info.input_shape)
    nd = layer.ndim
    is_max = layer.mode == "max"
    include = (
        bool(layer.count_include_pad)
        if isinstance(layer, L.AvgPool) and layer.count_include_pad is not None
        else (layer.padding != "same")
    )
    fits = torch_pool_takes(win.pads, win.kernel)
    padding: tuple[int, ...] = tuple(lo for lo, _ in win.pads)
    ceil_mode = layer.ceil_mode
    if not fits and not is_max and not include and _ceil_equivalent(win):
        # pads only at the end, excluded from the average: exactly PyTorch's ceil-mode last window
        fits, padding, ceil_mode = True, (0,) * nd, True
    if not fits:
        if not is_max and not include:
            raise _fail(info, "average pooling that excludes asymmetric pads has no PyTorch module")
        padded_out = tuple(
            output_size(n + lo + hi, k, stride=st, ceil_mode=ceil_mode)
            for n, (lo, hi), k, st in zip(win.sizes, win.pads, win.kernel, win.strides)
        )
        if padded_out != win.out:
            raise _fail(info, "in ceil mode behind a pad module PyTorch would keep a window that starts in the padding")
        pad_args: dict[str, object] = {"padding": win.pads}
        if is_max:
            pad_args["value"] = float("-inf")
        p.add_op(f"ConstantPad{nd}d" if is_max else f"ZeroPad{nd}d", _padded(info.input_shape, win.pads), pad_args)
        padding = (0,) * nd
    kind = f"MaxPool{nd}d" if is_max else f"AvgPool{nd}d"
    args: dict[str, object] = dict(kernel_size=win.kernel, stride=win.strides, padding=padding, ceil_mode=ceil_mode)
    if not is_max:
        args["count_include_pad"] = include
    p.add_op(kind, info.output_shape, args)


def _ceil_equivalent(win: Window) -> bool:
    """Pads ``(0, hi)`` with ``hi`` below the window give the same windows as ceil mode without pads."""
    if any(lo for lo, _ in win.pads):
        return False
    return all(
        output_size(n, k, stride=s, ceil_mode=True) == o and hi < k
        for n, k, s, o, (_, hi) in zip(win.sizes, win.kernel, win.strides, win.out, win.pads)
    )


def _partial(p: _Planner, layer: L.PartialConv2D, info: LayerInfo) -> None:
    k = layer.kernel_size
    kernel = (k, k) if isinstance(k, int) else tuple(k)
    p.add(
        "PartialConv2d",
        info.output_shape,
        info.torch,
        in_channels=info.input_shape[0],
        kernel_size=kernel,
        connections=layer.connections,
    )
    p.activation(layer.activation, info.output_shape)


def _subsampling(p: _Planner, layer: L.Subsampling2D, info: LayerInfo) -> None:
    p.add("Subsampling2d", info.output_shape, info.torch, channels=info.input_shape[0], pool_size=layer.pool_size)
    p.activation(layer.activation, info.output_shape)


def _global_pool(p: _Planner, layer: L.GlobalPool, info: LayerInfo) -> None:
    nd = layer.ndim
    kind = f"AdaptiveAvgPool{nd}d" if layer.mode == "avg" else f"AdaptiveMaxPool{nd}d"
    p.add(kind, (info.input_shape[0], *(1,) * nd), output_size=1)
    if not layer.keepdims:
        p.add("Flatten", info.output_shape)


def _batch_norm(p: _Planner, layer: L.BatchNormalization, info: LayerInfo) -> None:
    nd = max(1, len(info.input_shape) - 1)
    p.add(
        f"BatchNorm{nd}d",
        info.output_shape,
        info.torch,
        num_features=info.input_shape[0],
        eps=layer.epsilon,
        momentum=round(1 - layer.momentum, 12),
    )


def _lrn(p: _Planner, layer: L.LocalResponseNorm, info: LayerInfo) -> None:
    p.add(
        "LocalResponseNorm",
        info.output_shape,
        size=layer.size,
        alpha=layer.alpha * layer.size,
        beta=layer.beta,
        k=layer.k,
    )


def _flatten(p: _Planner, layer: L.Flatten, info: LayerInfo) -> None:
    if layer.functional:
        p.add("FunctionalFlatten", info.output_shape, listed=False)
    else:
        p.add("Flatten", info.output_shape)


def _dense(p: _Planner, layer: L.Dense, info: LayerInfo) -> None:
    p.add(
        "Linear",
        info.output_shape,
        info.torch,
        in_features=info.input_shape[0],
        out_features=layer.units,
        bias=layer.use_bias,
    )
    p.activation(layer.activation, info.output_shape)


def _rbf(p: _Planner, layer: L.RBF, info: LayerInfo) -> None:
    p.add("RBF", info.output_shape, info.torch, in_features=info.input_shape[0], units=layer.units)


def _activation(p: _Planner, layer: L.Activation, info: LayerInfo) -> None:
    p.activation(layer.function, info.output_shape)


def _zero_padding(p: _Planner, layer: L.ZeroPadding, info: LayerInfo) -> None:
    p.add(f"ZeroPad{layer.ndim}d", info.output_shape, padding=resolve_padding(layer.padding, info.input_shape[1:], 1))


def _fields(*names: str) -> Callable[[_Planner, L.Layer, LayerInfo], None]:
    def plan(p: _Planner, layer: L.Layer, info: LayerInfo) -> None:
        p.add(type(layer).__name__, info.output_shape, **{n: getattr(layer, n) for n in names})

    return plan


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
_plan(_subsampling, L.Subsampling2D)
_plan(_fields("pool_size", "mode"), L.DepthPool)
_plan(_global_pool, L.GlobalAveragePooling1D, L.GlobalAveragePooling2D, L.GlobalAveragePooling3D, L.GlobalMaxPooling2D)
_plan(_batch_norm, L.BatchNormalization)
_plan(_lrn, L.LocalResponseNorm)
_plan(_flatten, L.Flatten)
_plan(_dense, L.Dense)
_plan(_rbf, L.RBF)
_plan(lambda p, layer, info: p.add("Dropout", info.output_shape, p=layer.rate), L.Dropout)
_plan(_activation, L.Activation)
_plan(_fields("scale", "offset"), L.Rescaling)
_plan(_zero_padding, L.ZeroPadding1D, L.ZeroPadding2D, L.ZeroPadding3D)
_plan(_fields("height", "width"), L.CenterCrop)
_plan(_fields("height", "width", "interpolation"), L.Resizing)
_plan(_fields("mode"), L.RandomFlip)
_plan(_fields("factor"), L.RandomRotation)
_plan(_fields("height_factor", "width_factor"), L.RandomZoom)
_plan(_fields(), L.VGGPreprocess)


def plan_layers(infos: tuple[LayerInfo, ...], frozen: bool = False) -> tuple[TorchOp, ...]:
    """The modules of a stack of already inferred layers."""
    ops: list[TorchOp] = []
    for info in infos:
        layer = info.layer
        is_frozen = frozen or not layer.trainable
        if isinstance(layer, L.Block):
            children = plan_layers(info.children, is_frozen)
            params = ParamCount(0, info.torch.total) if is_frozen else info.torch
            ops.append(TorchOp("Sequential", {}, info.path, info.output_shape, params, False, not is_frozen, children))
            continue
        planner = _Planner(info, is_frozen)
        PLANS[type(layer)](planner, layer, info)
        ops.extend(planner.ops)
    return tuple(ops)


def plan(model_info: ModelInfo) -> tuple[TorchOp, ...]:
    """The PyTorch modules of a model, in forward order (raises :class:`UnsupportedLayer`)."""
    return plan_layers(model_info.layers)


def leaves(ops: tuple[TorchOp, ...]) -> list[TorchOp]:
    """The modules a torchsummary-style tool lists: leaves of nested ``Sequential`` s, in order."""
    out: list[TorchOp] = []
    for op in ops:
        if op.kind == "Sequential":
            out.extend(leaves(op.children))
        elif op.listed:
            out.append(op)
    return out


def total_params(ops: tuple[TorchOp, ...]) -> ParamCount:
    """Sum over every module (listed or not)."""
    total = ZERO
    for op in ops:
        total = total + (total_params(op.children) if op.kind == "Sequential" else op.params)
    return total
