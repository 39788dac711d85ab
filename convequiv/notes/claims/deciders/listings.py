"""Deciders that run the notes' own code listings (read from the note files at run time).

A listing runs in a fresh namespace holding only the imports the note takes for granted (NumPy as
``np``; ``tf``; ``torch``/``nn``/``F``; ``keras``/``layers``) and the names earlier listings of the same
note define. "Runs as written" means exactly that; additions (a missing import, a stand-in for a
class the note never defines, a dataset replaced by arrays of the same shape, ImageNet weights
replaced by ``weights=None``) make the verdict conditional and are listed in the evidence. Without
the notes, or without the framework a listing needs, the claim is undecided.
"""

from __future__ import annotations

import collections
import sys
import types
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from convequiv.reference import conv, max_pool, max_pool_backward

from ..context import Context, Evidence, shape
from ..model import Decision
from ..notes import Listing, Namespace, Run, run_listing
from .bounds import conv_agree, conv_backward_agree


class _Missing(Exception):
    """A prerequisite (notes, framework) is not available; the message says which."""


def _listing(ctx: Context, key: str) -> Listing:
    listing = ctx.listing(key)
    if listing is None:
        raise _Missing("the notes")
    return listing


def _runs(
    ctx: Context,
    ev: Evidence,
    keys: list[str],
    namespace: Namespace,
    *,
    edit: Callable[[Listing], Listing] | None = None,
) -> list[Run]:
    """Run listings in order in one namespace; stop after the first failure."""
    runs = []
    for key in keys:
        listing = _listing(ctx, key)
        if edit is not None:
            listing = edit(listing)
        run = run_listing(listing, namespace)
        runs.append(run)
        if not run.ok:
            break
    ev.ran.add("notes")
    return runs


def _needs(ctx: Context, *names: str) -> dict[str, types.ModuleType]:
    mods: dict[str, types.ModuleType] = {}
    for name in names:
        module = ctx.tf_keras() if name == "tf" else ctx.framework(name)
        if module is None:
            raise _Missing("Keras on TensorFlow" if name == "tf" else name)
        mods[name] = module
    return mods


def _guard(fn: Callable[[Context, Evidence], Decision]) -> Callable[[Context], Decision]:
    def decide(ctx: Context) -> Decision:
        ev = Evidence()
        try:
            return fn(ctx, ev)
        except _Missing as exc:
            ev.missing(str(exc))
            return ev.undecided()

    decide.__name__ = decide.__qualname__ = fn.__name__
    decide.__module__ = fn.__module__
    decide.__doc__ = fn.__doc__
    return decide


def _status(runs: list[Run]) -> str:
    return "; ".join(r.describe() for r in runs)


# --- note 000 ---------------------------------------------------------------------------------


@_guard
def im2col(ctx: Context, ev: Evidence) -> Decision:
    """im2col runs and unrolls every window into a row of C * FH * FW values."""
    ns: Namespace = {"np": np}
    runs = _runs(ctx, ev, ["000-im2col"], ns)
    if not runs[-1].ok:
        ev.add(_status(runs))
        return ev.decide("wrong")
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(2, 3, 7, 6)), rng.normal(size=(4, 3, 3, 3))
    col = ns["im2col"](x, 3, 3, stride=2, pad=1)
    y = (col @ w.reshape(4, -1).T).reshape(2, 4, 3, 4).transpose(0, 3, 1, 2)
    ref = conv(x, w, stride=2, padding=1)
    same = conv_agree(y, ref, x, w, stride=2, padding=1)
    ok = col.shape == (2 * 4 * 3, 27) and same
    ev.add(
        f"{_status(runs)}; on (2, 3, 7, 6) with a 3x3 window, stride 2, pad 1 it returns {shape(col.shape)} "
        f"(N * OH * OW rows, C * FH * FW columns), and its rows times the filters equal the reference conv: "
        f"{'yes' if same else 'no'}",
        "reference",
    )
    return ev.decide("holds" if ok else "wrong")


