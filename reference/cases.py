"""Test cases as plain data: one frozen dataclass per op family.

A case holds shapes and keyword arguments only; arrays travel beside it in an
:class:`Inputs`. ``case.expected(inputs, ties=..., nan=...)`` runs the reference (forward and
backward) and ``case.bounds(inputs, dtype)`` the rounding-error bounds of
:mod:`convequiv.reference.tolerance`, so the suite, the adapters and third parties share one description.
``case.features()`` names the semantic features a case exercises (rows of the compatibility
report), and ``repr(case)`` is valid Python that rebuilds it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, cast

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
from .geometry import Pads, resolve_padding, window_geometry
from .pooling import avg_pool, avg_pool_backward, max_pool, max_pool_backward
from .windows import pad, window_view

if TYPE_CHECKING:
    from numpy.typing import DTypeLike  # not at run time: ``import convequiv.reference`` loads no NumPy submodule

#: A per-dimension field as a case accepts it: one int for every spatial dimension, or a tuple.
IntOrTuple = int | tuple[int, ...]


@dataclass
class Inputs:
    """Arrays of one case, channels-first float64 holding values exactly representable in the
    dtype under test. ``dy`` is the upstream gradient (random, never all ones)."""

    x: np.ndarray
    dy: np.ndarray
    w: np.ndarray | None = None
    b: np.ndarray | None = None

    def astype(self, dtype: DTypeLike) -> dict[str, np.ndarray]:
        return {k: v.astype(dtype) for k, v in vars(self).items() if v is not None}


def _padding_features(padding: object, pads: Pads, sizes: tuple[int, ...], stride: tuple[int, ...]) -> set[str]:
    feats: set[str] = set()
    if isinstance(padding, str):
        feats.add(f"padding {padding}")
        if padding != "valid" and any(s > 1 for s in stride):
            feats.add(f"padding {padding}, stride > 1")
            if any(s > 1 and n % 2 == 0 for s, n in zip(stride, sizes)):
                feats.add(f"padding {padding}, stride 2+, even input")
    elif any(lo != hi for lo, hi in pads):
        feats.add("explicit asymmetric padding")
    elif any(lo for lo, _ in pads):
        feats.add("explicit symmetric padding")
    else:
        feats.add("no padding")
    return feats


class Case:
    """Base of every case: the op name and shared helpers.

    Per-dimension fields (``kernel``, ``stride``, ``dilation``) accept an int and are stored as
    tuples with one entry per spatial dimension.
    """

    op: ClassVar[str]
    _per_dim_fields: ClassVar[tuple[str, ...]] = ()
    x_shape: tuple[int, ...]  # a field of every subclass

    def __post_init__(self) -> None:
        nd = len(self.x_shape) - 2
        for name in self._per_dim_fields:
            value = getattr(self, name)
            if isinstance(value, int):
                object.__setattr__(self, name, (value,) * nd)
            elif value is not None:
                object.__setattr__(self, name, tuple(value))

    @property
    def nd(self) -> int:
        return len(self.x_shape) - 2

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the reference op (everything except shapes)."""
        skip = {"x_shape", "w_shape", "bias", "mode"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}  # type: ignore[arg-type]

    def features(self) -> set[str]:
        return set()

    def window_counts(self, mask: np.ndarray) -> np.ndarray:
        """How many cells flagged in the boolean ``mask`` (shaped like ``x``) each output reads."""
        raise NotImplementedError


def _dims(value: IntOrTuple) -> tuple[int, ...]:
    """A per-dimension field as ``Case.__post_init__`` stores it: always a tuple."""
    return cast(tuple[int, ...], value)


def _pool_window_counts(mask: np.ndarray, geom) -> np.ndarray:
    n, c = mask.shape[:2]
    flat = mask.reshape((n * c, 1) + mask.shape[2:]).astype(np.float64)
    pads = tuple((lo, hi + oh) for (lo, hi), oh in zip(geom.padding, geom.overhang))
    ones = np.ones((1, 1) + geom.kernel)
    counts = conv(flat, ones, stride=geom.stride, padding=pads, dilation=geom.dilation)
    return np.rint(counts).reshape((n, c) + counts.shape[2:]).astype(np.int64)


