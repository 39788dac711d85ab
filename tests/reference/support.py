"""Helpers of the reference's own tests: the float64 comparison tolerance (explained here, once),
exact comparison for max pooling, inner-product bounds for the adjoint identities, and central
finite differences.

Why the float64 tolerance is what it is
---------------------------------------
Every value the ops produce is a sum of at most ``terms`` products of float64 inputs, plus a bias
or one final division. Whatever the summation order (the reference's BLAS blocks, the naive
oracle's tap-by-tap loop, with or without FMA), the computed sum differs from the exact one by at
most ``gamma(terms + 2) * M``, where ``gamma(n) = n * u / (1 - n * u)``, ``u = 2**-53``, and ``M``
is the same sum taken over absolute values (the *magnitude*, which the naive oracle computes from
``|x|``, ``|w|``, ``|dy|``). Two correct float64 computations therefore differ by at most
``2 * gamma(terms + 2) * M``; the factor 1.001 absorbs the rounding of ``M`` itself. With the
small shapes used here ``terms`` stays below a few thousand, so the bound is at most about
``1e-12 * M``, while any semantic error (a wrong tap, a wrong divisor, a shifted pad) is of the
order of ``M`` itself. Non-finite results (from inf / NaN inputs) must match exactly: NaN where
NaN, the same infinity where infinite. Max pooling forward is exact (no arithmetic), so it is
compared with exact equality, NaN positions equal.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

U64 = 2.0**-53


def gamma64(n: int) -> float:
    """Higham's ``gamma(n)`` for float64."""
    nu = n * U64
    assert nu < 0.01, f"{n} terms is too many for the float64 comparison bound"
    return nu / (1 - nu)


