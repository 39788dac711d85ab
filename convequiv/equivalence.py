"""One equivalence check: run an example through an adapter and judge it against the reference.

:func:`check` is what every equivalence test calls and what a failure's reproduction snippet
calls, so a failure reproduces outside pytest with one line of Python.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from convequiv import adapters
from convequiv.adapters.base import Adapter, Semantics, Unsupported
from convequiv.reference.cases import Example

from .compare import ArrayMismatch, compare
from .divergences import Divergence
from .divergences import load as load_divergences

_DIVERGENCES: list[Divergence] | None = None


def recorded_divergences() -> list[Divergence]:
    """The project's divergence file plus any files listed in ``CONVEQUIV_DIVERGENCES``
    (``os.pathsep``-separated; how a third-party adapter records its own divergences)."""
    global _DIVERGENCES
    if _DIVERGENCES is None:
        entries = load_divergences()
        for extra in filter(None, os.environ.get("CONVEQUIV_DIVERGENCES", "").split(os.pathsep)):
            entries += load_divergences(Path(extra))
        ids = [d.id for d in entries]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise ValueError(f"divergence ids defined twice: {', '.join(duplicated)}")
        _DIVERGENCES = entries
    return _DIVERGENCES


@dataclass
class Outcome:
    """The verdict of one check. ``status``: agree, diverge, unsupported or fail."""

    adapter: str
    api: str
    dtype: str
    example: Example
    status: str
    detail: str = ""
    divergence: str = ""
    covered_by: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def op(self) -> str:
        return self.example.case.op

    @property
    def features(self) -> set[str]:
        return self.example.features()


class EquivalenceError(AssertionError):
    """A framework result outside the reference's error bound, with a reproduction."""

    def __init__(self, outcome: Outcome):
        self.outcome = outcome
        super().__init__(outcome.detail)


_VERSIONS: dict[str, dict[str, str]] = {}


def _versions(impl: Adapter) -> dict[str, str]:
    """Installed versions per adapter, asked once per process."""
    if impl.name not in _VERSIONS:
        _VERSIONS[impl.name] = impl.versions()
    return _VERSIONS[impl.name]


def reproduction(adapter: str, example: Example, api: str, dtype: str) -> str:
    return (
        'python -c "from convequiv.equivalence import check; from convequiv.reference.cases import *; '
        f'print(check({adapter!r}, {example!r}, api={api!r}, dtype={dtype!r}))"'
    )


def _describe(
    adapter: str, api: str, dtype: str, example: Example, problems: list[ArrayMismatch], note: str = ""
) -> str:
    lines = [f"{adapter} ({api}, {dtype}) {example.case.op}: differs from the reference{note}"]
    lines.append(f"  case: {example!r}")
    lines.append(f"  features: {', '.join(sorted(example.case.features()))}")
    lines += [f"  {p}" for p in problems]
    lines.append("  reproduce:")
    lines.append(f"    {reproduction(adapter, example, api, dtype)}")
    return "\n".join(lines)


def check(
    adapter: Adapter | str,
    example: Example,
    *,
    api: str = "functional",
    dtype: str = "float64",
    semantics: Semantics | None = None,
    strict_divergences: bool = False,
    raise_on_failure: bool = True,
    outputs: tuple[str, ...] | None = None,
) -> Outcome:
    """Run ``example`` through ``adapter`` and compare every output with the reference.

    ``semantics`` overrides the adapter's declared tie/NaN policies (used to prove a declaration is
    discriminating). Unsupported cases have their claim verified against the framework.
    A mismatch inside a recorded divergence's condition gives ``status="diverge"`` unless
    ``strict_divergences``; any other mismatch raises :class:`EquivalenceError` (or returns a
    ``"fail"`` outcome when ``raise_on_failure`` is false). ``outputs`` restricts the comparison
    to some outputs (``("y",)`` to judge a forward-only property).
    """
    impl = adapters.load(adapter) if isinstance(adapter, str) else adapter
    name = impl.name
    case = example.case
    inputs = example.inputs(dtype)
    raw = inputs.astype(dtype)
    support = impl.support(case, api, dtype)
    if isinstance(support, Unsupported):
        evidence = impl.prove_unsupported(support, case, raw, api)
        return Outcome(name, api, dtype, example, "unsupported", f"{support.reason} [{evidence}]")
    sem = semantics or impl.semantics(case, api)
    started = time.perf_counter()
    try:
        got = impl.run(case, raw, api)
    except Exception as exc:  # a supported case must run: a crash is a failure with a reproduction
        problem = ArrayMismatch("run", f"the adapter raised {type(exc).__name__}: {str(exc).strip()[:500]}")
        outcome = Outcome(name, api, dtype, example, "fail", _describe(name, api, dtype, example, [problem]))
        if raise_on_failure:
            raise EquivalenceError(outcome) from exc
        return outcome
    seconds = time.perf_counter() - started
    want = case.expected(inputs, ties=sem.ties, nan=sem.nan)
    bounds = case.bounds(inputs, dtype, ties=sem.ties, nan=sem.nan)
    problems = []
    if outputs is not None:
        want = {k: v for k, v in want.items() if k in outputs}
        got = {k: v for k, v in got.items() if k in outputs}
    for key in want:
        if key not in got:
            problems.append(ArrayMismatch(key, "missing from the adapter's results"))
            continue
        found = compare(key, got[key], want[key], bounds[key])
        if found:
            problems.append(found)
    for key in got:
        if got[key].dtype != np.dtype(dtype):
            problems.append(ArrayMismatch(key, f"dtype {got[key].dtype}, expected {dtype}"))
    versions = _versions(impl)
    covering = [d for d in recorded_divergences() if d.applies(name, case.op, api, dtype, example, versions)]
    covered_by = [d.id for d in covering]
    if not problems:
        return Outcome(name, api, dtype, example, "agree", covered_by=covered_by, seconds=seconds)
    matches = [d for d in covering if d.explains(p.output for p in problems)]
    if matches and not strict_divergences and semantics is None:
        detail = _describe(name, api, dtype, example, problems)
        return Outcome(name, api, dtype, example, "diverge", detail, matches[0].id, covered_by, seconds)
    note = f" (recorded divergence {matches[0].id}; --strict-divergences)" if matches else ""
    detail = _describe(name, api, dtype, example, problems, note)
    outcome = Outcome(name, api, dtype, example, "fail", detail, covered_by=covered_by, seconds=seconds)
    if raise_on_failure:
        raise EquivalenceError(outcome)
    return outcome
