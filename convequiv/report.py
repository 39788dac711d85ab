"""``convequiv report DIR [--out DIR_OUT] [--title TEXT]``: one compatibility page for many runs.

Every ``*.json`` file in ``DIR`` is the results file of one environment's pytest run (written by
the plugin's ``--results FILE``; see :func:`convequiv.pytest_plugin.write_results`). The command
merges them and writes ``compatibility.md`` and ``compatibility.html`` (one self-contained file:
inline CSS, no external resources) into ``DIR_OUT`` (default ``docs``).

The page has one table per op. Its rows are the op itself (every check of the op) and the op's
semantic features (the ``row`` values of the tallies, e.g. ``max_pool: padding same, stride 2+,
even input``: only the checks whose case has that feature); its columns are the environments,
``default`` first and the others in natural name order. A cell summarises one environment's
adapters on one row, worst news first (fail, diverge, unsupported, agree): every adapter that does
not fully agree gets a line, the adapters that agreed on every check are counted (``+2 agree``),
and a cell where every adapter agreed reads ``all agree (n)``, n being the number of adapters.
Divergence ids link to the divergence section, which states where each recorded divergence was
observed and the version range derived from that (:func:`version_ranges`); the failures section
lists every failed check (a mismatch no recorded divergence explains) per environment.

Output depends only on the inputs, apart from the "Generated on" line (which honours
``SOURCE_DATE_EPOCH``). Unreadable or malformed results files, a missing folder and a folder
without results files are errors (exit status 2) naming the path.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import html
import json
import os
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from .divergences import Divergence, matches
from .divergences import load as load_divergences

#: Statuses of one check, worst news first.
STATUSES = ("fail", "diverge", "unsupported", "agree")
_RANK = {status: rank for rank, status in enumerate(STATUSES)}
DEFAULT_ENVIRONMENT = "default"
DEFAULT_TITLE = "Compatibility with the NumPy reference"
#: Up to this many environments the Markdown tables have one column per environment; beyond, each
#: row lists only the environments where some adapter does not fully agree (plain text stays narrow).
MARKDOWN_MATRIX_MAX_ENVIRONMENTS = 6
#: Frameworks named first, in this order, wherever versions are listed.
_FRAMEWORK_ORDER = ("torch", "tensorflow", "keras", "jax", "jaxlib")
_URL = re.compile(r"https?://[^\s<>\"';,]+[^\s<>\"';,.)]")

LEGEND = (
    "Each table covers one op: its first row counts every check of the op, the others only the checks "
    "whose case has that feature. Columns are environments (one pytest run each; their versions are in "
    "the Environments table). A cell summarises the environment's adapters on that row, worst news first: "
    "**fail** means a check disagreed with the NumPy reference and no recorded divergence explains it "
    "(details under Failures); **diverges** names a recorded divergence (linked to its entry, with where "
    "and in which versions it was seen); **unsupported** means the framework lacks that configuration "
    "(“n of m”: n of the adapter's m checks). Adapters that agreed on every check are only counted "
    "(“+2 agree”); “all agree (n)” means all n adapters agreed on every check, and “—” that the row was "
    "not run there. Numbers in parentheses count checks."
)
_HTML_LEGEND_EXTRA = " Hover over a cell for every adapter's counts per status."


class ReportError(Exception):
    """A results folder or file the report cannot use; the message names the path."""


class Tally(NamedTuple):
    """``count`` checks of ``adapter`` (through ``api`` in ``dtype``) on ``row`` ended in ``status``;
    ``divergence`` is the recorded divergence's id when the status is ``diverge``."""

    row: str
    adapter: str
    api: str
    dtype: str
    status: str
    divergence: str
    count: int


@dataclass(frozen=True)
class Coverage:
    """One divergence in one run: ``covered`` checks fell inside its condition, ``observed`` of them
    showed it."""

    covered: int = 0
    observed: int = 0

    @property
    def state(self) -> str:
        if self.observed:
            return "observed"
        return "no longer reproduces" if self.covered else "not exercised"


@dataclass(frozen=True, eq=False)
class Environment:
    """One results file: the run's environment, installed versions and tallies."""

    name: str
    source: str
    created: str
    python: str
    numpy: str
    profile: str
    adapters: dict[str, dict[str, str]]
    wall_seconds: float | None
    tallies: tuple[Tally, ...] = field(repr=False)
    coverage: dict[str, Coverage] = field(repr=False)
    divergence_info: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)

    @property
    def slug(self) -> str:
        return slug(self.name)

    def version(self, framework: str, adapter_pattern: str = "*") -> str | None:
        """Installed version of import name ``framework``, preferring adapters matching the pattern."""
        specs = sorted(self.adapters)
        preferred = [spec for spec in specs if matches(spec, adapter_pattern)]
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
        return any(matches(spec, pattern) for spec in self.adapters)

    def total(self, status: str | None = None) -> int:
        """Checks run (each check is tallied once on its op row), or those ending in ``status``."""
        return sum(t.count for t in self.tallies if ":" not in t.row and status in (None, t.status))


@dataclass
class AdapterCell:
    """One adapter's checks on one row in one environment: counts per status and per divergence."""

    adapter: str
    counts: Counter[str] = field(default_factory=Counter)
    divergences: Counter[str] = field(default_factory=Counter)

    @property
    def state(self) -> str:
        """The worst status among the checks (``fail`` > ``diverge`` > ``unsupported`` > ``agree``)."""
        return next(status for status in STATUSES if self.counts[status])

    @property
    def colour(self) -> str:
        """The state the cell is coloured by: as :attr:`state`, except that an adapter that agreed on
        every check it supports (some unsupported) colours like ``agree``."""
        return "agree" if self.state == "unsupported" and self.counts["agree"] else self.state

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def tooltip(self) -> str:
        parts = [f"{self.counts[s]} {s}" for s in STATUSES if self.counts[s]]
        divs = ", ".join(f"{d} {n}" for d, n in sorted(self.divergences.items()))
        return f"{self.adapter}: {', '.join(parts)}" + (f" ({divs})" if divs else "")


#: A cell: the adapters that ran checks on the row in the environment, worst state first.
Cell = tuple[AdapterCell, ...]