@dataclass(frozen=True)
class ConvCase(Case):
    """``reference.conv`` with these shapes and keywords (``bias=False``: no ``b``)."""

    op: ClassVar[str] = "conv"
    _per_dim_fields: ClassVar[tuple[str, ...]] = ("stride", "dilation")
    x_shape: tuple[int, ...]
    w_shape: tuple[int, ...]
    stride: IntOrTuple = 1
    padding: Any = 0
    dilation: IntOrTuple = 1
    groups: int = 1
    bias: bool = True

    @property
    def pads(self) -> Pads:
        return resolve_padding(self.padding, self.x_shape[2:], self.w_shape[2:], self.stride, self.dilation)

    @property
    def out_shape(self) -> tuple[int, ...]:
        geom = window_geometry(
            "conv", self.x_shape[2:], self.w_shape[2:], stride=self.stride, padding=self.padding, dilation=self.dilation
        )
        return (self.x_shape[0], self.w_shape[0]) + geom.out

    @property
    def depthwise(self) -> bool:
        return self.groups == self.x_shape[1] and self.groups > 1

    def window_counts(self, mask: np.ndarray) -> np.ndarray:
        ones = np.ones(self.w_shape)
        counts = conv(
            mask.astype(np.float64),
            ones,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            groups=self.groups,
        )
        return np.rint(counts).astype(np.int64)

    def expected(self, inputs: Inputs, **_: object) -> dict[str, np.ndarray]:
        kw = self.kwargs()
        y = conv(inputs.x, inputs.w, inputs.b, **kw)
        dx, dw, db = conv_backward(inputs.x, inputs.w, inputs.dy, **kw)
        out = {"y": y, "dx": dx, "dw": dw}
        if self.bias:
            out["db"] = db
        return out

    def bounds(self, inputs: Inputs, dtype: DTypeLike, **_: object) -> dict[str, np.ndarray]:
        kw = self.kwargs()
        y = tol.conv_bound(inputs.x, inputs.w, inputs.b, dtype=dtype, **kw)
        dx, dw, db = tol.conv_backward_bound(inputs.x, inputs.w, inputs.dy, dtype=dtype, **kw)
        out = {"y": y, "dx": dx, "dw": dw}
        if self.bias:
            out["db"] = db
        return out

    def features(self) -> set[str]:
        stride, dilation = _dims(self.stride), _dims(self.dilation)
        feats = {f"{self.nd}-D"} | _padding_features(self.padding, self.pads, self.x_shape[2:], stride)
        if any(s > 1 for s in stride):
            feats.add("stride > 1")
        if any(d > 1 for d in dilation):
            feats.add("dilation > 1")
            if any(s > 1 for s in stride):
                feats.add("stride + dilation")
        if self.depthwise:
            feats.add("depthwise")
        elif self.groups > 1:
            feats.add("groups > 1")
        if any(k % 2 == 0 for k in self.w_shape[2:]):
            feats.add("even kernel")
        if not self.bias:
            feats.add("no bias")
        return {f"conv: {f}" for f in feats}


@dataclass(frozen=True)
class PoolCase(Case):
    """``reference.max_pool`` (``op="max_pool"``) or ``reference.avg_pool`` (``op="avg_pool"``).

    ``stride=None`` means the op's default (the kernel), so layer defaults are exercised.
    """

    _per_dim_fields: ClassVar[tuple[str, ...]] = ("kernel", "stride", "dilation")
    kind: str
    x_shape: tuple[int, ...]
    kernel: IntOrTuple
    stride: IntOrTuple | None = None
    padding: Any = 0
    dilation: IntOrTuple = 1
    ceil_mode: bool = False
    count_include_pad: bool = True

    @property
    def op(self) -> str:  # type: ignore[override]
        return f"{self.kind}_pool"

    @property
    def resolved_stride(self) -> tuple[int, ...]:
        return _dims(self.kernel if self.stride is None else self.stride)

    @property
    def pads(self) -> Pads:
        return resolve_padding(self.padding, self.x_shape[2:], self.kernel, self.resolved_stride, self.dilation)

    @property
    def out_shape(self) -> tuple[int, ...]:
        geom = window_geometry(
            self.op,
            self.x_shape[2:],
            self.kernel,
            stride=self.resolved_stride,
            padding=self.padding,
            dilation=self.dilation,
            ceil_mode=self.ceil_mode,
        )
        return self.x_shape[:2] + geom.out

    def window_counts(self, mask: np.ndarray) -> np.ndarray:
        geom = window_geometry(
            self.op,
            self.x_shape[2:],
            self.kernel,
            stride=self.resolved_stride,
            padding=self.padding,
            dilation=self.dilation,
            ceil_mode=self.ceil_mode,
        )
        return _pool_window_counts(mask, geom)

    def kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"stride": self.stride, "padding": self.padding, "ceil_mode": self.ceil_mode}
        if self.kind == "max":
            kw["dilation"] = self.dilation
        else:
            kw["count_include_pad"] = self.count_include_pad
        return kw

    def expected(self, inputs: Inputs, *, ties: str = "first", nan: str = "propagate") -> dict[str, np.ndarray]:
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
        self, inputs: Inputs, dtype: DTypeLike, *, ties: str = "first", nan: str = "propagate"
    ) -> dict[str, np.ndarray]:
        kw = self.kwargs()
        if self.kind == "max":
            return {
                "y": np.zeros(self.out_shape),
                "dx": tol.max_pool_backward_bound(
                    inputs.x, inputs.dy, self.kernel, dtype=dtype, ties=ties, nan=nan, **kw
                ),
            }
        return {
            "y": tol.avg_pool_bound(inputs.x, self.kernel, dtype=dtype, **kw),
            "dx": tol.avg_pool_backward_bound(inputs.x, inputs.dy, self.kernel, dtype=dtype, **kw),
        }

    def features(self) -> set[str]:
        stride, kernel = self.resolved_stride, _dims(self.kernel)
        feats = {f"{self.nd}-D"} | _padding_features(self.padding, self.pads, self.x_shape[2:], stride)
        if self.stride is None:
            feats.add("default stride (= kernel)")
        if any(s < k for s, k in zip(stride, kernel)):
            feats.add("overlapping windows")
        if any(k < s for s, k in zip(stride, kernel)):
            feats.add("kernel smaller than stride")
        if self.ceil_mode:
            feats.add("ceil_mode")
            geom = window_geometry(
                self.op,
                self.x_shape[2:],
                self.kernel,
                stride=stride,
                padding=self.padding,
                dilation=self.dilation,
                ceil_mode=False,
            )
            if geom.out != self.out_shape[2:]:
                feats.add("ceil_mode adds a window")
        if self.kind == "max" and any(d > 1 for d in _dims(self.dilation)):
            feats.add("dilation > 1")
        if self.kind == "avg" and any(lo or hi for lo, hi in self.pads):
            feats.add(f"count_include_pad={self.count_include_pad}")
        return {f"{self.op}: {f}" for f in feats}


