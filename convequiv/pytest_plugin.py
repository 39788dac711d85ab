"""pytest plugin of the equivalence suite (registered through the ``pytest11`` entry point).

The plugin stays dormant in other projects' test runs: it adds its options, but registers its
Hypothesis profiles, prints its header and summary and loads adapters only when the run concerns
the suite: a ``convequiv`` option or ``CONVEQUIV_*`` variable is given, the arguments name
``convequiv.suite`` (``pytest --pyargs convequiv.suite``) or ``convequiv/suite``, or the run is in
convequiv's own repository.

Options (each also an environment variable; resolved once by :mod:`convequiv.settings`):

``--adapters SPEC,...`` / ``CONVEQUIV_ADAPTERS``
    adapters to check (see :mod:`convequiv.adapters`); default: every installed one. An adapter
    that was asked for but is unknown or cannot be imported is a usage error, never a silent skip.
    ``none`` selects no adapter (reference-only run).
``--hypothesis-profile NAME`` / ``CONVEQUIV_PROFILE``
    ``ci`` (default: derandomized, 100 examples per property), ``dev`` (25, random),
    ``thorough`` (500) or ``nightly`` (3000).
``--compiled-examples N`` / ``CONVEQUIV_COMPILED_EXAMPLES``
    examples per property for adapters that compile every new case (``jax``, ``keras[jax]``);
    default from the profile: dev 10, ci 100, thorough 200, nightly 600.
``--strict-divergences`` / ``CONVEQUIV_STRICT_DIVERGENCES=1``
    recorded divergences fail like any other mismatch.
``--results FILE`` / ``CONVEQUIV_RESULTS``
    write the run's results (:mod:`convequiv.results`) as JSON, for ``convequiv report``.
``--hypothesis-database DIR`` / ``CONVEQUIV_DATABASE``
    where Hypothesis keeps failing examples (default: Hypothesis' own, ``.hypothesis/``).

Tests mark the ops they check (``@pytest.mark.ops("conv")``) and request the fixtures
``adapter``, ``api`` and ``dtype`` (parametrized over the selection; each adapter also gets a
marker: ``-m torch``, ``-m keras_jax``...) and ``equivalence``, whose ``check(...)`` runs
:func:`convequiv.equivalence.check` and records the outcome.
"""

from __future__ import annotations

import json
import os
import platform
import re
import time
from pathlib import Path
from typing import Any

import pytest

from .settings import ENVIRONMENT, PROFILES, Settings, SettingsError, resolve

_PROPERTY_KEY = "convequiv"
_state_key = pytest.StashKey["Suite"]()


def marker_name(spec: str) -> str:
    """``keras[jax]`` -> ``keras_jax`` (a valid pytest marker)."""
    return re.sub(r"[^0-9a-zA-Z]+", "_", spec).strip("_")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("convequiv", "convequiv equivalence suite")
    group.addoption("--adapters", default=None, help="comma-separated adapter specs, or 'none' (CONVEQUIV_ADAPTERS)")
    group.addoption("--strict-divergences", action="store_true", default=None, help="fail on recorded divergences too")
    group.addoption(
        "--compiled-examples", type=int, default=None, help="examples per property for adapters that compile every case"
    )
    group.addoption("--results", default=None, help="write the run's results as JSON to this file")
    group.addoption("--hypothesis-database", default=None, help="directory of Hypothesis' example database")


def _concerns_the_suite(config: pytest.Config) -> bool:
    options = ("adapters", "strict_divergences", "compiled_examples", "results", "hypothesis_database")
    if any(getattr(config.option, o, None) not in (None, False) for o in options):
        return True
    if any(os.environ.get(v) for v in ENVIRONMENT.values()):
        return True
    if any("convequiv.suite" in a or "convequiv/suite" in a for a in config.invocation_params.args):
        return True
    return (Path(config.rootpath) / "convequiv" / "suite").is_dir()


