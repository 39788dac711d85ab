"""Deciders for claims about convolution: what it computes, its weights, strides and dilation."""

from __future__ import annotations

from typing import Unpack

import numpy as np

from convequiv.reference import conv, conv_params, effective_kernel
from convequiv.reference.tolerance import agree

from ..context import Context, Evidence, shape
from ..model import Decision
from .bounds import ConvArgs, conv_agree, conv_terms
from .fw import keras_call, to_last, torch_conv


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _torch_agrees(
    ctx: Context,
    ev: Evidence,
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None,
    want: np.ndarray,
    label: str,
    **kwargs: Unpack[ConvArgs],
) -> bool:
    torch = ctx.torch()
    if torch is None:
        ev.missing("torch")
        return True
    got = torch_conv(torch, x, w, b, **kwargs)  # float64, like the reference
    same = conv_agree(got, want, x, w, b, **kwargs)
    ev.add(f"torch {label}: {'equal up to rounding' if same else 'DIFFERENT'}", "torch")
    return same


def conv_is_mac(ctx: Context) -> Decision:
    """Each output is the sum of elementwise products of the window and the filter (no flip)."""
    ev = Evidence()
    x, w = _rng(1).normal(size=(1, 1, 4, 4)), _rng(2).normal(size=(1, 1, 3, 3))
    y = conv(x, w)
    manual = np.array([[np.sum(x[0, 0, i : i + 3, j : j + 3] * w[0, 0]) for j in range(2)] for i in range(2)])
    flipped = conv(x, w[:, :, ::-1, ::-1])
    ok = conv_agree(y, manual[None, None], x, w)
    # if the flipped sums were equal to y's, the two would agree within the larger of their magnitudes' bounds
    magnitude = np.maximum(conv(np.abs(x), np.abs(w)), conv(np.abs(x), np.abs(w[:, :, ::-1, ::-1])))
    differs = not agree(flipped, y, magnitude, conv_terms(w), np.float64)
    ev.add(
        f"reference conv of a 4x4 input with a 3x3 filter equals the window-by-window sum of products "
        f"({'yes' if ok else 'no'}); with the filter flipped (true convolution) it differs beyond rounding "
        f"({'yes' if differs else 'no'})",
        "reference",
    )
    ok &= differs
    ok &= _torch_agrees(ctx, ev, x, w, None, y, "conv2d on the same input")
    return ev.decide("holds" if ok else "wrong")


def sobel_155(ctx: Context) -> Decision:
    """The worked example: the patch times the Sobel filter, summed, plus bias 0, is 155."""
    ev = Evidence()
    patch = np.array([[0, 0, 75], [0, 75, 80], [0, 75, 80]], dtype=float)
    sobel = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=float)
    y = conv(patch[None, None], sobel[None, None], np.zeros(1))[0, 0, 0, 0]
    flipped = conv(patch[None, None], sobel[None, None, ::-1, ::-1])[0, 0, 0, 0]
    ev.add(
        f"reference conv of the patch with the Sobel filter and bias 0: {y:g} (a flipped filter would give "
        f"{flipped:g})",
        "reference",
    )
    ok = y == 155
    ok &= _torch_agrees(ctx, ev, patch[None, None], sobel[None, None], np.zeros(1), np.array([[[[y]]]]), "conv2d")
    return ev.decide("holds" if ok else "wrong")


def dense_vs_conv(ctx: Context) -> Decision:
    """Dense: one affine map of all features; Conv2D: the same affine map applied to every window."""
    ev = Evidence()
    x, w, b = _rng(3).normal(size=(2, 3, 6, 5)), _rng(4).normal(size=(4, 3, 3, 3)), _rng(5).normal(size=4)
    y = conv(x, w, b)
    windows = np.stack([x[:, :, i : i + 3, j : j + 3].reshape(2, -1) for i in range(4) for j in range(3)], axis=1)
    dense = windows @ w.reshape(4, -1).T + b
    magnitude = np.abs(windows) @ np.abs(w.reshape(4, -1)).T + np.abs(b)  # 27 products and the bias
    ok = agree(y.transpose(0, 2, 3, 1).reshape(2, 12, 4), dense, magnitude, conv_terms(w), np.float64)
    ev.add(
        f"reference Conv2D (3 -> 4 channels, 3x3) on a 6x5 input equals one Dense layer (27 -> 4) applied to each "
        f"of the 12 flattened windows: {'yes' if ok else 'no'}",
        "reference",
    )
    return ev.decide("holds" if ok else "wrong")


