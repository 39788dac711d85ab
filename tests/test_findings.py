"""The framework bugs written up in docs/findings still reproduce, and the index lists every finding.

Each ``docs/findings/<id>/repro.py`` exits 1 while its bug is there and 0 once the framework is fixed
(77 where the machine cannot run the affected path, e.g. a kernel only AVX-512 CPUs take: skipped).
This test runs every one with the current Python and expects 1; a 0 means a framework release fixed the
bug, and the test fails so that the write-up and the index get the fixing release. A finding whose index
status reads "fixed in <distribution> <version>" is expected to exit 0 from that version on (and 1
before it). Scripts whose framework is not installed are skipped, naming it.

Importing TensorFlow, PyTorch or Keras costs seconds, so the scripts that need the same framework run
one after another in one interpreter (``runpy``, each in a fresh namespace, its exit status caught);
the groups run in parallel, each under a timeout. A script that runs something dangerous (the PyTorch
out-of-bounds write) does so in a child process of its own.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from packaging.version import Version

FINDINGS = Path(__file__).resolve().parent.parent / "docs" / "findings"
INDEX = FINDINGS / "README.md"
GROUP_TIMEOUT_S = 600
#: A repro's exit status on a machine that cannot run the affected code path (automake's "skipped").
CANNOT_RUN_HERE = 77

# Import names a repro may need, and the distribution that provides each (for versions and messages).
FRAMEWORKS = {
    "torch": "torch",
    "tensorflow": "tensorflow",
    "keras": "keras",
    "jax": "jax",
    "onnxruntime": "onnxruntime",
    "onnx": "onnx",
}

# Runs the scripts given as arguments one after another; writes one JSON line per script to argv[1].
_DRIVER = r"""
import contextlib, io, json, runpy, sys, traceback
out = open(sys.argv[1], "a", buffering=1)
for path in sys.argv[2:]:
    out.write(json.dumps({"path": path, "started": True}) + "\n")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        try:
            runpy.run_path(path, run_name="__main__")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
            code = "raised"
    out.write(json.dumps({"path": path, "code": code, "output": buf.getvalue()}) + "\n")
"""


def finding_ids() -> list[str]:
    return sorted(p.parent.name for p in FINDINGS.glob("*/repro.py"))


def index_rows() -> dict[str, str]:
    """``{id: upstream status}`` from the index table (rows that link ``<id>.md``)."""
    rows = {}
    for line in INDEX.read_text().splitlines():
        m = re.match(r"\|\s*\[([\w.-]+)\]\(([\w.-]+)\.md\)\s*\|", line)
        if m:
            assert m.group(1) == m.group(2), f"index row links {m.group(2)}.md for id {m.group(1)}"
            rows[m.group(1)] = line.rstrip().rstrip("|").split("|")[-1].strip()
    return rows


def requirements(path: Path) -> tuple[list[str], dict[str, str]]:
    """(frameworks the script imports, the environment variables it sets before importing them), read
    from the source: ``os.environ["NAME"] = "value"`` lines (``KERAS_BACKEND``, ``TF_ENABLE_ONEDNN_OPTS``)."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    environment: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
                    environment[str(target.slice.value)] = str(node.value.value)
    needed = sorted(n for n in names if n in FRAMEWORKS)
    backend = environment.get("KERAS_BACKEND")
    if backend:
        needed = sorted(set(needed) | {backend})
    return needed, environment


def group_of(needed: list[str], environment: dict[str, str]) -> str:
    """Scripts of one group can share an interpreter: same framework, same environment settings
    (a Keras backend, TensorFlow's oneDNN switch: both are read once, at import)."""
    backend = environment.get("KERAS_BACKEND")
    settings = "".join(f" {k}={v}" for k, v in sorted(environment.items()) if k != "KERAS_BACKEND")
    for name in ("tensorflow", "torch", "jax", "onnxruntime", "onnx"):
        if backend == name or (backend is None and name in needed):
            return name + settings
    return "numpy" + settings


def missing(needed: list[str]) -> list[str]:
    return [n for n in needed if importlib.util.find_spec(n) is None]


def installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(FRAMEWORKS.get(name, name))
    except importlib.metadata.PackageNotFoundError:
        if name == "tensorflow":  # the CPU-only distribution
            try:
                return importlib.metadata.version("tensorflow-cpu")
            except importlib.metadata.PackageNotFoundError:
                return None
        return None


