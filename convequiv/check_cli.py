"""``convequiv check``: run the equivalence suite and print the adapters x ops matrix.

The suite (``convequiv.suite``, shipped in the package) runs in a fresh ``pytest`` process (Keras
chooses its backend once per process, so the check must not inherit one). While it runs, a progress
display shows the tests done, elapsed time and an estimate of what is left; pytest's own output and
the frameworks' log lines go to ``DIR/pytest.log`` (``--verbose`` shows them as well). At the end:
the matrix (:mod:`convequiv.terminal`), the unexplained failures, the recorded divergences once,
and where the report is.

``--report DIR`` (default ``./convequiv-check``) receives ``check.json`` (the results,
:mod:`convequiv.results`), ``compatibility.md`` and ``compatibility.html`` (every cell in words,
per feature row, with versions and the divergences' evidence) and ``pytest.log``.
Random profiles keep Hypothesis' example database in a per-user cache
(``~/.cache/convequiv/hypothesis``, or ``--database``), never in the current directory; a failing
example is replayed first on the next run.

Exit status: 0 every check agreed or is explained (recorded divergence, proven unsupported);
1 unexplained failures (or tests that errored); 2 a usage error or a run that could not complete.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from .settings import PROFILES, SettingsError, resolve, user_cache

DEFAULT_REPORT = Path("convequiv-check")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--adapters", help="comma-separated adapter specs (default: every installed adapter)")
    parser.add_argument(
        "--profile", choices=sorted(PROFILES), help="Hypothesis profile (default: ci, 100 derandomized examples)"
    )
    parser.add_argument("-n", "--workers", default="0", help="pytest-xdist workers ('auto' or a number; default 0)")
    parser.add_argument("--strict-divergences", action="store_true", help="recorded divergences fail too")
    parser.add_argument("--compiled-examples", type=int, help="examples per property for compiling adapters")
    parser.add_argument("--report", type=Path, metavar="DIR", help=f"report folder (default: ./{DEFAULT_REPORT})")
    parser.add_argument("--database", type=Path, metavar="DIR", help="Hypothesis example database (random profiles)")
    parser.add_argument("--verbose", action="store_true", help="show pytest's output and the frameworks' log lines")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra arguments passed to pytest after --")


def _requirements() -> str | None:
    import importlib.util

    missing = [m for m in ("pytest", "hypothesis", "rich") if importlib.util.find_spec(m) is None]
    if missing:
        return (
            f"convequiv check: error: needs {', '.join(missing)}: pip install 'convequiv[test]' "
            "(and the frameworks to check, e.g. 'convequiv[torch]')"
        )
    return None


def run(args: argparse.Namespace) -> int:
    problem = _requirements()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    report = args.report or DEFAULT_REPORT
    try:
        settings = resolve(
            {
                "adapters": args.adapters,
                "profile": args.profile,
                "compiled_examples": args.compiled_examples,
                "strict": args.strict_divergences or None,
            }
        )
    except SettingsError as exc:
        print(f"convequiv check: error: {exc}", file=sys.stderr)
        return 2
    derandomized = bool(PROFILES[settings.profile].get("derandomize"))
    database = None if derandomized else (args.database or user_cache("hypothesis"))
    report.mkdir(parents=True, exist_ok=True)
    results_file, log_file, progress_file = report / "check.json", report / "pytest.log", report / ".progress"
    for stale in (results_file, progress_file):
        stale.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--pyargs",
        "convequiv.suite",
        "-p",
        "no:cacheprovider",
        "--hypothesis-profile",
        settings.profile,
        "--results",
        str(results_file),
        "-q" if not args.verbose else "-v",
    ]
    if settings.adapters is not None:
        command += ["--adapters", ",".join(settings.adapters) or "none"]
    if settings.strict:
        command.append("--strict-divergences")
    if settings.compiled_examples is not None:
        command += ["--compiled-examples", str(settings.compiled_examples)]
    if database is not None:
        command += ["--hypothesis-database", str(database)]
    if args.workers not in ("0", ""):
        command += ["-n", args.workers]
    command += args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEQUIV_") or k == "CONVEQUIV_DIVERGENCES"}
    env["CONVEQUIV_PROGRESS"] = str(progress_file.resolve())
    # Hypothesis' own storage (its database and caches) goes to the per-user cache, never the working directory
    env.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(user_cache("hypothesis-storage")))
    if not args.verbose:
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up lines
    started = time.time()
    print(
        f"convequiv check: profile {settings.profile}, adapters "
        f"{', '.join(settings.adapters) if settings.adapters is not None else 'every installed one'}; "
        f"log in {log_file}"
    )
    status = _run_with_progress(command, env, log_file, progress_file, verbose=args.verbose)
    return _summarize(status, report, results_file, log_file, database, time.time() - started)


def _run_with_progress(command: list[str], env: dict[str, str], log: Path, progress: Path, *, verbose: bool) -> int:
    """Run pytest; show a live progress display (tests done of collected, elapsed, estimate)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    with open(log, "w") as out:
        if verbose:  # shown as it comes, and kept in the log (the summary reads the failures from it)
            shown = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            assert shown.stdout is not None
            for line in shown.stdout:
                sys.stdout.write(line)
                out.write(line)
            return shown.wait()
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("failed {task.fields[failed]}"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("collecting", total=None, failed=0)
            while proc.poll() is None:
                _update(bar, task, progress)
                time.sleep(0.5)
            _update(bar, task, progress)
    return proc.returncode


def _update(bar: object, task: object, progress: Path) -> None:
    try:
        lines = progress.read_text().splitlines()
    except OSError:
        return
    collected = [int(line.split()[1]) for line in lines if line.startswith("collected ")]
    done = [line for line in lines if not line.startswith("collected ")]
    failed = sum(1 for line in done if line.startswith(("failed", "error")))
    total = max(collected) if collected else None
    bar.update(task, total=total, completed=len(done), failed=failed, description="tests")  # type: ignore[attr-defined]


def _write_report(report: Path) -> tuple[Path, Path]:
    """The detailed report of this run (every feature row, in words): ``compatibility.md`` and
    ``compatibility.html`` beside ``check.json``, by ``convequiv report``'s own renderers."""
    from .report import build_report, load_directory, write_report

    return write_report(build_report(load_directory(report), title="convequiv check"), report)


def _summarize(status: int, report: Path, results_file: Path, log: Path, database: Path | None, secs: float) -> int:
    from . import terminal
    from .divergences import recorded
    from .results import ResultsError, read

    if status in (2, 3, 4) or not results_file.exists():
        tail = [line for line in log.read_text().splitlines() if line.startswith(("ERROR", "E   "))][-3:]
        why = " / ".join(tail) or f"pytest exited with status {status}; see {log}"
        print(f"convequiv check: error: the run did not complete: {why}", file=sys.stderr)
        return 2
    try:
        results = read(results_file)
    except ResultsError as exc:
        print(f"convequiv check: error: {exc}", file=sys.stderr)
        return 2
    markdown, html = _write_report(report)
    print()
    for line in terminal.matrix_lines(results):
        print(line)
    failed_tests = [line for line in log.read_text().splitlines() if line.startswith(("FAILED ", "ERROR "))]
    print()
    print("Recorded divergences:")
    for line in terminal.divergence_lines(results, recorded(), width=terminal.WIDTH - 2):
        print(f"  {line}")
    tests = results.tests
    print()
    print(
        f"{tests['passed']} tests passed, {tests['failed']} failed, {tests['skipped']} skipped in {secs:.0f} s; "
        f"{sum(results.counts().values())} checks"
    )
    if failed_tests:
        print(f"Unexplained failures ({len(failed_tests)} tests; one-line reproductions in {log}):")
        for line in failed_tests[:20]:
            print(f"  {line[:200]}")
        if database is not None:
            print(f"Hypothesis keeps the failing examples in {database}; the next run replays them.")
    names = ", ".join(p.name for p in (markdown, html, results_file, log))
    print(f"Report in {report}/: {names}")
    return 1 if failed_tests or results.failed() or status == 1 else 0