@_guard
def convolution(ctx: Context, ev: Evidence) -> Decision:
    """The Convolution class (with im2col and col2im) computes the reference's forward and backward."""
    ns: Namespace = {"np": np}
    runs = _runs(ctx, ev, ["000-im2col", "000-col2im", "000-convolution"], ns)
    if not runs[-1].ok:
        ev.add(_status(runs))
        return ev.decide("wrong")
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=(2, 3, 7, 6)), rng.normal(size=(4, 3, 3, 3)), rng.normal(size=4)
    layer = ns["Convolution"](w, b, stride=2, pad=1)
    y = layer.forward(x)
    dy = rng.normal(size=y.shape)
    dx = layer.backward(dy)
    same_dx, same_dw, same_db = conv_backward_agree((dx, layer.dW, layer.db), x, w, dy, stride=2, padding=1)
    checks = {
        "forward": conv_agree(y, conv(x, w, b, stride=2, padding=1), x, w, b, stride=2, padding=1),
        "dx": same_dx,
        "dW": same_dw,
        "db": same_db,
    }
    ev.add(
        f"{_status(runs)}; stride 2, pad 1 on (2, 3, 7, 6): "
        + ", ".join(f"{k} {'matches' if v else 'DIFFERS FROM'} the reference" for k, v in checks.items()),
        "reference",
    )
    return ev.decide("holds" if all(checks.values()) else "wrong")


@_guard
def pooling(ctx: Context, ev: Evidence) -> Decision:
    """The Pooling class (pad 0) computes max pooling and routes each gradient to the first maximum."""
    ns: Namespace = {"np": np}
    runs = _runs(ctx, ev, ["000-im2col", "000-col2im", "000-pooling"], ns)
    if not runs[-1].ok:
        ev.add(_status(runs))
        return ev.decide("wrong")
    rng = np.random.default_rng(2)
    x = rng.integers(0, 3, size=(2, 3, 6, 6)).astype(float)  # small integers: many tied maxima
    layer = ns["Pooling"](2, 2, stride=2)
    y = layer.forward(x)
    dy = rng.normal(size=y.shape)
    dx = layer.backward(dy)
    # Exact operations, compared bit for bit: maxima, and 2x2 windows at stride 2 route each gradient to one cell.
    checks = {
        "forward": np.array_equal(y, max_pool(x, 2)),
        "backward (ties to the first maximum)": np.array_equal(dx, max_pool_backward(x, dy, 2, ties="first")),
    }
    ev.add(
        f"{_status(runs)}; 2x2, stride 2 on (2, 3, 6, 6) with tied values: "
        + ", ".join(f"{k} {'matches' if v else 'DIFFERS FROM'} the reference" for k, v in checks.items()),
        "reference",
    )
    return ev.decide("holds" if all(checks.values()) else "wrong")


@_guard
def pooling_pad(ctx: Context, ev: Evidence) -> Decision:
    """The Pooling class accepts a pad argument, but forward ignores it in its output size and fails."""
    ns: Namespace = {"np": np}
    runs = _runs(ctx, ev, ["000-im2col", "000-col2im", "000-pooling"], ns)
    if not runs[-1].ok:
        ev.add(_status(runs))
        return ev.undecided()
    try:
        ns["Pooling"](2, 2, stride=2, pad=1).forward(-np.ones((1, 1, 4, 4)))
        ev.add("Pooling(2, 2, stride=2, pad=1).forward runs on a 4x4 input")
        return ev.decide("holds")
    except ValueError as exc:
        ref = max_pool(-np.ones((1, 1, 4, 4)), 2, stride=2, padding=1)
        ev.add(
            f"Pooling(2, 2, stride=2, pad=1).forward on a 4x4 input raises ValueError ({exc}): out_h ignores pad "
            f"while im2col pads; the reference gives {shape(ref.shape)} filled with -1",
            "reference",
        )
        return ev.decide("wrong")


#: The arrays the stand-in layers below pass (SimpleConvNet's data and weights are float64).
Floats = NDArray[np.float64]


class _Relu:
    def forward(self, x: Floats) -> Floats:
        self.mask = x <= 0
        return np.where(self.mask, 0, x)

    def backward(self, d: Floats) -> Floats:
        return np.where(self.mask, 0, d)


class _Affine:
    def __init__(self, W: Floats, b: Floats):
        self.W, self.b = W, b

    def forward(self, x: Floats) -> Floats:
        self.shape, self.x = x.shape, x.reshape(x.shape[0], -1)
        return self.x @ self.W + self.b

    def backward(self, d: Floats) -> Floats:
        self.dW, self.db = self.x.T @ d, d.sum(axis=0)
        return (d @ self.W.T).reshape(self.shape)


