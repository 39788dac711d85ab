"""A model's table in the layout of the tool users compare with.

* ``keras``: Keras 3 ``model.summary()`` (box-drawing table, 88 characters, parameter counts with
  thousands separators, memory in parentheses at 4 bytes per float32 weight);
* ``keras2``: the Keras 2 / TF 2.x (<= 2.8) layout the notes print: 65 characters, underscore rules
  between rows, ``=`` rules around the table, names cut at 28 characters, counts without
  separators in rows and with them in the totals;
* ``torchsummary``: the ``torchsummary.summary`` layout, rows named ``Class-k`` for every
  non-container module in forward order, and its four size lines computed exactly as it does
  (4 bytes per value, batch size ``-1`` turned positive with ``abs``, the forward/backward size
  is twice the sum of every listed output);
* ``markdown`` and ``json``: the reference's own per-layer table with both parameter conventions.

Keras layouts print shapes channels-last and torchsummary channels-first whatever the model's data
format, because that is what the tool would print for the same architecture.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

from convequiv.reference import ParamCount

from . import boxtable, plan_keras, plan_torch
from . import layers as L
from .infer import LayerInfo, ModelInfo
from .model import to_layout

FORMATS = ("keras", "keras2", "torchsummary", "markdown", "json")
KERAS3_LINE_LENGTH = 88
KERAS3_POSITIONS = (0.45, 0.80, 1.0)
KERAS2_LINE_LENGTH = 65
KERAS2_POSITIONS = (29, 55, 65)
TORCHSUMMARY_WIDTH = 64
BYTES_PER_PARAM = 4


def readable_memory_size(size: float) -> str:
    """Keras 3's rendering of a byte count: ``222976 -> '217.75 KB'``."""
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def _shape(shape: Sequence[int | None]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ")"


def keras_rows(info: ModelInfo, flavor: str = "keras3") -> list[plan_keras.KerasOp]:
    """The rows of a Keras summary: one per top-level Keras layer."""
    return list(plan_keras.plan(info, flavor))


def keras_summary(info: ModelInfo, flavor: str = "keras3") -> str:
    """``model.summary()`` as Keras 3 (``flavor="keras3"``) or Keras 2 (``"keras2"``) prints it."""
    ops = plan_keras.plan(info, flavor)
    name = plan_keras.model_name(info, flavor)
    total = plan_keras.total_params(ops)
    if flavor == "keras2":
        return _keras2(name, ops, total)
    rows = [(f"{op.name} ({op.kind})", _shape((None, *op.output_shape)), f"{op.params.total:,}") for op in ops]
    lines = [f'Model: "{name}"']
    lines += boxtable.render(
        ("Layer (type)", "Output Shape", "Param #"),
        rows,
        line_length=KERAS3_LINE_LENGTH,
        positions=KERAS3_POSITIONS,
        justify=("left", "left", "right"),
    )
    for label, count in (
        ("Total", total.total),
        ("Trainable", total.trainable),
        ("Non-trainable", total.non_trainable),
    ):
        lines.append(f" {label} params: {count:,} ({readable_memory_size(count * BYTES_PER_PARAM)})")
    return "\n".join(lines) + "\n"


def _keras2_row(fields: Sequence[str]) -> str:
    line = ""
    for i, (text, stop) in enumerate(zip(fields, KERAS2_POSITIONS)):
        if i:
            line = line[:-1] + " "
        line = (line + text)[:stop]
        line += " " * (stop - len(line))
    return line


def _keras2(name: str, ops: Sequence[plan_keras.KerasOp], total: ParamCount) -> str:
    width = KERAS2_LINE_LENGTH
    lines = [f'Model: "{name}"', "_" * width, _keras2_row(("Layer (type)", "Output Shape", "Param #")), "=" * width]
    for i, op in enumerate(ops):
        shape = _shape((None, *op.output_shape))
        if op.kind == "InputLayer":
            shape = f"[{shape}]"
        lines.append(_keras2_row((f"{op.name} ({op.kind})", shape, str(op.params.total))))
        lines.append("=" * width if i == len(ops) - 1 else "_" * width)
    lines += [
        f"Total params: {total.total:,}",
        f"Trainable params: {total.trainable:,}",
        f"Non-trainable params: {total.non_trainable:,}",
        "_" * width,
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class TorchSummary:
    """torchsummary's rows and totals (sizes in MB, unrounded)."""

    rows: tuple[tuple[str, tuple[int, ...], int], ...]
    total_params: int
    trainable_params: int
    input_mb: float
    forward_backward_mb: float
    params_mb: float
    total_mb: float

    def size_lines(self) -> list[str]:
        return [
            f"Input size (MB): {self.input_mb:0.2f}",
            f"Forward/backward pass size (MB): {self.forward_backward_mb:0.2f}",
            f"Params size (MB): {self.params_mb:0.2f}",
            f"Estimated Total Size (MB): {self.total_mb:0.2f}",
        ]


def torchsummary_numbers(info: ModelInfo) -> TorchSummary:
    """Rows and sizes as ``torchsummary.summary(model, input_size)`` computes them.

    Rows: every module that is not a ``Sequential`` container, keyed ``Class-k`` in forward order,
    its output shape with batch ``-1``, and the size of its ``weight`` plus ``bias``. A row is
    trainable when its weight requires a gradient. Sizes: ``abs(prod(input) * -1 * 4 / 2**20)``,
    ``abs(2 * sum(prod(output with -1)) * 4 / 2**20)``, ``abs(total_params * 4 / 2**20)``, and the
    total adds params + forward/backward + input, in that order.
    """
    ops = plan_torch.leaves(plan_torch.plan(info))
    rows = []
    total = trainable = output = 0
    for k, op in enumerate(ops, 1):
        shape = (-1, *op.output_shape)
        count = op.params.total
        rows.append((f"{op.kind}-{k}", shape, count))
        total += count
        output += math.prod(shape)
        if count and op.params.trainable:
            trainable += count
    batch = -1
    input_mb = abs(math.prod(info.input_shape) * batch * 4.0 / (1024**2.0))
    output_mb = abs(2.0 * output * 4.0 / (1024**2.0))
    params_mb = abs(total * 4.0 / (1024**2.0))
    return TorchSummary(tuple(rows), total, trainable, input_mb, output_mb, params_mb, params_mb + output_mb + input_mb)


def torchsummary(info: ModelInfo) -> str:
    """The text ``torchsummary.summary`` prints for the model."""
    s = torchsummary_numbers(info)
    rule, double = "-" * TORCHSUMMARY_WIDTH, "=" * TORCHSUMMARY_WIDTH
    lines = [rule, "{:>20}  {:>25} {:>15}".format("Layer (type)", "Output Shape", "Param #"), double]
    for key, shape, count in s.rows:
        lines.append("{:>20}  {:>25} {:>15}".format(key, str(list(shape)), f"{count:,}"))
    lines += [
        double,
        f"Total params: {s.total_params:,}",
        f"Trainable params: {s.trainable_params:,}",
        f"Non-trainable params: {s.total_params - s.trainable_params:,}",
        rule,
        *s.size_lines(),
        rule,
    ]
    return "\n".join(lines) + "\n"


def _flat_infos(infos: Sequence[LayerInfo]) -> list[LayerInfo]:
    out: list[LayerInfo] = []
    for info in infos:
        out.append(info)
        out.extend(_flat_infos(info.children))
    return out


def _value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)


def layer_label(layer: L.Layer) -> str:
    """``Conv2D(16, 3, padding='same')``: the class, its required fields, and the fields that differ
    from their defaults (a name prefixes it; frozen layers say so)."""
    parts = []
    for f in dataclasses.fields(layer):
        if f.name in ("name", "trainable"):
            continue
        value = getattr(layer, f.name)
        if f.name == "layers":
            parts.append(f"{len(value)} layers")
        elif f.name == "connections":
            parts.append(f"connections for {len(value)} maps")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            parts.append(_value(value))
        elif value != f.default:
            parts.append(f"{f.name}={_value(value)}")
    text = f"{type(layer).__name__}({', '.join(parts)})"
    if layer.name:
        text = f"{layer.name}: {text}"
    return text if layer.trainable else f"{text}, frozen"


def _tuple(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def markdown(infos: Sequence[ModelInfo]) -> str:
    """One Markdown table per model: the reference's shapes (model's data format) and both conventions."""
    parts = []
    for info in infos:
        model = info.model
        fmt = model.data_format
        lines = [f"### {model.name}", ""]
        if model.source:
            lines += [f"Source: {model.source}", ""]
        if model.description:
            lines += [model.description, ""]
        lines += [
            f"Input shape ({fmt}): `{_shape(model.input_shape)}`",
            "",
            "| # | Layer | Output shape | Keras trainable | Keras non-trainable | PyTorch trainable "
            "| PyTorch non-trainable |",
            "|---|---|---|---:|---:|---:|---:|",
        ]
        for li in _flat_infos(info.layers):
            indent = "&nbsp;&nbsp;" * (len(li.path) - 1)
            counts = (li.keras.trainable, li.keras.non_trainable, li.torch.trainable, li.torch.non_trainable)
            lines.append(
                f"| {li.index} | {indent}{layer_label(li.layer)} | `{_tuple(to_layout(li.output_shape, fmt))}` | "
                + " | ".join(f"{n:,}" for n in counts)
                + " |"
            )
        k, t = info.total("keras"), info.total("torch")
        totals = (k.trainable, k.non_trainable, t.trainable, t.non_trainable)
        lines.append("| | **Total** | | " + " | ".join(f"**{n:,}**" for n in totals) + " |")
        lines.append("")
        lines.append(f"Keras total params: {k.total:,}; PyTorch total params: {t.total:,}.")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _count(c: ParamCount) -> dict[str, int]:
    return {"trainable": c.trainable, "non_trainable": c.non_trainable, "total": c.total}


def as_dict(info: ModelInfo) -> dict[str, object]:
    """The reference's table for one model as plain JSON-able data."""
    model = info.model
    fmt = model.data_format

    def layer(li: LayerInfo) -> dict[str, object]:
        d: dict[str, object] = {
            "index": li.index,
            "layer": type(li.layer).__name__,
            "name": li.layer.name,
            "output_shape": list(to_layout(li.output_shape, fmt)),
            "keras": _count(li.keras),
            "torch": _count(li.torch),
        }
        if li.children:
            d["children"] = [layer(ch) for ch in li.children]
        return d

    ts = torchsummary_numbers(info)
    return {
        "model": model.name,
        "source": model.source,
        "data_format": fmt,
        "input_shape": list(model.input_shape),
        "layers": [layer(li) for li in info.layers],
        "totals": {"keras": _count(info.total("keras")), "torch": _count(info.total("torch"))},
        "torchsummary": {
            "rows": len(ts.rows),
            "input_mb": round(ts.input_mb, 6),
            "forward_backward_mb": round(ts.forward_backward_mb, 6),
            "params_mb": round(ts.params_mb, 6),
            "total_mb": round(ts.total_mb, 6),
        },
    }


def as_json(infos: Sequence[ModelInfo]) -> str:
    """Every model's table as a JSON list (stable key order)."""
    return json.dumps([as_dict(i) for i in infos], indent=2) + "\n"


def render(infos: Sequence[ModelInfo], fmt: str) -> str:
    """All ``infos`` in one format (see the module docstring)."""
    if fmt == "markdown":
        return markdown(infos)
    if fmt == "json":
        return as_json(infos)
    if fmt == "torchsummary":
        return "\n".join(torchsummary(i) for i in infos)
    if fmt in ("keras", "keras2"):
        return "\n".join(keras_summary(i, "keras3" if fmt == "keras" else "keras2") for i in infos)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
