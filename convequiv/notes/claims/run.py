"""Decide claims: run each decider, time it, and compare its verdict with the catalogue's expectation.

A decider that raises is reported as ``undecided`` with the error in the evidence and counted as an
error; a listing whose note text changed (:class:`~convequiv.notes.claims.notes.ListingChanged`) is
``undecided`` too.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from .catalogue import CLAIMS
from .context import Context
from .model import UNDECIDED, Claim, Decision
from .notes import ListingChanged


@dataclass(frozen=True)
class Result:
    """A claim and what its decider found."""

    claim: Claim
    decision: Decision
    seconds: float
    error: bool = False

    @property
    def verdict(self) -> str:
        return self.decision.verdict

    @property
    def as_expected(self) -> bool:
        """The decided verdict is the catalogue's (undecided claims count as neither)."""
        return self.verdict == self.claim.expected

    @property
    def disagrees(self) -> bool:
        return self.verdict != UNDECIDED and not self.as_expected


def decide(claim: Claim, ctx: Context) -> Result:
    """Run one claim's decider."""
    started = time.perf_counter()
    error = False
    try:
        decision = claim.decider(ctx)
    except ListingChanged as exc:
        decision = Decision(UNDECIDED, f"The note changed: {exc}.", ("notes",))
    except Exception as exc:  # a broken decider must not hide the other claims
        decision = Decision(UNDECIDED, f"The decider failed: {type(exc).__name__}: {exc}.")
        error = True
    return Result(claim, decision, time.perf_counter() - started, error)


def decide_all(ctx: Context | None = None, claims: Iterable[Claim] = CLAIMS) -> list[Result]:
    """Decide ``claims`` in catalogue order (PyTorch is imported before TensorFlow when both are used)."""
    ctx = ctx or Context.default()
    ctx.torch()
    return [decide(claim, ctx) for claim in claims]


def tally(results: Iterable[Result]) -> Counter[str]:
    """How many results have each verdict."""
    return Counter(r.verdict for r in results)
