"""JAX on CPU: the forward-mode derivative (jax.jvp) of max pooling is 0 in a window whose maximum is -inf.

lax.reduce_window with max, window 2, no padding, over x = [-inf, -inf]: the output is -inf, the first
maximum is x[0], and JAX's own reverse mode (jax.vjp) gives the cotangent to x[0] ([1, 0]). Its forward
mode (select_and_gather_add, lowered on CPU as a variadic reduce_window over (value, tangent) pairs
with the init pair (-inf, 0) and the reducer "keep the current pair while current >= next") lets the
init pair tie with the -inf taps and win, so the JVP is the init's tangent 0 instead of t[0]. The JVP
and VJP of one function at one point are then not transposes of each other: <jvp, dy> != <t, dx>.
Exit status 1 while they disagree, 0 once the JVP is t[0].
"""

import sys

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


def pool(x):
    return lax.reduce_window(x, -jnp.inf, lax.max, (2,), (1,), "VALID")


def main():
    print(f"jax {jax.__version__}, backend {jax.default_backend()}")
    x = np.array([-np.inf, -np.inf], np.float32)
    t = np.array([1.0, 2.0], np.float32)
    y, jvp = jax.jvp(pool, (x,), (t,))
    _, vjp = jax.vjp(pool, x)
    (dx,) = vjp(np.ones(1, np.float32))
    got, want = float(np.asarray(jvp)[0]), float(np.dot(np.asarray(dx), t))  # <jvp, 1> vs <t, dx>
    ok = got == want == 1.0
    print(
        f"y = {np.asarray(y).tolist()}; jvp = {got}, vjp dx = {np.asarray(dx).tolist()} (so <t, dx> = {want})"
        f"{'' if ok else '   DIFFERS'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
