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


# ------------------------------------------------------------------------------ execution variants
def test_every_variant_is_selected_by_name_with_its_base_adapters_requirements():
    for spec in adapters.VARIANTS:
        base = spec.partition("/")[0]
        assert spec not in adapters.DEFAULT_SPECS  # run when named: --adapters torch/compile
        assert adapters.installed(spec) == adapters.installed(base)
        assert marker_name(spec) == spec.replace("/", "_").replace("-", "_").replace("[", "_").replace("]", "")


@pytest.mark.parametrize("spec", ["torch/channels_last", "torch/noncontiguous", "torch/no-onednn", "torch/compile"])
def test_a_torch_variant_loads_as_its_own_adapter(spec):
    if not adapters.installed("torch"):
        pytest.skip("torch is not installed")
    from convequiv.adapters.torch_adapter import TorchAdapter

    impl = adapters.load(spec)
    assert impl.name == spec and impl.spec == spec  # its own column; reproduction lines select it again
    assert isinstance(impl, TorchAdapter) and type(impl) is not TorchAdapter
    assert "jvp" in impl.produces and {"float32", "bfloat16"} <= set(impl.dtypes)
    assert impl.versions() == adapters.load("torch").versions()  # divergence records for torch apply
    assert impl.apis_for("depth_pool") == ("functional",)


def test_unknown_variant_of_an_adapter_with_variants_names_them():
    with pytest.raises(
        adapters.AdapterError, match=r"unknown variant 'torch/jit' of adapter 'torch'; known: torch/compile"
    ):
        adapters.load("torch/jit")


def test_channels_last_variant_claims_1d_cases_unsupported_with_proof():
    if not adapters.installed("torch"):
        pytest.skip("torch is not installed")
    from convequiv.equivalence import check

    outcome = check("torch/channels_last", Example(PoolCase("max", (2, 3, 7), 2), seed=1), api="functional")
    assert outcome.status == "unsupported" and "torch has no channels_last_1d" in outcome.detail


def test_variant_inputs_really_take_the_variants_layout():
    if not adapters.installed("torch"):
        pytest.skip("torch is not installed")
    import torch

    channels_last = adapters.load("torch/channels_last")
    noncontiguous = adapters.load("torch/noncontiguous")
    x = torch.randn(2, 3, 4, 5)
    assert channels_last.prepare("x", x).is_contiguous(memory_format=torch.channels_last)
    strided = noncontiguous.prepare("x", x)
    assert not strided.is_contiguous() and strided.storage_offset() > 0 and torch.equal(strided, x)


def test_a_variant_that_needs_an_import_time_setting_runs_in_a_worker():
    """tensorflow/no-onednn needs TF_ENABLE_ONEDNN_OPTS=0 before TensorFlow is imported: unless this
    process has it, the variant runs in a worker process started with it (its constructor refuses a
    TensorFlow with oneDNN on, so a loaded worker proves the setting took)."""
    if not adapters.installed("tensorflow"):
        pytest.skip("tensorflow is not installed")
    assert adapters.VARIANT_ENVIRONMENT["tensorflow/no-onednn"] == {"TF_ENABLE_ONEDNN_OPTS": "0"}
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "0":
        pytest.skip("this process already runs TensorFlow without oneDNN")
    impl = adapters.load("tensorflow/no-onednn")
    assert isinstance(impl, RemoteAdapter) and impl.name == impl.spec == "tensorflow/no-onednn"  # reproduction lines
    assert adapters.load("tensorflow/no-onednn") is impl  # one worker per spec and process
    assert "jvp" in impl.produces and "float16" in impl.dtypes
    ex = Example(PoolCase("avg", (2, 3, 5, 4), 2), seed=3)
    plan = impl.support(ex.case, "nn", "float32")
    got = impl.run(plan, ex.inputs("float32", tangents=True).astype("float32"))
    want = ex.case.expected(ex.inputs("float32", tangents=True))
    np.testing.assert_allclose(got["jvp"], want["jvp"], rtol=1e-5)