class _SoftmaxWithLoss:
    def forward(self, x: Floats, t: NDArray[np.integer]) -> np.float64:
        e: Floats = np.exp(x - x.max(axis=1, keepdims=True))  # NumPy's ufuncs return Any
        self.y: Floats = e / e.sum(axis=1, keepdims=True)
        self.t = t
        loss: np.float64 = -np.mean(np.log(self.y[np.arange(len(t)), t] + 1e-7))
        return loss

    def backward(self, d: float = 1) -> Floats:
        g = self.y.copy()
        g[np.arange(len(self.t)), self.t] -= 1
        return g / len(self.t)


@_guard
def simpleconvnet(ctx: Context, ev: Evidence) -> Decision:
    """SimpleConvNet runs once OrderedDict is imported and Relu, Affine, SoftmaxWithLoss are defined."""
    ns: Namespace = {"np": np}
    runs = _runs(ctx, ev, ["000-im2col", "000-col2im", "000-convolution", "000-pooling", "000-simpleconvnet"], ns)
    try:
        ns["SimpleConvNet"]()
        as_written = "SimpleConvNet() runs as written"
    except Exception as exc:
        as_written = f"SimpleConvNet() as written raises {type(exc).__name__}: {exc}"
    ns.update(OrderedDict=collections.OrderedDict, Relu=_Relu, Affine=_Affine, SoftmaxWithLoss=_SoftmaxWithLoss)
    np.random.seed(0)
    net = ns["SimpleConvNet"]()
    x = np.random.default_rng(3).normal(size=(3, 1, 28, 28))
    t = np.array([1, 4, 7])
    scores = net.predict(x)
    grads = net.gradient(x, t)
    total = sum(v.size for v in net.params.values())
    shapes_ok = all(grads[k].shape == net.params[k].shape for k in net.params)
    ev.add(
        f"{_status(runs)}; {as_written}; with OrderedDict imported and minimal Relu, Affine and "
        f"SoftmaxWithLoss classes (the book's, not in the note) it builds {total:,} parameters "
        f"({', '.join(f'{k} {shape(v.shape)}' for k, v in net.params.items())}), predict gives "
        f"{shape(scores.shape)} and gradient() returns matching shapes: {'yes' if shapes_ok else 'no'}",
        "notes",
    )
    ok = "raises" in as_written and total == 433890 and scores.shape == (3, 10) and shapes_ok
    return ev.decide("conditional" if ok else "wrong")


@_guard
def four_d_array(ctx: Context, ev: Evidence) -> Decision:
    """The 4-D array snippet shows (10, 1, 28, 28); its indexing lines need i and j defined."""
    ns: Namespace = {"np": np}
    runs = _runs(ctx, ev, ["000-4d-array"], ns)
    ns2: Namespace = {"np": np, "i": 0, "j": 0}
    again = _runs(ctx, ev, ["000-4d-array"], ns2)
    ev.add(f"as written: {_status(runs)}; with i = j = 0: {_status(again)}, x.shape = {shape(ns2['x'].shape)}")
    ok = not runs[-1].ok and again[-1].ok and ns2["x"].shape == (10, 1, 28, 28)
    return ev.decide("conditional" if ok else "wrong")


@_guard
def visualisation(ctx: Context, ev: Evidence) -> Decision:
    """The filter visualisation script needs files and names the note does not provide."""
    ns: Namespace = {"np": np}
    runs = _runs(
        ctx,
        ev,
        ["000-im2col", "000-col2im", "000-convolution", "000-pooling", "000-simpleconvnet", "000-visualisation"],
        ns,
    )
    ev.add(
        f"{_status(runs)}; beyond that it loads params.pkl (trained weights) and ../dataset/cactus_gray.png "
        "through matplotlib and imread, none of which the note provides"
    )
    return ev.decide("wrong" if not runs[-1].ok else "holds")


# --- note 001 ---------------------------------------------------------------------------------


