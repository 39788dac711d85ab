"""Model descriptions: errors name the layer and the reason; conventions; framework plans.

A zoo of small synthetic models exercises every layer kind, both parameter conventions, explicit
and asymmetric padding, ceil mode, frozen layers and nesting; the zoo is also built in each
installed framework and compared layer by layer.
"""

from __future__ import annotations

import pytest

from convequiv.notes.models import DescriptionError, Model, infer
from convequiv.notes.models import layers as L
from convequiv.notes.models.check import check_keras, check_torch
from convequiv.notes.models.plan_keras import plan as keras_plan
from convequiv.notes.models.plan_torch import UnsupportedLayer, leaves
from convequiv.notes.models.plan_torch import plan as torch_plan


def first(*layers, shape=(3, 16, 16), **kwargs) -> Model:
    return Model("t", shape, tuple(layers), data_format="channels_first", **kwargs)


class NotALayer:
    pass


@pytest.mark.parametrize(
    ("model", "where", "reason"),
    [
        (first(L.Conv2D(4, 3), NotALayer()), "layer 1 (NotALayer)", "unknown layer"),
        (first(L.Conv2D(4, 3), L.Layer()), "layer 1 (Layer)", "unknown layer type"),
        (first(L.Conv2D(4, 3), L.Dense(10)), "layer 1 (Dense)", "expects a flat input"),
        (first(L.Conv2D(4, 20)), "layer 0 (Conv2D)", "output size"),
        (
            first(L.Conv2D(4, 3), L.MaxPooling2D(2), L.MaxPooling2D(2), L.MaxPooling2D(2), L.Conv2D(4, 3)),
            "layer 4 (Conv2D)",
            "output size",
        ),
        (first(L.MaxPooling2D(2, padding="full")), "layer 0 (MaxPooling2D)", "padding"),
        (first(L.Conv2D(4, 3, groups=2)), "layer 0 (Conv2D)", "groups=2 must divide"),
        (first(L.Conv2D(4, 3), L.DepthPool(3)), "layer 1 (DepthPool)", "must divide the 4 channels"),
        (first(L.Conv2D(4, 3, activation="gelu")), "layer 0 (Conv2D)", "unknown activation"),
        (first(L.Conv2D(0, 3)), "layer 0 (Conv2D)", "filters must be a positive int"),
        (first(L.Conv1D(4, 3)), "layer 0 (Conv1D)", "1 spatial dimension"),
        (first(L.CenterCrop(20, 4)), "layer 0 (CenterCrop)", "does not fit"),
        (first(L.Dropout(1.5)), "layer 0 (Dropout)", "rate must be in [0, 1)"),
        (first(L.Flatten(), L.Block(layers=(L.Dense(4), L.Conv2D(2, 1)))), "layer 1.1 (Conv2D)", "expects a (C, n, n)"),
        (first(L.PartialConv2D(2, 3, ((0, 1), (7,)))), "layer 0 (PartialConv2D)", "connections[1]"),
        (first(L.VGGPreprocess(), shape=(4, 8, 8)), "layer 0 (VGGPreprocess)", "RGB"),
        (first(L.Conv2D(4, (3, 3, 3))), "layer 0 (Conv2D)", "kernel_size must be an int or 2 ints"),
    ],
)
def test_bad_descriptions_name_layer_and_reason(model, where, reason):
    with pytest.raises(ValueError) as info:
        infer(model)
    assert isinstance(info.value, DescriptionError)
    assert str(info.value).startswith(where), str(info.value)
    assert reason in str(info.value)


def test_bad_input_shape():
    with pytest.raises(ValueError, match="input_shape"):
        infer(Model("t", (0, 28, 28), (L.Flatten(),)))
    with pytest.raises(ValueError, match="data_format"):
        infer(Model("t", (28, 28, 1), (L.Flatten(),), data_format="nhwc"))


def test_batchnorm_conventions_differ():
    info = infer(first(L.Conv2D(8, 3), L.BatchNormalization(), L.Flatten(), L.Dense(4), L.BatchNormalization()))
    bn, bn_flat = info.layers[1], info.layers[4]
    assert (bn.keras.trainable, bn.keras.non_trainable) == (16, 16)
    assert (bn.torch.trainable, bn.torch.non_trainable) == (16, 0)
    assert (bn_flat.keras.total, bn_flat.torch.total) == (16, 8)


