"""The suite must fail loudly on a wrong adapter.

Each adapter in :mod:`tests.equivalence.broken_adapters` carries one classic bug; Hypothesis must
find an example on which :func:`convequiv.equivalence.check` rejects it, and the failure message
must carry a runnable reproduction. The same happens end to end through pytest's ``--adapters``.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, find, settings
from hypothesis import strategies as st

pytest.importorskip("torch")

from convequiv.equivalence import EquivalenceError, check
from convequiv.reference.strategies import EDGE_CASES, conv_cases, examples, pool_cases
from tests.support.nested import nested_env

from . import broken_adapters

ROOT = Path(__file__).resolve().parents[2]
SEARCH = settings(max_examples=400, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
ANY = st.one_of(
    st.sampled_from(list(EDGE_CASES.values())),
    examples(conv_cases(), values=("normal",)),
    examples(pool_cases("max"), values=("normal", "ties", "negative")),
    examples(pool_cases("avg"), values=("normal",)),
)


def _rejected(adapter, ex) -> bool:
    for api in adapter.checked_apis(ex.case.op):
        try:
            check(adapter, ex, api=api, dtype="float64")
        except (EquivalenceError, AssertionError):
            return True
    return False


@pytest.mark.parametrize("broken", broken_adapters.BROKEN, ids=lambda cls: cls.name)
def test_suite_catches_broken_adapter(broken):
    adapter = broken()
    found = find(ANY, lambda ex: _rejected(adapter, ex), settings=SEARCH)
    with pytest.raises((EquivalenceError, AssertionError)) as failure:
        for api in adapter.checked_apis(found.case.op):
            check(adapter, found, api=api, dtype="float64")
    if isinstance(failure.value, EquivalenceError):
        message = str(failure.value)
        assert "reproduce:" in message and repr(found) in message
        assert "bound" in message or "the framework call raised" in message or "shape" in message


def test_pytest_run_fails_on_broken_adapter():
    """End to end: the equivalence tests, given a broken adapter through --adapters, fail."""
    spec = "tests.equivalence.broken_adapters:FlippedKernel"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "convequiv/suite/test_conv.py",
            "--adapters",
            spec,
            "-x",
            "-q",
            "-p",
            "no:cacheprovider",
            "--hypothesis-profile",
            "ci",
        ],
        cwd=ROOT,
        env=nested_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
    assert "differs from the reference" in run.stdout and "from convequiv.equivalence import check" in run.stdout
