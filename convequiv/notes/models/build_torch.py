"""Build a ``torch.nn.Sequential`` from a model description (PyTorch imported on first use).

The modules are exactly those of :func:`convequiv.notes.models.plan_torch.plan`, in order; nothing is
downloaded (no torchvision: VGG16, AlexNet and LeNet-5 are assembled from their descriptions).
Modules PyTorch lacks are defined here with the planned class names; each keeps its learnable
tensors in ``weight`` and ``bias`` (what summary tools count):

* ``PartialConv2d``: ``weight`` holds only the connected ``(output, input)`` kernels
  (``connections`` x kh x kw values), scattered into a dense kernel at each call;
* ``Subsampling2d``: window sum times ``weight[c]`` plus ``bias[c]``;
* ``RBF``: ``y_i = sum_j (x_j - weight[i, j]) ** 2`` with a frozen ``weight``;
* ``DepthPool``: max (or mean) over contiguous channel groups;
* ``LeCunTanh``, ``Rescaling``, ``CenterCrop``, ``Resizing``, ``VGGPreprocess``;
* ``RandomFlip``, ``RandomRotation``, ``RandomZoom``: random in training mode, identity in eval;
* ``FunctionalFlatten``: ``x.flatten(1)`` as an empty ``Sequential`` subclass, the way a reshape in
  ``forward`` is invisible to summary tools.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from typing import Any

from .infer import ModelInfo, infer
from .model import Model
from .plan_torch import TorchOp, plan


def _torch_pads(pads: Iterable[Sequence[int]]) -> tuple[int, ...]:
    """Per-dimension ``(lo, hi)`` pairs -> PyTorch's pad order (last dimension first)."""
    out: list[int] = []
    for lo, hi in reversed(tuple(pads)):
        out += [lo, hi]
    return tuple(out)


