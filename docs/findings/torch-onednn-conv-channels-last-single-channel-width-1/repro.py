"""PyTorch CPU (oneDNN, AVX-512): float32 conv3d is wrong for one input channel in channels-last memory
format when the innermost output size is 1, reached with a stride > 1 and a kernel wider than 1 along
that axis.

x: (N=2, C=1, D=4, H=5, W=3), w: (O=1, C=1, 1, 1, 2), stride (1, 1, 2): y has shape (2, 1, 4, 5, 1) and
y[n, 0, d, h, 0] = x[n, 0, d, h, 0] * w[0, 0, 0, 0, 0] + x[n, 0, d, h, 1] * w[0, 0, 0, 0, 1].
``Tensor.to(memory_format=torch.channels_last_3d)`` (what ``model.to(memory_format=...)`` does to the
weight) gives the one-channel tensors channels-last strides; oneDNN's ``brg_conv_fwd:avx512_core`` then
reads the wrong input rows (and memory past the input). With both tensors contiguous the result is right.

Exit status 1 while the bug is there, 0 once the output is right, 77 on a CPU without AVX-512
(oneDNN then takes another kernel).
"""

import sys

import numpy as np
import torch
import torch.nn.functional as F

print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}")
if torch.backends.cpu.get_cpu_capability() not in ("AVX512", "AVX512_BF16", "AVX512_FP16"):
    print("this CPU has no AVX-512: the affected oneDNN kernel does not run here")
    sys.exit(77)

rng = np.random.default_rng(0)
x = rng.standard_normal((2, 1, 4, 5, 3)).astype(np.float32)
w = rng.standard_normal((1, 1, 1, 1, 2)).astype(np.float32)

# Expected (float64): the two taps along W of the first output column.
expected = (x[..., 0:1].astype(np.float64) * w[..., 0] + x[..., 1:2].astype(np.float64) * w[..., 1]).astype(np.float64)

bug = False
channels_last = torch.channels_last_3d
for name, x_fmt, w_fmt in (
    ("both contiguous", None, None),
    ("w channels-last", None, channels_last),
    ("x channels-last", channels_last, None),
):
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    if x_fmt is not None:
        xt = xt.to(memory_format=x_fmt)
    if w_fmt is not None:
        wt = wt.to(memory_format=w_fmt)
    got = F.conv3d(xt, wt, stride=(1, 1, 2)).numpy().astype(np.float64)
    err = np.abs(got - expected).max()
    print(
        f"{name:16s} x strides {xt.stride()}, w strides {wt.stride()}: y[0, 0, 1, :, 0] = "
        f"{np.round(got[0, 0, 1, :, 0], 4).tolist()}   max |error| {err:.3g}"
    )
    bug |= bool(err > 1e-4)
print(f"expected         y[0, 0, 1, :, 0] = {np.round(expected[0, 0, 1, :, 0], 4).tolist()}")
sys.exit(1 if bug else 0)
