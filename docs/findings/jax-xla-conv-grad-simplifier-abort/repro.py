"""JAX / XLA CPU: compiling the input gradient of a small strided, padded 2-D convolution aborts the
process (CHECK failure in XLA's AlgebraicSimplifier: "Window dimensions do not match RHS shape").

x: (1, 1, 3, 8), w: (1, 1, 4, 2), strides (2, 2), padding ((1, 1), (1, 1)). The forward compiles and
runs; jax.jit(jax.grad(f)) with respect to x dies with SIGABRT while XLA optimizes the transposed
convolution. Because the abort kills the interpreter, the script compiles in a child process and reports
how the child ended.

Exit status 1 while the compilation aborts, 0 once it compiles.
"""

import signal
import subprocess
import sys

CHILD = """
import jax, jax.numpy as jnp
x = jnp.ones((1, 1, 3, 8)); w = jnp.ones((1, 1, 4, 2))
f = lambda x: jax.lax.conv_general_dilated(x, w, (2, 2), [(1, 1), (1, 1)]).sum()
print("forward", jax.jit(f)(x))
print("input gradient shape", jax.jit(jax.grad(f))(x).shape)
"""

import jax  # noqa: E402  (only for the version line)

print(f"jax {jax.__version__}")
done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True)
print(done.stdout.strip())
check = [line for line in done.stderr.splitlines() if "Check failed" in line]
if done.returncode < 0:
    print(f"the child died of {signal.Signals(-done.returncode).name}: {check[0][:200] if check else ''}")
    sys.exit(1)
print(f"the child exited with status {done.returncode}")
sys.exit(0 if done.returncode == 0 else 1)
