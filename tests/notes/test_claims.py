"""The claims catalogue: its integrity, every claim's decided verdict, and docs/claims.md.

Verdicts are decided by running things; the catalogue's ``expected`` verdict is checked against
them here. A claim left undecided (its framework or the notes missing) is skipped with the reason,
never passed silently. ``docs/claims.md`` is compared byte for byte when this environment is the
one it records (same framework versions, notes present); otherwise its structure and its verdicts
are still checked against the catalogue.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from convequiv.notes.claims.catalogue import CLAIMS, by_id
from convequiv.notes.claims.context import Context
from convequiv.notes.claims.model import Claim, Decision
from convequiv.notes.claims.render import environment, environment_line, markdown
from convequiv.notes.claims.run import decide, decide_all

DOC = Path(__file__).resolve().parents[2] / "docs" / "claims.md"
FRAMEWORK_ENGINES = {"torch", "keras", "tensorflow"}

#: claims the issue names explicitly, with the verdict the suite must reach
REQUIRED = {
    "n000-output-size-formula": "conditional",
    "n001-cnn-param-26": "holds",
    "n000-pool-no-params": "holds",
    "n000-pool-channels": "holds",
    "n003-dilation": "holds",
    "n002-maxpool-quarter": "conditional",
    "n002-small-kernels": "conditional",
    "n003-maxpool-zero-pad": "wrong",
    "n003-dropout-scale": "holds",
    "n000-im2col-memory": "conditional",
    "n002-gap": "holds",
    "n002-depthpool": "conditional",
}


def test_catalogue_is_well_formed():
    assert len(CLAIMS) >= 30
    assert len(by_id()) == len(CLAIMS)
    assert {c.note for c in CLAIMS} == {"000", "001", "002", "003", "004"}
    for claim in CLAIMS:
        assert re.fullmatch(r"n00[0-4]-[a-z0-9-]+", claim.id) and claim.id.startswith(f"n{claim.note}-")
        assert claim.claim.endswith(".") and callable(claim.decider)
        assert bool(claim.condition) == (claim.expected == "conditional")
    assert {c.expected for c in CLAIMS} == {"holds", "wrong", "conditional"}
    for cid, verdict in REQUIRED.items():
        assert by_id()[cid].expected == verdict


def test_every_listing_of_the_notes_has_a_claim():
    from convequiv.notes.claims.deciders import listings

    deciders = {c.decider for c in CLAIMS}
    for name in (
        "im2col",
        "convolution",
        "pooling",
        "simpleconvnet",
        "cnn_param",
        "keras_sequential",
        "keras_subclass",
        "torch_cnn",
        "sample_images",
        "fashion_model",
        "fit_error",
        "torch_mnist",
        "keras_snippet",
        "mnist_model",
        "cats_model",
        "augmented_model",
        "vgg_listings",
    ):
        assert getattr(listings, name) in deciders, name


def test_claim_requires_condition_for_conditional_only():
    with pytest.raises(ValueError, match="condition"):
        Claim("n000-x", "000", "L1", "", "x.", "conditional", lambda ctx: None)
    with pytest.raises(ValueError, match="expected"):
        Claim("n000-x", "000", "L1", "", "x.", "maybe", lambda ctx: None)


@pytest.mark.notes
def test_quotes_are_in_the_notes(notes):
    for claim in CLAIMS:
        if claim.quote:
            assert claim.quote in "\n".join(notes.lines(claim.note)), claim.id


@pytest.fixture(scope="session")
def decided():
    ctx = Context.default()
    results = decide_all(ctx)
    return {r.claim.id: r for r in results}, environment(ctx)


@pytest.mark.parametrize("cid", [c.id for c in CLAIMS])
def test_claim_is_decided_as_expected(decided, cid):
    result = decided[0][cid]
    assert not result.error, result.decision.evidence
    if result.verdict == "undecided":
        assert "Undecided: needs" in result.decision.evidence or "changed" in result.decision.evidence
        pytest.skip(result.decision.evidence)
    assert result.verdict == result.claim.expected, result.decision.evidence
    assert result.decision.evidence.endswith(".")


def test_reference_only_run_is_fast_deterministic_and_honest():
    ctx = Context.default()
    ctx.allowed = frozenset()
    first = decide_all(ctx)
    second = decide_all(ctx)
    env = environment(ctx)
    assert markdown(first, env) == markdown(second, env)
    assert env["torch"] is None and env["keras"] is None
    for r in first:
        assert not (set(r.decision.ran) & FRAMEWORK_ENGINES), r.claim.id
        if r.verdict == "undecided":
            assert "Undecided: needs" in r.decision.evidence, r.claim.id
        else:
            assert r.verdict == r.claim.expected, (r.claim.id, r.decision.evidence)
    decided = [r for r in first if r.verdict != "undecided"]
    assert len(decided) >= 40
    zero_pad = next(r for r in first if r.claim.id == "n003-maxpool-zero-pad")
    assert zero_pad.verdict == "wrong" and "the verdict rests on reference alone" in zero_pad.decision.evidence


def test_a_failing_decider_is_reported_not_raised():
    def broken(ctx):
        raise RuntimeError("boom")

    result = decide(Claim("n000-broken", "000", "L1", "", "Broken.", "holds", broken), Context())
    assert result.error and result.verdict == "undecided" and "boom" in result.decision.evidence
    assert not result.disagrees


def test_a_disagreeing_decider_is_flagged():
    result = decide(
        Claim("n000-flip", "000", "L1", "", "Flip.", "holds", lambda ctx: Decision("wrong", "x.")), Context()
    )
    assert result.disagrees


@pytest.mark.notes
def test_a_changed_note_is_not_run(notes, monkeypatch):
    from convequiv.notes.claims import listing_index

    note, a, b, _ = listing_index.LISTINGS["001-cnn-param"]
    monkeypatch.setitem(listing_index.LISTINGS, "001-cnn-param", (note, a, b, "000000000000"))
    result = decide(by_id()["n001-listing-cnn-param"], Context(notes=notes))
    assert result.verdict == "undecided" and "changed" in result.decision.evidence


def _doc_sections(text: str) -> dict[str, str]:
    return dict(re.findall(r"^### (n00\d-[a-z0-9-]+)\n\n.*?- \*\*Verdict\*\*: \*\*(\w+)\*\*", text, re.M | re.S))


def test_docs_claims_lists_every_claim_with_its_expected_verdict():
    text = DOC.read_text(encoding="utf-8")
    sections = _doc_sections(text)
    assert list(sections) == [c.id for c in CLAIMS]
    for claim in CLAIMS:
        assert sections[claim.id] == claim.expected, claim.id


def test_docs_claims_is_current(decided):
    results, env = decided
    text = DOC.read_text(encoding="utf-8")
    recorded = re.search(r"^Environment: (.*)\.$", text, re.M).group(1)
    if recorded != environment_line(env):
        pytest.skip(f"docs/claims.md was generated with {recorded}; this run has {environment_line(env)}")
    fresh = markdown([results[c.id] for c in CLAIMS], env)
    assert fresh == text, (
        "docs/claims.md is stale: regenerate with `convequiv claims --format markdown > docs/claims.md`"
    )


def test_without_the_notes_listing_claims_are_undecided():
    ctx = Context(notes=None, allowed=frozenset())
    results = decide_all(ctx)
    listing_claims = [r for r in results if r.claim.decider.__module__.endswith("listings")]
    assert listing_claims and all(r.verdict == "undecided" for r in listing_claims)
    assert all("Undecided: needs" in r.decision.evidence for r in listing_claims)
    assert all("needs the notes" in r.decision.evidence for r in listing_claims if r.claim.note == "000")
    for r in results:
        assert "notes" not in r.decision.ran, r.claim.id
        assert r.verdict in ("undecided", r.claim.expected), r.claim.id