@_guard
def cnn_param(ctx: Context, ev: Evidence) -> Decision:
    """cnn_param runs and its two calls print 26.0 and 28.0."""
    ns: Namespace = {}
    runs = _runs(ctx, ev, ["001-cnn-param"], ns)
    values = [eval(_listing(ctx, k).text, ns) for k in ("001-cnn-param-call-1", "001-cnn-param-call-2")]
    ev.add(f"{_status(runs)}; the two calls return {values[0]!r} and {values[1]!r} (printed: 26.0, 28.0)")
    return ev.decide("holds" if runs[-1].ok and values == [26.0, 28.0] else "wrong")


def _clear_keras(ctx: Context) -> None:
    keras = ctx.keras()
    if keras is not None:
        keras.backend.clear_session()


@_guard
def keras_sequential(ctx: Context, ev: Evidence) -> Decision:
    """The tf.keras Sequential cell and its summary run; the summary's numbers are the printed ones."""
    _needs(ctx, "tf")
    _clear_keras(ctx)
    ns: Namespace = {}
    runs = _runs(ctx, ev, ["001-tf-import", "001-keras-sequential", "001-keras-summary"], ns)
    if not runs[-1].ok:
        ev.add(_status(runs), "tensorflow")
        return ev.decide("wrong")
    cnn = ns["cnn"]
    rows = [(tuple(layer.output.shape), layer.count_params()) for layer in cnn.layers]
    printed = [
        ((None, 26, 26, 32), 320),
        ((None, 13, 13, 32), 0),
        ((None, 11, 11, 64), 18496),
        ((None, 5, 5, 64), 0),
        ((None, 3, 3, 64), 36928),
    ]
    ok = rows == printed and cnn.count_params() == 55744
    summary = runs[-1].stdout.strip().splitlines()
    ev.add(
        f"{_status(runs)}; layer shapes and counts equal the printed ones: {'yes' if rows == printed else 'no'}; "
        f"count_params() = {cnn.count_params():,}; this Keras prints its own layout (last line: "
        f"{summary[-1].strip() if summary else 'nothing'})",
        "tensorflow",
        "keras",
    )
    return ev.decide("holds" if ok else "wrong")


@_guard
def keras_subclass(ctx: Context, ev: Evidence) -> Decision:
    """The subclassed tf.keras CNN can be instantiated."""
    _needs(ctx, "tf")
    ns: Namespace = {}
    runs = _runs(ctx, ev, ["001-tf-import", "001-keras-subclass"], ns)
    if not runs[-1].ok:
        ev.add(_status(runs), "tensorflow")
        return ev.decide("wrong")
    try:
        ns["CNN"]()
        ev.add(f"{_status(runs)}; CNN() succeeds", "tensorflow")
        return ev.decide("holds")
    except Exception as exc:
        ev.add(
            f"{_status(runs)} (the class statement only); CNN() raises {type(exc).__name__}: {exc}; the cell also "
            "passes filter= for filters=, uses tf.keras.Dense for tf.keras.layers.Dense and the string 'None' "
            "as an activation",
            "tensorflow",
        )
        return ev.decide("wrong")


@_guard
def torch_cnn(ctx: Context, ev: Evidence) -> Decision:
    """The PyTorch CNN runs on 1x28x28 inputs with 61,514 parameters."""
    _needs(ctx, "torch")
    ns: Namespace = {}
    runs = _runs(ctx, ev, ["001-torch-imports", "001-torch-cnn"], ns)
    if not runs[-1].ok:
        ev.add(_status(runs), "torch")
        return ev.decide("wrong")
    torch = ns["torch"]
    model = ns["CNN"]()
    with torch.no_grad():
        y = model(torch.zeros(2, 1, 28, 28))
    n = sum(p.numel() for p in model.parameters())
    ev.add(f"{_status(runs)}; CNN() on (2, 1, 28, 28) returns {shape(y.shape)}; {n:,} parameters", "torch")
    return ev.decide("holds" if tuple(y.shape) == (2, 10) and n == 61514 else "wrong")


# --- note 002 ---------------------------------------------------------------------------------


def _sample_images_stub(ev: Evidence) -> list[str]:
    """scikit-learn's two sample images are 427x640 RGB; without scikit-learn, zeros of that shape.
    Returns the module names it inserted (to remove afterwards)."""
    try:
        import sklearn.datasets  # noqa: F401

        ev.add("scikit-learn's load_sample_images supplies the two images")
        return []
    except ImportError:
        datasets = types.ModuleType("sklearn.datasets")
        vars(datasets).update(load_sample_images=lambda: {"images": [np.zeros((427, 640, 3), dtype=np.uint8)] * 2})
        package = types.ModuleType("sklearn")
        vars(package).update(datasets=datasets)
        sys.modules["sklearn"], sys.modules["sklearn.datasets"] = package, datasets
        ev.add(
            "scikit-learn is not installed: load_sample_images is replaced by two zero images of its 427x640x3 shape"
        )
        return ["sklearn", "sklearn.datasets"]


