"""TensorFlow's transposed convolution (:class:`~convequiv.reference.cases.ConvTransposeCase`) for
:class:`~convequiv.adapters.tensorflow_adapter.TensorFlowAdapter`: how a case reaches TensorFlow
(:func:`transposed_parts`) and the calls around TensorFlow's op (:func:`transposed_forward`).

APIs: ``"nn"`` runs ``tf.nn.conv1d_transpose`` / ``conv2d_transpose`` / ``conv3d_transpose``, ``"generic"``
the rank-generic ``tf.nn.conv_transpose`` (which dispatches to them), each with an explicit
``output_shape``. All of them are the gradient ops ``Conv2DBackpropInput`` (1-D through a unit height) and
``Conv3DBackpropInputV2``; ``tf.GradientTape`` takes ``dx`` through ``Conv2D`` / ``Conv3D`` and ``dw``
through ``Conv2DBackpropFilter`` / ``Conv3DBackpropFilterV2``.

Layouts: data channels-last (``NWC`` / ``NHWC`` / ``NDHWC``); the reference weights ``(C, O / g, *k)``
become TensorFlow's ``(*k, O / g, C)`` (``[height, width, output_channels, in_channels]``, kernel layout
``"HWOI"``), the very permutation of the convolution's ``(O, C / g, *k)`` -> ``(*k, C / g, O)``.

Output length: TensorFlow accepts an ``output_shape`` of ``m`` cells per dimension when the forward
convolution of ``m`` cells with the same stride, dilation and padding has ``n`` outputs. For ``"VALID"``
that is ``full <= m <= full + s - 1`` with ``full = (n - 1) * s + d * (k - 1) + 1`` (the cells past
``full`` receive no tap); with an explicit ``(lo, hi)`` ``m + lo + hi`` must lie in that range; for
``"SAME"`` ``ceil(m / s) == n``. A length outside is refused (oneDNN: "could not create a primitive
descriptor"). With ``lo, hi`` the case's resolved crop, ``out`` its output length and ``tail = out - (full
- lo - hi)`` the cells past the last tap (``output_padding``, or those ``"same"`` leaves when the
effective kernel is shorter than the stride), the routes are:

* ``native``: ``"same"`` -> ``padding="SAME"`` with ``m = n * s`` (TensorFlow's SAME is the forward
  convolution's SAME_UPPER on ``n * s`` cells: the reference's ``"same"``, empty cells at the end
  included); no padding with ``tail < s`` -> ``"VALID"`` with ``m = out``;
* ``explicit padding list`` (``tf.nn.conv2d_transpose`` only, the one function that takes TensorFlow's
  ``[[0, 0], [lo, hi], [lo, hi], [0, 0]]``): any other padding with ``tail < s`` in every dimension,
  ``m = out``;
* ``crop``: everything else runs ``"VALID"`` with ``m = min(max(full, lo + out), full + s - 1)`` and the
  output is cut to ``[lo, lo + out)`` (route ``native`` where that cuts nothing). Where ``lo + out`` exceeds
  ``full + s - 1`` (``output_padding >= stride``, which only a dilation allows) the missing cells, which no
  tap reaches, are appended as zeros by ``tf.pad`` (route suffix ``+ zero tail``). The bias is added after
  (``tf.nn.bias_add``), so those cells hold it, as in the reference.

Groups and dilation, where TensorFlow's kernels refuse them (tested with 2.21.0):

* the Eigen ``Conv2DBackpropInput`` (float64, float32 without oneDNN, and every explicit padding list,
  which oneDNN does not take) refuses groups ("Gradients for grouped convolutions are not supported on
  CPU"), and ``Conv3DBackpropInputV2`` refuses them on both libraries ("input and filter must have the same
  depth"); oneDNN runs grouped 1-/2-D natively (the filter's ``O / g`` is the grouped ``in_depth``).
  Where refused, the route ``+ split groups``: ``tf.split`` of ``x`` and of the filter's last axis into
  the groups, one call per group with ``O / g`` output channels, ``tf.concat`` of the results;
* the Eigen ``Conv2DBackpropInput`` / ``Conv3DBackpropInputV2`` refuse dilation rates > 1 ("Current CPU
  implementations do not yet support dilation rates larger than 1"); oneDNN takes them. Where refused,
  the route ``+ dilated kernel``: the filter is dilated by zero insertion (``tf.pad`` of a new unit axis
  after each dilated kernel axis, ``tf.reshape``, a slice to ``d * (k - 1) + 1`` taps) and the call runs
  with ``dilations=1``; ``dw`` flows back through these ops to the undilated filter.

Recorded divergences, both in ``dx`` alone (the forward convolution of ``dy`` TensorFlow's gradient runs), both
bugs of the forward convolution the conv checks met first: the float32 oneDNN Conv2D / Conv3D misreads rows for
one input channel (``O / g == 1``) and an output width of 1 reached by a stride
(``tf-onednn-conv-transpose-dx-single-channel-width-1``); the Eigen Conv3D with SAME pads negatively where the
effective kernel is at least two cells shorter than the stride (``tf-conv3d-transpose-same-dx-negative-padding``).

TensorFlow's transposed convolutions are 1-, 2- and 3-D: a 4-D case is ``lacks`` for ``"nn"``
(``tf.nn.conv4d_transpose``) and refused by ``tf.nn.conv_transpose`` (``output_shape`` of length 6).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tensorflow as tf

from convequiv.reference.cases import ConvTransposeCase

from . import translate as tr

FORMATS = {1: "NWC", 2: "NHWC", 3: "NDHWC"}
Arguments = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class TransposedCall:
    """What :func:`transposed_forward` does around TensorFlow's op: dilate the filter by
    ``kernel_dilation`` (``None``: TensorFlow dilates), run ``groups`` calls on channel slices (1: one
    call, grouped natively where the case has groups), cut the output to ``crop`` (``(start, length)`` per
    spatial dimension; ``None``: as computed) and append ``zeros`` cells per dimension."""

    groups: int = 1
    kernel_dilation: tuple[int, ...] | None = None
    crop: tuple[tuple[int, int], ...] | None = None
    zeros: tuple[int, ...] | None = None


@dataclass(frozen=True)
class TransposedParts:
    """A transposed-convolution plan's route, function name (``tf.nn.<name>``), padding argument,
    keyword arguments (``output_shape``, ``strides``, ``dilations``, ``data_format``) and call."""

    route: str
    name: str
    padding: object
    arguments: Arguments
    call: TransposedCall


def transposed_parts(case: ConvTransposeCase, api: str, eigen: bool) -> TransposedParts:
    """How ``case`` runs through ``api`` (module docstring); ``eigen``: TensorFlow's own CPU kernels run
    the op (``TensorFlowAdapter._eigen``), which refuse groups and dilation."""
    nd, stride, pads = case.nd, case.stride, case.pads
    out, full = case.out_shape[2:], case.full_sizes
    tail = tuple(o - (f - lo - hi) for o, f, (lo, hi) in zip(out, full, pads))
    fits = all(t < s for t, s in zip(tail, stride))
    crop: tuple[tuple[int, int], ...] | None = None
    zeros: tuple[int, ...] | None = None
    sizes: tuple[int, ...] = out
    padding: object
    if case.padding == "same":
        route, padding = "native", "SAME"
    elif not tr.has_padding(pads) and fits:
        route, padding = "native", "VALID"
    elif api == "nn" and nd == 2 and fits:
        route, padding = "explicit padding list", tr.pad_list(pads)
    else:
        route, padding = "crop", "VALID"
        ends = tuple(lo + o for (lo, _), o in zip(pads, out))
        sizes = tuple(min(max(f, e), f + s - 1) for f, e, s in zip(full, ends, stride))
        crop = tuple((lo, min(e, m) - lo) for (lo, _), e, m in zip(pads, ends, sizes))
        if all(start == 0 and n == m for (start, n), m in zip(crop, sizes)):
            route, crop = "native", None
        missing = tuple(max(0, e - m) for e, m in zip(ends, sizes))
        if any(missing):
            route, zeros = f"{route} + zero tail", missing
    explicit = route == "explicit padding list"  # oneDNN takes no explicit padding: Eigen runs it
    native_groups = case.groups == 1 or not (eigen or explicit or nd == 3)
    native_dilation = all(d == 1 for d in case.dilation) or not (eigen or explicit)
    call = TransposedCall(
        groups=1 if native_groups else case.groups,
        kernel_dilation=None if native_dilation else case.dilation,
        crop=crop,
        zeros=zeros,
    )
    if not native_groups:
        route += " + split groups"
    if not native_dilation:
        route += " + dilated kernel"
    dilations = list(case.dilation) if native_dilation else [1] * nd
    arguments: Arguments = (
        ("output_shape", [case.x_shape[0], *sizes, case.out_channels]),
        ("strides", list(stride)),
        ("dilations", dilations),
    )
    if api == "generic":
        name = "conv_transpose"
        arguments += (("data_format", FORMATS.get(nd)),)
    else:
        name = f"conv{nd}d_transpose"
    return TransposedParts(route, name, padding, arguments, call)


def dilate_kernel(w: Any, dilation: tuple[int, ...]) -> Any:
    """A channels-last filter ``(*k, O / g, C)`` with ``d - 1`` zeros between the taps of every spatial
    axis (``d * (k - 1) + 1`` taps), built from differentiable ops."""
    for axis, d in enumerate(dilation):
        if d == 1:
            continue
        k = int(w.shape[axis])
        spread = tf.pad(
            tf.expand_dims(w, axis + 1), [[0, d - 1] if i == axis + 1 else [0, 0] for i in range(w.ndim + 1)]
        )
        merged = tf.reshape(spread, [*w.shape[:axis], k * d, *w.shape[axis + 1 :]])
        w = merged[(slice(None),) * axis + (slice(0, d * (k - 1) + 1),)]
    return w


def transposed_forward(fn: Callable[..., Any], x: Any, w: Any, keywords: dict[str, Any], call: TransposedCall) -> Any:
    """``fn(x, w, **keywords)`` (channels-last ``x``, filter ``(*k, O / g, C)``) with what ``call`` adds
    around it (:class:`TransposedCall`); the bias is the caller's."""
    if call.kernel_dilation is not None:
        w = dilate_kernel(w, call.kernel_dilation)
    if call.groups > 1:
        shape = keywords["output_shape"]
        part = {**keywords, "output_shape": [*shape[:-1], shape[-1] // call.groups]}
        pieces = zip(tf.split(x, call.groups, axis=-1), tf.split(w, call.groups, axis=-1))
        y = tf.concat([fn(xg, wg, **part) for xg, wg in pieces], axis=-1)
    else:
        y = fn(x, w, **keywords)
    if call.crop is not None:
        y = y[(slice(None), *(slice(start, start + n) for start, n in call.crop), slice(None))]
    if call.zeros is not None:
        y = tf.pad(y, [[0, 0], *([0, z] for z in call.zeros), [0, 0]])
    return y
