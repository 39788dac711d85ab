"""The README's two commands exist, CI runs the test command verbatim, and the pins agree."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _command(marker: str) -> str:
    lines = README.splitlines()
    index = lines.index(f"<!-- {marker} -->")
    assert lines[index + 1].startswith("```")
    return lines[index + 2]


def test_both_commands_set_up_from_constraints():
    for marker in ("main-command", "test-command"):
        command = _command(marker)
        assert "-c constraints.txt" in command and "python3 -m venv" in command
    assert "convequiv check" in _command("main-command")
    assert "pytest" in _command("test-command")


def test_ci_runs_the_readme_test_command():
    extracted = subprocess.run(
        ["awk", "/<!-- test-command -->/ {getline; getline; print; exit}", "README.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert extracted == _command("test-command")
    assert "<!-- test-command -->" in (ROOT / ".ci" / "run").read_text()


def test_default_pins():
    pins = dict(
        line.split("==")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert pins["torch"] == "2.13.0"
    assert pins.get("tensorflow_cpu", pins.get("tensorflow-cpu")) == "2.21.0"
    assert pins["keras"] == "3.15.1"
