"""Every catalogue model built in each installed framework equals the reference, layer by layer.

Keras (with this process's backend): class, name, output shape, trainable and non-trainable counts
of every layer, and ``model.summary()``'s text against :func:`convequiv.notes.models.render.keras_summary`;
``keras.applications.VGG16(weights=None)`` against the VGG16 descriptions. PyTorch: the modules a
torchsummary-style hook sees (class, output shape, weight + bias count, trainability) and the
``parameters()`` totals. Each test skips only when its framework is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest

from convequiv.notes.models import catalogue, get, infer
from convequiv.notes.models.check import check_keras, check_torch

NAMES = catalogue.names()


@pytest.mark.torch
@pytest.mark.parametrize("name", NAMES)
def test_torch_build_matches_reference(torch, name):
    assert check_torch(infer(get(name))) == []


@pytest.mark.keras
@pytest.mark.parametrize("name", NAMES)
def test_keras_build_matches_reference(keras, name):
    assert check_keras(infer(get(name))) == []


@pytest.mark.torch
def test_torch_build_is_a_sequential_and_runs(torch):
    from convequiv.notes.models.build_torch import build

    net = build(get("lenet5-1998"))
    assert isinstance(net, torch.nn.Sequential)
    with torch.no_grad():
        y = net.eval()(torch.rand(3, 1, 32, 32))
    assert tuple(y.shape) == (3, 10)
    c3 = net[4]
    assert type(c3).__name__ == "PartialConv2d" and c3.weight.numel() == 1500
    rbf = net[-1]
    assert not rbf.weight.requires_grad


@pytest.mark.torch
def test_partial_conv_only_uses_its_connections(torch):
    from convequiv.notes.models.build_torch import build
    from convequiv.notes.models.classics import LENET5_C3_TABLE

    net = build(get("lenet5-1998"))
    c3 = net[4]
    x = torch.zeros(1, 6, 14, 14)
    x[0, 0] = 1.0  # only S2 map 0 is non-zero
    with torch.no_grad():
        y = c3(x) - c3.bias[None, :, None, None]
    touched = {o for o in range(16) if y[0, o].abs().sum() > 0}
    assert touched == {o for o, inputs in enumerate(LENET5_C3_TABLE) if 0 in inputs}


@pytest.mark.keras
def test_keras_build_runs_custom_layers(keras):
    from convequiv.notes.models.build_keras import build

    for name, shape in (
        ("lenet5-1998", (2, 32, 32, 1)),
        ("alexnet", (1, 227, 227, 3)),
        ("003-torch-mnist", (2, 28, 28, 1)),
    ):
        model = build(get(name))
        y = keras.ops.convert_to_numpy(model(np.random.default_rng(0).normal(size=shape).astype("float32")))
        assert y.shape[0] == shape[0] and np.isfinite(y).all(), name


@pytest.mark.keras
def test_keras_neg_inf_padding_never_wins(keras):
    """003's MaxPool2d(2, 2, padding=1) becomes -inf padding + valid pooling in Keras."""
    from convequiv.notes.models import Model
    from convequiv.notes.models import layers as L
    from convequiv.notes.models.build_keras import build
    from convequiv.reference import max_pool

    model = build(Model("p", (1, 4, 4), (L.MaxPooling2D(2, strides=2, padding=1),), data_format="channels_first"))
    x = -1.0 - np.arange(16.0).reshape(1, 4, 4, 1)
    y = keras.ops.convert_to_numpy(model(x.astype("float32")))
    want = max_pool(np.moveaxis(x, -1, 1), 2, stride=2, padding=1)
    assert np.array_equal(np.moveaxis(y, -1, 1), want)