@dataclass(frozen=True)
class DepthPoolCase(Case):
    """``reference.depth_pool`` over contiguous channel groups."""

    op: ClassVar[str] = "depth_pool"
    x_shape: tuple[int, ...]
    pool_size: int
    mode: str = "max"
    stride: int | None = None

    def expected(self, inputs: Inputs, *, ties: str = "first", **_: object) -> dict[str, np.ndarray]:
        y = depth_pool(inputs.x, self.pool_size, mode=self.mode, stride=self.stride)
        dx = depth_pool_backward(inputs.x, inputs.dy, self.pool_size, mode=self.mode, stride=self.stride, ties=ties)
        return {"y": y, "dx": dx}

    def window_counts(self, mask: np.ndarray) -> np.ndarray:
        return np.rint(
            depth_pool(mask.astype(np.float64), self.pool_size, mode="avg", stride=self.stride) * self.pool_size
        ).astype(np.int64)

    @property
    def out_shape(self) -> tuple[int, ...]:
        s = self.pool_size if self.stride is None else self.stride
        return (self.x_shape[0], (self.x_shape[1] - self.pool_size) // s + 1, *self.x_shape[2:])

    def bounds(self, inputs: Inputs, dtype: DTypeLike, *, ties: str = "first", **_: object) -> dict[str, np.ndarray]:
        routed = depth_pool_backward(
            inputs.x, np.abs(inputs.dy), self.pool_size, mode=self.mode, stride=self.stride, ties=ties
        )
        y = (
            np.zeros(self.out_shape)
            if self.mode == "max"
            else depth_pool(np.abs(inputs.x), self.pool_size, mode=self.mode, stride=self.stride)
        )
        terms = self.pool_size + 1
        return {"y": tol.sum_bound(y, terms, dtype), "dx": tol.sum_bound(routed, terms, dtype)}

    def features(self) -> set[str]:
        feats = {f"depth_pool: {self.mode}"}
        if self.stride is not None and self.stride != self.pool_size:
            feats.add(f"depth_pool: {self.mode}, stride != pool_size")
        return feats


@dataclass(frozen=True)
class GlobalPoolCase(Case):
    """``reference.global_max_pool`` / ``global_avg_pool`` over every spatial axis."""

    mode: str
    x_shape: tuple[int, ...]
    keepdims: bool = False

    @property
    def op(self) -> str:  # type: ignore[override]
        return f"global_{self.mode}_pool"

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.x_shape[:2] + ((1,) * self.nd if self.keepdims else ())

    def window_counts(self, mask: np.ndarray) -> np.ndarray:
        return mask.reshape(mask.shape[:2] + (-1,)).sum(axis=-1).reshape(self.out_shape)

    def expected(self, inputs: Inputs, *, ties: str = "first", nan: str = "propagate") -> dict[str, np.ndarray]:
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
        self, inputs: Inputs, dtype: DTypeLike, *, ties: str = "first", nan: str = "propagate"
    ) -> dict[str, np.ndarray]:
        area = math.prod(self.x_shape[2:])
        if self.mode == "max":
            routed = global_max_pool_backward(inputs.x, np.abs(inputs.dy), keepdims=self.keepdims, ties=ties, nan=nan)
            return {"y": np.zeros(self.out_shape), "dx": tol.sum_bound(routed, 2, dtype)}
        return {
            "y": tol.global_avg_pool_bound(inputs.x, dtype=dtype, keepdims=self.keepdims),
            "dx": tol.sum_bound(
                global_avg_pool_backward(inputs.x, np.abs(inputs.dy), keepdims=self.keepdims), area + 1, dtype
            ),
        }

    def features(self) -> set[str]:
        return {f"{self.op}: {self.nd}-D, keepdims={self.keepdims}"}


