"""Framework-built models against the reference, and the reference against the notes' numbers.

Three independent comparisons, each producing :class:`Mismatch` es that name the layer:

* :func:`check_printed`: the reference's tables against every number a note prints about the
  model (:mod:`convequiv.notes.models.printed`): rows, shapes, parameter counts, totals, torchsummary's
  size lines. Needs no framework.
* :func:`check_keras`: the model built by :mod:`~convequiv.notes.models.build_keras` (with the process's
  Keras backend), layer by layer: class, name, output shape, trainable and non-trainable counts;
  then Keras' own ``model.summary()`` text against :func:`~convequiv.notes.models.render.keras_summary`;
  for ``keras.applications`` models also ``keras.applications.VGG16(weights=None)`` itself.
* :func:`check_torch`: the model built by :mod:`~convequiv.notes.models.build_torch`, run on a batch of
  2 with forward hooks on every non-container module (torchsummary's rule): module class, output
  shape, ``weight`` + ``bias`` count, trainability; then ``parameters()`` totals.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .infer import ModelInfo
from .model import to_layout
from .plan_keras import plan as keras_plan
from .plan_keras import total_params as keras_total
from .plan_torch import leaves
from .plan_torch import plan as torch_plan
from .plan_torch import total_params as torch_total
from .printed import Printed, printed_for
from .render import keras_summary, torchsummary_numbers

if TYPE_CHECKING:
    from torch import nn

#: A Keras layer or model (Keras ships no type information).
KerasLayer = Any
#: A Keras shape: ``None`` where unknown (the batch axis).
KerasShape = tuple[int | None, ...]

#: keras.applications models a description must equal: constructor arguments.
APPLICATIONS = {
    "vgg16": {"include_top": True, "input_shape": (224, 224, 3)},
    "vgg16-notop": {"include_top": False, "input_shape": (224, 224, 3)},
    "004-vgg16-base": {"include_top": False, "input_shape": (180, 180, 3)},
}


@dataclass(frozen=True)
class Mismatch:
    """One disagreement: ``where`` names the comparison, ``layer`` the row or layer."""

    model: str
    where: str
    layer: str
    what: str
    expected: object
    got: object

    def __str__(self) -> str:
        return f"{self.model}: {self.where}: {self.layer}: {self.what}: expected {self.expected!r}, got {self.got!r}"


class _Collector:
    def __init__(self, model: str, where: str):
        self.model, self.where = model, where
        self.found: list[Mismatch] = []

    def compare(self, layer: str, what: str, expected: object, got: object) -> None:
        if expected != got:
            self.found.append(Mismatch(self.model, self.where, layer, what, expected, got))


# --- the notes' printed numbers ---------------------------------------------------------------


def _check_printed_one(info: ModelInfo, p: Printed) -> list[Mismatch]:
    c = _Collector(info.model.name, f"note {p.note} {p.lines}")
    if p.layout in ("keras2", "keras2.9"):
        from .plan_keras import model_name

        ops = keras_plan(info, "keras2")
        c.compare("model", "model name", p.model_name, model_name(info, "keras2"))
        c.compare("model", "number of rows", len(p.rows), len(ops))
        for i, (row, op) in enumerate(zip(p.rows, ops)):
            name, kind, shape, count = row
            label = f"row {i} ({name})"
            c.compare(label, "name", name, op.name)
            c.compare(label, "class", kind, op.kind)
            c.compare(label, "output shape", shape, (None, *op.output_shape))
            c.compare(label, "parameters", count, op.params.total)
        total = keras_total(ops)
        _totals(c, p, total.total, total.trainable, total.non_trainable)
    elif p.layout == "torchsummary":
        ts = torchsummary_numbers(info)
        c.compare("model", "number of rows", len(p.rows), len(ts.rows))
        for i, (row, got) in enumerate(zip(p.rows, ts.rows)):
            c.compare(f"row {i} ({row[0]})", "row", row, got)
        _totals(c, p, ts.total_params, ts.trainable_params, ts.total_params - ts.trainable_params)
        labels = ("Input size (MB)", "Forward/backward pass size (MB)", "Params size (MB)", "Estimated Total Size (MB)")
        for label, want, line in zip(labels, p.sizes, ts.size_lines()):
            c.compare("sizes", label, want, line.rsplit(": ", 1)[1])
    elif p.layout == "shapes":
        for index, shape in p.shapes:
            li = info.layers[index]
            got_shape = (shape[0], *to_layout(li.output_shape, "channels_last"))
            c.compare(f"layer {index} ({type(li.layer).__name__})", "output shape", shape, got_shape)
        if p.weights:
            li = info.layers[-1]
            k = li.layer.kernel_size  # type: ignore[attr-defined]
            kernel = (k, k) if isinstance(k, int) else tuple(k)
            got_w = ((*kernel, li.input_shape[0], li.output_shape[0]), (li.output_shape[0],))
            c.compare(f"layer {len(info.layers) - 1} ({type(li.layer).__name__})", "weight shapes", p.weights, got_w)
    return c.found


def _totals(c: _Collector, p: Printed, total: int, trainable: int, non_trainable: int) -> None:
    for label, want, got in (
        ("Total params", p.total, total),
        ("Trainable params", p.trainable, trainable),
        ("Non-trainable params", p.non_trainable, non_trainable),
    ):
        if want is not None:
            c.compare("totals", label, want, got)


def check_printed(info: ModelInfo) -> list[Mismatch]:
    """Every number the notes print about the model against the reference."""
    found: list[Mismatch] = []
    for p in printed_for(info.model.name):
        found += _check_printed_one(info, p)
    return found


# --- Keras ------------------------------------------------------------------------------------


def _keras_counts(layer: KerasLayer) -> tuple[int, int]:
    trainable = sum(math.prod(w.shape) for w in layer.trainable_weights)
    frozen = sum(math.prod(w.shape) for w in layer.non_trainable_weights)
    return int(trainable), int(frozen)


def _output_shape(layer: KerasLayer) -> KerasShape:
    # As Keras' own summary: the output of the layer's last call (a nested model's ``output`` is
    # its inner graph's, which may have unknown sizes).
    nodes = getattr(layer, "_inbound_nodes", None)
    if nodes:
        outputs = nodes[-1].output_tensors
        tensor = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
        return tuple(tensor.shape)
    return tuple(layer.output.shape)


def keras_rows(model: KerasLayer) -> list[tuple[str, str, KerasShape, tuple[int, int]]]:
    """``(name, class, output shape, (trainable, non-trainable))`` of a built Keras model's layers."""
    return [(layer.name, type(layer).__name__, _output_shape(layer), _keras_counts(layer)) for layer in model.layers]


