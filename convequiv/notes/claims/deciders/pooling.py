"""Deciders for claims about pooling: parameters, channels, strides, padding, area, receptive field."""

from __future__ import annotations

import math

import numpy as np

from convequiv.reference import avg_pool_backward, conv_backward, max_pool, max_pool_backward, output_size

from ...models import ModelInfo, get, infer
from ..context import Context, Evidence, shape
from ..model import Decision
from ..notes import run_listing
from .fw import keras_call, to_last, torch_module


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def pool_no_params(ctx: Context) -> Decision:
    """Pooling layers have no parameters."""
    ev = Evidence()
    info = infer(get("004-mnist-convnet"))
    pools = [li for li in info.layers if type(li.layer).__name__ == "MaxPooling2D"]
    ok = all(li.keras.total == li.torch.total == 0 for li in pools)
    ev.add(
        f"reference: the {len(pools)} MaxPooling2D layers of 004-mnist-convnet have 0 parameters in both conventions",
        "reference",
    )
    torch = ctx.torch()
    if torch is not None:
        n = sum(p.numel() for m in (torch.nn.MaxPool2d(2), torch.nn.AvgPool2d(2)) for p in m.parameters())
        ev.add(f"torch MaxPool2d and AvgPool2d own {n} parameters", "torch")
        ok &= n == 0
    else:
        ev.missing("torch")
    keras = ctx.keras()
    if keras is not None:
        layers = [keras.layers.MaxPooling2D(2), keras.layers.AveragePooling2D(2)]
        for layer in layers:
            layer.build((None, 8, 8, 3))
        n = sum(layer.count_params() for layer in layers)
        ev.add(f"Keras MaxPooling2D and AveragePooling2D count {n} parameters", "keras")
        ok &= n == 0
    else:
        ev.missing("keras")
    return ev.decide("holds" if ok else "wrong")


def pool_keeps_channels(ctx: Context) -> Decision:
    """Pooling keeps the channel count because each channel is pooled on its own."""
    ev = Evidence()
    x = _rng(1).normal(size=(2, 5, 6, 6))
    y = max_pool(x, 2)
    bumped = x.copy()
    bumped[:, 2] += 10
    changed = sorted({int(c) for c in np.argwhere(max_pool(bumped, 2) != y)[:, 1]})
    ok = y.shape[1] == 5 and changed == [2]
    ev.add(
        f"reference max pool of 5 channels gives {y.shape[1]} channels; raising channel 2 changes output channels "
        f"{changed} only",
        "reference",
    )
    torch = ctx.torch()
    if torch is not None:
        t = torch_module(torch, torch.nn.MaxPool2d(2), bumped)
        same = np.array_equal(t, max_pool(bumped, 2))
        ev.add(f"torch MaxPool2d agrees with the reference: {'yes' if same else 'no'}", "torch")
        ok &= same
    else:
        ev.missing("torch")
    return ev.decide("holds" if ok else "wrong")


def pool_window_eq_stride(ctx: Context) -> Decision:
    """Window size = stride is the usual setting: the frameworks' default stride is the window."""
    ev = Evidence()
    ok = True
    torch = ctx.torch()
    if torch is not None:
        strides = (torch.nn.MaxPool2d(3).stride, torch.nn.AvgPool2d(2).stride)
        ev.add(f"torch MaxPool2d(3).stride = {strides[0]}, AvgPool2d(2).stride = {strides[1]}", "torch")
        ok &= strides == (3, 2)
    else:
        ev.missing("torch")
    keras = ctx.keras()
    if keras is not None:
        got = tuple(keras.layers.MaxPooling2D(3).strides)
        ev.add(f"Keras MaxPooling2D(3).strides = {got}", "keras")
        ok &= got == (3, 3)
    else:
        ev.missing("keras")
    listing = ctx.listing("000-pooling")
    if listing is not None:
        run = run_listing(listing, {"np": np})
        if run.ok:
            default = run.namespace["Pooling"].__init__.__defaults__[0]
            ev.add(f"but the note's own Pooling class defaults to stride={default}", "notes")
    return ev.decide("holds" if ok else "wrong")


