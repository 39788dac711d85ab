"""TensorFlow MaxPool3DGrad (CPU) gives the gradient to every tap within 1e-5 of the maximum.

The forward tf.nn.max_pool3d is right. Its gradient is not an argmax: each tap whose value lies within
1e-5 (absolute) of the window's maximum receives the whole upstream gradient, so a tap that is merely
close to the maximum gets a gradient it does not have, the window passes more than dy, and a window whose
maximum is +inf passes nothing (inf - inf is NaN, which is not below 1e-5).
Exit status 1 while any gradient differs, 0 once each window's gradient goes to its maximum only.
"""

import sys

import numpy as np
import tensorflow as tf

inf = np.inf


def main():
    print(f"tensorflow {tf.__version__}")
    bad = 0
    # one window of two taps along the last spatial axis, NDHWC, float32
    for values in ([1.0, 0.999997], [1.0, 0.99999], [inf, 1.0], [0.0, 5e-6]):
        x = tf.constant(np.array(values, np.float32).reshape(1, 1, 1, 2, 1))
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.nn.max_pool3d(x, [1, 1, 2], [1, 1, 2], "VALID")
        dx = np.asarray(tape.gradient(y, x)).ravel()
        v = np.array(values, np.float32)
        want = (np.arange(2) == int(np.argmax(v))).astype(np.float32)  # the values differ: one maximum
        ok = np.array_equal(dx, want)
        bad += not ok
        print(
            f"max_pool3d(x, [1, 1, 2], [1, 1, 2], 'VALID') of {v.tolist()} -> y = "
            f"{np.asarray(y).ravel().tolist()}; dy/dx = {dx.tolist()}, expected {want.tolist()}"
            f"{'' if ok else '   DIFFERS'}"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
