"""Argument validation shared by every op.

Every public function of :mod:`convequiv.reference` validates its arguments here before touching NumPy, so
that a bad call fails with a ``TypeError`` or ``ValueError`` naming the operation, the argument
and the offending value, never with a broadcasting error from deep inside.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

IntOrSeq = int | Sequence[int]
F = TypeVar("F", bound=Callable[..., Any])


def quiet(fn: F) -> F:
    """Run ``fn`` with NumPy's floating-point warnings off: NaN and inf arithmetic (``inf - inf``
    in a window sum, a NaN maximum) is part of the semantics, not an accident.

    NumPy 2's ``errstate`` decorator sets a fresh context-local state per call (thread- and
    re-entry-safe, and cheaper than entering a new ``errstate``); NumPy 1's keeps one state object
    per decorated function, so there every call enters its own."""
    if int(np.__version__.split(".")[0]) >= 2:
        return functools.wraps(fn)(np.errstate(invalid="ignore", over="ignore", divide="ignore")(fn))  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def finite(a: np.ndarray) -> bool:
    """Whether every value of ``a`` is finite and small enough that its square is: the sum of the
    squares is finite exactly then (a NaN or an infinity makes it NaN or infinite, and no term is
    negative, so nothing cancels), and one ``dot`` costs a fraction of ``isfinite(a).all()`` on a
    small array. A value above about ``1e154`` overflows the sum (a ``False`` that only sends the
    caller to its general path); call it with floating-point warnings off (:func:`quiet`)."""
    flat = a.reshape(-1)
    return math.isfinite(flat.dot(flat))


#: ``dtype.kind`` of the accepted arrays: floating, signed and unsigned integer (never bool,
#: complex, object, string or datetime).
_REAL_KINDS = frozenset("fiu")


def as_float64(op: str, name: str, value: object) -> np.ndarray:
    """``value`` as a float64 array; real integer, boolean-free numeric input only."""
    arr = value if type(value) is np.ndarray else np.asarray(value)
    dtype = arr.dtype
    if dtype.kind not in _REAL_KINDS:
        raise TypeError(f"{op}: {name} must be a real integer or floating array, got dtype {dtype}")
    return arr if dtype == np.float64 else arr.astype(np.float64)


def batch_input(op: str, name: str, value: object, *, min_spatial: int = 1) -> np.ndarray:
    """A channels-first ``(N, C, *spatial)`` array with at least ``min_spatial`` spatial axes."""
    arr = as_float64(op, name, value)
    if arr.ndim < 2 + min_spatial:
        raise ValueError(
            f"{op}: {name} must have shape (N, C, *spatial) with at least {min_spatial} spatial "
            f"dimension(s), got shape {arr.shape}"
        )
    if 0 in arr.shape:
        raise ValueError(f"{op}: {name} must not have an empty dimension, got shape {arr.shape}")
    return arr


def is_int(value: object) -> bool:
    return type(value) is int or (isinstance(value, numbers.Integral) and not isinstance(value, bool))


def per_dim(op: str, name: str, value: object, nd: int, *, minimum: int = 1) -> tuple[int, ...]:
    """An int or a sequence of ``nd`` ints, each ``>= minimum``, as a tuple of ``nd`` ints."""
    if is_int(value):
        values: tuple[int, ...] = (int(value),) * nd  # type: ignore[call-overload]
    elif isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != nd or not all(is_int(v) for v in value):
            raise TypeError(
                f"{op}: {name} must be an int or a sequence of {nd} ints (one per spatial dimension), got {value!r}"
            )
        values = tuple(int(v) for v in value)
    else:
        raise TypeError(f"{op}: {name} must be an int or a sequence of {nd} ints, got {value!r}")
    if any(v < minimum for v in values):
        raise ValueError(f"{op}: {name} must be >= {minimum} in every dimension, got {value!r}")
    return values


def choice(op: str, name: str, value: object, allowed: Sequence[str]) -> str:
    """One of the ``allowed`` policy strings."""
    if not isinstance(value, str) or value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{op}: {name} must be one of {options}, got {value!r}")
    return value


def flag(op: str, name: str, value: object) -> bool:
    if type(value) is bool:
        return value
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: {name} must be a bool, got {value!r}")
    return bool(value)


def cotangent(op: str, dy: object, expected: tuple[int, ...]) -> np.ndarray:
    """The upstream gradient ``dy``, which must have exactly the forward output's shape."""
    arr = as_float64(op, "dy", dy)
    if arr.shape != expected:
        raise ValueError(f"{op}: dy must have the output shape {expected}, got shape {arr.shape}")
    return arr
