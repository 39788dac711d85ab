"""TensorFlow's float64 Conv3D with padding "SAME" shifts its windows where SAME needs no padding.

Six samples, kernel 1, stride 3: the windows start at 0 and 3 and "SAME" pads nothing (the total
(ceil(6 / 3) - 1) * 3 + 1 - 6 = -2 is clamped to 0). The float64 (Eigen) kernel pads by the negative amount
instead and reads samples 1 and 4. The float32 kernel and padding "VALID" are right.
Exit status 1 while float64 differs, 0 once it agrees.
"""

import sys

import numpy as np
import tensorflow as tf


def main():
    print(f"tensorflow {tf.__version__}")
    x = np.arange(1.0, 7.0).reshape(1, 6, 1, 1, 1)  # NDHWC: 6 samples along D
    w = np.ones((1, 1, 1, 1, 1))
    want = x.ravel()[::3]  # samples 0 and 3
    bad = 0
    for dtype in (np.float64, np.float32):
        got = np.asarray(tf.nn.conv3d(x.astype(dtype), w.astype(dtype), [1, 3, 1, 1, 1], "SAME")).ravel()
        ok = np.array_equal(got, want)
        bad += not ok
        print(
            f"{np.dtype(dtype).name}: tf.nn.conv3d(x = {x.ravel().tolist()}, ones (1, 1, 1, 1, 1), "
            f"strides [1, 3, 1, 1, 1], 'SAME') -> {got.tolist()}; expected {want.tolist()}"
            f"{'' if ok else '   DIFFERS'}"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
