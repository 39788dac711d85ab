"""tf.nn.depthwise_conv2d with dilations > 1 and strides > 1 computes another convolution.

The documentation says strides must be 1 when a dilation rate is above 1, but the op does not refuse the
combination: it logs a warning and applies the stride inside its space_to_batch decomposition, which
returns a result of another shape with values of neither the strided nor the dilated convolution.
(tf.nn.conv2d takes both and is right; tf.nn.convolution refuses them.) The expected values below are the
dilated convolution sampled at the stride, computed directly.
Exit status 1 while the result differs, 0 once it agrees (or the call raises: a refusal is fine too).
"""

import sys

import numpy as np
import tensorflow as tf


def main():
    print(f"tensorflow {tf.__version__}")
    x = np.arange(1 * 9 * 10 * 1, dtype=np.float32).reshape(1, 9, 10, 1)
    w = np.ones((3, 3, 1, 1), np.float32)
    stride, rate = 2, 2
    span = rate * (3 - 1) + 1
    a = x[0, :, :, 0]
    want = np.array(
        [
            [a[i : i + span : rate, j : j + span : rate].sum() for j in range(0, a.shape[1] - span + 1, stride)]
            for i in range(0, a.shape[0] - span + 1, stride)
        ]
    )
    try:
        got = np.asarray(tf.nn.depthwise_conv2d(x, w, [1, stride, stride, 1], "VALID", dilations=[rate, rate]))
    except (ValueError, tf.errors.InvalidArgumentError) as exc:
        print(f"depthwise_conv2d refuses strides and dilations together: {type(exc).__name__}: {exc}")
        return 0
    got = got[0, :, :, 0]
    ok = got.shape == want.shape and np.allclose(got, want)
    print(
        f"tf.nn.depthwise_conv2d(x (1, 9, 10, 1), ones (3, 3, 1, 1), strides [1, 2, 2, 1], 'VALID', "
        f"dilations=[2, 2]) -> shape {got.shape}\n  {got.tolist()}\nexpected shape {want.shape}\n  "
        f"{want.tolist()}{'' if ok else '   DIFFERS'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