@_guard
def sample_images(ctx: Context, ev: Evidence) -> Decision:
    """The crop, Conv2D and get_weights cells print (2, 70, 120, 3), (2, 70, 120, 32), (3, 3, 3, 32), (32,)."""
    _needs(ctx, "tf")
    inserted = _sample_images_stub(ev)
    ns: Namespace = {}
    try:
        runs = _runs(ctx, ev, ["002-images", "002-images-shape", "002-conv", "002-weights"], ns)
    finally:
        for name in inserted:
            sys.modules.pop(name, None)
    if not runs[-1].ok:
        ev.add(_status(runs), "tensorflow")
        return ev.decide("wrong")
    got = (tuple(ns["images"].shape), tuple(ns["fmaps"].shape), runs[-1].stdout.split())
    ev.add(
        f"{_status(runs)}; images {shape(got[0])}, fmaps {shape(got[1])}, printed weight shapes {' '.join(got[2])}",
        "tensorflow",
    )
    ok = got[0] == (2, 70, 120, 3) and got[1] == (2, 70, 120, 32) and " ".join(got[2]) == "(3, 3, 3, 32) (32,)"
    return ev.decide("holds" if ok else "wrong")


@_guard
def fashion_model(ctx: Context, ev: Evidence) -> Decision:
    """The Fashion-MNIST Sequential builds and compiles, with 1,413,834 parameters."""
    mods = _needs(ctx, "tf")
    ns: Namespace = {"tf": mods["tf"]}
    runs = _runs(ctx, ev, ["002-fashion"], ns)
    if not runs[-1].ok:
        ev.add(_status(runs), "tensorflow")
        return ev.decide("wrong")
    n = ns["model"].count_params()
    ev.add(f"{_status(runs)}; count_params() = {n:,}", "tensorflow")
    return ev.decide("holds" if n == 1413834 else "wrong")


@_guard
def fit_error(ctx: Context, ev: Evidence) -> Decision:
    """The training cell fails with ValueError because y is passed next to a tf.data dataset."""
    mods = _needs(ctx, "tf")
    tf = mods["tf"]
    ns: Namespace = {"tf": tf}
    runs = _runs(ctx, ev, ["002-fashion"], ns)
    rng = np.random.default_rng(4)
    ns.update(X_train=rng.integers(0, 256, (64, 28, 28)).astype("uint8"), y_train=rng.integers(0, 10, 64))
    runs += _runs(ctx, ev, ["002-split", "002-preprocess", "002-preprocess-call", "002-fit"], ns) if runs[-1].ok else []
    last = runs[-1]
    ev.add(
        f"with fashion_mnist.load_data() replaced by 64 random 28x28 images and labels (no download): {_status(runs)}",
        "tensorflow",
        "keras",
    )
    return ev.decide("holds" if last.error_type == "ValueError" else "wrong")


# --- note 003 ---------------------------------------------------------------------------------


@_guard
def torch_mnist(ctx: Context, ev: Evidence) -> Decision:
    """The MNIST CNN runs on 1x28x28 inputs: 10 logits, 55,338 parameters."""
    mods = _needs(ctx, "torch")
    torch = mods["torch"]
    ns: Namespace = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional}
    runs = _runs(ctx, ev, ["003-cnn"], ns)
    if not runs[-1].ok:
        ev.add(_status(runs), "torch")
        return ev.decide("wrong")
    model = ns["CNN"]()
    with torch.no_grad():
        y = model(torch.zeros(2, 1, 28, 28))
    n = sum(p.numel() for p in model.parameters())
    ev.add(f"{_status(runs)}; CNN() on (2, 1, 28, 28) returns {shape(y.shape)}; {n:,} parameters", "torch")
    return ev.decide("holds" if tuple(y.shape) == (2, 10) and n == 55338 else "wrong")


