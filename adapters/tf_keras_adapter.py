"""Keras 2 (``tf_keras``, the ``tf-keras`` distribution) on TensorFlow: ``tf_keras.layers`` (api ``"layer"``).

Keras 2 has no ``keras.ops``, so this adapter checks the layers only. It is the Keras 3 adapter's layer path
(:class:`convequiv.adapters.keras_adapter.KerasAdapter`, TensorFlow branches) with ``tf_keras`` in place of ``keras``;
``tf_keras`` is imported directly and shares the process with Keras 3 (``TF_USE_LEGACY_KERAS`` is not
needed). Gradients of ``sum(dy * y)`` are ``tf.GradientTape`` products w.r.t. the input and the layer's
trainable variables (kernel, then bias) after ``set_weights``; float64 layers are built with
``dtype="float64"``.

Layouts (``data_format="channels_last"``): data ``(N, C, *s)`` <-> ``(N, *s, C)``; kernels ``(O, C/g, *k)``
<-> ``(*k, C/g, O)`` for ``Conv1D/2D/3D`` (with ``groups``: Keras 2 runs a grouped convolution as
``tf.nn.convolution`` compiled by XLA, ``jit_compile=True``); depthwise cases of rank 1 and 2 use
``DepthwiseConv1D/2D`` (``depth_multiplier``) with kernels ``(*k, C, m)``, output channel ``c*m + j``;
``DepthwiseConv1D`` is a ``tf.nn.depthwise_conv2d`` over a height of 1 with strides ``(1, s, s, 1)``. A 3-D
depthwise case is a grouped ``Conv3D``. Pooling: ``MaxPooling*D`` / ``AveragePooling*D`` (TensorFlow's
MaxPool / AvgPool, 1-D as 2-D on an inserted axis; MaxPool3D / AvgPool3D), ``GlobalMaxPooling*D`` /
``GlobalAveragePooling*D`` (``tf.reduce_max`` / ``reduce_mean``, ``keepdims`` passed on).

Plans and routes are the Keras 3 adapter's (:class:`~convequiv.adapters.keras_adapter.KerasPlan`, decided once in
``support``, executed by ``run``), layer routes only. ``"valid"`` / ``"same"``: Keras' own strings (``"same"`` is
TensorFlow's SAME, i.e. SAME_UPPER). Any other padding is a pad step, then ``"valid"``: ``"ZeroPadding + valid"``,
``ZeroPadding*D`` before ``Conv*D`` / ``DepthwiseConv*D`` and before average pooling with
``count_include_pad=True`` (also for ``"same"`` with ``count_include_pad=True``: Keras' ``"same"`` average leaves
padding out of the divisor); ``"-inf pad + valid"``, ``tf.pad`` with ``-inf`` before max pooling (a ZeroPadding
layer would let 0 win; Keras 2 has no ``keras.ops.pad``). ``"GlobalPooling"``: ``GlobalMaxPooling*D`` /
``GlobalAveragePooling*D``. ``ZeroPadding1D`` has no ``data_format`` in Keras 2 (it is channels-last only).
Pooling ``stride=None`` is the layer's own default.

Transposed convolution (``Conv1DTranspose`` / ``Conv2DTranspose`` / ``Conv3DTranspose``, kernels ``(*k, O, C)``):
the Keras 3 adapter's plans, layer routes only (``"same"``, ``"valid"`` with an ``output_padding``, ``"valid +
Cropping"``; Keras 2's ``conv_utils.deconv_output_length`` gives the same lengths as Keras 3). What differs, read
from the tf-keras sources (``tf_keras/layers/convolutional/conv*_transpose.py``, ``tf_keras/backend.py``), and
*unchecked here* (``tf_keras`` is not installed in the development environment):

* ``Conv1DTranspose`` passes its dilation to ``tf.nn.conv1d_transpose`` (TensorFlow's Conv2DBackpropInput, whose
  Eigen kernels refuse a dilation, as for Keras 3);
* ``Conv2DTranspose`` with a dilation calls ``tf.nn.atrous_conv2d_transpose`` (``backend.conv2d_transpose``),
  which takes one rate: unequal dilation rates are refused there (a ``ValueError`` inside ``tf_keras``), equal
  ones never reach a dilated kernel (so the Eigen refusal does not apply);
* ``Conv3DTranspose`` drops its ``dilation_rate``: ``call`` runs ``tf.nn.conv3d_transpose`` without dilations and
  ``compute_output_shape`` computes the undilated length (``get_config`` pops the argument). Dilated 3-D cases
  are run and must diverge: the output has the undilated shape, so the gradient seeded with a ``dy`` of the
  canonical shape fails inside TensorFlow (no record yet: unchecked);
* the constructors refuse strides > 1 with dilation > 1 (``Conv._validate_init``) and ``output_padding`` not
  below the strides, in that order; groups are lacking (the classes have no ``groups`` parameter).

Unsupported, and how it is proven:

* lacks (the ``tf_keras`` callable has no such parameter): pooling ``dilation_rate``; ``ceil_mode`` when it changes
  the windows (otherwise the floor-mode windows are the same and the case runs); ``count_include_pad`` for
  average pooling padded other than by ``"same"``; channel (depth) pooling: ``MaxPooling2D`` has no ``axis``
  (Keras 2 has no channel-pooling layer and no ops API for the notes' DepthPool idiom); more than 3 spatial
  dimensions (no ``Conv4D`` ... layer).
* refuses (the attempt, the plan of the native call, raises inside ``tf_keras`` or ``tensorflow``, backward
  included): strides > 1 with dilation > 1 in ``Conv*D`` *and* ``DepthwiseConv1D/2D`` (Keras 2's constructor
  checks both; Keras 3 lets the depthwise layers through); TensorFlow's float64 ``DepthwiseConv2dNative`` with
  unequal row/column strides; TensorFlow's 3-D pooling in float64 (MaxPool3D / AvgPool3D have no double CPU
  kernel).

Contested semantics, as run (the same TensorFlow kernels as ``keras[tensorflow]``):

* ``MaxPooling*D`` (MaxPool, MaxPool3D) sends the gradient to the first maximum (``ties="first"``) and skips
  NaN (``nan="ignore"``, tensorflow/tensorflow#2501); the TensorFlow kernels' anomalies are recorded on the
  ``tf-*`` divergences, whose ``adapter`` field names ``tf_keras`` too: a window with nothing above ``-inf``
  gives the lowest finite float (``tf-maxpool-lowest``), MaxPoolGrad seeds its argmax with the first tap
  (``tf-maxpool-grad-nan-first``), MaxPool3DGrad gives every tap near the maximum the full gradient
  (``tf-maxpool3d-grad-tolerance``);
* ``GlobalMaxPooling*D`` (``tf.reduce_max``) splits the gradient among tied maxima (``ties="split"``) and
  propagates NaN, with a NaN gradient for a window whose maximum is NaN (``tf-reduce-max-grad-nan``);
* ``Conv*D`` calls the same convolution kernels as the ``tensorflow`` adapter and shares their silently wrong
  forwards: the float32 oneDNN convolution with one input channel and an output width of 1 reached by a stride
  (``tf-onednn-conv-single-channel-width-1``) and the float64 Conv3D with ``"same"`` where the stride exceeds
  the kernel (``tf-conv3d-same-negative-padding``; a grouped Conv3D, compiled by XLA, is right).
"""