def _summary_text(model: KerasLayer) -> str:
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "200"  # rich would crop lines at a narrow terminal's width
    try:
        out: list[str] = []
        model.summary(line_length=88, print_fn=lambda text, **_: out.append(text))
        return "".join(out)
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def check_keras(info: ModelInfo) -> list[Mismatch]:
    """The Keras build against the reference (see the module docstring)."""
    from .build_keras import build

    name = info.model.name
    c = _Collector(name, "keras")
    model = build(info)
    ops = [op for op in keras_plan(info, "keras3") if op.kind != "InputLayer" or info.model.api == "functional"]
    rows = keras_rows(model)
    c.compare("model", "number of layers", len(ops), len(rows))
    for i, (op, row) in enumerate(zip(ops, rows)):
        label = f"layer {i} ({op.name})"
        c.compare(label, "name", op.name, row[0])
        c.compare(label, "class", op.kind, row[1])
        c.compare(label, "output shape", (None, *op.output_shape), row[2])
        c.compare(
            label, "parameters (trainable, non-trainable)", (op.params.trainable, op.params.non_trainable), row[3]
        )
    total = (sum(op.params.trainable for op in ops), sum(op.params.non_trainable for op in ops))
    got_total = (
        int(sum(math.prod(w.shape) for w in model.trainable_weights)),
        int(sum(math.prod(w.shape) for w in model.non_trainable_weights)),
    )
    c.compare("model", "total (trainable, non-trainable)", total, got_total)
    if not c.found:
        mine, theirs = keras_summary(info).rstrip("\n"), _summary_text(model).rstrip("\n")
        if mine != theirs:
            for i, (a, b) in enumerate(zip(mine.splitlines() + [""] * 99, theirs.splitlines())):
                if a != b:
                    c.compare(f"summary line {i}", "text", a, b)
                    break
    if name in APPLICATIONS:
        c.found += _check_application(info)
    return c.found


