"""``convequiv hunt`` proven on a deliberately broken adapter: it finds the planted bug within a
small budget, groups its failures under signatures with counts, writes standalone reproductions
that fail while the bug is there, classifies recorded divergences as known, resumes and merges."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from convequiv.hunt.signature import Signature, essential
from convequiv.hunt.store import Finding, Store
from tests.support.nested import nested_env

pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[1]
BROKEN = "tests.equivalence.broken_adapters:GroupedWeightGradient"


def _hunt(out: Path, *args: str, budget: str = "30s") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "convequiv", "hunt", "--budget", budget, "--workers", "1", "--out", str(out), *args],
        cwd=ROOT,
        env=nested_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def campaign(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("findings")
    return out, _hunt(out, "--adapters", BROKEN, "--ops", "conv", "--seed", "7")


def test_the_planted_bug_is_found_and_grouped(campaign):
    out, done = campaign
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    store = Store.open(out)
    assert store.findings, done.stdout
    for finding in store.findings.values():
        assert finding.signature.outputs == ("dw",), finding.signature
        assert finding.signature.op == "conv" and finding.signature.adapter == "broken[grouped-weight-gradient]"
    assert sum(f.count for f in store.findings.values()) > len(store.findings)  # failures counted, not re-reported
    index = json.loads((out / "index.json").read_text())
    (summary,) = index["campaigns"]
    assert summary["examples"]["broken[grouped-weight-gradient]"] > 50
    assert summary["cpu_seconds"] > 0 and summary["worker_seconds"] > 0  # CPU time measured, not wall time


def test_each_new_finding_has_a_standalone_failing_repro(campaign):
    out, _ = campaign
    finding = min(Store.open(out).findings.values(), key=lambda f: f.size)
    script = out / finding.id / "repro.py"
    text = script.read_text()
    assert "convequiv" not in text.split('"""')[2]  # the code imports only NumPy and torch
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "dw:" in done.stdout and "differ" in done.stdout, done.stdout + done.stderr
    assert json.loads((out / finding.id / "finding.json").read_text())["example"].startswith("Example(ConvCase(")


def test_recorded_divergences_are_known_not_new(tmp_path):
    done = _hunt(tmp_path, "--adapters", "torch", "--ops", "global_max_pool", "--seed", "3", budget="20s")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    store = Store.open(tmp_path)
    assert not store.findings
    assert store.explained["torch-amax-grad-nan"] > 0 or store.explained["torch-adaptive-maxpool-grad-last-nan"] > 0


def test_a_process_crash_is_a_finding_and_the_hunt_goes_on(tmp_path):
    """A worker the framework kills is restarted; the crash is a finding whose repro.py runs the case in
    a child process and exits 1 while the child dies."""
    done = _hunt(
        tmp_path, "--adapters", "tests.equivalence.broken_adapters:AbortsOnGroups", "--ops", "conv", "--seed", "5"
    )
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    store = Store.open(tmp_path)
    crashes = [f for f in store.findings.values() if f.signature.outputs == ("process crash",)]
    assert crashes and all(f.signature.route == "SIGABRT" for f in crashes), store.findings
    assert sum(f.count for f in crashes) >= 2, "the worker was not restarted after the first crash"
    (summary,) = store.campaigns
    assert summary["examples"]["broken[aborts-on-groups]"] > 0  # ungrouped cases, counted across the crashes
    script = tmp_path / crashes[0].id / "repro.py"
    rerun = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, env=nested_env(), capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 1 and "status -6" in rerun.stdout, rerun.stdout + rerun.stderr


def test_a_refuted_unsupported_claim_is_a_finding(tmp_path):
    """An adapter's false refusal (the framework runs the case) is reported with a check-based repro.py
    that fails while the claim is wrong."""
    done = _hunt(
        tmp_path, "--adapters", "tests.equivalence.broken_adapters:FalseRefusal", "--ops", "conv", "--seed", "5"
    )
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    finding = min(Store.open(tmp_path).findings.values(), key=lambda f: f.size)
    assert finding.signature.route == "unsupported" and not finding.standalone, finding
    script = tmp_path / finding.id / "repro.py"
    rerun = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, env=nested_env(), capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 1, rerun.stdout + rerun.stderr


def test_resume_and_merge_keep_the_smaller_example(tmp_path):
    sig = Signature(
        "a", "api", "float32", "conv", ("dw",), "native", False, essential({"conv: 2-D", "conv: groups > 1"})
    )
    first, second = Store(tmp_path / "one"), Store(tmp_path / "two")
    first.add(Finding(sig, "Example(big)", size=100, repro="print('big')"))
    wider = Signature(*sig.key[:4], sig.outputs, sig.route, False, ("conv: groups > 1", "conv: no bias"))
    second.add(Finding(wider, "Example(small)", size=10, repro="print('small')", count=4))
    first.save()
    second.save()
    merged = Store.open(tmp_path / "one")
    merged.merge(Store.open(tmp_path / "two"))
    (only,) = merged.findings.values()
    assert only.example == "Example(small)" and only.count == 5 and only.repro == "print('small')"
    assert only.signature.features == ("conv: groups > 1",)  # what both failures had in common


def test_progress_display_shows_bracketed_adapter_names(tmp_path):
    """keras[torch] is an adapter name, not console markup: the live table prints it whole."""
    from collections import Counter

    from rich.console import Console

    from convequiv.hunt import progress_table
    from convequiv.hunt.campaign import Campaign, Options, Tally

    campaign = Campaign(Options(adapters=["keras[torch]"], ops=["conv"], budget=60.0, workers=1, out=tmp_path, seed=1))
    campaign.tallies["keras[torch]"] = Tally(statuses=Counter(agree=3, fail=1))
    console = Console(record=True, width=120)
    console.print(progress_table(campaign))
    text = console.export_text()
    assert "keras[torch]" in text
    assert "│ keras[torch] │       4 │     3 │" in text


def test_an_adapter_tally_sums_its_workers(tmp_path):
    """Each worker reports running totals; an adapter hunted by several workers in turn (slices) adds
    them up instead of showing only the last worker's."""
    from convequiv.hunt.campaign import Campaign, Options, Running

    campaign = Campaign(Options(adapters=["torch"], ops=["conv"], budget=60.0, workers=1, out=tmp_path, seed=1))
    first, second = (Running("torch", None, tmp_path / f"w{i}", tmp_path / f"c{i}", 0.0) for i in (1, 2))  # type: ignore[arg-type]

    def progress(worker, agree, explained):
        event = {"type": "progress", "adapter": "torch", "statuses": {"agree": agree}, "counted": {}}
        campaign._event(worker, {**event, "explained": {"some-record": explained}})

    progress(first, 100, 3)
    progress(first, 250, 5)  # running totals: 250 in all from this worker
    progress(second, 40, 1)
    tally = campaign.tallies["torch"]
    assert tally.statuses["agree"] == 290
    assert tally.explained["some-record"] == 6
    assert campaign.summary()["examples"] == {"torch": 290}
