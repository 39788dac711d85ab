"""Keras (torch backend) before 3.9: "same" pooling pads by a negative amount when the stride exceeds the window.

Window 1, stride 3 over 5 samples: "same" gives ceil(5 / 3) = 2 windows at samples 0 and 3 and needs no
padding. Keras computed the padding as k - 1 - (n - 1) % s = -1 without clamping it at zero, cropped the
first sample and returned samples 1 and 4; over 6 samples the amount is -2, split (-1, -1), which torch
refuses ("padding must be non-negative"). Fixed in Keras 3.9.0 (keras-team/keras#20774).
Exit status 1 while any result differs, 0 once all agree.
"""

import os
import sys

os.environ["KERAS_BACKEND"] = "torch"

import keras
import numpy as np


def main():
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}")
    bad = 0
    for n in (5, 6):
        x = np.arange(n, dtype="float32").reshape(1, n, 1)
        want = x[0, ::3, 0]  # windows of one sample at 0 and 3
        for name in ("max_pool", "average_pool"):
            try:
                got = keras.ops.convert_to_numpy(getattr(keras.ops, name)(x, 1, strides=3, padding="same"))[0, :, 0]
            except Exception as exc:
                got = f"raises {type(exc).__name__}: {str(exc).splitlines()[0][:80]}"
            ok = isinstance(got, np.ndarray) and np.array_equal(got, want)
            bad += not ok
            print(
                f"keras.ops.{name}(arange({n}), 1, strides=3, padding='same') -> {got}; expected {want}"
                f"{'' if ok else '   DIFFERS'}"
            )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
