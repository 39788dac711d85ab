"""Optional frameworks, imported only on request and in a safe order.

``load("torch")`` / ``load("keras")`` / ``load("tensorflow")`` return the module, or ``None`` when it
is not installed (or its import is blocked). PyTorch is always imported before TensorFlow or
Keras when it is installed (:func:`convequiv.adapters.import_torch_first`: the other order can
crash a process that uses both).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
from types import ModuleType

from convequiv.adapters import import_torch_first

FRAMEWORKS = ("torch", "tensorflow", "keras")


@functools.cache
def _import(name: str) -> ModuleType | None:
    if name in ("tensorflow", "keras"):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
        os.environ.setdefault("AUTOGRAPH_VERBOSITY", "0")
    try:
        module = importlib.import_module(name)
    except ImportError:
        return None
    if name == "tensorflow":
        module.get_logger().setLevel("ERROR")
        module.autograph.set_verbosity(0)
    return module


def load(name: str) -> ModuleType | None:
    """The framework module, or ``None`` when it cannot be imported."""
    if name not in FRAMEWORKS:
        raise ValueError(f"unknown framework {name!r}; known: {', '.join(FRAMEWORKS)}")
    if name != "torch":
        with contextlib.suppress(ImportError):  # torch may be absent, or its import blocked
            import_torch_first()
    return _import(name)


def keras_backend() -> str | None:
    """The Keras backend this process uses (``None`` when Keras is not installed)."""
    keras = load("keras")
    return keras.backend.backend() if keras is not None else None


def describe(name: str) -> str:
    """``torch 2.13.0`` / ``keras 3.15.1 (tensorflow backend)`` / ``torch: not installed``."""
    module = load(name)
    if module is None:
        return f"{name}: not installed"
    text = f"{name} {getattr(module, '__version__', '?')}"
    if name == "keras":
        text += f" ({keras_backend()} backend)"
    return text


def requested_backend() -> str:
    """The Keras backend a fresh import would use (``KERAS_BACKEND``, default tensorflow)."""
    return os.environ.get("KERAS_BACKEND", "tensorflow")
