"""TensorFlow MaxPoolGrad sends a window's gradient to a leading NaN that the forward pass skipped.

The forward MaxPool skips NaN: max_pool1d of [nan, 1] returns 1.0, the value of the second tap. The
gradient must go to the tap the output came from (d y / d x[1] = 1), but MaxPoolGrad seeds each window's
argmax with its first tap and replaces it only by a strictly greater value, which nothing is compared
with NaN, so the gradient goes to the NaN and the tap that produced the output gets none.
Exit status 1 while the gradient differs, 0 once it goes to the tap the forward returned.
"""

import sys

import numpy as np
import tensorflow as tf

nan = np.nan


def pooled_and_gradient(pool, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = pool(x)
    return np.asarray(y).ravel(), np.asarray(tape.gradient(y, x)).ravel()


def main():
    print(f"tensorflow {tf.__version__}")
    cases = [
        (
            "tf.nn.max_pool1d(x, 2, 2, 'VALID')",
            lambda x: tf.nn.max_pool1d(x, 2, 2, "VALID"),
            np.array([nan, 1.0], np.float32).reshape(1, 2, 1),
        ),
        (
            "tf.nn.max_pool2d(x, 2, 2, 'VALID')",
            lambda x: tf.nn.max_pool2d(x, 2, 2, "VALID"),
            np.array([[nan, 1.0], [2.0, 0.0]], np.float64).reshape(1, 2, 2, 1),
        ),
    ]
    bad = 0
    for text, pool, x in cases:
        y, dx = pooled_and_gradient(pool, x)
        flat = x.ravel()
        # the gradient belongs to the first tap equal to the returned maximum
        want = np.zeros_like(flat)
        want[np.flatnonzero(flat == y[0])[0]] = 1.0
        ok = np.array_equal(dx, want)
        bad += not ok
        print(
            f"{text} of {flat.tolist()} ({x.dtype}) -> y = {y.tolist()}; dy/dx = {dx.tolist()}, "
            f"expected {want.tolist()}{'' if ok else '   DIFFERS'}"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
