"""Keras 3 on the process's backend: ``keras.ops`` (api ``"ops"``) and ``keras.layers`` (api ``"layer"``).

The backend is the one Keras chose for this process (``keras.backend.backend()``); :func:`convequiv.adapters.load`
runs other backends in worker processes (plans cross pickled). :meth:`KerasAdapter.support` decides once per
(case, api, dtype) and returns a :class:`KerasPlan` or a proven :class:`Unsupported`; :meth:`KerasAdapter.run`
builds what the plan names (:mod:`convequiv.adapters.keras_graph`) and runs it. Gradients of ``sum(dy * y)``
come from the backend's own autodiff: ``tf.GradientTape``, ``jax.vjp`` (layer variables through
``keras.StatelessScope``) or ``torch.autograd``; for layers they are taken w.r.t. the layer's own variables after
``set_weights``. float64 layers are built with ``dtype="float64"``; on JAX the adapter turns on ``jax_enable_x64``.

Layouts (:mod:`convequiv.adapters.translate`; ``data_format="channels_last"`` everywhere): data ``(N, C, *s)``
<-> ``(N, *s, C)``; kernels ``(O, C/g, *k)`` <-> ``(*k, C/g, O)`` (``keras.ops.conv`` infers the groups,
``Conv*D`` takes ``groups``); depthwise cases of rank 1 and 2 (``groups == C``) use ``keras.ops.depthwise_conv``
/ ``DepthwiseConv1D/2D`` with kernels ``(*k, C, m)``, output channel ``c*m + j`` in both layouts
(``plan.depthwise``); a 3-D depthwise case is a grouped conv.

Routes (``plan.route``, the padding translation canonical -> Keras):

* ``"valid"``: Keras' ``padding="valid"``, for ``"valid"`` and for any padding that pads nothing;
* ``"same"``: Keras' ``padding="same"`` (SAME_UPPER in Keras); for average pooling only where the divisor
  leaves the padding out (``count_include_pad=False``) or nothing is padded;
* ``"pad op + valid"``: ``keras.ops.pad`` with zeros, then ``"valid"``: convolution and average pooling
  (``count_include_pad=True``) through ``keras.ops`` with any other padding (ints, pairs, ``"same_lower"``,
  and ``"same"`` average pooling: Keras' ``"same"`` average leaves the padding out of the divisor);
* ``"ZeroPadding + valid"``: the same through layers, ``ZeroPadding*D`` before ``Conv*D`` /
  ``DepthwiseConv*D`` / ``AveragePooling*D``;
* ``"-inf pad + valid"``: max pooling padded other than by ``"same"`` (both APIs): ``keras.ops.pad`` with
  ``-inf`` (a ZeroPadding layer would let 0 win), then ``"valid"``;
* ``"DepthPool reshape"``: depth pooling (api ``"ops"`` only), the notes' ``DepthPool``: channels reshaped to
  ``(C / k, k)`` and reduced with ``keras.ops.max`` / ``mean``; ``"DepthPool stack"``: a stride other than ``k``,
  the ``k`` strided channel slices stacked and reduced;
* ``"reduce"``: global pooling through ``keras.ops.max`` / ``mean`` over the spatial axes; ``"GlobalPooling"``:
  through ``GlobalMaxPooling*D`` / ``GlobalAveragePooling*D``.

Pooling ``stride=None`` is passed on as Keras' own default (``strides=None`` / omitted).

Transposed convolution (``keras.ops.conv_transpose``, ``Conv1DTranspose`` / ``Conv2DTranspose`` /
``Conv3DTranspose``): kernels ``(C, O, *k)`` <-> ``(*k, O, C)`` (the same permutation as
:func:`~convequiv.adapters.translate.kernel_spatial_first`). Keras has ``"valid"`` and ``"same"`` and an
``output_padding`` added at the high end; its output length (``compute_conv_transpose_output_shape``) is
``(n - 1) * s + d * (k - 1) + 1 + output_padding`` for ``"valid"`` with an ``output_padding`` (without one,
``(n - 1) * s + max(d * (k - 1) + 1, s)``: the adapter always passes one) and ``n * s`` for ``"same"``
without one, which Keras resolves like the forward SAME of an ``n * s`` input (an odd cell at the end, the
cells past the last tap at the end): the canonical ``"same"``. Routes:

* ``"same"``: canonical ``"same"`` -> ``padding="same"``, ``output_padding=None`` (on torch, Keras before
  3.15.0 shifted these outputs by one cell; 3.15 crops like JAX);
* ``"valid"``: no padding at all -> ``padding="valid"`` with the case's ``output_padding``;
* ``"valid + crop"`` (ops: a slice of the output; layers: ``"valid + Cropping"``, a ``Cropping*D`` layer):
  every other padding (ints, asymmetric pairs, ``"same_lower"``) runs ``padding="valid"`` with
  ``output_padding = max(0, tail - hi)`` and cuts ``lo`` cells from the low end and ``max(hi - tail, 0)``
  from the high end, leaving the canonical window ``[lo, lo + out)`` of the full output. ``tail`` (the cells
  past the last tap) is the case's ``output_padding``, or for ``"same_lower"`` with an effective kernel shorter
  than the stride the ``s - d * (k - 1) - 1`` empty cells (torch_adapter's crop route, with nothing cropped by
  the op itself).

Refused: ``Conv*DTranspose`` with strides > 1 and dilation > 1 (the constructor checks) and an
``output_padding`` (as computed above) not below the stride, which the constructor also refuses (only a
dilation larger than the stride lets the canonical ``output_padding`` reach it); ``keras.ops.conv_transpose``
on TensorFlow with such an ``output_padding``: ``tf.nn.conv_transpose`` checks that a forward VALID
convolution of the requested output length has ``n`` outputs, and a length of ``s`` or more past the last
tap gives it ``n + 1``; on TensorFlow, any dilation with the Eigen kernels (float64; float32 without
oneDNN: "Current CPU implementations do not yet support dilation rates larger than 1"; oneDNN's float32
kernels take it, strides > 1 included). Lacks: groups (``keras.ops.conv_transpose`` and ``Conv*DTranspose``
have no ``groups``: the kernel ``(*k, O, C)`` connects every input channel to every output channel; not
emulated); more than 3 spatial dimensions (no ``Conv4DTranspose``).

Unsupported, and how it is proven (a refusal names the plan of the native call, which must raise inside
:attr:`KerasAdapter.frameworks`: ``keras`` and the backend's package):

* lacks (the Keras callable has no such parameter): pooling ``dilation_rate``; ``ceil_mode`` when it changes
  the windows (otherwise the windows are the floor-mode ones and the case runs); ``count_include_pad`` for
  average pooling that is padded other than by ``"same"``; a channel-pooling layer (api ``"layer"``); more than
  3 spatial dimensions (no ``Conv4D`` / ``MaxPooling4D`` ... layer).
* refuses: ``Conv*D`` layers with strides > 1 and dilation > 1 (the constructor checks), ``DepthwiseConv*D``
  likewise where this release's constructor checks it, ``keras.ops.conv`` on TensorFlow likewise
  (``tf.nn.convolution``); TensorFlow's Eigen depthwise kernel (float64; float32 without oneDNN)
  with unequal row/column strides;
  TensorFlow's 3-D pooling in float64 (MaxPool3D/AvgPool3D have no double CPU kernel);
  ``keras.ops.max_pool``/``average_pool`` on JAX with ``strides=None`` (Keras 3.15 expands ``pool_size``
  to full rank before copying it into ``strides``, then expands the copy again: a TypeError from
  ``lax.reduce_window``); on torch, a 2-D convolution with one filter, more than one input channel and a
  kernel larger than 1x1, undilated, in float64 or (float32) with batch 1 and a kernel not larger than
  3 in both dims: Keras passes torch the permuted ``(kh, kw, C, 1)`` kernel, which is channels-last
  contiguous only, and torch's slow_conv2d backward raises "grad_weight must be contiguous" (oneDNN,
  used otherwise for float32, does not; pytorch/vision#6001 is the same torch check).
* unsafe: on torch, a float32 strided 1x1 convolution of fewer input channels than oneDNN's block, which
  oneDNN's weight gradient corrupts memory for (:mod:`convequiv.adapters.onednn_rtus`; the permuted NHWC input
  Keras passes is a channels-last source).

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
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from convequiv.reference.cases import Case, ConvCase, ConvTransposeCase, DepthPoolCase, GlobalPoolCase, PoolCase
from convequiv.reference.geometry import Pads

from . import keras_graph as kg
from . import onednn_rtus
from . import translate as tr
from .base import CLASSIC_OPS, Adapter, Arrays, Plan, Semantics, Unsupported, UnsupportedCase

#: Routes (module docstring).
VALID, SAME = "valid", "same"
PAD_OP, ZERO_PADDING, NEG_INF_PAD = "pad op + valid", "ZeroPadding + valid", "-inf pad + valid"
DEPTH_RESHAPE, DEPTH_STACK = "DepthPool reshape", "DepthPool stack"
REDUCE, GLOBAL_LAYER = "reduce", "GlobalPooling"
CROP, CROPPING = "valid + crop", "valid + Cropping"
#: The Keras layer family of each op (named in the "lacks" claim of a case of more than 3 spatial dimensions).
_LAYER_FAMILY = {
    "conv": "Conv",
    "max_pool": "MaxPooling",
    "avg_pool": "AveragePooling",
    "depth_pool": "MaxPooling",
    "global_max_pool": "GlobalMaxPooling",
    "global_avg_pool": "GlobalAveragePooling",
}


@dataclass(frozen=True)
class KerasPlan(Plan):
    """``call`` (the dotted name of a ``keras.ops`` function or a ``keras.layers`` class) runs on channels-last
    tensors with Keras' ``padding`` string (``None`` for reductions); a ``prepad`` is applied first by
    ``pad_call`` (a pad op filled with ``pad_value``, or a ``ZeroPadding*D`` layer). ``depthwise``: the kernel is
    in the depthwise layout ``(*k, C, m)``; ``stacked``: depth pooling stacks the strided channel slices.
    A transposed convolution takes ``output_padding`` (``None``: Keras' default), and ``crop`` ``(lo, hi)`` cells
    are cut from the ends of its output by ``crop_call`` (a ``Cropping*D`` layer; ``""``: a slice)."""

    layout: str = "channels_last"
    pad_call: str = ""
    depthwise: bool = False
    stacked: bool = False
    output_padding: tuple[int, ...] | None = None
    crop: Pads | None = None
    crop_call: str = ""

    def describe(self) -> str:
        args = [] if self.padding is None else [f"padding={self.padding!r}"]
        args += [] if self.output_padding is None else [f"output_padding={self.output_padding}"]
        text = f"{self.call}({', '.join(args)})" if args else self.call
        if self.prepad is not None:
            text += f" after {self.pad_call} of {list(self.prepad)} with {self.pad_value:g}"
        if self.crop is not None:
            text += f", then {self.crop_call or 'a slice'} cutting {list(self.crop)}"
        kernel = f", kernel {self.kernel_layout}" if self.kernel_layout else ""
        return f"{text}, {self.layout}{kernel} [{self.route}{self.kernels_note()}]"


class KerasAdapter(Adapter):
    apis: ClassVar[tuple[str, ...]] = ("ops", "layer")
    ops: ClassVar[frozenset[str]] = CLASSIC_OPS | {"conv_transpose"}
    #: Dilated average pooling is answered: Keras pooling lacks dilation (a proven 'lacks').
    avg_pool_dilation = True

    def __init__(self) -> None:
        import keras

        self.keras = keras
        self.backend: str = keras.backend.backend()
        self.name = f"keras[{self.backend}]"  # type: ignore[misc]
        self.distributions = ("keras", self.backend)  # type: ignore[misc]
        self.frameworks = ("keras", self.backend)  # type: ignore[misc]
        if self.backend == "jax":  # float64 arrays need JAX's 64-bit mode (process-wide)
            import jax

            jax.config.update("jax_enable_x64", True)  # type: ignore[no-untyped-call, unused-ignore]
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
        plan = self.support(ConvCase(x.shape, w.shape, bias=False), self.apis[0], "float32")
        assert isinstance(plan, KerasPlan), plan
        self.run(plan, {"x": x, "w": w, "dy": np.ones((1, 1, 3, 3), np.float32)})

    def _name(self, kind: str, name: str) -> str:
        """The dotted name of ``keras.<kind>.<name>`` in this adapter's Keras module."""
        return f"{self.keras.__name__}.{kind}.{name}"

    def _pad_op(self) -> str:
        """The pad op of pre-pads other than ZeroPadding layers: ``pad(x, widths, constant_values=v)``."""
        return self._name("ops", "pad")

    # ------------------------------------------------------------------------------------- plans
    def support(self, case: Case, api: str, dtype: str) -> KerasPlan | Unsupported:
        decided = self._support(case, api, dtype)
        kernels = self._tf_kernels(dtype)
        if not kernels:
            return decided
        if isinstance(decided, Unsupported):
            attempt = decided.attempt
            return decided if attempt is None else replace(decided, attempt=replace(attempt, kernels=kernels))
        return replace(decided, kernels=kernels)

    def _tf_kernels(self, dtype: str) -> str:
        """On the TensorFlow backend, the CPU kernel library TensorFlow picks on this machine
        (:func:`convequiv.adapters.tensorflow_adapter.kernels_for`); ``""`` on the others."""
        if self.backend != "tensorflow":
            return ""
        from .tensorflow_adapter import kernels_for

        return kernels_for(dtype)

    def _support(self, case: Case, api: str, dtype: str) -> KerasPlan | Unsupported:
        if case.nd > 3:
            layer = f"Conv{case.nd}DTranspose" if case.op == "conv_transpose" else f"{_LAYER_FAMILY[case.op]}{case.nd}D"
            missing = self._name("layers", layer)
            return Unsupported(f"Keras has no {case.nd}-D convolution or pooling layer", "lacks", missing)
        if isinstance(case, DepthPoolCase) and api != "ops":
            return Unsupported(
                "Keras has no channel-pooling layer (its pooling layers pool the spatial axes)",
                "lacks",
                self._name("layers", "MaxPooling2D"),
                "axis",
            )
        if isinstance(case, ConvCase):
            if self.backend == "torch" and onednn_rtus.at_risk(case, dtype, "permuted"):
                return onednn_rtus.unsafe()
            return self._refused(case, api, dtype, self._conv_plan(case, api, dtype))
        if isinstance(case, ConvTransposeCase):
            plan = self._conv_transpose_plan(case, api, dtype)
            return plan if isinstance(plan, Unsupported) else self._refused(case, api, dtype, plan)
        if isinstance(case, PoolCase):
            plan = self._pool_plan(case, api, dtype)
            return plan if isinstance(plan, Unsupported) else self._refused(case, api, dtype, plan)
        if isinstance(case, DepthPoolCase):
            stacked = case.resolved_stride != case.pool_size
            call = self._name("ops", "max" if case.mode == "max" else "mean")
            route = DEPTH_STACK if stacked else DEPTH_RESHAPE
            return KerasPlan(case, api, dtype, route, call, stacked=stacked)
        if isinstance(case, GlobalPoolCase):
            if api == "ops":
                return KerasPlan(case, api, dtype, REDUCE, self._name("ops", "max" if case.mode == "max" else "mean"))
            name = f"Global{'Max' if case.mode == 'max' else 'Average'}Pooling{case.nd}D"
            return KerasPlan(case, api, dtype, GLOBAL_LAYER, self._name("layers", name))
        return Unsupported(f"unknown case type {type(case).__name__}", "lacks", self._name("layers", "Unknown"))

    def _conv_plan(self, case: ConvCase, api: str, dtype: str) -> KerasPlan:
        depthwise = self._depthwise(case)
        if api == "ops":
            call = self._name("ops", "depthwise_conv" if depthwise else "conv")
        else:
            call = self._name("layers", f"{'DepthwiseConv' if depthwise else 'Conv'}{case.nd}D")
        layout = "(*k, C, m)" if depthwise else "(*k, C/g, O)"
        named = tr.named_padding(case.padding, case.pads)
        if named is not None:
            return KerasPlan(case, api, dtype, named, call, named, kernel_layout=layout, depthwise=depthwise)
        # explicit padding, "same_lower": a zero pad op (ops) or a ZeroPadding layer, then "valid"
        route, pad = (PAD_OP, self._pad_op()) if api == "ops" else (ZERO_PADDING, self._zero_padding(case))
        return KerasPlan(
            case, api, dtype, route, call, VALID, case.pads, kernel_layout=layout, pad_call=pad, depthwise=depthwise
        )

    def _conv_transpose_plan(self, case: ConvTransposeCase, api: str, dtype: str) -> KerasPlan | Unsupported:
        """Keras' ``"same"``, or ``"valid"`` with an ``output_padding`` and a crop of the output (module docstring)."""
        call = self._name("ops", "conv_transpose") if api == "ops" else self._name("layers", f"Conv{case.nd}DTranspose")
        if case.groups > 1:
            return Unsupported(
                "Keras' transposed convolution has no groups (its kernel (*k, O, C) connects every input channel "
                "to every output channel)",
                "lacks",
                call,
                "groups",
            )
        layout = "(*k, O, C)"
        if case.padding == "same":
            return KerasPlan(case, api, dtype, SAME, call, SAME, kernel_layout=layout)
        # the cells past the last tap (the case's output_padding), what "valid" must add to reach the canonical
        # window [lo, lo + out), and what is cut from each end of the output then
        tail = tuple(n - (f - lo - hi) for n, f, (lo, hi) in zip(case.out_shape[2:], case.full_sizes, case.pads))
        extra = tuple(max(0, t - hi) for t, (_, hi) in zip(tail, case.pads))
        crop = tuple((lo, max(hi - t, 0)) for t, (lo, hi) in zip(tail, case.pads))
        if not tr.has_padding(crop):
            return KerasPlan(case, api, dtype, VALID, call, VALID, kernel_layout=layout, output_padding=extra)
        route, cut = (CROP, "") if api == "ops" else (CROPPING, self._name("layers", f"Cropping{case.nd}D"))
        return KerasPlan(
            case, api, dtype, route, call, VALID, kernel_layout=layout, output_padding=extra, crop=crop, crop_call=cut
        )

    def _zero_padding(self, case: Case) -> str:
        return self._name("layers", f"ZeroPadding{case.nd}D")

    def _pool_target(self, case: PoolCase, api: str) -> str:
        """The Keras callable a pooling case goes through (named in "lacks" claims)."""
        if api == "ops":
            return self._name("ops", f"{'max' if case.kind == 'max' else 'average'}_pool")
        return self._name("layers", f"{'Max' if case.kind == 'max' else 'Average'}Pooling{case.nd}D")

    def _pool_plan(self, case: PoolCase, api: str, dtype: str) -> KerasPlan | Unsupported:
        """Keras' ``"same"`` or ``"valid"``, or a pad step then ``"valid"``; or the parameter Keras pooling lacks."""
        call = self._pool_target(case, api)
        if any(d > 1 for d in case.dilation):
            return Unsupported("Keras pooling has no dilation", "lacks", call, "dilation_rate")
        if case.ceil_changes_windows:
            return Unsupported("Keras pooling has no ceil_mode (here it adds a window)", "lacks", call, "ceil_mode")
        padded = tr.has_padding(case.pads)
        if case.padding == "same" and (case.kind == "max" or not case.count_include_pad or not padded):
            return KerasPlan(case, api, dtype, SAME, call, SAME)
        if not padded:
            return KerasPlan(case, api, dtype, VALID, call, VALID)
        if case.kind == "max":  # a ZeroPadding layer would let 0 win a max
            return KerasPlan(case, api, dtype, NEG_INF_PAD, call, VALID, case.pads, -math.inf, pad_call=self._pad_op())
        if not case.count_include_pad:
            return Unsupported(
                "Keras average pooling leaves padding out of the divisor only with padding='same'; other padding has "
                "to be applied to the input, and then it is counted",
                "lacks",
                call,
                "count_include_pad",
            )
        route, pad = (PAD_OP, self._pad_op()) if api == "ops" else (ZERO_PADDING, self._zero_padding(case))
        return KerasPlan(case, api, dtype, route, call, VALID, case.pads, pad_call=pad)

    def _depthwise(self, case: ConvCase) -> bool:
        """Depthwise cases of rank 1 and 2 use keras.ops.depthwise_conv / DepthwiseConv1D/2D (there is no 3-D)."""
        return case.depthwise and case.nd <= 2

    def _torch_conv_crash(self, case: ConvCase, dtype: str) -> bool:
        """torch's slow_conv2d backward needs a contiguous weight, and Keras hands it the permuted view of an
        ``(kh, kw, C, 1)`` kernel (channels-last contiguous, not contiguous) when there is one filter. The slow
        kernel runs for float64, and for float32 when oneDNN is skipped (batch 1, kernel not larger than 3)."""
        k = case.kernel
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
            layer(case.kernel, strides=case.stride, dilation_rate=case.dilation)
        except ValueError:
            return True
        return False

    def _refused(
        self, case: ConvCase | ConvTransposeCase | PoolCase, api: str, dtype: str, plan: KerasPlan
    ) -> KerasPlan | Unsupported:
        """``plan``, or the refusal of it by Keras or its backend: ``plan`` is then the attempt that raises."""
        if isinstance(case, ConvTransposeCase):
            reason = self._conv_transpose_refusal(case, plan, dtype)
        else:
            reason = self._refusal(case, api, dtype)
        return plan if reason is None else Unsupported(reason, attempt=plan)

    def _conv_transpose_refusal(self, case: ConvTransposeCase, plan: KerasPlan, dtype: str) -> str | None:
        """Why Keras or its backend raises when the transposed convolution ``plan`` runs (module docstring): every
        check that applies, as the constructor's order differs between Keras releases."""
        extra = plan.output_padding or (0,) * case.nd
        too_long = any(e >= s for e, s in zip(extra, case.stride))
        reasons = []
        if plan.api == "layer":
            layer = f"{self.keras.__name__}.layers.Conv{case.nd}DTranspose"
            if max(case.stride) > 1 and max(case.dilation) > 1:
                reasons.append(f"{layer} refuses strides > 1 with dilation_rate > 1")
            if too_long:
                reasons.append(f"{layer} refuses an output_padding {extra} not below the strides {case.stride}")
        if self._tf_kernels(dtype) == "eigen" and max(case.dilation) > 1 and self._eigen_dilation_refused(case):
            reasons.append(
                "TensorFlow's Eigen Conv2DBackpropInput / Conv3DBackpropInputV2 (float64; float32 without oneDNN) "
                "refuse dilation rates larger than 1"
            )
        if plan.api == "ops" and too_long and self.backend == "tensorflow":
            reasons.append(
                f"keras.ops.conv_transpose on TensorFlow refuses output_padding {extra} not below the strides "
                f"{case.stride} (tf.nn.conv_transpose: the VALID convolution of that output has too many positions)"
            )
        return "; ".join(reasons) or None

    def _eigen_dilation_refused(self, case: ConvTransposeCase) -> bool:
        """Whether a dilated transposed convolution reaches TensorFlow's Eigen backprop-input kernels with its
        dilation (Keras 3: always, through ``tf.nn.conv_transpose``)."""
        return True

    def _refusal(self, case: ConvCase | PoolCase, api: str, dtype: str) -> str | None:
        """Why Keras or its backend raises when the case's plan runs (module docstring), if it does."""
        keras = self.keras.__name__
        if isinstance(case, ConvCase):
            depthwise = self._depthwise(case)
            if max(case.stride) > 1 and max(case.dilation) > 1:
                if api == "layer" and depthwise and self._depthwise_layer_refuses(case):
                    return (
                        f"{keras}.layers.DepthwiseConv{case.nd}D refuses strides > 1 with dilation_rate > 1 "
                        "(Keras 2 and early Keras 3 releases check it in the constructor)"
                    )
                if api == "layer" and not depthwise:
                    return f"{keras}.layers.Conv{case.nd}D refuses strides > 1 with dilation_rate > 1"
                if api == "ops" and self.backend == "tensorflow" and not depthwise:
                    return "keras.ops.conv on TensorFlow refuses strides > 1 with dilation_rate > 1"
            elif self._tf_kernels(dtype) == "eigen" and depthwise and len(set(case.stride)) > 1:
                # (with dilation too, Keras instead subsamples a stride-1 result)
                return (
                    "TensorFlow's Eigen DepthwiseConv2dNative (float64; float32 without oneDNN) refuses unequal "
                    "row/column strides"
                )
            if self.backend == "torch" and self._torch_conv_crash(case, dtype):
                return (
                    "torch's slow_conv2d backward raises 'grad_weight must be contiguous' for the kernel layout "
                    "Keras passes with a single filter"
                )
            return None
        if self.backend == "tensorflow" and case.nd == 3 and dtype == "float64":
            return "TensorFlow has no float64 CPU kernel for MaxPool3D / AvgPool3D"
        if self.backend == "jax" and api == "ops" and case.stride is None:
            return (
                "keras.ops.max_pool / average_pool on JAX fail with the default strides=None (pool_size is "
                "expanded to the full rank before strides copies it, and the copy is expanded again)"
            )
        return None

    def probe_hazard(self, case: Case, inputs: Arrays, api: str) -> str:
        assert self.backend == "torch" and isinstance(case, ConvCase), f"{self.name} declares no {case!r} unsafe"
        return onednn_rtus.kernel_in_child(case, "permuted")

    def semantics(self, case: Case, api: str) -> Semantics:
        if isinstance(case, (GlobalPoolCase, DepthPoolCase)):
            return Semantics(ties="split")  # keras.ops.max: every backend's reduce-max splits ties
        if isinstance(case, PoolCase) and self.backend == "tensorflow":
            return Semantics(nan="ignore")  # tf.nn.max_pool skips NaN
        return Semantics()

    # --------------------------------------------------------------------------------------- run
    def run(self, plan: Plan, inputs: Arrays) -> Arrays:
        if not isinstance(plan, KerasPlan):
            raise UnsupportedCase(f"{self.name} runs KerasPlans, got {type(plan).__name__}")
        graph = kg.graph(self.keras, plan, inputs)
        y, grads = kg.vjp(self.backend, self.keras, graph, tr.channels_last(inputs["dy"]))
        out = {"y": tr.channels_first(y), "dx": tr.channels_first(grads[0])}
        if "w" in inputs:  # kernel and bias gradients: ops arguments, or the layer's variables (kernel first)
            out["dw"] = tr.depthwise_kernel_back(grads[1]) if plan.depthwise else tr.kernel_channels_first(grads[1])
            if len(grads) > 2:
                out["db"] = grads[2]
        return out

    # ---------------------------------------------------------------------------- shapes, params
    def output_shape(self, case: Case, api: str) -> tuple[int, ...] | None:
        """Layers: ``compute_output_shape`` through the built layers; ops: a symbolic call on ``KerasTensor``s.

        ``None`` for a grouped ``keras.ops.conv``: its symbolic shape function (``Conv.compute_output_spec``)
        requires the kernel's input channels to equal the input's, although the eager op runs the groups."""
        plan = self.support(case, api, "float32")
        if isinstance(plan, Unsupported):
            return None
        if api == "ops" and isinstance(case, ConvCase) and case.groups > 1 and not plan.depthwise:
            return None
        graph = kg.graph(self.keras, plan, None)
        if api == "layer" and graph.steps:
            return tr.channels_first_shape(kg.build(graph.steps, case.x_shape))  # type: ignore[return-value]
        specs = [tr.channels_last_shape(case.x_shape)]
        if isinstance(case, ConvTransposeCase):  # kernel (*k, O, C), bias (O,)
            specs += [tr.kernel_spatial_first_shape(case.w_shape), *([(case.out_channels,)] if case.bias else [])]
        if isinstance(case, ConvCase):
            c = case.x_shape[1]
            specs.append(
                tr.depthwise_kernel_shape(case.w_shape, c)
                if plan.depthwise
                else tr.kernel_spatial_first_shape(case.w_shape)
            )
            specs += [(case.w_shape[0],)] if case.bias else []
        y = graph.fn(*(self.keras.KerasTensor(s, dtype="float32") for s in specs))
        return tr.channels_first_shape(y.shape)  # type: ignore[return-value]

    def layer_params(self, case: Case, api: str) -> tuple[int, int] | None:
        if api != "layer" or isinstance(case, DepthPoolCase):
            return None
        plan = self.support(case, api, "float32")
        if isinstance(plan, Unsupported):
            return None
        layers = [s for s in kg.graph(self.keras, plan, None).steps if not isinstance(s, kg.PadOp)]

        def count(variables: list[Any]) -> int:
            return sum(math.prod(v.shape) for v in variables)

        return sum(count(s.trainable_variables) for s in layers), sum(count(s.non_trainable_variables) for s in layers)
