"""TensorFlow under XLA (tf.function(jit_compile=True)) sends a 2-D max-pool window's gradient to another tie.

Eager TensorFlow (MaxPoolGrad's CPU kernel) gives each window's gradient to the first maximum in row-major
order, as JAX's compiled max-pool gradient does; inside tf.function(jit_compile=True) (Keras' fit with
jit_compile=True) tf2xla's lowering gives it to another tied maximum, so the same model trains differently
with and without XLA. Exit status 1 while the two paths differ, 0 once they agree.
"""

import sys

import numpy as np
import tensorflow as tf


def gradient(x, jit):
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.nn.max_pool2d(x, 3, 2, "SAME")
        return tape.gradient(y, x)

    fn = tf.function(step, jit_compile=True) if jit else step
    return np.asarray(fn(tf.constant(x)))[0, :, :, 0]


def main():
    print(f"tensorflow {tf.__version__}")
    x = np.array([[1.0, 1.0, 0.0, 1.0, 2.0, 1.0], [1.0, 2.0, 2.0, 2.0, 1.0, 2.0]], np.float32).reshape(1, 2, 6, 1)
    eager, xla = gradient(x, False), gradient(x, True)
    print("x =", x[0, :, :, 0].tolist())
    print("d sum(max_pool2d(x, 3, 2, 'SAME')) / dx, eager:", eager.tolist())
    print("                         jit_compile=True:", xla.tolist())
    same = np.array_equal(eager, xla)
    print("agree" if same else "DIFFER: the XLA gradient of the window over columns 2-4 goes to x[1, 2], not x[0, 4]")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
