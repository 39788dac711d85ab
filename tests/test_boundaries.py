"""The shape of the code: the equivalence core does not import the notes' product or the
benchmark, and no module grows past 600 lines."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "convequiv"
OUTSIDE_THE_CORE = ("convequiv.notes", "convequiv.bench")
MAX_LINES = 600


def _modules() -> list[Path]:
    """Every module of the package, through the links to the top-level reference/ and adapters/."""
    found = []
    for folder, _, files in os.walk(PACKAGE, followlinks=True):
        found += [Path(folder, f) for f in files if f.endswith(".py") and "__pycache__" not in folder]
    return sorted(found)


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    module = _name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            prefix = ".".join(base[: len(base) - node.level + 1]) if node.level else ""
            target = ".".join(p for p in (prefix, node.module or "") if p)
            found |= {target} | {f"{target}.{a.name}" for a in node.names}
    return found


CORE = [p for p in _modules() if not _name(p).startswith(OUTSIDE_THE_CORE) and _name(p) != "convequiv.cli"]


@pytest.mark.parametrize("path", CORE, ids=lambda p: _name(p))
def test_the_core_does_not_import_the_notes_or_the_benchmark(path):
    bad = sorted(i for i in _imports(path) if i.startswith(OUTSIDE_THE_CORE))
    assert not bad, f"{_name(path)} imports {bad}"


def test_the_boundary_test_sees_the_core():
    names = {_name(p) for p in CORE}
    assert {"convequiv.reference.cases", "convequiv.adapters.torch_adapter", "convequiv.equivalence"} <= names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: _name(p))
def test_no_module_over_600_lines(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{_name(path)} has {lines} lines"
