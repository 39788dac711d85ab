"""pytest plugin of the equivalence suite (loaded by the repository's ``conftest.py``).

Options (each also read from an environment variable):

``--adapters SPEC,...`` / ``CONVEQUIV_ADAPTERS``
    adapters to check (see :mod:`convequiv.adapters`); default: every installed one. An adapter that was
    asked for but is unknown or cannot be imported is a usage error, never a silent skip.
    ``none`` selects no adapter (reference-only run).
``--hypothesis-profile NAME`` / ``CONVEQUIV_PROFILE``
    ``dev`` (default, quick), ``ci`` (derandomized, no deadline, 100 examples per property),
    ``thorough`` (500) or ``nightly`` (3000).
``--compiled-examples N`` / ``CONVEQUIV_COMPILED_EXAMPLES``
    examples per property for adapters that compile every new case (``Adapter.compiles_per_case``:
    ``jax``, ``keras[jax]``); default from the profile: dev 10, ci 100, thorough 200, nightly 600.
    XLA compiles each new shape in 0.1-0.5 s on a CPU, so these adapters run 10-50x fewer examples
    per second than eager ones; the smaller budgets keep quick runs quick (numbers in
    ``docs/benchmarks.md``). The ``ci`` profile keeps 100 for them too. The pinned edge cases
    run in full either way.
``--strict-divergences`` / ``CONVEQUIV_STRICT_DIVERGENCES=1``
    recorded divergences fail like any other mismatch.
``--results FILE`` / ``CONVEQUIV_RESULTS``
    write every tally of the run (and the installed versions) as JSON, for ``convequiv report``.

Tests mark the ops they check (``@pytest.mark.ops("conv")``) and request the fixtures
``adapter``, ``api`` and ``dtype`` (parametrized over the selection;
each adapter also gets a marker: ``-m torch``, ``-m keras_jax``...) and ``equivalence``, whose
``check(...)`` runs :func:`convequiv.equivalence.check` and records the outcome. The terminal
summary prints the op x adapter matrix, the recorded divergences observed and those that no
longer reproduce, and examples per second per adapter.
"""

from __future__ import annotations

import json
import os
import platform
import re
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, settings

from convequiv import adapters
from convequiv.adapters.base import Adapter

from .equivalence import EquivalenceError, Outcome, check, recorded_divergences

PROFILES = {
    "dev": {"max_examples": 25, "deadline": None},
    "ci": {"max_examples": 100, "deadline": None, "derandomize": True, "print_blob": True, "database": None},
    "thorough": {"max_examples": 500, "deadline": None},
    "nightly": {"max_examples": 3000, "deadline": None, "phases": list(Phase)},
}
#: Examples per property for adapters with ``compiles_per_case`` (see ``--compiled-examples``).
COMPILED_EXAMPLES = {"dev": 10, "ci": 100, "thorough": 200, "nightly": 600}
_SHARED = {
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.differing_executors,
    ]
}
for _name, _values in PROFILES.items():
    settings.register_profile(_name, **_values, **_SHARED)

_PROPERTY_KEY = "convequiv"


def marker_name(spec: str) -> str:
    """``keras[jax]`` -> ``keras_jax`` (a valid pytest marker)."""
    return re.sub(r"[^0-9a-zA-Z]+", "_", spec).strip("_")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("convequiv")
    group.addoption(
        "--adapters", default=os.environ.get("CONVEQUIV_ADAPTERS"), help="comma-separated adapter specs, or 'none'"
    )
    group.addoption(
        "--strict-divergences",
        action="store_true",
        default=os.environ.get("CONVEQUIV_STRICT_DIVERGENCES", "") not in ("", "0"),
        help="fail on recorded divergences too",
    )
    group.addoption(
        "--compiled-examples",
        type=int,
        default=int(os.environ.get("CONVEQUIV_COMPILED_EXAMPLES") or 0) or None,
        help="examples per property for adapters that compile every case (default: from the profile)",
    )
    group.addoption(
        "--results", default=os.environ.get("CONVEQUIV_RESULTS"), help="write the run's tallies as JSON to this file"
    )


