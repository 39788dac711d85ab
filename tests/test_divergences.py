"""The divergence file is well formed and every record is narrow and evidenced."""

import re

import pytest
from packaging.specifiers import SpecifierSet

from convequiv.divergences import DATA_FILE, adapter_matches, explained_by, load, matches
from convequiv.equivalence import _ExampleView
from convequiv.reference.strategies import EDGE_CASES

RECORDS = load()
REPOSITORY = DATA_FILE.parents[1]


def test_ids_are_unique_and_named_after_their_adapter():
    ids = [d.id for d in RECORDS]
    assert len(ids) == len(set(ids))
    for d in RECORDS:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", d.id), d.id


@pytest.mark.parametrize("record", RECORDS, ids=lambda d: d.id)
def test_record_is_evidenced_and_narrow(record):
    write_ups = [REPOSITORY / path for path in re.findall(r"docs/findings/[\w.-]+\.md", record.evidence)]
    assert all(path.is_file() for path in write_ups), f"{record.id} names a write-up that is not there"
    assert record.evidence.startswith("http") or "repro" in record.evidence or write_ups, record.id
    assert record.when.strip() not in ("", "True", "1"), f"{record.id} has no condition"
    assert record.versions, f"{record.id} states no versions"
    for spec in record.versions.values():
        SpecifierSet(spec)
    # the condition evaluates on the exact inputs of real examples of its ops without error
    examples = [e for e in EDGE_CASES.values() if matches(e.case.op, record.op)]
    assert examples, f"{record.id}: no named edge case of op {record.op!r}"
    for example in examples:
        inputs = example.inputs("float32")
        view = _ExampleView(example, inputs)
        for kernels in ("", "onednn", "eigen"):
            scope = {"case": example.case, "example": view, "inputs": inputs, "dtype": "float32", "kernels": kernels}
            record.condition(scope)


def test_malformed_files_are_rejected_naming_the_record(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[divergence]]\nid = "x-y"\n')
    with pytest.raises(ValueError, match="'x-y' lacks"):
        load(bad)
    bad.write_text(DATA_FILE.read_text() + DATA_FILE.read_text())
    with pytest.raises(ValueError, match="duplicate"):
        load(bad)
    body = DATA_FILE.read_text().split("[[divergence]]")[1]
    bad.write_text("[[divergence]]" + body.replace('when = "', "when = \"__import__('os') or "))
    with pytest.raises(ValueError, match="may be called"):
        load(bad)
    bad.write_text("[[divergence]]" + body + 'colour = "red"\n')
    with pytest.raises(ValueError, match="unknown field"):
        load(bad)
    bad.write_text("[[divergence]]" + body.replace('outputs = ["dx"]', 'outputs = ["crash"]'))
    with pytest.raises(ValueError, match="crash record"):
        load(bad)


def test_patterns_take_brackets_literally_and_cover_variants():
    assert matches("keras[jax]", "keras[*]") and matches("keras[torch]", "keras[*]")
    assert not matches("torch", "keras[*]") and not matches("keras", "keras[*]")
    assert matches("global_max_pool", "*_pool") and not matches("conv", "*_pool")
    assert adapter_matches("torch/compile", "torch") and adapter_matches("torch", "torch")
    assert not adapter_matches("torch", "torch/compile") and not adapter_matches("torch/compile", "torch/onnx")


def test_records_explain_together_only_when_they_cover_every_output():
    only_dx = [r for r in RECORDS if r.outputs == ("dx",)][:1]
    both = [r for r in RECORDS if set(r.outputs) == {"y", "dx"}][:1]
    assert explained_by(only_dx, ["dx"]) == only_dx
    assert explained_by(only_dx, ["y", "dx"]) == []
    assert explained_by(only_dx + both, ["y", "dx"]) == only_dx + both
    assert explained_by([], ["y"]) == [] and explained_by(only_dx, []) == []
