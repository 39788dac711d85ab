"""``convequiv check``: renders the op x adapter matrix and writes the Markdown / JSON report."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from convequiv.check_cli import render_markdown, render_text, suite_directory
from tests.support.nested import nested_env

ROOT = Path(__file__).resolve().parents[1]
RESULTS = {
    "created": "2026-01-01 00:00:00",
    "profile": "ci",
    "python": "3.11",
    "numpy": "2.0",
    "adapters": {"torch": {"torch": "2.13.0"}},
    "matrix": {
        "conv": {"torch": {"agree": 10}},
        "max_pool": {"torch": {"agree": 5, "diverge": 2, "divergence:torch-maxpool-grad-last-nan": 2}},
        "avg_pool": {"torch": {"fail": 1, "agree": 3}},
        "avg_pool: ceil_mode": {"torch": {"unsupported": 4}},
    },
    "divergences": {"torch-maxpool-grad-last-nan": {"state": "observed", "covered": 2, "observed": 2}},
}


def test_text_matrix_shows_each_state():
    text = render_text(RESULTS)
    assert "agrees (10)" in text
    assert "diverges: torch-maxpool-grad-last-nan (2); agrees (5)" in text
    assert "FAILED (1)" in text
    assert "ceil_mode" not in text  # feature rows only in the Markdown report


def test_markdown_report_has_features_versions_and_evidence():
    md = render_markdown(RESULTS)
    assert "| avg_pool: ceil_mode | unsupported (4) |" in md
    assert "torch 2.13.0" in md
    assert "**torch-maxpool-grad-last-nan**" in md and "observed" in md


def test_suite_directory_is_this_checkout():
    assert suite_directory() == ROOT / "tests" / "equivalence"


def test_check_runs_and_writes_report(tmp_path):
    pytest.importorskip("torch")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "convequiv",
            "check",
            "--adapters",
            "torch",
            "--profile",
            "dev",
            "--report",
            str(tmp_path),
            "--",
            "-k",
            "test_conv or test_max_pool",
        ],
        cwd=ROOT,
        env=nested_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "op " in run.stdout and "conv" in run.stdout and "agrees" in run.stdout
    results = json.loads((tmp_path / "check.json").read_text())
    assert results["matrix"]["conv"]["torch"]["agree"] > 0
    assert (tmp_path / "check.md").read_text().startswith("# convequiv check")