@dataclass(frozen=True)
class VersionRange:
    """Where one divergence was seen, by installed version of one framework.

    ``observed``: (version, checks that showed it), ascending; ``not_observed``: (version, checks
    covered) for versions where its condition was met but it never showed; ``not_exercised``:
    versions installed alongside a matching adapter where no check met its condition (with the
    plugin as it is, a version outside ``recorded`` always lands here)."""

    framework: str
    recorded: str | None
    observed: tuple[tuple[str, int], ...]
    not_observed: tuple[tuple[str, int], ...]
    not_exercised: tuple[str, ...]

    @property
    def first(self) -> str | None:
        return self.observed[0][0] if self.observed else None

    @property
    def last(self) -> str | None:
        return self.observed[-1][0] if self.observed else None

    @property
    def gaps(self) -> tuple[str, ...]:
        """Versions covered but not observed that lie between the first and last observed ones."""
        if not self.observed:
            return ()
        lo, hi = version_key(self.observed[0][0]), version_key(self.observed[-1][0])
        return tuple(v for v, _ in self.not_observed if lo < version_key(v) < hi)

    @property
    def specifier(self) -> str | None:
        """A PEP 440 specifier spanning the observed versions (local labels dropped), or ``None``."""
        if not self.observed:
            return None
        first, last = _public(self.observed[0][0]), _public(self.observed[-1][0])
        return f"=={first}" if first == last else f">={first},<={last}"

    def describe(self) -> str:
        """E.g. ``seen in torch 2.4.1 – 2.13.0; not seen in 2.1.2 (covered 12 times)``."""
        parts = []
        if self.observed:
            span = self.first if self.first == self.last else f"{self.first} – {self.last}"
            parts.append(f"seen in {self.framework} {span}")
            if self.gaps:
                parts[-1] += f" (except {', '.join(self.gaps)})"
        if self.not_observed:
            listed = ", ".join(f"{v} (covered {_times(n)})" for v, n in self.not_observed)
            parts.append(f"not seen in {'' if self.observed else self.framework + ' '}{listed}")
        if self.not_exercised:
            outside = [v for v in self.not_exercised if not _in_specifier(v, self.recorded)]
            text = f"not exercised with {', '.join(self.not_exercised)}"
            if outside and self.recorded:
                text += f" ({', '.join(outside)} outside the recorded {self.recorded})"
            parts.append(text if parts else f"{self.framework}: {text}")
        return "; ".join(parts) if parts else f"{self.framework}: no environment has it"


@dataclass(frozen=True)
class FailureGroup:
    """``count`` failed checks of ``adapter`` on ``op`` through ``api`` in ``dtype``, and how many of
    them had each feature."""

    adapter: str
    op: str
    api: str
    dtype: str
    count: int
    features: tuple[tuple[str, int], ...]


@dataclass(frozen=True, eq=False, repr=False)
class Report:
    """Everything the two renderings show, computed once from the environments."""

    title: str
    generated: str
    environments: tuple[Environment, ...]
    rows: dict[str, list[str]]
    cells: dict[tuple[str, str], Cell]
    divergences: tuple[Divergence, ...]
    ranges: dict[str, dict[str, VersionRange]]

    def cell(self, row: str, env: Environment) -> Cell:
        return self.cells.get((row, env.name), ())

    def __repr__(self) -> str:
        return f"Report({self.title!r}, {len(self.environments)} environments, {len(self.divergences)} divergences)"


# --- small helpers -------------------------------------------------------------------------------


def natural_key(text: str) -> list[Any]:
    """Sort key that orders embedded numbers by value (``torch2.4`` before ``torch2.13``)."""
    return [int(part) if i % 2 else part.lower() for i, part in enumerate(re.split(r"(\d+)", text))]


def version_key(version: str) -> tuple[Any, ...]:
    """Sort key for versions: PEP 440 order where ``packaging`` parses them, natural order else."""
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:  # pragma: no cover - packaging ships with pip-installed environments
        return (1, natural_key(version), version)
    try:
        return (0, Version(version), version)
    except InvalidVersion:
        return (1, natural_key(version), version)


def framework_key(name: str) -> tuple[int, str]:
    return (_FRAMEWORK_ORDER.index(name) if name in _FRAMEWORK_ORDER else len(_FRAMEWORK_ORDER), name)


def adapter_key(spec: str) -> tuple[tuple[int, str], list[Any]]:
    """Adapters in framework order (``torch``, ``tensorflow``, ``keras[...]``, ``jax``), then by name."""
    return (framework_key(spec.split("[", 1)[0]), natural_key(spec))


def environment_key(name: str) -> tuple[bool, list[Any], str]:
    """``default`` first, then natural name order."""
    return (name != DEFAULT_ENVIRONMENT, natural_key(name), name)


def slug(text: str) -> str:
    """An HTML id fragment: letters, digits, ``.``, ``_`` and ``-``; anything else becomes ``-``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"


def github_slug(text: str) -> str:
    """The anchor GitHub gives a Markdown heading with this text."""
    return re.sub(r"[^a-z0-9 _-]", "", text.lower()).replace(" ", "-")


def op_of(row: str) -> str:
    return row.split(":", 1)[0].strip()


def feature_of(row: str) -> str:
    """The feature part of a row (``""`` for the op row itself)."""
    return row.split(":", 1)[1].strip() if ":" in row else ""


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _public(version: str) -> str:
    return version.split("+", 1)[0]


def _in_specifier(version: str, specifier: str | None) -> bool:
    if not specifier:
        return True
    try:
        from packaging.specifiers import SpecifierSet
        from packaging.version import Version

        return Version(version) in SpecifierSet(specifier, prereleases=True)
    except Exception:  # unparseable version or specifier: do not claim it is outside
        return True


def wall_time(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60:02d} min"


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


# --- reading results files -----------------------------------------------------------------------


def _require(condition: bool, source: str, message: str) -> None:
    if not condition:
        raise ReportError(f"{source}: {message}")


def _parse_tally(raw: Any, index: int, source: str) -> Tally:
    where = f"tallies[{index}]"
    _require(isinstance(raw, list) and len(raw) == 7, source, f"{where} is not a 7-item list")
    *texts, count = raw
    _require(all(isinstance(t, str) for t in texts), source, f"{where}: the first six items must be strings")
    _require(isinstance(count, int) and not isinstance(count, bool) and count >= 0, source, f"{where}: bad count")
    tally = Tally(*texts, count)
    _require(tally.status in _RANK, source, f"{where}: unknown status {tally.status!r}")
    return tally


def _parse_adapters(raw: Any, source: str) -> dict[str, dict[str, str]]:
    _require(isinstance(raw, dict), source, "'adapters' must map adapter specs to {import name: version}")
    for spec, versions in raw.items():
        _require(
            isinstance(versions, dict) and all(isinstance(v, str) for v in versions.values()),
            source,
            f"adapters[{spec!r}] must map import names to version strings",
        )
    return {spec: dict(versions) for spec, versions in raw.items()}


def _parse_coverage(raw: Any, source: str) -> tuple[dict[str, Coverage], dict[str, dict[str, str]]]:
    _require(isinstance(raw, dict), source, "'divergences' must map divergence ids to their counts")
    coverage, info = {}, {}
    for div_id, entry in raw.items():
        _require(isinstance(entry, dict), source, f"divergences[{div_id!r}] is not an object")
        covered, observed = entry.get("covered", 0), entry.get("observed", 0)
        _require(isinstance(covered, int) and isinstance(observed, int), source, f"divergences[{div_id!r}]: bad counts")
        coverage[div_id] = Coverage(covered, observed)
        info[div_id] = {k: str(entry[k]) for k in ("adapter", "op") if k in entry}
    return coverage, info


def parse_results(data: Any, source: str) -> Environment:
    """One results file's JSON (as written by ``pytest --results``) as an :class:`Environment`."""
    _require(
        isinstance(data, dict) and "tallies" in data and "environment" in data,
        source,
        "not a convequiv results file (no 'environment' and 'tallies'; write one with pytest --results FILE)",
    )
    _require(isinstance(data["environment"], str) and data["environment"], source, "'environment' must be a name")
    _require(isinstance(data["tallies"], list), source, "'tallies' must be a list")
    wall = data.get("wall_seconds")
    _require(wall is None or isinstance(wall, (int, float)), source, "'wall_seconds' must be a number")
    coverage, info = _parse_coverage(data.get("divergences", {}), source)
    return Environment(
        name=data["environment"],
        source=Path(source).name,
        created=str(data.get("created", "?")),
        python=str(data.get("python", "?")),
        numpy=str(data.get("numpy", "?")),
        profile=str(data.get("profile", "?")),
        adapters=_parse_adapters(data.get("adapters", {}), source),
        wall_seconds=None if wall is None else float(wall),
        tallies=tuple(_parse_tally(raw, i, source) for i, raw in enumerate(data["tallies"])),
        coverage=coverage,
        divergence_info=info,
    )


