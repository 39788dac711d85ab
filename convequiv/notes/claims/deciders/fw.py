"""Small framework calls the deciders share; arrays cross as NumPy, channels-first on our side."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from convequiv.adapters.translate import channels_first as to_first
from convequiv.adapters.translate import channels_last as to_last

if TYPE_CHECKING:
    from torch import nn

__all__ = ["keras_call", "to_first", "to_last", "torch_conv", "torch_module"]


def torch_conv(
    torch: ModuleType, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, **kwargs: Any
) -> np.ndarray:
    """``torch.nn.functional.conv{1,2,3}d`` in float64 on channels-first arrays (``kwargs``: theirs)."""
    import torch.nn.functional as F

    fn = {3: F.conv1d, 4: F.conv2d, 5: F.conv3d}[x.ndim]
    bias = None if b is None else torch.from_numpy(np.asarray(b, dtype=np.float64))
    out: np.ndarray = fn(
        torch.from_numpy(np.asarray(x, dtype=np.float64)),
        torch.from_numpy(np.asarray(w, dtype=np.float64)),
        bias,
        **kwargs,
    ).numpy()
    return out


def torch_module(torch: ModuleType, module: nn.Module, x: np.ndarray, *, train: bool = False) -> np.ndarray:
    """Run a module on a float64 channels-first array (``train`` selects training mode)."""
    module = module.double()
    module.train(train)
    with torch.no_grad():
        out: np.ndarray = module(torch.from_numpy(np.asarray(x, dtype=np.float64))).numpy()
        return out


def keras_call(layer: Any, x_last: np.ndarray, **kwargs: Any) -> np.ndarray:
    """Call a Keras layer (Keras ships no types) on a channels-last float32 array; the result as NumPy."""
    import keras

    out: np.ndarray = keras.ops.convert_to_numpy(layer(np.asarray(x_last, dtype=np.float32), **kwargs))
    return out
