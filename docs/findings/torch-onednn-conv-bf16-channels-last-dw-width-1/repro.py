"""PyTorch CPU (oneDNN, AVX-512 BF16): the bfloat16 weight gradient of conv2d / conv3d with channels-last
tensors reads uninitialized memory when the output width is 1, reached through padding and a stride > 1
along the width, with two or more input channels.

x: (N=3, C=2, H=4, W=1), w: (O=1, C=2, 2, 2), stride (1, 2), padding 1 -> y (3, 1, 5, 1). oneDNN's
``jit_bf16:avx512_core_bf16`` backward_weights returns values like 1e+21 or 3e+09 for some elements of dw
(or a few units off), different from run to run; the float32 gradient and contiguous tensors are right.

Each trial draws new inputs; the script exits 1 when any trial's dw is off the float64 value by more than
1.0 (bfloat16 rounding of these sums stays below 0.1), 0 when every trial is right, 77 on a CPU without
AVX-512 (oneDNN then takes another kernel; PyTorch reports AVX-512 BF16 machines as "AVX512").
"""

import sys

import numpy as np
import torch
import torch.nn.functional as F

capability = torch.backends.cpu.get_cpu_capability()
print(f"torch {torch.__version__}, CPU capability {capability}")
if capability not in ("AVX512", "AVX512_BF16", "AVX512_FP16"):
    print("this CPU has no AVX-512: the affected oneDNN kernel does not run here")
    sys.exit(77)

rng = np.random.default_rng(0)
worst = 0.0
for trial in range(20):
    x = rng.standard_normal((3, 2, 4, 1)).astype(np.float32)
    w = rng.standard_normal((1, 2, 2, 2)).astype(np.float32)
    dy = rng.standard_normal((3, 1, 5, 1)).astype(np.float32)
    # Expected dw in float64, from the bfloat16-rounded inputs the kernel sees.
    xr, wr, dyr = (torch.from_numpy(a).to(torch.bfloat16).double() for a in (x, w, dy))
    wr.requires_grad_()
    F.conv2d(xr, wr, stride=(1, 2), padding=1).backward(dyr)
    xt = torch.from_numpy(x).to(torch.bfloat16).to(memory_format=torch.channels_last)
    wt = torch.from_numpy(w).to(torch.bfloat16).to(memory_format=torch.channels_last).requires_grad_()
    F.conv2d(xt, wt, stride=(1, 2), padding=1).backward(torch.from_numpy(dy).to(torch.bfloat16))
    diff = (wt.grad.double() - wr.grad).abs()
    err = diff.max().item() if torch.isfinite(diff).all() else float("inf")  # NaN garbage counts too
    worst = max(worst, err)
    if err > 1.0:
        print(f"trial {trial}: dw {wt.grad.double().ravel().tolist()}")
        print(f"        expected {np.round(wr.grad.ravel().numpy(), 4).tolist()}")
        break
print(f"largest |dw error| over the trials: {worst:.3g}")
sys.exit(1 if worst > 1.0 else 0)
