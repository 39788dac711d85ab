"""``convequiv size``: the output size of one spatial dimension and the formula with the numbers
substituted; bad arguments give a one-line error on stderr and exit status 2. The first and the
error tests run the real ``python -m convequiv size ...``; the rest call the same entry point
(``convequiv.cli.main``) in-process, which is what ``__main__`` does."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from convequiv.cli import main

ROOT = Path(__file__).resolve().parents[1]


def size_subprocess(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "convequiv", "size", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def size(*args: str) -> SimpleNamespace:
    """``convequiv size ARGS`` in-process: exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["size", *args])
        except SystemExit as exc:
            code = exc.code
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def test_notes_example_prints_28_and_the_formula():
    """``python -m convequiv size 28 --kernel 3 --padding 1 --stride 1`` prints 28, then the floor
    formula with these numbers."""
    run = size_subprocess("28", "--kernel", "3", "--padding", "1", "--stride", "1")
    assert run.returncode == 0, run.stderr
    first, formula = run.stdout.splitlines()
    assert first == "28"
    assert "floor((n + lo + hi - d*(k-1) - 1) / s) + 1" in formula
    assert "floor((28 + 1 + 1 - 1*(3-1) - 1) / 1) + 1" in formula
    assert formula.endswith("= 28")
    assert run.stderr == ""


def test_no_padding_gives_26():
    """28 with kernel 3 and the default padding 0 gives 26."""
    run = size("28", "--kernel", "3")
    assert run.returncode == 0 and run.stdout.splitlines()[0] == "26"


@pytest.mark.parametrize(
    ("args", "expected", "pads"),
    [
        (["28", "-k", "3", "-s", "2", "--padding", "same"], "14", "(0, 1)"),
        (["28", "-k", "3", "-s", "2", "--padding", "same_lower"], "14", "(1, 0)"),
        (["7", "-k", "4", "--padding", "same"], "7", "(1, 2)"),
        (["9", "-k", "3", "-d", "2", "--padding", "valid"], "5", "(0, 0)"),
    ],
)
def test_padding_strings_show_the_resolved_pairs(args, expected, pads):
    """--padding same / same_lower / valid print the size and the resolved (lo, hi) pair."""
    run = size(*args)
    assert run.returncode == 0, run.stderr
    first, formula = run.stdout.splitlines()
    assert first == expected
    assert f"(lo, hi) = {pads}" in formula


def test_explicit_pair_padding():
    """--padding LO,HI takes an asymmetric pair: 10 + 2 + 0 - 3 + 1 = 10."""
    run = size("10", "-k", "3", "--padding", "2,0")
    assert run.returncode == 0 and run.stdout.splitlines()[0] == "10"
    assert "(10 + 2 + 0 - 1*(3-1) - 1)" in run.stdout


def test_ceil_mode():
    """--ceil-mode uses ceil: 5 cells, kernel 2, stride 2 give 3; with padding 1 the extra window
    would start in the right padding, so it is dropped (3, and the output says so)."""
    run = size("5", "-k", "2", "-s", "2", "--ceil-mode")
    assert run.returncode == 0 and run.stdout.splitlines()[0] == "3"
    assert "ceil(" in run.stdout and "dropped" not in run.stdout
    dropped = size("5", "-k", "2", "-s", "2", "-p", "1", "--ceil-mode")
    assert dropped.returncode == 0 and dropped.stdout.splitlines()[0] == "3"
    assert "dropped" in dropped.stdout
    floor = size("5", "-k", "2", "-s", "2")
    assert floor.stdout.splitlines()[0] == "2"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["28", "--kernel", "0"], "kernel must be >= 1"),
        (["28", "--kernel", "3", "--stride", "0"], "stride must be >= 1"),
        (["28", "--kernel", "3", "--dilation", "0"], "dilation must be >= 1"),
        (["28", "--kernel", "3", "--padding", "-1"], "padding must be non-negative"),
        (["28", "--kernel", "3", "--padding", "full"], "'full'"),
        (["28", "--kernel", "3", "--padding", "1,2,3"], "'1,2,3'"),
        (["2", "--kernel", "3"], "output size"),
        (["0", "--kernel", "3"], "n must be >= 1"),
        (["28"], "--kernel"),
        (["twenty", "--kernel", "3"], "'twenty'"),
        (["28", "--kernel", "3", "--bogus"], "--bogus"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, fragment):
    """Bad arguments: exit status 2, nothing on stdout, exactly one line on stderr naming the problem."""
    run = size(*args)
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert "error" in lines[0] and fragment in lines[0], lines[0]


@pytest.mark.parametrize("args", [["2", "--kernel", "3"], ["28", "--padding", "full", "--kernel", "3"]])
def test_bad_arguments_exit_2_from_the_module_entry_point(args):
    """The same through ``python -m convequiv``: the process exits with status 2 and one stderr line."""
    run = size_subprocess(*args)
    assert run.returncode == 2
    assert run.stdout == "" and len(run.stderr.splitlines()) == 1, run.stderr
