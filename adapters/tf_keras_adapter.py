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

from .keras_adapter import KerasAdapter


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
