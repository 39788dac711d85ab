"""Fixtures for the notes' models and claims.

Framework tests carry the marker of the framework they need (``-m torch``, ``-m keras``; both on
tests that need the two) and skip only when that framework is not installed. Tests reading the
lecture notes skip when the notes' directory is not found (the notes live outside the repository).
"""

from __future__ import annotations

import pytest

from convequiv.notes.claims.notes import Notes, find_notes
from convequiv.notes.models import frameworks


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "torch: needs PyTorch (skipped when it is not installed)")
    config.addinivalue_line("markers", "keras: needs Keras (skipped when it is not installed)")
    config.addinivalue_line("markers", "notes: needs the lecture notes' files (skipped when absent)")


@pytest.fixture(scope="session")
def notes() -> Notes:
    found = find_notes()
    if found is None:
        pytest.skip("the lecture notes are not available (set CONVEQUIV_NOTES)")
    return found


@pytest.fixture(scope="session")
def torch():
    module = frameworks.load("torch")
    if module is None:
        pytest.skip("torch is not installed")
    return module


@pytest.fixture(scope="session")
def keras():
    module = frameworks.load("keras")
    if module is None:
        pytest.skip("keras is not installed")
    return module
