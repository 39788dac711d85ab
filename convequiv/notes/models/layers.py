"""Layer descriptions: plain frozen dataclasses, no framework imports.

A description says *what* a layer is, never how a framework spells it; the reference
(:mod:`convequiv.notes.models.infer`) turns a stack of them into shapes and parameter counts, and the
builders (:mod:`convequiv.notes.models.build_keras`, :mod:`convequiv.notes.models.build_torch`) into real
models.

Conventions shared by every layer:

* shapes are reasoned about channels-first, ``(C, *spatial)``, without the batch axis; a flat
  tensor is ``(F,)``. A model says in which layout its input shape is written
  (:class:`convequiv.notes.models.model.Model`).
* ``kernel_size``, ``strides``, ``dilation_rate`` take an int or one int per spatial dimension.
* ``padding`` is ``"valid"``, ``"same"`` (TensorFlow/Keras SAME: ``out = ceil(n / s)``, the odd
  cell at the end), an int, one int per dimension, or one ``(lo, hi)`` pair per dimension
  (explicit, PyTorch style); see :mod:`convequiv.reference.geometry`.
* ``activation`` names an element-wise function applied after the layer (Keras fuses it into the
  layer; PyTorch gets a separate module): ``relu``, ``sigmoid``, ``tanh``, ``softmax`` (over the
  channel / feature axis), ``lecun_tanh`` (``1.7159 * tanh(2x / 3)``, LeCun 1998) or ``None``.
* every layer takes keyword-only ``name`` (the Keras layer name; ``None``: Keras' automatic name)
  and ``trainable`` (``False`` freezes the layer's weights, as Keras ``layer.trainable = False``
  and PyTorch ``requires_grad_(False)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

IntOrTuple = int | tuple[int, ...]
#: ``"valid"``, ``"same"``, one int for every side, one int per dimension, or ``(lo, hi)`` pairs.
Padding = str | int | tuple[int, ...] | tuple[tuple[int, int], ...]

ACTIVATIONS = ("relu", "sigmoid", "tanh", "softmax", "lecun_tanh")


@dataclass(frozen=True, kw_only=True)
class Layer:
    """Base class of every layer description."""

    name: str | None = None
    trainable: bool = True

    #: the Keras class the layer becomes (also what Keras 2 and 3 summaries print)
    keras_class: ClassVar[str] = ""


# --- convolutions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Conv(Layer):
    """N-d convolution (cross-correlation): ``filters`` outputs, ``groups`` channel groups.

    Parameters ``filters * (C / groups) * prod(kernel_size) + (filters if use_bias)``.
    """

    filters: int
    kernel_size: IntOrTuple
    strides: IntOrTuple = 1
    padding: Padding = "valid"
    dilation_rate: IntOrTuple = 1
    groups: int = 1
    use_bias: bool = True
    activation: str | None = None

    ndim: ClassVar[int] = 2


@dataclass(frozen=True)
class Conv1D(Conv):
    ndim: ClassVar[int] = 1
    keras_class: ClassVar[str] = "Conv1D"


@dataclass(frozen=True)
class Conv2D(Conv):
    ndim: ClassVar[int] = 2
    keras_class: ClassVar[str] = "Conv2D"


@dataclass(frozen=True)
class Conv3D(Conv):
    ndim: ClassVar[int] = 3
    keras_class: ClassVar[str] = "Conv3D"


@dataclass(frozen=True)
class DepthwiseConv2D(Layer):
    """Depthwise 2-d convolution: ``depth_multiplier`` outputs per input channel (``groups = C``).

    Parameters ``C * m * prod(kernel_size) + (C * m if use_bias)``.
    """

    kernel_size: IntOrTuple
    strides: IntOrTuple = 1
    padding: Padding = "valid"
    depth_multiplier: int = 1
    dilation_rate: IntOrTuple = 1
    use_bias: bool = True
    activation: str | None = None

    ndim: ClassVar[int] = 2
    keras_class: ClassVar[str] = "DepthwiseConv2D"


@dataclass(frozen=True)
class SeparableConv2D(Layer):
    """Depthwise 2-d convolution without bias followed by a pointwise ``1 x 1`` convolution.

    Parameters (Keras convention, also what the PyTorch build has):
    ``C * m * prod(kernel_size) + C * m * filters + (filters if use_bias)``.
    """

    filters: int
    kernel_size: IntOrTuple
    strides: IntOrTuple = 1
    padding: Padding = "valid"
    depth_multiplier: int = 1
    dilation_rate: IntOrTuple = 1
    use_bias: bool = True
    activation: str | None = None

    ndim: ClassVar[int] = 2
    keras_class: ClassVar[str] = "SeparableConv2D"


@dataclass(frozen=True)
class PartialConv2D(Layer):
    """2-d valid convolution, stride 1, where output map ``o`` sees only the input maps
    ``connections[o]`` (LeNet-5's C3 connection table).

    Parameters ``sum_o (len(connections[o]) * prod(kernel_size) + 1)``; with LeNet-5's table
    (six maps seeing 3 inputs, nine seeing 4, one seeing all 6) and ``5 x 5`` kernels: 1,516.
    """

    filters: int
    kernel_size: IntOrTuple
    connections: tuple[tuple[int, ...], ...] = ()
    activation: str | None = None

    ndim: ClassVar[int] = 2
    keras_class: ClassVar[str] = "PartialConv2D"


# --- pooling ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pool(Layer):
    """Spatial pooling; ``strides=None`` means ``pool_size`` (both frameworks' default).

    Max pooling pads with ``-inf`` (padded cells never win). Average pooling divides by the
    number of taps inside the padded input when ``count_include_pad`` is true (PyTorch's
    default for explicit padding) and by the number of real input taps when false (what Keras
    ``"same"`` does); ``None`` picks that framework behaviour from the padding form.
    No parameters; the channel count is unchanged.
    """

    pool_size: IntOrTuple
    strides: IntOrTuple | None = None
    padding: Padding = "valid"
    ceil_mode: bool = False

    ndim: ClassVar[int] = 2
    mode: ClassVar[str] = "max"


@dataclass(frozen=True)
class MaxPooling1D(Pool):
    ndim: ClassVar[int] = 1
    keras_class: ClassVar[str] = "MaxPooling1D"


@dataclass(frozen=True)
class MaxPooling2D(Pool):
    ndim: ClassVar[int] = 2
    keras_class: ClassVar[str] = "MaxPooling2D"


@dataclass(frozen=True)
class MaxPooling3D(Pool):
    ndim: ClassVar[int] = 3
    keras_class: ClassVar[str] = "MaxPooling3D"


@dataclass(frozen=True)
class AvgPool(Pool):
    """Average pooling (see :class:`Pool` for ``count_include_pad``)."""

    count_include_pad: bool | None = None

    mode: ClassVar[str] = "avg"


@dataclass(frozen=True)
class AveragePooling1D(AvgPool):
    ndim: ClassVar[int] = 1
    keras_class: ClassVar[str] = "AveragePooling1D"


@dataclass(frozen=True)
class AveragePooling2D(AvgPool):
    ndim: ClassVar[int] = 2
    keras_class: ClassVar[str] = "AveragePooling2D"


@dataclass(frozen=True)
class AveragePooling3D(AvgPool):
    ndim: ClassVar[int] = 3
    keras_class: ClassVar[str] = "AveragePooling3D"


@dataclass(frozen=True)
class Subsampling2D(Layer):
    """LeNet-5's S-layers: each output is the sum of a ``pool_size x pool_size`` window (stride
    ``pool_size``), times a trainable per-map coefficient, plus a trainable per-map bias.

    Parameters ``2 * C`` (a sum pooling followed by a depthwise ``1 x 1`` convolution).
    """

    pool_size: int = 2
    activation: str | None = None

    keras_class: ClassVar[str] = "Subsampling2D"


@dataclass(frozen=True)
class DepthPool(Layer):
    """Pooling along the channel axis in contiguous groups ``[0..k-1], [k..2k-1], ...``
    (the notes' Keras ``DepthPool`` layer). ``C`` must be divisible by ``pool_size``; the
    spatial size is unchanged; no parameters.
    """

    pool_size: int = 2
    mode: str = "max"

    keras_class: ClassVar[str] = "DepthPool"


@dataclass(frozen=True)
class GlobalPool(Layer):
    """Reduce every spatial axis: ``(C, *spatial) -> (C,)`` (``(C, 1, ..., 1)`` with ``keepdims``)."""

    keepdims: bool = False

    ndim: ClassVar[int] = 2
    mode: ClassVar[str] = "avg"


@dataclass(frozen=True)
class GlobalAveragePooling1D(GlobalPool):
    ndim: ClassVar[int] = 1
    keras_class: ClassVar[str] = "GlobalAveragePooling1D"


@dataclass(frozen=True)
class GlobalAveragePooling2D(GlobalPool):
    ndim: ClassVar[int] = 2
    keras_class: ClassVar[str] = "GlobalAveragePooling2D"


@dataclass(frozen=True)
class GlobalAveragePooling3D(GlobalPool):
    ndim: ClassVar[int] = 3
    keras_class: ClassVar[str] = "GlobalAveragePooling3D"


@dataclass(frozen=True)
class GlobalMaxPooling2D(GlobalPool):
    ndim: ClassVar[int] = 2
    mode: ClassVar[str] = "max"
    keras_class: ClassVar[str] = "GlobalMaxPooling2D"


# --- normalization ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchNormalization(Layer):
    """Batch normalization over the channel axis (Keras ``momentum`` convention: the running
    average keeps ``momentum`` of the old value; PyTorch's momentum is ``1 - momentum``).

    Parameters: Keras 2C trainable (gamma, beta) + 2C non-trainable (moving mean, variance);
    PyTorch 2C (weight, bias); its running statistics are buffers, not parameters.
    """

    momentum: float = 0.99
    epsilon: float = 1e-3

    keras_class: ClassVar[str] = "BatchNormalization"


@dataclass(frozen=True)
class LocalResponseNorm(Layer):
    """Local response normalization across ``size`` neighbouring channels (AlexNet, 2012):
    ``b_c = a_c / (k + alpha * sum_{c'} a_{c'}^2) ** beta`` with ``alpha`` as in the paper (PyTorch's
    ``LocalResponseNorm`` divides its ``alpha`` by ``size``, so it gets ``alpha * size``).
    No parameters.
    """

    size: int = 5
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 2.0

    keras_class: ClassVar[str] = "LocalResponseNorm"


# --- reshaping, dense, regularization ---------------------------------------------------------


@dataclass(frozen=True)
class Flatten(Layer):
    """``(C, *spatial) -> (C * prod(spatial),)``.

    ``functional=True`` models a flatten written in PyTorch's ``forward`` (``x.view(n, -1)``)
    rather than an ``nn.Flatten`` module: summary tools then list no row for it. Keras always
    needs a ``Flatten`` layer.
    """

    functional: bool = False

    keras_class: ClassVar[str] = "Flatten"


@dataclass(frozen=True)
class Dense(Layer):
    """Fully connected layer on a flat input: parameters ``F * units + (units if use_bias)``."""

    units: int
    use_bias: bool = True
    activation: str | None = None

    keras_class: ClassVar[str] = "Dense"


@dataclass(frozen=True)
class RBF(Layer):
    """LeNet-5's output layer: ``y_i = sum_j (x_j - w_ij) ** 2`` with fixed (non-trainable)
    centres ``w`` (``units x F`` values, set by hand in the paper, not learned)."""

    units: int

    keras_class: ClassVar[str] = "RBF"


@dataclass(frozen=True)
class Dropout(Layer):
    """Inverted dropout: in training each value is zeroed with probability ``rate`` and the rest
    are scaled by ``1 / (1 - rate)``; identity at inference. No parameters."""

    rate: float

    keras_class: ClassVar[str] = "Dropout"


@dataclass(frozen=True)
class Activation(Layer):
    """An element-wise activation as its own layer (PyTorch ``nn.ReLU`` and friends)."""

    function: str

    keras_class: ClassVar[str] = "Activation"


# --- preprocessing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rescaling(Layer):
    """``y = x * scale + offset``; no parameters."""

    scale: float
    offset: float = 0.0

    keras_class: ClassVar[str] = "Rescaling"


@dataclass(frozen=True)
class ZeroPadding(Layer):
    """Zero padding of the spatial axes (int, per-dimension ints or ``(lo, hi)`` pairs)."""

    padding: Padding = 1

    ndim: ClassVar[int] = 2


@dataclass(frozen=True)
class ZeroPadding1D(ZeroPadding):
    ndim: ClassVar[int] = 1
    keras_class: ClassVar[str] = "ZeroPadding1D"


@dataclass(frozen=True)
class ZeroPadding2D(ZeroPadding):
    ndim: ClassVar[int] = 2
    keras_class: ClassVar[str] = "ZeroPadding2D"


@dataclass(frozen=True)
class ZeroPadding3D(ZeroPadding):
    ndim: ClassVar[int] = 3
    keras_class: ClassVar[str] = "ZeroPadding3D"


@dataclass(frozen=True)
class CenterCrop(Layer):
    """Crop the central ``height x width`` window (offsets ``(H - height) // 2``, ``(W - width) // 2``);
    the target must fit inside the input."""

    height: int
    width: int

    keras_class: ClassVar[str] = "CenterCrop"


@dataclass(frozen=True)
class Resizing(Layer):
    """Resize the image to ``height x width`` (``bilinear`` or ``nearest``)."""

    height: int
    width: int
    interpolation: str = "bilinear"

    keras_class: ClassVar[str] = "Resizing"


@dataclass(frozen=True)
class RandomFlip(Layer):
    """Data augmentation: flip with probability 1/2 (``horizontal``, ``vertical`` or
    ``horizontal_and_vertical``) in training; identity at inference; no parameters."""

    mode: str = "horizontal_and_vertical"

    keras_class: ClassVar[str] = "RandomFlip"


@dataclass(frozen=True)
class RandomRotation(Layer):
    """Data augmentation: rotate by a random angle in ``[-factor, factor] * 2 pi`` in training."""

    factor: float

    keras_class: ClassVar[str] = "RandomRotation"


@dataclass(frozen=True)
class RandomZoom(Layer):
    """Data augmentation: zoom by a random factor in ``[1 - f, 1 + f]`` in training (Keras' sign
    convention aside, the shape is unchanged)."""

    height_factor: float
    width_factor: float | None = None

    keras_class: ClassVar[str] = "RandomZoom"


@dataclass(frozen=True)
class VGGPreprocess(Layer):
    """``keras.applications.vgg16.preprocess_input`` ("caffe" mode): RGB -> BGR and subtraction of
    the ImageNet channel means; shape unchanged, no parameters."""

    keras_class: ClassVar[str] = "VGGPreprocess"


# --- nesting ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block(Layer):
    """A nested model used as one layer (Keras: a nested ``Sequential``, or the ``application``
    model it names, e.g. ``"vgg16"`` for ``keras.applications.VGG16``; PyTorch: a nested
    ``nn.Sequential``). Keras summaries print it as one row; torchsummary lists its leaves."""

    layers: tuple[Layer, ...] = field(default_factory=tuple)
    application: str | None = None

    keras_class: ClassVar[str] = "Sequential"


def layer_kind(layer: object) -> str:
    """The class name a message or a table uses for ``layer``."""
    return type(layer).__name__