from __future__ import annotations

from convequiv.reference.cases import ConvTransposeCase

from .keras_adapter import KerasAdapter, KerasPlan


class TfKerasAdapter(KerasAdapter):
    """Keras 2 layers through the Keras 3 adapter's plans and layer path (TensorFlow backend)."""

    name = "tf_keras"
    distributions = ("tf_keras", "tensorflow")
    frameworks = ("tf_keras", "tensorflow")
    apis = ("layer",)

    def __init__(self) -> None:  # not KerasAdapter.__init__: that one imports Keras 3
        import tensorflow  # noqa: F401  (the backend, imported before Keras 2)
        import tf_keras

        self.keras = tf_keras
        self.backend = "tensorflow"

    def _pad_op(self) -> str:
        return "tensorflow.pad"  # Keras 2 has no keras.ops.pad

    def _eigen_dilation_refused(self, case: ConvTransposeCase) -> bool:
        # Conv2DTranspose runs a dilation through tf.nn.atrous_conv2d_transpose (no dilated kernel);
        # Conv3DTranspose drops it.
        return case.nd == 1

    def _conv_transpose_refusal(self, case: ConvTransposeCase, plan: KerasPlan, dtype: str) -> str | None:
        reason = super()._conv_transpose_refusal(case, plan, dtype)
        if case.nd == 2 and case.dilation[0] != case.dilation[1]:
            unequal = (
                "tf_keras.layers.Conv2DTranspose refuses unequal dilation rates (backend.conv2d_transpose: "
                "tf.nn.atrous_conv2d_transpose takes one rate)"
            )
            return unequal if reason is None else f"{reason}; {unequal}"
        return reason
