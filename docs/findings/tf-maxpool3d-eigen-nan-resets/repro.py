"""TensorFlow's Eigen float32 MaxPool3D: a NaN resets the window's running maximum.

With oneDNN off (TF_ENABLE_ONEDNN_OPTS=0 here; the default on x86-64 CPUs without AVX-512 VNNI / BF16
or AMX), tf.nn.max_pool3d returns the maximum of the taps after a window's last NaN, or NaN when the
last tap is NaN. The expected value, as MaxPool (1-D / 2-D) and MaxPool3D on oneDNN give it, is the
maximum of the window's numbers (NaN skipped).
Exit status 1 while any window differs, 0 once they agree.
"""

import os
import sys

import numpy as np

os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"  # before the import: TensorFlow's own kernels, on any CPU

import tensorflow as tf


def main():
    print(f"tensorflow {tf.__version__}")
    windows = np.array([[2, np.nan, 1], [1, 2, np.nan], [np.nan, 1, 2]], np.float32)
    x = windows.reshape(1, 1, 1, 9, 1)  # NDHWC: three windows of 3 along W
    got = np.asarray(tf.nn.max_pool3d(x, [1, 1, 3], [1, 1, 3], "VALID")).ravel()
    want = np.nanmax(windows, axis=1)
    print(f"windows {windows.tolist()}")
    print(f"tf.nn.max_pool3d -> {got.tolist()}; expected {want.tolist()}")
    return 0 if np.array_equal(got, want, equal_nan=True) else 1


if __name__ == "__main__":
    sys.exit(main())
