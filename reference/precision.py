"""Floating-point formats by name: NumPy's own, and bfloat16, which NumPy lacks.

The suite names dtypes as strings (``"float32"``, ``"bfloat16"``). NumPy has ``float16`` but no
``bfloat16``; :func:`numpy_dtype` resolves that name to ``ml_dtypes.bfloat16`` (the NumPy extension
type that JAX and TensorFlow install and use for their own bfloat16 arrays), importing ``ml_dtypes``
only when bfloat16 is asked for: ``import convequiv.reference`` still imports nothing but NumPy, and
every other dtype works without ``ml_dtypes``. After that first import ``numpy.dtype("bfloat16")``
works too (``ml_dtypes`` registers the name).

:func:`finfo` is ``numpy.finfo`` for every format (``ml_dtypes.finfo`` for bfloat16, which
``numpy.finfo`` refuses), and :func:`wider` picks the more precise of a storage and an accumulation
format (:mod:`convequiv.reference.tolerance` bounds sums accumulated in one and stored in the other).

============  ====================  ===========================  =======================
format        unit roundoff ``u``    smallest normal (``tiny``)  largest finite
============  ====================  ===========================  =======================
float64       ``2**-53``             ``2**-1022``                ``1.8e308``
float32       ``2**-24``             ``2**-126``                 ``3.4e38``
bfloat16      ``2**-8``              ``2**-126``                 ``3.4e38``
float16       ``2**-11``             ``2**-14``                  ``65504``
============  ====================  ===========================  =======================
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import DTypeLike  # not at run time: ``import convequiv.reference`` loads no NumPy submodule

T = TypeVar("T")

#: The reduced-precision formats the suite checks besides float32 and float64.
REDUCED = ("float16", "bfloat16")


def _ml_dtypes() -> Any:
    try:
        import ml_dtypes
    except ImportError as exc:  # pragma: no cover - installed with jax and tensorflow
        raise ImportError("the bfloat16 dtype needs the ml_dtypes package (pip install ml_dtypes)") from exc
    return ml_dtypes


def _is_bfloat16(dtype: object) -> bool:
    return (isinstance(dtype, str) and dtype == "bfloat16") or getattr(dtype, "__name__", None) == "bfloat16"


def numpy_dtype(dtype: DTypeLike) -> np.dtype[Any]:
    """``numpy.dtype(dtype)``, where ``"bfloat16"`` is ``ml_dtypes.bfloat16`` (imported only then)."""
    if _is_bfloat16(dtype):
        bfloat16: np.dtype[Any] = np.dtype(_ml_dtypes().bfloat16)
        return bfloat16
    return np.dtype(dtype)


def name(dtype: DTypeLike) -> str:
    """The format's name: ``"float32"``, ``"bfloat16"`` ..."""
    return _remembered(_cached_name, _name, dtype)


def _name(dtype: DTypeLike) -> str:
    return "bfloat16" if _is_bfloat16(dtype) else numpy_dtype(dtype).name


def finfo(dtype: DTypeLike) -> Any:
    """Machine limits of a floating format (``eps``, ``tiny``, ``max``), bfloat16 included."""
    return _remembered(_cached_finfo, _finfo, dtype)


def _finfo(dtype: DTypeLike) -> Any:
    dt = numpy_dtype(dtype)
    if dt.name == "bfloat16":
        return _ml_dtypes().finfo(dt)
    return np.finfo(dt)


#: The error bounds ask for a format's name and limits several times per check: both are looked
#: up once per spelling of a dtype (a string, a scalar type, a ``numpy.dtype``).
_cached_name = functools.lru_cache(maxsize=64)(_name)
_cached_finfo = functools.lru_cache(maxsize=64)(_finfo)


def _remembered(cached: Callable[[Any], T], compute: Callable[[Any], T], dtype: DTypeLike) -> T:
    """``cached(dtype)``, or ``compute(dtype)`` for a spelling that cannot be a cache key."""
    try:
        hash(dtype)
    except TypeError:
        return compute(dtype)
    return cached(dtype)


def is_reduced(dtype: DTypeLike) -> bool:
    """Whether ``dtype`` is one of :data:`REDUCED` (float16, bfloat16)."""
    return name(dtype) in REDUCED


def wider(storage: DTypeLike, accumulate: DTypeLike | None) -> str:
    """The format sums are accumulated in: ``accumulate`` when it is more precise than ``storage``
    (float32 for bfloat16 storage), else ``storage`` itself (nothing accumulates more coarsely than
    it stores; ``None`` means the storage format)."""
    if accumulate is None or accumulate == "":
        return name(storage)
    return name(accumulate) if float(finfo(accumulate).eps) < float(finfo(storage).eps) else name(storage)
