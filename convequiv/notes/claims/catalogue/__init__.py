"""The notes' claims, one entry each: where, a short quote, the claim in English, the verdict we expect,
the condition (for conditional claims) and the decider that runs the reference and the frameworks.

The expected verdict is a hypothesis: :mod:`convequiv.notes.claims.run` reports the decider's verdict
and flags any disagreement. Quotes are short fragments of the note's text (empty for claims about
code, whose listing the decider reads from the note itself).
"""

from __future__ import annotations

from ..model import Claim
from . import note000, note001, note002, note003, note004

CLAIMS: tuple[Claim, ...] = note000.CLAIMS + note001.CLAIMS + note002.CLAIMS + note003.CLAIMS + note004.CLAIMS


def by_id() -> dict[str, Claim]:
    """Claims keyed by id (ids are unique)."""
    out: dict[str, Claim] = {}
    for claim in CLAIMS:
        if claim.id in out:
            raise RuntimeError(f"duplicate claim id {claim.id}")
        out[claim.id] = claim
    return out