class Suite:
    """Per-process state: the selected adapters and this process's tallies."""

    def __init__(self, config: pytest.Config):
        self.config = config
        raw = config.getoption("--adapters")
        self.explicit = raw is not None
        if raw is None:
            self.specs = adapters.available_specs()
        elif raw.strip().lower() in ("", "none"):
            self.specs = []
        else:
            self.specs = [s.strip() for s in raw.split(",") if s.strip()]
        self.strict = bool(config.getoption("--strict-divergences"))
        chosen = config.getoption("--compiled-examples")
        if chosen is not None and chosen < 1:
            raise pytest.UsageError(f"--compiled-examples must be at least 1, got {chosen}")
        self._compiled_examples: int | None = chosen
        self._loaded: dict[str, Adapter] = {}
        self._warm: set[str] = set()
        self.tallies: Counter[tuple] = Counter()
        self.seconds: Counter[tuple] = Counter()
        self.coverage: Counter[tuple] = Counter()
        self.failures: list[str] = []

    @property
    def compiled_examples(self) -> int:
        """Examples per property for adapters that compile every case (read once the profile is loaded)."""
        if self._compiled_examples is not None:
            return self._compiled_examples
        return COMPILED_EXAMPLES.get(settings._current_profile or "", settings.default.max_examples)

    def adapter(self, spec: str) -> Adapter:
        if spec not in self._loaded:
            try:
                self._loaded[spec] = adapters.load(spec)
            except adapters.AdapterError as exc:
                raise pytest.UsageError(f"--adapters: {exc}") from exc
        impl = self._loaded[spec]
        if spec not in self._warm:
            impl.warm_up()
            self._warm.add(spec)
        return impl

    def record(self, outcome: Outcome) -> None:
        op = outcome.op
        status = outcome.status
        rows = [op, *sorted(outcome.features)]
        for row in rows:
            self.tallies[(row, outcome.adapter, outcome.api, outcome.dtype, status, outcome.divergence)] += 1
        if status in ("agree", "diverge", "fail"):
            self.seconds[(outcome.adapter, op)] += outcome.seconds
            self.coverage[(outcome.adapter, op, "runs")] += 1
        for div in outcome.covered_by:
            self.coverage[(div, "covered", "")] += 1
        if outcome.divergence:
            self.coverage[(outcome.divergence, "observed", "")] += 1

    def drain(self) -> dict[str, Any]:
        """Tallies since the last drain, as JSON-friendly lists (sent along with a test report)."""
        data = {
            "tallies": [[*k, v] for k, v in self.tallies.items()],
            "seconds": [[*k, v] for k, v in self.seconds.items()],
            "coverage": [[*k, v] for k, v in self.coverage.items()],
        }
        self.tallies, self.seconds, self.coverage = Counter(), Counter(), Counter()
        return data


class Totals:
    """Merged tallies of every process (xdist workers included), kept by the controlling process."""

    def __init__(self) -> None:
        self.tallies: Counter[tuple] = Counter()
        self.seconds: Counter[tuple] = Counter()
        self.coverage: Counter[tuple] = Counter()
        self.test_outcomes: Counter[str] = Counter()
        self.started = time.time()

    def merge(self, data: dict[str, Any]) -> None:
        for *key, value in data["tallies"]:
            self.tallies[tuple(key)] += value
        for *key, value in data["seconds"]:
            self.seconds[tuple(key)] += value
        for *key, value in data["coverage"]:
            self.coverage[tuple(key)] += value


_suite_key = pytest.StashKey[Suite]()
_totals_key = pytest.StashKey[Totals]()


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("hypothesis_profile", None) is None:
        profile = os.environ.get("CONVEQUIV_PROFILE", "dev")
        if profile not in PROFILES:
            raise pytest.UsageError(f"CONVEQUIV_PROFILE={profile!r}; choose one of {', '.join(PROFILES)}")
        settings.load_profile(profile)
    suite = Suite(config)
    config.stash[_suite_key] = suite
    config.stash[_totals_key] = Totals()
    for spec in adapters.DEFAULT_SPECS + tuple(suite.specs):
        config.addinivalue_line("markers", f"{marker_name(spec)}: checks of the {spec} adapter")
    config.addinivalue_line("markers", "ops(*names): the ops a test checks (selects each adapter's APIs for them)")
    # PyTorch notes that it copies the input for "same" padding with an even kernel: expected here.
    config.addinivalue_line("filterwarnings", "ignore:Using padding='same' with even kernel lengths:UserWarning")
    if not _is_worker(config):
        config.pluginmanager.register(Reporter(config), "convequiv-reporter")
    if suite.explicit:
        for spec in suite.specs:  # fail fast on unknown or unimportable adapters
            suite.adapter(spec)


