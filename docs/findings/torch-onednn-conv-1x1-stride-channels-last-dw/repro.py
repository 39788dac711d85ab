"""PyTorch CPU (oneDNN): the float32 weight gradient of a strided 1x1 conv2d is wrong, and the heap can be
corrupted, when x is in channels-last memory, has fewer input channels than oneDNN's channel block, and the
stride leaves the last input column unread.

x: (N=3, C=2, H=4, W=6) in torch.channels_last, w: (O=3, C=2, 1, 1), stride (1, 3), no padding: the output
reads columns 0 and 3 only, and column 5 (the last) is never read. oneDNN runs it as a 1x1 convolution with a
"reduce to unit stride" copy of x (jit_avx2_1x1 backward_weights here); the weight gradient comes back wrong
(off by several units; the same call with contiguous x is right to float32 rounding), and repeated calls
sometimes end the process with "corrupted size vs. prev_size" (SIGABRT).

Expected values: the same gradient in float64 with contiguous tensors (PyTorch's float64 path does not go
through oneDNN). The trials run in a child process, since a corrupted heap can kill it. Exit status 1 while
a trial's dw is off by more than 1e-3 (float32 rounding of these 24-term sums stays below 1e-5) or the child
dies, 0 once every trial is right.
"""

import os
import subprocess
import sys

if os.environ.get("REPRO_CHILD") != "1":
    done = subprocess.run(
        [sys.executable, __file__], env={**os.environ, "REPRO_CHILD": "1"}, capture_output=True, text=True
    )
    print(done.stdout, end="")
    print(done.stderr[-2000:], end="", file=sys.stderr)
    if done.returncode < 0:
        print(f"the trials' process died of signal {-done.returncode}: the kernel wrote out of bounds")
        sys.exit(1)
    sys.exit(done.returncode)

import torch
import torch.nn.functional as F

print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}")
torch.manual_seed(0)


def weight_gradient(x, w, dy, dtype, memory_format):
    ww = w.detach().to(dtype).clone().requires_grad_()
    F.conv2d(x.to(dtype).to(memory_format=memory_format), ww, stride=(1, 3)).backward(dy.to(dtype))
    return ww.grad.double()


wrong = 0
for trial in range(20):
    x, w, dy = torch.randn(3, 2, 4, 6), torch.randn(3, 2, 1, 1), torch.randn(3, 3, 4, 2)
    expected = weight_gradient(x, w, dy, torch.float64, torch.contiguous_format)
    contiguous = (weight_gradient(x, w, dy, torch.float32, torch.contiguous_format) - expected).abs().max().item()
    channels_last = (weight_gradient(x, w, dy, torch.float32, torch.channels_last) - expected).abs().max().item()
    if trial < 3:
        print(
            f"trial {trial}: max |dw - dw(float64)|: contiguous x {contiguous:.2e}, channels_last x {channels_last:.2e}"
        )
    wrong += max(contiguous, channels_last) > 1e-3
print(f"{wrong} of 20 trials give a wrong weight gradient")
sys.exit(1 if wrong else 0)
