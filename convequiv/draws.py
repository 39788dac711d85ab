"""How many inputs a compiled case is checked with: compile once, then check for as long as compiling took.

An adapter that opts into several value draws per case (``draws_per_case > 1``: the compiled variants)
pays its compiler once per case geometry; each further input of that geometry costs one run of the
compiled program. :func:`case_draws` yields the example, then further value draws of its case
(:func:`convequiv.reference.strategies.value_draw`) — at least ``draws_per_case`` in all, and more while
the draws after the first have taken less time than the first (which paid the compilation), up to
:data:`MAX_DRAWS`. Checking then costs at most about twice the compilations, and a compiled variant
checks about ``1 / (2 t)`` inputs per second, ``t`` being one compiled run's check, whatever its
compiler costs. A case whose program was already compiled (the same signature) gets the minimum.

The number of draws depends on the machine's speed, not the inputs: every draw reproduces from its
own ``repr``, and adapters with ``draws_per_case == 1`` (everything the default selection and CI run)
get exactly one. Given a ``key`` (the check's adapter, example, API and dtype), a case seen again in
the same process gets the draws it got the first time, however fast its now-compiled program runs:
Hypothesis replays a failing example and must meet the same failing draw, or it reports the failure
as flaky and cannot shrink it.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterator
from typing import Any

from convequiv.reference.cases import Example
from convequiv.reference.strategies import value_draw

#: The most value draws one compiled case gets.
MAX_DRAWS = 250
#: How many keyed cases keep their number of draws (the oldest are forgotten first).
REMEMBERED = 4096
_handed_out: dict[Hashable, int] = {}


def case_draws(example: Example, adapter: Any, key: Hashable | None = None) -> Iterator[Example]:
    """``example``, then its further value draws for ``adapter`` (see the module). The time between
    two ``next`` calls is taken as the check of the draw handed out before. A ``key`` seen before
    gets as many draws as were handed out under it then (see the module)."""
    minimum = max(1, int(getattr(adapter, "draws_per_case", 1)))
    if key is not None and key in _handed_out:
        yield from (value_draw(example, i) if i else example for i in range(_handed_out[key]))
        return
    started = time.perf_counter()
    _remember(key, 1)
    yield example
    if minimum == 1:
        return
    first = time.perf_counter() - started  # the first check: the compilation and one run
    spent = 0.0
    i = 1
    while i < MAX_DRAWS and (i < minimum or spent < first):
        started = time.perf_counter()
        _remember(key, i + 1)
        yield value_draw(example, i)
        spent += time.perf_counter() - started
        i += 1


def _remember(key: Hashable | None, count: int) -> None:
    if key is None:
        return
    _handed_out[key] = count
    if len(_handed_out) > REMEMBERED:
        del _handed_out[next(iter(_handed_out))]
