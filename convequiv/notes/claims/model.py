"""Claims, decisions and verdicts.

A :class:`Claim` is catalogue data: what a note says (in English, with a short quote), the verdict
we expect and, for a conditional one, the condition. Its ``decider`` runs the reference and the
installed frameworks and returns a :class:`Decision`: the verdict those runs support and the
evidence (what ran, what came out). The expected verdict is a hypothesis the decider checks; the
printed verdict is always the decider's.

Verdicts: ``holds``; ``wrong``; ``conditional`` (holds only under the stated condition, and the
decider shows both a case inside and one outside it); ``undecided`` (nothing that could decide it
was available, e.g. a listing whose framework is not installed; the evidence says what is missing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

VERDICTS = ("holds", "wrong", "conditional")
UNDECIDED = "undecided"


@dataclass(frozen=True)
class Decision:
    """A decider's result: ``ran`` lists the engines that produced the evidence (sorted)."""

    verdict: str
    evidence: str
    ran: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.verdict not in (*VERDICTS, UNDECIDED):
            raise ValueError(f"verdict must be one of {VERDICTS + (UNDECIDED,)}, got {self.verdict!r}")


@dataclass(frozen=True)
class Claim:
    """One claim of one note."""

    id: str
    note: str
    lines: str
    quote: str
    claim: str
    expected: str
    decider: Callable[..., Decision]
    condition: str = ""

    def __post_init__(self) -> None:
        if self.expected not in VERDICTS:
            raise ValueError(f"{self.id}: expected verdict must be one of {VERDICTS}, got {self.expected!r}")
        if (self.expected == "conditional") != bool(self.condition):
            raise ValueError(f"{self.id}: a condition is given exactly for conditional claims")

    @property
    def decider_name(self) -> str:
        return f"{self.decider.__module__}.{self.decider.__qualname__}"