def conv_3x3_k2(ctx: Context) -> Decision:
    """A 3x3 image and a 2x2 kernel at stride (1, 1): four positions, a 2x2 feature map."""
    ev = Evidence()
    image = np.arange(9.0).reshape(1, 1, 3, 3)
    kernel = np.array([[1.0, 0.0], [1.0, 1.0]])[None, None]
    y = conv(image, kernel)
    ev.add(
        f"reference with the widget's kernel [[1, 0], [1, 1]] on the image 0..8: {y[0, 0].astype(int).tolist()} "
        f"({y[0, 0].size} positions)",
        "reference",
    )
    ok = y.shape == (1, 1, 2, 2)
    ok &= _torch_agrees(ctx, ev, image, kernel, None, y, "conv2d")
    return ev.decide("holds" if ok else "wrong")


def stride_tuple_order(ctx: Context) -> Decision:
    """stride=(2, 1) moves 2 rows down and 1 column right (height first), not 2 right and 1 down."""
    ev = Evidence()
    x, w = _rng(6).normal(size=(1, 1, 5, 7)), _rng(7).normal(size=(1, 1, 1, 1))
    y = conv(x, w, stride=(2, 1))
    ev.add(
        f"reference conv, 1x1 kernel, stride (2, 1) on 5 rows x 7 columns: {y.shape[2]} rows x {y.shape[3]} "
        f"columns, so the first stride element steps down the rows",
        "reference",
    )
    ok = y.shape[2:] == (3, 7)
    ok &= _torch_agrees(ctx, ev, x, w, None, y, "Conv2d stride=(2, 1) gives the same", stride=(2, 1))
    keras = ctx.keras()
    if keras is not None:
        out = keras_call(keras.layers.Conv2D(1, 1, strides=(2, 1)), to_last(x))
        ev.add(f"Keras Conv2D(strides=(2, 1)) on (1, 5, 7, 1): {shape(out.shape)}", "keras")
        ok &= out.shape[1:3] == (3, 7)
    else:
        ev.missing("keras")
    return ev.decide("wrong" if ok else "holds")


def dilation_5x5(ctx: Context) -> Decision:
    """A 3x3 kernel with dilation 2 spans 5x5: it equals a 5x5 kernel that is zero between its taps."""
    ev = Evidence()
    span = effective_kernel(3, 2)
    x, w = _rng(8).normal(size=(1, 2, 7, 7)), _rng(9).normal(size=(3, 2, 3, 3))
    dilated = conv(x, w, dilation=2)
    sparse = np.zeros((3, 2, 5, 5))
    sparse[:, :, ::2, ::2] = w
    dense = conv(x, sparse)
    # the same products (the zero taps add exact zeros), summed in another order: the 5x5 count of terms
    ok = span == 5 and dilated.shape[2:] == (3, 3) and conv_agree(dilated, dense, x, sparse)
    ev.add(
        f"effective kernel d(k - 1) + 1 = {span}; reference dilated conv on 7x7 gives {shape(dilated.shape[2:])} and "
        f"equals the 5x5 conv with zeros between the taps: {'yes' if ok else 'no'}",
        "reference",
    )
    ok &= _torch_agrees(ctx, ev, x, w, None, dilated, "conv2d with dilation=2", dilation=2)
    return ev.decide("holds" if ok else "wrong")


def dilation_params(ctx: Context) -> Decision:
    """Covering 5x5 with a dilated 3x3 kernel needs 9 weights per channel pair instead of 25."""
    ev = Evidence()
    dilated, full = conv_params(64, 64, 3), conv_params(64, 64, 5)
    ev.add(
        f"reference counts for 64 -> 64 channels: dilated 3x3 {dilated:,}, plain 5x5 {full:,} (same 5x5 span)",
        "reference",
    )
    torch = ctx.torch()
    ok = dilated == 36928 and full == 102464
    if torch is not None:
        got = sum(p.numel() for p in torch.nn.Conv2d(64, 64, 3, dilation=2).parameters())
        ev.add(f"torch Conv2d(64, 64, 3, dilation=2) has {got:,} parameters", "torch")
        ok &= got == dilated
    else:
        ev.missing("torch")
    return ev.decide("holds" if ok else "wrong")


def translation(ctx: Context) -> Decision:
    """The same pattern at another place gives the same values: exact for stride 1 away from borders."""
    ev = Evidence()
    w = _rng(10).normal(size=(1, 1, 3, 3))
    pattern = _rng(11).normal(size=(3, 3))
    a, b = np.zeros((1, 1, 12, 12)), np.zeros((1, 1, 12, 12))
    a[0, 0, 2:5, 2:5] = pattern
    b[0, 0, 6:9, 5:8] = pattern
    ya, yb = conv(a, w), conv(b, w)
    magnitude = conv(np.abs(a), np.abs(w))
    terms = conv_terms(w)
    shifted = agree(ya[0, 0, :-4, :-3], yb[0, 0, 4:, 3:], magnitude[0, 0, :-4, :-3], terms, np.float64)
    sa, sb = conv(a, w, stride=2), conv(b, w, stride=2)
    # The stride-2 outputs are stride-1 outputs, so no magnitude exceeds the largest stride-1 one. Were the two sets
    # equal, every computed value would lie within that magnitude's bound of a common exact value, and sorting keeps
    # such elementwise closeness: sorted outputs that do not agree within it come from different sets.
    largest = max(magnitude.max(), conv(np.abs(b), np.abs(w)).max())
    odd = not agree(np.sort(sa.ravel()), np.sort(sb.ravel()), largest, terms, np.float64)
    ev.add(
        f"reference, stride 1: the pattern moved by (4, 3) gives the same outputs moved by (4, 3): "
        f"{'yes' if shifted else 'no'}; stride 2: moved by an odd 3 columns, the set of outputs changes: "
        f"{'yes' if odd else 'no'}",
        "reference",
    )
    return ev.decide("conditional" if shifted and odd else ("holds" if shifted else "wrong"))


