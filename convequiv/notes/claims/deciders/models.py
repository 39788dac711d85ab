"""Deciders for claims about whole models: printed summaries, parameter counts, shapes through a model."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import numpy as np

from convequiv.reference import conv_params, output_size

from ...models import Model, check, get, infer
from ...models import layers as L
from ...models.printed import printed_for
from ...models.render import torchsummary_numbers
from ..context import Context, Evidence, shape
from ..model import Decision
from .fw import keras_call


def _framework_checks(ctx: Context, ev: Evidence, name: str, frameworks: tuple[str, ...] = ("keras", "torch")) -> bool:
    info = infer(get(name))
    ok = True
    for fw in frameworks:
        if (ctx.keras() if fw == "keras" else ctx.torch()) is None:
            ev.missing(fw)
            continue
        found = check.check_keras(info) if fw == "keras" else check.check_torch(info)
        ev.add(
            f"the {name} model built in {fw} matches the reference layer by layer: "
            f"{'yes' if not found else '; '.join(map(str, found[:3]))}",
            fw,
        )
        ok &= not found
    return ok


def model_numbers(name: str, frameworks: tuple[str, ...] = ("keras", "torch")) -> Callable[[Context], Decision]:
    """Every number the notes print about ``name`` against the reference, then the framework builds."""

    def decide(ctx: Context) -> Decision:
        ev = Evidence()
        info = infer(get(name))
        found = check.check_printed(info)
        printed = printed_for(name)
        rows = sum(len(p.rows) + len(p.shapes) for p in printed)
        k = info.total("keras")
        ev.add(
            f"reference for {name}: {k.total:,} parameters ({k.trainable:,} trainable); against the "
            f"{rows} printed rows/shapes and totals of {', '.join(f'note {p.note} {p.lines}' for p in printed)}: "
            f"{'all equal' if not found else '; '.join(map(str, found[:3]))}",
            "reference",
        )
        ok = not found and bool(printed)
        ok &= _framework_checks(ctx, ev, name, frameworks)
        return ev.decide("holds" if ok else "wrong")

    decide.__qualname__ = f"model_numbers[{name}]"
    return decide


def summary_vs_listing(ctx: Context) -> Decision:
    """The printed torchsummary is not the listed CNN's: the listing's nn.Flatten would be a row."""
    ev = Evidence()
    printed = torchsummary_numbers(infer(get("003-torch-mnist")))
    listed = torchsummary_numbers(infer(get("003-torch-mnist-listing")))
    sizes = [", ".join(s.rsplit(": ", 1)[1] for s in t.size_lines()) for t in (listed, printed)]
    ev.add(
        f"reference torchsummary of the listing (nn.Flatten module): {len(listed.rows)} rows with "
        f"{listed.rows[6][0]} {list(listed.rows[6][1])}, sizes {sizes[0]} MB; the printed summary has "
        f"{len(printed.rows)} rows and {sizes[1]} MB, what a flatten outside any module gives",
        "reference",
    )
    differs = len(listed.rows) != len(printed.rows)
    torch = ctx.torch()
    listing = ctx.listing("003-cnn")
    if torch is not None and listing is not None:
        from ..notes import run_listing

        run = run_listing(listing, {"torch": torch, "nn": torch.nn})
        if run.ok:
            rows = check.torch_rows(run.namespace["CNN"](), (1, 28, 28))
            ev.add(
                f"hooking the note's own CNN as torchsummary does lists {len(rows)} modules, row 7 being "
                f"{rows[6][0]} {list(rows[6][1])}",
                "torch",
                "notes",
            )
            differs &= len(rows) == len(listed.rows) and rows[6][0] == "Flatten-7"
    elif torch is None:
        ev.missing("torch")
    return ev.decide("wrong" if differs else "holds")


def small_kernels(ctx: Context) -> Decision:
    """Stacked small kernels need fewer parameters than one large kernel of the same span only when the
    channel counts stay equal."""
    ev = Evidence()
    c = 64
    two3, one5 = 2 * conv_params(c, c, 3, bias=False), conv_params(c, c, 5, bias=False)
    three3, one7 = 3 * conv_params(c, c, 3, bias=False), conv_params(c, c, 7, bias=False)
    first = conv_params(1, 64, 3) + conv_params(64, 64, 3)
    single = conv_params(1, 64, 5)
    ev.add(
        f"reference weights for {c} -> {c} channels: two 3x3 {two3:,} vs one 5x5 {one5:,}; three 3x3 {three3:,} vs "
        f"one 7x7 {one7:,}; but from 1 channel to 64: 3x3 then 3x3 {first:,} parameters vs one 5x5 {single:,}",
        "reference",
    )
    ok = two3 < one5 and three3 < one7 and first > single
    torch = ctx.torch()
    if torch is not None:
        nn = torch.nn
        stacked = nn.Sequential(nn.Conv2d(1, 64, 3), nn.Conv2d(64, 64, 3))
        count = (sum(p.numel() for p in stacked.parameters()), sum(p.numel() for p in nn.Conv2d(1, 64, 5).parameters()))
        ev.add(f"torch counts {count[0]:,} and {count[1]:,}", "torch")
        ok &= count == (first, single)
    else:
        ev.missing("torch")
    ev.add("the 'better performance' part is about training results and is not decided here")
    return ev.decide("conditional" if ok else "wrong")


def weight_sharing(ctx: Context) -> Decision:
    """A conv layer's parameters do not depend on the image size; a dense layer's grow with it."""
    ev = Evidence()
    counts = {}
    for n in (28, 280):
        conv = infer(Model("c", (n, n, 1), (L.Conv2D(32, 3),))).total("keras").total
        dense = infer(Model("d", (n, n, 1), (L.Flatten(), L.Dense(32)))).total("keras").total
        counts[n] = (conv, dense)
    ev.add(
        f"reference: Conv2D(32, 3) on 28x28 has {counts[28][0]} parameters and on 280x280 {counts[280][0]}; a "
        f"Dense(32) on the flattened image has {counts[28][1]:,} and {counts[280][1]:,}",
        "reference",
    )
    ok = counts[28][0] == counts[280][0] and counts[280][1] > 99 * counts[28][1]
    return ev.decide("holds" if ok else "wrong")


def torch_fc_576(ctx: Context) -> Decision:
    """Linear(3 * 3 * 64, 10) fits the 28x28 input: 28 -> 14 -> 7 -> 3 after three 2x2 poolings."""
    ev = Evidence()
    info = infer(get("001-torch-convnet"))
    before = info.layers[9].input_shape
    ev.add(
        f"reference: the flatten receives {shape(before)} = {int(np.prod(before))} values; total "
        f"{info.total('torch').total:,} parameters",
        "reference",
    )
    ok = before == (64, 3, 3)
    ok &= _framework_checks(ctx, ev, "001-torch-convnet", ("torch",))
    return ev.decide("holds" if ok else "wrong")


def vgg_5x5x512(ctx: Context) -> Decision:
    """VGG16's base turns 180x180x3 into 5x5x512 (the head's Input((5, 5, 512)))."""
    ev = Evidence()
    info = infer(get("004-vgg16-base"))
    sizes = [li.output_shape[1] for li in info.layers if li.layer.name and li.layer.name.endswith("pool")]
    ev.add(
        f"reference: the five 2x2 poolings take 180 to {', '.join(map(str, sizes))}; output "
        f"{shape((*info.output_shape[1:], info.output_shape[0]))}",
        "reference",
    )
    ok = info.output_shape == (512, 5, 5)
    keras = ctx.keras()
    if keras is not None:
        app = keras.applications.VGG16(weights=None, include_top=False, input_shape=(180, 180, 3))
        ev.add(
            f"keras.applications.VGG16(weights=None, include_top=False, input_shape=(180, 180, 3)) outputs "
            f"{tuple(app.output.shape)}, {app.count_params():,} parameters",
            "keras",
        )
        ok &= tuple(app.output.shape) == (None, 5, 5, 512)
    else:
        ev.missing("keras")
    return ev.decide("holds" if ok else "wrong")


def freeze_counts(ctx: Context) -> Decision:
    """Freezing the VGG16 base leaves only the head's 3,277,313 parameters trainable."""
    ev = Evidence()
    k = infer(get("004-vgg16-frozen")).total("keras")
    ev.add(f"reference: {k.total:,} parameters, {k.trainable:,} trainable, {k.non_trainable:,} frozen", "reference")
    ok = (k.trainable, k.non_trainable) == (3277313, 14714688)
    ok &= _framework_checks(ctx, ev, "004-vgg16-frozen")
    return ev.decide("holds" if ok else "wrong")


