"""Architectures as data: layer descriptions, the reference's shapes and parameter counts, tables.

* :mod:`~convequiv.notes.models.layers` and :mod:`~convequiv.notes.models.model`: the descriptions (frozen
  dataclasses, no framework imports);
* :mod:`~convequiv.notes.models.infer`: per-layer output shapes and parameter counts (Keras and PyTorch
  conventions) from :mod:`convequiv.reference`;
* :mod:`~convequiv.notes.models.plan_keras`, :mod:`~convequiv.notes.models.plan_torch`: which framework layers a
  description becomes; :mod:`~convequiv.notes.models.build_keras`, :mod:`~convequiv.notes.models.build_torch`
  build them (frameworks imported lazily);
* :mod:`~convequiv.notes.models.catalogue`: the notes' models and the classics;
* :mod:`~convequiv.notes.models.render`: tables as Keras 3, Keras 2, torchsummary, Markdown, JSON;
* :mod:`~convequiv.notes.models.check`: framework-built models against the reference and the notes.
"""

from .catalogue import all_models, get, names
from .infer import DescriptionError, LayerInfo, ModelInfo, infer
from .model import Model

__all__ = ["DescriptionError", "LayerInfo", "Model", "ModelInfo", "all_models", "get", "infer", "names"]
