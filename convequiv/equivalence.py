"""One equivalence check: run an example through an adapter and judge it against the reference.

:func:`check` is what every equivalence test calls and what a failure's reproduction line calls,
so a failure reproduces outside pytest with one line of Python.

The verdict of a check (:class:`Outcome`): ``agree`` when every output the adapter produces is
within the reference's error bound; ``diverge`` when the mismatches (or the crash) are explained by
recorded divergences whose conditions hold for exactly these inputs; ``unsupported`` when the
adapter's plan says the framework cannot express the case and the claim is proven; ``fail``
otherwise. Outputs the adapter does not produce (a runtime without gradients) are listed as
unchecked, never counted as agreeing. An adapter that produces ``shape`` (the output shape its
model declares, e.g. by ONNX shape inference) has it compared exactly with the reference's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TypedDict

import numpy as np

from convequiv.adapters import load
from convequiv.adapters.base import Adapter, Plan, Semantics, Unsupported
from convequiv.reference import predicates
from convequiv.reference.cases import Example, Inputs
from convequiv.reference.precision import numpy_dtype

from .compare import ArrayMismatch, compare
from .divergences import Divergence, explained_by, recorded
from .results import Key


@dataclass
class Outcome:
    """The verdict of one check (module docstring)."""

    adapter: str
    api: str
    dtype: str
    example: Example
    status: str
    detail: str = ""
    divergences: tuple[str, ...] = ()
    covered_by: tuple[str, ...] = ()
    seconds: float = 0.0
    route: str = ""
    plan: str = ""
    unchecked: tuple[str, ...] = ()
    problems: tuple[ArrayMismatch, ...] = field(default=(), repr=False)

    @property
    def op(self) -> str:
        return self.example.case.op

    @property
    def features(self) -> set[str]:
        return self.example.features()

    def tally_keys(self) -> list[Key]:
        """The tally keys this check counts under: the op row and one row per feature."""
        rows = [self.op, *sorted(self.features)]
        return [
            Key(row, self.adapter, self.api, self.dtype, self.status, self.divergences, self.unchecked) for row in rows
        ]


class _RunFields(TypedDict):
    """The fields of an :class:`Outcome` that say how a supported case ran."""

    covered_by: tuple[str, ...]
    seconds: float
    route: str
    plan: str


class EquivalenceError(AssertionError):
    """A framework result outside the reference's error bound, with a reproduction."""

    def __init__(self, outcome: Outcome):
        self.outcome = outcome
        super().__init__(outcome.detail)


_VERSIONS: dict[str, dict[str, str]] = {}


def adapter_versions(impl: Adapter) -> dict[str, str]:
    """Installed versions per adapter, asked once per process."""
    if impl.name not in _VERSIONS:
        _VERSIONS[impl.name] = impl.versions()
    return _VERSIONS[impl.name]


def selector(impl: Adapter) -> str:
    """What selects this adapter again: the spec it was loaded by, else ``module:Class``."""
    spec = getattr(impl, "spec", None)
    return spec or f"{type(impl).__module__}:{type(impl).__qualname__}"


def reproduction(adapter: str, example: Example, api: str, dtype: str) -> str:
    return (
        'python -c "from convequiv.equivalence import check; from convequiv.reference.cases import *; '
        f'print(check({adapter!r}, {example!r}, api={api!r}, dtype={dtype!r}))"'
    )


class _ExampleView:
    """``example`` inside a divergence condition: the example's fields, and its data predicates
    evaluated on the exact arrays the framework received (rounded to the tested dtype)."""

    def __init__(self, example: Example, inputs: Inputs):
        self.case, self.seed, self.values, self.name = example.case, example.seed, example.values, example.name
        self._inputs = inputs

    def inputs(self, *_: object) -> Inputs:
        return self._inputs

    def most_in_a_window(self, flag: str = "nan") -> int:
        return predicates.most_in_a_window(self.case, self._inputs.x, flag)

    def fewest_in_a_window(self, flag: str) -> int:
        return predicates.fewest_in_a_window(self.case, self._inputs.x, flag)

    def most_near_max_in_a_window(self, atol: float, rtol: float = 0.0) -> int:
        return predicates.most_near_max_in_a_window(self.case, self._inputs.x, atol, rtol)

    def windows_led_by_padding_with_only(self, flag: str) -> int:
        return predicates.windows_led_by_padding_with_only(self.case, self._inputs.x, flag)


def _describe(
    impl: Adapter,
    plan: Plan,
    example: Example,
    problems: list[ArrayMismatch],
    note: str = "",
    unchecked: tuple[str, ...] = (),
) -> str:
    lines = [f"{impl.name} ({plan.api}, {plan.dtype}) {example.case.op}: differs from the reference{note}"]
    lines.append(f"  case: {example!r}")
    lines.append(f"  features: {', '.join(sorted(example.case.features()))}")
    lines.append(f"  reached the framework as: {plan.describe()}")
    lines += [f"  {p}" for p in problems]
    if unchecked:
        lines.append(f"  not checked (the adapter does not produce them): {', '.join(unchecked)}")
    lines.append("  reproduce:")
    lines.append(f"    {reproduction(selector(impl), example, plan.api, plan.dtype)}")
    return "\n".join(lines)


