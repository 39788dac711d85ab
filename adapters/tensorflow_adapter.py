"""TensorFlow (``tensorflow-cpu``): raw ``tf.nn`` in eager mode, through two APIs.

* ``"nn"``, the op-specific functions: ``tf.nn.conv1d`` / ``conv2d`` / ``conv3d``, ``tf.nn.depthwise_conv2d``
  (2-D depthwise cases), ``tf.nn.max_pool{1,2,3}d`` / ``avg_pool{1,2,3}d``, ``tf.nn.max_pool`` / ``avg_pool``
  with a depth window (``ksize=[1, ..., 1, k]``) for depth pooling, ``tf.reduce_max`` / ``reduce_mean`` for
  global pooling (its only API), ``tf.nn.conv1d_transpose`` / ``conv2d_transpose`` / ``conv3d_transpose``.
* ``"generic"``, the rank-generic ``tf.nn.convolution`` (what Keras' TensorFlow backend calls),
  ``tf.nn.conv_transpose`` and ``tf.nn.pool``, and for depth pooling the notes' ``DepthPool``: ``tf.reshape``
  into channel groups + ``tf.reduce_max`` / ``reduce_mean`` (``tf.signal.frame`` when the stride is not the
  pool size). A code path of its own, not an alias: dilation runs as ``space_to_batch`` around an undilated
  kernel, ``tf.nn.pool`` is TensorFlow's only dilated pooling, and each API refuses cases the other runs.

:meth:`TensorFlowAdapter.support` decides once per (case, api, dtype) how the case reaches TensorFlow and
returns a :class:`TensorFlowPlan`: the function, the padding argument as TensorFlow receives it, a pre-pad with
its fill value, the kernel layout and the function's other arguments as TensorFlow receives them.
:meth:`TensorFlowAdapter.run` executes that plan and decides nothing.

Layouts (:mod:`convequiv.adapters.translate`): the CPU kernels take channels-last data (the float64 Conv2D
refuses ``NCHW``), so ``x``/``dy`` become ``(N, *spatial, C)``, kernels ``(O, C/g, *k)`` become ``(*k, C/g, O)``
(kernel layout ``"HWIO"``) and ``depthwise_conv2d`` filters ``(C*m, 1, kh, kw)`` become ``(kh, kw, C, m)``
(kernel layout ``"depthwise"``); results are moved back. ``data_format`` is spelled out for
``tf.nn.convolution`` / ``pool`` / ``max_pool`` / ``avg_pool``: with their default ``None`` the 3-D gradients
raise ``AttributeError`` in eager mode. Gradients are ``tf.GradientTape`` products with ``dy`` (the gradient
of ``sum(dy * y)``), the bias goes through ``tf.nn.bias_add``. ``output_shape`` stays ``None``: ``tf.nn`` has
no shape function short of tracing a graph per example.

Padding translation (canonical -> TensorFlow), one route per plan:

* ``native``: ``"valid"``, ``"same"`` and all-zero padding map to ``"VALID"`` / ``"SAME"`` (TF SAME is the
  canonical SAME_UPPER on the effective kernel);
* ``explicit padding list``: other paddings, where the function takes TensorFlow's explicit list
  ``[[0, 0], [lo, hi], ..., [0, 0]]``: ``tf.nn.conv2d``, ``depthwise_conv2d``, ``max_pool1d`` and ``max_pool2d``;
* ``pre-pad``: ``conv1d``, ``conv3d``, ``max_pool3d``, ``tf.nn.convolution`` and ``tf.nn.pool`` take strings
  only and get ``tf.pad`` (zeros; ``-inf`` for max pooling) + ``"VALID"``, as does ``tf.nn.pool``'s SAME with
  dilation, which it refuses. Average pooling has no explicit padding and its SAME leaves padding out of the
  divisor, so ``count_include_pad=True`` pads with zeros first;
* ``SAME for count_include_pad=False``: average pooling that leaves explicit padding out of the divisor maps to
  SAME when the pads are SAME's (of the dilated window) and is otherwise unsupported (``lacks
  count_include_pad``); dilated, it is refused (``tf.nn.pool`` refuses SAME with dilation > 1);
* ``depth window`` (``"nn"`` depth pooling: ``tf.nn.max_pool`` / ``avg_pool`` with ``ksize=[1, ..., 1, k]``),
  ``reshape + reduce`` and ``frame + reduce`` (``"generic"`` depth pooling), ``reduction`` (global pooling).

Transposed convolution (``output_shape`` given explicitly; routes ``native`` SAME / VALID, ``explicit padding
list`` for ``conv2d_transpose``, ``crop`` of a VALID output, ``+ zero tail``, and ``+ split groups`` /
``+ dilated kernel`` where TensorFlow's kernels refuse groups or dilation): the module docstring of
:mod:`convequiv.adapters.tensorflow_transposed`. The filter is ``(*k, O/g, C)`` (kernel layout ``"HWOI"``).

No API has ``ceil_mode``: supported when it changes no window, else ``lacks``. ``max_pool*d`` lacks dilation.

Refusals: each ``Unsupported(evidence="refuses")`` carries as ``attempt`` the plan of the very calls ``run``
makes (``probe=True``: the backward runs even when ``y`` is misshapen, with TensorFlow's default cotangent),
and the error must come from inside TensorFlow (:attr:`TensorFlowAdapter.frameworks`). Every refusal below
raises with the innermost traceback frame in the ``tensorflow`` package (op errors from
``ops.raise_from_not_ok_status`` / ``execute.quick_execute``, argument checks from ``nn_ops``; TensorFlow's
traceback filtering keeps that frame), so none declares a ``message``.

"Eigen" means TensorFlow's own CPU kernels: float64 always, float32 when oneDNN is off
(``TF_ENABLE_ONEDNN_OPTS=0``) and for gradients whose op got an explicit padding list, which oneDNN does not
take. The refusals: grouped Conv3D; Eigen Conv3D with dilation; Eigen Conv2D gradients with
groups > 1 or dilation > 1 (``tf.nn.convolution`` dilates by space_to_batch and escapes the latter); Eigen
DepthwiseConv2dNative with unequal row/column strides; stride > 1 with dilation > 1 in ``tf.nn.convolution`` /
``tf.nn.pool`` (``tf.nn.conv2d`` accepts it); ``tf.nn.pool`` with a stride larger than the window; float64
MaxPool3D / AvgPool3D (no kernel); depth max pooling (the forward runs only for a depth window equal to its
stride dividing C in 1-/2-D, and MaxPoolGrad refuses every depth window or stride); depth average pooling on
Eigen, in 1-D, and with a stride other than the window.

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
  for one input channel with an output width of 1 reached by a stride (and so does the transposed convolution's
  ``dx``, that convolution of ``dy``); the float64 Conv3D forward with SAME pads negatively where the stride
  exceeds the kernel. When ``y`` is misshapen ``run`` returns ``y`` alone.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import tensorflow as tf

from convequiv.reference.cases import Case, ConvCase, ConvTransposeCase, DepthPoolCase, GlobalPoolCase, PoolCase
from convequiv.reference.geometry import resolve_padding

from . import translate as tr
from .base import CLASSIC_OPS, Adapter, Arrays, Plan, Semantics, Unsupported
from .tensorflow_transposed import TransposedCall, transposed_forward, transposed_parts

_FORMATS = {1: "NWC", 2: "NHWC", 3: "NDHWC"}
Arguments = tuple[tuple[str, Any], ...]


def _onednn_enabled() -> bool:
    """Whether float32 CPU ops run on oneDNN in this process (:func:`kernels_for`)."""
    try:
        from tensorflow.python.util import _pywrap_util_port  # the switch TensorFlow's own tests read

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") != "0"


_ONEDNN = _onednn_enabled()


def kernels_for(dtype: str) -> str:
    """The CPU kernel library TensorFlow runs a convolution or pooling of ``dtype`` on in this
    process: ``"onednn"`` for float32 when oneDNN is on, ``"eigen"`` (TensorFlow's own kernels)
    otherwise. float64 is always Eigen. ``TF_ENABLE_ONEDNN_OPTS`` sets it; unset, TensorFlow
    decides by the CPU (``IsMKLEnabled``; tensorflow/community RFC 400 makes it the default on x86
    CPUs with the neural-network instructions: AVX-512 VNNI / BF16, AMX). Measured with 2.21.0: on
    on an AVX-512 AMD EPYC, off on an AVX2-only one. The same release thus behaves differently on
    two machines; divergence records that hold for one library say so with ``kernels``."""
    return "onednn" if dtype == "float32" and _ONEDNN else "eigen"


@dataclass(frozen=True, kw_only=True)
class TensorFlowPlan(Plan):
    """``fn`` (the function ``call`` names) is called on the channels-last input, pre-padded with ``prepad``
    (filled with ``pad_value``), and on the kernel in ``kernel_layout`` (``"HWIO"``, ``"HWOI"`` or
    ``"depthwise"``; none for pooling), with ``padding=padding`` (unless ``None``) and ``arguments`` as
    keywords, all spelled as TensorFlow receives them. ``channel_windows`` (``"reshape"`` or ``"frame"``) first
    gathers the channel windows of a depth pooling on a new last axis. ``transposed`` (transposed convolutions)
    is what runs around ``fn`` (:class:`~convequiv.adapters.tensorflow_transposed.TransposedCall`: split
    groups, a dilated kernel, the crop). ``probe`` marks the attempt of a refusal: the backward runs even when
    ``y`` is misshapen, with TensorFlow's default cotangent (only whether the calls raise matters).
    """

    fn: Callable[..., Any]
    arguments: Arguments = ()
    channel_windows: str = ""
    transposed: TransposedCall | None = None
    probe: bool = False

    def signature(self) -> tuple[object, ...]:
        """:meth:`Plan.signature` and what runs around ``fn`` (the crop depends on the sizes)."""
        return (*super().signature(), self.transposed)

    def describe(self) -> str:
        """:meth:`Plan.describe`, with a transposed convolution's ``output_shape`` and crop."""
        text = super().describe()
        if self.transposed is None:
            return text
        head, _, route = text.rpartition(" [")
        head += f", output_shape={dict(self.arguments)['output_shape']}"
        if self.transposed.crop is not None:
            head += f" cut to {[[start, start + n] for start, n in self.transposed.crop]}"
        return f"{head} [{route}"


def _plan(
    case: Case, api: str, dtype: str, route: str, call: str, fn: Callable[..., Any], **fields: Any
) -> TensorFlowPlan:
    """A plan on channels-last data; ``call`` is ``fn`` as a user writes it (``tf.nn.conv2d``)."""
    fields.setdefault("kernels", kernels_for(dtype))
    return TensorFlowPlan(case, api, dtype, route, call, layout="channels_last", fn=fn, **fields)


#: Refusals tf.nn.convolution / tf.nn.pool raise in Python, before any kernel (their messages).
CONVOLUTION_STRIDED_DILATION = "tf.nn.convolution refuses strides > 1 together with dilations > 1"
STRIDED_DILATION = r"`strides > 1` not supported in conjunction with `dilation_rate > 1`"
STRIDE_OVER_WINDOW = r"`strides` > `window_shape` not supported"
SAME_DILATION = r"'SAME' padding is not implemented for `dilation_rate` > 1"
#: How TensorFlow refuses float64 MaxPool3D / AvgPool3D: the op's type list (eager: "Value for attr 'T' of
#: double is not in the list of allowed values"; traced: "DataType float64 not in list of allowed values", raised
#: from the autograph frame of the caller) or the missing kernel ("Could not find device for node").
POOL3D_NO_FLOAT64 = r"not in (?:the )?list of allowed values|Could not find device for node"


#: The Eigen Conv2D gradient kernels' refusal (float64, float32 without oneDNN, explicit padding lists).
EIGEN_CONV2D_GROUPS_DILATION = "the Eigen Conv2D gradients refuse groups > 1 and dilation rates > 1"
CONV3D_GROUPS = "Conv3D refuses grouped filters (input depth must equal the filter's)"
EIGEN_CONV3D_DILATION = "the Eigen Conv3D kernel refuses dilation rates > 1"
EIGEN_DEPTHWISE_UNEQUAL_STRIDES = "the Eigen DepthwiseConv2dNative kernels refuse unequal row and column strides"
#: Refusals made by TensorFlow's own CPU kernels, which a program compiled by XLA never runs.
EIGEN_KERNEL_REFUSALS = frozenset(
    {EIGEN_CONV2D_GROUPS_DILATION, CONV3D_GROUPS, EIGEN_CONV3D_DILATION, EIGEN_DEPTHWISE_UNEQUAL_STRIDES}
)


def _attempt(plan: TensorFlowPlan) -> TensorFlowPlan:
    return replace(plan, probe=True)


def _named(case: ConvCase | PoolCase) -> str | None:
    """``"VALID"`` / ``"SAME"`` when the case's padding has a TensorFlow name, else ``None``."""
    named = tr.named_padding(case.padding, case.pads)
    return None if named is None else named.upper()


class TensorFlowAdapter(Adapter):
    name = "tensorflow"
    distributions = ("tensorflow-cpu",)
    frameworks = ("tensorflow",)
    apis = ("nn", "generic")
    ops = CLASSIC_OPS | {"conv_transpose"}
    #: Dilated average pooling is answered: tf.nn.pool dilates (dilations), max_pool*d / avg_pool*d lack it.
    avg_pool_dilation = True

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

    # ------------------------------------------------------------------ plans
    def support(self, case: Case, api: str, dtype: str) -> TensorFlowPlan | Unsupported:
        if isinstance(case, ConvCase):
            return self._conv_support(case, api, dtype)
        if isinstance(case, ConvTransposeCase):
            return self._conv_transpose_support(case, api, dtype)
        if isinstance(case, PoolCase):
            return self._pool_support(case, api, dtype)
        if isinstance(case, DepthPoolCase):
            return self._depth_support(case, api, dtype)
        if isinstance(case, GlobalPoolCase):
            name = "reduce_max" if case.mode == "max" else "reduce_mean"
            arguments = (("axis", list(range(1, case.nd + 1))), ("keepdims", case.keepdims))
            return _plan(case, api, dtype, "reduction", f"tf.{name}", getattr(tf, name), arguments=arguments)
        return Unsupported(f"unknown case type {type(case).__name__}", "lacks", "tensorflow.nn.unknown")

    def _eigen(self, dtype: str) -> bool:
        """Whether TensorFlow runs its own (Eigen) CPU kernels (:func:`kernels_for`)."""
        return kernels_for(dtype) == "eigen"

    # ------------------------------------------------------------- convolution
    def _conv_plan(self, case: ConvCase, api: str, dtype: str) -> TensorFlowPlan:
        stride, dilation = list(case.stride), list(case.dilation)
        named = _named(case)
        padding: object = named
        route, prepad, layout = "native", None, "HWIO"
        arguments: Arguments = (("strides", stride), ("dilations", dilation))
        if api == "nn" and case.nd == 2:  # the 2-D functions take TensorFlow's explicit padding list
            if named is None:
                route, padding = "explicit padding list", tr.pad_list(case.pads)
            name = "depthwise_conv2d" if case.depthwise else "conv2d"
            if case.depthwise:
                layout, arguments = "depthwise", (("strides", [1, *stride, 1]), ("dilations", dilation))
        else:
            if named is None:
                route, prepad, padding = "pre-pad", case.pads, "VALID"
            if api == "generic" or case.nd > 3:
                # data_format spelled out: with the default None the 3-D gradient fails in eager mode
                name = "convolution"
                arguments = (("strides", stride), ("data_format", _FORMATS.get(case.nd)), ("dilations", dilation))
            elif case.nd == 1:
                name, arguments = "conv1d", (("stride", stride), ("dilations", dilation))
            else:
                name, arguments = "conv3d", (("strides", [1, *stride, 1]), ("dilations", [1, *dilation, 1]))
        fields = {"padding": padding, "prepad": prepad, "kernel_layout": layout, "arguments": arguments}
        return _plan(case, api, dtype, route, f"tf.nn.{name}", getattr(tf.nn, name), **fields)

    def _conv_support(self, case: ConvCase, api: str, dtype: str) -> TensorFlowPlan | Unsupported:
        plan = self._conv_plan(case, api, dtype)
        reason = self._conv_refusal(case, api, dtype, plan)
        if reason is None:
            return plan
        # Python-level checks of tf.nn.convolution: under tf.function the error surfaces from autograph's
        # converted code, so the proof matches the message rather than the raising frame
        message = STRIDED_DILATION if reason == CONVOLUTION_STRIDED_DILATION else ""
        return Unsupported(reason, attempt=_attempt(plan), message=message)

    def _conv_refusal(self, case: ConvCase, api: str, dtype: str, plan: TensorFlowPlan) -> str | None:
        dilated, strided = any(d > 1 for d in case.dilation), any(s > 1 for s in case.stride)
        # oneDNN does not take explicit padding lists: with them the float32 gradients run on Eigen too
        explicit = plan.route == "explicit padding list"
        if case.nd > 3:
            return "TensorFlow convolutions are 1-, 2- or 3-D"
        if api == "generic" and dilated and strided:  # checked in Python, before any kernel
            return CONVOLUTION_STRIDED_DILATION
        if case.nd == 3 and case.groups > 1:
            return CONV3D_GROUPS
        if case.nd == 3:
            if api == "nn" and dilated and self._eigen(dtype):
                return EIGEN_CONV3D_DILATION
        elif api == "nn" and case.nd == 2 and case.depthwise:
            # tf.nn.depthwise_conv2d runs dilation through space_to_batch, which hands the op VALID padding
            if case.stride[0] != case.stride[1] and (self._eigen(dtype) or (explicit and not dilated)):
                return EIGEN_DEPTHWISE_UNEQUAL_STRIDES
        elif (case.groups > 1 or (api == "nn" and dilated)) and (self._eigen(dtype) or explicit):
            return EIGEN_CONV2D_GROUPS_DILATION
        return None

    # --------------------------------------------------- transposed convolution
    def _conv_transpose_support(self, case: ConvTransposeCase, api: str, dtype: str) -> TensorFlowPlan | Unsupported:
        """Routes, split groups and the dilated kernel: :mod:`convequiv.adapters.tensorflow_transposed`."""
        if case.nd > 3 and api == "nn":
            target = f"tensorflow.nn.conv{case.nd}d_transpose"
            return Unsupported("TensorFlow transposed convolutions are 1-, 2- or 3-D", "lacks", target)
        parts = transposed_parts(case, api, self._eigen(dtype))
        fields = {
            "padding": parts.padding,
            "kernel_layout": "HWOI",
            "arguments": parts.arguments,
            "transposed": parts.call,
        }
        plan = _plan(case, api, dtype, parts.route, f"tf.nn.{parts.name}", getattr(tf.nn, parts.name), **fields)
        if case.nd > 3:  # tf.nn.conv_transpose checks the rank in Python
            return Unsupported("tf.nn.conv_transpose takes 1-, 2- or 3-D data", attempt=_attempt(plan))
        return plan

    # ----------------------------------------------------------------- pooling
    def _pool_plan(self, case: PoolCase, api: str, dtype: str) -> TensorFlowPlan:
        generic = api == "generic" or case.nd > 3
        pads = case.pads
        padding: object = _named(case)
        route, prepad, fill = "native", None, 0.0
        if case.kind == "avg" and tr.has_padding(pads):
            if case.count_include_pad:  # TF's SAME would leave the padding out of the divisor
                route, prepad, padding = "pre-pad", pads, "VALID"
            elif padding != "SAME":  # _pool_support admits only SAME's own pads here
                route, padding = "SAME for count_include_pad=False", "SAME"
        elif padding == "SAME" and generic and any(d > 1 for d in case.dilation):
            padding = None  # tf.nn.pool refuses SAME with dilation: pad instead
        if padding is None:
            if not generic and case.nd < 3:
                route, padding = "explicit padding list", tr.pad_list(pads)
            else:
                route, prepad, padding, fill = "pre-pad", pads, "VALID", -math.inf
        kernel, stride = list(case.kernel), list(case.resolved_stride)
        arguments: Arguments
        if generic:
            name = "pool"
            arguments = (
                ("window_shape", kernel),
                ("pooling_type", case.kind.upper()),
                ("strides", stride),
                ("data_format", _FORMATS.get(case.nd)),
                ("dilations", list(case.dilation)),
            )
        else:
            name, arguments = f"{case.kind}_pool{case.nd}d", (("ksize", kernel), ("strides", stride))
        fn = getattr(tf.nn, name)
        return _plan(
            case,
            api,
            dtype,
            route,
            f"tf.nn.{name}",
            fn,
            padding=padding,
            prepad=prepad,
            pad_value=fill,
            arguments=arguments,
        )

    def _pool_support(self, case: PoolCase, api: str, dtype: str) -> TensorFlowPlan | Unsupported:
        plan = self._pool_plan(case, api, dtype)
        target = "tensorflow.nn.pool" if api == "generic" else f"tensorflow.nn.{case.kind}_pool{case.nd}d"
        if case.nd > 3:
            return Unsupported("TensorFlow pooling is 1-, 2- or 3-D", attempt=_attempt(plan))
        if case.ceil_changes_windows:
            return Unsupported("TensorFlow pooling has no ceil_mode", "lacks", target, "ceil_mode")
        if case.kind == "avg" and not case.count_include_pad and tr.has_padding(case.pads):
            same = resolve_padding("same", case.x_shape[2:], case.kernel, case.resolved_stride, case.dilation)
            if case.pads != same:
                return Unsupported(
                    "average pooling leaves padding out of the divisor only as SAME padding",
                    "lacks",
                    target,
                    "count_include_pad",
                )
        dilated = any(d > 1 for d in case.dilation)
        if dilated and api == "nn":
            return Unsupported(f"{case.kind}_pool*d has no dilation; tf.nn.pool does", "lacks", target, "dilations")
        if api == "generic":  # tf.nn.pool checks these in Python, before any kernel, in this order
            if dilated and any(s > 1 for s in case.resolved_stride):
                reason = "tf.nn.pool refuses strides > 1 together with dilation > 1"
                return Unsupported(reason, attempt=_attempt(plan), message=STRIDED_DILATION)
            if dilated and plan.padding == "SAME":  # only average pooling that leaves padding out keeps SAME here
                reason = (
                    "tf.nn.pool refuses SAME padding with dilation > 1 (the only padding it leaves out of the divisor)"
                )
                return Unsupported(reason, attempt=_attempt(plan), message=SAME_DILATION)
            if any(s > k for s, k in zip(case.resolved_stride, case.kernel)):
                reason = "tf.nn.pool refuses a stride larger than the window"
                return Unsupported(reason, attempt=_attempt(plan), message=STRIDE_OVER_WINDOW)
        if case.nd == 3 and self._pool3d_refuses(case.kind, dtype):
            reason = f"{case.kind.capitalize()}Pool3D has no float64 CPU kernel"
            return Unsupported(reason, attempt=_attempt(plan), message=POOL3D_NO_FLOAT64)
        return plan

    def _pool3d_refuses(self, kind: str, dtype: str) -> bool:
        """Whether MaxPool3D / AvgPool3D (``kind`` max / avg) refuses ``dtype``: neither has a float64 CPU
        kernel (MaxPool3D's type list lacks it; AvgPool3D's kernel is not registered for it)."""
        return dtype == "float64"

    # ----------------------------------------------------------- depth pooling
    def _depth_plan(self, case: DepthPoolCase, api: str, dtype: str) -> TensorFlowPlan:
        k, s = case.pool_size, case.resolved_stride
        if api == "generic":
            reduce = "reduce_max" if case.mode == "max" else "reduce_mean"
            windows, gather = ("reshape", "tf.reshape") if s == k else ("frame", "tf.signal.frame")
            call = f"{gather} + tf.{reduce}"
            fn: Callable[..., Any] = getattr(tf, reduce)
            route = f"{windows} + reduce"
            return _plan(case, api, dtype, route, call, fn, channel_windows=windows, arguments=(("axis", -1),))
        name = f"{case.mode}_pool"
        ones = [1] * (case.nd + 1)
        arguments = (("ksize", [*ones, k]), ("strides", [*ones, s]), ("data_format", _FORMATS.get(case.nd)))
        fn = getattr(tf.nn, name)
        return _plan(case, api, dtype, "depth window", f"tf.nn.{name}", fn, padding="VALID", arguments=arguments)

    def _depth_support(self, case: DepthPoolCase, api: str, dtype: str) -> TensorFlowPlan | Unsupported:
        plan = self._depth_plan(case, api, dtype)
        reason = None if api == "generic" else self._depth_refusal(case, dtype)
        if reason is None:
            return plan
        # Python-level checks of tf.nn.convolution: under tf.function the error surfaces from autograph's
        # converted code, so the proof matches the message rather than the raising frame
        message = STRIDED_DILATION if reason == CONVOLUTION_STRIDED_DILATION else ""
        return Unsupported(reason, attempt=_attempt(plan), message=message)

    def _depth_refusal(self, case: DepthPoolCase, dtype: str) -> str | None:
        """Why ``tf.nn.max_pool`` / ``avg_pool`` with a depth window refuses the case, if it does."""
        k, s = case.pool_size, case.resolved_stride
        if case.nd == 3 and self._pool3d_refuses(case.mode, dtype):
            return f"{case.mode.capitalize()}Pool3D has no float64 CPU kernel"
        if k == 1 and s == 1:
            return None  # a window of one channel: TensorFlow runs it as a spatial no-op
        if case.mode == "max":
            return (
                "depth max pooling: MaxPoolGrad refuses any depth window or stride (the forward runs only for a "
                "window equal to the stride dividing C, in 1-/2-D)"
            )
        if case.nd == 3 and self._eigen(dtype):
            return "the Eigen AvgPool3D kernel refuses pooling on the depth dimension"
        if k > 1 and s != k:
            return "depth average pooling refuses a depth stride other than the depth window"
        if k > 1 and (self._eigen(dtype) or case.nd == 1):
            return "depth average pooling refused (Eigen: non-spatial pooling; 1-D: squeeze fails)"
        return None  # runs, with wrong results: recorded divergences (module docstring)

    def semantics(self, case: Case, api: str) -> Semantics:
        if isinstance(case, PoolCase) and case.kind == "max":
            return Semantics(ties="first", nan="ignore")  # MaxPool: lowest-initialised, strictly-greater scan
        if isinstance(case, GlobalPoolCase) or (isinstance(case, DepthPoolCase) and api == "generic"):
            return Semantics(ties="split", nan="propagate")  # tf.reduce_max
        return Semantics()

    # -------------------------------------------------------------------- run
    def run(self, plan: Plan, inputs: Arrays) -> Arrays:
        if not isinstance(plan, TensorFlowPlan):
            raise TypeError(f"{self.name}: run() takes a TensorFlowPlan from support(), got {plan.describe()}")
        t = {"x": tf.constant(tr.channels_last(inputs["x"]))}
        if plan.kernel_layout:
            t["w"] = tf.constant(self._kernel_to_tf(plan, inputs["w"]))
            if "b" in inputs:
                t["b"] = tf.constant(inputs["b"])
        dy = tr.channels_last(inputs["dy"])
        with tf.GradientTape() as tape:
            tape.watch(list(t.values()))
            y = self._forward(plan, t)
        out = {"y": tr.channels_first(y.numpy())}
        if tuple(y.shape) != dy.shape and not plan.probe:
            return out  # a wrongly shaped y (recorded divergences): no gradient against dy exists
        cotangent = None if plan.probe else tf.constant(dy)  # a probe only asks whether the backward runs
        grads = tape.gradient(y, list(t.values()), output_gradients=cotangent)
        for name, grad in zip(t, grads):
            if grad is None:
                continue  # reported as missing
            g = grad.numpy()
            if name == "x":
                out["dx"] = tr.channels_first(g)
            elif name == "w":
                out["dw"] = self._kernel_from_tf(plan, g)
            else:
                out[f"d{name}"] = g
        return out

    @staticmethod
    def _forward(plan: TensorFlowPlan, t: dict[str, Any]) -> Any:
        x = t["x"]
        if plan.prepad is not None:
            x = tf.pad(x, tr.pad_list(plan.prepad), constant_values=plan.pad_value)
        if plan.channel_windows:
            case = plan.case
            assert isinstance(case, DepthPoolCase)
            k = case.pool_size
            if plan.channel_windows == "reshape":
                # the leading sizes from the tensor: a retraced tf.function knows only the channels
                x = tf.reshape(x, tf.concat([tf.shape(x)[:-1], [x.shape[-1] // k, k]], axis=0))
            else:
                x = tf.signal.frame(x, k, case.resolved_stride, axis=-1)
        keywords = dict(plan.arguments)
        if plan.padding is not None:
            keywords["padding"] = plan.padding
        if plan.transposed is not None:
            y = transposed_forward(plan.fn, x, t["w"], keywords, plan.transposed)
        else:
            y = plan.fn(x, t["w"], **keywords) if "w" in t else plan.fn(x, **keywords)
        return tf.nn.bias_add(y, t["b"]) if "b" in t else y

    @staticmethod
    def _kernel_to_tf(plan: TensorFlowPlan, w: np.ndarray) -> np.ndarray:
        """``(O, C/g, *k)`` -> ``(*k, C/g, O)``; for ``"depthwise"`` ``(C*m, 1, kh, kw)`` -> ``(kh, kw, C, m)``."""
        if plan.kernel_layout == "depthwise":
            return tr.depthwise_kernel(w, plan.case.x_shape[1])
        return tr.kernel_spatial_first(w)

    @staticmethod
    def _kernel_from_tf(plan: TensorFlowPlan, k: np.ndarray) -> np.ndarray:
        if plan.kernel_layout == "depthwise":
            return tr.depthwise_kernel_back(k)
        return tr.kernel_channels_first(k)
