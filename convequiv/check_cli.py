"""``convequiv check``: run the equivalence suite and print the op x adapter matrix.

The suite runs in a fresh ``pytest`` process (Keras chooses its backend once per process, so the
check must not inherit one) on the equivalence tests of this checkout or, in an installed wheel,
the copy shipped as ``convequiv/suite``. pytest's own progress display shows while it runs; the
run's tallies come back through the plugin's ``--results`` file and are printed as a matrix:

* ``agrees (n)``: every one of ``n`` checked examples is within the reference's error bound;
* ``diverges (id, ...)``: a mismatch explained by a recorded divergence;
* ``unsupported``: the framework cannot express any drawn case (each claim proven);
* ``FAILED (n)``: ``n`` examples outside the bound and outside every recorded divergence.

``--report DIR`` also writes ``DIR/check.md`` and ``DIR/check.json``. The exit status is pytest's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import convequiv

from .pytest_plugin import PROFILES, cell_text


def suite_directory() -> Path:
    """The equivalence tests: the checkout's ``tests/equivalence`` or the packaged copy."""
    package = Path(convequiv.__file__).resolve().parent
    checkout = package.parent / "tests" / "equivalence"
    return checkout if checkout.is_dir() else package / "suite"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--adapters", help="comma-separated adapter specs (default: every installed adapter)")
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=os.environ.get("CONVEQUIV_PROFILE", "ci"),
        help="Hypothesis profile (default: ci, 100 examples per property)",
    )
    parser.add_argument("-n", "--workers", default="0", help="pytest-xdist workers ('auto' or a number; default 0)")
    parser.add_argument("--strict-divergences", action="store_true", help="recorded divergences fail too")
    parser.add_argument("--report", type=Path, metavar="DIR", help="write DIR/check.md and DIR/check.json")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra arguments passed to pytest after --")


def matrix_rows(results: dict[str, Any], *, features: bool) -> tuple[list[str], list[str], list[list[str]]]:
    """``(adapters, row names, cells)`` of a results file; ``features`` adds the per-feature rows."""
    matrix = results["matrix"]
    adapters = sorted({a for cells in matrix.values() for a in cells})
    rows = sorted(r for r in matrix if features or ":" not in r)
    cells = [[cell_text(matrix[r].get(a, {})) for a in adapters] for r in rows]
    return adapters, rows, cells


def render_text(results: dict[str, Any]) -> str:
    adapters, rows, cells = matrix_rows(results, features=False)
    widths = [max(len(r) for r in [*rows, "op"])] + [
        max(len(a), *(len(c[i]) for c in cells)) for i, a in enumerate(adapters)
    ]
    line = " | ".join(h.ljust(w) for h, w in zip(["op", *adapters], widths))
    out = [line, "-+-".join("-" * w for w in widths)]
    out += [" | ".join(v.ljust(w) for v, w in zip([r, *c], widths)) for r, c in zip(rows, cells)]
    return "\n".join(out)


def render_markdown(results: dict[str, Any]) -> str:
    from .divergences import load

    adapters, rows, cells = matrix_rows(results, features=True)
    versions = results.get("adapters", {})
    lines = [
        "# convequiv check",
        "",
        f"Run {results.get('created', '?')}, Hypothesis profile `{results.get('profile', '?')}`, "
        f"Python {results.get('python', '?')}, NumPy {results.get('numpy', '?')}.",
        "",
        "| adapter | versions |",
        "|---|---|",
        *(f"| {a} | {', '.join(f'{k} {v}' for k, v in versions.get(a, {}).items())} |" for a in adapters),
        "",
        "| op / feature | " + " | ".join(adapters) + " |",
        "|---" * (len(adapters) + 1) + "|",
        *(f"| {r} | " + " | ".join(c) + " |" for r, c in zip(rows, cells)),
        "",
        "## Recorded divergences",
        "",
    ]
    states = results.get("divergences", {})
    for div in load():
        state = states.get(div.id, {}).get("state", "not exercised")
        summary = " ".join(div.summary.split())
        lines.append(f"- **{div.id}** ({div.adapter}, {div.op}; {state}): {summary} Evidence: {div.evidence}")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    suite = suite_directory()
    if not suite.is_dir():
        print(f"convequiv check: error: the equivalence tests are not installed ({suite})", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        results_file = Path(tmp) / "results.json"
        command = [
            sys.executable,
            "-m",
            "pytest",
            str(suite),
            "-p",
            "convequiv.pytest_plugin",
            "--import-mode=importlib",
            "--hypothesis-profile",
            args.profile,
            "--results",
            str(results_file),
            "-q",
            "-p",
            "no:cacheprovider",
        ]
        if args.adapters:
            command += ["--adapters", args.adapters]
        if args.strict_divergences:
            command.append("--strict-divergences")
        if args.workers not in ("0", ""):
            command += ["-n", args.workers]
        extra = args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args
        files = len(list(suite.glob("test_*.py")))
        print(f"convequiv check: running {files} test files in {suite} (profile {args.profile})")
        status = subprocess.call([*command, *extra])
        if not results_file.exists():
            print("convequiv check: no results were recorded (see pytest's output above)", file=sys.stderr)
            return status or 1
        results = json.loads(results_file.read_text())
    print()
    print(render_text(results))
    print()
    for div_id, info in results.get("divergences", {}).items():
        print(f"divergence {div_id}: {info['state']}")
    if args.report:
        args.report.mkdir(parents=True, exist_ok=True)
        (args.report / "check.json").write_text(json.dumps(results, indent=1, sort_keys=True))
        (args.report / "check.md").write_text(render_markdown(results))
        print(f"report written to {args.report}/check.md and check.json")
    return status
