"""Test cases as typed data: one frozen dataclass per op family, geometry resolved once.

A case holds shapes and keyword arguments only; arrays travel beside it in an :class:`Inputs`.
Per-dimension fields (kernel, stride, dilation) are stored as tuples with one entry per spatial
dimension (the constructors also take a single int), and the window geometry
(:class:`~convequiv.reference.geometry.WindowGeometry`: resolved ``(lo, hi)`` padding, output sizes,
ceil-mode overhang) is resolved when the case is built, so a bad case fails at construction and
nothing downstream resolves it again.

``case.expected(inputs, ties=..., nan=...)`` runs the reference (forward and backward) and
``case.bounds(inputs, dtype)`` the rounding-error bounds of :mod:`convequiv.reference.tolerance`,
so the suite, the adapters and third parties share one description. ``case.features()`` names the
semantic features a case exercises (rows of the compatibility report), and ``repr(case)`` is valid
Python that rebuilds it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from . import tolerance as tol
from .channel_pooling import (
    depth_pool,
    depth_pool_backward,
    global_avg_pool,
    global_avg_pool_backward,
    global_max_pool,
    global_max_pool_backward,
)
from .convolution import conv, conv_backward
from .features import VALUE_FEATURES, padding_features
from .geometry import Pads, WindowGeometry, window_geometry
from .linearization import draw_tangents
from .pooling import avg_pool, avg_pool_backward, max_pool, max_pool_backward
from .precision import numpy_dtype
from .predicates import (
    fewest_in_a_window,
    most_in_a_window,
    most_near_max_in_a_window,
    windows_led_by_padding_with_only,
)

if TYPE_CHECKING:
    from numpy.typing import DTypeLike  # not at run time: ``import convequiv.reference`` loads no NumPy submodule

from .case_base import Arrays, Case, Inputs, Padding, Shape, WeightedCase, _dims, _padding
from .transposed_cases import ConvTransposeCase


@dataclass(frozen=True, init=False)
class ConvCase(WeightedCase):
    """``reference.conv`` with these shapes and keywords (``bias=False``: no ``b``)."""

    functions = (conv, conv_backward, tol.conv_bound, tol.conv_backward_bound)

    x_shape: Shape
    w_shape: Shape
    stride: Shape
    padding: Padding
    dilation: Shape
    groups: int
    bias: bool
    geometry: WindowGeometry = field(init=False, repr=False, compare=False)

    def __init__(
        self,
        x_shape: Sequence[int],
        w_shape: Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: object = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        nd = len(x_shape) - 2
        values = {
            "x_shape": tuple(int(v) for v in x_shape),
            "w_shape": tuple(int(v) for v in w_shape),
            "stride": _dims(stride, nd),
            "padding": _padding(padding),
            "dilation": _dims(dilation, nd),
            "groups": int(groups),
            "bias": bool(bias),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)
        geometry = window_geometry(
            "conv",
            self.x_shape[2:],
            self.w_shape[2:],
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
        )
        object.__setattr__(self, "geometry", geometry)

    @property
    def op(self) -> str:
        return "conv"

    @property
    def kernel(self) -> Shape:
        return self.w_shape[2:]

    @property
    def pads(self) -> Pads:
        return self.geometry.padding

    @property
    def out_shape(self) -> Shape:
        return (self.x_shape[0], self.w_shape[0]) + self.geometry.out

    @property
    def depthwise(self) -> bool:
        """``groups`` equals the input channels (and is above 1): one filter group per channel."""
        return self.groups == self.x_shape[1] and self.groups > 1

    @property
    def products_per_output(self) -> int:
        """Products summed into one output cell: ``C / groups * prod(kernel)``."""
        return math.prod(self.w_shape[1:])

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``reference.conv`` (everything except shapes)."""
        return {"stride": self.stride, "padding": self.padding, "dilation": self.dilation, "groups": self.groups}

    def features(self) -> set[str]:
        feats = {f"{self.nd}-D"} | padding_features(self.padding, self.pads, self.x_shape[2:], self.stride)
        if any(s > 1 for s in self.stride):
            feats.add("stride > 1")
        if any(d > 1 for d in self.dilation):
            feats.add("dilation > 1")
            if any(s > 1 for s in self.stride):
                feats.add("stride + dilation")
        if self.depthwise:
            feats.add("depthwise")
        elif self.groups > 1:
            feats.add("groups > 1")
        if any(k % 2 == 0 for k in self.kernel):
            feats.add("even kernel")
        if not self.bias:
            feats.add("no bias")
        return {f"conv: {f}" for f in feats}


