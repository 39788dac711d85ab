"""One schema for the results of a run: tallies, plan routes, speed, divergence coverage, versions.

The pytest plugin accumulates :class:`Tally` counts (also across pytest-xdist workers), writes a
:class:`Results` file (``--results``), and ``convequiv check`` and ``convequiv report`` read the same
file back with :func:`read`. A tally counts checks with one key: the report row (the op, or
``"op: feature"``), the adapter, API, dtype, the status, the recorded divergences that explained a
mismatch, and the outputs left unchecked (an adapter without gradients).

Statuses: ``agree`` (every checked output within the bound), ``diverge`` (mismatches explained by
recorded divergences), ``unsupported`` (the framework cannot express the case; the claim was
proven), ``fail`` (anything else).

Files are JSON with ``"schema": "convequiv-results"`` and ``"version"``; :func:`read` rejects a
corrupt file, another schema or version, and tallies of adapters the file does not list, with a
one-line :class:`ResultsError` naming the file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = "convequiv-results"
VERSION = 2
STATUSES = ("agree", "diverge", "unsupported", "fail")


class ResultsError(ValueError):
    """A results file that cannot be used (one line, naming the file and the problem)."""


@dataclass(frozen=True)
class Key:
    """What a tally counts: checks of one row, adapter, API and dtype that ended alike."""

    row: str
    adapter: str
    api: str
    dtype: str
    status: str
    divergences: tuple[str, ...] = ()
    unchecked: tuple[str, ...] = ()

    @property
    def op(self) -> str:
        return self.row.split(":", 1)[0]


@dataclass(frozen=True)
class DivergenceState:
    """How often a record's condition covered a check, and how often it explained a mismatch."""

    covered: int = 0
    observed: int = 0

    @property
    def state(self) -> str:
        return "observed" if self.observed else "no longer reproduces" if self.covered else "not exercised"


