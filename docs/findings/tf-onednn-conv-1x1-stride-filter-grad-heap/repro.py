"""TensorFlow CPU (oneDNN): the filter gradient of a strided 1x1 convolution with few channels corrupts
the heap when the stride leaves the last input row and column unread.

x: (1, 10, 10, 2) NHWC, w: (1, 1, 2, 3), strides 2, VALID (output 5 x 5: rows and columns 0, 2, ..., 8
are read, 9 is not). tf.GradientTape's gradient with respect to w runs Conv2DBackpropFilter, which
oneDNN executes as jit_1x1:avx512_core backward_weights; repeated a few hundred times in one process it
ends in "corrupted size vs. prev_size", "munmap_chunk(): invalid pointer" or a segmentation fault
(glibc's MALLOC_CHECK_=3 makes the detection prompt). TF_ENABLE_ONEDNN_OPTS=0 runs it 2,000 times cleanly.

The loop runs in a child process, since a corrupted heap kills it. Exit status 1 while the child dies of
a signal (or of glibc's abort), 0 once it completes, 77 where TensorFlow runs without oneDNN (its default on
CPUs without AVX-512 VNNI, BF16 or AMX).
"""

import os
import signal
import subprocess
import sys

CHILD = """
import sys
import numpy as np, tensorflow as tf
from tensorflow.python.util import _pywrap_util_port
if not _pywrap_util_port.IsMklEnabled():  # TensorFlow's own switch: off on CPUs without AVX-512 VNNI / BF16 / AMX
    print("oneDNN is off in this TensorFlow process (this CPU, or TF_ENABLE_ONEDNN_OPTS=0): the kernel does not run")
    sys.exit(77)
rng = np.random.default_rng(0)
for i in range(2000):
    x = tf.constant(rng.standard_normal((1, 10, 10, 2)).astype(np.float32))
    w = tf.constant(rng.standard_normal((1, 1, 2, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(w)
        y = tf.nn.conv2d(x, w, 2, "VALID")
    tape.gradient(y, w)
    junk = [np.ones(int(n)) for n in rng.integers(1, 3000, 5)]  # ordinary allocations between calls
print("completed 2000 filter gradients")
"""

env = {**os.environ, "MALLOC_CHECK_": "3", "OMP_NUM_THREADS": "1"}
done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env)
glibc = [line for line in done.stderr.splitlines() if "corrupted" in line or "invalid pointer" in line]
print(done.stdout.strip())
if done.returncode == 77:
    sys.exit(77)
if done.returncode < 0 or done.returncode == 134 or glibc:
    name = signal.Signals(-done.returncode).name if done.returncode < 0 else f"status {done.returncode}"
    print(f"the child died ({name}) {glibc[0] if glibc else ''}")
    sys.exit(1)
print(f"the child exited with status {done.returncode}")
sys.exit(0 if done.returncode == 0 else 1)
