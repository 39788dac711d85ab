"""TensorFlow: the static shape of Conv3D (tf.nn.conv3d, graph mode / tf.function) swaps the height and
width dilations, so a traced function sees a wrong y.shape whenever the two differ.

x: (1, 5, 5, 5, 1) NDHWC, a (2, 2, 2) kernel, dilations (1, 1, 2, 1, 1) (height 2, width 1), VALID:
the computed output is (1, 4, 3, 4, 1) (height 5 - 2 - 1 + 1 = 3; where oneDNN is off, the CPU kernel refuses
the dilation at run time, after tracing); the shape function reports
(1, 4, 4, 3, 1). Conv3DShape in tensorflow/core/framework/common_shape_fns.cc reads
``dilation_cols = dilations[2]; dilation_rows = dilations[3]`` for NDHWC (and [3], [4] for NCDHW),
where index 2 is the height (rows) and 3 the width (cols).

Exit status 1 while the static shape differs from the true one, 0 once they agree.
"""

import sys

import tensorflow as tf

print(f"tensorflow {tf.__version__}")
x = tf.zeros((1, 5, 5, 5, 1))
w = tf.zeros((2, 2, 2, 1, 1))
static = {}


@tf.function
def conv(x, w):
    y = tf.nn.conv3d(x, w, [1, 1, 1, 1, 1], "VALID", dilations=[1, 1, 2, 1, 1])
    static["shape"] = tuple(y.shape)  # what the graph (and everything built on it) believes
    return y


# The true output size per spatial dimension: n - d * (k - 1) (VALID, stride 1): depth 4, height 3, width 4.
expected = (1, 5 - 1 * (2 - 1), 5 - 2 * (2 - 1), 5 - 1 * (2 - 1), 1)
try:
    computed = tuple(conv(x, w).shape)
except tf.errors.InvalidArgumentError as exc:
    # Without oneDNN, TensorFlow's Eigen Conv3D refuses dilations at run time ("CPU implementation of Conv3D
    # currently only supports dilated rates of 1"); the static shape was already inferred during tracing.
    computed = None
    print(f"the traced function does not run here: {str(exc).strip().splitlines()[-2].strip()}")
print(f"static shape   {static['shape']}")
print(f"true shape     {expected}   (computed: {computed})")
sys.exit(1 if static["shape"] != expected else 0)
