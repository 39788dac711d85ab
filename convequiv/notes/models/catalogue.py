"""Every named model: the notes' models (``000-...`` .. ``004-...``) and the classics."""

from __future__ import annotations

import functools

from . import classics, notes_models
from .model import Model


@functools.cache
def _all() -> dict[str, Model]:
    out: dict[str, Model] = {}
    for model in [*notes_models.models(), *classics.models()]:
        if model.name in out:
            raise RuntimeError(f"duplicate model name {model.name!r}")
        out[model.name] = model
    return out


def names() -> list[str]:
    """Model names in catalogue order (notes first, then classics)."""
    return list(_all())


def get(name: str) -> Model:
    """The model called ``name``; ``KeyError`` with the known names otherwise."""
    try:
        return _all()[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(_all())}") from None


def all_models() -> list[Model]:
    return list(_all().values())
