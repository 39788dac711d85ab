"""PyTorch and TensorFlow versions of the benchmark cases, with their thread counts fixed.

A framework is loaded on demand (:func:`load`); a missing one comes back as a string saying why,
never as an exception. Its ``build(case, direction, arrays)`` converts the channels-first NumPy
inputs to the framework's tensors and native layout *before* timing (TensorFlow: NHWC, HWIO
filters) and returns the zero-argument callable that is timed. What that callable does:

============  ======================================  ==========================================
op            PyTorch (NCHW)                          TensorFlow (NHWC, eager)
============  ======================================  ==========================================
conv fwd      ``F.conv2d`` (with bias)                ``Conv2D`` / ``DepthwiseConv2dNative`` +
                                                      ``BiasAdd``
conv bwd      ``aten.convolution_backward`` (dx, dw,  ``Conv2DBackpropInput`` +
              db; no forward)                         ``Conv2DBackpropFilter`` + ``reduce_sum``
                                                      (depthwise variants for depthwise cases)
convT fwd     ``F.conv_transpose2d`` (with bias)      ``Conv2DBackpropInput`` + ``BiasAdd``
convT bwd     ``aten.convolution_backward`` with      ``Conv2D`` (dx) + ``Conv2DBackpropFilter``
              ``transposed=True`` (dx, dw, db)        (dw) + ``reduce_sum`` (db)
max fwd       ``F.max_pool2d``                        ``tf.nn.max_pool2d``
max bwd       forward with indices +                  forward + ``MaxPoolGrad``
              ``max_pool2d_with_indices_backward``
avg fwd       ``F.avg_pool2d``                        ``tf.nn.avg_pool2d``
avg bwd       ``aten.avg_pool2d_backward``            ``AvgPoolGrad``
depth fwd     reshape + ``amax`` (the notes' layer)   reshape + ``reduce_max`` (the notes' layer)
depth bwd     autograd, forward included              ``GradientTape``, forward included
global avg    ``mean``; bwd ``dy / area`` expanded    ``reduce_mean``; bwd ``broadcast_to``
global max    ``amax``; bwd autograd (+ forward)      ``reduce_max``; bwd ``GradientTape`` (+ fwd)
============  ======================================  ==========================================

Backward passes that need the forward's maximum include the forward, exactly as the reference's
``*_backward`` functions recompute it; the others call the framework's gradient kernel directly.
The transposed convolution (``convT``) is the adjoint of the convolution from ``O`` to ``C``
channels whose weight, in PyTorch's ``(C, O / groups, kh, kw)`` layout, is the transposed conv's own:
TensorFlow's filter is that convolution's HWIO filter ``(kh, kw, O, C)`` (``w.transpose(2, 3, 1, 0)``,
no flip), its forward is that convolution's input gradient ``Conv2DBackpropInput`` with
``input_sizes`` the transposed output ``(N, H_out, W_out, O)`` (``output_padding`` is in those sizes),
and its backward, as TensorFlow's own gradient of ``Conv2DBackpropInput`` computes it, is
``dx = Conv2D(dy, filter)`` and ``dw = Conv2DBackpropFilter(dy, filter shape, x)`` with the same
strides and explicit padding. TensorFlow's CPU kernels have no grouped or dilated transposed
convolution (no benchmark case has either): ``Conv2DBackpropInput`` and ``Conv2DBackpropFilter``
refuse ``dilation > 1`` ("do not yet support dilation rates larger than 1"), ``Conv2DBackpropInput``
refuses ``groups > 1`` ("not supported on CPU") and ``Conv2DBackpropFilter`` fails on the grouped
filter's size; the benchmark reports such a case as unsupported.
TensorFlow pools support only ``VALID`` / ``SAME``: a padded pool case runs with ``SAME`` (same
output shape and work); where that pads differently from the case, the framework's ``notes`` say so.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from convequiv import reference

from . import small
from .shapes import Case, output_shape
from .small import SmallCase

Builder = Callable[[Case, str, dict[str, np.ndarray]], Callable[[], object]]
NAMES = ("torch", "tensorflow")


@dataclass
class Framework:
    """A loaded framework: ``info`` holds its version and thread settings, ``notes`` per-case remarks."""

    name: str
    build: Builder
    info: dict[str, object]
    notes: dict[str, str] = field(default_factory=dict)
    #: The same for :mod:`.small`'s cases (``None``: the framework is not timed on them).
    build_small: Callable[[SmallCase, str, dict[str, np.ndarray]], Callable[[], object]] | None = None


def load(name: str, threads: int) -> Framework | str:
    """Import framework ``name`` with ``threads`` intra-op threads; a string explains a failure."""
    loaders = {"torch": _load_torch, "tensorflow": _load_tensorflow}
    if name not in loaders:
        return f"unknown framework (known: {', '.join(NAMES)})"
    try:
        return loaders[name](threads)
    except ImportError as exc:
        return f"not installed ({exc})"


def _load_torch(threads: int) -> Framework:
    import torch

    torch.set_num_threads(threads)
    functional, aten = torch.nn.functional, torch.ops.aten
    blas = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    info = {
        "version": torch.__version__,
        "intra-op threads": torch.get_num_threads(),
        "inter-op threads": torch.get_num_interop_threads(),
        "BLAS": blas.group(1) if blas else "unknown",
        "oneDNN (mkldnn)": torch.backends.mkldnn.is_available(),
    }

    def grad(fn: Callable, x: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
        xg = x.detach().requires_grad_(True)
        return torch.autograd.grad(fn(xg), xg, dy)[0]

    def build(case: Case, direction: str, arrays: dict[str, np.ndarray]) -> Callable[[], object]:
        t = {name: torch.from_numpy(a) for name, a in arrays.items()}
        x, dy, k, s, p, d = t["x"], t["dy"], case.kernel, case.stride, case.padding, case.dilation
        fwd = direction == "forward"
        if case.op == "conv":
            w, b = t["w"], t["b"]
            if fwd:
                return lambda: functional.conv2d(x, w, b, s, p, d, case.groups)
            mask = [True, True, True]
            return lambda: aten.convolution_backward(
                dy, x, w, [w.shape[0]], [s, s], [p, p], [d, d], False, [0, 0], case.groups, mask
            )
        if case.op == "conv_transpose":
            w, b, op, g = t["w"], t["b"], case.output_padding, case.groups
            if fwd:
                return lambda: functional.conv_transpose2d(x, w, b, s, p, op, g, d)
            mask = [True, True, True]
            return lambda: aten.convolution_backward(
                dy, x, w, [case.out_channels], [s, s], [p, p], [d, d], True, [op, op], g, mask
            )
        if case.op == "max_pool":
            if fwd:
                return lambda: functional.max_pool2d(x, k, s, p)

            def max_pool_grad() -> torch.Tensor:
                _, idx = aten.max_pool2d_with_indices(x, [k, k], [s, s], [p, p])
                return aten.max_pool2d_with_indices_backward(dy, x, [k, k], [s, s], [p, p], [1, 1], False, idx)

            return max_pool_grad
        if case.op == "avg_pool":
            cip = case.count_include_pad
            if fwd:
                return lambda: functional.avg_pool2d(x, k, s, p, count_include_pad=cip)
            return lambda: aten.avg_pool2d_backward(dy, x, [k, k], [s, s], [p, p], False, cip, None)
        n, c, h, wd = case.x
        if case.op == "depth_pool":

            def depth(inp: torch.Tensor) -> torch.Tensor:
                return inp.view(n, c // k, k, h, wd).amax(2)

            return (lambda: depth(x)) if fwd else (lambda: grad(depth, x, dy))
        if case.op == "global_avg_pool":
            if fwd:
                return lambda: x.mean((2, 3))
            return lambda: (dy / (h * wd))[:, :, None, None].expand(x.shape).contiguous()

        def global_max(inp: torch.Tensor) -> torch.Tensor:
            return inp.amax((2, 3))

        return (lambda: global_max(x)) if fwd else (lambda: grad(global_max, x, dy))

    def build_small(case: SmallCase, direction: str, arrays: dict[str, np.ndarray]) -> Callable[[], object]:
        return small.torch_call(torch, case, direction, arrays)

    return Framework("torch", build, info, build_small=build_small)


def _load_tensorflow(threads: int) -> Framework:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    try:  # only possible before TensorFlow's runtime has started in this process
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass
    raw = tf.raw_ops
    info = {
        "version": tf.__version__,
        "intra-op threads": tf.config.threading.get_intra_op_parallelism_threads() or "default (all cores)",
        "inter-op threads": tf.config.threading.get_inter_op_parallelism_threads() or "default (all cores)",
        "oneDNN (TF_ENABLE_ONEDNN_OPTS)": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset (on by default on x86)"),
        "execution": "eager",
    }
    notes: dict[str, str] = {}

    def nhwc(a: np.ndarray) -> tf.Tensor:
        return tf.constant(np.ascontiguousarray(a.transpose(0, 2, 3, 1)))

    def build(case: Case, direction: str, arrays: dict[str, np.ndarray]) -> Callable[[], object]:
        x, k, s, p = nhwc(arrays["x"]), case.kernel, case.stride, case.padding
        dy = nhwc(arrays["dy"]) if arrays["dy"].ndim == 4 else tf.constant(arrays["dy"])
        fwd = direction == "forward"
        n, c, h, wd = case.x
        if case.op == "conv":
            return _tf_conv(tf, case, fwd, x, dy, arrays)
        if case.op == "conv_transpose":
            return _tf_conv_transpose(tf, case, fwd, x, dy, arrays)
        if case.op in ("max_pool", "avg_pool"):
            padding = "SAME" if p else "VALID"
            if p:
                same = reference.resolve_padding("same", (h, wd), k, s)
                if same != ((p, p), (p, p)) or (case.op == "avg_pool" and case.count_include_pad):
                    notes[case.key] = f"TensorFlow pools with SAME padding {same[0]}" + (
                        " and excludes padding from the divisor" if case.op == "avg_pool" else ""
                    )
            ksize, strides = [1, k, k, 1], [1, s, s, 1]
            if case.op == "max_pool":
                if fwd:
                    return lambda: tf.nn.max_pool2d(x, k, s, padding)

                def max_pool_grad() -> tf.Tensor:
                    y = tf.nn.max_pool2d(x, k, s, padding)
                    return raw.MaxPoolGrad(
                        orig_input=x, orig_output=y, grad=dy, ksize=ksize, strides=strides, padding=padding
                    )

                return max_pool_grad
            if fwd:
                return lambda: tf.nn.avg_pool2d(x, k, s, padding)
            shape = tf.constant([n, h, wd, c], dtype=tf.int32)
            return lambda: raw.AvgPoolGrad(
                orig_input_shape=shape, grad=dy, ksize=ksize, strides=strides, padding=padding
            )
        if case.op == "depth_pool":

            def depth(inp: tf.Tensor) -> tf.Tensor:
                return tf.reduce_max(tf.reshape(inp, (n, h, wd, c // k, k)), axis=-1)

            return (lambda: depth(x)) if fwd else (lambda: _tape_grad(tf, depth, x, dy))
        if case.op == "global_avg_pool":
            if fwd:
                return lambda: tf.reduce_mean(x, axis=(1, 2))
            return lambda: tf.broadcast_to(tf.reshape(dy / (h * wd), (n, 1, 1, c)), (n, h, wd, c))

        def global_max(inp: tf.Tensor) -> tf.Tensor:
            return tf.reduce_max(inp, axis=(1, 2))

        return (lambda: global_max(x)) if fwd else (lambda: _tape_grad(tf, global_max, x, dy))

    return Framework("tensorflow", build, info, notes)


def _tape_grad(tf: object, fn: Callable, x: object, dy: object) -> object:
    with tf.GradientTape() as tape:  # type: ignore[attr-defined]
        tape.watch(x)
        y = fn(x)
    return tape.gradient(y, x, output_gradients=dy)


def _tf_conv(tf: object, case: Case, fwd: bool, x: object, dy: object, arrays: dict[str, np.ndarray]) -> Callable:
    """TensorFlow conv forward / backward; depthwise cases (groups == C == O) use the depthwise kernels."""
    raw = tf.raw_ops  # type: ignore[attr-defined]
    s, p, d, g = case.stride, case.padding, case.dilation, case.groups
    c, o = case.x[1], case.out_channels
    depthwise = g > 1 and g == c == o
    w = arrays["w"].transpose(2, 3, 0, 1) if depthwise else arrays["w"].transpose(2, 3, 1, 0)
    filt, bias = tf.constant(np.ascontiguousarray(w)), tf.constant(arrays["b"])  # type: ignore[attr-defined]
    geo = {
        "strides": [1, s, s, 1],
        "dilations": [1, d, d, 1],
        "padding": "EXPLICIT" if p else "VALID",
        "explicit_paddings": [0, 0, p, p, p, p, 0, 0] if p else [],
    }
    x_shape, f_shape = tf.shape(x), tf.shape(filt)  # type: ignore[attr-defined]
    if depthwise:
        forward, back_input, back_filter = (
            raw.DepthwiseConv2dNative,
            raw.DepthwiseConv2dNativeBackpropInput,
            raw.DepthwiseConv2dNativeBackpropFilter,
        )
    else:
        forward, back_input, back_filter = raw.Conv2D, raw.Conv2DBackpropInput, raw.Conv2DBackpropFilter
    if fwd:
        return lambda: tf.nn.bias_add(forward(input=x, filter=filt, **geo), bias)  # type: ignore[attr-defined]

    def conv_grad() -> tuple[object, object, object]:
        dx = back_input(input_sizes=x_shape, filter=filt, out_backprop=dy, **geo)
        dw = back_filter(input=x, filter_sizes=f_shape, out_backprop=dy, **geo)
        return dx, dw, tf.reduce_sum(dy, axis=(0, 1, 2))  # type: ignore[attr-defined]

    return conv_grad


def _tf_conv_transpose(
    tf: object, case: Case, fwd: bool, x: object, dy: object, arrays: dict[str, np.ndarray]
) -> Callable:
    """TensorFlow transposed conv forward / backward through the adjoint convolution's kernels
    (module docstring); ``groups > 1`` is left to TensorFlow to refuse."""
    raw = tf.raw_ops  # type: ignore[attr-defined]
    s, p, d = case.stride, case.padding, case.dilation
    filt = tf.constant(np.ascontiguousarray(arrays["w"].transpose(2, 3, 1, 0)))  # type: ignore[attr-defined]
    bias = tf.constant(arrays["b"])  # type: ignore[attr-defined]
    geo = {
        "strides": [1, s, s, 1],
        "dilations": [1, d, d, 1],
        "padding": "EXPLICIT" if p else "VALID",
        "explicit_paddings": [0, 0, p, p, p, p, 0, 0] if p else [],
    }
    n, o, h_out, w_out = output_shape(case)
    y_shape = tf.constant([n, h_out, w_out, o], dtype=tf.int32)  # type: ignore[attr-defined]
    f_shape = tf.shape(filt)  # type: ignore[attr-defined]
    if fwd:
        return lambda: tf.nn.bias_add(  # type: ignore[attr-defined]
            raw.Conv2DBackpropInput(input_sizes=y_shape, filter=filt, out_backprop=x, **geo), bias
        )

    def conv_transpose_grad() -> tuple[object, object, object]:
        dx = raw.Conv2D(input=dy, filter=filt, **geo)
        dw = raw.Conv2DBackpropFilter(input=dy, filter_sizes=f_shape, out_backprop=x, **geo)
        return dx, dw, tf.reduce_sum(dy, axis=(0, 1, 2))  # type: ignore[attr-defined]

    return conv_transpose_grad
