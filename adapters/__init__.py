"""Framework adapters behind one interface (:class:`convequiv.adapters.base.Adapter`), loaded lazily.

Selecting adapters: a *spec* is one of

* a built-in name: ``torch``, ``tensorflow``, ``keras[tensorflow]``, ``keras[jax]``,
  ``keras[torch]`` (``keras`` alone means the backend ``KERAS_BACKEND`` names, default tensorflow),
  ``tf_keras`` (Keras 2 from the ``tf-keras`` distribution, on TensorFlow, in any process: it does not
  depend on the Keras 3 backend);
* a name registered by any installed distribution in the entry-point group
  ``convequiv.adapters`` (convequiv registers its own ``jax`` adapter this way);
* ``package.module:Class`` for an adapter class that is not registered anywhere;
* ``name/variant``: adapter ``name`` built with that variant (``onnxruntime/opset18``); the adapter
  then bears the full name, so the variant is a column of its own in results, and divergence records
  for ``name`` cover it (:func:`convequiv.divergences.adapter_matches`). Names that contain a slash
  themselves are built-in adapters of their own: ``onnx/reference`` (ONNX's reference evaluator) and
  ``torch/onnx`` (PyTorch exported to ONNX, run by ONNX Runtime), with variants too
  (``torch/onnx/dynamo``). ``onnxruntime`` runs ONNX models of the cases.
* an *execution variant* of a built-in adapter (:data:`VARIANTS`): the same cases and plans run on
  another path: ``torch/compile``, ``torch/channels_last``, ``torch/noncontiguous``,
  ``torch/no-onednn`` (:mod:`convequiv.adapters.torch_variants`), ``tensorflow/xla``,
  ``tensorflow/no-onednn`` (:mod:`convequiv.adapters.tensorflow_variants`), ``keras[B]/jit`` for each
  backend B (:mod:`convequiv.adapters.keras_variants`, in a process whose Keras backend is B),
  ``jax/eager`` (:mod:`convequiv.adapters.jax_variants`). Each is a subclass of the
  adapter, one per variant, whose ``name`` is the full spec (so, again, a column of its own, and
  records for the adapter cover it). Variants run when named (``--adapters torch,torch/compile``),
  not by default. A variant that needs environment variables a framework reads
  once, at import (:data:`VARIANT_ENVIRONMENT`: ``TF_ENABLE_ONEDNN_OPTS=0``), runs in a worker
  process with them (:mod:`convequiv.adapters.remote`) unless this process already has them.

Keras reads its backend once per process. A ``keras[...]`` adapter whose backend differs from the
one this process already uses runs in a worker process (:mod:`convequiv.adapters.remote`) with
``KERAS_BACKEND`` set; arrays cross as NumPy either way.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable
from importlib import metadata

from .base import SUPPORTED, Adapter, Plan, Semantics, Supported, Unsupported, UnsupportedCase
from .legacy import wrap

ENTRY_POINT_GROUP = "convequiv.adapters"
KERAS_BACKENDS = ("tensorflow", "jax", "torch")
BUILTIN = {
    "torch": "convequiv.adapters.torch_adapter:TorchAdapter",
    "tensorflow": "convequiv.adapters.tensorflow_adapter:TensorFlowAdapter",
    "tf_keras": "convequiv.adapters.tf_keras_adapter:TfKerasAdapter",
    "onnxruntime": "convequiv.adapters.onnxruntime_adapter:OnnxRuntimeAdapter",
    "onnx/reference": "convequiv.adapters.onnx_reference_adapter:OnnxReferenceAdapter",
    "torch/onnx": "convequiv.adapters.torch_onnx_adapter:TorchOnnxAdapter",
}
#: Execution variants of built-in adapters: ``name/variant`` -> the subclass that runs it.
VARIANTS = {
    "torch/compile": "convequiv.adapters.torch_variants:TorchCompileAdapter",
    "torch/channels_last": "convequiv.adapters.torch_variants:TorchChannelsLastAdapter",
    "torch/noncontiguous": "convequiv.adapters.torch_variants:TorchNonContiguousAdapter",
    "torch/no-onednn": "convequiv.adapters.torch_variants:TorchNoOneDnnAdapter",
    "tensorflow/xla": "convequiv.adapters.tensorflow_variants:TensorFlowXlaAdapter",
    "tensorflow/no-onednn": "convequiv.adapters.tensorflow_variants:TensorFlowNoOneDnnAdapter",
    "keras[tensorflow]/jit": "convequiv.adapters.keras_variants:KerasTensorFlowJitAdapter",
    "keras[jax]/jit": "convequiv.adapters.keras_variants:KerasJaxJitAdapter",
    "keras[torch]/jit": "convequiv.adapters.keras_variants:KerasTorchJitAdapter",
    "keras[tensorflow]/onnx": "convequiv.adapters.keras_onnx:KerasTensorFlowOnnxAdapter",
    "jax/eager": "convequiv.adapters.jax_variants:JaxEagerAdapter",
}
#: Environment variables a variant's framework must have read at import.
VARIANT_ENVIRONMENT = {"tensorflow/no-onednn": {"TF_ENABLE_ONEDNN_OPTS": "0"}}
#: What ``convequiv check`` and the test suite run when nothing is selected: every built-in and
#: registered adapter whose framework is installed.
DEFAULT_SPECS = (
    "torch",
    "keras[tensorflow]",
    "keras[jax]",
    "keras[torch]",
    "tensorflow",
    "tf_keras",
    "jax",
    "onnxruntime",
    "onnx/reference",
    "torch/onnx",
)
REQUIRES = {
    "torch": ("torch",),
    "tensorflow": ("tensorflow",),
    "keras[tensorflow]": ("keras", "tensorflow"),
    "keras[jax]": ("keras", "jax"),
    "keras[torch]": ("keras", "torch"),
    "tf_keras": ("tf_keras", "tensorflow"),
    "jax": ("jax",),
    "onnxruntime": ("onnx", "onnxruntime"),
    "onnx/reference": ("onnx",),
    "torch/onnx": ("torch", "onnx", "onnxruntime"),
    "keras[tensorflow]/onnx": ("keras", "tensorflow", "tf2onnx", "onnxruntime"),  # a variant with more needs
}


#: One worker process per remote spec and process, shared by every ``load`` of that spec.
_WORKERS: dict[str, Adapter] = {}


class AdapterError(Exception):
    """An adapter that was asked for is unknown or cannot be imported."""


def installed(spec: str) -> bool:
    """Whether the frameworks a built-in adapter (or a variant of one) needs are importable
    (without importing them)."""
    needs = REQUIRES.get(spec) or REQUIRES.get(spec.rpartition("/")[0], ())
    return all(importlib.util.find_spec(mod) is not None for mod in needs)


def available_specs() -> list[str]:
    """Default adapters whose frameworks are installed, plus every registered entry point."""
    specs = [s for s in DEFAULT_SPECS if installed(s)]
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in specs and (ep.name not in REQUIRES or installed(ep.name)):
            specs.append(ep.name)
    return specs


def import_torch_first() -> None:
    """Import torch before TensorFlow when both are installed (the other order can crash)."""
    if "tensorflow" not in sys.modules and importlib.util.find_spec("torch") is not None:
        import torch  # noqa: F401


def keras_backend_of_this_process() -> str | None:
    """The Keras backend this process uses or will use; ``None`` if still free to choose."""
    if "keras" in sys.modules:
        backend: str = sys.modules["keras"].backend.backend()  # a module attribute: Any
        return backend
    return os.environ.get("KERAS_BACKEND")


def _from_path(path: str) -> type[Adapter]:
    module_name, _, class_name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, class_name)
    except (ImportError, AttributeError) as exc:
        raise AdapterError(f"cannot import adapter {path!r}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise AdapterError(f"{path!r} is not a subclass of convequiv.adapters.base.Adapter")
    return cls


def _instantiate(cls: type[Adapter], spec: str, variant: str | None = None) -> Adapter:
    try:
        if variant is None:
            adapter = wrap(cls())
        else:
            if "variant" not in inspect.signature(cls).parameters:
                raise AdapterError(f"adapter {spec.rpartition('/')[0]!r} has no variants (asked for {spec!r})")
            adapter = wrap(cls(variant=variant))  # type: ignore[call-arg]
    except ImportError as exc:
        raise AdapterError(f"adapter {spec!r} needs a framework that is not installed: {exc}") from exc
    except ValueError as exc:  # a variant the adapter does not know
        raise AdapterError(str(exc)) from exc
    adapter.spec = spec  # type: ignore[attr-defined]  # what selects it again (reproduction lines)
    return adapter


def _load_variant(spec: str) -> Adapter:
    """An execution variant (:data:`VARIANTS`), in a worker process when it needs environment
    variables this process lacks (:data:`VARIANT_ENVIRONMENT`)."""
    base = spec.partition("/")[0]
    if not installed(spec):
        needs = REQUIRES.get(spec) or REQUIRES[base]
        raise AdapterError(f"adapter {spec!r} needs {' and '.join(needs)}, which are not installed")
    if base.startswith("keras["):  # keras[B]/variant: in a process whose Keras backend is B
        return _in_keras_backend(spec, base[len("keras[") : -1], lambda: _instantiate(_from_path(VARIANTS[spec]), spec))
    env = VARIANT_ENVIRONMENT.get(spec, {})
    if any(os.environ.get(k) != v for k, v in env.items()):
        return _worker(spec, env)
    if base == "tensorflow":
        import_torch_first()
    return _instantiate(_from_path(VARIANTS[spec]), spec)


def _worker(spec: str, env: dict[str, str]) -> Adapter:
    """``spec`` in a worker process started with ``env`` (one per spec, started again if it died)."""
    from .remote import RemoteAdapter

    if spec not in _WORKERS or not _WORKERS[spec].alive():  # type: ignore[attr-defined]
        _WORKERS[spec] = RemoteAdapter(spec, env)
    return _WORKERS[spec]


def _in_keras_backend(spec: str, backend: str, make: Callable[[], Adapter]) -> Adapter:
    """``make()`` here if this process uses (or may still choose) the Keras backend ``backend``, else
    ``spec`` in a worker process started with ``KERAS_BACKEND=backend`` (Keras reads it once)."""
    if keras_backend_of_this_process() not in (None, backend):
        return _worker(spec, {"KERAS_BACKEND": backend})
    os.environ["KERAS_BACKEND"] = backend
    if backend in ("tensorflow", "torch"):
        import_torch_first()
    return make()


def load(spec: str) -> Adapter:
    """The adapter named by ``spec`` (see the module docstring); raises :class:`AdapterError`."""
    spec = spec.strip()
    if spec == "keras":
        spec = f"keras[{keras_backend_of_this_process() or 'tensorflow'}]"
    if spec.startswith("keras[") and spec.endswith("]"):
        backend = spec[len("keras[") : -1]
        if backend not in KERAS_BACKENDS:
            raise AdapterError(f"unknown Keras backend in {spec!r}; choose one of {', '.join(KERAS_BACKENDS)}")
        if not installed(spec):
            raise AdapterError(f"adapter {spec!r} needs {' and '.join(REQUIRES[spec])}, which are not installed")

        def make() -> Adapter:
            from .keras_adapter import KerasAdapter

            return _instantiate(KerasAdapter, spec)

        return _in_keras_backend(spec, backend, make)
    if ":" in spec:
        return _instantiate(_from_path(spec), spec)
    if spec in BUILTIN:
        if spec in ("tensorflow", "tf_keras"):
            import_torch_first()
        return _instantiate(_from_path(BUILTIN[spec]), spec)
    if spec in VARIANTS:
        return _load_variant(spec)
    base, _, variant = spec.rpartition("/")
    if base in BUILTIN and any(v.startswith(f"{base}/") for v in VARIANTS):
        known_variants = ", ".join(v for v in VARIANTS if v.startswith(f"{base}/"))
        raise AdapterError(f"unknown variant {spec!r} of adapter {base!r}; known: {known_variants}")
    if base in BUILTIN and variant:  # a variant: "onnxruntime/opset18" is adapter "onnxruntime", variant "opset18"
        if not installed(base):
            raise AdapterError(f"adapter {spec!r} needs {' and '.join(REQUIRES[base])}, which are not installed")
        return _instantiate(_from_path(BUILTIN[base]), spec, variant)
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == spec:
            try:
                cls = ep.load()
            except ImportError as exc:
                raise AdapterError(f"adapter {spec!r} (entry point {ep.value}) cannot be imported: {exc}") from exc
            return _instantiate(cls, spec)
    known = sorted(
        {
            *BUILTIN,
            *VARIANTS,
            *(f"keras[{b}]" for b in KERAS_BACKENDS),
            *(ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)),
        }
    )
    raise AdapterError(f"unknown adapter {spec!r}; known: {', '.join(known)}, or package.module:Class")


__all__ = [
    "DEFAULT_SPECS",
    "ENTRY_POINT_GROUP",
    "SUPPORTED",
    "VARIANTS",
    "Adapter",
    "AdapterError",
    "Plan",
    "Semantics",
    "Supported",
    "Unsupported",
    "UnsupportedCase",
    "available_specs",
    "load",
]
