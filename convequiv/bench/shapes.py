"""The benchmark's fixed shape set, its inputs, and the reference call of each case.

Every case is 2-D and channels-first, ``x`` of shape ``(N, C, H, W)``. Convolution cases come
from the models of the notes (the MNIST convnet, the 180x180x3 cats-vs-dogs convnet, VGG16's
blocks on 180x180 input) and from ResNet / ResNeXt / MobileNet layers (3x3, 1x1, strided, grouped,
depthwise, dilated). Batch sizes keep one call of the reference well under a second.

Work model (what the throughput column counts):

* convolution: ``MACs = N * O * H_out * W_out * (C / groups) * kh * kw``; the forward pass does
  ``2 * MACs`` floating-point operations, the backward pass ``4 * MACs`` (``dx`` and ``dw`` are
  one product each; ``db`` is negligible). Reported as GFLOP/s.
* transposed convolution (``conv_transpose``, decoder layers: DCGAN generator, U-Net, FCN
  upsampling): the same MACs as the convolution it is the adjoint of, counted on its *input*:
  ``MACs = N * C * H_in * W_in * (O / groups) * kh * kw``; ``2 * MACs`` forward, ``4 * MACs``
  backward, GFLOP/s. Its weight is ``(C, O / groups, kh, kw)`` (PyTorch's layout) and its output
  length per dimension ``(n - 1) * s - 2p + d * (k - 1) + 1 + output_padding``
  (:func:`convequiv.reference.transposed_output_size`).
* pooling: one operation (a compare or an add) per window tap, forward and backward alike:
  ``N * C * H_out * W_out * kh * kw`` taps; depth pooling ``N * C_out * H * W * k``; global pooling
  ``N * C * H * W``. Reported as Gtap/s (10^9 taps per second).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from convequiv import reference

OPS = ("conv", "conv_transpose", "max_pool", "avg_pool", "depth_pool", "global_avg_pool", "global_max_pool")
DIRECTIONS = ("forward", "backward")
#: The ops with a weight and a bias whose work is counted in FLOPs (matrix products).
CONV_OPS = ("conv", "conv_transpose")


@dataclass(frozen=True)
class Case:
    """One benchmarked layer: the op, the input shape ``(N, C, H, W)`` and the op's arguments.

    ``out_channels``, ``groups`` (and ``output_padding``, transposed only) are for the ops of
    :data:`CONV_OPS`; ``kernel`` is the pool size of depth pooling. ``padding`` is symmetric.
    ``quick`` marks the members of the ``--quick`` subset.
    """

    name: str
    op: str
    x: tuple[int, int, int, int]
    kernel: int = 1
    out_channels: int = 0
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    groups: int = 1
    output_padding: int = 0
    count_include_pad: bool = True
    quick: bool = False

    @property
    def key(self) -> str:
        """``op:name``, the string ``--only`` matches."""
        return f"{self.op}:{self.name}"

    def describe(self) -> str:
        """Short human-readable shape, e.g. ``8x64x56x56 * 64 3x3 s1 p1`` (transposed: ``*T``)."""
        shape = "x".join(str(v) for v in self.x)
        k = f"{self.kernel}x{self.kernel}"
        if self.op in CONV_OPS:
            extra = "".join(
                text
                for text, show in (
                    (f" s{self.stride}", self.stride != 1),
                    (f" p{self.padding}", self.padding != 0),
                    (f" op{self.output_padding}", self.output_padding != 0),
                    (f" d{self.dilation}", self.dilation != 1),
                    (f" g{self.groups}", self.groups != 1),
                )
                if show
            )
            star = "*T" if self.op == "conv_transpose" else "*"
            return f"{shape} {star} {self.out_channels} {k}{extra}"
        if self.op in ("max_pool", "avg_pool"):
            pad = f" p{self.padding}" if self.padding else ""
            cip = "" if self.op == "max_pool" or not self.padding or self.count_include_pad else " excl-pad"
            return f"{shape} {k} s{self.stride}{pad}{cip}"
        if self.op == "depth_pool":
            return f"{shape} depth {self.kernel}"
        return shape


def _conv(name: str, x: tuple[int, int, int, int], o: int, k: int, **kw: object) -> Case:
    return Case(name, "conv", x, kernel=k, out_channels=o, **kw)  # type: ignore[arg-type]


def _conv_t(name: str, x: tuple[int, int, int, int], o: int, k: int, **kw: object) -> Case:
    return Case(name, "conv_transpose", x, kernel=k, out_channels=o, **kw)  # type: ignore[arg-type]


def _pool(op: str, name: str, x: tuple[int, int, int, int], k: int, s: int, **kw: object) -> Case:
    return Case(name, op, x, kernel=k, stride=s, **kw)  # type: ignore[arg-type]


CASES: tuple[Case, ...] = (
    # MNIST convnet of the notes: 28x28x1 -> conv 32 -> pool -> conv 64 -> pool -> conv 128 (valid, 3x3).
    _conv("mnist.conv1", (64, 1, 28, 28), 32, 3),
    _conv("mnist.conv2", (64, 32, 13, 13), 64, 3, quick=True),
    _conv("mnist.conv3", (64, 64, 5, 5), 128, 3),
    # Cats-vs-dogs convnet of the notes: 180x180x3, Conv2D 32/64/128/256/256 3x3 valid, MaxPooling2D 2.
    _conv("catsdogs.conv1", (8, 3, 180, 180), 32, 3),
    _conv("catsdogs.conv2", (8, 32, 89, 89), 64, 3),
    _conv("catsdogs.conv3", (8, 64, 43, 43), 128, 3),
    _conv("catsdogs.conv4", (8, 128, 20, 20), 256, 3),
    _conv("catsdogs.conv5", (8, 256, 9, 9), 256, 3),
    # VGG16 feature extractor at 180x180 (3x3 same convs; the second conv of each block).
    _conv("vgg16.block1", (1, 64, 180, 180), 64, 3, padding=1),
    _conv("vgg16.block2", (1, 128, 90, 90), 128, 3, padding=1),
    _conv("vgg16.block3", (1, 256, 45, 45), 256, 3, padding=1),
    _conv("vgg16.block4", (1, 512, 22, 22), 512, 3, padding=1),
    _conv("vgg16.block5", (4, 512, 11, 11), 512, 3, padding=1),
    # ResNet-like layers.
    _conv("resnet.stem7x7", (4, 3, 224, 224), 64, 7, stride=2, padding=3),
    _conv("resnet.3x3.56", (8, 64, 56, 56), 64, 3, padding=1, quick=True),
    _conv("resnet.3x3.14", (8, 256, 14, 14), 256, 3, padding=1),
    _conv("resnet.1x1.reduce", (8, 256, 56, 56), 64, 1),
    _conv("resnet.1x1.expand", (8, 64, 56, 56), 256, 1),
    _conv("resnet.1x1.down", (8, 256, 56, 56), 512, 1, stride=2),
    _conv("resnet.3x3.dilated", (8, 64, 56, 56), 64, 3, padding=2, dilation=2),
    # Grouped and depthwise convolutions (ResNeXt, MobileNet).
    _conv("resnext.grouped32", (8, 128, 56, 56), 128, 3, padding=1, groups=32),
    _conv("mobilenet.dw.112", (8, 32, 112, 112), 32, 3, padding=1, groups=32, quick=True),
    _conv("mobilenet.dw.56s2", (8, 144, 56, 56), 144, 3, stride=2, padding=1, groups=144),
    _conv("mobilenet.dw.14", (8, 512, 14, 14), 512, 3, padding=1, groups=512),
    # Transposed convolutions of decoders: the DCGAN generator's 4x4 stride-2 upsamplings, a U-Net
    # up-convolution (2x2 stride 2, no overlap) and an FCN-style 2x upsampling to 21 classes.
    _conv_t("dcgan.g2", (8, 512, 4, 4), 256, 4, stride=2, padding=1),
    _conv_t("dcgan.g3", (8, 256, 8, 8), 128, 4, stride=2, padding=1),
    _conv_t("unet.up2x2", (4, 128, 28, 28), 64, 2, stride=2),
    _conv_t("fcn.up2x", (2, 64, 32, 32), 21, 4, stride=2, padding=1, quick=True),
    # Max pooling: the models' 2x2 pools and ResNet's 3x3 stride-2 stem pool.
    _pool("max_pool", "mnist.pool1", (64, 32, 26, 26), 2, 2, quick=True),
    _pool("max_pool", "mnist.pool2", (64, 64, 11, 11), 2, 2),
    _pool("max_pool", "catsdogs.pool1", (8, 32, 178, 178), 2, 2),
    _pool("max_pool", "catsdogs.pool3", (8, 128, 41, 41), 2, 2),
    _pool("max_pool", "vgg16.pool1", (4, 64, 180, 180), 2, 2),
    _pool("max_pool", "vgg16.pool4", (4, 512, 22, 22), 2, 2),
    _pool("max_pool", "resnet.stem3x3s2", (8, 64, 112, 112), 3, 2, padding=1),
    # Average pooling: 2x2 transitions and an overlapping 3x3 stride-1 pool (Inception style, pad excluded).
    _pool("avg_pool", "densenet.trans2x2", (8, 128, 56, 56), 2, 2, quick=True),
    _pool("avg_pool", "catsdogs.avg2x2", (8, 32, 178, 178), 2, 2),
    _pool("avg_pool", "inception.3x3s1", (8, 192, 35, 35), 3, 1, padding=1, count_include_pad=False),
    _pool("avg_pool", "resnet.3x3s2", (8, 64, 112, 112), 3, 2, padding=1),
    # Depth (channel) pooling, the notes' Keras DepthPool layer.
    Case("depth2.56", "depth_pool", (8, 64, 56, 56), kernel=2, quick=True),
    Case("depth4.14", "depth_pool", (8, 256, 14, 14), kernel=4),
    # Global pooling heads.
    Case("resnet.head", "global_avg_pool", (32, 512, 7, 7), quick=True),
    Case("resnet50.head", "global_avg_pool", (8, 2048, 7, 7)),
    Case("resnet.head", "global_max_pool", (32, 512, 7, 7), quick=True),
    Case("resnet50.head", "global_max_pool", (8, 2048, 7, 7)),
)


def select(cases: tuple[Case, ...] | list[Case], *, quick: bool = False, only: str | None = None) -> list[Case]:
    """Cases of the ``--quick`` subset and/or whose ``op:name`` contains ``only``."""
    return [c for c in cases if (not quick or c.quick) and (only is None or only in c.key)]


def output_shape(case: Case) -> tuple[int, ...]:
    """The forward output shape (channels-first), from :func:`convequiv.reference.output_size`
    (transposed: :func:`convequiv.reference.transposed_output_size`)."""
    n, c, h, w = case.x
    if case.op == "conv_transpose":
        geo = {"stride": case.stride, "padding": case.padding, "dilation": case.dilation}
        return (n, case.out_channels) + tuple(
            reference.transposed_output_size(size, case.kernel, output_padding=case.output_padding, **geo)
            for size in (h, w)
        )
    if case.op == "depth_pool":
        return (n, c // case.kernel, h, w)
    if case.op.startswith("global"):
        return (n, c)
    channels = case.out_channels if case.op == "conv" else c
    sizes = tuple(
        reference.output_size(size, case.kernel, stride=case.stride, padding=case.padding, dilation=case.dilation)
        for size in (h, w)
    )
    return (n, channels) + sizes


def work(case: Case, direction: str) -> float:
    """Operation count of one call under the module's work model (FLOPs for conv, taps otherwise)."""
    out = output_shape(case)
    n, c, h, w = case.x
    if case.op == "conv":
        macs = math.prod(out) * (c // case.groups) * case.kernel**2
        return (2 if direction == "forward" else 4) * macs
    if case.op == "conv_transpose":  # the adjoint convolution's MACs, counted on the input
        macs = n * c * h * w * (case.out_channels // case.groups) * case.kernel**2
        return (2 if direction == "forward" else 4) * macs
    if case.op in ("max_pool", "avg_pool"):
        return math.prod(out) * case.kernel**2
    if case.op == "depth_pool":
        return math.prod(out) * case.kernel
    return float(n * c * h * w)


def work_unit(case: Case) -> str:
    return "GFLOP/s" if case.op in CONV_OPS else "Gtap/s"


def make_inputs(case: Case, dtype: np.dtype, seed: int = 0) -> dict[str, np.ndarray]:
    """Channels-first inputs in ``dtype``: ``x``, ``dy`` (shaped like the output) and, for the ops of
    :data:`CONV_OPS`, ``w`` (conv ``(O, C / groups, k, k)``, transposed ``(C, O / groups, k, k)``) and ``b``."""
    rng = np.random.default_rng(seed)
    arrays = {"x": rng.standard_normal(case.x), "dy": rng.standard_normal(output_shape(case))}
    if case.op in CONV_OPS:
        c, o, g, k = case.x[1], case.out_channels, case.groups, case.kernel
        shape = (o, c // g, k, k) if case.op == "conv" else (c, o // g, k, k)
        arrays["w"] = rng.standard_normal(shape) / math.sqrt(shape[1] * k * k)
        arrays["b"] = rng.standard_normal(o)
    return {name: np.ascontiguousarray(a, dtype=dtype) for name, a in arrays.items()}


def reference_call(case: Case, direction: str, a: dict[str, np.ndarray]) -> Callable[[], object]:
    """The reference function call of one case, as a zero-argument callable."""
    x, dy, k = a["x"], a["dy"], case.kernel
    fwd = direction == "forward"
    if case.op == "conv":
        geo = {"stride": case.stride, "padding": case.padding, "dilation": case.dilation, "groups": case.groups}
        if fwd:
            return lambda: reference.conv(x, a["w"], a["b"], **geo)
        return lambda: reference.conv_backward(x, a["w"], dy, **geo)
    if case.op == "conv_transpose":
        geo = {
            "stride": case.stride,
            "padding": case.padding,
            "output_padding": case.output_padding,
            "dilation": case.dilation,
            "groups": case.groups,
        }
        if fwd:
            return lambda: reference.conv_transpose(x, a["w"], a["b"], **geo)
        return lambda: reference.conv_transpose_backward(x, a["w"], dy, **geo)
    s, p = case.stride, case.padding
    if case.op == "max_pool":
        if fwd:
            return lambda: reference.max_pool(x, k, stride=s, padding=p)
        return lambda: reference.max_pool_backward(x, dy, k, stride=s, padding=p)
    if case.op == "avg_pool":
        cip = case.count_include_pad
        if fwd:
            return lambda: reference.avg_pool(x, k, stride=s, padding=p, count_include_pad=cip)
        return lambda: reference.avg_pool_backward(x, dy, k, stride=s, padding=p, count_include_pad=cip)
    if case.op == "depth_pool":
        return (lambda: reference.depth_pool(x, k)) if fwd else (lambda: reference.depth_pool_backward(x, dy, k))
    forward, backward = {
        "global_avg_pool": (reference.global_avg_pool, reference.global_avg_pool_backward),
        "global_max_pool": (reference.global_max_pool, reference.global_max_pool_backward),
    }[case.op]
    return (lambda: forward(x)) if fwd else (lambda: backward(x, dy))
