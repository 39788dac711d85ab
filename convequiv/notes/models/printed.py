"""Numbers the notes print for their models (test data: each value as the note prints it).

``rows`` are ``(name, class, output shape with the batch axis, parameter count)`` for Keras
summaries, ``(key, output shape, parameter count)`` for torchsummary. A ``None`` total means the
note's output is cut before that line. ``shapes`` are tensor shapes the notes print after a given
layer of the model (``index`` into the description, batch size as in the note).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Printed:
    """What one note prints about one model."""

    model: str
    note: str
    lines: str
    layout: str  # "keras2", "keras2.9" (TF 2.9+ wrapped rows), "torchsummary" or "shapes"
    model_name: str | None = None
    rows: tuple[tuple[object, ...], ...] = ()  # Keras rows of four values, torchsummary rows of three
    total: int | None = None
    trainable: int | None = None
    non_trainable: int | None = None
    sizes: tuple[str, ...] = ()
    shapes: tuple[tuple[int, tuple[int, ...]], ...] = field(default_factory=tuple)
    weights: tuple[tuple[int, ...], ...] = ()


PRINTED: tuple[Printed, ...] = (
    Printed(
        "001-keras-convnet",
        "001",
        "L95-112",
        "keras2.9",
        model_name="sequential",
        rows=(
            ("conv2d", "Conv2D", (None, 26, 26, 32), 320),
            ("max_pooling2d", "MaxPooling2D", (None, 13, 13, 32), 0),
            ("conv2d_1", "Conv2D", (None, 11, 11, 64), 18496),
            ("max_pooling2d_1", "MaxPooling2D", (None, 5, 5, 64), 0),
            ("conv2d_2", "Conv2D", (None, 3, 3, 64), 36928),
        ),
        total=55744,
        trainable=55744,
        non_trainable=None,
    ),
    Printed(
        "002-conv2d-example",
        "002",
        "L28-58",
        "shapes",
        shapes=((1, (2, 70, 120, 3)), (2, (2, 70, 120, 32))),
        weights=((3, 3, 3, 32), (32,)),
    ),
    Printed(
        "003-torch-mnist",
        "003",
        "L428-450",
        "torchsummary",
        rows=(
            ("Conv2d-1", (-1, 16, 26, 26), 160),
            ("ReLU-2", (-1, 16, 26, 26), 0),
            ("MaxPool2d-3", (-1, 16, 14, 14), 0),
            ("Conv2d-4", (-1, 32, 12, 12), 4640),
            ("ReLU-5", (-1, 32, 12, 12), 0),
            ("MaxPool2d-6", (-1, 32, 7, 7), 0),
            ("Linear-7", (-1, 32), 50208),
            ("ReLU-8", (-1, 32), 0),
            ("Dropout-9", (-1, 32), 0),
            ("Linear-10", (-1, 10), 330),
        ),
        total=55338,
        trainable=55338,
        non_trainable=0,
        sizes=("0.00", "0.27", "0.21", "0.49"),
    ),
    Printed(
        "004-mnist-no-pool",
        "004",
        "L180-199",
        "keras2",
        model_name="model_1",
        rows=(
            ("input_2", "InputLayer", (None, 28, 28, 1), 0),
            ("conv2d_3", "Conv2D", (None, 26, 26, 32), 320),
            ("conv2d_4", "Conv2D", (None, 24, 24, 64), 18496),
            ("conv2d_5", "Conv2D", (None, 22, 22, 128), 73856),
            ("flatten_1", "Flatten", (None, 61952), 0),
            ("dense_1", "Dense", (None, 10), 619530),
        ),
        total=712202,
        trainable=712202,
        non_trainable=0,
    ),
    Printed(
        "004-mnist-convnet",
        "004",
        "L205-228",
        "keras2",
        model_name="model",
        rows=(
            ("input_1", "InputLayer", (None, 28, 28, 1), 0),
            ("conv2d", "Conv2D", (None, 26, 26, 32), 320),
            ("max_pooling2d", "MaxPooling2D", (None, 13, 13, 32), 0),
            ("conv2d_1", "Conv2D", (None, 11, 11, 64), 18496),
            ("max_pooling2d_1", "MaxPooling2D", (None, 5, 5, 64), 0),
            ("conv2d_2", "Conv2D", (None, 3, 3, 128), 73856),
            ("flatten", "Flatten", (None, 1152), 0),
            ("dense", "Dense", (None, 10), 11530),
        ),
        total=104202,
        trainable=104202,
        non_trainable=0,
    ),
)


def printed_for(model: str) -> list[Printed]:
    """Everything the notes print about ``model`` (empty for models the notes print nothing of)."""
    return [p for p in PRINTED if p.model == model]
