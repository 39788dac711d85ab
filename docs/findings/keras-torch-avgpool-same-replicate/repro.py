"""Keras (torch backend) 3.5 and later: "same" average pooling with uneven padding averages replicated edges.

Input [10, 20], window 3, stride 2: "same" gives one window over [10, 20] plus one padding cell, and
average pooling in Keras (as on the TensorFlow and JAX backends) averages the input cells only: 15.
The torch backend pads unevenly padded dimensions with mode="replicate" and pools with
count_include_pad=False, so the copied 20 enters the sum and the divisor: 16.67.
Fixed upstream by keras-team/keras#23233 (merged after 3.15.1; no release with the fix yet).
Exit status 1 while the result differs, 0 once it agrees.
"""

import os
import sys

os.environ["KERAS_BACKEND"] = "torch"

import keras
import numpy as np


def main():
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}")
    bad = 0
    cases = [
        (np.array([10.0, 20.0], "float32").reshape(1, 2, 1), 3, 2, [15.0]),
        # 2-D: 2 x 2 input, window 3, stride 2: one window over the whole input
        (np.array([[1.0, 2.0], [3.0, 8.0]], "float32").reshape(1, 2, 2, 1), 3, 2, [3.5]),
    ]
    for x, k, s, want in cases:
        got = keras.ops.convert_to_numpy(keras.ops.average_pool(x, k, strides=s, padding="same")).ravel()
        ok = np.allclose(got, want)
        bad += not ok
        print(
            f"keras.ops.average_pool({x.ravel().tolist()} of shape {x.shape}, {k}, strides={s}, padding='same') "
            f"-> {got.tolist()}; expected {want} (the mean of the input cells){'' if ok else '   DIFFERS'}"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