def load_results(path: Path) -> Environment:
    """Read one results file; a :class:`ReportError` naming the file if it is unreadable or malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read it ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    return parse_results(data, str(path))


def _unique_names(envs: list[Environment]) -> list[Environment]:
    """Environments sharing a name get their file name appended, so every column is distinct."""
    seen = Counter(env.name for env in envs)
    renamed = []
    for env in envs:
        if seen[env.name] > 1:
            env = dataclasses.replace(env, name=f"{env.name} ({env.source})")
        renamed.append(env)
    return renamed


def order_environments(envs: Iterable[Environment]) -> list[Environment]:
    return sorted(envs, key=lambda env: environment_key(env.name))


def load_directory(directory: Path) -> list[Environment]:
    """Every ``*.json`` results file in ``directory``, in column order."""
    if not directory.is_dir():
        raise ReportError(f"{directory}: not a directory")
    paths = sorted(directory.glob("*.json"))
    if not paths:
        raise ReportError(f"{directory}: no results files (*.json) in it; write them with pytest --results FILE")
    return order_environments(_unique_names([load_results(path) for path in paths]))


# --- merging -------------------------------------------------------------------------------------


def rows_by_op(envs: Iterable[Environment]) -> dict[str, list[str]]:
    """Every row of every environment grouped by op: the op row first, then its features sorted."""
    features: dict[str, set[str]] = defaultdict(set)
    for env in envs:
        for tally in env.tallies:
            features[op_of(tally.row)].add(tally.row)
    return {
        op: [op, *sorted((r for r in rows if r != op), key=lambda r: natural_key(feature_of(r)))]
        for op, rows in sorted(features.items())
    }


def environment_cells(env: Environment) -> dict[str, Cell]:
    """Each row's cell in ``env``: one :class:`AdapterCell` per adapter that ran checks on the row,
    worst state first, then by adapter name."""
    by_row: dict[str, dict[str, AdapterCell]] = defaultdict(dict)
    for tally in env.tallies:
        if not tally.count:
            continue
        cell = by_row[tally.row].setdefault(tally.adapter, AdapterCell(tally.adapter))
        cell.counts[tally.status] += tally.count
        if tally.divergence:
            cell.divergences[tally.divergence] += tally.count
    return {
        row: tuple(sorted(cells.values(), key=lambda c: (_RANK[c.state], natural_key(c.adapter))))
        for row, cells in by_row.items()
    }


def cell_state(cell: Cell) -> str:
    """The cell's colour: the worst :attr:`AdapterCell.colour` of its adapters (an adapter that
    agreed wherever it supports the case does not turn the cell grey), or ``none`` when nothing ran."""
    return min((c.colour for c in cell), key=_RANK.__getitem__) if cell else "none"


def divergence_catalogue(envs: Sequence[Environment], recorded: Iterable[Divergence]) -> tuple[Divergence, ...]:
    """The recorded divergences plus any id a results file names that the file no longer has, by id."""
    known = {div.id: div for div in recorded}
    for env in envs:
        for div_id in list(env.coverage) + [t.divergence for t in env.tallies if t.divergence]:
            if div_id not in known:
                info = env.divergence_info.get(div_id, {})
                known[div_id] = Divergence(
                    id=div_id,
                    adapter=info.get("adapter", "*"),
                    op=info.get("op", "*"),
                    when="",
                    outputs=(),
                    versions={},
                    summary="Not in the divergence file any more (only the results files name it).",
                    evidence="",
                )
    return tuple(sorted(known.values(), key=lambda div: div.id))


#: Headings of the divergence groups, in page order (see :func:`divergence_groups`).
DIVERGENCE_GROUPS = (
    "Observed in at least one environment",
    "Covered but never observed (no longer reproduce)",
    "Not exercised in any environment",
)


def divergence_groups(report: Report) -> list[tuple[str, list[Divergence]]]:
    """The report's divergences under :data:`DIVERGENCE_GROUPS` (empty groups left out), by id."""
    groups: dict[str, list[Divergence]] = {title: [] for title in DIVERGENCE_GROUPS}
    for div in report.divergences:
        counts = [coverage_in(env, div) for env in report.environments]
        rank = 0 if any(c.observed for c in counts) else 1 if any(c.covered for c in counts) else 2
        groups[DIVERGENCE_GROUPS[rank]].append(div)
    return [(title, divs) for title, divs in groups.items() if divs]


def coverage_in(env: Environment, div: Divergence) -> Coverage:
    """The divergence's counts in ``env``, counting observations in the tallies too (older files)."""
    coverage = env.coverage.get(div.id, Coverage())
    tallied = sum(t.count for t in env.tallies if t.divergence == div.id and ":" not in t.row)
    if tallied > coverage.observed:
        return Coverage(max(coverage.covered, tallied), tallied)
    return coverage


def divergence_state(env: Environment, div: Divergence) -> str:
    """``observed``, ``no longer reproduces`` (covered, never observed), ``not exercised`` or
    ``no such adapter`` (no adapter of the environment matches the divergence's adapter pattern)."""
    coverage = coverage_in(env, div)
    if not coverage.covered and not env.has_adapter(div.adapter):
        return "no such adapter"
    return coverage.state


def frameworks_of(div: Divergence, envs: Sequence[Environment]) -> list[str]:
    """The frameworks whose versions matter: the keys of the divergence's ``versions``, or else every
    import name the matching adapters report."""
    if div.versions:
        return sorted(div.versions, key=framework_key)
    names = {
        name
        for env in envs
        for spec, versions in env.adapters.items()
        if matches(spec, div.adapter)
        for name in versions
        if name != "error"
    }
    return sorted(names, key=framework_key)


