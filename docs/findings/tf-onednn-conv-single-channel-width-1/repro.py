"""TensorFlow's float32 (oneDNN) conv2d returns wrong values, partly read from outside the input.

One input channel, one output channel, a kernel 2 wide, stride (1, 3) on a width-2 input (output width 1):
the second output row reads the third input row, and the last output row reads memory past the input
(0.0 or garbage such as 4.6e+24, changing between calls). float64 (Eigen) is right.
Exit status 1 while the float32 result differs, 0 once it agrees.
"""

import sys

import numpy as np
import tensorflow as tf


def main():
    print(f"tensorflow {tf.__version__}")
    x = np.arange(1, 13, dtype=np.float32).reshape(2, 3, 2, 1)  # N=2, H=3, W=2, C=1
    w = np.ones((1, 2, 1, 1), np.float32)  # kernel 1 x 2
    want = x[..., 0].sum(axis=-1)  # each output row sums its input row's two taps
    bad = 0
    for dtype in (np.float32, np.float64):
        got = np.asarray(tf.nn.conv2d(x.astype(dtype), w.astype(dtype), [1, 3], "VALID"))[..., 0, 0]
        ok = np.array_equal(got, want)
        bad += not ok
        print(
            f"{np.dtype(dtype).name}: tf.nn.conv2d(x (2, 3, 2, 1), ones (1, 2, 1, 1), strides [1, 3], 'VALID') -> "
            f"{got.tolist()}; expected {want.tolist()}{'' if ok else '   DIFFERS'}"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
