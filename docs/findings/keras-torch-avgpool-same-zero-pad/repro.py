"""Keras (torch backend) 3.0 to 3.4: "same" average pooling appends a zero on the wrong axis.

Input 3 x 4, window 2, strides 2: "same" pads the rows by (0, 1) and the columns by (0, 0); the output is
2 x 2 and the last row's windows average one real row. Keras 3.0-3.4 pooled with the smaller half of
the padding and appended one zero with F.pad for the uneven dimensions, building the F.pad list so that
the zero went to the last axis (columns) instead: a 1 x 2 output. Fixed in Keras 3.5.0
(keras-team/keras#19979, issue #19721).
Exit status 1 while the result differs, 0 once it agrees.
"""

import os
import sys

os.environ["KERAS_BACKEND"] = "torch"

import keras
import numpy as np


def main():
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}")
    x = np.arange(12, dtype="float32").reshape(1, 3, 4, 1)
    a = x[0, :, :, 0]
    want = np.array([[a[i : i + 2, j : j + 2].mean() for j in (0, 2)] for i in (0, 2)])  # a[2:4] is one row
    try:
        got = keras.ops.convert_to_numpy(keras.ops.average_pool(x, 2, strides=2, padding="same"))[0, :, :, 0]
    except Exception as exc:
        print(f"keras.ops.average_pool raises {type(exc).__name__}: {exc}")
        return 1
    ok = got.shape == want.shape and np.allclose(got, want)
    print(
        f"keras.ops.average_pool(arange(12).reshape(1, 3, 4, 1), 2, strides=2, padding='same') -> "
        f"shape {got.shape} {got.tolist()}; expected {want.shape} {want.tolist()}{'' if ok else '   DIFFERS'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
