"""TensorFlow: after 32 forward-mode derivatives of SpaceToBatchND in one process, the next fails.

tf.autodiff.ForwardAccumulator computes an op's JVP with a traced helper function (forwardprop.py,
_jvp_dispatch): exact input shapes for the first 32 traces per op type (_TRACE_COUNT_LIMIT), relaxed
shapes (reduce_retracing=True) afterwards. A relaxed trace of SpaceToBatchND, whose block_shape input
had different lengths before (1-D and 2-D pools), gets block_shape of shape [?]; the gradient it
differentiates (BatchToSpaceND) needs its static length and the trace fails:
"ValueError: block_shape must have known size". tf.nn.pool with a dilation runs through
SpaceToBatchND (with_space_to_batch), so its JVP stops working for good once a process has taken
32 such JVPs of differently shaped inputs; every one of them, and each later call alone, works.

Exit status 1 while a JVP of call 33 or later fails, 0 once all 80 calls give the right JVP.
"""

import sys

import numpy as np
import tensorflow as tf

print(f"tensorflow {tf.__version__}")


def jvp(x, tangent, nd):
    with tf.autodiff.ForwardAccumulator(x, tangent) as accumulator:
        y = tf.nn.pool(x, [1] * nd, "MAX", padding="VALID", dilations=[2] * nd)  # a window of 1: y = x
    return accumulator.jvp(y)


calls = 0
for width in range(3, 43):
    for nd in (1, 2):
        shape = (1,) + (width,) * nd + (2,)
        x = tf.constant(np.arange(np.prod(shape), dtype=np.float32).reshape(shape))
        tangent = tf.constant(np.full(shape, 0.5, np.float32))
        calls += 1
        try:
            got = jvp(x, tangent, nd).numpy()
        except ValueError as exc:
            print(f"call {calls} ({nd}-D, input {shape}) fails: {str(exc).splitlines()[0][:160]}")
            sys.exit(1)
        if not np.array_equal(got, tangent.numpy()):  # a window of one cell: the JVP is the tangent itself
            print(f"call {calls} ({nd}-D, input {shape}): wrong JVP")
            sys.exit(1)
print(f"all {calls} JVPs right")
sys.exit(0)