def finetune_last4(ctx: Context) -> Decision:
    """layers[:-4] frozen leaves block5's three convolutions (and its pooling) trainable: 7,079,424 more."""
    ev = Evidence()
    frozen, tuned = infer(get("004-vgg16-frozen")).total("keras"), infer(get("004-vgg16-finetune")).total("keras")
    ev.add(
        f"reference: trainable {frozen.trainable:,} when frozen, {tuned.trainable:,} when fine-tuning "
        f"(+{tuned.trainable - frozen.trainable:,})",
        "reference",
    )
    ok = tuned.trainable - frozen.trainable == 3 * conv_params(512, 512, 3)
    keras = ctx.keras()
    if keras is not None:
        app = keras.applications.VGG16(weights=None, include_top=False)
        last = [layer.name for layer in app.layers[-4:]]
        ev.add(f"keras.applications.VGG16's last four layers are {', '.join(last)}", "keras")
        ok &= last == ["block5_conv1", "block5_conv2", "block5_conv3", "block5_pool"]
    else:
        ev.missing("keras")
    ok &= _framework_checks(ctx, ev, "004-vgg16-finetune")
    return ev.decide("holds" if ok else "wrong")


def first_layer_advice(ctx: Context) -> Decision:
    """The note's own Fashion-MNIST model does not follow its first-layer advice (stride >= 2)."""
    ev = Evidence()
    info = infer(get("002-fashion-mnist"))
    first = info.layers[0]
    conv = first.layer
    assert isinstance(conv, L.Conv2D)  # the model starts with a convolution
    ev.add(
        f"reference: the first layer is a {conv.kernel_size}x{conv.kernel_size} convolution with "
        f"strides={conv.strides}, keeping 28x28 -> {first.output_shape[1]}x{first.output_shape[2]}",
        "reference",
    )
    return ev.decide("wrong" if conv.strides == 1 and first.output_shape[1] == 28 else "holds")


