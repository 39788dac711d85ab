"""tf.nn.avg_pool over the channel axis returns an empty tensor in float32 (oneDNN).

Depth average pooling (ksize [1, 1, 1, 2], strides [1, 1, 1, 2]) is not implemented by the Eigen kernel,
which says so for float64 ("Non-spatial pooling is not yet supported"). The float32 kernel (oneDNN) accepts
it and returns a tensor of shape (N, 0, 0, C / 2) without error.
Exit status 1 while float32 returns anything but the channel-pair means or a refusal, 0 otherwise.
"""

import os
import sys

import numpy as np

# The bug is in the oneDNN kernel. Unset, TensorFlow turns oneDNN on only on some x86-64 CPUs (those
# with AVX-512 VNNI / BF16 or AMX); set before the import, it is on everywhere.
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"

import tensorflow as tf


def main():
    print(f"tensorflow {tf.__version__}")
    bad = 0
    for dtype in (np.float32, np.float64):
        x = np.arange(2 * 2 * 4, dtype=dtype).reshape(1, 2, 2, 4)  # NHWC, 4 channels
        want = x.reshape(1, 2, 2, 2, 2).mean(axis=-1)  # the mean of channels (0, 1) and (2, 3)
        try:
            got = np.asarray(tf.nn.avg_pool(x, [1, 1, 1, 2], [1, 1, 1, 2], "VALID"))
        except tf.errors.OpError as exc:
            print(f"{np.dtype(dtype).name}: refused: {type(exc).__name__}: {exc.message.splitlines()[0]}")
            continue
        ok = got.shape == want.shape and np.allclose(got, want)
        bad += not ok
        print(
            f"{np.dtype(dtype).name}: tf.nn.avg_pool(x (1, 2, 2, 4), [1, 1, 1, 2], [1, 1, 1, 2], 'VALID') -> "
            f"shape {got.shape}; expected shape {want.shape}{'' if ok else '   DIFFERS'}"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