ALL_CASES: tuple[type[Case], ...] = (ConvCase, PoolCase, DepthPoolCase, GlobalPoolCase)

__all__ = [
    "ALL_CASES",
    "VALUE_KINDS",
    "Case",
    "ConvCase",
    "DepthPoolCase",
    "Example",
    "GlobalPoolCase",
    "Inputs",
    "PoolCase",
]


VALUE_KINDS = ("normal", "ties", "negative", "special")
#: How a report names the input values of an example (``"normal"`` adds no feature).
VALUE_FEATURES = {
    "ties": "tied input values (max-gradient ties)",
    "negative": "all inputs negative (padding must not win)",
    "special": "NaN and ±inf in the input",
}

#: Cell predicates for :meth:`Example.most_in_a_window` and :meth:`Example.fewest_in_a_window`.
CELL_FLAGS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "nan": np.isnan,
    "inf": np.isinf,
    "+inf": lambda x: np.isposinf(x),
    "-inf": lambda x: np.isneginf(x),
    "above -inf": lambda x: x > -np.inf,
}


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

    def inputs(self, dtype: DTypeLike = np.float64) -> Inputs:
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
        if isinstance(case, ConvCase):
            w = rng.standard_normal(case.w_shape)
            b = rng.standard_normal(case.w_shape[0]) if case.bias else None
        dy = rng.standard_normal(case.out_shape)  # type: ignore[attr-defined]

        def rounded(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a.astype(dtype).astype(np.float64)

        return Inputs(x=rounded(x), dy=rounded(dy), w=rounded(w), b=rounded(b))  # type: ignore[arg-type]

    def features(self) -> set[str]:
        """The case's semantic features plus the kind of input values, e.g. ``"max_pool: NaN and
        ±inf in the input"`` (rows of the compatibility report)."""
        extra = {f"{self.case.op}: {VALUE_FEATURES[self.values]}"} if self.values in VALUE_FEATURES else set()
        return self.case.features() | extra

    def most_in_a_window(self, flag: str = "nan") -> int:
        """Largest number of input cells matching ``flag`` (see :data:`CELL_FLAGS`) that any single
        output window reads (``0`` when no cell matches); divergence conditions use it."""
        mask = CELL_FLAGS[flag](self.inputs().x)
        return int(self.case.window_counts(mask).max()) if mask.any() else 0

    def fewest_in_a_window(self, flag: str) -> int:
        """Smallest number of input cells matching ``flag`` that any output window reads."""
        return int(self.case.window_counts(CELL_FLAGS[flag](self.inputs().x)).min())

    def most_near_max_in_a_window(self, atol: float) -> int:
        """Largest number of input taps of one pooling window that lie within ``atol`` of that
        window's maximum (NaN ignored): how many taps a tolerance-based max gradient would pick."""
        case = self.case
        if not isinstance(case, PoolCase):
            raise TypeError("most_near_max_in_a_window needs a PoolCase")
        x = self.inputs().x
        geom = window_geometry(
            case.op,
            case.x_shape[2:],
            case.kernel,
            stride=case.resolved_stride,
            padding=case.padding,
            dilation=case.dilation,
            ceil_mode=case.ceil_mode,
        )
        view = window_view(pad(x, geom, -np.inf), geom)
        peak = max_pool(x, case.kernel, nan="ignore", **case.kwargs())
        peak = peak.reshape(peak.shape + (1,) * case.nd)
        with np.errstate(invalid="ignore"):
            near = (view >= peak - atol) & np.isfinite(view)
        axes = tuple(range(near.ndim - case.nd, near.ndim))
        return int(near.sum(axis=axes).max())

    def __repr__(self) -> str:
        label = f", name={self.name!r}" if self.name else ""
        return f"Example({self.case!r}, seed={self.seed}, values={self.values!r}{label})"
