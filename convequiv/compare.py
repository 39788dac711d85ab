"""Compare a framework's array with the reference under a per-element error bound.

Rules, per element: shapes must be equal; NaN in the reference must be NaN in the result and
nowhere else; an infinite reference value must be matched exactly; every other element must satisfy
``|actual - expected| <= bound`` with the bound of :mod:`convequiv.reference.tolerance` (zero for exact ops).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ArrayMismatch:
    """Where and by how much one output differs from the reference."""

    output: str
    detail: str
    bad: int = 0
    total: int = 0
    exception: str = ""  # for output "crash": the exception type and its message
    message: str = ""

    def __str__(self) -> str:
        counts = f" ({self.bad} of {self.total} elements outside the bound)" if self.total else ""
        return f"{self.output}: {self.detail}{counts}"


def compare(output: str, actual: np.ndarray, expected: np.ndarray, bound: np.ndarray) -> ArrayMismatch | None:
    """``None`` when ``actual`` agrees with ``expected`` within ``bound`` (rules in the docstring)."""
    actual = np.asarray(actual)
    if actual.shape != expected.shape:
        return ArrayMismatch(output, f"shape {actual.shape}, expected {expected.shape}")
    got = actual.astype(np.float64)
    nan_want, nan_got = np.isnan(expected), np.isnan(got)
    inf_want = np.isinf(expected)
    with np.errstate(invalid="ignore"):
        err = np.abs(got - expected)
    err = np.where(nan_want | inf_want, 0.0, err)
    err = np.where(nan_got & ~nan_want, np.inf, err)
    bad = (nan_want != nan_got) | (inf_want & ~nan_want & (got != expected)) | (err > bound)
    if not bad.any():
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(bad, np.where(bound > 0, err / np.where(bound > 0, bound, 1.0), np.inf), -1.0)
    worst = np.unravel_index(
        int(np.argmax(np.where(bad, np.nan_to_num(ratio, posinf=np.finfo(float).max), -1.0))), bad.shape
    )
    index = ", ".join(str(int(i)) for i in worst)
    detail = (
        f"worst element [{index}]: got {got[worst]!r}, expected {expected[worst]!r}, "
        f"|error| {err[worst]:.3g} > bound {float(bound[worst]):.3g}"
    )
    return ArrayMismatch(output, detail, int(bad.sum()), bad.size)
