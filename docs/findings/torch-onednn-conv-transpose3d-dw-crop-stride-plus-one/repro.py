"""PyTorch CPU (oneDNN): the float32 weight gradient of conv_transpose3d / conv3d is partly never written
when an axis has stride >= 2 and padding stride + 1 on both sides, with a kernel longer than that padding.

x: (N=3, C=2, D=3, H=2, W=2), w: (C=2, O=2, 4, 1, 1), stride (2, 1, 1), padding (3, 0, 0) -> y (3, 2, 2, 2, 2).
Some elements of w.grad hold whatever the memory held (1.9e+29, or a value a few units off), different from
run to run; float64, 2-D, and torch.backends.mkldnn disabled give the right gradient. The expected gradient
is computed in float64 with the same call (PyTorch's float64 path does not go through oneDNN).

Each trial draws new inputs; the script exits 1 when a trial's dw is off the float64 value by more than
1e-3 (float32 rounding of these sums stays below 1e-5), 0 when every trial is right, 77 on a CPU without
AVX-512 (oneDNN then runs a gemm-based kernel, which is right: ONEDNN_MAX_CPU_ISA=AVX2 shows it). The
trials run in a child process: the unwritten memory sometimes ends the process (SIGSEGV), which counts as
the bug too (exit 1).
"""

import os
import subprocess
import sys

if os.environ.get("REPRO_CHILD") != "1":
    done = subprocess.run(
        [sys.executable, __file__], env={**os.environ, "REPRO_CHILD": "1"}, capture_output=True, text=True
    )
    print(done.stdout, end="")
    print(done.stderr, end="", file=sys.stderr)
    if done.returncode < 0:
        print(f"the trials' process died of signal {-done.returncode}: the bug wrote or read out of bounds")
        sys.exit(1)
    sys.exit(done.returncode)

import numpy as np
import torch
import torch.nn.functional as F

capability = torch.backends.cpu.get_cpu_capability()
print(f"torch {torch.__version__}, CPU capability {capability}")
if capability not in ("AVX512", "AVX512_BF16", "AVX512_FP16"):
    print("this CPU has no AVX-512: the affected oneDNN kernel does not run here")
    sys.exit(77)
rng = np.random.default_rng(0)
stride, padding = (2, 1, 1), (3, 0, 0)
worst = 0.0
for trial in range(20):
    x = rng.standard_normal((3, 2, 3, 2, 2)).astype(np.float32)
    w = rng.standard_normal((2, 2, 4, 1, 1)).astype(np.float32)
    dy = rng.standard_normal((3, 2, 2, 2, 2)).astype(np.float32)
    w64 = torch.from_numpy(w).double().requires_grad_()
    F.conv_transpose3d(torch.from_numpy(x).double(), w64, stride=stride, padding=padding).backward(
        torch.from_numpy(dy).double()
    )
    w32 = torch.from_numpy(w).requires_grad_()
    F.conv_transpose3d(torch.from_numpy(x), w32, stride=stride, padding=padding).backward(torch.from_numpy(dy))
    diff = (w32.grad.double() - w64.grad).abs()
    err = diff.max().item() if torch.isfinite(diff).all() else float("inf")  # NaN garbage counts too
    worst = max(worst, err)
    if err > 1e-3:
        print(f"trial {trial}: dw[:, :, :, 0, 0] {w32.grad[:, :, :, 0, 0].tolist()}")
        print(f"        expected {np.round(w64.grad[:, :, :, 0, 0].numpy(), 4).tolist()}")
        break
print(f"largest |dw error| over the trials: {worst:.3g}")
sys.exit(1 if worst > 1e-3 else 0)
