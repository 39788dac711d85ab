"""TensorFlow under XLA takes a max-pool window's forward-mode derivative from the wrong tap.

The JVP of tf.nn.max_pool2d (tf.autodiff.ForwardAccumulator, which differentiates MaxPool through
MaxPoolGradGrad) inside tf.function(jit_compile=True) returns the tangent of a tap that is not the window's
maximum when the maximum and that tap round to the same bfloat16 value. Eager TensorFlow returns the
maximum's tangent. Exit status 1 while the compiled JVP is wrong, 0 once it agrees.
"""

import sys

import numpy as np
import tensorflow as tf


def jvp(x, t):
    with tf.autodiff.ForwardAccumulator(x, t) as accumulator:
        y = tf.nn.max_pool2d(x, 2, 2, "VALID")
    return accumulator.jvp(y)


def main():
    print(f"tensorflow {tf.__version__}")
    x = np.array([-0.58552885, 0.50268286, 0.84373266, 0.84407866], np.float32).reshape(1, 2, 2, 1)
    t = np.array([0.6221252, -0.39500988, 0.36456734, 1.3673786], np.float32).reshape(1, 2, 2, 1)
    expected = float(t.reshape(-1)[np.argmax(x.reshape(-1))])  # the tangent at the window's maximum
    eager = float(jvp(tf.constant(x), tf.constant(t)).numpy().reshape(-1)[0])
    xla = float(tf.function(jvp, jit_compile=True)(tf.constant(x), tf.constant(t)).numpy().reshape(-1)[0])
    print("window x =", x.reshape(-1).tolist(), " tangents =", t.reshape(-1).tolist())
    print(f"expected (tangent at the maximum) {expected}, eager {eager}, jit_compile=True {xla}")
    ok = xla == expected
    print("agree" if ok else "DIFFER: the compiled JVP took the tangent of 0.84373266, not of the maximum 0.84407866")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
