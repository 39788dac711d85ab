"""Keras (TensorFlow backend) before 3.15: depthwise_conv with strides and dilation returns another convolution.

Input 11 x 9, kernel 3 x 3, strides 2, dilation 2, "same": the dilated window spans 5, the output is
ceil(11 / 2) x ceil(9 / 2) = 6 x 5, each value the sum of the 3 x 3 dilated taps. Keras handed strides and
dilation together to tf.nn.depthwise_conv2d, which does not support the combination (it warns and
returns a 5 x 5 result). Fixed in Keras 3.15.0 (keras-team/keras#23027, issue #22515), which runs the
dilated convolution at stride 1 and subsamples.
Exit status 1 while the result differs, 0 once it agrees.
"""

import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"

import keras
import numpy as np


def main():
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}")
    x = np.arange(99, dtype="float32").reshape(1, 11, 9, 1)
    k = np.ones((3, 3, 1, 1), "float32")
    p = np.pad(x[0, :, :, 0], 2)  # "same" for span 5 and stride 2: pads (2, 2) on both axes here
    want = np.array([[p[2 * i : 2 * i + 5 : 2, 2 * j : 2 * j + 5 : 2].sum() for j in range(5)] for i in range(6)])
    try:
        got = keras.ops.convert_to_numpy(keras.ops.depthwise_conv(x, k, strides=2, padding="same", dilation_rate=2))[
            0, :, :, 0
        ]
    except Exception as exc:
        print(f"keras.ops.depthwise_conv raises {type(exc).__name__}: {exc}")
        return 1
    ok = got.shape == want.shape and np.allclose(got, want)
    print(
        f"keras.ops.depthwise_conv(arange(99).reshape(1, 11, 9, 1), ones(3, 3, 1, 1), strides=2, padding='same', "
        f"dilation_rate=2) -> shape {got.shape}; expected {want.shape}{'' if ok else '   DIFFERS'}"
    )
    if not ok:
        print(f"  got      {got.tolist()}\n  expected {want.tolist()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