def channels_must_match(ctx: Context) -> Decision:
    """The filter's channels equal the input's for an ordinary conv; grouped convs use C / groups."""
    ev = Evidence()
    try:
        conv(np.zeros((1, 3, 5, 5)), np.zeros((4, 2, 3, 3)))
        mismatch = "accepted"
    except ValueError as exc:
        mismatch = f"refused ({str(exc).split(':', 1)[-1].strip()[:90]})"
    grouped = conv(np.zeros((1, 4, 5, 5)), np.zeros((6, 2, 3, 3)), groups=2)
    ev.add(
        f"reference: a 3-channel input with 2-channel filters is {mismatch}; with groups=2 a 4-channel input "
        f"takes 2-channel filters and gives {shape(grouped.shape)}",
        "reference",
    )
    torch = ctx.torch()
    if torch is not None:
        try:
            torch_conv(torch, np.zeros((1, 3, 5, 5)), np.zeros((4, 2, 3, 3)))
            ev.add("torch accepts the mismatch", "torch")
        except RuntimeError:
            ev.add("torch raises RuntimeError for the mismatch", "torch")
        torch_conv(torch, np.zeros((1, 4, 5, 5)), np.zeros((6, 2, 3, 3)), groups=2)
        ev.add("torch runs the grouped case", "torch")
    else:
        ev.missing("torch")
    return ev.decide("conditional" if mismatch.startswith("refused") else "wrong")


def weight_oihw(ctx: Context) -> Decision:
    """(out, in, h, w) is PyTorch's (and the NumPy code's) weight layout; Keras stores (h, w, in, out)."""
    ev = Evidence()
    ok = True
    torch = ctx.torch()
    if torch is not None:
        got = tuple(torch.nn.Conv2d(3, 32, 5).weight.shape)
        ev.add(f"torch Conv2d(3, 32, 5).weight.shape = {shape(got)}", "torch")
        ok &= got == (32, 3, 5, 5)
    else:
        ev.missing("torch", "its layout taken from the reference's (O, C, kh, kw) convention")
    keras = ctx.keras()
    if keras is not None:
        layer = keras.layers.Conv2D(32, 5)
        layer.build((None, 28, 28, 3))
        got = tuple(layer.kernel.shape)
        ev.add(f"Keras Conv2D(32, 5) on 3 channels has kernel shape {shape(got)}", "keras")
        ok &= got == (5, 5, 3, 32)
    else:
        ev.missing("keras", "Keras' (kh, kw, C, O) layout not observed")
    ev.add("the reference takes (O, C / groups, kh, kw) weights", "reference")
    return ev.decide("conditional" if ok else "wrong")


def kernel_out_in(ctx: Context) -> Decision:
    """Conv2d's kernel is (out_channels, in_channels / groups, kh, kw), not just (out, in)."""
    ev = Evidence()
    ok = True
    torch = ctx.torch()
    if torch is not None:
        plain = tuple(torch.nn.Conv2d(1, 4, 3).weight.shape)
        grouped = tuple(torch.nn.Conv2d(4, 8, 3, groups=2).weight.shape)
        ev.add(
            f"torch Conv2d(1, 4, 3).weight.shape = {shape(plain)}; Conv2d(4, 8, 3, groups=2): {shape(grouped)}", "torch"
        )
        ok = plain == (4, 1, 3, 3) and grouped == (8, 2, 3, 3)
    else:
        ev.missing("torch")
    y = conv(np.zeros((1, 4, 5, 5)), np.zeros((8, 2, 3, 3)), groups=2)
    ev.add(f"reference grouped conv with (8, 2, 3, 3) weights gives {shape(y.shape)}", "reference")
    return ev.decide("conditional" if ok else "wrong")


