"""TensorFlow max pooling: a window whose taps are all -inf returns the lowest finite float, not -inf.

MaxPool and MaxPool3D start every window at the lowest finite value of the dtype and keep a tap only when
it is strictly greater, so a window holding nothing above -inf (all -inf, or -inf and NaN, which max
pooling skips) keeps that starting value. The maximum of {-inf, -inf} is -inf.
Exit status 1 while any window of -inf returns something else, 0 once all return -inf.
"""

import sys

import numpy as np
import tensorflow as tf

inf, nan = np.inf, np.nan


def main():
    print(f"tensorflow {tf.__version__}")
    cases = [
        # (call, input, expected): one window of two taps, VALID, NWC / NHWC / NDHWC layouts
        ("tf.nn.max_pool1d(x, 2, 2, 'VALID')", lambda x: tf.nn.max_pool1d(x, 2, 2, "VALID"), [-inf, -inf], -inf),
        ("tf.nn.max_pool1d(x, 2, 2, 'VALID')", lambda x: tf.nn.max_pool1d(x, 2, 2, "VALID"), [-inf, nan], -inf),
        (
            "tf.nn.max_pool3d(x, [1, 1, 2], [1, 1, 2], 'VALID')",  # MaxPool3D: float32 only
            lambda x: tf.nn.max_pool3d(tf.reshape(x, (1, 1, 1, 2, 1)), [1, 1, 2], [1, 1, 2], "VALID"),
            [-inf, -inf],
            -inf,
        ),
    ]
    bad = 0
    for dtype in (np.float32, np.float64):
        for text, call, values, want in cases:
            if "3d" in text and dtype == np.float64:
                continue  # MaxPool3D has no float64 kernel
            x = np.array(values, dtype).reshape(1, 2, 1)
            got = float(np.asarray(call(tf.constant(x))).ravel()[0])
            ok = got == want
            bad += not ok
            print(
                f"{text} of {values} ({np.dtype(dtype).name}) -> {got!r}, expected {want!r}{'' if ok else '   DIFFERS'}"
            )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
