"""Deciders for claims about other layers: global and depth pooling, dropout, flatten, linear, softmax, ReLU."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import DTypeLike

from convequiv.reference import depth_pool, global_avg_pool
from convequiv.reference.tolerance import agree

from ...models import Model, get, infer
from ...models import layers as L
from ..context import Context, Evidence, shape
from ..model import Decision
from ..notes import run_listing
from .fw import keras_call, to_first, to_last, torch_module


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def gap(ctx: Context) -> Decision:
    """GlobalAveragePooling2D returns one mean per feature map: (N, H, W, C) -> (N, C)."""
    ev = Evidence()
    x = _rng(1).normal(size=(2, 32, 70, 120)).astype(np.float32).astype(np.float64)  # exact in Keras' float32
    ref = global_avg_pool(x)
    # a mean of 8400 values: their sum and one division, computed in any order
    magnitude, terms = global_avg_pool(np.abs(x)), 70 * 120 + 1
    ok = ref.shape == (2, 32) and agree(ref, x.mean(axis=(2, 3)), magnitude, terms, np.float64)
    ev.add(
        f"reference global average pooling of (2, 70, 120, 32) feature maps: shape {shape(ref.shape)}, equal to the "
        f"mean over height and width up to rounding: {'yes' if ok else 'no'}",
        "reference",
    )
    keras = ctx.keras()
    if keras is not None:
        k = keras_call(keras.layers.GlobalAveragePooling2D(), to_last(x))
        same = agree(k, ref, magnitude, terms, np.float32)
        ev.add(
            f"Keras GlobalAveragePooling2D() returns shape {shape(k.shape)}, equal within float32 rounding: "
            f"{'yes' if same else 'no'}",
            "keras",
        )
        ok &= same
    else:
        ev.missing("keras")
    torch = ctx.torch()
    if torch is not None:
        t = torch_module(torch, torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()), x)
        same = agree(t, ref, magnitude, terms, np.float64)
        ev.add(
            f"torch AdaptiveAvgPool2d(1) + Flatten: {shape(t.shape)}, same values up to rounding: "
            f"{'yes' if same else 'no'}",
            "torch",
        )
        ok &= same
    else:
        ev.missing("torch")
    return ev.decide("holds" if ok else "wrong")


def depthpool(ctx: Context) -> Decision:
    """The DepthPool layer takes the max over contiguous groups of pool_size channels; C must divide."""
    ev = Evidence()
    x = _rng(2).normal(size=(2, 6, 4, 5)).astype(np.float32).astype(np.float64)  # exact in Keras' float32
    ref = depth_pool(x, 2)
    manual = x.reshape(2, 3, 2, 4, 5).max(axis=2)
    ok = np.array_equal(ref, manual)
    try:
        depth_pool(np.zeros((1, 3, 4, 4)), 2)
        odd = "accepted"
    except ValueError:
        odd = "refused (ValueError)"
    ev.add(
        f"reference depth pooling, pool_size 2, of 6 channels: shape {shape(ref.shape)}, channel j = max of "
        f"channels 2j and 2j + 1: {'yes' if ok else 'no'}; 3 channels are {odd}",
        "reference",
    )
    tf = ctx.tf_keras()
    listing = ctx.listing("002-depthpool")
    if listing is not None and tf is not None:
        run = run_listing(listing, {"tf": tf})
        layer = run.namespace.get("DepthPool")
        if run.ok and layer is not None:
            got = to_first(np.asarray(layer(pool_size=2)(tf.constant(to_last(x), dtype=tf.float32))))
            same = np.array_equal(got, ref)
            ev.add(
                f"the note's DepthPool layer on the same input: shape {shape(got.shape)}, equal to the reference: "
                f"{'yes' if same else 'no'}",
                "notes",
                "tensorflow",
            )
            ok &= same
            try:
                layer(pool_size=2)(tf.zeros((1, 4, 4, 3)))
                ev.add("the note's layer accepts 3 channels with pool_size 2")
                ok = False
            except Exception as exc:  # TensorFlow's reshape error
                ev.add(f"on 3 channels it raises {type(exc).__name__} (the reshape cannot split 3 into groups of 2)")
        else:
            ev.add(f"{run.describe()}", "notes")
    else:
        ev.missing("the notes" if listing is None else "Keras on TensorFlow", "the note's own layer was not run")
    return ev.decide("conditional" if ok and odd.startswith("refused") else "wrong")


def spatial_vs_depth(ctx: Context) -> Decision:
    """Spatial pooling shrinks H, W and keeps C; depth pooling keeps H, W and shrinks C."""
    ev = Evidence()
    info = infer(get("002-pooling-layers"))
    pool, depth = info.layers[0], info.layers[1]
    ev.add(
        f"reference on 70x120x32: MaxPool2D(2, 2, 'same') -> {shape(pool.output_shape[1:])} spatial with "
        f"{pool.output_shape[0]} channels; DepthPool(2) -> {shape(depth.output_shape[1:])} with "
        f"{depth.output_shape[0]} channels",
        "reference",
    )
    ok = pool.output_shape == (32, 35, 60) and depth.output_shape == (16, 35, 60)
    keras = ctx.keras()
    if keras is not None:
        k = keras_call(keras.layers.MaxPool2D(pool_size=2, strides=2, padding="same"), np.zeros((1, 70, 120, 32)))
        ev.add(f"Keras MaxPool2D on (1, 70, 120, 32): {shape(k.shape)}", "keras")
        ok &= k.shape == (1, 35, 60, 32)
    else:
        ev.missing("keras")
    return ev.decide("holds" if ok else "wrong")


def keras_no_depthpool(ctx: Context) -> Decision:
    """Keras has no layer that pools along the channel axis."""
    ev = Evidence()
    keras = ctx.keras()
    if keras is None:
        ev.missing("keras", "its layer list cannot be inspected")
        return ev.undecided()
    pools = sorted(n for n in dir(keras.layers) if "pool" in n.lower())
    depth = [n for n in pools if "depth" in n.lower() or "channel" in n.lower()]
    ev.add(
        f"keras.layers has {len(pools)} pooling names ({', '.join(pools)}); none pools the channel axis "
        f"({len(depth)} with 'depth' or 'channel' in the name)",
        "keras",
    )
    tf = ctx.tf()
    if tf is not None:
        y = tf.nn.max_pool(
            tf.reshape(tf.range(8.0), (1, 1, 1, 8)), ksize=(1, 1, 1, 2), strides=(1, 1, 1, 2), padding="VALID"
        )
        ev.add(
            f"TensorFlow's low-level tf.nn.max_pool with a depth window does: 8 channels -> {y.shape[-1]}", "tensorflow"
        )
    return ev.decide("holds" if not depth else "wrong")


def dropout_scale(ctx: Context) -> Decision:
    """Training-mode dropout zeroes each value with probability p and scales the rest by 1 / (1 - p)."""
    ev = Evidence()
    x = np.ones((200, 100))
    p = 0.3
    scale = 1 / (1 - p)

    # A survivor is 1 * scale, reached through at most three correctly rounded operations (1 - p, the division,
    # and rounding p, 1 - p or the scale to the dtype; p rounded moves 1 - p by at most u p / (1 - p) < u), each a
    # relative change of at most u; the product with 1 is exact. Both sides are within gamma(3) of 1 / (1 - p):
    # agree's bound with terms=2.
    def survivors_scaled(kept: np.ndarray, dtype: DTypeLike) -> bool:
        return kept.size > 0 and agree(kept, np.full(kept.shape, scale), scale, 2, dtype)

    # The zero fraction of 20,000 independent draws has standard deviation sqrt(p (1 - p) / 20000) = 0.0032;
    # six of them (a false alarm about once in 5e8 runs) bound its distance from p.
    margin = 6 * math.sqrt(p * (1 - p) / x.size)
    results = []
    torch = ctx.torch()
    if torch is not None:
        torch.manual_seed(0)
        y = torch_module(torch, torch.nn.Dropout(p=p), x, train=True)
        kept = np.unique(y[y != 0])
        results.append(survivors_scaled(kept, np.float64) and abs((y == 0).mean() - p) <= margin)
        ev.add(
            f"torch Dropout(p=0.3) in training on ones: survivors all equal {kept[0]:.6f} = 1 / 0.7, zero fraction "
            f"{(y == 0).mean():.3f}",
            "torch",
        )
    else:
        ev.missing("torch")
    keras = ctx.keras()
    if keras is not None:
        keras.utils.set_random_seed(0)
        y = keras_call(keras.layers.Dropout(p), x, training=True)
        kept = np.unique(y[y != 0])
        results.append(survivors_scaled(kept, np.float32) and abs((y == 0).mean() - p) <= margin)
        ev.add(
            f"Keras Dropout(0.3) with training=True: survivors {kept[0]:.6f}, zero fraction {(y == 0).mean():.3f}",
            "keras",
        )
    else:
        ev.missing("keras")
    if not results:
        return ev.undecided()
    return ev.decide("holds" if all(results) else "wrong")


def dropout_eval(ctx: Context) -> Decision:
    """Outside training dropout is the identity."""
    ev = Evidence()
    x = _rng(3).normal(size=(4, 10))
    results = []
    torch = ctx.torch()
    if torch is not None:
        results.append(np.array_equal(torch_module(torch, torch.nn.Dropout(0.5), x, train=False), x))
        ev.add(
            f"torch Dropout(0.5) in eval mode returns its input unchanged: {'yes' if results[-1] else 'no'}", "torch"
        )
    else:
        ev.missing("torch")
    keras = ctx.keras()
    if keras is not None:
        y = keras_call(keras.layers.Dropout(0.5), x, training=False)
        results.append(np.array_equal(y, x.astype(np.float32)))  # the identity: a copy
        ev.add(f"Keras Dropout(0.5) with training=False likewise: {'yes' if results[-1] else 'no'}", "keras")
    else:
        ev.missing("keras")
    if not results:
        return ev.undecided()
    return ev.decide("holds" if all(results) else "wrong")


def flatten_1568(ctx: Context) -> Decision:
    """Flatten turns (32, 7, 7) into 32 * 7 * 7 = 1568 values."""
    ev = Evidence()
    info = infer(Model("flatten", (32, 7, 7), (L.Flatten(),), data_format="channels_first"))
    ok = info.output_shape == (1568,)
    ev.add(f"reference Flatten of (32, 7, 7): {shape(info.output_shape)}", "reference")
    torch = ctx.torch()
    if torch is not None:
        got = torch_module(torch, torch.nn.Flatten(1, -1), np.zeros((2, 32, 7, 7))).shape
        ev.add(f"torch Flatten(1, -1) on (2, 32, 7, 7): {shape(got)}", "torch")
        ok &= got == (2, 1568)
    else:
        ev.missing("torch")
    return ev.decide("holds" if ok else "wrong")


def linear_formula(ctx: Context) -> Decision:
    """y = W^T x + b holds with W stored (in, out), as Keras does; PyTorch stores (out, in) and computes x W^T + b."""
    ev = Evidence()
    torch = ctx.torch()
    keras = ctx.keras()
    ok = True
    if torch is not None:
        lin = torch.nn.Linear(6, 2).double()
        x = _rng(4).normal(size=(3, 6))
        w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
        y = torch_module(torch, lin, x)
        # 6 products and the bias per output, in float64 on both sides
        same = agree(y, x @ w.T + b, np.abs(x) @ np.abs(w).T + np.abs(b), 7, np.float64)
        ev.add(
            f"torch Linear(6, 2).weight.shape = {shape(w.shape)}; its output equals x @ W.T + b: "
            f"{'yes' if same else 'no'}; W^T x needs W of shape (in, out) = (6, 2)",
            "torch",
        )
        ok &= w.shape == (2, 6) and same
    else:
        ev.missing("torch")
    if keras is not None:
        dense = keras.layers.Dense(2)
        dense.build((None, 6))
        ev.add(
            f"Keras Dense(2) on 6 features stores its kernel as {shape(dense.kernel.shape)} (in, out), for which "
            "y = W^T x + b reads literally",
            "keras",
        )
        ok &= tuple(dense.kernel.shape) == (6, 2)
    else:
        ev.missing("keras")
    if torch is None and keras is None:
        return ev.undecided()
    return ev.decide("conditional" if ok else "wrong")


def linear_6_2(ctx: Context) -> Decision:
    """Linear(6, 2) maps 6 values to 2 (14 parameters)."""
    ev = Evidence()
    info = infer(Model("linear", (6,), (L.Dense(2),), data_format="channels_first"))
    ev.add(
        f"reference Dense(2) on 6 features: output {shape(info.output_shape)}, {info.total('torch').total} parameters",
        "reference",
    )
    ok = info.output_shape == (2,) and info.total("torch").total == 14
    torch = ctx.torch()
    if torch is not None:
        lin = torch.nn.Linear(6, 2)
        got = torch_module(torch, lin, np.zeros((1, 6))).shape
        ev.add(
            f"torch Linear(6, 2): output {shape(got)}, {sum(p.numel() for p in lin.parameters())} parameters", "torch"
        )
        ok &= got == (1, 2)
    else:
        ev.missing("torch")
    return ev.decide("holds" if ok else "wrong")


LOGITS = (-7.427, 8.698, 0.407, -4.990, -4.264, -3.783, -4.286, -3.159, -2.024, -4.415)


def softmax_prediction(ctx: Context) -> Decision:
    """The printed logits give the printed probabilities (3 decimals) and the prediction 1."""
    ev = Evidence()
    z = np.array(LOGITS)
    p = np.exp(z - z.max())
    p /= p.sum()
    printed = [0.0, 1.0] + [0.0] * 8
    rounded = [round(float(v), 3) for v in p]
    # p.sum() against the exact 1: the normaliser's 9 additions, one division per value and the final 9 additions
    # round positive values 19 times in all, within gamma(19) of 1: agree's bound with terms=18 and an exact side.
    ok = rounded == printed and int(p.argmax()) == 1 and agree(p.sum(), 1.0, 1.0, 18, np.float64, None)
    ev.add(
        f"softmax of the printed logits: p[1] = {p[1]:.5f}, p[2] = {p[2]:.5f}, rounded to 3 decimals as printed: "
        f"{'yes' if rounded == printed else 'no'}; argmax {int(p.argmax())}; all in [0, 1], sum 1",
        "reference",
    )
    torch = ctx.torch()
    if torch is not None:
        t = torch.nn.functional.softmax(torch.tensor([LOGITS], dtype=torch.float64), dim=-1).numpy()[0]
        # exp is not a sum (its error is its implementation's), so torch is compared on what the claim is about:
        # the printed 3-decimal probabilities and the prediction
        same = [round(float(v), 3) for v in t] == printed and int(t.argmax()) == 1
        ev.add(f"torch F.softmax gives the same 3-decimal probabilities and argmax: {'yes' if same else 'no'}", "torch")
        ok &= same
    else:
        ev.missing("torch")
    return ev.decide("holds" if ok else "wrong")


def relu(ctx: Context) -> Decision:
    """ReLU(x) = max(0, x): values at or below 0 become 0."""
    ev = Evidence()
    x = np.array([[-2.0, -0.0, 0.0, 0.5, 3.0]])
    want = np.maximum(0, x)
    ev.add(f"max(0, x) of {x[0].tolist()} is {want[0].tolist()}", "reference")
    results = []
    torch = ctx.torch()
    if torch is not None:
        results.append(np.array_equal(torch_module(torch, torch.nn.ReLU(), x), want))
        ev.add(f"torch ReLU agrees: {'yes' if results[-1] else 'no'}", "torch")
    else:
        ev.missing("torch")
    keras = ctx.keras()
    if keras is not None:
        results.append(np.array_equal(keras_call(keras.layers.Activation("relu"), x), want.astype(np.float32)))
        ev.add(f"Keras relu agrees: {'yes' if results[-1] else 'no'}", "keras")
    else:
        ev.missing("keras")
    if not results:
        return ev.undecided()
    return ev.decide("holds" if all(results) else "wrong")
