"""What a decider may use: the reference (always), the installed frameworks, the notes' files.

:class:`Evidence` collects a decider's findings as sentences and records which engines ran
(``reference``, ``torch``, ``keras``, ``tensorflow``, ``notes``); when a framework a claim is about
is missing it says so, so that a reference-only decision reads as one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from types import ModuleType

from ..models import frameworks
from .listing_index import LISTINGS
from .model import UNDECIDED, Decision
from .notes import Listing, Notes, find_notes


@dataclass
class Context:
    """Frameworks are loaded lazily; ``allowed`` restricts them (``None``: every installed one)."""

    notes: Notes | None = None
    allowed: frozenset[str] | None = None

    @classmethod
    def default(cls) -> Context:
        return cls(notes=find_notes())

    def framework(self, name: str) -> ModuleType | None:
        if self.allowed is not None and name not in self.allowed:
            return None
        return frameworks.load(name)

    def listing(self, key: str) -> Listing | None:
        """A listing of :data:`~convequiv.notes.claims.listing_index.LISTINGS` (``None`` without the notes;
        :class:`~convequiv.notes.claims.notes.ListingChanged` when the note's text differs)."""
        if self.notes is None:
            return None
        return self.notes.listing(*LISTINGS[key])

    def torch(self) -> ModuleType | None:
        return self.framework("torch")

    def keras(self) -> ModuleType | None:
        return self.framework("keras")

    def tf(self) -> ModuleType | None:
        return self.framework("tensorflow")

    def tf_keras(self) -> ModuleType | None:
        """TensorFlow, when ``tf.keras`` works in this process (Keras on its TensorFlow backend)."""
        tf, keras = self.tf(), self.keras()
        if tf is None or keras is None or keras.backend.backend() != "tensorflow":
            return None
        return tf


@dataclass
class Evidence:
    """Sentences plus the engines that ran and the ones that were missing.

    A decision taken while something was missing ends with a sentence saying what the verdict rests
    on (e.g. the reference alone), or, when undecided, what it would need.
    """

    facts: list[str] = field(default_factory=list)
    ran: set[str] = field(default_factory=set)
    absent: list[str] = field(default_factory=list)

    def add(self, text: str, *engines: str) -> None:
        self.facts.append(text.rstrip(". "))
        self.ran.update(engines)

    def missing(self, what: str, consequence: str | None = None) -> None:
        if what not in self.absent:
            self.absent.append(what)
        if consequence:
            self.facts.append(f"{what} not available: {consequence}")

    def _closing(self, decided: bool) -> list[str]:
        if not self.absent:
            return []
        names = ", ".join(self.absent)
        if not decided:
            return [f"Undecided: needs {names}."]
        basis = ", ".join(sorted(self.ran)) or "nothing"
        return [f"Not available: {names}; the verdict rests on {basis} alone."]

    def decide(self, verdict: str) -> Decision:
        text = "; ".join(self.facts) + "." if self.facts else ""
        text = " ".join([text, *self._closing(verdict != UNDECIDED)]).strip()
        return Decision(verdict, text, tuple(sorted(self.ran)))

    def undecided(self) -> Decision:
        return self.decide(UNDECIDED)


def shape(values: Iterable[int]) -> str:
    """``(2, 70, 120, 3)``: a shape as Python prints a tuple."""
    items = [str(int(v)) for v in values]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
