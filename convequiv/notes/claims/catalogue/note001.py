"""The claims of note 001 (Jupyter notebook, TensorFlow and PyTorch)."""

from __future__ import annotations

from ..deciders import geometry, listings, models
from ..model import Claim
from .verdicts import C, H, W

CLAIMS: tuple[Claim, ...] = (
    Claim(
        "n001-weight-sharing",
        "001",
        "L17-19",
        "하나의 공유하는 filter",
        "An MLP has a weight per pixel, growing with the image; a convolution shares one filter, so its parameter "
        "count does not grow.",
        H,
        models.weight_sharing,
    ),
    Claim(
        "n001-cnn-param-26",
        "001",
        "L51-53",
        "",
        "cnn_param(28, 3, 0, 1) = 26: a 3x3 filter, no padding, stride 1 on 28.",
        H,
        geometry.cnn_param_value(28, 3, 0, 1, 26.0),
    ),
    Claim(
        "n001-cnn-param-28",
        "001",
        "L60-62",
        "",
        "cnn_param(28, 3, 1, 1) = 28: padding 1 keeps 28.",
        H,
        geometry.cnn_param_value(28, 3, 1, 1, 28.0),
    ),
    Claim(
        "n001-cnn-param-float",
        "001",
        "L41-48",
        "",
        "cnn_param computes the convolution's output size.",
        C,
        geometry.cnn_param_float,
        "when S divides W - F + 2P; it returns 13.5 for (28, 3, 0, 2) where the frameworks give 13",
    ),
    Claim(
        "n001-padding-preserves",
        "001",
        "L55",
        "결과값의 사이즈를 보존",
        "With padding the convolution keeps the input size.",
        C,
        geometry.padding_preserves,
        "only at stride 1 with P = (F - 1) / 2 for an odd filter size F",
    ),
    Claim(
        "n001-listing-cnn-param",
        "001",
        "L41-62",
        "",
        "The cnn_param cells run and print 26.0 and 28.0.",
        H,
        listings.cnn_param,
    ),
    Claim(
        "n001-keras-summary",
        "001",
        "L95-112",
        "",
        "The Keras convnet's summary: (26, 26, 32) 320, (13, 13, 32) 0, (11, 11, 64) 18,496, (5, 5, 64) 0, "
        "(3, 3, 64) 36,928; 55,744 parameters, all trainable.",
        H,
        models.model_numbers("001-keras-convnet"),
    ),
    Claim(
        "n001-listing-keras-sequential",
        "001",
        "L77-93",
        "",
        "The tf.keras Sequential cells run and reproduce the printed summary's numbers.",
        H,
        listings.keras_sequential,
    ),
    Claim(
        "n001-listing-keras-subclass",
        "001",
        "L115-131",
        "",
        "The subclassed tf.keras CNN can be built.",
        W,
        listings.keras_subclass,
    ),
    Claim(
        "n001-listing-torch",
        "001",
        "L136-167",
        "",
        "The PyTorch CNN runs on 1x28x28 inputs (61,514 parameters).",
        H,
        listings.torch_cnn,
    ),
    Claim(
        "n001-torch-fc-576",
        "001",
        "L158",
        "",
        "Linear(3 * 3 * 64, 10) matches the feature maps after three 2x2 poolings of a 28x28 input.",
        H,
        models.torch_fc_576,
    ),
)