@pytest.hookimpl(tryfirst=True)  # before Hypothesis' own plugin loads --hypothesis-profile
def pytest_configure(config: pytest.Config) -> None:
    if not _concerns_the_suite(config):
        return
    try:
        settings = resolve(
            {
                "adapters": config.getoption("--adapters"),
                "profile": config.getoption("hypothesis_profile", None),
                "compiled_examples": config.getoption("--compiled-examples"),
                "strict": config.getoption("--strict-divergences"),
                "results": config.getoption("--results"),
                "database": config.getoption("--hypothesis-database"),
            }
        )
    except SettingsError as exc:
        raise pytest.UsageError(str(exc)) from None
    _register_profiles(settings)
    suite = Suite(config, settings)
    config.stash[_state_key] = suite
    from convequiv.adapters import DEFAULT_SPECS

    for spec in DEFAULT_SPECS + tuple(suite.specs):
        config.addinivalue_line("markers", f"{marker_name(spec)}: checks of the {spec} adapter")
    config.addinivalue_line("markers", "ops(*names): the ops a test checks (selects each adapter's APIs for them)")
    # PyTorch notes that it copies the input for "same" padding with an even kernel: expected here.
    config.addinivalue_line("filterwarnings", "ignore:Using padding='same' with even kernel lengths:UserWarning")
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(Reporter(config), "convequiv-reporter")
    if settings.explicit_adapters:
        for spec in suite.specs:  # fail fast on unknown or unimportable adapters
            suite.adapter(spec)