def _check_application(info: ModelInfo) -> list[Mismatch]:
    import keras

    c = _Collector(info.model.name, "keras.applications.VGG16(weights=None)")
    app = keras.applications.VGG16(weights=None, **APPLICATIONS[info.model.name])
    ops = keras_plan(info, "keras3")[1:]
    rows = keras_rows(app)[1:]
    c.compare("model", "number of layers", len(ops), len(rows))
    for i, (op, row) in enumerate(zip(ops, rows)):
        label = f"layer {i} ({op.name})"
        c.compare(label, "name", op.name, row[0])
        c.compare(label, "class", op.kind, row[1])
        c.compare(label, "output shape", (None, *op.output_shape), row[2])
        c.compare(label, "parameters", (op.params.trainable, op.params.non_trainable), row[3])
    return c.found


# --- PyTorch ----------------------------------------------------------------------------------


def torch_rows(
    net: nn.Module, input_shape: tuple[int, ...], batch: int = 2
) -> list[tuple[str, tuple[int, ...], int, bool | None]]:
    """torchsummary's rows of a built module: ``(Class-k, output shape with -1, weight+bias count,
    weight.requires_grad)`` for every non-container module, in the order their forward ends."""
    import torch
    from torch import nn

    rows: list[tuple[str, tuple[int, ...], int, bool | None]] = []

    def hook(module: nn.Module, inputs: tuple[object, ...], output: torch.Tensor) -> None:
        count, trainable = 0, None
        weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
        if weight is not None and hasattr(weight, "size"):
            count += weight.numel()
            trainable = bool(weight.requires_grad)
        if bias is not None and hasattr(bias, "size"):
            count += bias.numel()
        rows.append((f"{type(module).__name__}-{len(rows) + 1}", (-1, *output.shape[1:]), int(count), trainable))

    handles = [
        m.register_forward_hook(hook)
        for m in net.modules()
        if not isinstance(m, (nn.Sequential, nn.ModuleList)) and m is not net
    ]
    try:
        torch.manual_seed(0)
        with torch.no_grad():
            net(torch.rand(batch, *input_shape))
    finally:
        for h in handles:
            h.remove()
    return rows


def check_torch(info: ModelInfo) -> list[Mismatch]:
    """The PyTorch build against the reference (see the module docstring)."""
    from .build_torch import build

    c = _Collector(info.model.name, "torch")
    net = build(info)
    ops = torch_plan(info)
    expected = leaves(ops)
    rows = torch_rows(net, info.input_shape)
    c.compare("model", "number of listed modules", len(expected), len(rows))
    for k, (op, row) in enumerate(zip(expected, rows), 1):
        label = f"module {k} ({op.kind}, layer {'.'.join(map(str, op.path))})"
        c.compare(label, "class", op.kind, row[0].rsplit("-", 1)[0])
        c.compare(label, "output shape", (-1, *op.output_shape), row[1])
        c.compare(label, "parameters", op.params.total, row[2])
        if op.params.total:
            c.compare(label, "trainable", op.params.trainable > 0, row[3])
    want = torch_total(ops)
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in net.parameters() if not p.requires_grad)
    c.compare("model", "parameters() (trainable, frozen)", (want.trainable, want.non_trainable), (trainable, frozen))
    ref = info.total("torch")
    c.compare(
        "model", "reference total (trainable, non-trainable)", (ref.trainable, ref.non_trainable), (trainable, frozen)
    )
    return c.found