def pytest_report_header(config: pytest.Config) -> list[str]:
    suite = config.stash[_suite_key]
    lines = [
        f"convequiv: numpy {np.__version__}, python {platform.python_version()}, "
        f"hypothesis profile {settings._current_profile}",
        f"convequiv: keras backend of this process: {adapters.keras_backend_of_this_process() or 'not chosen'}",
        f"convequiv: adapters: {', '.join(suite.specs) or 'none (reference only)'}"
        + ("" if suite.explicit else " (every installed one)"),
    ]
    for spec in suite.specs:
        try:
            lines.append(f"convequiv:   {spec}: {suite.adapter(spec).describe()}")
        except pytest.UsageError:
            raise
        except Exception as exc:  # pragma: no cover - shows up in the header instead of crashing it
            lines.append(f"convequiv:   {spec}: cannot describe ({exc})")
    compiled = [spec for spec in suite.specs if suite.adapter(spec).compiles_per_case]
    if compiled:
        lines.append(
            f"convequiv: {', '.join(compiled)} compile every case: {suite.compiled_examples} examples per property "
            f"(others {settings.default.max_examples})"
        )
    lines.append(f"convequiv: recorded divergences: {len(recorded_divergences())}; strict: {suite.strict}")
    return lines


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "adapter" not in metafunc.fixturenames:
        return
    suite = metafunc.config.stash[_suite_key]
    dtypes_wanted = "dtype" in metafunc.fixturenames
    marker = metafunc.definition.get_closest_marker("ops")
    ops = marker.args if marker else ()
    params = []
    for spec in suite.specs:
        impl = suite.adapter(spec)
        if "api" not in metafunc.fixturenames:
            apis: tuple = (None,)
        elif ops:
            apis = tuple(dict.fromkeys(a for op in ops for a in impl.apis_for(op)))
        else:
            apis = impl.apis
        dtypes = impl.dtypes if dtypes_wanted else (None,)
        for api in apis:
            for dtype in dtypes:
                values = [spec] + ([api] if api is not None else []) + ([dtype] if dtype is not None else [])
                ident = "-".join(values)
                params.append(pytest.param(*values, id=ident, marks=getattr(pytest.mark, marker_name(spec))))
    names = ["adapter"] + (["api"] if "api" in metafunc.fixturenames else []) + (["dtype"] if dtypes_wanted else [])
    if not params:
        params = [pytest.param(*([None] * len(names)), marks=pytest.mark.skip(reason="no adapter selected"))]
    metafunc.parametrize(names, params, indirect=["adapter"])


@pytest.fixture(scope="session")
def convequiv_suite(request: pytest.FixtureRequest) -> Suite:
    return request.config.stash[_suite_key]


@pytest.fixture
def adapter(request: pytest.FixtureRequest, convequiv_suite: Suite) -> Adapter:
    return convequiv_suite.adapter(request.param)


class Equivalence:
    """What tests call: ``equivalence.check(adapter, example, api=..., dtype=...)``."""

    def __init__(self, suite: Suite):
        self.suite = suite

    def check(self, adapter: Adapter, example, *, api: str, dtype: str, **kwargs: Any) -> Outcome:
        kwargs.setdefault("strict_divergences", self.suite.strict)
        try:
            outcome = check(adapter, example, api=api, dtype=dtype, **kwargs)
        except EquivalenceError as exc:
            if "semantics" not in kwargs:
                self.suite.record(exc.outcome)
            raise
        if "semantics" not in kwargs:
            self.suite.record(outcome)
        return outcome