def _applicable(impl: Adapter, plan: Plan, example: Example, inputs: Inputs) -> list[Divergence]:
    view = _ExampleView(example, inputs)
    scope = {"case": example.case, "example": view, "inputs": inputs, "dtype": plan.dtype, "kernels": plan.kernels}
    versions = adapter_versions(impl)
    return [
        d
        for d in recorded()
        if d.matches_check(impl.name, example.case.op, plan.api, plan.dtype, plan.route) and d.applies(scope, versions)
    ]


def applicable_records(impl: Adapter, plan: Plan, example: Example) -> list[Divergence]:
    """The recorded divergences that hold for ``example`` reaching the framework through ``plan``: its
    adapter, op, API, dtype and route, the installed versions and the condition on the example's inputs
    in ``plan.dtype``."""
    return _applicable(impl, plan, example, example.inputs(plan.dtype))


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
    discriminating; recorded divergences then explain nothing). Unsupported cases have their claim
    verified against the framework. A mismatch explained by recorded divergences gives
    ``status="diverge"`` unless ``strict_divergences``; any other mismatch raises
    :class:`EquivalenceError` (or returns a ``"fail"`` outcome when ``raise_on_failure`` is false).
    ``outputs`` restricts the comparison to some outputs (``("y",)`` to judge a forward-only property).
    """
    impl = load(adapter) if isinstance(adapter, str) else adapter
    name = impl.name
    case = example.case
    inputs = example.inputs(dtype, tangents="jvp" in impl.produces)  # tangents only for a JVP
    raw = inputs.astype(dtype)
    plan = impl.support(case, api, dtype)
    if isinstance(plan, Unsupported):
        evidence = impl.prove_unsupported(plan, case, raw, api)
        return Outcome(name, api, dtype, example, "unsupported", f"{plan.reason} [{evidence}]", route="unsupported")
    sem = semantics or impl.semantics(case, api)
    # a record about outputs this adapter does not produce (a jvp, a shape) covers nothing here
    records = [
        d
        for d in _applicable(impl, plan, example, inputs)
        if "crash" in d.outputs or set(d.outputs) & set(impl.produces)
    ]
    covered = tuple(d.id for d in records)
    explaining = records if semantics is None else []

    def verdict(problems: list[ArrayMismatch], seconds: float, unchecked: tuple[str, ...] = ()) -> Outcome:
        base: _RunFields = {"covered_by": covered, "seconds": seconds, "route": plan.route, "plan": plan.describe()}
        if not problems:
            return Outcome(name, api, dtype, example, "agree", unchecked=unchecked, **base)
        crash = problems[0].output == "crash"
        if crash:
            chosen = [d for d in explaining if d.explains_crash(problems[0].exception, problems[0].message)]
        else:
            chosen = explained_by(explaining, (p.output for p in problems))
        ids = tuple(d.id for d in chosen)
        if chosen and not strict_divergences:
            detail = _describe(impl, plan, example, problems, unchecked=unchecked)
            return Outcome(name, api, dtype, example, "diverge", detail, ids, unchecked=unchecked, **base)
        note = f" (explained by {', '.join(ids)}, failing because divergences are strict)" if chosen else ""
        detail = _describe(impl, plan, example, problems, note, unchecked)
        outcome = Outcome(
            name,
            api,
            dtype,
            example,
            "fail",
            detail,
            unchecked=unchecked,
            problems=tuple(problems),
            **base,
        )
        if raise_on_failure:
            raise EquivalenceError(outcome)
        return outcome

    started = time.perf_counter()
    try:
        got = impl.run(plan, raw)
    except Exception as exc:  # a supported case must run: a crash is a failure with a reproduction
        message = str(exc).strip()
        problem = ArrayMismatch(
            "crash",
            f"the framework call raised {type(exc).__name__}: {message[:500]}",
            exception=type(exc).__name__,
            message=message,
        )
        try:
            return verdict([problem], time.perf_counter() - started)
        except EquivalenceError as failure:
            raise failure from exc
    seconds = time.perf_counter() - started
    want, bounds = case.expected_and_bounds(
        inputs, dtype, ties=sem.ties, nan=sem.nan, accumulate=sem.accumulate or None
    )
    if sem.accumulate_gradients != sem.accumulate:  # the derivatives' sums accumulate in another format
        grads = case.bounds(inputs, dtype, ties=sem.ties, nan=sem.nan, accumulate=sem.accumulate_gradients or None)
        bounds.update({k: v for k, v in grads.items() if k in ("dx", "dw", "db", "jvp")})
    if "shape" in impl.produces:  # the output shape the adapter's model declares, compared exactly
        want["shape"] = np.array(case.out_shape, dtype=np.int64)
        bounds["shape"] = np.zeros(len(case.out_shape))
    wanted = [k for k in want if outputs is None or k in outputs]
    checked = [k for k in wanted if k in impl.produces]
    unchecked = tuple(k for k in wanted if k not in impl.produces)
    problems = []
    for key in checked:
        if key not in got:
            problems.append(ArrayMismatch(key, "missing from the adapter's results"))
            continue
        if key != "shape" and got[key].dtype != numpy_dtype(dtype):
            problems.append(ArrayMismatch(key, f"dtype {got[key].dtype}, expected {dtype}"))
            continue
        found = compare(key, got[key], want[key], bounds[key])
        if found:
            problems.append(found)
    return verdict(problems, seconds, unchecked)
