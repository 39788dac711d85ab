"""PyTorch CPU (oneDNN, AVX-512): the input gradient of conv_transpose2d/3d is wrong when the input is
channels-last, its innermost spatial size is 1, the output has one channel and the stride along that
innermost dimension is > 1.

x: (N=4, C=2, H=15, W=1) in torch.channels_last, w: (C=2, O=1, 1, 3), stride (1, 2). The gradient of
x is the convolution of dy with w, stride (1, 2): dx[n, c, h, 0] = sum_j dy[n, 0, h, j] * w[c, 0, 0, j].
oneDNN's brgemm kernel (``brg_conv_fwd:avx512_core``, deconvolution backward_data, nhwc) reads the
wrong rows of dy for every row after the first. The forward and the weight gradient are right, and so
is everything with x in the default (contiguous) memory format.

Exit status 1 while the bug is there, 0 once the gradient is right, 77 on a CPU without AVX-512
(oneDNN then takes another kernel, which is right).
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
x = rng.standard_normal((4, 2, 15, 1)).astype(np.float32)
w = rng.standard_normal((2, 1, 1, 3)).astype(np.float32)
dy = rng.standard_normal((4, 1, 15, 3)).astype(np.float32)  # y: (4, 1, 15, (1 - 1) * 2 + 3)

# Expected: dx[n, c, h] = sum_j dy[n, 0, h, j] * w[c, 0, 0, j]  (float64)
expected = np.einsum("nhj,cj->nch", dy[:, 0].astype(np.float64), w[:, 0, 0].astype(np.float64))[..., None]


def input_gradient(memory_format):
    xt = torch.from_numpy(x).contiguous(memory_format=memory_format).requires_grad_()
    y = F.conv_transpose2d(xt, torch.from_numpy(w), stride=(1, 2))
    assert tuple(y.shape) == dy.shape
    y.backward(torch.from_numpy(dy))
    return xt.grad.numpy().astype(np.float64)


bug = False
for name, fmt in (("contiguous", torch.contiguous_format), ("channels_last", torch.channels_last)):
    got = input_gradient(fmt)
    err = np.abs(got - expected).max()
    print(f"{name:13s} dx[0, 0, :6, 0] = {np.round(got[0, 0, :6, 0], 4).tolist()}   max |error| {err:.3g}")
    if err > 1e-4:
        bug = True
print(f"expected      dx[0, 0, :6, 0] = {np.round(expected[0, 0, :6, 0], 4).tolist()}")
sys.exit(1 if bug else 0)
