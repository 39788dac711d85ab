"""convequiv.equivalence.check with NumPy-only adapters: plans and routes in the outcome, proofs of
refusals (the framework's own error only), crash records, records that explain a check together,
forward-only adapters, the reproduction line, and the shim for adapters of the 0.1 interface."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest

from convequiv import adapters, divergences
from convequiv.adapters.base import NotRefused
from convequiv.equivalence import EquivalenceError, check
from convequiv.reference.cases import Example, GlobalPoolCase, PoolCase
from tests.support import fake_adapter as fake

MAX = Example(PoolCase("max", (2, 3, 5, 4), 2), seed=3)
AVG = Example(PoolCase("avg", (2, 3, 5, 4), 2), seed=4)
RECORDS = """
[[divergence]]
id = "echo-y"
adapter = "echo-shifted"
op = "max_pool"
when = "case.nd == 2"
outputs = ["y"]
versions = {}
summary = "y is shifted"
evidence = "repro: tests/support/fake_adapter.py"

[[divergence]]
id = "echo-dx"
adapter = "echo-shifted"
op = "max_pool"
when = "example.most_in_a_window('nan') == 0"
outputs = ["dx"]
versions = {}
summary = "dx is shifted"
evidence = "repro: tests/support/fake_adapter.py"

[[divergence]]
id = "echo-numpy-crash"
adapter = "echo-crash"
op = "avg_pool"
when = "case.nd == 2"
outputs = ["crash"]
raises = "ValueError: cannot reshape"
versions = {}
summary = "NumPy raises"
evidence = "repro: tests/support/fake_adapter.py"
"""


@pytest.fixture
def records(tmp_path, monkeypatch):
    path = tmp_path / "records.toml"
    path.write_text(RECORDS)
    monkeypatch.setenv("CONVEQUIV_DIVERGENCES", str(path))
    return path


def test_agree_carries_the_plan_and_its_route():
    outcome = check(fake.EchoAdapter(), MAX, api="only")
    assert outcome.status == "agree" and outcome.route == "echo" and "reference" in outcome.plan


def test_two_records_explain_one_check_together(records):
    outcome = check(fake.ShiftedEcho(), MAX, api="only")
    assert outcome.status == "diverge" and set(outcome.divergences) == {"echo-y", "echo-dx"}


def test_one_record_alone_does_not_explain_two_outputs(records, tmp_path, monkeypatch):
    only_y = tmp_path / "only-y.toml"
    only_y.write_text(RECORDS.split("[[divergence]]")[1].join(["[[divergence]]", ""]))
    monkeypatch.setenv("CONVEQUIV_DIVERGENCES", str(only_y))
    with pytest.raises(EquivalenceError, match="dx"):
        check(fake.ShiftedEcho(), MAX, api="only")


def test_strict_divergences_fail_and_say_so(records):
    with pytest.raises(EquivalenceError, match=r"explained by echo-.*strict"):
        check(fake.ShiftedEcho(), MAX, api="only", strict_divergences=True)


def test_a_crash_record_explains_a_matching_crash(records):
    outcome = check(fake.CrashingEcho(), AVG, api="only")
    assert outcome.status == "diverge" and outcome.divergences == ("echo-numpy-crash",)


def test_a_crash_outside_the_record_fails(records):
    three_d = Example(PoolCase("avg", (2, 3, 4, 5, 3), 2), seed=1)
    with pytest.raises(EquivalenceError, match="the framework call raised ValueError"):
        check(fake.CrashingEcho(), three_d, api="only")


def test_forward_only_outputs_are_not_checked_not_agreed():
    outcome = check(fake.ForwardOnlyEcho(), MAX, api="only")
    assert outcome.status == "agree" and outcome.unchecked == ("dx",)
    assert all(key.unchecked == ("dx",) for key in outcome.tally_keys())


def test_a_refusal_is_proven_by_the_frameworks_own_error():
    outcome = check(fake.RefusingEcho(), AVG, api="only")
    assert outcome.status == "unsupported" and "ValueError" in outcome.detail


def test_an_adapter_bug_is_not_a_refusal():
    with pytest.raises(NotRefused, match="outside numpy"):
        check(fake.AdapterBugAsRefusal(), AVG, api="only")


def test_a_refusal_that_runs_is_contradicted():
    class Runs(fake.RefusingEcho):
        name = "echo-runs"

        def run(self, plan, inputs):
            return fake.EchoAdapter.run(self, plan, inputs) if plan.route != "attempt" else {}

    with pytest.raises(NotRefused, match="but it ran"):
        check(Runs(), AVG, api="only")


def test_reproduction_line_works_for_a_module_class_adapter(records):
    impl = adapters.load("tests.support.fake_adapter:ShiftedEcho")
    failing = Example(PoolCase("max", (2, 3, 4, 5, 3), 2), seed=2)  # 3-D: the y record does not apply
    with pytest.raises(EquivalenceError) as failure:
        check(impl, failing, api="only")
    line = str(failure.value).split("reproduce:")[1].strip()
    assert line.startswith('python -c "') and "tests.support.fake_adapter:ShiftedEcho" in line
    run = subprocess.run(line[len("python ") :].join([sys.executable + " ", ""]), shell=True, capture_output=True)
    assert run.returncode != 0 and b"EquivalenceError" in run.stderr


def test_old_interface_runs_through_the_shim_with_a_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        impl = adapters.load("tests.support.fake_adapter:OldStyleEcho")
    assert any(issubclass(w.category, DeprecationWarning) and "run(plan, inputs)" in str(w.message) for w in caught)
    assert check(impl, MAX, api="only").status == "agree"
    assert check(impl, AVG, api="only").status == "unsupported"  # its attempt() raises inside NumPy
    assert check(impl, Example(GlobalPoolCase("max", (2, 3, 4)), seed=1), api="only").status == "agree"


def test_records_are_read_once_per_variable(records):
    assert {"echo-y", "echo-dx", "echo-numpy-crash"} <= {d.id for d in divergences.recorded()}