@_guard
def keras_snippet(ctx: Context, ev: Evidence) -> Decision:
    """The Keras snippet builds a Sequential that gets its shape on first call."""
    _needs(ctx, "tf")
    ns: Namespace = {}
    runs = _runs(ctx, ev, ["003-keras"], ns)
    if not runs[-1].ok:
        ev.add(_status(runs), "tensorflow")
        return ev.decide("wrong")
    y = ns["model"](np.zeros((1, 28, 28, 1), dtype="float32"))
    n = ns["model"].count_params()
    ev.add(
        f"{_status(runs)}; called on (1, 28, 28, 1) it returns {shape(y.shape)} (stride-1 pooling: 26 -> 25); "
        f"{n} parameters",
        "tensorflow",
    )
    return ev.decide("holds" if tuple(y.shape) == (1, 25, 25, 16) and n == 160 else "wrong")


# --- note 004 ---------------------------------------------------------------------------------


def _keras_ns(ctx: Context) -> Namespace:
    keras = _needs(ctx, "keras")["keras"]
    keras.backend.clear_session()
    return {"keras": keras, "layers": keras.layers, "np": np}


def _model_listing(key: str, params: int) -> Callable[[Context], Decision]:
    @_guard
    def decide(ctx: Context, ev: Evidence) -> Decision:
        ns = _keras_ns(ctx)
        runs = _runs(ctx, ev, [key], ns)
        if not runs[-1].ok:
            ev.add(_status(runs), "keras")
            return ev.decide("wrong")
        model = ns["model"]
        ev.add(
            f"{_status(runs)} (with keras and layers imported); output {tuple(model.output.shape)}, "
            f"{model.count_params():,} parameters",
            "keras",
        )
        return ev.decide("holds" if model.count_params() == params else "wrong")

    decide.__name__ = decide.__qualname__ = f"model_listing[{key}]"
    return decide


mnist_model = _model_listing("004-mnist", 104202)
cats_model = _model_listing("004-cats", 991041)


@_guard
def augmented_model(ctx: Context, ev: Evidence) -> Decision:
    """The augmented model listing runs because '...' is a valid statement, but builds another model."""
    ns = _keras_ns(ctx)
    runs = _runs(ctx, ev, ["004-augmentation", "004-augmented-model"], ns)
    if not runs[-1].ok:
        ev.add(_status(runs), "keras")
        return ev.decide("wrong")
    model = ns["model"]
    flat = next(layer for layer in model.layers if type(layer).__name__ == "Flatten")
    ev.add(
        f"{_status(runs)}: the '...' line is an Ellipsis expression, so the Flatten directly follows the first "
        f"pooling ({tuple(flat.output.shape)}) and the model has {model.count_params():,} parameters instead of "
        "991,041 with the elided layers of the earlier convnet",
        "keras",
    )
    return ev.decide("conditional" if model.count_params() != 991041 else "holds")


@_guard
def vgg_listings(ctx: Context, ev: Evidence) -> Decision:
    """The VGG16 listings run once the ImageNet download is replaced by weights=None."""
    ns = _keras_ns(ctx)

    def offline(listing: Listing) -> Listing:
        from dataclasses import replace

        return replace(listing, text=listing.text.replace('weights="imagenet"', "weights=None"))

    keys = ["004-vgg-base", "004-head", "004-augmentation", "004-vgg-frozen-base", "004-vgg-frozen-model"]
    runs = _runs(ctx, ev, keys, ns, edit=offline)
    if not runs[-1].ok:
        ev.add(_status(runs), "keras")
        return ev.decide("wrong")
    model = ns["model"]
    frozen = (
        sum(int(np.prod(w.shape)) for w in model.trainable_weights),
        sum(int(np.prod(w.shape)) for w in model.non_trainable_weights),
    )
    runs += _runs(ctx, ev, ["004-finetune"], ns, edit=offline)
    tuned = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    ev.add(
        f"with weights='imagenet' replaced by weights=None (no download): {_status(runs)}; the frozen model has "
        f"{frozen[0]:,} trainable and {frozen[1]:,} non-trainable parameters, {tuned:,} trainable after the "
        "fine-tuning cell",
        "keras",
    )
    ok = frozen == (3277313, 14714688) and tuned == 3277313 + 7079424
    return ev.decide("conditional" if ok else "wrong")
