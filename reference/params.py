"""Parameter counts of the layers in the notes' models, in the Keras and the PyTorch convention.

Formulas (``K = prod(kernel)``; an int kernel is square, cubic, ... in ``ndim`` dimensions):

* convolution: ``O * (C / groups) * K`` weights ``+ O`` biases;
* transposed convolution from ``C`` to ``O`` channels: ``C * (O / groups) * K`` weights ``+ O``
  biases, the same number as the convolution from ``C`` to ``O`` (Keras and PyTorch count the same
  weights in different layouts);
* dense / linear: ``I * O + O``;
* depthwise convolution (``groups = C``, ``depth_multiplier`` outputs per channel):
  ``C * m * K + C * m``;
* Keras ``SeparableConv``: a depthwise convolution *without* bias (``C * m * K``) followed by a
  pointwise ``1 x 1`` convolution with bias (``C * m * O + O``);
* batch normalization over ``C`` channels: Keras counts ``gamma, beta`` (2C trainable) and
  ``moving_mean, moving_variance`` (2C non-trainable) — ``4C`` in its summary; PyTorch counts
  ``weight, bias`` (2C parameters) and keeps ``running_mean, running_var`` and the scalar
  ``num_batches_tracked`` as buffers, which ``parameters()`` and torchsummary do not count.

Pooling, flatten, dropout, activations, rescaling and padding layers have no parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import SupportsInt, cast

from ._checks import choice, is_int, per_dim

CONVENTIONS = ("keras", "torch")


@dataclass(frozen=True)
class ParamCount:
    """Trainable and non-trainable parameter counts of one layer."""

    trainable: int
    non_trainable: int = 0

    @property
    def total(self) -> int:
        return self.trainable + self.non_trainable

    def __add__(self, other: ParamCount) -> ParamCount:
        return ParamCount(self.trainable + other.trainable, self.non_trainable + other.non_trainable)


def _positive(op: str, name: str, value: object) -> int:
    if not is_int(value) or value < 1:  # type: ignore[operator]
        raise ValueError(f"{op}: {name} must be a positive int, got {value!r}")
    return int(cast(SupportsInt, value))


def _kernel_size(op: str, kernel: int | Sequence[int], ndim: int) -> int:
    nd = _positive(op, "ndim", ndim) if is_int(kernel) else len(kernel)  # type: ignore[arg-type]
    return math.prod(per_dim(op, "kernel", kernel, nd))


def conv_params(
    in_channels: int,
    out_channels: int,
    kernel: int | Sequence[int],
    *,
    groups: int = 1,
    bias: bool = True,
    ndim: int = 2,
) -> int:
    """``out * (in / groups) * prod(kernel) + (out if bias)``; Conv2D(32, 3) on 3 channels: 896."""
    op = "conv_params"
    c = _positive(op, "in_channels", in_channels)
    o = _positive(op, "out_channels", out_channels)
    g = _positive(op, "groups", groups)
    if c % g or o % g:
        raise ValueError(f"{op}: groups={g} must divide in_channels={c} and out_channels={o}")
    return o * (c // g) * _kernel_size(op, kernel, ndim) + (o if bias else 0)


def conv_transpose_params(
    in_channels: int,
    out_channels: int,
    kernel: int | Sequence[int],
    *,
    groups: int = 1,
    bias: bool = True,
    ndim: int = 2,
) -> int:
    """``in * (out / groups) * prod(kernel) + (out if bias)``: the entries of the weight
    ``(C, O // groups, *kernel)`` and bias ``(O,)`` that ``conv_transpose`` takes.

    Keras and PyTorch count the same weights: PyTorch's ``ConvTranspose{1,2,3}d`` stores
    ``(in, out // groups, *kernel)``, Keras's ``Conv{1,2,3}DTranspose`` (no groups) stores
    ``(*kernel, out, in)``, each with ``out`` biases. The count equals ``conv_params`` with the same
    arguments; Conv2DTranspose(32, 3) on 64 channels: 64 * 32 * 9 + 32 = 18464.
    """
    op = "conv_transpose_params"
    c = _positive(op, "in_channels", in_channels)
    o = _positive(op, "out_channels", out_channels)
    g = _positive(op, "groups", groups)
    if c % g or o % g:
        raise ValueError(f"{op}: groups={g} must divide in_channels={c} and out_channels={o}")
    return c * (o // g) * _kernel_size(op, kernel, ndim) + (o if bias else 0)


def dense_params(in_features: int, out_features: int, *, bias: bool = True) -> int:
    """``in * out + (out if bias)``."""
    op = "dense_params"
    i = _positive(op, "in_features", in_features)
    o = _positive(op, "out_features", out_features)
    return i * o + (o if bias else 0)


def depthwise_conv_params(
    in_channels: int,
    kernel: int | Sequence[int],
    *,
    depth_multiplier: int = 1,
    bias: bool = True,
    ndim: int = 2,
) -> int:
    """``C * m * prod(kernel) + (C * m if bias)``."""
    op = "depthwise_conv_params"
    c = _positive(op, "in_channels", in_channels)
    m = _positive(op, "depth_multiplier", depth_multiplier)
    return c * m * _kernel_size(op, kernel, ndim) + (c * m if bias else 0)


def separable_conv_params(
    in_channels: int,
    out_channels: int,
    kernel: int | Sequence[int],
    *,
    depth_multiplier: int = 1,
    bias: bool = True,
    depthwise_bias: bool = False,
    ndim: int = 2,
) -> int:
    """Depthwise (bias only if ``depthwise_bias``; Keras has none) plus pointwise ``1 x 1`` conv."""
    op = "separable_conv_params"
    c = _positive(op, "in_channels", in_channels)
    m = _positive(op, "depth_multiplier", depth_multiplier)
    o = _positive(op, "out_channels", out_channels)
    depthwise = c * m * _kernel_size(op, kernel, ndim) + (c * m if depthwise_bias else 0)
    return depthwise + dense_params(c * m, o, bias=bias)


def batch_norm_params(channels: int, *, convention: str = "keras", affine: bool = True) -> ParamCount:
    """Keras: 2C trainable + 2C non-trainable; PyTorch: 2C parameters (buffers not counted)."""
    op = "batch_norm_params"
    c = _positive(op, "channels", channels)
    choice(op, "convention", convention, CONVENTIONS)
    trainable = 2 * c if affine else 0
    return ParamCount(trainable, 2 * c if convention == "keras" else 0)
