"""PyTorch CPU: the bfloat16 input gradient of a grouped conv_transpose3d is wrong when x has spatial size
1 x 1 x 1 in channels_last_3d strides, one output channel per group and padding.

x: (N=3, C=4, 1, 1, 1), w: (C=4, O/groups=1, 3, 1, 3), groups 2, padding (1, 0, 1). The reference is the
same computation in float64 with contiguous tensors; bfloat16 with contiguous x stays within 0.01 of it
(rounding), bfloat16 with channels-last x is off by more than 1.

Exit status 1 while the bug is there, 0 once the gradient is right, 77 on a CPU without AVX-512 (oneDNN's
bfloat16 kernels there take another path, which is right: 0.0029 on an AVX2-only AMD EPYC with torch 2.13.0).
"""

import sys

import torch
import torch.nn.functional as F

capability = torch.backends.cpu.get_cpu_capability()
print(f"torch {torch.__version__}, CPU capability {capability}")
if capability not in ("AVX512", "AVX512_BF16", "AVX512_FP16"):
    print("this CPU has no AVX-512: the affected oneDNN kernel does not run here")
    sys.exit(77)
torch.manual_seed(0)
x = torch.randn(3, 4, 1, 1, 1)
w = torch.randn(4, 1, 3, 1, 3)
dy = torch.randn(3, 2, 1, 1, 1)  # y: (1 - 1) * 1 + 3 - 2 * 1 = 1 along depth and width, 1 along height


def input_gradient(dtype, memory_format):
    xx = x.to(dtype).to(memory_format=memory_format).detach().requires_grad_()
    y = F.conv_transpose3d(xx, w.to(dtype).to(memory_format=memory_format), groups=2, padding=(1, 0, 1))
    assert tuple(y.shape) == tuple(dy.shape), y.shape
    y.backward(dy.to(dtype))
    return xx.grad.double()


expected = input_gradient(torch.float64, torch.contiguous_format)
bug = False
for name, fmt in (("contiguous", torch.contiguous_format), ("channels_last_3d", torch.channels_last_3d)):
    err = (input_gradient(torch.bfloat16, fmt) - expected).abs().max().item()
    print(f"bfloat16, x {name:17s} max |dx - dx(float64)| = {err:.4f}")
    bug |= err > 0.1
sys.exit(1 if bug else 0)
