"""Data predicates over the cells an example's windows read, for divergence conditions.

Each function takes a case (:mod:`convequiv.reference.cases`) and the input ``x`` the framework
received, and counts per output window; a condition such as ``example.most_in_a_window('nan') >= 2``
(:mod:`convequiv.condition`) calls them on exactly those arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .pooling import max_pool
from .windows import pad, window_view

if TYPE_CHECKING:
    from .cases import Case, PoolCase


def _pooling(case: Case) -> PoolCase | None:
    """``case`` when it is a windowed pooling case (the cases module imports this one: import late)."""
    from .cases import PoolCase

    return case if isinstance(case, PoolCase) else None


def _as_windowed_pooling(case: Case, x: np.ndarray) -> tuple[PoolCase, np.ndarray] | None:
    """``case`` and ``x`` as a windowed pooling: a depth pooling (window ``k``, stride ``s`` over the
    channels) is the 1-D pooling of every (sample, position)'s channel vector, shape ``(N * prod(S), 1, C)``."""
    from .cases import DepthPoolCase, PoolCase

    if isinstance(case, PoolCase):
        return case, x
    if isinstance(case, DepthPoolCase):
        rows = np.moveaxis(x, 1, -1).reshape(-1, 1, x.shape[1])
        kind = "max" if case.mode == "max" else "avg"
        return PoolCase(kind, rows.shape, case.pool_size, case.resolved_stride, "valid"), rows
    return None


#: Cell predicates for :func:`most_in_a_window` and :func:`fewest_in_a_window`.
CELL_FLAGS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "nan": np.isnan,
    "inf": np.isinf,
    "+inf": np.isposinf,
    "-inf": np.isneginf,
    "above -inf": lambda x: x > -np.inf,
}


def most_in_a_window(case: Case, x: np.ndarray, flag: str = "nan") -> int:
    """Largest number of cells of ``x`` matching ``flag`` (:data:`CELL_FLAGS`) that any single
    output window of ``case`` reads (``0`` when no cell matches)."""
    mask = CELL_FLAGS[flag](x)
    return int(case.window_counts(mask).max()) if mask.any() else 0


def fewest_in_a_window(case: Case, x: np.ndarray, flag: str) -> int:
    """Smallest number of cells of ``x`` matching ``flag`` that any output window reads."""
    return int(case.window_counts(CELL_FLAGS[flag](x)).min())


def most_near_max_in_a_window(case: Case, x: np.ndarray, atol: float, rtol: float = 0.0) -> int:
    """Largest number of input taps of one pooling window that lie within ``atol + rtol * |max|`` of
    that window's maximum (NaN ignored): how many taps a tolerance-based max gradient would pick, or
    a comparison at reduced precision would tie (``rtol = 2 ** -7``: equal in bfloat16 at most).
    Depth pooling counts its windows over the channels."""
    windowed = _as_windowed_pooling(case, x)
    if windowed is None:
        raise TypeError("most_near_max_in_a_window needs a PoolCase or a DepthPoolCase")
    pool, x = windowed
    geom = pool.geometry
    view = window_view(pad(x, geom, -np.inf), geom)
    peak = max_pool(x, pool.kernel, nan="ignore", **pool.kwargs())
    peak = peak.reshape(peak.shape + (1,) * case.nd)
    with np.errstate(invalid="ignore"):
        near = (view >= peak - (atol + rtol * np.abs(peak))) & np.isfinite(view)
    axes = tuple(range(near.ndim - case.nd, near.ndim))
    return int(near.sum(axis=axes).max())


def windows_led_by_padding_with_only(case: Case, x: np.ndarray, flag: str) -> int:
    """How many pooling windows read only input cells matching ``flag`` while their first tap (in
    row-major window order) lies in the padding: where an input padded with real cells of the
    same value ties them, a first-maximum rule picks the padding cell."""
    pool = _pooling(case)
    if pool is None:
        return 0
    geom = pool.geometry
    matching = case.window_counts(CELL_FLAGS[flag](x))
    inputs = case.window_counts(np.ones(case.x_shape, dtype=bool))
    first_on_input = window_view(pad(np.ones(case.x_shape[2:], dtype=bool), geom, False), geom)[
        (Ellipsis,) + (0,) * case.nd
    ]
    return int(((matching == inputs) & (inputs > 0) & ~first_on_input).sum())
