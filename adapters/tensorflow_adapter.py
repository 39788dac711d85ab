"""TensorFlow (``tensorflow-cpu``): raw ``tf.nn`` in eager mode, through two APIs.

* ``"nn"``, the op-specific functions: ``tf.nn.conv1d`` / ``conv2d`` / ``conv3d``, ``tf.nn.depthwise_conv2d``
  (2-D depthwise cases), ``tf.nn.max_pool{1,2,3}d`` / ``avg_pool{1,2,3}d``, ``tf.nn.max_pool`` / ``avg_pool``
  with a depth window (``ksize=[1, ..., 1, k]``) for depth pooling, ``tf.reduce_max`` / ``reduce_mean`` for
  global pooling (its only API).
* ``"generic"``, the rank-generic ``tf.nn.convolution`` (what Keras' TensorFlow backend calls) and
  ``tf.nn.pool``, and for depth pooling the notes' ``DepthPool``: ``tf.reshape`` into channel groups +
  ``tf.reduce_max`` / ``reduce_mean`` (``tf.signal.frame`` when the stride is not the pool size). A code path
  of its own, not an alias: dilation runs as ``space_to_batch`` around an undilated kernel, ``tf.nn.pool`` is
  TensorFlow's only dilated pooling, and each API refuses cases the other runs.

Layouts: the CPU kernels take channels-last data (the float64 Conv2D refuses ``NCHW``), so ``x``/``dy`` become
``(N, *spatial, C)``, kernels ``(O, C/g, *k)`` become ``(*k, C/g, O)`` and ``depthwise_conv2d`` filters
``(C*m, 1, kh, kw)`` become ``(kh, kw, C, m)``; results are moved back. ``data_format`` is spelled out for
``tf.nn.convolution`` / ``pool`` / ``max_pool`` / ``avg_pool``: with their default ``None`` the 3-D gradients
raise ``AttributeError`` in eager mode. Gradients are ``tf.GradientTape`` products with ``dy`` (the gradient
of ``sum(dy * y)``), the bias goes through ``tf.nn.bias_add``. ``output_shape`` stays ``None``: ``tf.nn`` has
no shape function short of tracing a graph per example.

Padding (canonical -> TensorFlow): ``"valid"``, ``"same"`` and all-zero padding map to ``"VALID"`` /
``"SAME"`` (TF SAME is the canonical SAME_UPPER on the effective kernel). Other paddings: ``tf.nn.conv2d``,
``depthwise_conv2d``, ``max_pool1d`` and ``max_pool2d`` take the explicit list ``[[0, 0], [lo, hi], ...,
[0, 0]]``; ``conv1d``, ``conv3d``, ``max_pool3d``, ``tf.nn.convolution`` and ``tf.nn.pool`` take strings only
and get ``tf.pad`` (zeros; ``-inf`` for max pooling) + ``"VALID"``, as does ``tf.nn.pool``'s SAME with
dilation, which it refuses. Average pooling has no explicit padding and its SAME leaves padding out of the
divisor: ``count_include_pad=True`` pads with zeros, ``False`` maps to SAME when the pads are SAME's and is
otherwise unsupported (``lacks count_include_pad``). No API has ``ceil_mode``: supported when it changes
nothing, else ``lacks``. ``max_pool*d`` lacks dilation.

Refusals (``attempt`` makes the very calls ``run`` makes, backward included). "Eigen" means TensorFlow's own
CPU kernels: float64 always, float32 when oneDNN is off (``TF_ENABLE_ONEDNN_OPTS=0``) and for gradients whose
op got an explicit padding list, which oneDNN does not take. Grouped Conv3D; Eigen Conv3D with dilation;
Eigen Conv2D gradients with groups > 1 or dilation > 1 (``tf.nn.convolution`` dilates by space_to_batch and
escapes the latter); Eigen DepthwiseConv2dNative with unequal row/column strides; stride > 1 with dilation > 1
in ``tf.nn.convolution`` / ``tf.nn.pool`` (``tf.nn.conv2d`` accepts it); ``tf.nn.pool`` with a stride larger
than the window; float64 MaxPool3D / AvgPool3D (no kernel); depth max pooling (the forward runs only for a
depth window equal to its stride dividing C in 1-/2-D, and MaxPoolGrad refuses every depth window or stride);
depth average pooling on Eigen, in 1-D, and with a stride other than the window.

Contested semantics, found by running (``semantics`` declares the regular behaviour; the anomalies are the
divergences recorded for this adapter, all with oneDNN on, TensorFlow's default on x86-64):

* ``MaxPool`` (1-/2-D, ``tf.nn.pool``; oneDNN and Eigen alike) starts each window at the lowest finite value
  and keeps a tap only when strictly greater: NaN is skipped (``nan="ignore"``), the first maximum wins
  (``ties="first"``). A window with nothing above ``-inf`` gives the lowest finite float (tensorflow#2501), and
  MaxPoolGrad seeds its argmax with the window's first input tap, so a NaN there takes the gradient.
* ``MaxPool3DGrad`` (float32) is no argmax: every tap within about 1e-5 of the maximum gets the full ``dy``
  (tied maxima pass ``m * dy``) and a ``+inf`` maximum passes nothing.
* ``tf.reduce_max`` propagates NaN and splits the gradient among tied maxima (``ties="split"``,
  tensorflow#4886); a NaN maximum makes the whole window's gradient NaN.
* Silently wrong results, recorded too: ``depthwise_conv2d`` with dilation and stride > 1 in one dimension only
  warns (tensorflow#57128); depth average pooling ignores a depth stride with a window of 1 (tensorflow#14886)
  and, in float32 oneDNN 2-/3-D, returns an empty tensor; the float32 oneDNN forward convolution misreads rows
  for one input channel with an output width of 1 reached by a stride; the float64 Conv3D forward with SAME
  pads negatively where the stride exceeds the kernel. When ``y`` is misshapen ``run`` returns ``y`` alone.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from convequiv.reference.cases import Case, ConvCase, DepthPoolCase, GlobalPoolCase, PoolCase
from convequiv.reference.geometry import Pads, resolve_padding, window_geometry

from .base import SUPPORTED, Adapter, Semantics, Support, Unsupported, UnsupportedCase


def _last(a: np.ndarray) -> np.ndarray:
    """``(N, C, *spatial)`` -> ``(N, *spatial, C)`` (a 2-D ``(N, C)`` array is unchanged)."""
    return np.ascontiguousarray(np.moveaxis(a, 1, -1))


def _first(a: np.ndarray) -> np.ndarray:
    """``(N, *spatial, C)`` -> ``(N, C, *spatial)``."""
    return np.ascontiguousarray(np.moveaxis(a, -1, 1))


def _listed(pads: Pads) -> list[list[int]]:
    """TensorFlow's explicit padding (also ``tf.pad``'s): ``[[0, 0], [lo, hi], ..., [0, 0]]``."""
    return [[0, 0], *([lo, hi] for lo, hi in pads), [0, 0]]


def _named(padding: object, pads: Pads) -> str | None:
    """``"VALID"`` / ``"SAME"`` when the canonical padding has a TensorFlow name (no padding is VALID)."""
    if isinstance(padding, str) and padding in ("valid", "same"):
        return padding.upper()
    return None if any(lo or hi for lo, hi in pads) else "VALID"


_FORMATS = {1: "NWC", 2: "NHWC", 3: "NDHWC"}


def _onednn_enabled() -> bool:
    """Whether float32 CPU ops run on oneDNN (``TF_ENABLE_ONEDNN_OPTS``, default on for x86-64 Linux)."""
    try:
        from tensorflow.python.util import _pywrap_util_port  # the switch TensorFlow's own tests read

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") != "0"


_ONEDNN = _onednn_enabled()


class TensorFlowAdapter(Adapter):
    name = "tensorflow"
    distributions = ("tensorflow-cpu",)
    apis = ("nn", "generic")

    def apis_for(self, op: str) -> tuple[str, ...]:
        # Global pooling has one spelling in TensorFlow: tf.reduce_max / tf.reduce_mean.
        return ("nn",) if op.startswith("global_") else self.apis

    def versions(self) -> dict[str, str]:
        """``{"tensorflow": tf.__version__}``, whichever distribution (``tensorflow``,
        ``tensorflow-cpu``) provides the module."""
        return {"tensorflow": tf.__version__}

    def warm_up(self) -> None:
        x = tf.zeros((1, 4, 4, 1))
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.nn.max_pool2d(tf.nn.conv2d(x, tf.ones((2, 2, 1, 1)), 1, "VALID"), 2, 2, "VALID")
        tape.gradient(y, x)

    # ------------------------------------------------------------------ support
    def support(self, case: Case, api: str, dtype: str) -> Support:
        if isinstance(case, ConvCase):
            return self._conv_support(case, api, dtype)
        if isinstance(case, PoolCase):
            return self._pool_support(case, api, dtype)
        if isinstance(case, DepthPoolCase):
            return self._depth_support(case, api, dtype)
        return SUPPORTED  # global pooling: tf.reduce_max / tf.reduce_mean over the spatial axes

    def _eigen(self, dtype: str) -> bool:
        """Whether TensorFlow runs its own (Eigen) CPU kernels: float64 always, float32 with oneDNN off."""
        return dtype == "float64" or not _ONEDNN

    def _conv_support(self, case: ConvCase, api: str, dtype: str) -> Support:
        dilated, strided = any(d > 1 for d in case.dilation), any(s > 1 for s in case.stride)
        # oneDNN does not take explicit padding lists: with them the float32 gradients run on Eigen too
        explicit = api == "nn" and case.nd == 2 and not _named(case.padding, case.pads)
        if case.nd > 3:
            return Unsupported("TensorFlow convolutions are 1-, 2- or 3-D")
        if api == "generic" and dilated and strided:  # checked in Python, before any kernel
            return Unsupported("tf.nn.convolution refuses strides > 1 together with dilations > 1")
        if case.nd == 3 and case.groups > 1:
            return Unsupported("Conv3D refuses grouped filters (input depth must equal the filter's)")
        if case.nd == 3:
            if api == "nn" and dilated and self._eigen(dtype):
                return Unsupported("the Eigen Conv3D kernel refuses dilation rates > 1")
        elif api == "nn" and case.nd == 2 and case.depthwise:
            # tf.nn.depthwise_conv2d runs dilation through space_to_batch, which hands the op VALID padding
            if case.stride[0] != case.stride[1] and (self._eigen(dtype) or (explicit and not dilated)):
                return Unsupported("the Eigen DepthwiseConv2dNative kernels refuse unequal row and column strides")
        elif (case.groups > 1 or (api == "nn" and dilated)) and (self._eigen(dtype) or explicit):
            return Unsupported("the Eigen Conv2D gradients refuse groups > 1 and dilation rates > 1")
        return SUPPORTED

    def _pool_support(self, case: PoolCase, api: str, dtype: str) -> Support:
        target = "tensorflow.nn.pool" if api == "generic" else f"tensorflow.nn.{case.kind}_pool{case.nd}d"
        if case.nd > 3:
            return Unsupported("TensorFlow pooling is 1-, 2- or 3-D")
        if case.ceil_mode:
            floor = window_geometry(
                case.op,
                case.x_shape[2:],
                case.kernel,
                stride=case.resolved_stride,
                padding=case.pads,
                dilation=case.dilation,
            )
            if floor.out != case.out_shape[2:]:
                return Unsupported("TensorFlow pooling has no ceil_mode", "lacks", target, "ceil_mode")
        if case.kind == "avg" and not case.count_include_pad and any(lo or hi for lo, hi in case.pads):
            same = resolve_padding("same", case.x_shape[2:], case.kernel, case.resolved_stride)
            if case.pads != same:
                return Unsupported(
                    "average pooling leaves padding out of the divisor only as SAME padding",
                    "lacks",
                    target,
                    "count_include_pad",
                )
        dilated = case.kind == "max" and any(d > 1 for d in case.dilation)
        if dilated and api == "nn":
            return Unsupported("max_pool*d has no dilation; tf.nn.pool does", "lacks", target, "dilations")
        if api == "generic":  # tf.nn.pool checks these in Python, before any kernel
            if dilated and any(s > 1 for s in case.resolved_stride):
                return Unsupported("tf.nn.pool refuses strides > 1 together with dilation > 1")
            if any(s > k for s, k in zip(case.resolved_stride, case.kernel)):
                return Unsupported("tf.nn.pool refuses a stride larger than the window")
        if case.nd == 3 and dtype == "float64":
            return Unsupported(f"{case.kind.capitalize()}Pool3D has no float64 CPU kernel")
        return SUPPORTED

    def _depth_support(self, case: DepthPoolCase, api: str, dtype: str) -> Support:
        k = case.pool_size
        s = k if case.stride is None else case.stride
        if api == "generic":
            return SUPPORTED
        if case.nd == 3 and dtype == "float64":
            return Unsupported(f"{case.mode.capitalize()}Pool3D has no float64 CPU kernel")
        if k == 1 and s == 1:
            return SUPPORTED  # a window of one channel: TensorFlow runs it as a spatial no-op
        if case.mode == "max":
            return Unsupported(
                "depth max pooling: MaxPoolGrad refuses any depth window or stride (the forward runs only for a "
                "window equal to the stride dividing C, in 1-/2-D)"
            )
        if case.nd == 3 and self._eigen(dtype):
            return Unsupported("the Eigen AvgPool3D kernel refuses pooling on the depth dimension")
        if k > 1 and s != k:
            return Unsupported("depth average pooling refuses a depth stride other than the depth window")
        if k > 1 and (self._eigen(dtype) or case.nd == 1):
            return Unsupported("depth average pooling refused (Eigen: non-spatial pooling; 1-D: squeeze fails)")
        return SUPPORTED  # runs, with wrong results: recorded divergences (module docstring)

    def semantics(self, case: Case, api: str) -> Semantics:
        if isinstance(case, PoolCase) and case.kind == "max":
            return Semantics(ties="first", nan="ignore")  # MaxPool: lowest-initialised, strictly-greater scan
        if isinstance(case, GlobalPoolCase) or (isinstance(case, DepthPoolCase) and api == "generic"):
            return Semantics(ties="split", nan="propagate")  # tf.reduce_max
        return Semantics()

    # ---------------------------------------------------------------------- run
    def run(self, case: Case, inputs: dict[str, np.ndarray], api: str) -> dict[str, np.ndarray]:
        verdict = self.support(case, api, str(inputs["x"].dtype))
        if isinstance(verdict, Unsupported):
            raise UnsupportedCase(f"{self.name} ({api}): {verdict} for {case!r}")
        return self._differentiate(case, inputs, api)

    def attempt(self, case: Case, inputs: dict[str, np.ndarray], api: str) -> object:
        """The forward and backward ``run`` would make (the backward even when ``y`` is misshapen)."""
        return self._differentiate(case, inputs, api, probe=True)

    def _differentiate(
        self, case: Case, inputs: dict[str, np.ndarray], api: str, probe: bool = False
    ) -> dict[str, np.ndarray]:
        t = {"x": tf.constant(_last(inputs["x"]))}
        if isinstance(case, ConvCase):
            t["w"] = tf.constant(self._kernel_to_tf(case, inputs["w"], api))
            if "b" in inputs:
                t["b"] = tf.constant(inputs["b"])
        dy = _last(inputs["dy"])
        with tf.GradientTape() as tape:
            tape.watch(list(t.values()))
            y = self._forward(case, t, api)
        out = {"y": _first(y.numpy())}
        if tuple(y.shape) != dy.shape and not probe:
            return out  # a wrongly shaped y (recorded divergences): no gradient against dy exists
        cotangent = None if probe else tf.constant(dy)  # a probe only asks whether the backward runs
        grads = tape.gradient(y, list(t.values()), output_gradients=cotangent)
        for name, grad in zip(t, grads):
            if grad is None:
                continue  # reported as missing
            g = grad.numpy()
            out[f"d{name}"] = _first(g) if name == "x" else self._kernel_from_tf(case, g, api) if name == "w" else g
        return out

    def _forward(self, case: Case, t: dict[str, tf.Tensor], api: str) -> tf.Tensor:
        if isinstance(case, ConvCase):
            y = self._conv(case, t["x"], t["w"], api)
            return tf.nn.bias_add(y, t["b"]) if "b" in t else y
        if isinstance(case, PoolCase):
            return self._pool(case, t["x"], api)
        if isinstance(case, DepthPoolCase):
            return self._depth_pool(case, t["x"], api)
        assert isinstance(case, GlobalPoolCase)
        reduce = tf.reduce_max if case.mode == "max" else tf.reduce_mean
        return reduce(t["x"], axis=list(range(1, case.nd + 1)), keepdims=case.keepdims)

    # ------------------------------------------------------------- convolution
    @staticmethod
    def _uses_depthwise_op(case: ConvCase, api: str) -> bool:
        return api == "nn" and case.nd == 2 and case.depthwise

    def _kernel_to_tf(self, case: ConvCase, w: np.ndarray, api: str) -> np.ndarray:
        """``(O, C/g, *k)`` -> ``(*k, C/g, O)``; for ``depthwise_conv2d`` ``(C*m, 1, kh, kw)`` -> ``(kh, kw, C, m)``."""
        if self._uses_depthwise_op(case, api):
            c = case.x_shape[1]
            return np.ascontiguousarray(w.reshape(c, -1, *w.shape[2:]).transpose(2, 3, 0, 1))
        return np.ascontiguousarray(np.transpose(w, (*range(2, case.nd + 2), 1, 0)))

    def _kernel_from_tf(self, case: ConvCase, k: np.ndarray, api: str) -> np.ndarray:
        if self._uses_depthwise_op(case, api):
            return np.ascontiguousarray(k.transpose(2, 3, 0, 1).reshape(case.w_shape))
        return np.ascontiguousarray(np.transpose(k, (case.nd + 1, case.nd, *range(case.nd))))

    def _conv(self, case: ConvCase, x: tf.Tensor, k: tf.Tensor, api: str) -> tf.Tensor:
        stride, dilation = list(case.stride), list(case.dilation)
        padding: object = _named(case.padding, case.pads)
        if api == "nn" and case.nd == 2:
            padding = padding or _listed(case.pads)
            if case.depthwise:
                return tf.nn.depthwise_conv2d(x, k, [1, *stride, 1], padding, dilations=dilation)
            return tf.nn.conv2d(x, k, stride, padding, dilations=dilation)
        if padding is None:
            x, padding = tf.pad(x, _listed(case.pads)), "VALID"
        if api == "generic" or case.nd > 3:
            # data_format spelled out: with the default None the 3-D gradient fails in eager mode
            return tf.nn.convolution(x, k, stride, padding, _FORMATS.get(case.nd), dilation)
        if case.nd == 1:
            return tf.nn.conv1d(x, k, stride, padding, dilations=dilation)
        return tf.nn.conv3d(x, k, [1, *stride, 1], padding, dilations=[1, *dilation, 1])

    # ----------------------------------------------------------------- pooling
    def _pool(self, case: PoolCase, x: tf.Tensor, api: str) -> tf.Tensor:
        generic = api == "generic" or case.nd > 3
        pads = case.pads
        padding: object = _named(case.padding, pads)
        if case.kind == "avg" and any(lo or hi for lo, hi in pads):
            if case.count_include_pad:  # TF's SAME would leave the padding out of the divisor
                x, padding = tf.pad(x, _listed(pads)), "VALID"
            else:
                padding = "SAME"  # support() admits only SAME's own pads here
        elif padding == "SAME" and generic and any(d > 1 for d in case.dilation):
            padding = None  # tf.nn.pool refuses SAME with dilation: pad instead
        if padding is None:
            if not generic and case.nd < 3:
                padding = _listed(pads)
            else:
                x, padding = tf.pad(x, _listed(pads), constant_values=-np.inf), "VALID"
        kernel, stride = list(case.kernel), list(case.resolved_stride)
        if generic:
            fmt = _FORMATS.get(case.nd)
            return tf.nn.pool(x, kernel, case.kind.upper(), stride, padding, fmt, list(case.dilation))
        return getattr(tf.nn, f"{case.kind}_pool{case.nd}d")(x, kernel, stride, padding)

    def _depth_pool(self, case: DepthPoolCase, x: tf.Tensor, api: str) -> tf.Tensor:
        k = case.pool_size
        s = k if case.stride is None else case.stride
        if api == "nn":
            pool = tf.nn.max_pool if case.mode == "max" else tf.nn.avg_pool
            return pool(x, [1] * (case.nd + 1) + [k], [1] * (case.nd + 1) + [s], "VALID", _FORMATS.get(case.nd))
        if s == k:
            groups = tf.reshape(x, [*x.shape[:-1], x.shape[-1] // k, k])
        else:
            groups = tf.signal.frame(x, k, s, axis=-1)
        return (tf.reduce_max if case.mode == "max" else tf.reduce_mean)(groups, axis=-1)
