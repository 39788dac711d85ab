"""The divergence file is well formed and every record is narrow and evidenced."""

import re

import pytest
from packaging.specifiers import SpecifierSet

from convequiv.divergences import DATA_FILE, load
from convequiv.reference.strategies import EDGE_CASES

RECORDS = load()


def test_ids_are_unique_and_named_after_their_adapter():
    ids = [d.id for d in RECORDS]
    assert len(ids) == len(set(ids))
    for d in RECORDS:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", d.id), d.id


@pytest.mark.parametrize("record", RECORDS, ids=lambda d: d.id)
def test_record_is_evidenced_and_narrow(record):
    assert record.evidence.startswith("http") or "repro" in record.evidence, record.id
    assert record.when.strip() not in ("", "True", "1"), f"{record.id} has no condition"
    assert record.outputs and set(record.outputs) <= {"y", "dx", "dw", "db"}
    assert record.versions, f"{record.id} states no versions"
    for spec in record.versions.values():
        SpecifierSet(spec)
    # the condition evaluates on real examples of every op without error
    for example in EDGE_CASES.values():
        record.applies(
            record.adapter.replace("*", "x"), example.case.op, "x", "x", example, {k: "0" for k in record.versions}
        )


def test_malformed_file_is_rejected(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[divergence]]\nid = "x-y"\n')
    with pytest.raises(ValueError, match="lacks"):
        load(bad)
    bad.write_text(DATA_FILE.read_text() + DATA_FILE.read_text())
    if RECORDS:
        with pytest.raises(ValueError, match="duplicate"):
            load(bad)


def test_patterns_take_brackets_literally():
    from convequiv.divergences import matches

    assert matches("keras[jax]", "keras[*]") and matches("keras[torch]", "keras[*]")
    assert not matches("torch", "keras[*]") and not matches("keras", "keras[*]")
    assert matches("global_max_pool", "*_pool") and not matches("conv", "*_pool")