def version_range(div: Divergence, framework: str, envs: Sequence[Environment]) -> VersionRange:
    """Where ``div`` was seen, by installed version of ``framework`` (see :class:`VersionRange`)."""
    observed: Counter[str] = Counter()
    covered: Counter[str] = Counter()
    unexercised: set[str] = set()
    for env in envs:
        version = env.version(framework, div.adapter)
        coverage = coverage_in(env, div)
        if version is None or not (coverage.covered or env.has_adapter(div.adapter)):
            continue
        if coverage.observed:
            observed[version] += coverage.observed
        elif coverage.covered:
            covered[version] += coverage.covered
        else:
            unexercised.add(version)
    return VersionRange(
        framework=framework,
        recorded=div.versions.get(framework),
        observed=_by_version(observed.items()),
        not_observed=_by_version((v, n) for v, n in covered.items() if v not in observed),
        not_exercised=tuple(sorted(unexercised - set(observed) - set(covered), key=version_key)),
    )


def _by_version(items: Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(items, key=lambda item: version_key(item[0])))


def version_ranges(
    environments: Sequence[Environment] | Path, divergences: Iterable[Divergence] | None = None
) -> dict[str, dict[str, VersionRange]]:
    """For every divergence (default: :func:`convequiv.divergences.load`, plus ids only the results
    name), per framework its ``versions`` key names: the versions in which it was observed, those in
    which it was covered but not observed, and those in which it was not exercised.

    ``version_ranges(envs)["torch-maxpool-grad-last-nan"]["torch"].describe()`` reads e.g.
    ``seen in torch 2.4.1 – 2.13.0; not seen in 2.1.2 (covered 12 times)``, and ``.specifier`` is
    ``>=2.4.1,<=2.13.0``, a candidate for the divergence's ``versions`` field. ``environments`` may
    also be a folder of results files (read with :func:`load_directory`)."""
    if isinstance(environments, Path):
        environments = load_directory(environments)
    catalogue = divergence_catalogue(environments, load_divergences() if divergences is None else divergences)
    return {
        div.id: {fw: version_range(div, fw, environments) for fw in frameworks_of(div, environments)}
        for div in catalogue
    }


def failures_of(env: Environment) -> list[FailureGroup]:
    """The environment's failed checks grouped by (adapter, op, api, dtype), with their features."""
    counts: Counter[tuple[str, str, str, str]] = Counter()
    features: dict[tuple[str, str, str, str], Counter[str]] = defaultdict(Counter)
    for t in env.tallies:
        if t.status != "fail" or not t.count:
            continue
        key = (t.adapter, op_of(t.row), t.api, t.dtype)
        if ":" in t.row:
            features[key][feature_of(t.row)] += t.count
        else:
            counts[key] += t.count
    return [
        FailureGroup(*key, counts[key], tuple(sorted(features[key].items(), key=lambda f: natural_key(f[0]))))
        for key in sorted(counts, key=lambda k: tuple(natural_key(p) for p in k))
    ]


def build_report(
    environments: Sequence[Environment],
    divergences: Iterable[Divergence] | None = None,
    *,
    title: str = DEFAULT_TITLE,
    generated: str | None = None,
) -> Report:
    """Merge the environments (put in column order) into the data both renderings show."""
    envs = tuple(order_environments(environments))
    cells = {}
    for env in envs:
        for row, cell in environment_cells(env).items():
            cells[(row, env.name)] = cell
    catalogue = divergence_catalogue(envs, load_divergences() if divergences is None else divergences)
    return Report(
        title=title,
        generated=generated or today(),
        environments=envs,
        rows=rows_by_op(envs),
        cells=cells,
        divergences=catalogue,
        ranges=version_ranges(envs, catalogue),
    )


def today() -> str:
    """Today's date, or ``SOURCE_DATE_EPOCH``'s when set (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc).date().isoformat()
    return _dt.date.today().isoformat()


# --- cell text, shared by both renderings --------------------------------------------------------

#: A piece of cell text: ("adapter", name), ("divergence", id), ("fail", text), ("count", "(n of m)")
#: or ("text", text).
Token = tuple[str, str]


def adapter_tokens(cell: AdapterCell) -> list[Token]:
    """What one adapter that does not fully agree shows: ``FAIL (3 of 108)`` and / or ``diverges ID
    (n), ...``, else ``unsupported`` (every check) or ``unsupported (n of m)``."""
    tokens: list[Token] = [("adapter", cell.adapter), ("text", ": ")]
    if cell.counts["fail"]:
        tokens.append(("fail", f"FAIL ({cell.counts['fail']} of {cell.total})"))
    if cell.divergences:
        tokens.append(("text", "; diverges " if cell.counts["fail"] else "diverges "))
        for i, (div_id, n) in enumerate(sorted(cell.divergences.items())):
            tokens += [("text", ", ")] if i else []
            tokens += [("divergence", div_id), ("text", " "), ("count", f"({n})")]
    elif cell.counts["diverge"]:  # diverge tallies without an id: count only
        sep = "; " if cell.counts["fail"] else ""
        tokens += [("text", f"{sep}diverges "), ("count", f"({cell.counts['diverge']})")]
    if cell.state == "unsupported":
        n = cell.counts["unsupported"]
        tokens.append(("text", "unsupported"))
        tokens += [("text", " "), ("count", f"({n} of {cell.total})")] if n < cell.total else []
    return tokens


def cell_parts(cell: Cell) -> tuple[list[AdapterCell], list[AdapterCell]]:
    """The cell's adapters split into those that do not fully agree and those that agreed on every check."""
    return [c for c in cell if c.state != "agree"], [c for c in cell if c.state == "agree"]


def agree_text(cell: Cell) -> str:
    """``all agree (n)`` when every adapter agreed, ``+k agree`` after others, ``""`` when none agreed."""
    news, agreeing = cell_parts(cell)
    if not agreeing:
        return ""
    return f"+{len(agreeing)} agree" if news else f"all agree ({len(agreeing)})"


def plain_cell(cell: Cell) -> str:
    """The whole cell as one line of plain text (divergence ids unlinked)."""
    return _md_cell(cell, markdown=False)


# --- Markdown ------------------------------------------------------------------------------------


def md_escape(text: str) -> str:
    """Escape what would break a GFM table cell or turn into markup (``|``, ``*``, backticks,
    backslashes, ``<`` before a tag name); brackets and underscores stay as they are."""
    return re.sub(r"([|*`\\]|<(?=[A-Za-z/!?]))", r"\\\1", text)


