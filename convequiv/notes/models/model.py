"""A model description: an input shape and a stack of layer descriptions.

``input_shape`` is written in ``data_format``: ``"channels_last"`` (Keras: ``(H, W, C)``) or
``"channels_first"`` (PyTorch and the NumPy code: ``(C, H, W)``); a flat input is ``(F,)`` in
either. The data format is also the layout Markdown and JSON tables use; Keras layouts always print
channels-last and torchsummary channels-first, as those tools would for the same architecture.

``api`` is how Keras builds it: ``"sequential"`` (no ``InputLayer`` row in summaries) or
``"functional"`` (``keras.Model(inputs, outputs)``: summaries start with an ``InputLayer`` row).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .layers import Layer

DATA_FORMATS = ("channels_last", "channels_first")
APIS = ("sequential", "functional")


@dataclass(frozen=True)
class Model:
    """A named architecture; ``source`` says where it comes from (note file and lines, or paper)."""

    name: str
    input_shape: tuple[int, ...]
    layers: tuple[Layer, ...]
    data_format: str = "channels_last"
    api: str = "sequential"
    keras_name: str | None = None
    input_name: str | None = None
    source: str = ""
    description: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    def canonical_input(self) -> tuple[int, ...]:
        """The input shape channels-first, ``(C, *spatial)`` or ``(F,)``."""
        shape = tuple(self.input_shape)
        if self.data_format == "channels_last" and len(shape) >= 2:
            return (shape[-1], *shape[:-1])
        return shape


def to_layout(shape: tuple[int, ...], data_format: str) -> tuple[int, ...]:
    """A canonical channels-first shape written in ``data_format`` (flat shapes are unchanged)."""
    if data_format == "channels_last" and len(shape) >= 2:
        return (*shape[1:], shape[0])
    return tuple(shape)