@functools.cache
def custom_modules() -> dict[str, type]:
    """The convequiv modules, by class name (defined on first use so torch is imported lazily)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class PartialConv2d(nn.Module):
        out_index: torch.Tensor  # buffers (register_buffer)
        in_index: torch.Tensor

        def __init__(
            self, in_channels: int, kernel_size: tuple[int, int], connections: Sequence[Sequence[int]]
        ) -> None:
            super().__init__()
            pairs = [(o, i) for o, inputs in enumerate(connections) for i in inputs]
            self.in_channels, self.out_channels = in_channels, len(connections)
            self.kernel_size = tuple(kernel_size)
            self.register_buffer("out_index", torch.tensor([o for o, _ in pairs]), persistent=False)
            self.register_buffer("in_index", torch.tensor([i for _, i in pairs]), persistent=False)
            bound = 1 / math.sqrt(max(len(c) for c in connections) * math.prod(self.kernel_size))
            self.weight = nn.Parameter(torch.empty(len(pairs), *self.kernel_size).uniform_(-bound, bound))
            self.bias = nn.Parameter(torch.empty(self.out_channels).uniform_(-bound, bound))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            full = x.new_zeros(self.out_channels, self.in_channels, *self.kernel_size)
            full = full.index_put((self.out_index, self.in_index), self.weight)
            return F.conv2d(x, full, self.bias)

    class Subsampling2d(nn.Module):
        def __init__(self, channels: int, pool_size: int) -> None:
            super().__init__()
            self.pool_size = pool_size
            self.weight = nn.Parameter(torch.ones(channels))
            self.bias = nn.Parameter(torch.zeros(channels))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            total = F.avg_pool2d(x, self.pool_size) * self.pool_size**2
            return total * self.weight[:, None, None] + self.bias[:, None, None]

    class RBF(nn.Module):
        def __init__(self, in_features: int, units: int) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.randint(0, 2, (units, in_features)).float() * 2 - 1, requires_grad=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return ((x[:, None, :] - self.weight[None]) ** 2).sum(-1)

    class DepthPool(nn.Module):
        def __init__(self, pool_size: int = 2, mode: str = "max") -> None:
            super().__init__()
            self.pool_size, self.mode = pool_size, mode

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            groups = x.reshape(x.shape[0], x.shape[1] // self.pool_size, self.pool_size, *x.shape[2:])
            return groups.amax(2) if self.mode == "max" else groups.mean(2)

    class LeCunTanh(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return 1.7159 * torch.tanh(x * (2.0 / 3.0))

    class Rescaling(nn.Module):
        def __init__(self, scale: float, offset: float = 0.0) -> None:
            super().__init__()
            self.scale, self.offset = scale, offset

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * self.scale + self.offset

    class CenterCrop(nn.Module):
        def __init__(self, height: int, width: int) -> None:
            super().__init__()
            self.height, self.width = height, width

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            top, left = (x.shape[-2] - self.height) // 2, (x.shape[-1] - self.width) // 2
            return x[..., top : top + self.height, left : left + self.width]

    class Resizing(nn.Module):
        def __init__(self, height: int, width: int, interpolation: str = "bilinear") -> None:
            super().__init__()
            self.size, self.interpolation = (height, width), interpolation

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            kwargs = {"align_corners": False} if self.interpolation == "bilinear" else {}
            return F.interpolate(x, size=self.size, mode=self.interpolation, **kwargs)

    class RandomFlip(nn.Module):
        def __init__(self, mode: str = "horizontal_and_vertical") -> None:
            super().__init__()
            self.mode = mode

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not self.training:
                return x
            for axis, key in ((-1, "horizontal"), (-2, "vertical")):
                if key in self.mode:
                    flip = torch.rand(x.shape[0], device=x.device) < 0.5
                    x = torch.where(flip[:, None, None, None], x.flip(axis), x)
            return x

    def _affine(x: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
        grid = F.affine_grid(matrices, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    class RandomRotation(nn.Module):
        def __init__(self, factor: float) -> None:
            super().__init__()
            self.factor = factor

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not self.training:
                return x
            angle = (torch.rand(x.shape[0], device=x.device) * 2 - 1) * self.factor * 2 * math.pi
            cos, sin, zero = torch.cos(angle), torch.sin(angle), torch.zeros_like(angle)
            rows = [torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)]
            return _affine(x, torch.stack(rows, 1))

    class RandomZoom(nn.Module):
        def __init__(self, height_factor: float, width_factor: float | None = None) -> None:
            super().__init__()
            self.height_factor = height_factor
            self.width_factor = height_factor if width_factor is None else width_factor

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not self.training:
                return x
            n = x.shape[0]
            sy = 1 + (torch.rand(n, device=x.device) * 2 - 1) * self.height_factor
            sx = 1 + (torch.rand(n, device=x.device) * 2 - 1) * self.width_factor
            zero = torch.zeros_like(sx)
            rows = [torch.stack([sx, zero, zero], 1), torch.stack([zero, sy, zero], 1)]
            return _affine(x, torch.stack(rows, 1))

    class VGGPreprocess(nn.Module):
        mean: torch.Tensor  # a buffer (register_buffer)

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1), persistent=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.flip(1) - self.mean

    class FunctionalFlatten(nn.Sequential):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.flatten(1)

    return {
        cls.__name__: cls
        for cls in (
            PartialConv2d,
            Subsampling2d,
            RBF,
            DepthPool,
            LeCunTanh,
            Rescaling,
            CenterCrop,
            Resizing,
            RandomFlip,
            RandomRotation,
            RandomZoom,
            VGGPreprocess,
            FunctionalFlatten,
        )
    }


def build_op(op: TorchOp) -> Any:
    """One planned module."""
    from torch import nn

    args = dict(op.args)
    if op.kind == "Sequential":
        module = nn.Sequential(*(build_op(child) for child in op.children))
    elif op.kind in custom_modules():
        module = custom_modules()[op.kind](**args)
    else:
        if op.kind.startswith(("ZeroPad", "ConstantPad")):
            pads = args["padding"]
            assert isinstance(pads, tuple)  # the plan's explicit (lo, hi) pairs
            args["padding"] = _torch_pads(pads)
        module = getattr(nn, op.kind)(**args)
    if not op.trainable:
        module.requires_grad_(False)
    return module


def build(model: Model | ModelInfo) -> Any:
    """A ``torch.nn.Sequential`` with the planned modules (frozen layers have ``requires_grad=False``)."""
    from torch import nn

    info = model if isinstance(model, ModelInfo) else infer(model)
    return nn.Sequential(*(build_op(op) for op in plan(info)))
