"""VGG16 (Simonyan & Zisserman 2014, configuration D) as ``keras.applications.VGG16`` builds it.

Thirteen 3x3 'same' ReLU convolutions in five blocks (64, 128, 256, 512, 512 filters; 2, 2, 3, 3, 3
convolutions), each block closed by 2x2 max pooling; the top is Flatten, two Dense(4096, relu) and
Dense(1000, softmax). Layer names follow keras.applications (``block1_conv1`` ... ``predictions``)
so a built model can be compared with it row by row. The top has no dropout, as in
keras.applications (the paper trains with dropout on fc1 and fc2; parameter counts do not change).
Counts: 14,714,688 in the convolutional base, 138,357,544 with the top at 224x224x3.
"""

from __future__ import annotations

from .layers import Conv2D, Dense, Flatten, Layer, MaxPooling2D

BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


def vgg16_base() -> tuple[Layer, ...]:
    """The convolutional base (``include_top=False``)."""
    layers: list[Layer] = []
    for b, (filters, convs) in enumerate(BLOCKS, 1):
        for c in range(1, convs + 1):
            layers.append(Conv2D(filters, 3, padding="same", activation="relu", name=f"block{b}_conv{c}"))
        layers.append(MaxPooling2D(2, strides=2, name=f"block{b}_pool"))
    return tuple(layers)


def vgg16_top(classes: int = 1000) -> tuple[Layer, ...]:
    """The classifier of ``include_top=True``."""
    return (
        Flatten(name="flatten"),
        Dense(4096, activation="relu", name="fc1"),
        Dense(4096, activation="relu", name="fc2"),
        Dense(classes, activation="softmax", name="predictions"),
    )
