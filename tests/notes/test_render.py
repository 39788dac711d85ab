"""Table layouts: Keras 3 (rich's box table), Keras 2, torchsummary, Markdown and JSON."""

from __future__ import annotations

import json

import pytest

from convequiv.notes.models import Model, get, infer
from convequiv.notes.models import layers as L
from convequiv.notes.models.boxtable import column_widths, wrap
from convequiv.notes.models.render import (
    _keras2_row,
    as_json,
    keras_summary,
    markdown,
    readable_memory_size,
    render,
    torchsummary,
)

# What Keras 3.15 prints for the 001 convnet (model.summary(line_length=88)).
KERAS3_001 = """\
Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━┓
┃ Layer (type)                         ┃ Output Shape                ┃         Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━┩
│ conv2d (Conv2D)                      │ (None, 26, 26, 32)          │             320 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ max_pooling2d (MaxPooling2D)         │ (None, 13, 13, 32)          │               0 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ conv2d_1 (Conv2D)                    │ (None, 11, 11, 64)          │          18,496 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ max_pooling2d_1 (MaxPooling2D)       │ (None, 5, 5, 64)            │               0 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ conv2d_2 (Conv2D)                    │ (None, 3, 3, 64)            │          36,928 │
└──────────────────────────────────────┴─────────────────────────────┴─────────────────┘
 Total params: 55,744 (217.75 KB)
 Trainable params: 55,744 (217.75 KB)
 Non-trainable params: 0 (0.00 B)
"""


def test_keras3_layout():
    assert keras_summary(infer(get("001-keras-convnet"))) == KERAS3_001


def test_keras3_column_widths_follow_rich():
    assert column_widths(88, (0.45, 0.80, 1.0)) == [38, 29, 17]
    assert sum(column_widths(88, (0.45, 0.80, 1.0))) + 4 == 88


def test_wrap_breaks_at_spaces_and_cuts_long_words():
    assert wrap("batch_normalization (BatchNormalization)", 36) == ["batch_normalization", "(BatchNormalization)"]
    assert wrap("a_rather_long_layer_name_that_keeps_going_on (Flatten)", 36) == [
        "a_rather_long_layer_name_that_keeps…",
        "(Flatten)",
    ]
    assert wrap("", 5) == [""]


def test_keras3_wrapped_row_and_non_trainable():
    text = keras_summary(infer(Model("t", (28, 28, 1), (L.Conv2D(8, 3), L.BatchNormalization(), L.Flatten()))))
    assert "│ batch_normalization                  │ (None, 26, 26, 8)           │              32 │" in text
    assert "│ (BatchNormalization)                 │                             │                 │" in text
    assert text.endswith(" Non-trainable params: 16 (64.00 B)\n")


def test_readable_memory_size():
    assert readable_memory_size(55744 * 4) == "217.75 KB"
    assert readable_memory_size(0) == "0.00 B"
    assert readable_memory_size(17992001 * 4) == "68.63 MB"
    assert readable_memory_size(138357544 * 4) == "527.79 MB"


def test_keras2_row_cuts_names_like_keras2():
    row = _keras2_row(("max_pooling2d_1 (MaxPooling2D)", "(None, 5, 5, 64)", "0"))
    assert row.startswith("max_pooling2d_1 (MaxPooling2 (None, 5, 5, 64)          0")
    assert len(row) == 65


def test_keras2_functional_input_row():
    text = keras_summary(infer(get("004-mnist-convnet")), "keras2")
    assert "input_1 (InputLayer)         [(None, 28, 28, 1)]       0" in text
    assert text.splitlines()[0] == 'Model: "model"'
    assert "Total params: 104,202" in text and "conv2d_2 (Conv2D)            (None, 3, 3, 128)         73856" in text


def test_torchsummary_layout_for_frozen_and_fixed_weights():
    text = torchsummary(infer(get("lenet5-1998")))
    assert "     PartialConv2d-5           [-1, 16, 10, 10]           1,516" in text
    assert "Trainable params: 60,000\nNon-trainable params: 840\n" in text


def test_markdown_and_json():
    infos = [infer(get("003-torch-mnist")), infer(get("004-vgg16-frozen"))]
    md = markdown(infos)
    assert "### 003-torch-mnist" in md and "| 6 | Flatten(functional=True) | `(1568,)` |" in md
    assert "| 2.2 | &nbsp;&nbsp;block1_pool: MaxPooling2D(2, strides=2) | `(90, 90, 64)` | 0 | 0 | 0 | 0 |" in md
    assert "| 2 | vgg16: Block(18 layers, application='vgg16'), frozen |" in md
    data = json.loads(as_json(infos))
    assert data[1]["totals"]["keras"] == {"trainable": 3277313, "non_trainable": 14714688, "total": 17992001}
    # 35,658 float32 outputs, forward and backward: an integer over a power of two, exact, then rounded to 6 decimals
    assert data[0]["torchsummary"]["forward_backward_mb"] == round(2 * 35658 * 4 / 2**20, 6) == 0.272049
    assert data[1]["layers"][2]["children"][0]["name"] == "block1_conv1"


def test_render_rejects_unknown_format():
    with pytest.raises(ValueError, match="format"):
        render([infer(get("lenet5"))], "csv")
