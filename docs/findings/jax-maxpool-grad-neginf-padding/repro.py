"""JAX on CPU: the max-pool gradient of a window of -inf values goes into the padding and is lost.

lax.reduce_window with max, window 2, stride 1 and one -inf padding cell on the low side: the first window
holds the padding cell and the input's -inf. Its output is -inf, which comes from the input (the padding
is only the reduction's identity), so d y / d x[0] = 1. On CPU the gradient (select_and_scatter_add) is
lowered with the padding materialised as -inf cells; the padding cell comes first, ties with x[0], wins,
and its gradient is dropped. (On other platforms JAX does not materialise the padding.)
Exit status 1 while the gradient differs, 0 once it reaches x[0].
"""

import sys

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


def pool(x):
    # window 2, stride 1, one padding cell before the input: windows [pad, x0] and [x0, x1]
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 2), (1, 1, 1), ((0, 0), (0, 0), (1, 0)))


def main():
    print(f"jax {jax.__version__}, backend {jax.default_backend()}")
    x = jnp.array([[[-np.inf, 1.0]]])
    y, vjp = jax.vjp(pool, x)
    (dx,) = vjp(jnp.ones_like(y))
    got = np.asarray(dx).ravel()
    want = np.array([1.0, 1.0])  # window [pad, x0] -> x0 (-inf, its only input tap); [x0, x1] -> x1
    ok = np.array_equal(got, want)
    print(
        f"y = {np.asarray(y).ravel().tolist()}; dy/dx = {got.tolist()}, expected {want.tolist()}"
        f"{'' if ok else '   DIFFERS'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
