"""JAX on CPU: max reductions of 4096 or more elements skip NaN; smaller ones propagate it.

jnp.max follows NumPy and propagates NaN. On XLA:CPU a max reduce (or a non-overlapping max
reduce_window, i.e. max pooling with stride == window) whose input or output holds at least 4096 elements
runs as a YNNPACK fusion whose max skips NaN, so the result depends on the array size: NaN for 4095
elements, the maximum of the other values for 4096.
Exit status 1 while any large case drops the NaN, 0 once all return NaN.
"""

import sys

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


def main():
    print(f"jax {jax.__version__}, backend {jax.default_backend()}")
    bad = 0
    for n in (4095, 4096):
        x = np.zeros(n, np.float32)
        x[0] = np.nan
        got = float(jnp.max(x))
        ok = np.isnan(got)
        bad += not ok
        print(f"jnp.max(x) for x = zeros({n}) with x[0] = nan -> {got!r}, expected nan{'' if ok else '   DIFFERS'}")
    for side in (32, 64):
        x = np.zeros((1, 1, side, side), np.float32)
        x[0, 0, 0, 0] = np.nan
        y = lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        got = float(y[0, 0, 0, 0])
        ok = np.isnan(got)
        bad += not ok
        print(
            f"2x2 max pooling (lax.reduce_window, stride 2) of a {side}x{side} input with a NaN at [0, 0] "
            f"-> window [0, 0] = {got!r}, expected nan{'' if ok else '   DIFFERS'}"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
