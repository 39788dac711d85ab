"""PyTorch CPU (oneDNN, AVX-512 bf16): the weight gradient of a bfloat16 conv_transpose3d is wrong when
x and w are channels-last (channels_last_3d) and the transposed convolution crops (padding > 0) along
the depth dimension.

x: (N=3, C=4, D=2, H=1, W=2), w: (C=4, O/groups=3, 3, 1, 1), stride (1, 2, 1), padding (1, 0, 0),
output_padding (0, 1, 0), groups 2. oneDNN's ``jit_bf16:avx512_core_bf16`` deconvolution
backward_weights kernel (ndhwc) returns wrong values for the kernel taps 0 and 1 along depth (tap 2 is
right), sometimes values like 1e+28 (memory it never wrote). The same call with contiguous tensors, in
float32, or without oneDNN is right.

The inputs are exact in bfloat16; the expected gradient is computed in float64 from its definition
(y[n, o, z, h, w] = sum x[n, c, i, j, l] * w[c, o', a, b, e] with z = i * s - p + a ...), so the only
error of a correct bfloat16 result is its rounding of the float32 accumulation (relative 2^-8).

Exit status 1 while the bug is there, 0 once the gradient is right, 77 on a CPU without AVX-512
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

STRIDE, PAD, OUT_PAD, GROUPS = (1, 2, 1), (1, 0, 0), (0, 1, 0), 2
rng = np.random.default_rng(0)


def bf16_exact(shape):
    """Random values exactly representable in bfloat16 (8 significant bits)."""
    return np.round(rng.standard_normal(shape) * 64) / 64


x = bf16_exact((3, 4, 2, 1, 2))
w = bf16_exact((4, 3, 3, 1, 1))
# y size per dim: (n - 1) * s - 2 p + k + output_padding -> D: 1 - 2 + 3 = 2, H: 0 + 1 + 1 = 2, W: 1 + 1 = 2
dy = bf16_exact((3, 6, 2, 2, 2))

# Expected dw[c, o', a, b, e] = sum over n, i, j, l of x[n, c, i, j, l] * dy[n, g * 3 + o', z, h, v]
# with z = i * 1 - 1 + a, h = j * 2 + b, v = l + e (inside dy), g = c // 2 (the group of channel c).
expected = np.zeros(w.shape)
for c in range(4):
    g = c // 2
    for a in range(3):
        for i in range(2):
            z = i * STRIDE[0] - PAD[0] + a
            if not 0 <= z < 2:
                continue
            # H: j = 0 only (size 1), b = 0 only (kernel 1): h = 0; W: l + e with e = 0: v = l
            expected[c, :, a, 0, 0] += np.einsum("nl,nol->o", x[:, c, i, 0, :], dy[:, g * 3 : g * 3 + 3, z, 0, :])


def weight_gradient(memory_format, dtype):
    def t(a):
        return torch.from_numpy(a).to(dtype).contiguous(memory_format=memory_format)

    wt = t(w).requires_grad_()
    y = F.conv_transpose3d(t(x), wt, stride=STRIDE, padding=PAD, output_padding=OUT_PAD, groups=GROUPS)
    assert tuple(y.shape) == dy.shape
    y.backward(t(dy))
    return wt.grad.double().numpy()


bound = 2.0**-7 * np.abs(expected).max() + 1e-6  # bfloat16 rounding of the result, generously
bug = False
for name, fmt in (("contiguous", torch.contiguous_format), ("channels_last_3d", torch.channels_last_3d)):
    got = weight_gradient(fmt, torch.bfloat16)
    err = np.abs(got - expected).max()
    print(f"bfloat16 {name:16s} dw[:2, 0, :, 0, 0] = {got[:2, 0, :, 0, 0].tolist()}   max |error| {err:.3g}")
    if not err <= bound:
        bug = True
print(f"expected                  dw[:2, 0, :, 0, 0] = {expected[:2, 0, :, 0, 0].tolist()}   (bound {bound:.3g})")
sys.exit(1 if bug else 0)