def maxpool_quarter(ctx: Context) -> Decision:
    """2x2 pooling at stride 2 quarters the area exactly only for even height and width."""
    ev = Evidence()
    even = output_size(28, 2, stride=2)
    valid = output_size(13, 2, stride=2)
    same = output_size(13, 2, stride=2, padding="same")
    ev.add(
        f"reference: 28x28 -> {even}x{even} (area ratio {even**2 / 28**2:.4f}); 13x13 -> {valid}x{valid} valid "
        f"({valid**2 / 169:.4f}) or {same}x{same} 'same' ({same**2 / 169:.4f})",
        "reference",
    )
    ok = (even, valid, same) == (14, 6, 7)
    keras = ctx.keras()
    if keras is not None:
        sizes = [
            keras_call(keras.layers.MaxPooling2D(2, 2, padding=p), np.zeros((1, 13, 13, 1))).shape[1]
            for p in ("valid", "same")
        ]
        ev.add(f"Keras MaxPooling2D(2, 2) on 13x13: valid {sizes[0]}, same {sizes[1]}", "keras")
        ok &= sizes == [6, 7]
    else:
        ev.missing("keras")
    torch = ctx.torch()
    if torch is not None:
        sizes = [
            torch_module(torch, torch.nn.MaxPool2d(2, ceil_mode=c), np.zeros((1, 1, 13, 13))).shape[-1]
            for c in (False, True)
        ]
        ev.add(f"torch MaxPool2d(2) on 13x13: {sizes[0]}, with ceil_mode {sizes[1]}", "torch")
        ok &= sizes == [6, 7]
    else:
        ev.missing("torch")
    return ev.decide("conditional" if ok else "wrong")


def maxpool_zero_pad(ctx: Context) -> Decision:
    """PyTorch's MaxPool2d padding is -inf, not zeros: padded cells never win, even over negatives."""
    ev = Evidence()
    x = -1.0 - np.arange(16.0).reshape(1, 1, 4, 4)
    ref = max_pool(x, 2, stride=2, padding=1)
    zero = max_pool(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))), 2, stride=2)
    ev.add(
        f"all-negative 4x4 input (-1..-16), 2x2 window, stride 2, padding 1: the reference (-inf padding) gives "
        f"{ref[0, 0].astype(int).tolist()}; zero padding would give {zero[0, 0].astype(int).tolist()}",
        "reference",
    )
    verdict_wrong = bool(np.all(ref < 0) and np.any(zero == 0))
    torch = ctx.torch()
    if torch is not None:
        t = torch_module(torch, torch.nn.MaxPool2d(2, stride=2, padding=1), x)
        which = "the -inf result" if np.array_equal(t, ref) else "neither"
        which = "the zero-padded result" if np.array_equal(t, zero) else which
        ev.add(f"torch MaxPool2d(2, stride=2, padding=1) gives {t[0, 0].astype(int).tolist()}: {which}", "torch")
        verdict_wrong = np.array_equal(t, ref) and not np.array_equal(t, zero)
    else:
        ev.missing("torch")
    keras = ctx.keras()
    if keras is not None:
        k = keras_call(keras.layers.MaxPooling2D(2, 2, padding="same"), to_last(x[:, :, :3, :3]))
        ev.add(
            f"Keras MaxPooling2D(2, 2, 'same') on the top-left 3x3 block gives {k[0, :, :, 0].astype(int).tolist()} "
            "(padded cells never win there either)",
            "keras",
        )
    return ev.decide("wrong" if verdict_wrong else "holds")


def maxpool_default_stride(ctx: Context) -> Decision:
    """MaxPool2d(kernel_size, stride=None, padding=0, dilation=1): stride None means the kernel size."""
    ev = Evidence()
    torch = ctx.torch()
    if torch is None:
        ev.missing("torch", "the signature cannot be inspected")
        return ev.undecided()
    import inspect

    sig = inspect.signature(torch.nn.MaxPool2d.__init__)
    defaults = {k: sig.parameters[k].default for k in ("stride", "padding", "dilation")}
    m = torch.nn.MaxPool2d(2)
    out = torch_module(torch, m, np.zeros((1, 1, 26, 26))).shape[-1]
    ev.add(f"torch MaxPool2d defaults {defaults}; MaxPool2d(2).stride = {m.stride}; 26 -> {out}", "torch")
    ok = defaults == {"stride": None, "padding": 0, "dilation": 1} and m.stride == 2 and out == 13
    ev.add(f"reference with stride defaulting to the window: 26 -> {output_size(26, 2, stride=2)}", "reference")
    return ev.decide("holds" if ok else "wrong")


def pool_reduces_params(ctx: Context) -> Decision:
    """Max pooling has no parameters itself; the saving is in the Dense layer after the convs."""
    ev = Evidence()
    pooled, plain = infer(get("004-mnist-convnet")), infer(get("004-mnist-no-pool"))

    def split(info: ModelInfo) -> tuple[int, int, int]:
        convs = sum(li.keras.total for li in info.layers if type(li.layer).__name__ == "Conv2D")
        dense = sum(li.keras.total for li in info.layers if type(li.layer).__name__ == "Dense")
        pools = sum(li.keras.total for li in info.layers if type(li.layer).__name__ == "MaxPooling2D")
        return convs, dense, pools

    a, b = split(pooled), split(plain)
    ev.add(
        f"reference: with pooling {pooled.total('keras').total:,} parameters (convs {a[0]:,}, dense {a[1]:,}, "
        f"pooling {a[2]}); without {plain.total('keras').total:,} (convs {b[0]:,}, dense {b[1]:,})",
        "reference",
    )
    ok = a[0] == b[0] and a[2] == 0 and a[1] < b[1]
    return ev.decide("conditional" if ok else "wrong")