def _register_profiles(settings: Settings) -> None:
    from hypothesis import HealthCheck
    from hypothesis import settings as hypothesis_settings
    from hypothesis.database import DirectoryBasedExampleDatabase

    database: DirectoryBasedExampleDatabase | None = None
    if settings.database is not None:
        database = DirectoryBasedExampleDatabase(str(settings.database))
    shared: dict[str, Any] = {
        "deadline": None,
        "print_blob": True,
        "suppress_health_check": [
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
    }
    for name, values in PROFILES.items():
        extra: dict[str, object] = {}
        if values.get("derandomize"):
            extra["database"] = None  # the same examples on every run: nothing to store or replay
        elif database is not None:
            extra["database"] = database
        hypothesis_settings.register_profile(name, **values, **shared, **extra)  # type: ignore[arg-type]
    hypothesis_settings.load_profile(settings.profile)


def _suite(config: pytest.Config) -> Suite | None:
    return config.stash.get(_state_key, None)


class Suite:
    """Per-process state: the settings, the selected adapters and this process's results."""

    def __init__(self, config: pytest.Config, settings: Settings):
        from convequiv.adapters import available_specs
        from convequiv.results import Results

        self.config = config
        self.settings = settings
        self.specs = list(settings.adapters) if settings.adapters is not None else available_specs()
        self._loaded: dict[str, Any] = {}
        self._warm: set[str] = set()
        self.pending = Results()

    @property
    def strict(self) -> bool:
        return self.settings.strict

    def adapter(self, spec: str) -> Any:
        from convequiv.adapters import AdapterError, load

        if spec not in self._loaded:
            try:
                self._loaded[spec] = load(spec)
            except AdapterError as exc:
                raise pytest.UsageError(f"--adapters: {exc}") from exc
        impl = self._loaded[spec]
        if spec not in self._warm:
            impl.warm_up()
            self._warm.add(spec)
        return impl

    def loaded(self) -> list[Any]:
        """The adapters this process has loaded (a run that checks nothing loads none)."""
        return list(self._loaded.values())

    def record(self, outcome: Any, impl: Any) -> None:
        from convequiv.equivalence import adapter_versions
        from convequiv.results import DivergenceState

        results = self.pending
        for key in outcome.tally_keys():
            results.tallies[key] += 1
        results.adapters[outcome.adapter] = adapter_versions(impl)
        if outcome.status in ("agree", "diverge", "fail"):
            n, secs = results.speed.get((outcome.adapter, outcome.op), (0, 0.0))
            results.speed[(outcome.adapter, outcome.op)] = (n + 1, secs + outcome.seconds)
        results.routes[(outcome.adapter, outcome.op, outcome.route)] += 1
        for div in outcome.covered_by:
            old = results.divergences.get(div, DivergenceState())
            observed = old.observed + (div in outcome.divergences)
            results.divergences[div] = DivergenceState(old.covered + 1, observed)

    def drain(self) -> dict[str, Any] | None:
        """This process's results since the last drain (sent along with a test report)."""
        from convequiv.results import Results

        if not self.pending.tallies and not self.pending.divergences:
            return None
        data = self.pending.to_json()
        self.pending = Results()
        return data


def pytest_report_header(config: pytest.Config) -> list[str]:
    suite = _suite(config)
    if suite is None:
        return []
    import numpy as np

    from convequiv.adapters import keras_backend_of_this_process
    from convequiv.divergences import recorded

    settings = suite.settings
    lines = [
        f"convequiv: numpy {np.__version__}, python {platform.python_version()}, "
        f"profile {settings.profile} ({settings.max_examples} examples per property)",
        f"convequiv: keras backend of this process: {keras_backend_of_this_process() or 'not chosen'}",
        f"convequiv: adapters: {', '.join(suite.specs) or 'none (reference only)'}"
        + ("" if settings.explicit_adapters else " (every installed one)"),
    ]
    lines.append(
        f"convequiv: adapters that compile every case (jax, keras[jax], torch/compile, tensorflow/xla): "
        f"{settings.examples_when_compiling} examples per property (compiled variants: as several value draws "
        "per case); versions are listed in the summary"
    )
    lines.append(f"convequiv: recorded divergences: {len(recorded())}; strict: {settings.strict}")
    return lines


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "adapter" not in metafunc.fixturenames:
        return
    suite = _suite(metafunc.config)
    names = ["adapter"] + [n for n in ("api", "dtype") if n in metafunc.fixturenames]
    params = []
    marker = metafunc.definition.get_closest_marker("ops")
    ops = marker.args if marker else ()
    for spec in suite.specs if suite else ():
        impl = suite.adapter(spec)  # type: ignore[union-attr]
        if "api" not in metafunc.fixturenames:
            apis: tuple[str | None, ...] = (None,)
        elif ops:
            apis = tuple(dict.fromkeys(a for op in ops for a in impl.checked_apis(op)))
        else:
            apis = impl.apis
        dtypes: tuple[str | None, ...] = impl.dtypes if "dtype" in metafunc.fixturenames else (None,)
        for api in apis:
            for dtype in dtypes:
                values = [v for v in (spec, api, dtype) if v is not None]
                mark = getattr(pytest.mark, marker_name(spec))
                params.append(pytest.param(*values, id="-".join(values), marks=mark))
    if not params:
        params = [pytest.param(*([None] * len(names)), marks=pytest.mark.skip(reason="no adapter selected"))]
    metafunc.parametrize(names, params, indirect=["adapter"])


@pytest.fixture(scope="session")
def convequiv_suite(request: pytest.FixtureRequest) -> Suite:
    suite = _suite(request.config)
    if suite is None:
        pytest.skip("the convequiv plugin is not active in this run")
    return suite


@pytest.fixture
def adapter(request: pytest.FixtureRequest, convequiv_suite: Suite) -> Any:
    return convequiv_suite.adapter(request.param)


class Equivalence:
    """What tests call: ``equivalence.check(adapter, example, api=..., dtype=...)``."""

    def __init__(self, suite: Suite):
        self.suite = suite

    def check(self, adapter: Any, example: Any, *, api: str, dtype: str, **kwargs: Any) -> Any:
        """Check ``example``; for an adapter with ``draws_per_case > 1`` (a compiled variant: one
        compilation, many inputs) also the further value draws of its case
        (:func:`convequiv.draws.case_draws`), each recorded as an example."""
        from convequiv.draws import case_draws
        from convequiv.equivalence import EquivalenceError, check

        kwargs.setdefault("strict_divergences", self.suite.strict)
        recorded = "semantics" not in kwargs and "outputs" not in kwargs
        key = (getattr(adapter, "name", None), repr(example), api, dtype)
        draws = case_draws(example, adapter, key) if recorded else iter([example])
        for drawn in draws:
            try:
                outcome = check(adapter, drawn, api=api, dtype=dtype, **kwargs)
            except EquivalenceError as exc:
                if recorded:
                    self.suite.record(exc.outcome, adapter)
                raise
            if recorded:
                self.suite.record(outcome, adapter)
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
    suite = _suite(item.config)
    spec = getattr(item, "callspec", None) and item.callspec.params.get("adapter")  # type: ignore[attr-defined]
    test = getattr(item, "obj", None)
    current = getattr(test, "_hypothesis_internal_use_settings", None)
    if suite is None or not spec or current is None or not suite.adapter(spec).compiles_per_case:
        yield
        return
    from hypothesis import settings as hypothesis_settings

    # a compiled variant that checks several value draws per case needs fewer cases for the same checks
    draws = max(1, int(getattr(suite.adapter(spec), "draws_per_case", 1)))
    budget = -(-suite.settings.examples_when_compiling // draws)
    test._hypothesis_internal_use_settings = hypothesis_settings(current, max_examples=budget)  # type: ignore[union-attr]
    try:
        yield
    finally:
        test._hypothesis_internal_use_settings = current  # type: ignore[union-attr]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    suite = _suite(item.config)
    if suite is not None and report.when == "teardown":
        data = suite.drain()
        if data:
            report.user_properties.append((_PROPERTY_KEY, json.dumps(data)))


class Reporter:
    """Merges every process's results (from test reports) and prints the summary at the end."""

    def __init__(self, config: pytest.Config):
        from convequiv.results import Results

        self.config = config
        self.started = time.time()
        self.results = Results()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        from convequiv.results import Results

        for key, value in report.user_properties:
            if key == _PROPERTY_KEY:
                self.results.merge(Results.from_json(json.loads(str(value)), "worker"))
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            self.results.tests[report.outcome] += 1
            self._progress(f"{report.outcome} {report.nodeid}")

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not hasattr(self.config, "workerinput"):
            self._progress(f"collected {len(session.items)}")

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self._progress(f"collected {len(ids)}")

    def _progress(self, line: str) -> None:
        """One line per event to the file ``CONVEQUIV_PROGRESS`` names (``convequiv check`` shows it)."""
        path = os.environ.get("CONVEQUIV_PROGRESS")
        if path:
            with open(path, "a") as fh:
                fh.write(line + "\n")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from convequiv import terminal
        from convequiv.divergences import recorded

        suite = _suite(self.config)
        assert suite is not None
        results = self.finish(suite)
        if results.tallies:
            write = terminalreporter.write_line
            terminalreporter.section("convequiv: adapters x ops")
            for name, versions in sorted(results.adapters.items()):
                write(f"{name}: {', '.join(f'{k} {v}' for k, v in versions.items())}")
            for line in terminal.matrix_lines(results):
                write(line)
            terminalreporter.section("convequiv: recorded divergences")
            for line in terminal.divergence_lines(results, recorded()):
                write(line)
            terminalreporter.section("convequiv: examples per second")
            for line in terminal.speed_lines(results):
                write(line)
        if suite.settings.results is not None:
            from convequiv.results import write as write_results

            write_results(results, suite.settings.results)
            terminalreporter.write_line(f"convequiv: results written to {suite.settings.results}")

    def finish(self, suite: Suite) -> Any:
        """The merged results with the run's environment: versions, profile, wall time."""
        import numpy as np

        results = self.results
        for impl in suite.loaded():
            results.adapters.setdefault(impl.name, impl.versions())
        results.environment = os.environ.get("CONVEQUIV_ENV_NAME", "local")
        results.created = time.strftime("%Y-%m-%d %H:%M:%S")
        results.python = platform.python_version()
        results.numpy = np.__version__
        results.profile = suite.settings.profile
        results.wall_seconds = round(time.time() - self.started, 1)
        return results
