"""Keras 3 on the process's backend: ``keras.ops`` (api ``"ops"``) and ``keras.layers`` (api ``"layer"``).

The backend is the one Keras chose for this process (``keras.backend.backend()``); :func:`convequiv.adapters.load`
runs other backends in worker processes. Gradients of ``sum(dy * y)`` come from the backend's own
autodiff: ``tf.GradientTape``, ``jax.vjp`` (layer variables through ``keras.StatelessScope``) or
``torch.autograd``; for layers they are taken w.r.t. the layer's own variables after ``set_weights``.
float64 layers are built with ``dtype="float64"``; on JAX the adapter turns on ``jax_enable_x64``.

Layouts (``data_format="channels_last"`` everywhere): data ``(N, C, *s)`` <-> ``(N, *s, C)``; kernels
``(O, C/g, *k)`` <-> ``(*k, C/g, O)`` (``keras.ops.conv`` infers the groups, ``Conv*D`` takes ``groups``);
depthwise cases of rank 1 and 2 (``groups == C``) use ``keras.ops.depthwise_conv`` / ``DepthwiseConv1D/2D``
with kernels ``(*k, C, m)``, output channel ``c*m + j`` in both layouts; a 3-D depthwise case is a grouped conv.

Padding translation (canonical -> Keras):

* ``"valid"`` and ``"same"`` are Keras' own strings (``"same"`` is SAME_UPPER in Keras);
* any other padding (ints, pairs, ``"same_lower"``) is a pad op, then ``"valid"``: ``ZeroPadding*D``
  before a ``Conv*D`` layer, ``keras.ops.pad`` (zeros) before ``keras.ops.conv``; ``keras.ops.pad`` with
  ``-inf`` before max pooling (a ZeroPadding layer would let 0 win); zeros (a ZeroPadding layer for api
  ``"layer"``) before average pooling with ``count_include_pad=True``, and also for ``"same"`` with
  ``count_include_pad=True``, since Keras' ``"same"`` average leaves the padding out of the divisor.
* pooling ``stride=None`` is passed on as Keras' own default (``strides=None`` / omitted).

Unsupported, and how it is proven:

* lacks (the Keras callable has no such parameter): pooling ``dilation_rate``; ``ceil_mode`` when it adds
  a window (otherwise the windows are the floor-mode ones and the case runs); ``count_include_pad`` for
  average pooling that is padded other than by ``"same"``; a channel-pooling layer (api ``"layer"``).
* refuses (the call raises; :meth:`KerasAdapter.attempt` makes it): ``Conv*D`` layers with strides > 1
  and dilation > 1 (the constructor checks), ``keras.ops.conv`` on TensorFlow likewise
  (``tf.nn.convolution``); TensorFlow's float64 depthwise kernel with unequal row/column strides;
  TensorFlow's 3-D pooling in float64 (MaxPool3D/AvgPool3D have no double CPU kernel);
  ``keras.ops.max_pool``/``average_pool`` on JAX with ``strides=None`` (Keras 3.15 expands ``pool_size``
  to full rank before copying it into ``strides``, then expands the copy again: a TypeError from
  ``lax.reduce_window``); on torch, a 2-D convolution with one filter, more than one input channel and a
  kernel larger than 1x1, undilated, in float64 or (float32) with batch 1 and a kernel not larger than
  3 in both dims: Keras passes torch the permuted ``(kh, kw, C, 1)`` kernel, which is channels-last
  contiguous only, and torch's slow_conv2d backward raises "grad_weight must be contiguous" (oneDNN,
  used otherwise for float32, does not; pytorch/vision#6001 is the same torch check).

Contested semantics, as run (repro: ``keras.ops.max_pool`` of ``[1, 1]`` and ``keras.ops.max`` of
``[1, 1, 0]`` with their gradients, on each backend):

* max pooling sends the gradient to the first maximum on every backend (TensorFlow's 3-D pooling gives
  every tied maximum the whole gradient: divergence ``keras-tensorflow-maxpool3d-grad-ties-all``);
  NaN propagates on JAX and torch; TensorFlow's ``tf.nn.max_pool`` skips NaN (``nan="ignore"``;
  tensorflow/tensorflow#2501), with a window of only NaN / -inf giving the lowest finite float
  (divergence ``keras-tensorflow-maxpool-empty-window-lowest``);
* ``keras.ops.max`` (global max pooling, ``GlobalMaxPooling*D``, depth pooling) splits the gradient
  evenly among tied maxima on every backend (tf.reduce_max documents it: tensorflow/tensorflow#109337;
  ``jnp.max``, ``torch.amax`` likewise) and propagates NaN.

Depth pooling (api ``"ops"`` only) is the notes' ``DepthPool``: channels reshaped to ``(C / k, k)`` and
reduced with ``keras.ops.max`` / ``mean``; a stride other than ``k`` stacks the ``k`` strided slices.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from convequiv.reference.cases import Case, ConvCase, DepthPoolCase, GlobalPoolCase, PoolCase
from convequiv.reference.geometry import window_geometry

from .base import SUPPORTED, Adapter, Semantics, Support, Supported, Unsupported, UnsupportedCase

Pads = tuple[tuple[int, int], ...]
Shape = tuple[int | None, ...]


def _to_last(a: np.ndarray) -> np.ndarray:
    """``(N, C, *spatial)`` -> ``(N, *spatial, C)``."""
    return np.ascontiguousarray(np.moveaxis(a, 1, -1))


def _to_first(a: np.ndarray) -> np.ndarray:
    """``(N, *spatial, C)`` -> ``(N, C, *spatial)``; a ``(N, C)`` array is left as it is."""
    return np.ascontiguousarray(np.moveaxis(a, -1, 1)) if a.ndim > 2 else a


def _shape_to_first(shape: Sequence[int | None]) -> tuple[int | None, ...]:
    shape = tuple(shape)
    return (shape[0], shape[-1], *shape[1:-1]) if len(shape) > 2 else shape


def _kernel_to_keras(w: np.ndarray, depthwise: bool, channels: int) -> np.ndarray:
    """``(O, C/g, *k)`` -> ``(*k, C/g, O)``; depthwise ``(C*m, 1, *k)`` -> ``(*k, C, m)`` (output ``c*m + j``
    is channel ``c``'s ``j``-th filter in both layouts)."""
    spatial = tuple(range(2, w.ndim))
    if not depthwise:
        return np.ascontiguousarray(np.transpose(w, (*spatial, 1, 0)))
    return np.ascontiguousarray(np.transpose(w, (*spatial, 0, 1)).reshape(w.shape[2:] + (channels, -1)))


def _kernel_from_keras(k: np.ndarray, depthwise: bool) -> np.ndarray:
    """Inverse of :func:`_kernel_to_keras`."""
    nd = k.ndim - 2
    if not depthwise:
        return np.ascontiguousarray(np.transpose(k, (nd + 1, nd, *range(nd))))
    return np.ascontiguousarray(np.moveaxis(k.reshape(k.shape[:nd] + (-1,)), -1, 0)[:, None])


class _Pad:
    """A constant pad of the spatial axes (``-inf`` for max pooling), shaped like a layer; ``pad`` is the
    framework's pad function (``keras.ops.pad``, ``tf.pad``), called as ``pad(x, widths, constant_values=v)``."""

    def __init__(self, pad: Callable[..., Any], pads: Pads, value: float):
        self.pad, self.pads, self.value = pad, pads, value

    def __call__(self, x: Any) -> Any:
        return self.pad(x, ((0, 0), *self.pads, (0, 0)), constant_values=self.value)

    def compute_output_shape(self, shape: Shape) -> Shape:
        return (shape[0], *(n + lo + hi for n, (lo, hi) in zip(shape[1:-1], self.pads)), shape[-1])  # type: ignore


@dataclass
class _Graph:
    """One case in Keras: ``fn(*arrays)`` on channels-last tensors, plus the layers it calls (api ``"layer"``)."""

    fn: Callable[..., Any]
    arrays: list[np.ndarray]
    steps: list[Any] = field(default_factory=list)  # layers (and pad ops) applied in order
    layer: Any = None  # the step whose trainable variables receive gradients
    depthwise: bool = False  # the kernel is in the depthwise layout (*k, C, m)


class KerasAdapter(Adapter):
    apis = ("ops", "layer")

    def __init__(self) -> None:
        import keras

        self.keras = keras
        self.backend: str = keras.backend.backend()
        self.name = f"keras[{self.backend}]"  # type: ignore[misc]
        self.distributions = ("keras", self.backend)  # type: ignore[misc]
        if self.backend == "jax":  # float64 arrays need JAX's 64-bit mode (process-wide)
            import jax

            jax.config.update("jax_enable_x64", True)
            self.compiles_per_case = True  # type: ignore[misc]

    def versions(self) -> dict[str, str]:
        # Module versions: TensorFlow is installed as the distribution tensorflow-cpu (or -gpu, -macos...).
        return {
            self.keras.__name__: self.keras.__version__,
            self.backend: importlib.import_module(self.backend).__version__,
        }

    def apis_for(self, op: str) -> tuple[str, ...]:
        # Keras has no channel-pooling layer; depth pooling is the notes' DepthPool idiom in keras.ops (where
        # the adapter has that API; otherwise the layer API reports it unsupported).
        return ("ops",) if op == "depth_pool" and "ops" in self.apis else self.apis

    def warm_up(self) -> None:
        x = np.zeros((1, 1, 4, 4), np.float32)
        w = np.ones((1, 1, 2, 2), np.float32)
        self.run(
            ConvCase(x.shape, w.shape, bias=False),
            {"x": x, "w": w, "dy": np.ones((1, 1, 3, 3), np.float32)},
            self.apis[0],
        )

    def _pad_function(self) -> Callable[..., Any]:
        """The pad op of :class:`_Pad` steps: ``pad(x, widths, constant_values=v)``."""
        return self.keras.ops.pad

    # ------------------------------------------------------------------ support
    def _pool_target(self, case: PoolCase, api: str) -> str:
        """The Keras callable a pooling case goes through (named in "lacks" claims)."""
        module = self.keras.__name__
        if api == "ops":
            return f"{module}.ops.{'max' if case.kind == 'max' else 'average'}_pool"
        return f"{module}.layers.{'Max' if case.kind == 'max' else 'Average'}Pooling{case.nd}D"

    def _pool_plan(self, case: PoolCase, api: str) -> Support:
        """``Supported(padding)`` with ``"valid"``, ``"same"`` or ``"pad"`` (a pad op, then ``"valid"``), or
        the parameter Keras pooling lacks for the case."""
        target = self._pool_target(case, api)
        if any(d > 1 for d in case.dilation):
            return Unsupported("Keras pooling has no dilation", "lacks", target, "dilation_rate")
        floor = window_geometry(
            case.op,
            case.x_shape[2:],
            case.kernel,
            stride=case.resolved_stride,
            padding=case.padding,
            dilation=case.dilation,
        )
        if case.ceil_mode and floor.out != case.out_shape[2:]:
            return Unsupported("Keras pooling has no ceil_mode (here it adds a window)", "lacks", target, "ceil_mode")
        padded = any(lo or hi for lo, hi in case.pads)
        if case.padding == "same" and (case.kind == "max" or not case.count_include_pad or not padded):
            return Supported("same")
        if not padded:
            return Supported("valid")
        if case.kind == "avg" and not case.count_include_pad:
            return Unsupported(
                "Keras average pooling leaves padding out of the divisor only with padding='same'; other padding has "
                "to be applied to the input, and then it is counted",
                "lacks",
                target,
                "count_include_pad",
            )
        return Supported("pad")

    def _torch_conv_crash(self, case: ConvCase, dtype: str) -> bool:
        """torch's slow_conv2d backward needs a contiguous weight, and Keras hands it the permuted view of an
        ``(kh, kw, C, 1)`` kernel (channels-last contiguous, not contiguous) when there is one filter. The slow
        kernel runs for float64, and for float32 when oneDNN is skipped (batch 1, kernel not larger than 3)."""
        k = case.w_shape[2:]
        return (
            case.nd == 2
            and case.w_shape[0] == 1
            and case.w_shape[1] > 1
            and math.prod(k) > 1
            and all(d == 1 for d in case.dilation)
            and (dtype == "float64" or (case.x_shape[0] == 1 and not (k[0] > 3 and k[1] > 3)))
        )

    def _depthwise_layer_refuses(self, case: ConvCase) -> bool:
        """Whether this Keras' ``DepthwiseConv*D`` constructor rejects the case's strides with its
        dilation (a check some releases make and others do not)."""
        layer = getattr(self.keras.layers, f"DepthwiseConv{case.nd}D")
        try:
            layer(case.w_shape[2:], strides=case.stride, dilation_rate=case.dilation)
        except ValueError:
            return True
        return False

    def _refusal(self, case: Case, api: str, dtype: str) -> Unsupported | None:
        """Cases Keras or its backend refuses when run; :meth:`attempt` makes that call."""
        if isinstance(case, ConvCase):
            if max(case.stride) > 1 and max(case.dilation) > 1:
                if api == "layer" and self._depthwise(case) and self._depthwise_layer_refuses(case):
                    return Unsupported(
                        f"{self.keras.__name__}.layers.DepthwiseConv{case.nd}D refuses strides > 1 with "
                        "dilation_rate > 1 (Keras 2 and early Keras 3 releases check it in the constructor)"
                    )
                if api == "layer" and not self._depthwise(case):
                    return Unsupported(
                        f"{self.keras.__name__}.layers.Conv{case.nd}D refuses strides > 1 with dilation_rate > 1"
                    )
                if api == "ops" and self.backend == "tensorflow" and not self._depthwise(case):
                    return Unsupported("keras.ops.conv on TensorFlow refuses strides > 1 with dilation_rate > 1")
            elif (
                self.backend == "tensorflow"
                and self._depthwise(case)
                and dtype == "float64"
                and len(set(case.stride)) > 1
            ):
                # (with dilation too, Keras instead subsamples a stride-1 result)
                return Unsupported("TensorFlow's float64 DepthwiseConv2dNative refuses unequal row/column strides")
            if self.backend == "torch" and self._torch_conv_crash(case, dtype):
                return Unsupported(
                    "torch's slow_conv2d backward raises 'grad_weight must be contiguous' for the kernel layout "
                    "Keras passes with a single filter"
                )
        if isinstance(case, PoolCase):
            if self.backend == "tensorflow" and case.nd == 3 and dtype == "float64":
                return Unsupported("TensorFlow has no float64 CPU kernel for MaxPool3D / AvgPool3D")
            if self.backend == "jax" and api == "ops" and case.stride is None:
                return Unsupported(
                    "keras.ops.max_pool / average_pool on JAX fail with the default strides=None (pool_size is "
                    "expanded to the full rank before strides copies it, and the copy is expanded again)"
                )
        return None

    def support(self, case: Case, api: str, dtype: str) -> Support:
        if case.nd > 3:
            return Unsupported(f"Keras has no {case.nd}-D convolution or pooling layer")
        if isinstance(case, DepthPoolCase) and api != "ops":
            return Unsupported(
                "Keras has no channel-pooling layer (its pooling layers pool the spatial axes)",
                "lacks",
                f"{self.keras.__name__}.layers.MaxPooling2D",
                "axis",
            )
        if isinstance(case, PoolCase):
            plan = self._pool_plan(case, api)
            if isinstance(plan, Unsupported):
                return plan
        elif not isinstance(case, (ConvCase, DepthPoolCase, GlobalPoolCase)):
            return Unsupported(f"unknown case type {type(case).__name__}")
        refused = self._refusal(case, api, dtype)
        return SUPPORTED if refused is None else refused

    def semantics(self, case: Case, api: str) -> Semantics:
        if isinstance(case, (GlobalPoolCase, DepthPoolCase)):
            return Semantics(ties="split")  # keras.ops.max: every backend's reduce-max splits ties
        if isinstance(case, PoolCase) and self.backend == "tensorflow":
            return Semantics(nan="ignore")  # tf.nn.max_pool skips NaN
        return Semantics()

    def attempt(self, case: Case, inputs: dict[str, np.ndarray], api: str) -> object:
        """The native call of a refused case: the very forward and backward :meth:`run` makes."""
        if case.nd > 3:
            return getattr(self.keras.layers, f"{'Conv' if isinstance(case, ConvCase) else 'MaxPooling'}{case.nd}D")
        return self._execute(self._graph(case, inputs, api), inputs)

    # ------------------------------------------------------------------ autodiff
    def _numpy(self, t: Any) -> np.ndarray:
        return t.detach().cpu().numpy() if self.backend == "torch" else np.asarray(t)

    def _vjp(
        self, fn: Callable[..., Any], arrays: Sequence[np.ndarray], dy: np.ndarray, layer: Any = None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """``y = fn(*arrays)`` and the gradients of ``sum(dy * y)`` w.r.t. ``arrays``, then w.r.t. the trainable
        variables of ``layer`` (which ``fn`` calls), through the backend's own autodiff."""
        variables = list(layer.trainable_variables) if layer is not None else []
        if self.backend == "tensorflow":
            import tensorflow as tf

            xs = [tf.constant(a) for a in arrays]
            with tf.GradientTape() as tape:
                tape.watch(xs)
                y = fn(*xs)
            grads = tape.gradient(y, xs + variables, output_gradients=tf.constant(dy))
            if any(g is None for g in grads):
                raise RuntimeError("tf.GradientTape found no path from an input to the output")
        elif self.backend == "jax":
            import jax

            def pure(xs: list[Any], values: list[Any]) -> Any:
                with self.keras.StatelessScope(state_mapping=list(zip(variables, values))):
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
        return self._numpy(y), [self._numpy(g) for g in grads]

    # ---------------------------------------------------------------------- run
    def run(self, case: Case, inputs: dict[str, np.ndarray], api: str) -> dict[str, np.ndarray]:
        verdict = self.support(case, api, inputs["x"].dtype.name)
        if not verdict:
            raise UnsupportedCase(f"{self.name} ({api}): {verdict}")
        return self._execute(self._graph(case, inputs, api), inputs)

    def _execute(self, graph: _Graph, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        dy = _to_last(inputs["dy"])
        y, grads = self._vjp(graph.fn, graph.arrays, dy, graph.layer)
        out = {"y": _to_first(y), "dx": _to_first(grads[0])}
        if "w" in inputs:  # kernel and bias gradients: ops arguments, or the layer's variables (kernel first)
            out["dw"] = _kernel_from_keras(grads[1], graph.depthwise)
            if len(grads) > 2:
                out["db"] = grads[2]
        return out

    def _graph(self, case: Case, inputs: dict[str, np.ndarray] | None, api: str, dtype: str = "") -> _Graph:
        """The Keras computation of ``case``; ``inputs=None`` builds it without data (shapes, parameters)."""
        dtype = inputs["x"].dtype.name if inputs is not None else dtype
        x = _to_last(inputs["x"]) if inputs is not None else np.zeros(0)
        if isinstance(case, ConvCase):
            return self._conv_graph(case, inputs, x, api, dtype)
        if isinstance(case, PoolCase):
            return self._pool_graph(case, x, api, dtype)
        if isinstance(case, DepthPoolCase):
            return self._depth_pool_graph(case, x)
        assert isinstance(case, GlobalPoolCase)
        return self._global_pool_graph(case, x, api, dtype)

    def _chain(self, steps: list[Any]) -> Callable[[Any], Any]:
        def forward(x: Any) -> Any:
            for step in steps:
                x = step(x)
            return x

        return forward

    def _depthwise(self, case: ConvCase) -> bool:
        """Depthwise cases of rank 1 and 2 use keras.ops.depthwise_conv / DepthwiseConv1D/2D (there is no 3-D)."""
        return case.depthwise and case.nd <= 2

    def _conv_graph(
        self, case: ConvCase, inputs: dict[str, np.ndarray] | None, x: np.ndarray, api: str, dtype: str
    ) -> _Graph:
        layers = self.keras.layers
        depthwise = self._depthwise(case)
        if case.padding in ("valid", "same"):
            padding, pads = case.padding, None
        else:  # explicit padding, "same_lower": zero padding op / layer, then "valid"
            padding, pads = "valid", (case.pads if any(lo or hi for lo, hi in case.pads) else None)
        kernel = _kernel_to_keras(inputs["w"], depthwise, case.x_shape[1]) if inputs is not None else np.zeros(0)
        params = [kernel] + ([inputs["b"]] if inputs is not None and case.bias else [])
        common = {"strides": case.stride, "padding": padding, "dilation_rate": case.dilation}
        if api == "ops":
            ops = self.keras.ops
            conv = ops.depthwise_conv if depthwise else ops.conv

            def forward(x: Any, k: Any, *b: Any) -> Any:
                if pads:
                    x = ops.pad(x, ((0, 0), *pads, (0, 0)))
                y = conv(x, k, data_format="channels_last", **common)
                return y + b[0] if b else y

            return _Graph(forward, [x, *params], depthwise=depthwise)
        settings = {**common, "use_bias": case.bias, "data_format": "channels_last", "dtype": dtype}
        if depthwise:
            multiplier = case.w_shape[0] // case.x_shape[1]
            layer = getattr(layers, f"DepthwiseConv{case.nd}D")(
                case.w_shape[2:], depth_multiplier=multiplier, **settings
            )
        else:
            layer = getattr(layers, f"Conv{case.nd}D")(
                case.w_shape[0], case.w_shape[2:], groups=case.groups, **settings
            )
        steps = [self._zero_padding(pads, dtype), layer] if pads else [layer]
        self._build(steps, case.x_shape)
        if inputs is not None:
            layer.set_weights(params)
        return _Graph(self._chain(steps), [x], steps, layer, depthwise)

    def _zero_padding(self, pads: Pads, dtype: str) -> Any:
        if len(pads) == 1:  # ZeroPadding1D is channels-last only (Keras 2 and early Keras 3 take no data_format)
            return self.keras.layers.ZeroPadding1D(pads[0], dtype=dtype)
        cls = getattr(self.keras.layers, f"ZeroPadding{len(pads)}D")
        return cls(pads, data_format="channels_last", dtype=dtype)

    def _build(self, steps: list[Any], x_shape: tuple[int, ...]) -> Shape:
        """Build every layer of ``steps`` for a channels-first input shape; the channels-last output shape."""
        shape: Shape = (x_shape[0], *x_shape[2:], x_shape[1])
        for step in steps:
            if hasattr(step, "build") and not step.built:
                step.build(shape)
            shape = tuple(step.compute_output_shape(shape))
        return shape

    def _pool_graph(self, case: PoolCase, x: np.ndarray, api: str, dtype: str) -> _Graph:
        plan = self._pool_plan(case, api)
        if not isinstance(plan, Supported):
            raise UnsupportedCase(f"{self.name} ({api}): {plan}")
        padding = "valid" if plan.how == "pad" else plan.how
        pad: list[Any] = []
        if plan.how == "pad" and case.kind == "max":
            pad = [_Pad(self._pad_function(), case.pads, -math.inf)]  # ZeroPadding would let 0 win a max
        elif plan.how == "pad":
            pad = [
                self._zero_padding(case.pads, dtype) if api == "layer" else _Pad(self._pad_function(), case.pads, 0.0)
            ]
        if api == "ops":
            pool = self.keras.ops.max_pool if case.kind == "max" else self.keras.ops.average_pool

            def forward(x: Any) -> Any:
                return pool(x, case.kernel, strides=case.stride, padding=padding, data_format="channels_last")

            return _Graph(self._chain([*pad, forward]), [x])
        cls = getattr(self.keras.layers, f"{'Max' if case.kind == 'max' else 'Average'}Pooling{case.nd}D")
        stride = {} if case.stride is None else {"strides": case.stride}  # None: the layer's default
        layer = cls(case.kernel, padding=padding, data_format="channels_last", dtype=dtype, **stride)
        steps = [*pad, layer]
        self._build(steps, case.x_shape)
        return _Graph(self._chain(steps), [x], steps)

    def _depth_pool_graph(self, case: DepthPoolCase, x: np.ndarray) -> _Graph:
        ops = self.keras.ops
        k = case.pool_size
        s = k if case.stride is None else case.stride
        groups = (case.x_shape[1] - k) // s + 1
        reduce = ops.max if case.mode == "max" else ops.mean

        def forward(x: Any) -> Any:
            if s == k:  # the notes' DepthPool: channels reshaped to (C / k, k), reduced over the last axis
                windows = ops.reshape(x, (*x.shape[:-1], groups, k))
            else:  # overlapping or gapped channel windows: the k strided channel slices, stacked
                windows = ops.stack([x[..., t : t + (groups - 1) * s + 1 : s] for t in range(k)], axis=-1)
            return reduce(windows, axis=-1)

        return _Graph(forward, [x])

    def _global_pool_graph(self, case: GlobalPoolCase, x: np.ndarray, api: str, dtype: str) -> _Graph:
        if api == "ops":
            reduce = self.keras.ops.max if case.mode == "max" else self.keras.ops.mean
            axes = tuple(range(1, case.nd + 1))
            return _Graph(lambda x: reduce(x, axis=axes, keepdims=case.keepdims), [x])
        name = f"Global{'Max' if case.mode == 'max' else 'Average'}Pooling{case.nd}D"
        layer = getattr(self.keras.layers, name)(data_format="channels_last", keepdims=case.keepdims, dtype=dtype)
        self._build([layer], case.x_shape)
        return _Graph(layer, [x], [layer])

    # ------------------------------------------------------------ shapes, params
    def output_shape(self, case: Case, api: str) -> tuple[int, ...] | None:
        """Layers: ``compute_output_shape`` through the built layers; ops: a symbolic call on ``KerasTensor``s.

        ``None`` for a grouped ``keras.ops.conv``: its symbolic shape function (``Conv.compute_output_spec``)
        requires the kernel's input channels to equal the input's, although the eager op runs the groups."""
        if api == "ops" and isinstance(case, ConvCase) and case.groups > 1 and not self._depthwise(case):
            return None
        graph = self._graph(case, None, api, self.dtypes[0])
        if api == "layer" and graph.steps:
            return _shape_to_first(self._build(graph.steps, case.x_shape))  # type: ignore[return-value]
        specs = [(case.x_shape[0], *case.x_shape[2:], case.x_shape[1])]
        if isinstance(case, ConvCase):
            depthwise = self._depthwise(case)
            o, cg, k = case.w_shape[0], case.w_shape[1], case.w_shape[2:]
            specs.append((*k, case.x_shape[1], o // case.x_shape[1]) if depthwise else (*k, cg, o))
            specs += [(o,)] if case.bias else []
        y = graph.fn(*(self.keras.KerasTensor(s, dtype=self.dtypes[0]) for s in specs))
        return _shape_to_first(y.shape)  # type: ignore[return-value]

    def layer_params(self, case: Case, api: str) -> tuple[int, int] | None:
        if api != "layer" or isinstance(case, DepthPoolCase):
            return None
        steps = self._graph(case, None, api, self.dtypes[0]).steps

        def count(variables: list[Any]) -> int:
            return sum(math.prod(v.shape) for v in variables)

        layers = [s for s in steps if not isinstance(s, _Pad)]
        return sum(count(s.trainable_variables) for s in layers), sum(count(s.non_trainable_variables) for s in layers)
