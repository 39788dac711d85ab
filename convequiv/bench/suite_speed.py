"""``convequiv bench --suite``: how fast the equivalence suite itself checks, per adapter and variant.

For every adapter (``--adapters``, default the torch and tensorflow variants and their base
adapters) it checks the same examples the suite draws (Hypothesis, derandomized: the same cases on
every run and machine), ``--examples`` cases per op, each case with ``--draws`` value draws (default:
as the suite draws them, :func:`convequiv.draws.case_draws`: 1 for adapters that do not compile), through
:func:`convequiv.equivalence.check` exactly as the suite does, and reports per adapter:

* ``checks`` and ``checks_per_second``: wall time of the whole check (reference, bounds, framework);
* ``framework_checks_per_second``: time inside ``adapter.run`` only (what the suite's summary shows);
* ``reference_seconds`` and ``reference_share``: time inside the reference's expected values and
  error bounds (``Case.expected_and_bounds``, timed around every call), and its share of the wall time;
* ``cpu_seconds``: CPU time of this process and its children (a loaded machine stretches wall time,
  not CPU time);
* for compiled variants (``compile_stats()``): compilations, their seconds (first call of a
  signature or shape, compilation included), seconds per compilation and checks per compilation.

Outcomes are counted too (agree, diverge, unsupported, fail): a fast adapter that fails is no news; the
first failed checks are kept with their descriptions and printed.
Compiled variants keep their compilers' on-disk caches (TorchInductor: ``TORCHINDUCTOR_CACHE_DIR``),
so a second run measures warm compilation; ``--cold`` points TorchInductor at a fresh folder.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

#: The adapters measured by default: the base adapters and their execution variants.
DEFAULT_ADAPTERS = (
    "torch",
    "torch/compile",
    "torch/channels_last",
    "torch/noncontiguous",
    "torch/no-onednn",
    "tensorflow",
    "tensorflow/xla",
    "tensorflow/no-onednn",
)
#: Failed checks whose description a measurement keeps (and prints): a failure is a finding or a suite defect.
FAILURES_KEPT = 5
OPS = ("conv", "conv_transpose", "max_pool", "avg_pool", "depth_pool", "global_max_pool", "global_avg_pool")


def configure(parser: argparse.ArgumentParser) -> None:
    """The ``--suite`` options of ``convequiv bench`` (``--json`` and ``--markdown`` are shared)."""
    group = parser.add_argument_group("the suite's own speed (--suite)")
    group.add_argument("--suite", action="store_true", help="measure the equivalence suite per adapter and variant")
    group.add_argument("--adapters", help=f"comma-separated adapter specs (default: {','.join(DEFAULT_ADAPTERS)})")
    group.add_argument("--examples", type=int, default=4, help="cases per op (default 4)")
    group.add_argument("--draws", type=int, help="value draws per case (default: as the suite draws them)")
    group.add_argument("--ops", default=",".join(OPS), help=f"comma-separated ops (default: {','.join(OPS)})")
    group.add_argument("--suite-dtypes", help="comma-separated dtypes (default: each adapter's own)")
    group.add_argument("--cold", action="store_true", help="compile into a fresh TorchInductor cache folder")


def drawn_cases(op: str, count: int) -> list[Any]:
    """``count`` examples of ``op`` as the suite draws them, derandomized."""
    from hypothesis import HealthCheck, given, settings

    from convequiv.reference.strategies import op_examples

    found: list[Any] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(ex=op_examples(op))
    def collect(ex: Any) -> None:
        if len(found) < count:
            found.append(ex)

    collect()
    return found


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@contextlib.contextmanager
def _timed_reference() -> Iterator[list[float]]:
    """Time every ``Case.expected_and_bounds`` call (the reference's values and bounds of a check)
    into the yielded one-item list, in seconds."""
    from convequiv.reference.case_base import Case

    spent = [0.0]
    joint = Case.expected_and_bounds

    def timed(case: Any, *args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return joint(case, *args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - began

    Case.expected_and_bounds = timed
    try:
        yield spent
    finally:
        Case.expected_and_bounds = joint


def measure(
    spec: str,
    cases: dict[str, list[Any]],
    *,
    draws: int | None = None,
    dtypes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Check every case of ``cases`` (op -> examples) through adapter ``spec`` in every API and dtype."""
    from convequiv.adapters import load
    from convequiv.draws import case_draws
    from convequiv.equivalence import check
    from convequiv.reference.strategies import value_draws

    started, cpu_started = time.perf_counter(), _cpu()
    adapter = load(spec)
    adapter.warm_up()
    load_seconds = time.perf_counter() - started
    statuses: Counter[str] = Counter()
    failures: list[str] = []
    framework = 0.0
    checks = cases_checked = 0
    wall, cpu = time.perf_counter(), _cpu()
    with _timed_reference() as reference:
        for op, examples in cases.items():
            for api in adapter.checked_apis(op):
                for dtype in dtypes or adapter.dtypes:
                    if dtype not in adapter.dtypes:
                        continue
                    for example in examples:
                        cases_checked += 1
                        drawn_examples = (
                            value_draws(example, draws) if draws is not None else case_draws(example, adapter)
                        )
                        for drawn in drawn_examples:
                            outcome = check(adapter, drawn, api=api, dtype=dtype, raise_on_failure=False)
                            statuses[outcome.status] += 1
                            if outcome.status == "fail" and len(failures) < FAILURES_KEPT:
                                failures.append(outcome.detail)
                            framework += outcome.seconds
                            checks += 1
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    result: dict[str, Any] = {
        "adapter": spec,
        "draws_per_case": round(checks / cases_checked, 1) if cases_checked else None,
        "checks": checks,
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "checks_per_second": round(checks / wall, 2) if wall else None,
        "checks_per_cpu_second": round(checks / cpu, 2) if cpu else None,
        "framework_checks_per_second": round(checks / framework, 2) if framework else None,
        "reference_seconds": round(reference[0], 4),
        "reference_share": round(reference[0] / wall, 4) if wall else None,
        "load_seconds": round(load_seconds, 2),
        "outcomes": dict(statuses),
        "failures": failures,
        "load_cpu_seconds": round(_cpu() - cpu_started - cpu, 2),
    }
    stats = getattr(adapter, "compile_stats", None)
    if callable(stats):
        compiled = dict(stats())
        count = compiled.get("compiles", compiled.get("signatures", 0)) or 0
        compiled["seconds_per_compile"] = round(compiled["compile_seconds"] / count, 2) if count else None
        result["compile"] = compiled
    return result


def render(results: list[dict[str, Any]]) -> str:
    """The measurements as a Markdown table."""
    lines = [
        "| adapter | draws / case | checks | checks/s (wall) | checks/CPU-s | checks/s in framework | "
        "reference share | compilations | s / compilation | checks / compilation | outcomes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['adapter']} | | | | | | | | | | error: {r['error']} |")
            continue
        c = r.get("compile") or {}
        count = c.get("compiles", c.get("signatures", ""))
        per = c.get("checks_per_compile", c.get("checks_per_signature", ""))
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r["outcomes"].items()))
        lines.append(
            f"| {r['adapter']} | {r['draws_per_case']} | {r['checks']} | {r['checks_per_second']} | "
            f"{r['checks_per_cpu_second']} | {r['framework_checks_per_second']} | {_percent(r.get('reference_share'))} "
            f"| {count} | "
            f"{c.get('seconds_per_compile', '')} | {per} | {outcomes} |"
        )
    return "\n".join(lines)


