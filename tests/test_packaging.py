"""The package as a user installs it: one top-level import name, and a NumPy-only install whose
commands work or say in one line which extra they need.

Builds the wheel once, installs it into a fresh virtual environment with NumPy and packaging only
(from pip's cache or the registry), next to another distribution's top-level ``adapters`` and
``reference`` modules and a local ``reference.py``, and runs the commands there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if build.returncode:
        pytest.skip(f"cannot build the wheel here: {build.stderr.strip().splitlines()[-1:]}")
    (found,) = out.glob("convequiv-*.whl")
    return found


@pytest.fixture(scope="module")
def numpy_only(wheel, tmp_path_factory) -> tuple[Path, Path]:
    """A fresh venv with the wheel, NumPy and packaging, plus stand-ins for other distributions'
    top-level ``adapters`` and ``reference`` packages; returns (python, working directory)."""
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=True)
    python = home / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True, timeout=900
    )
    if install.returncode:
        pytest.skip(f"cannot install into a fresh venv here: {install.stderr.strip().splitlines()[-1:]}")
    site = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    for name in ("adapters", "reference"):  # what AdapterHub's and other distributions install
        (site / name).mkdir()
        (site / name / "__init__.py").write_text(f"OWNER = 'another distribution: {name}'\n")
    work = tmp_path_factory.mktemp("work")
    (work / "reference.py").write_text("OWNER = 'the user'\n")  # a local module of the same name
    return python, work


def test_the_wheel_has_one_top_level_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"convequiv"}, tops
    for needed in (
        "convequiv/reference/convolution.py",
        "convequiv/adapters/torch_adapter.py",
        "convequiv/suite/test_conv.py",
        "convequiv/divergences.toml",
    ):
        assert needed in names, needed
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "[pytest11]" in entry_points and "convequiv = convequiv.pytest_plugin" in entry_points


def test_it_installs_next_to_other_adapters_and_reference_packages(numpy_only):
    python, work = numpy_only
    probe = (
        "import adapters, reference, convequiv.reference as ref, convequiv.adapters as ad;"
        "import convequiv.reference.convolution as m;"
        "print(adapters.OWNER, '|', reference.OWNER, '|', ref.conv.__module__, '|', m.__name__, '|', ad.__name__)"
    )
    out = subprocess.run([str(python), "-c", probe], cwd=work, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    owners = [part.strip() for part in out.stdout.split("|")]
    assert owners == [
        "another distribution: adapters",
        "the user",  # the working directory's reference.py, as Python resolves it
        "convequiv.reference.convolution",
        "convequiv.reference.convolution",
        "convequiv.adapters",
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["size", "28", "--kernel", "3", "--stride", "2", "--padding", "same"],
        ["tables", "--list"],
        ["claims", "--reference-only", "--format", "json"],
    ],
)
def test_numpy_only_commands_work(numpy_only, argv):
    python, work = numpy_only
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONVEQUIV_", "PYTHON"))}
    done = subprocess.run(
        [str(python), "-m", "convequiv", *argv], cwd=work, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("argv", [["check"], ["hunt", "--budget", "1s"], ["bench", "--quick"]])
def test_commands_that_need_more_say_which_extra_in_one_line(numpy_only, argv):
    python, work = numpy_only
    done = subprocess.run(
        [str(python), "-m", "convequiv", *argv], cwd=work, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2, (done.returncode, done.stdout[-1000:], done.stderr[-1000:])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "pip install 'convequiv[" in lines[0], done.stderr


FORWARD_ONLY = '''
"""A third party's adapter for a runtime without gradients: global average pooling only."""

import numpy as np

from convequiv.adapters.base import Adapter, Plan, Unsupported


class ForwardOnlyMean(Adapter):
    name = "fwd-mean"
    frameworks = ("numpy",)
    apis = ("numpy",)
    dtypes = ("float64",)
    produces = frozenset({"y"})

    def support(self, case, api, dtype):
        if case.op == "global_avg_pool":
            return Plan(case, api, dtype, "mean", "numpy.mean")
        return Unsupported(f"no {case.op}", "lacks", f"numpy.{case.op}_of_a_runtime_without_it")

    def run(self, plan, inputs):
        axes = tuple(range(2, inputs["x"].ndim))
        return {"y": np.mean(inputs["x"], axis=axes, keepdims=plan.case.keepdims)}
'''


@pytest.fixture(scope="module")
def with_test_extra(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel and its ``test`` extra (pytest, Hypothesis), no framework."""
    home = tmp_path_factory.mktemp("venv-test")
    venv.create(home, with_pip=True)
    python = home / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"{wheel}[test]"], capture_output=True, text=True, timeout=900
    )
    if install.returncode:
        pytest.skip(f"cannot install the test extra here: {install.stderr.strip().splitlines()[-1:]}")
    return python


def test_a_forward_only_adapter_runs_the_packaged_suite(with_test_extra, tmp_path):
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "fwd.py").write_text(FORWARD_ONLY)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONVEQUIV_", "PYTHON"))}
    env["PYTHONPATH"] = str(tmp_path)
    done = subprocess.run(
        [str(with_test_extra), "-m", "pytest", "--pyargs", "convequiv.suite", "--adapters", "mypkg.fwd:ForwardOnlyMean",
         "-p", "no:cacheprovider", "-q", "-rs", "-k", "global_pool or semantics or conv"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    matrix = next(line for line in done.stdout.splitlines() if line.startswith("fwd-mean "))
    assert "*" in matrix and "∅" in matrix  # gradients not checked; conv unsupported (proven)
    assert "does not produce 'dx'" in done.stdout  # the tie-policy tests say why they are skipped
