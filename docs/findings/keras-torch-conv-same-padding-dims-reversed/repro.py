"""Keras (torch backend) before 3.9: strided "same" convolution padding reaches torch in reversed dimension order.

Input 5 x 4, window (3, 2), strides 2: "same" pads the rows by (1, 1) and the columns by (0, 0), and the
output is 3 x 2. Keras built the per-dimension padding list by prepending, so torch received the column
amount for the rows and the row amount for the columns: a 2 x 3 output.
Fixed in Keras 3.9.0 (keras-team/keras#20774).
Exit status 1 while the result differs, 0 once it agrees.
"""

import os
import sys

os.environ["KERAS_BACKEND"] = "torch"

import keras
import numpy as np

KIND = "conv"


def expected(x):
    """The 3 x 2 "same" result computed directly: rows padded (1, 1), windows at rows 0, 2, 4 and columns 0, 2."""
    a = x[0, :, :, 0]
    fill = -np.inf if KIND == "max" else 0.0
    p = np.pad(a, ((1, 1), (0, 0)), constant_values=fill)
    real = np.pad(np.ones_like(a), ((1, 1), (0, 0)))  # 1 on input cells, 0 on padding
    out = np.empty((3, 2))
    for i, r in enumerate((0, 2, 4)):
        for j, c in enumerate((0, 2)):
            win, cnt = p[r : r + 3, c : c + 2], real[r : r + 3, c : c + 2]
            out[i, j] = win.max() if KIND == "max" else win.sum() / (cnt.sum() if KIND == "avg" else 1.0)
    return out


def main():
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}")
    x = np.arange(20, dtype="float32").reshape(1, 5, 4, 1)
    if KIND == "max":
        text, call = (
            "keras.ops.max_pool(x, (3, 2), strides=2, padding='same')",
            lambda: keras.ops.max_pool(x, (3, 2), strides=2, padding="same"),
        )
    elif KIND == "avg":
        text, call = (
            "keras.ops.average_pool(x, (3, 2), strides=2, padding='same')",
            lambda: keras.ops.average_pool(x, (3, 2), strides=2, padding="same"),
        )
    else:
        w = np.ones((3, 2, 1, 1), "float32")
        text, call = (
            "keras.ops.conv(x, ones(3, 2, 1, 1), strides=2, padding='same')",
            lambda: keras.ops.conv(x, w, strides=2, padding="same"),
        )
    want = expected(x)
    try:
        got = keras.ops.convert_to_numpy(call())[0, :, :, 0]
    except Exception as exc:
        print(f"{text} for x = arange(20).reshape(1, 5, 4, 1) raises {type(exc).__name__}: {exc}")
        return 1
    ok = got.shape == want.shape and np.allclose(got, want)
    print(
        f"{text} for x = arange(20).reshape(1, 5, 4, 1) -> shape {got.shape} {got.tolist()}; "
        f"expected {want.shape} {want.tolist()}{'' if ok else '   DIFFERS'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
