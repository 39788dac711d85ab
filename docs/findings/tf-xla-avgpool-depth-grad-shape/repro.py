"""TensorFlow under XLA builds a wrongly shaped gradient for average pooling over channels.

tf.nn.avg_pool with ksize = strides = [1, 1, 1, 4] (a depth window) inside tf.function(jit_compile=True):
the forward result is right, but the gradient of the input has 5 channels instead of 8 (C - k + 1, as if
the depth stride were 1) and the wrong values. The expected gradient of sum(y * dy) spreads each dy over
its 4 channels, 0.25 each. Exit status 1 while the gradient is wrong, 0 once it is right.
"""

import sys

import numpy as np
import tensorflow as tf


def step(x, dy):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.avg_pool(x, [1, 1, 1, 4], [1, 1, 1, 4], "VALID")
    return y, tape.gradient(y, x, output_gradients=dy)


def main():
    print(f"tensorflow {tf.__version__}")
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 8)).astype(np.float32)
    dy = np.ones((2, 3, 5, 2), np.float32)
    y, dx = tf.function(step, jit_compile=True)(tf.constant(x), tf.constant(dy))
    y_expected = x.reshape(2, 3, 5, 2, 4).mean(axis=-1)
    dx_expected = np.repeat(dy / 4, 4, axis=-1)
    print("y: shape", tuple(y.shape), "max |error|", float(np.abs(y.numpy() - y_expected).max()))
    print(
        "dx: shape",
        tuple(dx.shape),
        "expected",
        dx_expected.shape,
        "sum",
        float(tf.reduce_sum(dx)),
        "expected",
        float(dx_expected.sum()),
    )
    ok = tuple(dx.shape) == dx_expected.shape and np.allclose(dx.numpy(), dx_expected)
    print("agree" if ok else "DIFFER: the compiled gradient has the wrong shape or values")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
