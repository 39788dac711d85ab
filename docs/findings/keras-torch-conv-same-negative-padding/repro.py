"""Keras (torch backend) before 3.9: a strided "same" convolution pads by a negative amount.

Kernel 1, stride 3 over 5 samples: "same" needs no padding and the outputs are samples 0 and 3. Keras
computed d (k - 1) - (n - 1) % s = -1 without clamping, cropped the first sample with F.pad and returned
samples 1 and 4; over 6 samples the amount is -2, split (-1, -1), which torch's conv refuses ("negative
padding is not supported"). Fixed in Keras 3.9.0 (keras-team/keras#20774).
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
    w = np.ones((1, 1, 1), "float32")  # kernel 1, one input and one output channel
    for n in (5, 6):
        x = np.arange(n, dtype="float32").reshape(1, n, 1)
        want = x[0, ::3, 0]
        try:
            got = keras.ops.convert_to_numpy(keras.ops.conv(x, w, strides=3, padding="same"))[0, :, 0]
        except Exception as exc:
            got = f"raises {type(exc).__name__}: {str(exc).splitlines()[0][:80]}"
        ok = isinstance(got, np.ndarray) and np.array_equal(got, want)
        bad += not ok
        print(
            f"keras.ops.conv(arange({n}), ones(1, 1, 1), strides=3, padding='same') -> {got}; expected {want}"
            f"{'' if ok else '   DIFFERS'}"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
