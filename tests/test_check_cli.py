"""``convequiv check`` as a user runs it: a derandomized nested run of the packaged suite, the matrix
within 100 columns, the divergences listed once, the report folder, and documented exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.nested import nested_env

ROOT = Path(__file__).resolve().parents[1]


def _check(cwd: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "convequiv", "check", *args],
        cwd=cwd,
        env=nested_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_check_runs_the_suite_and_keeps_its_report(tmp_path):
    pytest.importorskip("torch")
    done = _check(tmp_path, "--adapters", "torch", "--profile", "ci", "--", "-k", "edge_case or test_conv")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100, max(lines, key=len)
    matrix_heading = next(line for line in lines if line.startswith("adapter "))
    assert "conv" in matrix_heading and "max_pool" in matrix_heading
    assert any(line.startswith("torch ") and "✓" in line for line in lines)
    assert sum("Recorded divergences" in line for line in lines) == 1
    assert sum("torch-amax-grad-nan" in line for line in lines) <= 1  # each record once
    report = tmp_path / "convequiv-check"
    results = json.loads((report / "check.json").read_text())
    assert results["schema"] == "convequiv-results" and results["profile"] == "ci"
    assert any(t["row"] == "conv" and t["status"] == "agree" for t in results["tallies"])
    assert (report / "compatibility.md").read_text().startswith("# convequiv check")
    assert (report / "pytest.log").exists() and not (tmp_path / ".hypothesis").exists()


def test_verbose_shows_pytest_output_and_still_lists_the_failures(tmp_path):
    report = tmp_path / "r"
    adapter = "tests.support.fake_adapter:CrashingEcho"  # importable from the repository root
    done = _check(
        ROOT, "--adapters", adapter, "--verbose", "--report", str(report), "--", "-k", "test_avg_pool_edge_case"
    )
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "FAILED" in done.stdout and "EquivalenceError" in done.stdout  # pytest's own output, shown
    log = (report / "pytest.log").read_text()
    assert "FAILED" in log and "EquivalenceError" in log  # and kept
    listed = done.stdout.split("Unexplained failures", 1)[-1]
    assert "Unexplained failures" in done.stdout and "avg_pool" in listed, done.stdout[-2000:]


def test_no_adapter_is_a_clean_exit(tmp_path):
    done = _check(tmp_path, "--adapters", "none", "--report", str(tmp_path / "r"))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_unknown_adapter_is_a_usage_error_in_one_line(tmp_path):
    done = _check(tmp_path, "--adapters", "nosuchframework", "--report", str(tmp_path / "r"))
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "unknown adapter 'nosuchframework'" in errors[0], done.stderr


def test_bad_profile_is_a_usage_error(tmp_path):
    done = _check(tmp_path, "--profile", "fast")
    assert done.returncode == 2 and "invalid choice" in done.stderr
