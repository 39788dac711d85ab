"""tf.nn.avg_pool with a depth window of 1 and a depth stride of 2 ignores the stride.

Pooling over the channel axis with ksize [1, 1, 1, 1] and strides [1, 1, 1, 2] selects every second
channel (each window averages one channel); TensorFlow returns every channel.
Exit status 1 while the result differs, 0 once it agrees (or the call raises: a refusal is fine too).
"""

import sys

import numpy as np
import tensorflow as tf


def main():
    print(f"tensorflow {tf.__version__}")
    x = np.arange(5, dtype=np.float32).reshape(1, 1, 1, 5)  # NHWC, channels 0..4
    want = x[..., ::2]  # windows of one channel at 0, 2, 4
    try:
        got = np.asarray(tf.nn.avg_pool(x, [1, 1, 1, 1], [1, 1, 1, 2], "VALID"))
    except (ValueError, tf.errors.OpError) as exc:
        print(f"avg_pool refuses the depth stride: {type(exc).__name__}: {exc}")
        return 0
    ok = got.shape == want.shape and np.array_equal(got, want)
    print(
        f"tf.nn.avg_pool(x of channels {x.ravel().tolist()}, [1, 1, 1, 1], [1, 1, 1, 2], 'VALID') -> "
        f"shape {got.shape} {got.ravel().tolist()}; expected {want.shape} {want.ravel().tolist()}"
        f"{'' if ok else '   DIFFERS'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
