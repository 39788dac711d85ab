"""tox.ini and the GitHub Actions workflow name the same matrix of environments."""

from __future__ import annotations

import configparser
import itertools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def expand(pattern: str) -> list[str]:
    """tox's generative names: ``keras{30,35}-{jax,torch}`` -> ``keras30-jax, keras30-torch, ...``."""
    parts = re.split(r"(\{[^}]*\})", pattern)
    choices = [p[1:-1].split(",") if p.startswith("{") else [p] for p in parts]
    return ["".join(combo) for combo in itertools.product(*choices)]


def split_top_level(text: str) -> list[str]:
    """Split on commas outside braces."""
    items, depth, current = [], 0, ""
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += char
    return [i for i in [*items, current.strip()] if i]


def tox_matrix() -> list[str]:
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "tox.ini")
    lines = config["tox"]["labels"].strip().splitlines()
    labels = {key.strip(): value.strip() for key, value in (line.split("=", 1) for line in lines)}
    return [env for item in split_top_level(labels["matrix"]) for env in expand(item)]


def workflow_matrix() -> list[str]:
    text = (ROOT / ".github" / "workflows" / "matrix.yml").read_text()
    block = re.search(r"^\s+env:\n((?:\s+- .+\n)+)", text, re.MULTILINE)
    assert block, "matrix.yml has no 'env:' list"
    return [line.strip()[2:] for line in block.group(1).splitlines()]


def test_expand_products_in_order():
    assert expand("keras{30,35}-{jax,torch}") == ["keras30-jax", "keras30-torch", "keras35-jax", "keras35-torch"]
    assert expand("lint") == ["lint"]


def test_workflow_runs_every_matrix_environment_once():
    tox_envs = [e for e in tox_matrix() if e != "report"]  # the workflow's last job runs the report
    workflow_envs = workflow_matrix()
    assert len(workflow_envs) == len(set(workflow_envs)), "an environment is listed twice in matrix.yml"
    assert sorted(workflow_envs) == sorted(tox_envs)


def test_every_matrix_environment_has_its_dependencies():
    """Each framework factor of the matrix pins a release in tox.ini's deps."""
    deps = (ROOT / "tox.ini").read_text()
    for env in tox_matrix():
        for factor in env.split("-"):
            if re.fullmatch(r"(torch|keras|tf)\d+", factor):
                assert re.search(rf"^\s+[^\n]*\b{factor}\b[^\n]*:", deps, re.MULTILINE), f"{env}: no deps for {factor}"


def test_the_suite_run_is_the_last_command_of_its_environment():
    """Every pytest run writes CONVEQUIV_RESULTS: an environment's suite run must come last, or a later
    run (ONNX's conformance data, say) overwrites its results with an empty file."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "tox.ini")
    for section in config.sections():
        commands = [c.strip() for c in config[section].get("commands", "").splitlines() if c.strip()]
        suite = [i for i, c in enumerate(commands) if "--pyargs convequiv.suite" in c and ":" not in c.split()[0]]
        for i in suite:
            assert i == len(commands) - 1, f"[{section}]: the suite run is followed by {commands[i + 1 :]}"