@dataclass(frozen=True, init=False)
class PoolCase(Case):
    """``reference.max_pool`` (``kind="max"``) or ``reference.avg_pool`` (``kind="avg"``).

    ``stride=None`` means the op's default (the kernel), so layer defaults are exercised.
    ``dilation`` applies to both kinds (ONNX AveragePool-19 dilates average pooling too).
    """

    kind: str
    x_shape: Shape
    kernel: Shape
    stride: Shape | None
    padding: Padding
    dilation: Shape
    ceil_mode: bool
    count_include_pad: bool
    geometry: WindowGeometry = field(init=False, repr=False, compare=False)

    def __init__(
        self,
        kind: str,
        x_shape: Sequence[int],
        kernel: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: object = 0,
        dilation: int | Sequence[int] = 1,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        if kind not in ("max", "avg"):
            raise ValueError(f"PoolCase: kind must be 'max' or 'avg', got {kind!r}")
        nd = len(x_shape) - 2
        values = {
            "kind": kind,
            "x_shape": tuple(int(v) for v in x_shape),
            "kernel": _dims(kernel, nd),
            "stride": None if stride is None else _dims(stride, nd),
            "padding": _padding(padding),
            "dilation": _dims(dilation, nd),
            "ceil_mode": bool(ceil_mode),
            "count_include_pad": bool(count_include_pad),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "geometry", self._geometry(self.ceil_mode))

    def _geometry(self, ceil_mode: bool) -> WindowGeometry:
        return window_geometry(
            self.op,
            self.x_shape[2:],
            self.kernel,
            stride=self.resolved_stride,
            padding=self.padding,
            dilation=self.dilation,
            ceil_mode=ceil_mode,
        )

    @property
    def op(self) -> str:
        return f"{self.kind}_pool"

    @property
    def resolved_stride(self) -> Shape:
        return self.kernel if self.stride is None else self.stride

    @property
    def pads(self) -> Pads:
        return self.geometry.padding

    @property
    def out_shape(self) -> Shape:
        return self.x_shape[:2] + self.geometry.out

    @cached_property
    def floor_out(self) -> Shape:
        """Spatial output sizes with ``ceil_mode=False`` (the windows every framework has)."""
        return self.geometry.out if not self.ceil_mode else self._geometry(False).out

    @property
    def ceil_changes_windows(self) -> bool:
        """``ceil_mode`` is on and gives other windows than floor mode (adds, or drops, one)."""
        return self.floor_out != self.geometry.out

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``reference.max_pool`` / ``avg_pool`` besides ``kernel``."""
        kw: dict[str, Any] = {
            "stride": self.stride,
            "padding": self.padding,
            "dilation": self.dilation,
            "ceil_mode": self.ceil_mode,
        }
        if self.kind == "avg":
            kw["count_include_pad"] = self.count_include_pad
        return kw

    def window_counts(self, mask: np.ndarray) -> np.ndarray:
        geom = self.geometry
        n, c = mask.shape[:2]
        flat = mask.reshape((n * c, 1) + mask.shape[2:]).astype(np.float64)
        pads = tuple((lo, hi + oh) for (lo, hi), oh in zip(geom.padding, geom.overhang))
        counts = conv(flat, np.ones((1, 1) + geom.kernel), stride=geom.stride, padding=pads, dilation=geom.dilation)
        rounded: np.ndarray = np.rint(counts)
        return rounded.reshape((n, c) + counts.shape[2:]).astype(np.int64)

    def expected(self, inputs: Inputs, *, ties: str = "first", nan: str = "propagate") -> Arrays:
        kw = self.kwargs()
        if self.kind == "max":
            return {
                "y": max_pool(inputs.x, self.kernel, nan=nan, **kw),
                "dx": max_pool_backward(inputs.x, inputs.dy, self.kernel, ties=ties, nan=nan, **kw),
            }
        return {
            "y": avg_pool(inputs.x, self.kernel, **kw),
            "dx": avg_pool_backward(inputs.x, inputs.dy, self.kernel, **kw),
        }

    def bounds(
        self,
        inputs: Inputs,
        dtype: DTypeLike,
        *,
        ties: str = "first",
        nan: str = "propagate",
        accumulate: DTypeLike | None = None,
    ) -> Arrays:
        kw = {**self.kwargs(), "accumulate": accumulate}
        if self.kind == "max":
            dx = tol.max_pool_backward_bound(inputs.x, inputs.dy, self.kernel, dtype=dtype, ties=ties, nan=nan, **kw)
            return {"y": np.zeros(self.out_shape), "dx": dx}
        return {
            "y": tol.avg_pool_bound(inputs.x, self.kernel, dtype=dtype, **kw),
            "dx": tol.avg_pool_backward_bound(inputs.x, inputs.dy, self.kernel, dtype=dtype, **kw),
        }

    def features(self) -> set[str]:
        stride, kernel = self.resolved_stride, self.kernel
        feats = {f"{self.nd}-D"} | padding_features(self.padding, self.pads, self.x_shape[2:], stride)
        if self.stride is None:
            feats.add("default stride (= kernel)")
        if any(s < k for s, k in zip(stride, kernel)):
            feats.add("overlapping windows")
        if any(k < s for s, k in zip(stride, kernel)):
            feats.add("kernel smaller than stride")
        if self.ceil_mode:
            feats.add("ceil_mode")
            if self.ceil_changes_windows:
                feats.add("ceil_mode adds a window")
        if any(d > 1 for d in self.dilation):
            feats.add("dilation > 1")
        if self.kind == "avg" and any(lo or hi for lo, hi in self.pads):
            feats.add(f"count_include_pad={self.count_include_pad}")
        return {f"{self.op}: {f}" for f in feats}


@dataclass(frozen=True, init=False)
class DepthPoolCase(Case):
    """``reference.depth_pool`` over contiguous channel groups."""

    x_shape: Shape
    pool_size: int
    mode: str
    stride: int | None

    def __init__(self, x_shape: Sequence[int], pool_size: int, mode: str = "max", stride: int | None = None) -> None:
        object.__setattr__(self, "x_shape", tuple(int(v) for v in x_shape))
        object.__setattr__(self, "pool_size", int(pool_size))
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "stride", None if stride is None else int(stride))
        c = self.x_shape[1]
        if not (1 <= self.pool_size <= c) or (c - self.pool_size) % self.resolved_stride:
            raise ValueError(f"DepthPoolCase: pool_size {pool_size} with stride {stride} does not tile C={c}")

    @property
    def op(self) -> str:
        return "depth_pool"

    @property
    def resolved_stride(self) -> int:
        return self.pool_size if self.stride is None else self.stride

    @property
    def out_shape(self) -> Shape:
        c_out = (self.x_shape[1] - self.pool_size) // self.resolved_stride + 1
        return (self.x_shape[0], c_out, *self.x_shape[2:])

    def window_counts(self, mask: np.ndarray) -> np.ndarray:
        sums = depth_pool(mask.astype(np.float64), self.pool_size, mode="avg", stride=self.stride) * self.pool_size
        rounded: np.ndarray = np.rint(sums)
        return rounded.astype(np.int64)

    def expected(self, inputs: Inputs, *, ties: str = "first", nan: str = "propagate") -> Arrays:
        y = depth_pool(inputs.x, self.pool_size, mode=self.mode, stride=self.stride)
        dx = depth_pool_backward(inputs.x, inputs.dy, self.pool_size, mode=self.mode, stride=self.stride, ties=ties)
        return {"y": y, "dx": dx}

    def bounds(
        self,
        inputs: Inputs,
        dtype: DTypeLike,
        *,
        ties: str = "first",
        nan: str = "propagate",
        accumulate: DTypeLike | None = None,
    ) -> Arrays:
        routed = depth_pool_backward(
            inputs.x, np.abs(inputs.dy), self.pool_size, mode=self.mode, stride=self.stride, ties=ties
        )
        if self.mode == "max":
            magnitude = np.zeros(self.out_shape)
        else:
            magnitude = depth_pool(np.abs(inputs.x), self.pool_size, mode=self.mode, stride=self.stride)
        terms = self.pool_size + 1
        acc: dict[str, Any] = {"accumulate": accumulate}
        return {"y": tol.sum_bound(magnitude, terms, dtype, **acc), "dx": tol.sum_bound(routed, terms, dtype, **acc)}

    def features(self) -> set[str]:
        feats = {f"depth_pool: {self.mode}"}
        if self.stride is not None and self.stride != self.pool_size:
            feats.add(f"depth_pool: {self.mode}, stride != pool_size")
        return feats


@dataclass(frozen=True, init=False)
class GlobalPoolCase(Case):
    """``reference.global_max_pool`` / ``global_avg_pool`` over every spatial axis."""

    mode: str
    x_shape: Shape
    keepdims: bool

    def __init__(self, mode: str, x_shape: Sequence[int], keepdims: bool = False) -> None:
        if mode not in ("max", "avg"):
            raise ValueError(f"GlobalPoolCase: mode must be 'max' or 'avg', got {mode!r}")
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "x_shape", tuple(int(v) for v in x_shape))
        object.__setattr__(self, "keepdims", bool(keepdims))

    @property
    def op(self) -> str:
        return f"global_{self.mode}_pool"

    @property
    def out_shape(self) -> Shape:
        return self.x_shape[:2] + ((1,) * self.nd if self.keepdims else ())

    def window_counts(self, mask: np.ndarray) -> np.ndarray:
        counts: np.ndarray = mask.reshape(mask.shape[:2] + (-1,)).sum(axis=-1)
        return counts.reshape(self.out_shape)

    def expected(self, inputs: Inputs, *, ties: str = "first", nan: str = "propagate") -> Arrays:
        if self.mode == "max":
            return {
                "y": global_max_pool(inputs.x, keepdims=self.keepdims, nan=nan),
                "dx": global_max_pool_backward(inputs.x, inputs.dy, keepdims=self.keepdims, ties=ties, nan=nan),
            }
        return {
            "y": global_avg_pool(inputs.x, keepdims=self.keepdims),
            "dx": global_avg_pool_backward(inputs.x, inputs.dy, keepdims=self.keepdims),
        }

    def bounds(
        self,
        inputs: Inputs,
        dtype: DTypeLike,
        *,
        ties: str = "first",
        nan: str = "propagate",
        accumulate: DTypeLike | None = None,
    ) -> Arrays:
        area = math.prod(self.x_shape[2:])
        if self.mode == "max":
            routed = global_max_pool_backward(inputs.x, np.abs(inputs.dy), keepdims=self.keepdims, ties=ties, nan=nan)
            return {"y": np.zeros(self.out_shape), "dx": tol.sum_bound(routed, 2, dtype, accumulate=accumulate)}
        spread = global_avg_pool_backward(inputs.x, np.abs(inputs.dy), keepdims=self.keepdims)
        return {
            "y": tol.global_avg_pool_bound(inputs.x, dtype=dtype, keepdims=self.keepdims, accumulate=accumulate),
            "dx": tol.sum_bound(spread, area + 1, dtype, accumulate=accumulate),
        }

    def features(self) -> set[str]:
        return {f"{self.op}: {self.nd}-D, keepdims={self.keepdims}"}


ALL_CASES: tuple[type[Case], ...] = (ConvCase, ConvTransposeCase, PoolCase, DepthPoolCase, GlobalPoolCase)

__all__ = [
    "ALL_CASES",
    "VALUE_KINDS",
    "Arrays",
    "Case",
    "ConvCase",
    "ConvTransposeCase",
    "DepthPoolCase",
    "Example",
    "GlobalPoolCase",
    "Inputs",
    "Padding",
    "PoolCase",
    "Shape",
]


VALUE_KINDS = ("normal", "ties", "negative", "special")


@dataclass(frozen=True)
class Example:
    """A case plus everything needed to rebuild its arrays: ``Example(case, seed, values)``.

    ``values`` chooses how ``x`` is filled (weights, biases and ``dy`` are always standard
    normal, so the upstream gradient is never all ones):

    * ``"normal"``: standard normal;
    * ``"ties"``: integers in ``[-2, 2]`` (many tied maxima);
    * ``"negative"``: all entries in ``[-3, -0.5]`` (zero padding would win a max);
    * ``"special"``: standard normal with about 15 % NaN, +inf and -inf.

    Every array is rounded to ``dtype`` and returned as float64, so the reference sees exactly
    what the framework sees. ``name`` labels documented edge cases.
    """

    case: Case
    seed: int = 0
    values: str = "normal"
    name: str = ""

    def inputs(self, dtype: DTypeLike = np.float64, *, tangents: bool = False) -> Inputs:
        if self.values not in VALUE_KINDS:
            raise ValueError(f"Example: values must be one of {VALUE_KINDS}, got {self.values!r}")
        rng = np.random.default_rng(self.seed)
        case = self.case
        shape = case.x_shape
        if self.values == "ties":
            x = rng.integers(-2, 3, size=shape).astype(np.float64)
        elif self.values == "negative":
            x = rng.uniform(-3.0, -0.5, size=shape)
        else:
            x = rng.standard_normal(shape)
            if self.values == "special":
                pick = rng.random(shape)
                x[pick < 0.05] = np.nan
                x[(pick >= 0.05) & (pick < 0.10)] = np.inf
                x[(pick >= 0.10) & (pick < 0.15)] = -np.inf
        w = b = None
        if isinstance(case, (ConvCase, ConvTransposeCase)):
            w = rng.standard_normal(case.w_shape)
            b = rng.standard_normal(case.out_shape[1]) if case.bias else None
        dy = rng.standard_normal(case.out_shape)
        drawn = draw_tangents(rng, case) if tangents else {}  # after the others: they stay the same

        def rounded(a: np.ndarray) -> np.ndarray:
            return a.astype(numpy_dtype(dtype)).astype(np.float64)

        return Inputs(
            x=rounded(x),
            dy=rounded(dy),
            w=None if w is None else rounded(w),
            b=None if b is None else rounded(b),
            **{k: rounded(v) for k, v in drawn.items()},
        )

    def features(self) -> set[str]:
        """The case's semantic features plus the kind of input values, e.g. ``"max_pool: NaN and
        ±inf in the input"`` (rows of the compatibility report)."""
        extra = {f"{self.case.op}: {VALUE_FEATURES[self.values]}"} if self.values in VALUE_FEATURES else set()
        return self.case.features() | extra

    def most_in_a_window(self, flag: str = "nan") -> int:
        """:func:`most_in_a_window` on this example's float64 ``x``."""
        return most_in_a_window(self.case, self.inputs().x, flag)

    def fewest_in_a_window(self, flag: str) -> int:
        """:func:`fewest_in_a_window` on this example's float64 ``x``."""
        return fewest_in_a_window(self.case, self.inputs().x, flag)

    def most_near_max_in_a_window(self, atol: float, rtol: float = 0.0) -> int:
        """:func:`most_near_max_in_a_window` on this example's float64 ``x``."""
        return most_near_max_in_a_window(self.case, self.inputs().x, atol, rtol)

    def windows_led_by_padding_with_only(self, flag: str) -> int:
        """:func:`windows_led_by_padding_with_only` on this example's float64 ``x``."""
        return windows_led_by_padding_with_only(self.case, self.inputs().x, flag)

    def __repr__(self) -> str:
        label = f", name={self.name!r}" if self.name else ""
        return f"Example({self.case!r}, seed={self.seed}, values={self.values!r}{label})"