def md_code(text: str) -> str:
    """``text`` as a code span (not for table cells: a ``|`` would split the cell)."""
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_tokens(tokens: list[Token], markdown: bool = True) -> str:
    """Tokens as Markdown (escaped, divergence ids as reference links to their headings, FAIL bold)
    or as plain text."""
    if not markdown:
        return "".join(text for _, text in tokens)
    out = []
    for kind, text in tokens:
        if kind == "divergence":
            out.append(f"[{text}]")  # a shortcut reference link, defined at the end of the page
        elif kind == "fail":
            out.append(f"**{md_escape(text)}**")
        else:
            out.append(md_escape(text))
    return "".join(out)


def _md_cell(cell: Cell, markdown: bool = True) -> str:
    """A cell: adapters that do not fully agree, `` · ``-separated, then the agree count; ``—`` when
    nothing ran."""
    if not cell:
        return "—"
    news, _ = cell_parts(cell)
    parts = [_md_tokens(adapter_tokens(c), markdown) for c in news]
    if agree_text(cell):
        parts.append(agree_text(cell))
    return " · ".join(parts)


def _md_row_label(row: str) -> str:
    return f"**{md_escape(row)}** (every check)" if ":" not in row else md_escape(feature_of(row))


def _md_environments(report: Report) -> list[str]:
    lines = [
        "| Environment | Adapters and versions | numpy | Python | Profile | Run on | Wall time | Checks | Failed |",
        "| --- | --- | --- | --- | --- | --- | --- | ---: | ---: |",
    ]
    for env in report.environments:
        cells = [
            f"**{md_escape(env.name)}**",
            md_escape(adapters_text(env)),
            env.numpy,
            env.python,
            md_escape(env.profile),
            env.created,
            wall_time(env.wall_seconds),
            str(env.total()),
            str(env.total("fail")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _md_matrix(report: Report, op: str) -> list[str]:
    """One op as a table with a column per environment."""
    envs = report.environments
    head = [md_escape(op)] + [f"{md_escape(e.name)}<br>{md_escape(frameworks_text(e))}" for e in envs]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    for row in report.rows[op]:
        cells = [_md_row_label(row)] + [_md_cell(report.cell(row, env)) for env in envs]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _md_differences(report: Report, op: str) -> list[str]:
    """One op as a nested list: per row, how many environments agree, then only the environments
    where some adapter does not fully agree (stays readable with many environments)."""
    total = len(report.environments)
    lines = []
    for row in report.rows[op]:
        listed, agreeing, missing = [], 0, 0
        for env in report.environments:
            cell = report.cell(row, env)
            if not cell:
                missing += 1
            elif cell_state(cell) == "agree":
                agreeing += 1
            else:
                listed.append(f"  - **{md_escape(env.name)}**: {_md_cell(cell)}")
        summary = f"all agree in {agreeing} of {total} environments" + (f", not run in {missing}" if missing else "")
        lines.append(f"- {_md_row_label(row)}: {summary}{'; elsewhere:' if listed else '.'}")
        lines += listed
    return lines


def _md_evidence(evidence: str) -> list[str]:
    items = []
    for item in (part.strip() for part in evidence.split(" ; ")):
        if not item:
            continue
        if _URL.search(item):
            pieces = _URL.split(item)
            urls = _URL.findall(item)
            text = md_escape(pieces[0]) + "".join(f"<{u}>{md_escape(p)}" for u, p in zip(urls, pieces[1:]))
            items.append(f"- {text}")
        else:
            items.append(f"- {md_code(item)}")
    return items


def _md_divergence(report: Report, div: Divergence) -> list[str]:
    lines = [f"#### {div.id}", ""]
    meta = [f"adapter {md_code(div.adapter)}", f"op {md_code(div.op)}"]
    meta += [f"{k} {md_code(v)}" for k, v in (("api", div.api), ("dtype", div.dtype)) if v != "*"]
    if div.outputs:
        meta.append(f"outputs {', '.join(div.outputs)}")
    recorded = ", ".join(f"{k} {v}" for k, v in div.versions.items())
    meta.append(f"recorded versions: {md_code(recorded) if recorded else 'none'}")
    lines += [" · ".join(meta), "", div.summary, ""]
    if div.evidence:
        lines += ["Evidence:", "", *_md_evidence(div.evidence), ""]
    for vr in report.ranges.get(div.id, {}).values():
        suggestion = f" (suggested: {md_code(f'{vr.framework} {vr.specifier}')})" if vr.specifier else ""
        lines.append(f"- **Version range**: {md_escape(vr.describe())}{suggestion}")
    lines += [""] + _md_divergence_environments(report, div) + [""]
    return lines


def _md_divergence_environments(report: Report, div: Divergence) -> list[str]:
    by_state: dict[str, list[Environment]] = defaultdict(list)
    for env in report.environments:
        by_state[divergence_state(env, div)].append(env)
    lines = []
    seen = by_state["observed"] + by_state["no longer reproduces"]
    if seen:
        lines += ["| Environment | State | Covered | Observed | Versions |", "| --- | --- | ---: | ---: | --- |"]
        for env in report.environments:
            if env in seen:
                cov = coverage_in(env, div)
                state = divergence_state(env, div)
                lines.append(
                    f"| {md_escape(env.name)} | {state} | {cov.covered} | {cov.observed} | "
                    f"{md_escape(_versions_for(env, div, report))} |"
                )
        lines.append("")
    if by_state["not exercised"]:
        listed = ", ".join(f"{e.name} ({_versions_for(e, div, report)})" for e in by_state["not exercised"])
        lines.append(f"Not exercised in: {md_escape(listed)}.")
    if by_state["no such adapter"]:
        lines.append(f"No {md_code(div.adapter)} adapter in {md_escape(_absent_text(by_state['no such adapter']))}.")
    return lines


def _absent_text(envs: Sequence[Environment]) -> str:
    """``a, b`` for up to five environments, else ``37 environments``."""
    return ", ".join(e.name for e in envs) if len(envs) <= 5 else f"{len(envs)} environments"


def _versions_for(env: Environment, div: Divergence, report: Report) -> str:
    """The installed versions of the frameworks that matter for ``div`` in ``env``."""
    names = list(report.ranges.get(div.id, {})) or list(env.frameworks())
    return ", ".join(f"{name} {env.version(name, div.adapter) or 'not installed'}" for name in names)


def _md_failures(report: Report) -> list[str]:
    lines = []
    for env in report.environments:
        groups = failures_of(env)
        if not groups:
            continue
        lines += [f"### Failures in {md_escape(env.name)}", ""]
        lines += ["| Adapter | Op | API | dtype | Failed checks | Features of the failed cases |"]
        lines += ["| --- | --- | --- | --- | ---: | --- |"]
        for g in groups:
            feats = ", ".join(f"{f} ({n})" for f, n in g.features) or "—"
            lines.append(
                f"| {md_escape(g.adapter)} | {md_escape(g.op)} | {g.api} | {g.dtype} | {g.count} | {md_escape(feats)} |"
            )
        lines.append("")
    clean = [env.name for env in report.environments if not env.total("fail")]
    if not lines:
        lines = ["No failed checks in any environment.", ""]
    elif clean:
        lines += [f"No failed checks in: {md_escape(', '.join(clean))}.", ""]
    return lines


def header_line(report: Report) -> str:
    """The first line under the title: date and environment count (the only line that varies)."""
    n = len(report.environments)
    return f"Generated on {report.generated} from {n} environment{'s' if n != 1 else ''}."


def stats_line(report: Report) -> str:
    rows = sum(len(r) for r in report.rows.values())
    observed = sum(1 for div in report.divergences if any(coverage_in(e, div).observed for e in report.environments))
    failing = sum(1 for env in report.environments if env.total("fail"))
    return (
        f"{len(report.rows)} ops, {rows} rows; {len(report.divergences)} divergences, {observed} observed "
        f"somewhere; {failing} environment{'s' if failing != 1 else ''} with failed checks."
    )


def render_markdown(report: Report) -> str:
    """The GitHub-flavoured Markdown page (readable as plain text)."""
    lines = [f"# {report.title}", "", header_line(report), "", stats_line(report), "", LEGEND, ""]
    matrix = len(report.environments) <= MARKDOWN_MATRIX_MAX_ENVIRONMENTS
    if not matrix:
        lines += [
            f"With {len(report.environments)} environments each op is a list: per row, the number of environments "
            "where every adapter agreed, then the others with their adapters that do not fully agree "
            "(the HTML page has the full matrix).",
            "",
        ]
    lines += ["## Environments", "", *_md_environments(report), ""]
    for op in report.rows:
        lines += [f"## {md_escape(op)}", ""]
        lines += _md_matrix(report, op) if matrix else _md_differences(report, op)
        lines.append("")
    lines += ["## Divergences", ""]
    for title, divs in divergence_groups(report):
        lines += [f"### {title} ({len(divs)})", ""]
        for div in divs:
            lines += _md_divergence(report, div)
    lines += ["## Failures", "", *_md_failures(report)]
    lines += ["", *(f"[{div.id}]: #{github_slug(div.id)}" for div in report.divergences)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).rstrip() + "\n"


# --- HTML ----------------------------------------------------------------------------------------

CSS = """
:root{--line:#d0d7de;--head:#f6f8fa;--agree:#e6f4e4;--agree-fg:#1a6a2c;--diverge:#fff0cc;--diverge-fg:#8a5000;
--unsupported:#ececec;--unsupported-fg:#4d4d4d;--fail:#fde2e1;--fail-fg:#a3161b;--link:#0b5cad}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1f2328}
a{color:var(--link)}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f3f4f6;
padding:0 3px;border-radius:3px}
[hidden]{display:none!important}
.bar{position:sticky;top:0;z-index:20;background:var(--head);border-bottom:1px solid var(--line);
padding:6px 16px;display:flex;flex-wrap:wrap;gap:4px 18px;align-items:center;font-size:13px}
.bar .name{font-weight:600}
.bar nav a{margin-right:10px;white-space:nowrap}
main{padding:4px 16px 48px;max-width:100%}
h1{font-size:22px;margin:14px 0 4px}
h2{font-size:18px;margin:30px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h2,h3,h4,section,tr{scroll-margin-top:56px}
h3{font-size:16px;margin:18px 0 6px}
h4{font-size:14px;margin:0 0 6px}
.meta{margin:2px 0;color:#444}
.legend{max-width:1100px;color:#333}
.chip{display:inline-block;padding:0 7px;border-radius:10px;border:1px solid;font-size:12px;line-height:18px}
.chip.fail,td.fail{background:var(--fail);color:var(--fail-fg);border-color:#f0a6a3}
.chip.diverge,td.diverge{background:var(--diverge);color:var(--diverge-fg);border-color:#e8c777}
.chip.unsupported,td.unsupported{background:var(--unsupported);color:var(--unsupported-fg);border-color:#c8c8c8}
.chip.agree,td.agree{background:var(--agree);color:var(--agree-fg);border-color:#a9d5a4}
.chip.none,td.none{background:#fff;color:#888;border-color:var(--line)}
.controls{margin:8px 0;display:flex;gap:16px;align-items:center;font-size:13px}
.controls input[type=search]{width:22em;padding:3px 6px}
.scroll{overflow:auto;max-height:calc(100vh - 60px);border:1px solid var(--line);max-width:100%;width:fit-content}
table{border-collapse:separate;border-spacing:0;font-size:12.5px}
th,td{border-right:1px solid var(--line);border-bottom:1px solid var(--line);padding:4px 7px;
vertical-align:top;text-align:left}
thead th{position:sticky;top:0;z-index:2;background:var(--head)}
table.matrix td{min-width:13em;max-width:26em}
table.matrix td a{white-space:nowrap}
table.matrix th.env{min-width:13em;max-width:26em;font-weight:normal}
table.matrix th.env a{font-weight:600}
table.matrix .versions{display:block;color:#555;font-size:11.5px}
table.matrix th.row{position:sticky;left:0;z-index:1;background:#fff;min-width:15em;max-width:19em;font-weight:normal}
table.matrix thead th.row{z-index:3;background:var(--head);font-weight:600}
table.matrix tr.op th.row{font-weight:600}
table.matrix tr.feature th.row{padding-left:18px}
td .ln{margin:1px 0}
td .ln b{font-weight:600}
td .ok{color:var(--agree-fg)}
td .ln.fail{color:var(--fail-fg)}
td .ln.diverge{color:var(--diverge-fg)}
td .ln.unsupported,td .ln.agree{color:var(--unsupported-fg)}
td .ln.agree{font-size:11.5px}
td.diverge .ok,td.fail .ok,td.unsupported .ok{font-size:11.5px}
td .n{white-space:nowrap}
td .failtext{white-space:nowrap;font-weight:700;color:var(--fail-fg)}
body.quiet-hidden tr.quiet{display:none}
table.plain{margin:4px 0 10px;border:1px solid var(--line);border-width:1px 0 0 1px}
.scroll>table{border:0;margin:0}
table.plain td.num{text-align:right;font-variant-numeric:tabular-nums}
table.plain tr:target{outline:2px solid var(--link)}
section.div{border:1px solid var(--line);border-left:4px solid #c8c8c8;border-radius:4px;padding:10px 14px;
margin:12px 0;max-width:1200px}
section.div.observed{border-left-color:#e0a400}
section.div:target{box-shadow:0 0 0 2px var(--link)}
section.div p{margin:4px 0}
section.div ul{margin:4px 0;padding-left:20px}
.range{font-weight:600}
.muted{color:#666}
"""

SCRIPT = """
(function(){
  var controls=document.getElementById('controls'); if(!controls) return; controls.hidden=false;
  var filter=document.getElementById('env-filter'), quiet=document.getElementById('hide-quiet');
  function apply(){
    var words=filter.value.toLowerCase().split(/\\s+/).filter(Boolean), hidden={};
    document.querySelectorAll('th[data-env]').forEach(function(th){
      var text=th.getAttribute('data-env').toLowerCase();
      hidden[th.getAttribute('data-col')]=!words.every(function(w){return text.indexOf(w)>=0;});
    });
    document.querySelectorAll('table.matrix [data-col]').forEach(function(el){
      el.hidden=!!hidden[el.getAttribute('data-col')];
    });
    document.body.classList.toggle('quiet-hidden', quiet.checked);
  }
  filter.addEventListener('input', apply); quiet.addEventListener('change', apply);
})();
"""


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _inline_markup(text: str) -> str:
    """Escape, then render the summaries' ``code`` and *emphasis*."""
    out = esc(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", r"<em>\1</em>", out)


def _html_tokens(tokens: list[Token]) -> str:
    out = []
    for kind, text in tokens:
        if kind == "adapter":
            out.append(f"<b>{esc(text)}</b>")
        elif kind == "divergence":
            out.append(f'<a href="#div-{slug(text)}">{esc(text)}</a>')
        elif kind == "fail":
            out.append(f'<span class="failtext">{esc(text)}</span>')
        elif kind == "count":
            out.append(f'<span class="n">{esc(text)}</span>')
        else:
            out.append(esc(text))
    return "".join(out)


def html_cell(cell: Cell, env: Environment, col: int) -> str:
    """A ``<td>``: its class is the worst state; its title has every adapter's counts per status."""
    if not cell:
        return f'<td class="none" data-col="{col}" title="not run in {esc(env.name)}">—</td>'
    news, agreeing = cell_parts(cell)
    lines = [f'<div class="ln {c.colour}">{_html_tokens(adapter_tokens(c))}</div>' for c in news]
    if agreeing:
        names = ", ".join(c.adapter for c in agreeing)
        lines.append(f'<div class="ok" title="{esc(names)}">{esc(agree_text(cell))}</div>')
    title = "\n".join(c.tooltip() for c in cell)
    return f'<td class="{cell_state(cell)}" data-col="{col}" title="{esc(title)}">{"".join(lines)}</td>'


def _env_title(env: Environment) -> str:
    return (
        f"{env.name}: {adapters_text(env)}; numpy {env.numpy}; Python {env.python}; "
        f"profile {env.profile}; run on {env.created}; {wall_time(env.wall_seconds)}"
    )


def _html_matrix(report: Report, op: str) -> list[str]:
    head = [f'<th class="row" scope="col">{esc(op)}</th>']
    for col, env in enumerate(report.environments):
        versions = frameworks_text(env) or "no framework"
        head.append(
            f'<th class="env" scope="col" data-col="{col}" data-env="{esc(env.name + " " + versions)}" '
            f'title="{esc(_env_title(env))}"><a href="#env-{env.slug}">{esc(env.name)}</a>'
            f'<span class="versions">{esc(versions)}</span></th>'
        )
    out = [f'<div class="scroll"><table class="matrix" id="table-{slug(op)}">', "<thead><tr>", *head, "</tr></thead>"]
    out.append("<tbody>")
    for row in report.rows[op]:
        cells = [report.cell(row, env) for env in report.environments]
        quiet = all(cell_state(c) in ("agree", "none") for c in cells)
        kind = "feature" if ":" in row else "op"
        label = feature_of(row) if ":" in row else f"{op} (every check)"
        out.append(
            f'<tr class="{kind}{" quiet" if quiet else ""}" id="row-{slug(row)}">'
            f'<th class="row" scope="row" title="{esc(row)}">{esc(label)}</th>'
        )
        out += [html_cell(c, env, col) for col, (c, env) in enumerate(zip(cells, report.environments))]
        out.append("</tr>")
    out += ["</tbody></table></div>"]
    return out


def _html_environments(report: Report) -> list[str]:
    out = [
        '<div class="scroll"><table class="plain envs"><thead><tr><th>Environment</th><th>Adapters and versions</th>'
        "<th>numpy</th><th>Python</th><th>Profile</th><th>Run on</th><th>Wall time</th><th>Checks</th>"
        "<th>Failed</th><th>File</th></tr></thead><tbody>"
    ]
    for env in report.environments:
        failed = env.total("fail")
        failed_html = f'<a href="#fail-{env.slug}">{failed}</a>' if failed else "0"
        out.append(
            f'<tr id="env-{env.slug}"><td><b>{esc(env.name)}</b></td><td>{esc(adapters_text(env))}</td>'
            f"<td>{esc(env.numpy)}</td><td>{esc(env.python)}</td><td>{esc(env.profile)}</td>"
            f"<td>{esc(env.created)}</td><td class=num>{esc(wall_time(env.wall_seconds))}</td>"
            f'<td class="num">{env.total()}</td><td class="num{" fail" if failed else ""}">{failed_html}</td>'
            f"<td><code>{esc(env.source)}</code></td></tr>"
        )
    out.append("</tbody></table></div>")
    return out


def _html_evidence(evidence: str) -> str:
    items = []
    for item in (part.strip() for part in evidence.split(" ; ")):
        if not item:
            continue
        if _URL.search(item):
            pieces, urls = _URL.split(item), _URL.findall(item)
            text = esc(pieces[0]) + "".join(
                f'<a href="{esc(u)}">{esc(u)}</a>{esc(p)}' for u, p in zip(urls, pieces[1:])
            )
            items.append(f"<li>{text}</li>")
        else:
            items.append(f"<li><code>{esc(item)}</code></li>")
    return f"<p>Evidence:</p><ul>{''.join(items)}</ul>" if items else ""


def _html_divergence(report: Report, div: Divergence) -> list[str]:
    states = {env.name: divergence_state(env, div) for env in report.environments}
    n_observed = sum(1 for s in states.values() if s == "observed")
    meta = [f"adapter <code>{esc(div.adapter)}</code>", f"op <code>{esc(div.op)}</code>"]
    meta += [f"{k} <code>{esc(v)}</code>" for k, v in (("api", div.api), ("dtype", div.dtype)) if v != "*"]
    if div.outputs:
        meta.append(f"outputs {esc(', '.join(div.outputs))}")
    recorded = ", ".join(f"{k} {v}" for k, v in div.versions.items())
    meta.append(f"recorded versions: <code>{esc(recorded)}</code>" if recorded else "no recorded versions")
    chip = "diverge" if n_observed else "none"
    out = [
        f'<section class="div{" observed" if n_observed else ""}" id="div-{slug(div.id)}">',
        f'<h4><code>{esc(div.id)}</code> <span class="chip {chip}">observed in {n_observed} of '
        f"{len(report.environments)} environments</span></h4>",
        f'<p class="muted">{" · ".join(meta)}</p>',
        f"<p>{_inline_markup(div.summary)}</p>",
        _html_evidence(div.evidence),
    ]
    for vr in report.ranges.get(div.id, {}).values():
        suggestion = f" <span class='muted'>(suggested: <code>{esc(vr.framework)} {esc(vr.specifier)}</code>)</span>"
        out.append(
            f'<p><span class="range">Version range:</span> {esc(vr.describe())}{suggestion if vr.specifier else ""}</p>'
        )
    out += _html_divergence_environments(report, div, states)
    out.append("</section>")
    return out


def _html_divergence_environments(report: Report, div: Divergence, states: dict[str, str]) -> list[str]:
    rows = []
    for env in report.environments:
        state = states[env.name]
        if state in ("observed", "no longer reproduces"):
            cov = coverage_in(env, div)
            cls = "diverge" if state == "observed" else "agree"
            rows.append(
                f'<tr><td><a href="#env-{env.slug}">{esc(env.name)}</a></td><td class="{cls}">{esc(state)}</td>'
                f'<td class="num">{cov.covered}</td><td class="num">{cov.observed}</td>'
                f"<td>{esc(_versions_for(env, div, report))}</td></tr>"
            )
    out = []
    if rows:
        out.append(
            '<table class="plain"><thead><tr><th>Environment</th><th>State</th><th>Covered</th><th>Observed</th>'
            f"<th>Versions</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    unexercised = [e for e in report.environments if states[e.name] == "not exercised"]
    if unexercised:
        listed = ", ".join(f"{e.name} ({_versions_for(e, div, report)})" for e in unexercised)
        out.append(f'<p class="muted">Not exercised in: {esc(listed)}.</p>')
    absent = [e for e in report.environments if states[e.name] == "no such adapter"]
    if absent:
        names = ", ".join(e.name for e in absent)
        out.append(
            f'<p class="muted" title="{esc(names)}">No <code>{esc(div.adapter)}</code> adapter in '
            f"{esc(_absent_text(absent))}.</p>"
        )
    return out


def _html_failures(report: Report) -> list[str]:
    out = []
    for env in report.environments:
        groups = failures_of(env)
        if not groups:
            continue
        out.append(f'<h3 id="fail-{env.slug}">Failures in {esc(env.name)}</h3>')
        out.append(
            '<table class="plain"><thead><tr><th>Adapter</th><th>Op</th><th>API</th><th>dtype</th>'
            "<th>Failed checks</th><th>Features of the failed cases</th></tr></thead><tbody>"
        )
        for g in groups:
            feats = ", ".join(f"{f} ({n})" for f, n in g.features) or "—"
            out.append(
                f"<tr><td><b>{esc(g.adapter)}</b></td><td>{esc(g.op)}</td><td>{esc(g.api)}</td>"
                f'<td>{esc(g.dtype)}</td><td class="num fail">{g.count}</td><td>{esc(feats)}</td></tr>'
            )
        out.append("</tbody></table>")
    clean = [env.name for env in report.environments if not env.total("fail")]
    if not out:
        return ['<p class="chip agree">No failed checks in any environment.</p>']
    if clean:
        out.append(f'<p class="muted">No failed checks in: {esc(", ".join(clean))}.</p>')
    return out


def _html_legend_chips() -> str:
    chips = [("fail", "fail"), ("diverge", "diverges"), ("unsupported", "unsupported"), ("agree", "agree")]
    chips.append(("none", "— not run"))
    return " ".join(f'<span class="chip {c}">{t}</span>' for c, t in chips)


def render_html(report: Report) -> str:
    """The self-contained HTML page: inline CSS, no external resources, complete without JavaScript."""
    ops_nav = " ".join(f'<a href="#op-{slug(op)}">{esc(op)}</a>' for op in report.rows)
    legend = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", esc(LEGEND))
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(report.title)}</title>",
        f"<style>{CSS}</style></head>",
        "<body>",
        f'<header class="bar"><span class="name">{esc(report.title)}</span>',
        f'<nav>{ops_nav} <a href="#divergences">divergences</a> <a href="#failures">failures</a> '
        f'<a href="#environments">environments</a></nav><span>{_html_legend_chips()}</span></header>',
        "<main>",
        f"<h1>{esc(report.title)}</h1>",
        f'<p class="meta" id="generated">{esc(header_line(report))}</p>',
        f'<p class="meta">{esc(stats_line(report))}</p>',
        f'<p class="legend">{legend}{esc(_HTML_LEGEND_EXTRA)}</p>',
        '<div class="controls" id="controls" hidden><label>Show environments matching '
        '<input type="search" id="env-filter" placeholder="e.g. keras 3.0 jax"></label>'
        '<label><input type="checkbox" id="hide-quiet"> hide rows where every environment agrees</label></div>',
        '<h2 id="environments">Environments</h2>',
        *_html_environments(report),
    ]
    for op in report.rows:
        out += [f'<h2 id="op-{slug(op)}">{esc(op)}</h2>', *_html_matrix(report, op)]
    out.append('<h2 id="divergences">Divergences</h2>')
    for title, divs in divergence_groups(report):
        out.append(f"<h3>{esc(title)} ({len(divs)})</h3>")
        for div in divs:
            out += _html_divergence(report, div)
    out += ['<h2 id="failures">Failures</h2>', *_html_failures(report)]
    out += ["</main>", f"<script>{SCRIPT}</script>", "</body></html>"]
    return "\n".join(out) + "\n"


# --- command line --------------------------------------------------------------------------------


def write_report(report: Report, out_dir: Path) -> tuple[Path, Path]:
    """Write ``compatibility.md`` and ``compatibility.html`` into ``out_dir`` (created if needed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md, page = out_dir / "compatibility.md", out_dir / "compatibility.html"
    md.write_text(render_markdown(report), encoding="utf-8")
    page.write_text(render_html(report), encoding="utf-8")
    return md, page


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=Path, metavar="DIR", help="folder of results files (pytest --results FILE)")
    parser.add_argument(
        "--out", type=Path, default=Path("docs"), metavar="DIR_OUT", help="where to write them (default: docs)"
    )
    parser.add_argument("--title", default=DEFAULT_TITLE, help=f"page title (default: {DEFAULT_TITLE!r})")


def run(args: argparse.Namespace) -> int:
    try:
        envs = load_directory(args.directory)
        report = build_report(envs, title=args.title)
    except (ReportError, ValueError) as exc:
        print(f"convequiv report: error: {exc}", file=sys.stderr)
        return 2
    try:
        md, page = write_report(report, args.out)
    except OSError as exc:
        print(f"convequiv report: error: cannot write to {args.out}: {exc}", file=sys.stderr)
        return 2
    failing = sum(1 for env in envs if env.total("fail"))
    plural = "s" if len(envs) != 1 else ""
    print(f"wrote {md} and {page}: {len(envs)} environment{plural}, {failing} with failed checks")
    return 0
