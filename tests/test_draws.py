"""Value draws per compiled case (convequiv.draws): at least the adapter's minimum, more while the extra
draws cost less than the first check (which paid the compilation), never past the cap, and every
draw is the reproducible value draw of its index."""

import time
from types import SimpleNamespace

from convequiv.draws import MAX_DRAWS, case_draws
from convequiv.reference.strategies import edge_cases, value_draw

EXAMPLE = edge_cases("conv")[0]


def _consume(adapter, first_check: float, later_check: float, key=None) -> list:
    drawn = []
    for ex in case_draws(EXAMPLE, adapter, key):
        drawn.append(ex)
        time.sleep(first_check if len(drawn) == 1 else later_check)
    return drawn


def test_an_adapter_without_draws_gets_its_example_only():
    assert _consume(SimpleNamespace(), 0.05, 0.0) == [EXAMPLE]
    assert _consume(SimpleNamespace(draws_per_case=1), 0.05, 0.0) == [EXAMPLE]


def test_a_cached_compilation_gets_the_minimum():
    drawn = _consume(SimpleNamespace(draws_per_case=3), 0.0, 0.01)
    assert drawn == [value_draw(EXAMPLE, i) for i in range(3)]


def test_a_slow_compilation_buys_draws_up_to_its_own_time():
    drawn = _consume(SimpleNamespace(draws_per_case=3), 0.2, 0.01)
    assert 3 < len(drawn) <= 25, len(drawn)  # about 0.2 s / 0.01 s (fewer where sleeps overshoot)
    assert drawn == [value_draw(EXAMPLE, i) for i in range(len(drawn))]
    assert len({(d.seed, d.values) for d in drawn}) == len(drawn)


def test_the_draws_are_capped():
    assert len(_consume(SimpleNamespace(draws_per_case=3), 0.5, 0.0)) == MAX_DRAWS


def test_a_case_seen_again_gets_its_first_number_of_draws():
    """Hypothesis replays a failing example: the now-compiled case must meet the same draws."""
    adapter = SimpleNamespace(draws_per_case=3)
    first = _consume(adapter, 0.2, 0.01, key="replayed")
    assert len(first) > 3
    assert _consume(adapter, 0.0, 0.0, key="replayed") == first  # no compilation now: the minimum otherwise
    assert len(_consume(adapter, 0.0, 0.0, key="another")) == 3


def test_a_check_that_fails_is_replayed_up_to_its_failing_draw():
    adapter = SimpleNamespace(draws_per_case=3)
    seen = []
    for ex in case_draws(EXAMPLE, adapter, "fails"):
        seen.append(ex)
        time.sleep(0.2 if len(seen) == 1 else 0.01)
        if len(seen) == 6:
            break  # the check of the sixth draw raised
    assert list(case_draws(EXAMPLE, adapter, "fails")) == seen
