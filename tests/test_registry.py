"""Loading adapters: built-in names, ``module:Class``, entry points, errors, and the worker process
that hosts a Keras backend other than the current process's."""

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from convequiv import adapters
from convequiv.adapters.remote import RemoteAdapter
from convequiv.pytest_plugin import marker_name
from convequiv.reference.cases import Example, GlobalPoolCase, PoolCase
from tests.support.nested import nested_env

ROOT = Path(__file__).resolve().parents[1]


def test_module_class_spec_loads_the_class():
    adapter = adapters.load("tests.support.fake_adapter:EchoAdapter")
    assert adapter.name == "echo" and adapter.apis == ("only",)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nosuchframework", "unknown adapter 'nosuchframework'"),
        ("keras[mxnet]", "unknown Keras backend"),
        ("tests.support.fake_adapter:Missing", "cannot import adapter"),
        ("no_such_module_xyz:Adapter", "cannot import adapter"),
        ("tests.support.fake_adapter:NotAnAdapter", "is not a subclass"),
    ],
)
def test_bad_specs_are_errors(spec, message):
    with pytest.raises(adapters.AdapterError, match=message.replace("[", r"\[")):
        adapters.load(spec)


def test_unknown_adapter_is_a_usage_error_not_a_skip():
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "convequiv/suite/test_conv.py", "--adapters", "nosuchframework", "-q"],
        cwd=ROOT,
        env=nested_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 4, run.stdout + run.stderr
    assert "unknown adapter 'nosuchframework'" in run.stderr


def test_entry_point_group_registers_jax():
    names = {ep.name: ep.value for ep in metadata.entry_points(group=adapters.ENTRY_POINT_GROUP)}
    if not names:
        pytest.skip("convequiv is not installed (entry points come from the installed metadata)")
    assert names.get("jax") == "convequiv.adapters.jax_adapter:JaxAdapter"


def test_marker_names_are_identifiers():
    assert marker_name("keras[jax]") == "keras_jax"
    assert marker_name("pkg.mod:Class") == "pkg_mod_Class"


def test_remote_adapter_round_trip():
    remote = RemoteAdapter("tests.support.fake_adapter:EchoAdapter", {"CONVEQUIV_FAKE": "worker"})
    try:
        versions = remote.versions()
        assert versions["CONVEQUIV_FAKE"] == "worker" and versions["pid"] != str(os.getpid())
        assert remote.apis == ("only",)
        assert remote.frameworks == ("numpy",) and "dx" in remote.produces
        ex = Example(PoolCase("max", (2, 3, 5, 4), 2), seed=3)
        inputs = ex.inputs()
        plan = remote.support(ex.case, "only", "float64")
        assert plan.route == "echo" and plan.case == ex.case
        got = remote.run(plan, inputs.astype("float64"))
        np.testing.assert_array_equal(got["y"], ex.case.expected(inputs)["y"])  # the worker's copy of the reference
        with pytest.raises(ValueError, match="echo refuses"):
            bad = Example(GlobalPoolCase("avg", (1, 2, 3)), seed=1)
            remote.run(remote.support(bad.case, "only", "float64"), bad.inputs().astype("float64"))
    finally:
        remote.close()


def test_tf_keras_is_a_builtin_in_the_default_selection():
    assert adapters.BUILTIN["tf_keras"] == "convequiv.adapters.tf_keras_adapter:TfKerasAdapter"
    assert "tf_keras" in adapters.DEFAULT_SPECS
    assert adapters.REQUIRES["tf_keras"] == ("tf_keras", "tensorflow")
    if not adapters.installed("tf_keras"):
        pytest.skip("tf-keras is not installed")
    assert "tf_keras" in adapters.available_specs()
    impl = adapters.load("tf_keras")
    assert impl.name == "tf_keras" and impl.apis == ("layer",) and impl.apis_for("depth_pool") == ("layer",)
    versions = impl.versions()
    assert set(versions) == {"tf_keras", "tensorflow"}  # keyed by import name, like divergence records
    assert versions["tf_keras"].startswith("2.")
