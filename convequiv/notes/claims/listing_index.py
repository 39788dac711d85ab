"""Where the notes' code listings are: note, first and last line, and a fingerprint of the text.

Only addresses are kept here; the code itself is read from the notes at run time
(:mod:`convequiv.notes.claims.notes`). The fingerprint (first 12 hex digits of the SHA-256 of the
dedented text) makes a decider refuse to run a listing whose note has changed.
"""

from __future__ import annotations

#: name -> (note, first line, last line, fingerprint)
LISTINGS: dict[str, tuple[str, int, int, str]] = {
    "000-4d-array": ("000", 178, 183, "1951bde03f03"),
    "000-im2col": ("000", 217, 249, "5a2b7465630b"),
    "000-convolution": ("000", 255, 300, "93d2f26ddd65"),
    "000-col2im": ("000", 306, 335, "1799596fcd83"),
    "000-pooling": ("000", 353, 394, "c4c3eaee5854"),
    "000-simpleconvnet": ("000", 408, 543, "fff76756b466"),
    "000-visualisation": ("000", 565, 611, "0bc4833944e3"),
    "001-cnn-param": ("001", 41, 48, "481a0c5a85fe"),
    "001-cnn-param-call-1": ("001", 51, 51, "edd9077dab5f"),
    "001-cnn-param-call-2": ("001", 60, 60, "e6c50f36b575"),
    "001-tf-import": ("001", 77, 77, "6d964a0918ce"),
    "001-keras-sequential": ("001", 80, 86, "cbce25a547f7"),
    "001-keras-summary": ("001", 93, 93, "2c5a4ac9ef08"),
    "001-keras-subclass": ("001", 115, 131, "21096e3b00c7"),
    "001-torch-imports": ("001", 136, 137, "b2a00b6d4adf"),
    "001-torch-cnn": ("001", 140, 167, "116e283ac60f"),
    "002-images": ("002", 20, 25, "fd204e07aef2"),
    "002-images-shape": ("002", 28, 28, "bcba6c128574"),
    "002-conv": ("002", 37, 39, "b444219d5368"),
    "002-weights": ("002", 53, 55, "b5f003187d52"),
    "002-maxpool": ("002", 80, 80, "e5afad321644"),
    "002-depthpool": ("002", 95, 127, "cf02daccaf97"),
    "002-gap": ("002", 134, 134, "7c2aff9d9e21"),
    "002-fashion": ("002", 154, 176, "b55aaf723f4b"),
    "002-split": ("002", 188, 191, "f292192b6c3d"),
    "002-preprocess": ("002", 194, 199, "9e390df0f69a"),
    "002-preprocess-call": ("002", 202, 203, "6fa9d306cbd5"),
    "002-fit": ("002", 206, 207, "2beebce8b511"),
    "003-cnn": ("003", 397, 422, "55b32bc775a0"),
    "003-keras": ("003", 480, 496, "0bfe877a84a6"),
    "004-mnist": ("004", 22, 39, "ae7dc369c85d"),
    "004-cats": ("004", 288, 306, "e8d613de8186"),
    "004-augmentation": ("004", 367, 371, "0155d972a984"),
    "004-augmented-model": ("004", 377, 386, "59780567884d"),
    "004-vgg-base": ("004", 429, 432, "d6d5f704b93f"),
    "004-head": ("004", 471, 483, "1a4d44d7ca44"),
    "004-vgg-frozen-base": ("004", 500, 505, "9f73c21742f0"),
    "004-vgg-frozen-model": ("004", 509, 521, "f19e9d987419"),
    "004-finetune": ("004", 531, 533, "97c6ff104d40"),
}