def test_depthwise_and_separable_counts():
    info = infer(first(L.DepthwiseConv2D(3, depth_multiplier=2), L.SeparableConv2D(10, 3), shape=(4, 9, 9)))
    dw, sep = info.layers
    assert dw.output_shape == (8, 7, 7) and dw.keras.total == 8 * 9 + 8
    assert sep.output_shape == (10, 5, 5) and sep.keras.total == 8 * 9 + 8 * 10 + 10 == sep.torch.total


def test_conv1d_and_conv3d_shapes():
    one = infer(first(L.Conv1D(5, 3, strides=2, padding="same"), L.MaxPooling1D(2), shape=(2, 17)))
    assert [li.output_shape for li in one.layers] == [(5, 9), (5, 4)]
    three = infer(
        first(L.Conv3D(4, (3, 3, 1), dilation_rate=(2, 1, 1)), L.GlobalAveragePooling3D(), shape=(2, 9, 8, 7))
    )
    assert three.layers[0].output_shape == (4, 5, 6, 7)
    assert three.layers[0].keras.total == 4 * 2 * 9 + 4
    assert three.layers[1].output_shape == (4,)


def test_frozen_layers_are_non_trainable_in_both_conventions():
    info = infer(first(L.Conv2D(4, 3, trainable=False), L.Block(layers=(L.Conv2D(2, 1),), trainable=False)))
    assert [li.keras.trainable for li in info.layers] == [0, 0]
    assert [li.torch.non_trainable for li in info.layers] == [112, 10]


def test_keras_plan_pads_explicitly_when_same_does_not_fit():
    info = infer(
        first(
            L.Conv2D(4, 3, padding=((0, 2), (1, 1))),
            L.MaxPooling2D(2, strides=2, padding=1),
            L.MaxPooling2D(2, strides=2, padding=1, ceil_mode=True),
            L.MaxPooling2D(2, ceil_mode=True),
        )
    )
    kinds = [op.kind for op in keras_plan(info)]
    assert kinds == [
        "ZeroPadding2D",
        "Conv2D",
        "NegInfPadding2D",
        "MaxPooling2D",
        "NegInfPadding2D",
        "MaxPooling2D",
        "MaxPooling2D",
    ]
    assert [op.output_shape[0] for op in keras_plan(info)] == [18, 16, 18, 9, 11, 5, 3]
    assert keras_plan(info)[-1].args["padding"] == "same"  # ceil mode on 5 is what 'same' does


def test_keras_plan_uses_same_when_equivalent():
    info = infer(first(L.Conv2D(4, 3, padding=1), L.Conv2D(4, 5, padding=2, strides=1)))
    assert [(op.kind, op.args["padding"]) for op in keras_plan(info)] == [("Conv2D", "same"), ("Conv2D", "same")]


def test_torch_plan_splits_activations_and_asymmetric_pads():
    info = infer(
        first(
            L.Conv2D(4, 4, padding="same", activation="relu"),
            L.MaxPooling2D(2, strides=2, padding="same"),
            L.GlobalAveragePooling2D(),
            shape=(3, 15, 15),
        )
    )
    ops = leaves(torch_plan(info))
    assert [op.kind for op in ops] == [
        "ZeroPad2d",
        "Conv2d",
        "ReLU",
        "ConstantPad2d",
        "MaxPool2d",
        "AdaptiveAvgPool2d",
        "Flatten",
    ]
    assert ops[0].output_shape == (3, 18, 18)
    assert ops[3].args["value"] == float("-inf")


def test_torch_plan_uses_ceil_mode_for_trailing_excluded_pads():
    info = infer(first(L.AveragePooling2D(2, strides=2, padding="same"), shape=(3, 15, 15)))
    (op,) = leaves(torch_plan(info))
    assert (op.kind, op.args["padding"], op.args["ceil_mode"], op.output_shape) == (
        "AvgPool2d",
        (0, 0),
        True,
        (3, 8, 8),
    )


def test_torch_plan_refuses_what_it_cannot_express():
    info = infer(first(L.AveragePooling2D(4, strides=2, padding="same", count_include_pad=False), shape=(3, 15, 15)))
    with pytest.raises(UnsupportedLayer, match=r"layer 0 \(AveragePooling2D\)"):
        torch_plan(info)