def fixed_in(status: str) -> tuple[str, Version] | None:
    """("keras", Version("3.9.0")) for a status like "fixed in Keras 3.9.0 (keras#20774)"."""
    m = re.search(r"fixed in ([A-Za-z][\w.-]*) (\d+(?:\.\d+)*)", status)
    return (m.group(1).lower(), Version(m.group(2))) if m else None


def run_group(paths: list[Path], results: Path) -> dict[str, dict]:
    """Run ``paths`` in one interpreter; ``{path: {"code", "output"}}``, a died interpreter reported."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONDONTWRITEBYTECODE="1")
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _DRIVER, str(results), *map(str, paths)],
            capture_output=True,
            text=True,
            timeout=GROUP_TIMEOUT_S,
            cwd=results.parent,
            env=env,
        )
        ended = (
            None
            if proc.returncode == 0
            else f"the interpreter ended with status {proc.returncode}: {proc.stderr[-2000:]}"
        )
    except subprocess.TimeoutExpired:
        ended = f"the interpreter ran past {GROUP_TIMEOUT_S} s"
    got: dict[str, dict] = {}
    if results.exists():
        for line in results.read_text().splitlines():
            rec = json.loads(line)
            if "code" in rec:
                got[rec["path"]] = rec
            else:
                got.setdefault(rec["path"], {"code": "died", "output": ended or "no result"})
    for p in paths:
        got.setdefault(str(p), {"code": "not run", "output": ended or "no result"})
    return got


@pytest.fixture(scope="session")
def outcomes(tmp_path_factory) -> dict[str, dict]:
    """Every runnable finding's exit status and output, the groups run in parallel."""
    groups: dict[str, list[Path]] = {}
    for fid in finding_ids():
        path = FINDINGS / fid / "repro.py"
        needed, environment = requirements(path)
        if not missing(needed):
            groups.setdefault(group_of(needed, environment), []).append(path)
    base = tmp_path_factory.mktemp("findings")
    with ThreadPoolExecutor(max_workers=max(1, len(groups))) as pool:
        futures = [pool.submit(run_group, paths, base / f"group{i}.jsonl") for i, paths in enumerate(groups.values())]
        merged: dict[str, dict] = {}
        for f in futures:
            merged.update(f.result())
    return {Path(p).parent.name: rec for p, rec in merged.items()}


def test_index_lists_every_finding():
    rows = index_rows()
    folders = set(finding_ids())
    assert not folders - set(rows), f"findings missing from docs/findings/README.md: {sorted(folders - set(rows))}"
    no_write_up = [fid for fid in rows if not (FINDINGS / f"{fid}.md").is_file()]
    assert not no_write_up, f"index rows without a write-up <id>.md: {no_write_up}"
    no_md = [fid for fid in folders if not (FINDINGS / f"{fid}.md").is_file()]
    assert not no_md, f"repro folders without a write-up: {no_md}"
    strays = [p.name for p in FINDINGS.iterdir() if p.is_dir() and not (p / "repro.py").is_file()]
    assert not strays, f"folders in docs/findings without a repro.py: {strays}"


@pytest.mark.parametrize("fid", finding_ids())
def test_finding_still_reproduces(fid, outcomes):
    path = FINDINGS / fid / "repro.py"
    needed, _ = requirements(path)
    absent = missing(needed)
    if absent:
        pytest.skip(f"{fid}: needs {', '.join(absent)}, not installed")
    rec = outcomes[fid]
    code, output = rec["code"], rec["output"]
    versions = ", ".join(f"{n} {installed_version(n)}" for n in needed)
    status = index_rows().get(fid, "")
    fix = fixed_in(status)
    if fix is not None:
        have = installed_version(fix[0])
        assert have is not None, f"{fid}: the index says '{status}' but {fix[0]} is not installed"
        if Version(have) >= fix[1]:
            assert code == 0, (
                f"{fid}: the index says '{status}', but repro.py exits {code} with {fix[0]} {have} "
                f"(a regression, or the wrong fixing release):\n{output}"
            )
            return
    if code == CANNOT_RUN_HERE:  # the script names what this machine lacks (a CPU feature)
        said = output.strip().splitlines() or ["(the script printed nothing)"]
        pytest.skip(f"{fid}: this machine cannot run the affected path: {said[-1]}")
    if code == 0:
        pytest.fail(
            f"{fid}: repro.py now exits 0 with {versions}: the framework fixed this bug. Record the fixing "
            f"release in docs/findings/{fid}.md and in the index status of docs/findings/README.md "
            f"('fixed in <distribution> <version>'), so the test expects 0 from then on.\n{output}"
        )
    assert code == 1, f"{fid}: repro.py ended with {code!r} ({versions}) instead of exit status 1:\n{output}"
