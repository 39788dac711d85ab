"""How the benchmark measures: wall time, the matmul ceiling, peak memory, BLAS threads.

* **Time** (:func:`time_blocks`): the implementations of one case run in ``rounds`` rounds; in
  each round every implementation runs one block of consecutive calls. A block starts by
  *settling*: calling the function, untimed, until ``settle`` seconds have passed, which warms it up
  and lets the previous library's idle worker threads stop spinning (OpenBLAS and OpenMP threads
  busy-wait after a call and, on a small machine, would steal cores from the next library). The
  first settle call's duration sets the repeat count, ``budget / duration`` clamped to
  ``[min_repeats, max_repeats]``, split evenly over the rounds. Rounds spread each implementation's
  calls over the case's whole measuring time, so that load from other processes hits all of them
  alike. The garbage collector is off while timing; the reported time is the median of all timed
  calls, and ``min`` is kept to show the spread.
* **Ceiling** (:func:`matmul_ceiling`): this machine's practical peak for the reference, the
  GFLOP/s of ``numpy.matmul`` on two square ``n x n`` matrices (``2 n^3`` FLOPs), the fastest of
  several calls (a peak: load from other processes only lowers it), in float64 and float32, under
  the same BLAS thread setting as the rest of the run.
* **Peak memory** (:func:`peak_memory`): :mod:`tracemalloc`, which sees NumPy's data buffers
  (NumPy reports them to it): the highest traced total during one call minus the total traced
  just before it, so it includes the returned arrays and every temporary, but not the inputs.
* **BLAS threads** (:func:`blas_threads`): NumPy's BLAS reads its thread count at import time;
  only ``threadpoolctl`` can change it afterwards. Without it the setting is reported, not fixed.
* **BLAS kernel** (:func:`blas_kernel`): which library and which CPU kernel NumPy's BLAS actually
  runs, as the loaded library reports it through ``threadpoolctl`` (OpenBLAS picks its kernel at
  load time from the CPU, unless ``OPENBLAS_CORETYPE`` forces one); never inferred from the
  environment. Without ``threadpoolctl`` it is reported as unknown.
"""

from __future__ import annotations

import gc
import math
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Timing:
    """Median and minimum seconds per call over ``repeats`` calls."""

    median: float
    min: float
    repeats: int


def _once(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _settle(fn: Callable[[], object], seconds: float) -> float:
    """Call ``fn`` until ``seconds`` have passed (at least once); returns the last call's duration."""
    start = time.perf_counter()
    while True:
        duration = _once(fn)
        if time.perf_counter() - start >= seconds:
            return duration


def time_blocks(
    fns: dict[str, Callable[[], object]],
    budget: float,
    *,
    rounds: int = 2,
    settle: float = 0.1,
    min_repeats: int = 4,
    max_repeats: int = 200,
) -> dict[str, Timing]:
    """Median wall time of each function, measured in settled blocks (see the module docstring)."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    per_round: dict[str, int] = {}
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, fn in fns.items():
                estimate = _settle(fn, settle)
                if name not in per_round:
                    wanted = min(max_repeats, max(min_repeats, round(budget / max(estimate, 1e-9))))
                    per_round[name] = math.ceil(wanted / rounds)
                samples[name] += [_once(fn) for _ in range(per_round[name])]
    finally:
        if enabled:
            gc.enable()
    return {name: Timing(statistics.median(s), min(s), len(s)) for name, s in samples.items()}


def matmul_ceiling(n: int = 2048, repeats: int = 5) -> dict[str, float]:
    """GFLOP/s of ``numpy.matmul`` on ``n x n`` matrices, per dtype name (median of ``repeats``)."""
    rng = np.random.default_rng(0)
    result = {}
    for dtype in ("float64", "float32"):
        a, b = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))

        def product(a: np.ndarray = a, b: np.ndarray = b) -> object:
            return np.matmul(a, b)

        product()
        seconds = min(_once(product) for _ in range(repeats))
        result[dtype] = 2 * n**3 / seconds / 1e9
    return result


def blas_kernel() -> dict[str, str]:
    """The BLAS NumPy runs, from ``threadpoolctl.threadpool_info()``: ``library`` (its
    ``internal_api`` and version), ``kernel`` (the CPU kernel it chose, OpenBLAS's
    ``architecture``) and ``threading``; ``kernel`` is ``"unknown"`` without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {"library": "unknown", "kernel": "unknown (threadpoolctl is not installed)", "threading": "unknown"}
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    if not pools:
        return {"library": "none found", "kernel": "unknown (threadpoolctl found no BLAS)", "threading": "unknown"}
    pool = next((p for p in pools if "numpy" in str(p.get("filepath", ""))), pools[0])
    return {
        "library": f"{pool.get('internal_api')} {pool.get('version')}",
        "kernel": str(pool.get("architecture") or "not reported"),
        "threading": str(pool.get("threading_layer") or "not reported"),
    }


def peak_memory(fn: Callable[[], object]) -> tuple[int, object]:
    """``(peak traced bytes during fn() above the bytes traced before it, fn's result)``."""
    gc.collect()
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        if started:
            tracemalloc.stop()
    return peak, result


def nbytes(value: object) -> int:
    """Total bytes of the arrays in ``value`` (an array, or a tuple / list / dict of arrays)."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return sum(nbytes(v) for v in value)
    return 0


@contextmanager
def blas_threads(threads: int) -> Iterator[dict[str, object]]:
    """Hold NumPy's BLAS at ``threads`` threads (with ``threadpoolctl``); yields what was set or found."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        env = {k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS") if k in os.environ}
        yield {
            "control": "not fixed: threadpoolctl is not installed, so NumPy's BLAS keeps its import-time "
            "thread count (all cores unless the environment says otherwise)",
            "environment": env or "no thread variables set",
        }
        return
    with threadpool_limits(threads, user_api="blas"):
        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        yield {
            "control": f"fixed with threadpoolctl to {threads}",
            "libraries": [
                f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture', '?')}, "
                f"{p.get('threading_layer', '?')}): {p.get('num_threads')} threads"
                for p in pools
            ],
        }
