"""``convequiv bench [--quick] [--json FILE] [--markdown FILE] [--only SUBSTRING] [--no-small]``.

Times the reference against PyTorch and TensorFlow (each optional: a missing framework is
reported, never fatal) on a fixed shape set (:mod:`.shapes`), in float64 and float32, forward and
backward, in one process with the same thread count for every library. Per case it records the
median time of each implementation, the ratio reference / framework, the throughput (GFLOP/s for
conv and transposed conv, window taps per second for pooling), the reference's fraction of this
machine's NumPy matmul ceiling (conv and transposed conv) and the reference's peak memory relative
to its input + output bytes (:mod:`.timing` says how each is measured). It also times every op's
single call on the suite's typical tiny shapes against PyTorch (:mod:`.small`), and records which
BLAS library and CPU kernel NumPy ran, as the library reports it (:func:`.timing.blas_kernel`).
:mod:`.report` turns the run into geometric means, target verdicts and a Markdown report.
Frameworks are imported only by :func:`run`.

Needs beyond the reference: :data:`NEEDS` (``threadpoolctl`` fixes NumPy's BLAS threads and reports
its kernel; without it the bench refuses to run, exit status 2) and the frameworks it compares with.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import small as small_cases
from . import suite_speed
from .frameworks import NAMES, Framework, load
from .report import evaluate_targets, machine_info, render_markdown, summarize
from .shapes import (
    CASES,
    CONV_OPS,
    DIRECTIONS,
    Case,
    make_inputs,
    output_shape,
    reference_call,
    select,
    work,
    work_unit,
)
from .small import SMALL_CASES, SmallCase
from .timing import blas_kernel, blas_threads, matmul_ceiling, nbytes, peak_memory, time_blocks

#: Packages the benchmark uses besides NumPy and the frameworks (``pip install threadpoolctl``).
NEEDS = ("threadpoolctl",)

DTYPES = ("float64", "float32")
CEILING_SIZE = 2048
SETTLE = 0.1


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a small subset of the cases (about a minute)")
    parser.add_argument("--only", metavar="SUBSTRING", help="only cases whose 'op:name' contains SUBSTRING")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every measurement to FILE")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="write the report to FILE")
    parser.add_argument("--frameworks", default=",".join(NAMES), help=f"comma-separated (default: {','.join(NAMES)})")
    parser.add_argument("--dtypes", default=",".join(DTYPES), help=f"comma-separated (default: {','.join(DTYPES)})")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads for every library")
    parser.add_argument("--budget", type=float, help="seconds of timing per implementation and case (default 0.5)")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc peak-memory call")
    suite_speed.configure(parser)  # --suite: the equivalence suite's own speed per adapter and variant
    parser.add_argument("--no-small", action="store_true", help="skip the small-case latency table")


def missing_needs() -> list[str]:
    """The packages of :data:`NEEDS` that cannot be imported."""
    import importlib.util

    return [name for name in NEEDS if importlib.util.find_spec(name) is None]


def run(args: argparse.Namespace) -> int:
    missing = missing_needs()
    if missing:  # without it NumPy's BLAS threads are not fixed: the timings would not be comparable
        print(
            f"convequiv bench: error: needs {', '.join(missing)}: pip install 'convequiv[bench]' "
            "(and the frameworks to compare, e.g. 'convequiv[torch]')",
            file=sys.stderr,
        )
        return 2
    if args.suite:
        return suite_speed.run_suite(args)
    cases = select(CASES, quick=args.quick, only=args.only)
    if not cases:
        print(f"convequiv bench: error: no case matches --only {args.only!r}", file=sys.stderr)
        return 2
    dtypes = [d for d in args.dtypes.split(",") if d]
    if any(d not in DTYPES for d in dtypes):
        print(f"convequiv bench: error: --dtypes must name {' / '.join(DTYPES)}", file=sys.stderr)
        return 2
    budget = args.budget if args.budget is not None else (0.15 if args.quick else 0.5)
    results = run_benchmark(
        cases,
        dtypes=dtypes,
        frameworks=[f for f in args.frameworks.split(",") if f],
        threads=args.threads,
        budget=budget,
        memory=not args.no_memory,
        settle=SETTLE,
        ceiling_size=CEILING_SIZE,
        small=() if args.no_small else SMALL_CASES,
        progress=lambda text: print(text, file=sys.stderr, flush=True),
    )
    results["command"] = command_line(sys.argv[2:] if sys.argv[1:2] == ["bench"] else [])
    markdown = render_markdown(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown + kept_section(args.markdown))
    if not args.json and not args.markdown:
        print(markdown)
    else:
        for t in results["targets"]:
            print(f"{t['target']}: {t['verdict']}")
    return 0


#: In a Markdown report, everything from this line on is written by hand (the suite's own speed)
#: and survives regeneration with ``--markdown``.
KEPT_MARKER = "<!-- written by hand from here on; convequiv bench --markdown keeps it -->"


def kept_section(path: Path) -> str:
    """The hand-written tail of an existing report at ``path`` (from :data:`KEPT_MARKER`), or ``""``."""
    if not path.exists():
        return ""
    text = path.read_text()
    index = text.find(KEPT_MARKER)
    return "" if index < 0 else "\n" + text[index:]


def command_line(argv: Sequence[str]) -> str:
    """The ``convequiv bench`` command that produced a report, without its output-file options."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--json", "--markdown"):
            skip = True
        elif not arg.startswith(("--json=", "--markdown=")):
            kept.append(arg)
    return " ".join(["convequiv bench", *kept])


