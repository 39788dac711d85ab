"""Parameter counts: the formulas of reference.params against hand-counted layers and the model
summaries printed in the notes (Keras and PyTorch conventions), with the spatial sizes those
summaries print recomputed by output_size."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convequiv import reference
from convequiv.reference import ParamCount


def test_conv2d_32_filters_3x3_on_3_channels_has_896():
    """Conv2D(32, 3) on 3 channels: 32 * 3 * 3 * 3 weights + 32 biases = 896 (864 without bias)."""
    assert reference.conv_params(3, 32, 3) == 896
    assert reference.conv_params(3, 32, (3, 3)) == 896
    assert reference.conv_params(3, 32, 3, bias=False) == 864


def test_conv_params_groups_and_dimensions():
    """O * (C / groups) * prod(kernel) + O: groups divide the weight count, an int kernel is a
    square / cube in ``ndim`` dimensions, a tuple kernel sets its own dimensionality."""
    assert reference.conv_params(8, 16, 3, groups=4) == 16 * 2 * 9 + 16
    assert reference.conv_params(8, 8, 5, groups=8) == 8 * 25 + 8
    assert reference.conv_params(3, 4, 3, ndim=1) == 4 * 3 * 3 + 4
    assert reference.conv_params(3, 4, 3, ndim=3) == 4 * 3 * 27 + 4
    assert reference.conv_params(3, 4, (2, 3, 5)) == 4 * 3 * 30 + 4


@given(c=st.integers(1, 64), o=st.integers(1, 64), kh=st.integers(1, 7), kw=st.integers(1, 7), bias=st.booleans())
def test_conv_params_counts_the_weight_array(c, o, kh, kw, bias):
    """conv_params equals the number of entries of the weight (O, C, kh, kw) and bias (O,) arrays
    the reference's conv takes."""
    assert reference.conv_params(c, o, (kh, kw), bias=bias) == o * c * kh * kw + (o if bias else 0)


def test_dense_depthwise_separable():
    """Dense: I * O + O. Depthwise: C * m * K + C * m. Keras SeparableConv2D(64, 3) on 32 channels:
    depthwise 32 * 9 without bias + pointwise 32 * 64 + 64 = 2400 (2432 with a depthwise bias)."""
    assert reference.dense_params(1152, 10) == 11530
    assert reference.dense_params(4, 3, bias=False) == 12
    assert reference.depthwise_conv_params(32, 3) == 32 * 9 + 32
    assert reference.depthwise_conv_params(32, 3, depth_multiplier=2) == 64 * 9 + 64
    assert reference.depthwise_conv_params(32, 3, bias=False) == 288
    assert reference.separable_conv_params(32, 64, 3) == 2400
    assert reference.separable_conv_params(32, 64, 3, depthwise_bias=True) == 2432
    assert reference.separable_conv_params(32, 64, 3, depth_multiplier=2) == 64 * 9 + 64 * 64 + 64
    assert reference.separable_conv_params(32, 64, 3, bias=False) == 288 + 2048


@pytest.mark.parametrize("channels", [1, 32, 64])
def test_batch_norm_conventions(channels):
    """Keras BatchNormalization: 2C trainable (gamma, beta) + 2C non-trainable (moving statistics),
    4C in its summary; PyTorch BatchNorm: 2C parameters, buffers not counted; without the affine
    part Keras still keeps 2C non-trainable statistics and PyTorch counts nothing."""
    keras = reference.batch_norm_params(channels)
    assert (keras.trainable, keras.non_trainable, keras.total) == (2 * channels, 2 * channels, 4 * channels)
    assert reference.batch_norm_params(channels, convention="keras") == keras
    torch = reference.batch_norm_params(channels, convention="torch")
    assert (torch.trainable, torch.non_trainable, torch.total) == (2 * channels, 0, 2 * channels)
    assert reference.batch_norm_params(channels, convention="keras", affine=False) == ParamCount(0, 2 * channels)
    assert reference.batch_norm_params(channels, convention="torch", affine=False) == ParamCount(0, 0)


def test_param_count_adds():
    """ParamCount sums trainable and non-trainable parts separately; total is their sum."""
    total = ParamCount(10) + reference.batch_norm_params(3) + ParamCount(1, 2)
    assert total == ParamCount(17, 8)
    assert total.total == 25


def test_notes_keras_mnist_models():
    """Notes 001 / 004: 28x28x1 -> Conv2D(32, 3) -> MaxPooling2D -> Conv2D(64, 3) -> MaxPooling2D
    -> Conv2D(64 or 128, 3) [-> Flatten -> Dense(10)]: 26, 13, 11, 5, 3 and 320 + 18,496 +
    36,928 = 55,744; with 128 filters and the dense head 104,202; without pooling 712,202."""
    size = reference.output_size
    assert [size(28, 3), size(26, 2, stride=2), size(13, 3), size(11, 2, stride=2), size(5, 3)] == [26, 13, 11, 5, 3]
    convs = [reference.conv_params(1, 32, 3), reference.conv_params(32, 64, 3), reference.conv_params(64, 64, 3)]
    assert convs == [320, 18496, 36928]
    assert sum(convs) == 55744
    with_head = convs[:2] + [reference.conv_params(64, 128, 3), reference.dense_params(3 * 3 * 128, 10)]
    assert with_head == [320, 18496, 73856, 11530]
    assert sum(with_head) == 104202
    assert [size(28, 3), size(26, 3), size(24, 3)] == [26, 24, 22]
    no_pool = [320, 18496, reference.conv_params(64, 128, 3), reference.dense_params(22 * 22 * 128, 10)]
    assert no_pool[-1] == 619530
    assert sum(no_pool) == 712202


def test_notes_pytorch_model():
    """Notes 003 (torchsummary): Conv2d(1, 16, 3) 160, MaxPool2d(2, padding=1) 26 -> 14,
    Conv2d(16, 32, 3) 4,640, MaxPool2d 12 -> 7, Linear(32 * 7 * 7, 32) 50,208, Linear(32, 10) 330:
    55,338 in total."""
    size = reference.output_size
    assert [size(28, 3), size(26, 2, stride=2, padding=1), size(14, 3), size(12, 2, stride=2, padding=1)] == [
        26,
        14,
        12,
        7,
    ]
    layers = [
        reference.conv_params(1, 16, 3),
        reference.conv_params(16, 32, 3),
        reference.dense_params(32 * 7 * 7, 32),
        reference.dense_params(32, 10),
    ]
    assert layers == [160, 4640, 50208, 330]
    assert sum(layers) == 55338
