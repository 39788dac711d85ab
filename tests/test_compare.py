"""The comparison rules of convequiv.compare: shapes, NaN positions, exact infinities, bounds."""

import numpy as np

from convequiv.compare import compare


def test_within_bound_agrees():
    assert compare("y", np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9]), np.full(2, 1e-8)) is None


def test_outside_bound_names_worst_element():
    found = compare("dx", np.array([[1.0, 2.0], [3.0, 4.5]]), np.array([[1.0, 2.0], [3.0, 4.0]]), np.full((2, 2), 0.1))
    assert found is not None and "[1, 1]" in found.detail and found.bad == 1 and "0.5" in found.detail


def test_shape_mismatch():
    found = compare("y", np.zeros((2, 3)), np.zeros((3, 2)), np.zeros((3, 2)))
    assert found is not None and "shape (2, 3)" in found.detail


def test_nan_positions_must_match_both_ways():
    bound = np.zeros(2)
    assert compare("y", np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), bound) is None
    assert compare("y", np.array([0.0, 1.0]), np.array([np.nan, 1.0]), bound) is not None
    assert compare("y", np.array([np.nan, 1.0]), np.array([0.0, 1.0]), bound) is not None


def test_infinities_are_exact():
    bound = np.full(1, np.inf)
    assert compare("y", np.array([np.inf]), np.array([np.inf]), bound) is None
    assert compare("y", np.array([-np.inf]), np.array([np.inf]), bound) is not None
    assert compare("y", np.array([1e300]), np.array([np.inf]), bound) is not None


def test_zero_bound_means_exact():
    assert compare("y", np.array([1.0]), np.array([np.nextafter(1.0, 2.0)]), np.zeros(1)) is not None