def axes_order(ctx: Context) -> Decision:
    """[2, 70, 120, 3] is [samples, height, width, channels], not [samples, width, height, channels]."""
    ev = Evidence()
    info = infer(get("002-conv2d-example"))
    crop = info.layers[0]
    ev.add(
        f"reference: CenterCrop(height=70, width=120) on 427x640 images gives (C, H, W) = "
        f"{shape(crop.output_shape)}, i.e. channels-last (70, 120, 3): axis 1 is the height",
        "reference",
    )
    ok = crop.output_shape == (3, 70, 120)
    keras = ctx.keras()
    if keras is not None:
        out = keras_call(keras.layers.CenterCrop(height=70, width=120), np.zeros((2, 427, 640, 3)))
        ev.add(f"Keras CenterCrop(height=70, width=120) on (2, 427, 640, 3): {shape(out.shape)}", "keras")
        ok &= out.shape == (2, 70, 120, 3)
    else:
        ev.missing("keras")
    return ev.decide("wrong" if ok else "holds")


def shrink_deepen(ctx: Context) -> Decision:
    """Through the Fashion-MNIST model the maps get smaller and deeper."""
    ev = Evidence()
    info = infer(get("002-fashion-mnist"))
    maps = [li.output_shape for li in info.layers if len(li.output_shape) == 3]
    sizes = sorted({s[1] for s in maps}, reverse=True)
    depths = sorted({s[0] for s in maps})
    ev.add(f"reference feature maps: sizes {sizes}, depths {depths}", "reference")
    ok = all(a[1] >= b[1] and a[0] <= b[0] for a, b in pairwise(maps))
    return ev.decide("holds" if ok else "wrong")


def simpleconvnet_formula(ctx: Context) -> Decision:
    """pool_output_size = int(FN * (conv / 2) ** 2) is the Affine input size only for an even conv output."""
    ev = Evidence()
    rows = []
    ok_even = ok_odd = True
    for size in (5, 4):
        conv = (28 - size) / 1 + 1
        formula = int(30 * (conv / 2) * (conv / 2))
        pooled = output_size(int(conv), 2, stride=2)
        real = 30 * pooled * pooled
        rows.append(f"filter {size}: conv {conv:g}, formula {formula}, real {real}")
        if conv % 2 == 0:
            ok_even &= formula == real
        else:
            ok_odd &= formula == real
    ev.add("reference with the note's formula: " + "; ".join(rows), "reference")
    return ev.decide("conditional" if ok_even and not ok_odd else "wrong")


def keras_subclass_params(ctx: Context) -> Decision:
    """Once fixed, the subclassed Keras CNN has 50,186 parameters."""
    return model_numbers("001-keras-subclass")(ctx)
