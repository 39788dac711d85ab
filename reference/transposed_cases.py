"""The typed case of a transposed convolution (:func:`convequiv.reference.transposed.conv_transpose`).

Kept apart from :mod:`convequiv.reference.cases` (which re-exports it) so that each module stays small.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import tolerance as tol
from .case_base import Padding, Shape, WeightedCase, _dims, _padding
from .features import padding_features
from .geometry import Pads, WindowGeometry
from .transposed import conv_transpose, conv_transpose_backward, transposed_geometry


@dataclass(frozen=True, init=False)
class ConvTransposeCase(WeightedCase):
    """``reference.conv_transpose`` with these shapes and keywords (``bias=False``: no ``b``).

    ``w_shape`` is ``(C, O // groups, *kernel)`` (PyTorch's layout). ``geometry`` is the adjoint
    convolution's (:func:`~convequiv.reference.transposed.transposed_geometry`): its ``sizes`` are this
    case's output lengths, its ``padding`` the resolved ``(lo, hi)`` crop of every dimension and its
    ``out`` the input lengths."""

    functions = (conv_transpose, conv_transpose_backward, tol.conv_transpose_bound, tol.conv_transpose_backward_bound)

    x_shape: Shape
    w_shape: Shape
    stride: Shape
    padding: Padding
    output_padding: Shape
    dilation: Shape
    groups: int
    bias: bool
    geometry: WindowGeometry = field(init=False, repr=False, compare=False)

    def __init__(
        self,
        x_shape: Sequence[int],
        w_shape: Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: object = 0,
        output_padding: int | Sequence[int] = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        nd = len(x_shape) - 2
        values = {
            "x_shape": tuple(int(v) for v in x_shape),
            "w_shape": tuple(int(v) for v in w_shape),
            "stride": _dims(stride, nd),
            "padding": _padding(padding),
            "output_padding": _dims(output_padding, nd),
            "dilation": _dims(dilation, nd),
            "groups": int(groups),
            "bias": bool(bias),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)
        if len(self.w_shape) != len(self.x_shape) or self.w_shape[0] != self.x_shape[1]:
            raise ValueError(
                f"ConvTransposeCase: w_shape must be (C, O // groups, *kernel) with C = {self.x_shape[1]} and "
                f"{nd} kernel dimensions, got w_shape={self.w_shape}"
            )
        geometry = transposed_geometry(
            "conv_transpose",
            self.x_shape[2:],
            self.w_shape[2:],
            stride=self.stride,
            padding=self.padding,
            output_padding=self.output_padding,
            dilation=self.dilation,
        )
        object.__setattr__(self, "geometry", geometry)

    @property
    def op(self) -> str:
        return "conv_transpose"

    @property
    def kernel(self) -> Shape:
        return self.w_shape[2:]

    @property
    def out_channels(self) -> int:
        return self.groups * self.w_shape[1]

    @property
    def pads(self) -> Pads:
        """The resolved ``(lo, hi)`` cropped from the full output in every dimension."""
        return self.geometry.padding

    @property
    def out_shape(self) -> Shape:
        return (self.x_shape[0], self.out_channels) + self.geometry.sizes

    @property
    def full_sizes(self) -> Shape:
        """Output lengths before the crop and without ``output_padding``: ``(n - 1) * s + d * (k - 1) + 1``."""
        return tuple(
            (n - 1) * s + d * (k - 1) + 1
            for n, s, d, k in zip(self.x_shape[2:], self.stride, self.dilation, self.kernel)
        )

    @property
    def products_per_output(self) -> int:
        """At most this many products meet in one output cell: ``C / groups * prod(kernel)``."""
        return self.x_shape[1] // self.groups * math.prod(self.kernel)

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``reference.conv_transpose`` (everything except shapes)."""
        return {
            "stride": self.stride,
            "padding": self.padding,
            "output_padding": self.output_padding,
            "dilation": self.dilation,
            "groups": self.groups,
        }

    def features(self) -> set[str]:
        feats = {f"{self.nd}-D"} | padding_features(self.padding, self.pads, self.geometry.sizes, self.stride)
        if any(s > 1 for s in self.stride):
            feats.add("stride > 1")
        if any(d > 1 for d in self.dilation):
            feats.add("dilation > 1")
        if any(self.output_padding):
            feats.add("output_padding")
            if any(p >= s for p, s in zip(self.output_padding, self.stride)):
                feats.add("output_padding >= stride (dilation)")
        if any(d * (k - 1) + 1 < s for d, k, s in zip(self.dilation, self.kernel, self.stride)):
            feats.add("kernel smaller than stride")
        if self.groups > 1:
            feats.add("depthwise" if self.groups == self.x_shape[1] == self.out_channels else "groups > 1")
        if any(k % 2 == 0 for k in self.kernel):
            feats.add("even kernel")
        if not self.bias:
            feats.add("no bias")
        return {f"conv_transpose: {f}" for f in feats}