def _percent(share: float | None) -> str:
    return "" if share is None else f"{100 * share:.1f} %"


def run_suite(args: argparse.Namespace) -> int:
    """``convequiv bench --suite``: each adapter in a process of its own (compilers and their
    caches, Keras backends and oneDNN settings never mix), then one table."""
    specs = [s for s in (args.adapters or ",".join(DEFAULT_ADAPTERS)).split(",") if s]
    ops = [o for o in args.ops.split(",") if o]
    unknown = sorted(set(ops) - set(OPS))
    if unknown or args.examples < 1:
        print(f"convequiv bench: error: --ops takes {', '.join(OPS)}; --examples at least 1", file=sys.stderr)
        return 2
    env = dict(os.environ)
    if args.cold:
        env["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="convequiv-inductor-")
    results = []
    for spec in specs:
        request = {
            "spec": spec,
            "ops": ops,
            "examples": args.examples,
            "draws": args.draws,
            "dtypes": args.suite_dtypes.split(",") if args.suite_dtypes else None,
        }
        print(f"convequiv bench --suite: {spec} ...", file=sys.stderr, flush=True)
        results.append(_in_child(request, env))
        print(json.dumps({k: v for k, v in results[-1].items() if k != "failures"}), file=sys.stderr, flush=True)
        for detail in results[-1].get("failures", []):
            print(textwrap.indent(f"failed check:\n{detail}", "  "), file=sys.stderr, flush=True)
    table = render(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"created": time.strftime("%Y-%m-%d %H:%M"), "results": results}, indent=1))
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table + "\n")
    print(table)
    return 0


def _in_child(request: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    import subprocess

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder, "result.json")
        command = [sys.executable, "-m", "convequiv.bench.suite_speed", json.dumps(request), str(out)]
        done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0 or not out.exists():
            tail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
            return {"adapter": request["spec"], "error": tail[0][:300], "outcomes": {}, "checks": 0}
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def _child(request: dict[str, Any], out: Path) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    cases = {op: drawn_cases(op, request["examples"]) for op in request["ops"]}
    result = measure(request["spec"], cases, draws=request["draws"], dtypes=request["dtypes"])
    out.write_text(json.dumps(result))


if __name__ == "__main__":
    _child(json.loads(sys.argv[1]), Path(sys.argv[2]))