def test_keras_names_follow_keras():
    info = infer(
        Model(
            "t",
            (8, 8, 3),
            (L.Conv2D(2, 3), L.Conv2D(2, 3), L.Block(layers=(L.Flatten(),)), L.Dense(2)),
            api="functional",
        )
    )
    assert [op.name for op in keras_plan(info, "keras3")] == [
        "input_layer",
        "conv2d",
        "conv2d_1",
        "sequential",
        "dense",
    ]
    assert keras_plan(info, "keras2")[0].name == "input_1"


ZOO = {
    "bn-sep-dw": first(
        L.Conv2D(8, 3, padding="same"),
        L.BatchNormalization(),
        L.Activation("relu"),
        L.DepthwiseConv2D(3, depth_multiplier=2),
        L.SeparableConv2D(6, 3, padding="same"),
        L.GlobalMaxPooling2D(),
        L.Dense(4),
        L.BatchNormalization(),
    ),
    "pads": first(
        L.ZeroPadding2D(((1, 0), (2, 1))),
        L.Conv2D(4, 3, padding=((0, 2), (1, 1))),
        L.MaxPooling2D(2, strides=2, padding=1),
        L.AveragePooling2D(3, strides=2, padding=1),
        L.MaxPooling2D(2, ceil_mode=True),
        shape=(3, 17, 16),
    ),
    "avg-same": Model(
        "t", (15, 15, 3), (L.AveragePooling2D(2, strides=2, padding="same"), L.Conv2D(2, 2, strides=2, padding="same"))
    ),
    "1d": first(
        L.ZeroPadding1D(((1, 0),)),
        L.Conv1D(4, 3, padding=((0, 2),)),
        L.Conv1D(4, 3, padding="same"),
        L.MaxPooling1D(2, padding=((0, 1),)),
        L.GlobalAveragePooling1D(),
        shape=(2, 20),
    ),
    "3d": first(L.Conv3D(4, 3), L.MaxPooling3D(2), L.Flatten(), shape=(2, 8, 8, 6)),
    "pre": Model(
        "t",
        (40, 50, 3),
        (
            L.Resizing(30, 30),
            L.CenterCrop(20, 24),
            L.Rescaling(0.5, 1.0),
            L.RandomFlip("horizontal"),
            L.RandomRotation(0.1),
            L.RandomZoom(0.2),
            L.VGGPreprocess(),
            L.LocalResponseNorm(3),
            L.DepthPool(3),
        ),
        api="functional",
    ),
    "frozen": Model(
        "t",
        (12, 12, 2),
        (
            L.Conv2D(4, 3, trainable=False),
            L.Block(layers=(L.Conv2D(2, 1), L.BatchNormalization()), trainable=False),
            L.Flatten(),
            L.Dense(3, activation="softmax"),
        ),
        api="functional",
    ),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_torch(torch, name):
    assert check_torch(infer(ZOO[name])) == []


@pytest.mark.keras
@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_keras(keras, name):
    info = infer(ZOO[name])
    assert check_keras(info) == []


@pytest.mark.keras
def test_check_reports_a_mismatch(keras, monkeypatch):
    """The cross-check can fail: a plan that disagrees with the framework is caught and named."""
    from dataclasses import replace

    import convequiv.notes.models.check as check

    info = infer(ZOO["bn-sep-dw"])
    real = check.keras_plan

    def wrong(model_info, flavor="keras3"):
        ops = list(real(model_info, flavor))
        ops[1] = replace(ops[1], output_shape=(16, 16, 9))
        return tuple(ops)

    monkeypatch.setattr(check, "keras_plan", wrong)
    found = check.check_keras(info)
    assert found and "layer 1 (batch_normalization)" in str(found[0]) and "output shape" in str(found[0])


@pytest.mark.torch
def test_torch_check_reports_a_mismatch(torch, monkeypatch):
    from dataclasses import replace

    import convequiv.notes.models.check as check
    from convequiv.reference import ParamCount

    info = infer(ZOO["bn-sep-dw"])
    real = check.torch_plan

    def wrong(model_info):
        ops = list(real(model_info))
        ops[1] = replace(ops[1], params=ParamCount(32, 0))  # BatchNorm2d counted the Keras way
        return tuple(ops)

    monkeypatch.setattr(check, "torch_plan", wrong)
    found = check.check_torch(info)
    assert found and "BatchNorm2d" in str(found[0])
