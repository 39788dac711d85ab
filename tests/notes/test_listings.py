"""The notes' code listings: addresses, fingerprints, and how a run reports its failure."""

from __future__ import annotations

import pytest

from convequiv.notes.claims.listing_index import LISTINGS
from convequiv.notes.claims.notes import ListingChanged, Notes, find_notes, run_listing

pytestmark = pytest.mark.notes


@pytest.mark.parametrize("key", list(LISTINGS))
def test_fingerprints_match_the_notes(notes, key):
    note, first, last, fingerprint = LISTINGS[key]
    listing = notes.listing(note, first, last, fingerprint)
    assert listing.text.strip() and not listing.text[0].isspace()


def test_a_wrong_fingerprint_is_refused(notes):
    note, first, last, _ = LISTINGS["000-im2col"]
    with pytest.raises(ListingChanged):
        notes.listing(note, first, last, "0" * 12)


def test_errors_carry_the_note_line(notes):
    import numpy as np

    run = run_listing(notes.listing(*LISTINGS["000-4d-array"]), {"np": np})
    assert not run.ok and run.error_type == "NameError" and run.note_line == 182
    assert run.describe() == "note 000 L178-183 stops at note line 182 with NameError: name 'i' is not defined"


def test_indented_listing_is_dedented(notes):
    assert notes.listing(*LISTINGS["000-im2col"]).text.startswith("def im2col(")


def test_notes_directory_from_environment(tmp_path, monkeypatch, notes):
    for n in ("000", "001", "002", "003", "004"):
        (tmp_path / f"{n}_copy.txt").write_text(notes.path(n).read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("CONVEQUIV_NOTES", str(tmp_path))
    assert find_notes() == Notes(tmp_path)