@dataclass
class Results:
    """Everything one run records (see the module docstring)."""

    environment: str = "local"
    created: str = ""
    python: str = ""
    numpy: str = ""
    profile: str = ""
    adapters: dict[str, dict[str, str]] = field(default_factory=dict)
    wall_seconds: float = 0.0
    tallies: Counter[Key] = field(default_factory=Counter)
    #: ``(adapter, op, route) -> checks``: how cases reached each framework.
    routes: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    #: ``(adapter, op) -> (examples run, seconds inside the framework)``.
    speed: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)
    divergences: dict[str, DivergenceState] = field(default_factory=dict)
    #: pytest's outcome counts (passed, failed, skipped, error).
    tests: Counter[str] = field(default_factory=Counter)

    # ------------------------------------------------------------------ accumulate
    def merge(self, other: Results) -> None:
        """Add another process's counts (xdist workers) to this one."""
        self.tallies.update(other.tallies)
        self.routes.update(other.routes)
        for name, versions in other.adapters.items():
            if versions or name not in self.adapters:
                self.adapters[name] = dict(versions)
        self.tests.update(other.tests)
        for key, (n, secs) in other.speed.items():
            old_n, old_secs = self.speed.get(key, (0, 0.0))
            self.speed[key] = (old_n + n, old_secs + secs)
        for div_id, state in other.divergences.items():
            old = self.divergences.get(div_id, DivergenceState())
            self.divergences[div_id] = DivergenceState(old.covered + state.covered, old.observed + state.observed)

    def counts(self) -> Counter[str]:
        """Checks per status, counted once each (the op rows, not the feature rows)."""
        total: Counter[str] = Counter()
        for key, n in self.tallies.items():
            if ":" not in key.row:
                total[key.status] += n
        return total

    def failed(self) -> int:
        return self.counts()["fail"]

    # ---------------------------------------------------------------------- JSON
    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "version": VERSION,
            "environment": self.environment,
            "created": self.created,
            "python": self.python,
            "numpy": self.numpy,
            "profile": self.profile,
            "adapters": self.adapters,
            "wall_seconds": self.wall_seconds,
            "tallies": [
                {**asdict(k), "count": n} for k, n in sorted(self.tallies.items(), key=lambda kv: _order(kv[0]))
            ],
            "routes": [[a, op, route, n] for (a, op, route), n in sorted(self.routes.items())],
            "speed": [[a, op, n, round(secs, 4)] for (a, op), (n, secs) in sorted(self.speed.items())],
            "divergences": {d: asdict(s) for d, s in sorted(self.divergences.items())},
            "tests": dict(sorted(self.tests.items())),
        }

    @classmethod
    def from_json(cls, data: Any, source: str = "<results>") -> Results:
        def need(condition: bool, message: str) -> None:
            if not condition:
                raise ResultsError(f"{source}: {message}")

        need(isinstance(data, dict), "not a JSON object")
        need(data.get("schema") == SCHEMA, f"not a convequiv results file (schema {data.get('schema')!r})")
        version = data.get("version")
        need(isinstance(version, int), f"no schema version ({version!r})")
        need(version <= VERSION, f"schema version {version} is newer than this convequiv reads ({VERSION}); upgrade")
        need(version == VERSION, f"schema version {version} is older than this convequiv reads ({VERSION}); rerun")
        adapters = data.get("adapters", {})
        need(
            isinstance(adapters, dict)
            and all(isinstance(v, dict) and all(isinstance(x, str) for x in v.values()) for v in adapters.values()),
            "'adapters' must map adapter names to {module: version}",
        )
        out = cls(
            environment=str(data.get("environment", "local")),
            created=str(data.get("created", "")),
            python=str(data.get("python", "")),
            numpy=str(data.get("numpy", "")),
            profile=str(data.get("profile", "")),
            adapters=adapters,
            wall_seconds=float(data.get("wall_seconds") or 0.0),
        )
        try:
            for i, raw in enumerate(data.get("tallies", [])):
                key = Key(
                    row=str(raw["row"]),
                    adapter=str(raw["adapter"]),
                    api=str(raw["api"]),
                    dtype=str(raw["dtype"]),
                    status=str(raw["status"]),
                    divergences=tuple(raw.get("divergences", ())),
                    unchecked=tuple(raw.get("unchecked", ())),
                )
                need(key.status in STATUSES, f"tally {i}: unknown status {key.status!r}")
                need(key.adapter in adapters, f"tally {i}: adapter {key.adapter!r} is not listed under 'adapters'")
                need(isinstance(raw["count"], int) and raw["count"] >= 0, f"tally {i}: count must be an int >= 0")
                out.tallies[key] += raw["count"]
            for a, op, route, n in data.get("routes", []):
                out.routes[(str(a), str(op), str(route))] += int(n)
            for a, op, n, secs in data.get("speed", []):
                out.speed[(str(a), str(op))] = (int(n), float(secs))
            for div_id, raw in data.get("divergences", {}).items():
                out.divergences[str(div_id)] = DivergenceState(int(raw["covered"]), int(raw["observed"]))
            out.tests.update({str(k): int(v) for k, v in data.get("tests", {}).items()})
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ResultsError):
                raise
            raise ResultsError(f"{source}: malformed entry ({type(exc).__name__}: {exc})") from None
        return out


def _order(key: Key) -> tuple[str, ...]:
    return (key.row, key.adapter, key.api, key.dtype, key.status, *key.divergences)


def read(path: Path) -> Results:
    """A results file; :class:`ResultsError` (one line) when it cannot be used."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ResultsError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    return Results.from_json(data, str(path))


def write(results: Results, path: Path) -> None:
    """Write atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w") as fh:
        json.dump(results.to_json(), fh, indent=1)
        fh.write("\n")
    os.replace(tmp, path)


# -------------------------------------------------------------------------------- cells
@dataclass
class Cell:
    """The checks of one row and one adapter (or several), summed over APIs and dtypes."""

    statuses: Counter[str] = field(default_factory=Counter)
    divergences: Counter[str] = field(default_factory=Counter)
    unchecked: Counter[str] = field(default_factory=Counter)

    def add(self, key: Key, n: int) -> None:
        self.statuses[key.status] += n
        for d in key.divergences:
            self.divergences[d] += n
        if key.status in ("agree", "diverge"):
            for output in key.unchecked:
                self.unchecked[output] += n

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    @property
    def state(self) -> str:
        """The worst news: ``fail``, ``diverge``, ``unsupported``, ``agree``, or ``none``."""
        for status in ("fail", "diverge", "unsupported", "agree"):
            if self.statuses[status]:
                return status
        return "none"


def matrix(tallies: Iterable[tuple[Key, int]], *, features: bool = True) -> dict[str, dict[str, Cell]]:
    """``{row: {adapter: Cell}}``; ``features=False`` keeps the op rows only."""
    table: dict[str, dict[str, Cell]] = {}
    for key, n in tallies:
        if not features and ":" in key.row:
            continue
        table.setdefault(key.row, {}).setdefault(key.adapter, Cell()).add(key, n)
    return table