def run_benchmark(
    cases: Sequence[Case],
    *,
    dtypes: Sequence[str] = DTYPES,
    frameworks: Sequence[str | Framework] = NAMES,
    threads: int | None = None,
    budget: float = 0.5,
    memory: bool = True,
    settle: float = SETTLE,
    ceiling_size: int = CEILING_SIZE,
    small: Sequence[SmallCase] = SMALL_CASES,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Benchmark ``cases``; returns the JSON-ready results (records, summary, targets, machine).

    ``frameworks`` are names for :func:`.frameworks.load` or ready :class:`.frameworks.Framework`
    objects (the tests pass a fake one). ``budget`` and ``settle`` are seconds per implementation
    and case (:func:`.timing.time_blocks`); ``ceiling_size`` is the matmul size of the ceiling;
    ``small`` are the small-case latency cases (:mod:`.small`), timed with the same budget.
    """
    threads = threads or os.cpu_count() or 1
    loaded: dict[str, Framework | str] = {}
    for fw in frameworks:
        if isinstance(fw, Framework):
            loaded[fw.name] = fw
        else:
            loaded[fw] = load(fw, threads)
    ready = {name: fw for name, fw in loaded.items() if isinstance(fw, Framework)}
    with blas_threads(threads) as blas:
        kernel = blas_kernel()
        load_before = os.getloadavg()
        ceiling_before = matmul_ceiling(ceiling_size)
        records = []
        for case in cases:
            for dtype in dtypes:
                arrays = make_inputs(case, np.dtype(dtype))
                for direction in DIRECTIONS:
                    record = _bench_one(case, dtype, direction, arrays, ready, budget, memory, settle)
                    records.append(record)
                    if progress:
                        ratios = ", ".join(f"{fw} {v:.2f}" for fw, v in record["ratio"].items())
                        ms = 1e3 * record["times"]["reference"]["median"]
                        progress(f"{case.key:32} {dtype} {direction:8} ref {ms:9.2f} ms  ratio {ratios or '-'}")
        small_records = [
            _bench_small(case, direction, ready, budget, settle) for case in small for direction in DIRECTIONS
        ]
        if progress:
            for r in small_records:
                ratios = ", ".join(f"{fw} {v:.2f}" for fw, v in r["ratio"].items())
                us = 1e6 * r["times"]["reference"]["median"]
                progress(f"small {r['case']:26} {r['direction']:8} ref {us:8.1f} us  ratio {ratios or '-'}")
        load_after = os.getloadavg()
        ceiling_after = matmul_ceiling(ceiling_size)
    # The practical ceiling is the better of the two measurements: load from elsewhere only lowers it.
    ceiling = {dtype: max(ceiling_before[dtype], ceiling_after[dtype]) for dtype in ceiling_before}
    for record in records:
        if record["op"] in CONV_OPS:  # the best call against the best matmul: both are peaks
            best = record["work"] / record["times"]["reference"]["min"] / 1e9
            record["ceiling_fraction"] = best / ceiling["float64"]
    spreads = sorted(t["median"] / t["min"] - 1 for r in records for t in r["times"].values())
    summary = summarize(records, list(ready))
    return {
        "created": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "command": "run_benchmark()",
        "machine": machine_info(),
        "threads": threads,
        "blas_threads": blas,
        "blas_kernel": kernel,
        "frameworks": {name: fw.info if isinstance(fw, Framework) else fw for name, fw in loaded.items()},
        "budget": budget,
        "settle": settle,
        "ceiling": ceiling,
        "ceiling_runs": {"before": ceiling_before, "after": ceiling_after},
        "ceiling_size": ceiling_size,
        "noise": {
            "load_before": " / ".join(f"{v:.2f}" for v in load_before),
            "load_after": " / ".join(f"{v:.2f}" for v in load_after),
            "median_spread": statistics.median(spreads),
            "p90_spread": spreads[int(0.9 * (len(spreads) - 1))],
        },
        "records": records,
        "small": small_records,
        "summary": summary,
        "targets": evaluate_targets(records, summary, ceiling, small_records),
    }


def _bench_small(
    case: SmallCase, direction: str, frameworks: dict[str, Framework], budget: float, settle: float
) -> dict[str, Any]:
    """One small case and direction: per-call times of the reference and of each framework that
    builds small cases, with more repeats than the large cases (a call takes microseconds)."""
    arrays = small_cases.make_inputs(case)
    calls = {"reference": small_cases.reference_call(case, direction, arrays)}
    status: dict[str, str] = {}
    for name, fw in frameworks.items():
        if fw.build_small is None:
            continue
        try:
            fn = fw.build_small(case, direction, arrays)
            fn()
        except Exception as exc:  # a framework refusing a case must not end the run
            status[name] = f"unsupported: {type(exc).__name__}: {str(exc).strip()[:150]}"
            continue
        calls[name] = fn
    timings = time_blocks(calls, budget, settle=settle, max_repeats=5000)
    ref = timings["reference"].median
    return {
        "case": case.name,
        "op": case.op,
        "shape": case.describe(),
        "direction": direction,
        "times": {name: vars(t) for name, t in timings.items()},
        "ratio": {name: ref / t.median for name, t in timings.items() if name != "reference"},
        "status": status,
        "note": case.note,
    }


def _bench_one(
    case: Case,
    dtype: str,
    direction: str,
    arrays: dict[str, np.ndarray],
    frameworks: dict[str, Framework],
    budget: float,
    memory: bool,
    settle: float,
) -> dict[str, Any]:
    """One (case, dtype, direction): the reference's memory call, each framework's trial call, then timing."""
    inputs = (
        ("x", "w", "b" if direction == "forward" else "dy")
        if case.op in CONV_OPS
        else ("x", "dy")[: 1 + (direction == "backward")]
    )
    calls = {"reference": reference_call(case, direction, arrays)}
    if memory:
        peak, result = peak_memory(calls["reference"])
    else:
        peak, result = None, calls["reference"]()
    io_bytes = sum(arrays[name].nbytes for name in inputs) + nbytes(result)
    del result
    status: dict[str, str] = {}
    for name, fw in frameworks.items():
        try:
            fn = fw.build(case, direction, arrays)
            fn()  # can the framework run this case at all?
        except Exception as exc:  # a framework refusing a case must not end the run
            message = re.sub(r"\{\{.*?\}\}\s*", "", str(exc)).strip().splitlines()[0]  # TensorFlow's op prefix
            status[name] = f"unsupported: {type(exc).__name__}: {message[:150]}"
            continue
        calls[name] = fn
    timings = time_blocks(calls, budget, settle=settle)
    amount = work(case, direction)
    ref = timings["reference"].median
    throughput = {name: amount / t.median / 1e9 for name, t in timings.items()}
    n, c, h, w = case.x
    out = output_shape(case)
    # The matrix products: conv contracts C / groups * kh * kw per output position; the transposed
    # conv (col2im) contracts C / groups per input position.
    transposed = case.op == "conv_transpose"
    contraction = c // case.groups * (1 if transposed else case.kernel**2)
    positions = n * (h * w if transposed else int(np.prod(out[2:])))
    return {
        "case": case.key,
        "name": case.name,
        "op": case.op,
        "shape": case.describe(),
        "dtype": dtype,
        "direction": direction,
        "geometry": {
            "groups": case.groups,
            "out_channels": case.out_channels,
            "contraction": contraction,
            "in_per_group": c // case.groups,
            "positions": positions,
        },
        "work": amount,
        "unit": work_unit(case),
        "times": {name: vars(t) for name, t in timings.items()},
        "ratio": {name: ref / t.median for name, t in timings.items() if name != "reference"},
        "throughput": throughput,
        "ceiling_fraction": None,  # set once the run's ceiling is known
        "peak_bytes": peak,
        "io_bytes": io_bytes,
        "status": status,
        "notes": {name: fw.notes[case.key] for name, fw in frameworks.items() if case.key in fw.notes},
    }
