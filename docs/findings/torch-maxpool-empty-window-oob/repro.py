"""PyTorch CPU max pooling: a window that reads only padding gets an index past the input, and the
backward adds that window's gradient there.

kernel (2, 1), dilation (2, 1), padding (1, 0) on an input one row high: the window's two taps are rows
-1 and 1, both padding, so the output is -inf (the maximum over padding only) and the window depends on
no input element. Its gradient belongs nowhere. PyTorch stores the index of the row after the input
(past the end of the channel's plane); the backward adds the gradient there: into the next channel's
gradient, and past the end of the gradient buffer for the last channel (heap corruption).

The dangerous backward runs in child processes; this process only runs the forward.
Exit status 1 while the bug is there, 0 once PyTorch returns no out-of-plane index (or refuses the call).
"""

import ast
import resource
import signal
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

POOL = dict(kernel_size=(2, 1), stride=1, padding=(1, 0), dilation=(2, 1))

# The rows each output row reads: taps at -padding + o * stride + j * dilation, j < kernel; one input row.
height = 1
taps = [-1 + 0 * 2, -1 + 1 * 2]
assert not any(0 <= t < height for t in taps)  # every tap is padding: no input element, no gradient

CHILD = """
import sys, torch, torch.nn.functional as F
width = int(sys.argv[1])
x = torch.zeros(1, 2, 1, width, requires_grad=True)   # N=1, C=2 channels, H=1, W=width
y = F.max_pool2d(x, kernel_size=(2, 1), stride=1, padding=(1, 0), dilation=(2, 1))
y.backward(torch.ones_like(y))
print(repr(x.grad.sum(dim=(0, 2, 3)).tolist()), flush=True)   # gradient per channel
"""


def no_core_dump():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def backward_in_child(width):
    """Run the backward in a fresh interpreter; return (how it ended, per-channel gradient sums or None)."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(width)],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=no_core_dump,
    )
    if proc.returncode < 0:
        ended = f"killed by {signal.Signals(-proc.returncode).name}"
    else:
        ended = f"exit status {proc.returncode}"
    last = proc.stderr.strip().splitlines()[-1:] if proc.returncode else []
    grads = (
        ast.literal_eval(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 and proc.stdout.strip() else None
    )
    return ended + (f" ({last[0][:120]})" if last else ""), grads


def main():
    print(f"torch {torch.__version__}")
    bug = False

    # 1. The forward (safe: it writes only its outputs). x: (N=1, C=2, H=1, W=3), plane of 3 elements.
    x = torch.zeros(1, 2, 1, 3)
    try:
        y, idx = F.max_pool2d(x, return_indices=True, **POOL)
    except RuntimeError as exc:
        print(f"max_pool2d refuses the call: {exc}")
        return 0
    plane = 1 * 3
    idx = idx.numpy().ravel()
    outside = (idx < -1) | (idx >= plane)
    print(f"forward values  {y.numpy().ravel().tolist()}   expected {[-np.inf] * 6}")
    print(
        f"forward indices {idx.tolist()}   expected: none outside the {plane}-element plane "
        f"(the windows read no element; -1 would mark that)"
    )
    if outside.any():
        bug = True

    # 2. The backward on a 1 x 1 plane (in a child): an overrun of one element per channel.
    #    Channel 0's gradient lands in channel 1; channel 1's lands one element past the buffer.
    ended, grads = backward_in_child(1)
    print(f"backward, x of shape (1, 2, 1, 1): {ended}; gradient per channel {grads}, expected [0.0, 0.0]")
    if grads is None or any(g != 0 for g in grads):
        bug = True

    # 3. The same backward on a 1 x 65536 plane: the last channel's 65536 gradients are written past the
    #    end of the gradient buffer (256 KiB of heap); the interpreter usually dies.
    ended, grads = backward_in_child(65536)
    print(f"backward, x of shape (1, 2, 1, 65536): {ended}; gradient per channel {grads}, expected [0.0, 0.0]")
    if grads is None or any(g != 0 for g in grads):
        bug = True

    return 1 if bug else 0


if __name__ == "__main__":
    sys.exit(main())
