"""The base of the typed cases (:mod:`convequiv.reference.cases`): the padding and shape types a
case stores, the arrays of one case (:class:`Inputs`) and the abstract :class:`Case`, whose
subclasses state what the reference computes for them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from . import joint
from .linearization import linearize
from .precision import numpy_dtype

if TYPE_CHECKING:
    from numpy.typing import DTypeLike  # not at run time: ``import convequiv.reference`` loads no NumPy submodule

#: Padding as a case stores it: a string form, one int for every side, one int per dimension, or
#: one ``(lo, hi)`` pair per dimension. The form is kept (frameworks spell them differently); the
#: resolved pairs are ``case.pads``.
Padding = str | int | tuple[int, ...] | tuple[tuple[int, int], ...]
Shape = tuple[int, ...]
Arrays = dict[str, np.ndarray]


def _dims(value: int | Sequence[int], nd: int) -> tuple[int, ...]:
    """A per-dimension argument as a tuple of ``nd`` ints (validated later by the geometry)."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * nd
    return tuple(int(v) for v in value)


def _padding(value: object) -> Padding:
    """Lists become tuples, so that cases compare, hash and print the same however written."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, Sequence):
        return tuple(tuple(int(v) for v in p) if isinstance(p, Sequence) else int(p) for p in value)  # type: ignore[return-value]
    raise TypeError(f"padding must be an int, a sequence or a string, got {value!r}")


@dataclass
class Inputs:
    """Arrays of one case, channels-first float64 holding values exactly representable in the
    dtype under test. ``dy`` is the upstream gradient (random, never all ones); ``tx``, ``tw``,
    ``tb`` the tangents of ``x``, ``w``, ``b`` (drawn only on request: the outputs gain ``jvp``)."""

    x: np.ndarray
    dy: np.ndarray
    w: np.ndarray | None = None
    b: np.ndarray | None = None
    tx: np.ndarray | None = None
    tw: np.ndarray | None = None
    tb: np.ndarray | None = None

    def astype(self, dtype: DTypeLike) -> Arrays:
        return {k: v.astype(numpy_dtype(dtype)) for k, v in vars(self).items() if v is not None}


class Case(ABC):
    """Base of every case: the op name, the shapes and what the reference says about them."""

    x_shape: Shape

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        linearize(cls)  # expected() / bounds() gain ``jvp`` for inputs with tangents

    @property
    @abstractmethod
    def op(self) -> str:
        """The op family: ``conv``, ``max_pool``, ``avg_pool``, ``depth_pool``, ``global_*_pool``."""

    @property
    def nd(self) -> int:
        return len(self.x_shape) - 2

    @property
    @abstractmethod
    def out_shape(self) -> Shape:
        """The reference's output shape ``(N, C_out, *out)``."""

    @abstractmethod
    def expected(self, inputs: Inputs, *, ties: str = "first", nan: str = "propagate") -> Arrays:
        """The reference's outputs: ``y``, the gradients of ``sum(dy * y)`` and, when ``inputs`` carry
        tangents, the JVP ``jvp`` (:mod:`convequiv.reference.linearization`)."""

    @abstractmethod
    def bounds(
        self,
        inputs: Inputs,
        dtype: DTypeLike,
        *,
        ties: str = "first",
        nan: str = "propagate",
        accumulate: DTypeLike | None = None,
    ) -> Arrays:
        """Per-element rounding-error bounds of :meth:`expected`'s outputs for ``dtype`` accumulated in
        ``accumulate`` (``None``: ``dtype``; :func:`convequiv.reference.tolerance.sum_bound`)."""

    expected_and_bounds = joint.expected_and_bounds  # (expected(), bounds()) sharing their reference calls

    @abstractmethod
    def features(self) -> set[str]:
        """Semantic features the case exercises, each prefixed with the op (``"conv: 2-D"``)."""

    @abstractmethod
    def window_counts(self, mask: np.ndarray) -> np.ndarray:
        """How many cells flagged in the boolean ``mask`` (shaped like ``x``) each output reads."""


class WeightedCase(Case):
    """Base of the cases with weights, ``y = f(x, w) + b`` with ``f`` linear in ``x`` and in ``w``
    (convolution, transposed convolution). A subclass names its reference functions once, in
    :attr:`functions`: ``(forward, backward, forward_bound, backward_bound)`` of the op, each taking
    the keywords of :meth:`kwargs`."""

    w_shape: Shape
    bias: bool
    functions: ClassVar[tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any], Callable[..., Any]]]

    @abstractmethod
    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the reference functions (everything except shapes)."""

    @property
    @abstractmethod
    def products_per_output(self) -> int:
        """At most this many products are summed into one output cell."""

    def apply(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        """The forward op of this case on other arrays (the JVP's linear pieces)."""
        forward = self.functions[0]
        out: np.ndarray = forward(x, w, b, **self.kwargs())
        return out

    def window_counts(self, mask: np.ndarray) -> np.ndarray:
        rounded: np.ndarray = np.rint(self.apply(mask.astype(np.float64), np.ones(self.w_shape)))
        return rounded.astype(np.int64)

    def expected(self, inputs: Inputs, *, ties: str = "first", nan: str = "propagate") -> Arrays:
        backward = self.functions[1]
        y = self.apply(inputs.x, inputs.w, inputs.b)  # type: ignore[arg-type]
        dx, dw, db = backward(inputs.x, inputs.w, inputs.dy, **self.kwargs())
        return {"y": y, "dx": dx, "dw": dw, **({"db": db} if self.bias else {})}

    def bounds(
        self,
        inputs: Inputs,
        dtype: DTypeLike,
        *,
        ties: str = "first",
        nan: str = "propagate",
        accumulate: DTypeLike | None = None,
    ) -> Arrays:
        _, _, forward_bound, backward_bound = self.functions
        kw = {**self.kwargs(), "accumulate": accumulate}
        y = forward_bound(inputs.x, inputs.w, inputs.b, dtype=dtype, **kw)
        dx, dw, db = backward_bound(inputs.x, inputs.w, inputs.dy, dtype=dtype, **kw)
        return {"y": y, "dx": dx, "dw": dw, **({"db": db} if self.bias else {})}