def _receptive_field(layers: list[tuple[str, int, int]], n: int) -> int:
    """Support of the input gradient of one central output (all-ones weights; pooling windows as averages)."""
    shapes = [(1, 1, n, n)]
    for _, k, s in layers:
        h = shapes[-1][2]
        shapes.append((1, 1, output_size(h, k, stride=s), output_size(h, k, stride=s)))
    dy = np.zeros(shapes[-1])
    c = shapes[-1][2] // 2
    dy[0, 0, c, c] = 1.0
    for (kind, k, s), shp in zip(reversed(layers), reversed(shapes[:-1])):
        x = np.ones(shp)
        if kind == "conv":
            dy = conv_backward(x, np.ones((1, 1, k, k)), dy, stride=s)[0]
        else:
            dy = avg_pool_backward(x, dy, k, stride=s)
    rows = np.flatnonzero(dy[0, 0].any(axis=1))
    return int(rows[-1] - rows[0] + 1)


def receptive_field(ctx: Context) -> Decision:
    """Higher layers see a wider part of the input: 18x18 with pooling vs 7x7 without (004's models)."""
    ev = Evidence()
    with_pool = _receptive_field([("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1)], 28)
    without = _receptive_field([("conv", 3, 1), ("conv", 3, 1), ("conv", 3, 1)], 28)
    ev.add(
        f"support of the reference's input gradient for one output of the third conv: {with_pool}x{with_pool} "
        f"with the two 2x2 poolings, {without}x{without} without",
        "reference",
    )
    return ev.decide("holds" if with_pool > without else "wrong")


def im2col_memory(ctx: Context) -> Decision:
    """im2col output has more elements than its input when windows overlap (stride < filter)."""
    ev = Evidence()

    def counts(shape_: tuple[int, int, int, int], k: int, s: int) -> tuple[int, int]:
        n, c, h, w = shape_
        oh, ow = output_size(h, k, stride=s), output_size(w, k, stride=s)
        return n * oh * ow * c * k * k, math.prod(shape_)

    cases = {
        "(10, 1, 28, 28), 5x5, stride 1": counts((10, 1, 28, 28), 5, 1),
        "(1, 1, 4, 4), 2x2, stride 2": counts((1, 1, 4, 4), 2, 2),
        "(1, 1, 5, 5), 2x2, stride 2": counts((1, 1, 5, 5), 2, 2),
    }
    text = "; ".join(f"{k}: {a:,} elements vs {b:,}" for k, (a, b) in cases.items())
    ev.add(f"reference window counts (rows x columns of im2col vs input size): {text}", "reference")
    listing = ctx.listing("000-im2col")
    if listing is not None:
        run = run_listing(listing, {"np": np})
        if run.ok:
            col = run.namespace["im2col"](np.zeros((10, 1, 28, 28)), 5, 5)
            ev.add(f"the note's im2col on (10, 1, 28, 28) with 5x5 returns shape {shape(col.shape)}", "notes")
    a, b, c = cases.values()
    return ev.decide("conditional" if a[0] > a[1] and b[0] == b[1] and c[0] < c[1] else "wrong")


def maxpool_keeps_max(ctx: Context) -> Decision:
    """Each window passes its largest value on; the others are discarded (and get no gradient)."""
    ev = Evidence()
    x = _rng(2).permutation(36).astype(float).reshape(1, 1, 6, 6)
    y = max_pool(x, 2)
    windows = x.reshape(1, 1, 3, 2, 3, 2).max(axis=(3, 5))
    dx = max_pool_backward(x, np.ones_like(y), 2)
    ok = np.array_equal(y, windows) and int((dx != 0).sum()) == y.size
    ev.add(
        f"reference: each output is its window's maximum ({'yes' if np.array_equal(y, windows) else 'no'}); the "
        f"gradient reaches {int((dx != 0).sum())} of 36 inputs, one per window",
        "reference",
    )
    torch = ctx.torch()
    if torch is not None:
        t = torch.tensor(x, requires_grad=True)
        torch.nn.functional.max_pool2d(t, 2).sum().backward()
        # bit for bit: the 2x2 windows at stride 2 do not overlap, so each input gets one gradient or none (a copy)
        same = np.array_equal(t.grad.numpy(), dx)
        ev.add(f"torch's gradient is the same: {'yes' if same else 'no'}", "torch")
        ok &= same
    else:
        ev.missing("torch")
    return ev.decide("holds" if ok else "wrong")
