"""The environments of a report: one results file each, read with :func:`convequiv.results.read`,
named by its ``environment`` (the file name is added where two share a name), in column order."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..divergences import adapter_matches
from ..results import DivergenceState, Results, ResultsError, read
from .text import adapter_key, environment_key, framework_key, slug


class ReportError(Exception):
    """A results folder the report cannot use (a file's own problems are a ResultsError)."""


@dataclass(frozen=True, eq=False)
class Environment:
    """One results file: its column name, file name and contents."""

    name: str
    source: str
    results: Results = field(repr=False)

    @property
    def slug(self) -> str:
        return slug(self.name)

    @property
    def adapters(self) -> dict[str, dict[str, str]]:
        return self.results.adapters

    def version(self, framework: str, adapter_pattern: str = "*") -> str | None:
        """Installed version of import name ``framework``, preferring adapters matching the pattern."""
        specs = sorted(self.adapters)
        preferred = [spec for spec in specs if adapter_matches(spec, adapter_pattern)]
        for spec in preferred + specs:
            found = self.adapters[spec].get(framework)
            if found and found != "not installed":
                return found
        return None

    def frameworks(self) -> dict[str, str]:
        """Every installed framework (import name -> version) over all adapters, in display order."""
        found: dict[str, str] = {}
        for spec in sorted(self.adapters):
            for name, version in self.adapters[spec].items():
                if name != "error" and version != "not installed":
                    found.setdefault(name, version)
        return {name: found[name] for name in sorted(found, key=framework_key)}

    def has_adapter(self, pattern: str) -> bool:
        return any(adapter_matches(spec, pattern) for spec in self.adapters)

    def total(self, status: str | None = None) -> int:
        """Checks run (each counted once, on its op row), or those that ended in ``status``."""
        counts = self.results.counts()
        return sum(counts.values()) if status is None else counts[status]

    def partly_checked(self) -> int:
        """Checks that agreed or diverged as recorded with some outputs not checked."""
        return sum(
            n
            for key, n in self.results.tallies.items()
            if ":" not in key.row and key.unchecked and key.status in ("agree", "diverge")
        )

    def coverage(self, div_id: str) -> DivergenceState:
        """The divergence's counts here, counting the checks it explained in the tallies too."""
        state = self.results.divergences.get(div_id, DivergenceState())
        tallied = sum(n for key, n in self.results.tallies.items() if ":" not in key.row and div_id in key.divergences)
        return DivergenceState(max(state.covered, tallied), tallied) if tallied > state.observed else state


# --- reading -------------------------------------------------------------------------------------


def load_environment(path: Path) -> Environment:
    """One results file as an :class:`Environment`; a one-line ResultsError naming the file."""
    try:
        results = read(path)
    except ResultsError:
        raise
    except (TypeError, ValueError, AttributeError) as exc:  # what the schema check lets through
        raise ResultsError(f"{path}: malformed ({type(exc).__name__}: {exc})") from None
    return Environment(results.environment or path.stem, path.name, results)


def _unique_names(envs: list[Environment]) -> list[Environment]:
    """Environments sharing a name get their file name appended, so every column is distinct."""
    seen = Counter(env.name for env in envs)
    return [Environment(f"{e.name} ({e.source})", e.source, e.results) if seen[e.name] > 1 else e for e in envs]


def order_environments(envs: Iterable[Environment]) -> list[Environment]:
    return sorted(envs, key=lambda env: environment_key(env.name))


def load_directory(directory: Path) -> list[Environment]:
    """Every ``*.json`` results file in ``directory``, in column order."""
    if not directory.is_dir():
        raise ReportError(f"{directory}: not a directory")
    paths = sorted(directory.glob("*.json"))
    if not paths:
        raise ReportError(f"{directory}: no results files (*.json) in it; write them with pytest --results FILE")
    return order_environments(_unique_names([load_environment(path) for path in paths]))


# --- in words ------------------------------------------------------------------------------------


def adapters_text(env: Environment) -> str:
    """``torch 2.13.0 · keras[jax]: keras 3.15.0, jax 0.10.2`` (an adapter named like its only
    framework shows just the version)."""
    parts = []
    for spec in sorted(env.adapters, key=adapter_key):
        versions = env.adapters[spec]
        if list(versions) == [spec]:
            parts.append(f"{spec} {versions[spec]}")
        else:
            listed = ", ".join(f"{k} {versions[k]}" for k in sorted(versions, key=framework_key))
            parts.append(f"{spec}: {listed}" if listed else spec)
    return " · ".join(parts) or "no adapter (reference only)"


def frameworks_text(env: Environment) -> str:
    return " · ".join(f"{name} {version}" for name, version in env.frameworks().items())
