"""Architectures as data: layer descriptions, the reference's shapes and parameter counts, tables.

* :mod:`~convequiv.models.layers` and :mod:`~convequiv.models.model`: the descriptions (frozen
  dataclasses, no framework imports);
* :mod:`~convequiv.models.infer`: per-layer output shapes and parameter counts (Keras and PyTorch
  conventions) from :mod:`convequiv.reference`;
* :mod:`~convequiv.models.plan_keras`, :mod:`~convequiv.models.plan_torch`: which framework layers a
  description becomes; :mod:`~convequiv.models.build_keras`, :mod:`~convequiv.models.build_torch`
  build them (frameworks imported lazily);
* :mod:`~convequiv.models.catalogue`: the notes' models and the classics;
* :mod:`~convequiv.models.render`: tables as Keras 3, Keras 2, torchsummary, Markdown, JSON;
* :mod:`~convequiv.models.check`: framework-built models against the reference and the notes.
"""

from .catalogue import all_models, get, names
from .infer import DescriptionError, LayerInfo, ModelInfo, infer
from .model import Model

__all__ = ["DescriptionError", "LayerInfo", "Model", "ModelInfo", "all_models", "get", "infer", "names"]
