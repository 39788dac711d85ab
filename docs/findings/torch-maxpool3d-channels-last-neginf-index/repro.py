"""PyTorch CPU: max_pool3d on a channels_last_3d input gives a window whose values are all -inf the
index of the wrong element (its depth offset is dropped), so the gradient of that window goes to
another element of the plane.

x: (N=1, C=1, D=3, H=1, W=1) = [1, -inf, -inf], kernel 1. Every window holds one element, so its
index must be that element's: [0, 1, 2], and dx = dy. The contiguous kernel gives exactly that; the
channels-last kernel returns [0, 0, 0] and sends all three gradients to x[0]. Windows with a value
above -inf are right (the index is replaced by the first greater value); the initial index of a window
is the one that is wrong.

Exit status 1 while the bug is there, 0 once the index is right.
"""

import sys

import numpy as np
import torch
import torch.nn.functional as F

print(f"torch {torch.__version__}")
x = torch.tensor([1.0, -np.inf, -np.inf], dtype=torch.float64).reshape(1, 1, 3, 1, 1)
dy = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64).reshape(1, 1, 3, 1, 1)
expected_dx = dy.numpy().ravel()  # kernel 1: each element is its own window's maximum

bug = False
for name, fmt in (("contiguous", torch.contiguous_format), ("channels_last_3d", torch.channels_last_3d)):
    xt = x.to(memory_format=fmt).detach().requires_grad_()
    y, indices = F.max_pool3d(xt, 1, return_indices=True)
    y.backward(dy)
    got = xt.grad.numpy().ravel()
    wrong = not np.array_equal(got, expected_dx)  # exact: a gradient routed by index is a copy of dy
    print(f"{name:17s} indices {indices.ravel().tolist()}  dx {got.tolist()}{'   <- wrong' if wrong else ''}")
    bug |= wrong
print(f"expected          indices [0, 1, 2]  dx {expected_dx.tolist()}")
sys.exit(1 if bug else 0)
