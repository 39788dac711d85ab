"""Convolutions whose gradient XLA's CPU compiler cannot compile without killing the process.

A CHECK failure in XLA's algebraic simplifier ("Window dimensions do not match RHS shape",
docs/findings/jax-xla-conv-grad-simplifier-abort.md) aborts the process that compiles the input
gradient of some strided, padded convolutions, in JAX with and without ``jax.jit``. No Python error
is raised, so such a case cannot be run and its difference recorded: the JAX adapters ask
:func:`abort_message` in ``support`` and declare the case ``Unsupported(evidence="unsafe")``, and the
proof (``probe_hazard``) compiles it once more, again in a child process.

Which geometries abort follows no rule we could state exactly. Sweeps of one axis at a time (2,130
geometries, docs/findings) found aborts only where one axis has kernel and stride 2, padding
``(1, 1)`` or ``(1, 2)`` and an even length of 4 or more, and another axis is strided; the other axis
takes almost any kernel. So the child compiles every case with an axis of kernel and stride 2 and
padding ``(1, hi >= 1)`` (:func:`prone`, about 2 % of the drawn convolutions), and its answer is cached
per geometry. A case outside that test that aborts ends the run: it is a new finding.
"""

from __future__ import annotations

import functools
import json
import signal
import subprocess
import sys

from convequiv.reference.cases import ConvCase

CHILD = """
import json, sys
import jax, jax.numpy as jnp
from jax import lax
g = json.loads(sys.argv[1])
x = jnp.ones(g["x"], jnp.float32)
w = jnp.ones(g["w"], jnp.float32)
axes = tuple(range(len(g["x"])))
def f(x, w):
    return lax.conv_general_dilated(
        x, w, g["stride"], [tuple(p) for p in g["pads"]], rhs_dilation=g["dilation"],
        dimension_numbers=lax.ConvDimensionNumbers(axes, axes, axes), feature_group_count=g["groups"],
    ).sum()
jax.jit(jax.grad(f, argnums=(0, 1))).lower(x, w).compile()
"""

#: Seconds a child may take (importing JAX and one compilation take about 2 s).
CHILD_TIMEOUT = 120


def prone(case: ConvCase) -> bool:
    """Whether ``case`` shares the measured trigger: two or more spatial axes, one of them with kernel
    and stride 2 and padding ``(1, hi >= 1)``."""
    return case.nd >= 2 and any(
        k == s == 2 and lo == 1 and hi >= 1 for k, s, (lo, hi) in zip(case.w_shape[2:], case.stride, case.pads)
    )


def abort_message(case: ConvCase) -> str | None:
    """The CHECK failure with which compiling the gradient of ``case`` aborts, or ``None`` when it
    compiles (always ``None`` for a case that is not :func:`prone`)."""
    return _cached(_geometry(case)) if prone(case) else None


def compile_in_child(case: ConvCase) -> str | None:
    """Compile the gradient of ``case`` in a child process, uncached: the CHECK failure line when the
    child died of SIGABRT, ``None`` when it compiled. Any other ending is an error of its own."""
    return _compile(_geometry(case))


def _geometry(case: ConvCase) -> str:
    return json.dumps(
        {
            "x": list(case.x_shape),
            "w": list(case.w_shape),
            "stride": list(case.stride),
            "pads": [list(p) for p in case.pads],
            "dilation": list(case.dilation),
            "groups": case.groups,
        }
    )


@functools.cache
def _cached(geometry: str) -> str | None:
    return _compile(geometry)


def _compile(geometry: str) -> str | None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, geometry], capture_output=True, text=True, timeout=CHILD_TIMEOUT
    )
    if done.returncode == 0:
        return None
    if done.returncode == -signal.SIGABRT:
        checks = [line for line in done.stderr.splitlines() if "Check failed" in line]
        return checks[0].split("] ", 1)[-1][:300] if checks else "SIGABRT without a CHECK message"
    tail = done.stderr.strip().splitlines()[-1:] or [""]
    raise RuntimeError(f"compiling the gradient in a child process ended with status {done.returncode}: {tail[0]}")
