"""TensorFlow's float32 (oneDNN) conv2d returns wrong values, partly read from outside the input.

One input channel, one output channel, a kernel 2 wide, stride (1, 3) on a width-2 input (output width 1):
the second output row reads the third input row, and the last output row reads memory past the input
(0.0 or garbage such as 4.6e+24, changing between calls). float64 (Eigen) is right.
Exit status 1 while the float32 result differs, 0 once it agrees; 77 on a CPU without AVX-512, where
oneDNN picks another kernel (the bug was seen on an AVX-512 AMD EPYC; an AVX2 one computes it right).
"""

import os
import sys

import numpy as np

# The bug is in the oneDNN kernel. Unset, TensorFlow turns oneDNN on only on some x86-64 CPUs (those
# with AVX-512 VNNI / BF16 or AMX); set before the import, it is on everywhere.
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"

import tensorflow as tf

#: Exit status of a machine that cannot run the affected kernel (the test of the findings skips it).
CANNOT_RUN_HERE = 77


def avx512() -> bool:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return "avx512f" in cpuinfo.read()
    except OSError:
        return False


def main():
    print(f"tensorflow {tf.__version__}")
    if not avx512():  # oneDNN's AVX2 convolution is right: seen on an AVX2-only CPU with oneDNN on
        print("this CPU has no AVX-512: oneDNN runs another convolution kernel, which is right")
        return CANNOT_RUN_HERE
    x = np.arange(1, 13, dtype=np.float32).reshape(2, 3, 2, 1)  # N=2, H=3, W=2, C=1
    w = np.ones((1, 2, 1, 1), np.float32)  # kernel 1 x 2
    want = x[..., 0].sum(axis=-1)  # each output row sums its input row's two taps
    bad = 0
    for dtype in (np.float32, np.float64):
        got = np.asarray(tf.nn.conv2d(x.astype(dtype), w.astype(dtype), [1, 3], "VALID"))[..., 0, 0]
        ok = np.array_equal(got, want)
        bad += not ok
        print(
            f"{np.dtype(dtype).name}: tf.nn.conv2d(x (2, 3, 2, 1), ones (1, 2, 1, 1), strides [1, 3], 'VALID') -> "
            f"{got.tolist()}; expected {want.tolist()}{'' if ok else '   DIFFERS'}"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