def _where(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def assert_close(actual, expected, magnitude, terms: int, *, what: str, case: object) -> None:
    """``actual`` (reference) against ``expected`` (naive) within ``2 * gamma(terms + 2) * M``;
    non-finite entries must match exactly. Fails naming the case, the worst element, the error
    and the bound."""
    actual, expected, magnitude = (np.asarray(a) for a in (actual, expected, magnitude))
    assert actual.dtype == np.float64, f"{what}: reference returned {actual.dtype}, not float64 ({case!r})"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != naive {expected.shape} ({case!r})"
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    if not np.array_equal(nan_a, nan_e):
        at = _where(nan_a != nan_e)
        raise AssertionError(
            f"{what}: NaN pattern differs at {at}: reference {actual[at]}, naive {expected[at]}; {case!r}"
        )
    inf_a, inf_e = np.isinf(actual), np.isinf(expected)
    if not (np.array_equal(inf_a, inf_e) and np.array_equal(actual[inf_a], expected[inf_e])):
        at = _where((inf_a != inf_e) | (inf_a & (actual != expected)))
        raise AssertionError(
            f"{what}: infinities differ at {at}: reference {actual[at]}, naive {expected[at]}; {case!r}"
        )
    finite = np.isfinite(expected)
    bound = 1.001 * 2 * gamma64(terms + 2) * np.abs(magnitude)
    if not np.all(np.isfinite(bound[finite])):  # a NaN bound would silently accept anything
        at = _where(finite & ~np.isfinite(bound))
        raise AssertionError(f"{what}: finite {expected[at]!r} at {at} but magnitude {magnitude[at]!r}; {case!r}")
    with np.errstate(invalid="ignore"):
        err = np.where(finite, np.abs(actual - expected), 0.0)
        excess = np.where(finite, err - bound, -np.inf)
    if excess.size and excess.max() > 0:
        at = np.unravel_index(int(np.argmax(excess)), excess.shape)
        raise AssertionError(
            f"{what}: worst element {tuple(int(i) for i in at)}: reference {actual[at]!r}, naive {expected[at]!r}, "
            f"error {err[at]:.3e} > bound {bound[at]:.3e} (terms={terms}, magnitude {magnitude[at]:.3e}); "
            f"reproduce with {case!r}"
        )


def assert_identical(actual, expected, *, what: str, case: object) -> None:
    """Exact equality, NaN positions equal (max pooling forward)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == np.float64, f"{what}: reference returned {actual.dtype}, not float64"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != naive {expected.shape} ({case!r})"
    same = (actual == expected) | (np.isnan(actual) & np.isnan(expected))
    if not same.all():
        at = _where(~same)
        raise AssertionError(f"{what}: at {at} reference {actual[at]!r} != naive {expected[at]!r}; {case!r}")


def inner(a, b) -> float:
    """``<a, b>`` in float64, with ``0 * anything = 0`` (a zero gradient never meets an inf)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    with np.errstate(invalid="ignore"):
        return float(np.sum(np.where((a == 0) | (b == 0), 0.0, a * b)))


def assert_inner_equal(lhs: float, rhs: float, scale: float, terms: int, *, what: str, case: object) -> None:
    """Two float64 evaluations of the same sum of products: ``|lhs - rhs| <= 2 * gamma(terms) * scale``,
    with ``scale`` the sum of the absolute products (same argument as in the module docstring)."""
    bound = 1.001 * 2 * gamma64(terms + 2) * scale
    assert abs(lhs - rhs) <= bound, (
        f"{what}: {lhs!r} vs {rhs!r}, difference {abs(lhs - rhs):.3e} > {bound:.3e}; {case!r}"
    )


def finite_difference_check(
    loss: Callable[[np.ndarray], tuple[float, float]],
    x: np.ndarray,
    grad: np.ndarray,
    directions: list[np.ndarray],
    *,
    h: float,
    terms: int,
    what: str,
    case: object,
) -> None:
    """Central differences ``(L(x + h v) - L(x - h v)) / 2h`` against ``<grad, v>`` for each ``v``.

    ``loss(z)`` returns ``(L(z), S(z))`` with ``S`` the sum of absolute products of ``L``. Every op
    checked here is piecewise linear and ``h`` is small enough that no routing changes, so the
    central difference is exact in real arithmetic: the only error is the rounding of the two
    losses (``gamma(terms) * S`` each, plus ``u * S`` for rounding ``x +- h v``) divided by ``2h``,
    and the rounding of ``<grad, v>``.
    """
    for v in directions:
        plus, s_plus = loss(x + h * v)
        minus, s_minus = loss(x - h * v)
        fd = (plus - minus) / (2 * h)
        exact = inner(grad, v)
        bound = 1.001 * (
            (gamma64(terms + 2) + 2 * U64) * (s_plus + s_minus) / (2 * h)
            + gamma64(grad.size + 2) * float(np.sum(np.abs(grad) * np.abs(v)))
        )
        assert abs(fd - exact) <= bound, (
            f"{what}: finite difference {fd!r} vs gradient {exact!r} (difference {abs(fd - exact):.3e} > bound "
            f"{bound:.3e}) along a direction with {int(np.count_nonzero(v))} non-zeros; {case!r}"
        )


def directions(rng: np.random.Generator, shape: tuple[int, ...], *, usable=None, random: int = 2, per_element_up_to=48):
    """Random dense directions, plus every unit vector when the array is small (per-element check).
    Entries where ``usable`` is False stay zero."""
    mask = np.ones(shape, bool) if usable is None else usable
    result = [np.where(mask, rng.uniform(-1, 1, shape), 0.0) for _ in range(random)]
    if math.prod(shape) <= per_element_up_to:
        for index in np.ndindex(*shape):
            if mask[index]:
                e = np.zeros(shape)
                e[index] = 1.0
                result.append(e)
    return result


def distinct_values(rng: np.random.Generator, shape: tuple[int, ...], gap: float = 2.0**-4) -> np.ndarray:
    """Pairwise distinct values on a grid of spacing ``gap`` (so maxima are unique and stay unique
    under perturbations smaller than ``gap / 2``), of both signs."""
    size = math.prod(shape)
    return ((rng.permutation(size) - size // 2) * gap).reshape(shape).astype(np.float64)
