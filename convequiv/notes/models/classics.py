"""The classic architectures users compare against: LeNet-5, AlexNet, VGG16.

LeNet-5 "as published" (LeCun, Bottou, Bengio, Haffner 1998, section II-B) counts:

====== ======================================================== ==========
layer  what                                                     parameters
====== ======================================================== ==========
C1     6 maps, 5x5 convolution of the 32x32 input                      156
S2     2x2 subsampling, trainable coefficient + bias per map            12
C3     16 maps, 5x5, partially connected (Table I: six maps see          1,516
       3 S2 maps, nine see 4, one sees all 6: 60 connections)
S4     2x2 subsampling                                                  32
C5     120 maps, 5x5 on 5x5 (a full convolution)                    48,120
F6     84 units                                                     10,164
OUTPUT 10 Euclidean RBF units over 84 inputs: 840 fixed values   (840 fixed)
====== ======================================================== ==========

The trainable parameters sum to exactly 60,000, the paper's "60,000 trainable free parameters".
The RBF centres are set by hand (stylized 7x12 bitmaps of the digits) and not trained; this
catalogue counts them as 840 non-trainable parameters in both conventions. Units up to F6 use the
scaled tanh ``1.7159 * tanh(2a / 3)``.

The "modern" LeNet-5 keeps the layer sizes but connects C3 fully (2,416 parameters), uses plain
average pooling without coefficients, and ends in a 10-unit softmax Dense layer: 61,706 parameters.

AlexNet as published (Krizhevsky, Sutskever, Hinton 2012) trains on two GPUs, so conv2, conv4 and
conv5 only see the kernels on their own GPU (``groups=2``); with local response normalization after
conv1 and conv2 and dropout before fc6 and fc7: 60,965,224 parameters (the paper's "60 million").
Its input is 227x227 (the paper says 224, but only 227 gives its 55x55 first feature maps).
Without the two-GPU grouping the same layers have 62,378,344 parameters.
"""

from __future__ import annotations

from .layers import (
    RBF,
    Activation,
    AveragePooling2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    LocalResponseNorm,
    MaxPooling2D,
    PartialConv2D,
    Subsampling2D,
)
from .model import Model
from .vgg import vgg16_base, vgg16_top

#: LeNet-5's Table I: the S2 maps each C3 map sees.
LENET5_C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2),
    (1, 2, 3),
    (2, 3, 4),
    (3, 4, 5),
    (0, 4, 5),
    (0, 1, 5),
    (0, 1, 2, 3),
    (1, 2, 3, 4),
    (2, 3, 4, 5),
    (0, 3, 4, 5),
    (0, 1, 4, 5),
    (0, 1, 2, 5),
    (0, 1, 3, 4),
    (1, 2, 4, 5),
    (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


def models() -> list[Model]:
    """LeNet-5 (published and modern), AlexNet (2012), VGG16 with and without its top."""
    act = "lecun_tanh"
    return [
        Model(
            "lenet5-1998",
            (1, 32, 32),
            (
                Conv2D(6, 5, activation=act, name="C1"),
                Subsampling2D(2, activation=act, name="S2"),
                PartialConv2D(16, 5, LENET5_C3_TABLE, activation=act, name="C3"),
                Subsampling2D(2, activation=act, name="S4"),
                Conv2D(120, 5, activation=act, name="C5"),
                Flatten(name="flatten"),
                Dense(84, activation=act, name="F6"),
                RBF(10, name="OUTPUT"),
            ),
            data_format="channels_first",
            keras_name="lenet5",
            source="LeCun et al. 1998, Gradient-Based Learning Applied to Document Recognition, section II-B, Table I",
            description="60,000 trainable parameters; the 840 RBF centres are fixed (non-trainable).",
            tags=("classic",),
        ),
        Model(
            "lenet5",
            (32, 32, 1),
            (
                Conv2D(6, 5, activation="tanh"),
                AveragePooling2D(2),
                Conv2D(16, 5, activation="tanh"),
                AveragePooling2D(2),
                Flatten(),
                Dense(120, activation="tanh"),
                Dense(84, activation="tanh"),
                Dense(10, activation="softmax"),
            ),
            source="the common modern form of LeNet-5 (full C3, average pooling, softmax output)",
            tags=("classic",),
        ),
        Model(
            "alexnet",
            (3, 227, 227),
            (
                Conv2D(96, 11, strides=4, activation="relu", name="conv1"),
                LocalResponseNorm(5, 1e-4, 0.75, 2.0, name="norm1"),
                MaxPooling2D(3, strides=2, name="pool1"),
                Conv2D(256, 5, padding=2, groups=2, activation="relu", name="conv2"),
                LocalResponseNorm(5, 1e-4, 0.75, 2.0, name="norm2"),
                MaxPooling2D(3, strides=2, name="pool2"),
                Conv2D(384, 3, padding=1, activation="relu", name="conv3"),
                Conv2D(384, 3, padding=1, groups=2, activation="relu", name="conv4"),
                Conv2D(256, 3, padding=1, groups=2, activation="relu", name="conv5"),
                MaxPooling2D(3, strides=2, name="pool5"),
                Flatten(name="flatten"),
                Dropout(0.5, name="drop6"),
                Dense(4096, activation="relu", name="fc6"),
                Dropout(0.5, name="drop7"),
                Dense(4096, activation="relu", name="fc7"),
                Dense(1000, name="fc8"),
                Activation("softmax", name="prob"),
            ),
            data_format="channels_first",
            keras_name="alexnet",
            source="Krizhevsky, Sutskever, Hinton 2012, ImageNet Classification with Deep Convolutional Neural "
            "Networks (two-GPU grouping, LRN, overlapping 3x3/2 max pooling)",
            tags=("classic",),
        ),
        Model(
            "vgg16",
            (224, 224, 3),
            (*vgg16_base(), *vgg16_top()),
            api="functional",
            keras_name="vgg16",
            source="Simonyan & Zisserman 2014, configuration D, as keras.applications.VGG16(include_top=True)",
            tags=("classic", "application"),
        ),
        Model(
            "vgg16-notop",
            (224, 224, 3),
            vgg16_base(),
            api="functional",
            keras_name="vgg16",
            source="keras.applications.VGG16(include_top=False, input_shape=(224, 224, 3))",
            tags=("classic", "application"),
        ),
    ]
