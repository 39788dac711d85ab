"""``convequiv tables`` and ``convequiv claims`` from the command line, with and without frameworks.

The framework-free runs happen in a subprocess whose import system refuses ``torch``,
``tensorflow``, ``keras`` and ``jax``: both commands must work there, quickly, and say what they
could not use.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from convequiv.notes.models import catalogue, get, infer
from convequiv.notes.models.render import torchsummary

ROOT = Path(__file__).resolve().parents[2]

BLOCKER = """
import sys
from importlib.abc import MetaPathFinder

class Block(MetaPathFinder):
    BLOCKED = ("torch", "tensorflow", "keras", "jax", "jaxlib")
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.BLOCKED:
            raise ModuleNotFoundError(f"blocked: {name}", name=name)
        return None

sys.meta_path.insert(0, Block())
from convequiv.cli import main
code = main(sys.argv[1:])
leaked = [m for m in ("torch", "tensorflow", "keras", "jax") if m in sys.modules]
print("LEAKED:" + ",".join(leaked), file=sys.stderr)
sys.exit(code)
"""


def _run(*args: str, blocked: bool = False, timeout: int = 600) -> tuple[subprocess.CompletedProcess, float]:
    command = [sys.executable, "-c", BLOCKER, *args] if blocked else [sys.executable, "-m", "convequiv", *args]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return done, time.perf_counter() - started


def test_tables_list():
    done, _ = _run("tables", "--list")
    assert done.returncode == 0
    names = [line.split()[0] for line in done.stdout.splitlines()]
    assert names == catalogue.names()


def test_unknown_model_is_one_line_and_exit_2():
    done, _ = _run("tables", "no-such-model")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "unknown model 'no-such-model'" in done.stderr


def test_tables_formats():
    done, _ = _run("tables", "003-torch-mnist", "--format", "torchsummary")
    assert done.returncode == 0 and done.stdout == torchsummary(infer(get("003-torch-mnist")))
    done, _ = _run("tables", "--format", "json")
    assert [m["model"] for m in json.loads(done.stdout)] == catalogue.names()
    done, _ = _run("tables", "004-mnist-no-pool", "-f", "keras2")
    assert "Total params: 712,202" in done.stdout


def test_default_format_is_each_models_tool():
    done, _ = _run("tables", "003-torch-mnist", "001-keras-convnet")
    assert "Conv2d-1" in done.stdout and "┏" in done.stdout
    assert '\n\nModel: "sequential"' in done.stdout


def test_tables_and_claims_without_frameworks():
    done, seconds = _run("tables", blocked=True)
    assert done.returncode == 0 and "LEAKED:\n" in done.stderr + "\n"
    assert seconds < 10, seconds
    done, seconds = _run("claims", "--format", "json", blocked=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().endswith("LEAKED:")
    assert seconds < 15, seconds
    data = json.loads(done.stdout)
    assert data["environment"]["torch"] is None
    zero_pad = next(c for c in data["claims"] if c["id"] == "n003-maxpool-zero-pad")
    assert zero_pad["verdict"] == "wrong" and zero_pad["ran"] == ["reference"]
    assert "torch" in zero_pad["evidence"] and "rests on reference alone" in zero_pad["evidence"]


def test_check_without_frameworks_checks_the_notes_only():
    done, _ = _run("tables", "003-torch-mnist", "004-mnist-convnet", "--check", blocked=True)
    assert done.returncode == 0, done.stderr
    assert "notes: ok; keras: not installed; torch: not installed" in done.stdout


@pytest.mark.torch
@pytest.mark.keras
def test_check_with_frameworks(torch, keras):
    done, _ = _run("tables", "003-torch-mnist", "004-vgg16-frozen", "lenet5-1998", "--check")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("keras: ok; torch: ok") == 3
    assert "3 model(s), 0 mismatch(es)" in done.stdout


def test_check_mismatch_names_the_layer_and_fails(monkeypatch, capsys):
    from convequiv.notes.models import check, cli

    def fake(info):
        return [check.Mismatch(info.model.name, "notes", "row 3 (conv2d_1)", "parameters", 18496, 18495)]

    monkeypatch.setattr(check, "check_printed", fake)
    code = cli.run(argparse.Namespace(list=False, models=["001-keras-convnet"], check=True, format=None))
    err = capsys.readouterr().err
    assert code == 1
    assert "error: 001-keras-convnet: notes: row 3 (conv2d_1): parameters: expected 18496, got 18495" in err


def test_claims_cli():
    done, _ = _run("claims", "n003-maxpool-zero-pad", "--reference-only")
    assert done.returncode == 0 and "n003-maxpool-zero-pad  [note 003 L327]  WRONG" in done.stdout
    done, _ = _run("claims", "n999-nothing")
    assert done.returncode == 2 and "unknown claim" in done.stderr
    done, _ = _run("claims", "--note", "004", "--reference-only", "--format", "markdown")
    assert done.returncode == 0 and "## Note 004" in done.stdout and "## Note 003" not in done.stdout