def bias_per_filter(ctx: Context) -> Decision:
    """One bias per filter (output channel), added at every position."""
    ev = Evidence()
    b = np.array([0.5, -2.0, 3.0])
    y = conv(_rng(12).normal(size=(2, 4, 6, 6)), np.zeros((3, 4, 3, 3)), b)
    ok = all(np.all(y[:, o] == b[o]) for o in range(3))
    ev.add(
        f"reference with zero filters and bias {b.tolist()}: every position of output channel o equals b[o]: "
        f"{'yes' if ok else 'no'}; 3 filters -> bias shape (3,)",
        "reference",
    )
    torch = ctx.torch()
    if torch is not None:
        got = tuple(torch.nn.Conv2d(4, 3, 3).bias.shape)
        ev.add(f"torch Conv2d(4, 3, 3).bias.shape = {shape(got)}", "torch")
        ok &= got == (3,)
    else:
        ev.missing("torch")
    return ev.decide("holds" if ok else "wrong")


def one_filter_one_map(ctx: Context) -> Decision:
    """FN filters give FN output maps; one filter gives one 2-D map."""
    ev = Evidence()
    x = _rng(13).normal(size=(1, 3, 8, 8))
    sizes = {fn: conv(x, np.ones((fn, 3, 3, 3))).shape[1] for fn in (1, 4, 30)}
    ok = sizes == {1: 1, 4: 4, 30: 30}
    ev.add(f"reference output channels for 1, 4, 30 filters on a 3-channel input: {list(sizes.values())}", "reference")
    torch = ctx.torch()
    if torch is not None:
        got = torch_conv(torch, x, np.ones((30, 3, 3, 3))).shape[1]
        ev.add(f"torch conv2d with 30 filters: {got} maps", "torch")
        ok &= got == 30
    else:
        ev.missing("torch")
    return ev.decide("holds" if ok else "wrong")


def batch_equivalence(ctx: Context) -> Decision:
    """One 4-D pass over N samples equals N single-sample passes."""
    ev = Evidence()
    x, w, b = _rng(14).normal(size=(5, 3, 9, 8)), _rng(15).normal(size=(4, 3, 3, 3)), _rng(16).normal(size=4)
    batched = conv(x, w, b, stride=2, padding=1)
    single = np.concatenate([conv(x[i : i + 1], w, b, stride=2, padding=1) for i in range(5)])
    ok = conv_agree(batched, single, x, w, b, stride=2, padding=1)
    ev.add(f"reference: batch of 5 at once vs one by one: {'equal up to rounding' if ok else 'DIFFERENT'}", "reference")
    ok &= _torch_agrees(ctx, ev, x, w, b, single, "conv2d on the batch", stride=2, padding=1)
    return ev.decide("holds" if ok else "wrong")


def kernel_shape_896(ctx: Context) -> Decision:
    """Conv2D(32, 3) on 3 channels: kernel (3, 3, 3, 32), bias (32,), 32 kernels of 3x3x3, 896 parameters."""
    ev = Evidence()
    n = conv_params(3, 32, 3)
    ev.add(f"reference: 32 * 3 * 3 * 3 + 32 = {n}", "reference")
    ok = n == 896
    keras = ctx.keras()
    if keras is not None:
        layer = keras.layers.Conv2D(filters=32, strides=1, padding="same", kernel_size=3)
        layer.build((None, 70, 120, 3))
        k, b = (tuple(w.shape) for w in layer.get_weights())
        ev.add(
            f"Keras get_weights(): kernel {shape(k)}, bias {shape(b)}, count_params() {layer.count_params()}", "keras"
        )
        ok &= (k, b) == ((3, 3, 3, 32), (32,)) and layer.count_params() == n
    else:
        ev.missing("keras")
    torch = ctx.torch()
    if torch is not None:
        m = torch.nn.Conv2d(3, 32, 3)
        ev.add(f"torch weight {shape(m.weight.shape)}, bias {shape(m.bias.shape)}", "torch")
        ok &= sum(p.numel() for p in m.parameters()) == n
    else:
        ev.missing("torch")
    return ev.decide("holds" if ok else "wrong")


def tensor_10x8x3(ctx: Context) -> Decision:
    """(10, 8, 3) input, six 3x3x3 filters, no padding: output (8, 6, 6)."""
    ev = Evidence()
    y = conv(np.zeros((1, 3, 10, 8)), np.zeros((6, 3, 3, 3)))
    got = (*y.shape[2:], y.shape[1])
    ev.add(f"reference (channels-last view): {shape(got)}; parameters {conv_params(3, 6, 3)}", "reference")
    ok = got == (8, 6, 6)
    keras = ctx.keras()
    if keras is not None:
        out = keras_call(keras.layers.Conv2D(6, 3), np.zeros((1, 10, 8, 3)))
        ev.add(f"Keras Conv2D(6, 3) on (1, 10, 8, 3): {shape(out.shape)}", "keras")
        ok &= out.shape == (1, 8, 6, 6)
    else:
        ev.missing("keras")
    return ev.decide("holds" if ok else "wrong")
