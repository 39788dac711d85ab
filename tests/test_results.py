"""The results schema: a JSON round trip, merging, and one-line errors for files that cannot be used."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from convequiv.cells import render_cell
from convequiv.results import Cell, DivergenceState, Key, Results, ResultsError, matrix, read, write


def _results() -> Results:
    r = Results(environment="env", profile="ci", adapters={"torch": {"torch": "2.13.0"}})
    r.tallies[Key("conv", "torch", "functional", "float32", "agree")] += 40
    r.tallies[Key("max_pool", "torch", "layer", "float64", "diverge", ("a-b", "c-d"))] += 3
    r.tallies[Key("max_pool: 2-D", "torch", "layer", "float64", "fail")] += 1
    r.tallies[Key("max_pool", "torch", "layer", "float64", "agree", (), ("dx",))] += 5
    r.routes[("torch", "max_pool", "pre-pad")] += 4
    r.speed[("torch", "conv")] = (40, 0.5)
    r.divergences["a-b"] = DivergenceState(covered=5, observed=3)
    r.tests.update(passed=10, failed=1)
    return r


def test_round_trip(tmp_path):
    path = tmp_path / "r.json"
    write(_results(), path)
    again = read(path)
    assert again.to_json() == _results().to_json()
    assert again.counts() == Counter(agree=45, diverge=3)
    assert again.divergences["a-b"].state == "observed"


def test_merge_adds_counts():
    a, b = _results(), _results()
    a.merge(b)
    assert a.tallies[Key("conv", "torch", "functional", "float32", "agree")] == 80
    assert a.speed[("torch", "conv")] == (80, 1.0) and a.divergences["a-b"] == DivergenceState(10, 6)


def test_cells_say_every_state_and_what_was_not_checked():
    table = matrix(_results().tallies.items())
    cell = table["max_pool"]["torch"]
    assert render_cell(cell) == "diverges 3 [a-b, c-d] · agrees 5 · dx not checked"
    assert render_cell(cell, "compact") == "~ 3/8*"
    assert render_cell(table["max_pool: 2-D"]["torch"], "compact") == "✗ 1/1"
    assert render_cell(None) == "-" and render_cell(Cell(), "compact") == "-"
    assert "max_pool: 2-D" not in matrix(_results().tallies.items(), features=False)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(schema="other"), "not a convequiv results file"),
        (lambda d: d.update(version=99), "newer than this convequiv reads"),
        (lambda d: d.update(version=1), "older than this convequiv reads"),
        (lambda d: d.pop("version"), "no schema version"),
        (lambda d: d["tallies"][0].update(adapter="mxnet"), "adapter 'mxnet' is not listed"),
        (lambda d: d["tallies"][0].update(status="maybe"), "unknown status 'maybe'"),
        (lambda d: d["tallies"][0].pop("row"), "malformed entry"),
        (lambda d: d.update(adapters={"torch": "2.1"}), "'adapters' must map"),
    ],
)
def test_bad_files_fail_with_one_line_naming_the_file(tmp_path, mutate, message):
    data = _results().to_json()
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ResultsError, match=message) as failure:
        read(path)
    assert str(failure.value).startswith(str(path)) and "\n" not in str(failure.value)


def test_corrupt_and_missing_files(tmp_path):
    path = tmp_path / "cut.json"
    path.write_text(json.dumps(_results().to_json())[:50])
    with pytest.raises(ResultsError, match="not valid JSON"):
        read(path)
    with pytest.raises(ResultsError, match="cannot be read"):
        read(tmp_path / "absent.json")
