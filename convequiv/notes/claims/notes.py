"""The lecture notes' files and their code listings, read at run time (never copied here).

The notes live outside the repository: ``$CONVEQUIV_NOTES``, else ``../shared/notes`` or
``shared/notes`` next to the checkout. A listing is addressed by note (``"000"``) and its first and
last line (numbered from 1, as ``cat -n`` shows them); its text is dedented (listings inside
Markdown lists are indented) and fingerprinted, so that a catalogue written against one version of
a note refuses to run a different text. :func:`run_listing` executes one in a given namespace with
its output captured, and reports the first error with the note's line number.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sys
import textwrap
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NOTES_ENV = "CONVEQUIV_NOTES"
NOTE_IDS = ("000", "001", "002", "003", "004")


def _candidates() -> list[Path]:
    root = Path(__file__).resolve().parents[3]  # convequiv/notes/claims/notes.py -> the repository
    out = []
    if os.environ.get(NOTES_ENV):
        out.append(Path(os.environ[NOTES_ENV]))
    out += [root.parent / "shared" / "notes", root / "shared" / "notes"]
    return out


@dataclass(frozen=True)
class Listing:
    """Lines ``first``..``last`` of a note, dedented."""

    note: str
    first: int
    last: int
    text: str

    @property
    def label(self) -> str:
        lines = f"L{self.first}" if self.first == self.last else f"L{self.first}-{self.last}"
        return f"note {self.note} {lines}"

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:12]


class ListingChanged(Exception):
    """The note's text at those lines is not the one the catalogue was written against."""


@dataclass(frozen=True)
class Notes:
    """The directory holding ``000_*.txt`` .. ``004_*.txt``."""

    directory: Path

    def path(self, note: str) -> Path:
        matches = sorted(self.directory.glob(f"{note}_*.txt"))
        if not matches:
            raise FileNotFoundError(f"no file for note {note} in {self.directory}")
        return matches[0]

    def lines(self, note: str) -> list[str]:
        return self.path(note).read_text(encoding="utf-8").splitlines()

    def listing(self, note: str, first: int, last: int, fingerprint: str | None = None) -> Listing:
        text = textwrap.dedent("\n".join(self.lines(note)[first - 1 : last])) + "\n"
        found = Listing(note, first, last, text)
        if fingerprint is not None and found.fingerprint != fingerprint:
            raise ListingChanged(
                f"{found.label} has fingerprint {found.fingerprint}, the catalogue expects {fingerprint}"
            )
        return found


def find_notes() -> Notes | None:
    """The notes, or ``None`` when no candidate directory has all five files."""
    for directory in _candidates():
        if directory.is_dir() and all(any(directory.glob(f"{n}_*.txt")) for n in NOTE_IDS):
            return Notes(directory)
    return None


#: The globals a listing runs in: whatever its code, and the listings before it, define.
Namespace = dict[str, Any]


@dataclass
class Run:
    """Outcome of running one listing: ``error`` is ``"Type: message"`` (first line) or ``None``."""

    listing: Listing
    error: str | None
    error_type: str | None
    note_line: int | None
    stdout: str
    namespace: Namespace = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    def describe(self) -> str:
        if self.ok:
            return f"{self.listing.label} runs"
        where = f" at note line {self.note_line}" if self.note_line else ""
        return f"{self.listing.label} stops{where} with {self.error}"


def run_listing(listing: Listing, namespace: Namespace) -> Run:
    """Execute ``listing`` in ``namespace`` (modified in place), capturing stdout and warnings."""
    filename = f"<{listing.label}>"
    out = io.StringIO()
    error = error_type = None
    note_line = None
    try:
        code = compile(listing.text, filename, "exec")
        with contextlib.redirect_stdout(out), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(code, namespace)
    except BaseException as exc:  # the listing's own failure is the finding
        if isinstance(exc, KeyboardInterrupt):
            raise
        error_type = type(exc).__name__
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        error = f"{error_type}: {message}" if message else error_type
        for frame in reversed(traceback.extract_tb(sys.exc_info()[2])):
            if frame.filename == filename and frame.lineno:
                note_line = listing.first + frame.lineno - 1
                break
        if isinstance(exc, SyntaxError) and exc.lineno:
            note_line = listing.first + exc.lineno - 1
    return Run(listing, error, error_type, note_line, out.getvalue(), namespace)