@pytest.fixture(scope="session")
def equivalence(convequiv_suite: Suite) -> Equivalence:
    return Equivalence(convequiv_suite)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Give properties of adapters that compile every case the smaller example budget.

    Hypothesis reads a test's settings when the test is called, from the attribute ``given``
    stores on the wrapper; the parametrizations share that wrapper, so it is set per item and
    restored afterwards."""
    spec = getattr(item, "callspec", None) and item.callspec.params.get("adapter")
    test = getattr(item, "obj", None)
    current = getattr(test, "_hypothesis_internal_use_settings", None)
    suite = item.config.stash[_suite_key]
    if not spec or current is None or not suite.adapter(spec).compiles_per_case:
        yield
        return
    test._hypothesis_internal_use_settings = settings(current, max_examples=suite.compiled_examples)  # type: ignore[union-attr]
    try:
        yield
    finally:
        test._hypothesis_internal_use_settings = current  # type: ignore[union-attr]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    outcome = yield
    report = outcome.get_result()
    if report.when == "teardown":
        data = item.config.stash[_suite_key].drain()
        if data["tallies"] or data["coverage"]:
            report.user_properties.append((_PROPERTY_KEY, json.dumps(data)))


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def summarize(totals: Totals) -> dict[str, Any]:
    """The run's matrix: ``{row: {adapter: {status: count, "divergences": {...}}}}`` and more."""
    matrix: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for (row, adapter, _api, _dtype, status, divergence), count in totals.tallies.items():
        cell = matrix[row][adapter]
        cell[status] += count
        if divergence:
            cell[f"divergence:{divergence}"] += count
    speed = {}
    for (adapter, op), secs in totals.seconds.items():
        runs = totals.coverage.get((adapter, op, "runs"), 0)
        speed[f"{adapter} {op}"] = {
            "examples": runs,
            "seconds": round(secs, 3),
            "per_second": round(runs / secs, 1) if secs else None,
        }
    divergences = {}
    for div in recorded_divergences():
        covered = totals.coverage.get((div.id, "covered", ""), 0)
        observed = totals.coverage.get((div.id, "observed", ""), 0)
        state = "observed" if observed else ("no longer reproduces" if covered else "not exercised")
        divergences[div.id] = {
            "covered": covered,
            "observed": observed,
            "state": state,
            "adapter": div.adapter,
            "op": div.op,
        }
    return {
        "matrix": {row: {a: dict(c) for a, c in cells.items()} for row, cells in matrix.items()},
        "speed": speed,
        "divergences": divergences,
    }


def cell_text(cell: dict[str, int]) -> str:
    """One matrix cell, worst news first: ``FAILED (n)``, then ``diverges: id (n)``, then
    ``agrees (n)`` and ``unsupported (n)``; ``-`` when nothing ran."""
    parts = []
    if cell.get("fail"):
        parts.append(f"FAILED ({cell['fail']})")
    divs = sorted((k.split(":", 1)[1], v) for k, v in cell.items() if k.startswith("divergence:"))
    if divs:
        parts.append("diverges: " + ", ".join(f"{d} ({n})" for d, n in divs))
    if cell.get("agree"):
        parts.append(f"agrees ({cell['agree']})")
    if cell.get("unsupported"):
        parts.append(f"unsupported ({cell['unsupported']})")
    return "; ".join(parts) or "-"


class Reporter:
    """Merges every process's tallies (from test reports) and prints the summary at the end."""

    def __init__(self, config: pytest.Config):
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        totals = self.config.stash[_totals_key]
        for key, value in report.user_properties:
            if key == _PROPERTY_KEY:
                totals.merge(json.loads(value))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        config = self.config
        totals = config.stash[_totals_key]
        if not totals.tallies:
            return
        summary = summarize(totals)
        write = terminalreporter.write_line
        terminalreporter.section("convequiv: op x adapter")
        ops = sorted(r for r in summary["matrix"] if ":" not in r)
        adapters_seen = sorted({a for cells in summary["matrix"].values() for a in cells})
        width = max(len(o) for o in ops) + 2
        write("".ljust(width) + " | ".join(a.ljust(24) for a in adapters_seen))
        for op in ops:
            cells = summary["matrix"][op]
            write(op.ljust(width) + " | ".join(cell_text(cells.get(a, {})).ljust(24) for a in adapters_seen))
        terminalreporter.section("convequiv: recorded divergences")
        for div_id, info in summary["divergences"].items():
            write(f"{div_id}: {info['state']} (covered {info['covered']}, observed {info['observed']})")
        terminalreporter.section("convequiv: examples per second")
        for key, info in sorted(summary["speed"].items()):
            write(f"{key}: {info['examples']} examples, {info['per_second']}/s in the framework")
        results = config.getoption("--results")
        if results:
            write_results(Path(results), totals, config)
            write(f"convequiv: results written to {results}")


def write_results(path: Path, totals: Totals, config: pytest.Config) -> None:
    suite = config.stash[_suite_key]
    versions = {}
    for spec in suite.specs:
        try:
            versions[spec] = suite.adapter(spec).versions()
        except Exception as exc:  # pragma: no cover
            versions[spec] = {"error": str(exc)}
    payload = {
        "environment": os.environ.get("CONVEQUIV_ENV_NAME", "local"),
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "profile": settings._current_profile,
        "adapters": versions,
        "wall_seconds": round(time.time() - totals.started, 1),
        "tallies": [[*k, v] for k, v in totals.tallies.items()],
        **summarize(totals),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, sort_keys=True))
