"""The report's view model, computed once from the results files and shown by both renderings.

* the environments in column order (:mod:`.environments`: one results file each);
* rows per op (:func:`rows_by_op`): the op row first, then its semantic features;
* :class:`MatrixCell`: one row in one environment, one :class:`AdapterCell` (a
  :class:`convequiv.results.Cell` plus the divergence combinations that explained checks together)
  per adapter, worst news first; its text is :func:`convequiv.cells.render_cell`'s;
* divergences: every recorded one plus ids only the results name, their state per environment
  (:func:`divergence_state`) and the version ranges derived from that (:class:`VersionRange`);
* :class:`FailureGroup`: failed checks per adapter, op, API and dtype, with their features;
* plan routes per environment and adapter (:func:`routes_of`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..cells import render_cell
from ..divergences import Divergence, adapter_matches, recorded
from ..results import Cell, matrix
from .environments import Environment, load_directory, order_environments
from .text import (
    DEFAULT_TITLE,
    adapter_key,
    feature_of,
    framework_key,
    in_specifier,
    natural_key,
    op_of,
    plural,
    public_version,
    times,
    today,
    version_key,
)

#: States of an adapter's checks on a row, worst news first: ``unchecked`` means every check agreed
#: or diverged as recorded but some outputs were not checked, so it is not counted as agreeing.
STATES = ("fail", "diverge", "unchecked", "unsupported", "agree")
RANK = {state: rank for rank, state in enumerate(STATES)}


@dataclass(frozen=True)
class AdapterCell:
    """One adapter's checks on one row in one environment."""

    adapter: str
    cell: Cell
    #: Sets of divergences that explained checks only together, with their counts, by ids.
    combinations: tuple[tuple[tuple[str, ...], int], ...] = ()

    @property
    def state(self) -> str:
        """The worst news (:data:`STATES`)."""
        statuses = self.cell.statuses
        for state in ("fail", "diverge"):
            if statuses[state]:
                return state
        if self.cell.unchecked:
            return "unchecked"
        return "unsupported" if statuses["unsupported"] else "agree"

    @property
    def colour(self) -> str:
        """As :attr:`state`, except that an adapter that agreed on every check it supports colours
        like ``agree``."""
        return "agree" if self.state == "unsupported" and self.cell.statuses["agree"] else self.state

    @property
    def text(self) -> str:
        """The adapter's counts, in :func:`convequiv.cells.render_cell`'s words."""
        return render_cell(self.cell, "words")

    def tooltip(self) -> str:
        return f"{self.adapter}: {self.text}"


@dataclass(frozen=True)
class MatrixCell:
    """One row in one environment: the adapters that ran its checks, worst state first."""

    adapters: tuple[AdapterCell, ...] = ()

    @property
    def news(self) -> list[AdapterCell]:
        """The adapters that do not fully agree (listed one by one)."""
        return [a for a in self.adapters if a.state != "agree"]

    @property
    def agreeing(self) -> list[AdapterCell]:
        """The adapters that agreed on every output of every check (only counted)."""
        return [a for a in self.adapters if a.state == "agree"]

    @property
    def state(self) -> str:
        """The colour: the worst adapter colour, ``none`` when nothing ran."""
        return min((a.colour for a in self.adapters), key=RANK.__getitem__) if self.adapters else "none"

    @property
    def quiet(self) -> bool:
        return self.state in ("agree", "none")

    def agree_text(self) -> str:
        """``all agree (n)`` when every adapter agreed, ``+k agree`` after others, else ``""``."""
        if not self.agreeing:
            return ""
        return f"+{len(self.agreeing)} agree" if self.news else f"all agree ({len(self.agreeing)})"

    def tooltip(self) -> str:
        return "\n".join(a.tooltip() for a in self.adapters)

    def plain(self) -> str:
        """The whole cell as one line of plain text: adapters ``; ``-separated, ``—`` when empty."""
        if not self.adapters:
            return "—"
        parts = ["".join(text for _, text in line_tokens(a)) for a in self.news]
        return "; ".join(parts + ([self.agree_text()] if self.agreeing else []))


#: A piece of an adapter's line: ``("adapter", name)``, ``("fail", "FAIL 3")``, ``("divergence", id)``,
#: ``("bracket", "[" or "]")`` around the ids, ``("unchecked", "dx not checked")`` or ``("text", text)``.
Token = tuple[str, str]


def line_tokens(cell: AdapterCell, combinations: bool = True) -> list[Token]:
    """An adapter's line: ``name: <render_cell words>`` cut into tokens (FAIL count, divergence ids,
    outputs not checked), then (unless ``combinations`` is false) the sets of divergences that
    explained checks only together, `` · ``-separated (:func:`combination_tokens`)."""
    tokens: list[Token] = [("adapter", cell.adapter), ("text", ": ")]
    c = cell.cell
    ids = sorted(c.divergences)
    markers = [
        ("fail", f"FAIL {c.statuses['fail']}" if c.statuses["fail"] else ""),
        ("ids", "[" + ", ".join(ids) + "]" if ids and c.statuses["diverge"] else ""),
        ("unchecked", ", ".join(sorted(c.unchecked)) + " not checked" if c.unchecked else ""),
    ]
    rest = cell.text
    for kind, marker in markers:
        before, found, after = rest.partition(marker) if marker else (rest, "", "")
        if not found:
            continue
        tokens.append(("text", before))
        if kind == "ids":
            tokens.append(("bracket", "["))
            for i, div_id in enumerate(ids):
                tokens += [("text", ", ")] if i else []
                tokens.append(("divergence", div_id))
            tokens.append(("bracket", "]"))
        else:
            tokens.append((kind, marker))
        rest = after
    tokens.append(("text", rest))
    for combination in combination_tokens(cell) if combinations else []:
        tokens += [("text", " · "), *combination]
    return [t for t in tokens if t[1]]


def combination_tokens(cell: AdapterCell) -> list[list[Token]]:
    """Per set of divergences that explained checks only together: ``a + b together 3``."""
    out = []
    for combination, n in cell.combinations:
        tokens: list[Token] = []
        for i, div_id in enumerate(combination):
            tokens += [("text", " + ")] if i else []
            tokens.append(("divergence", div_id))
        out.append([*tokens, ("text", f" together {n}")])
    return out


@dataclass(frozen=True)
class VersionRange:
    """Where one divergence was seen, by installed version of one framework.

    ``observed``: (version, checks that showed it), ascending; ``not_observed``: (version, checks
    covered) for versions where its condition was met but it never showed; ``not_exercised``:
    versions installed alongside a matching adapter where no check met its condition."""

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
        """Versions covered but not observed between the first and last observed ones."""
        if not self.observed:
            return ()
        lo, hi = version_key(self.observed[0][0]), version_key(self.observed[-1][0])
        return tuple(v for v, _ in self.not_observed if lo < version_key(v) < hi)

    @property
    def specifier(self) -> str | None:
        """A PEP 440 specifier spanning the observed versions (local labels dropped), or ``None``."""
        if not self.observed:
            return None
        first, last = public_version(self.observed[0][0]), public_version(self.observed[-1][0])
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
            listed = ", ".join(f"{v} (covered {times(n)})" for v, n in self.not_observed)
            parts.append(f"not seen in {'' if self.observed else self.framework + ' '}{listed}")
        if self.not_exercised:
            outside = [v for v in self.not_exercised if not in_specifier(v, self.recorded)]
            text = f"not exercised with {', '.join(self.not_exercised)}"
            if outside and self.recorded:
                text += f" ({', '.join(outside)} outside the recorded {self.recorded})"
            parts.append(text if parts else f"{self.framework}: {text}")
        return "; ".join(parts) if parts else f"{self.framework}: no environment has it"


@dataclass(frozen=True)
class FailureGroup:
    """``count`` failed checks of ``adapter`` on ``op`` through ``api`` in ``dtype``, and how many
    of them had each feature."""

    adapter: str
    op: str
    api: str
    dtype: str
    count: int
    features: tuple[tuple[str, int], ...]


@dataclass(frozen=True, eq=False, repr=False)
class Report:
    """Everything the two renderings show."""

    title: str
    generated: str
    environments: tuple[Environment, ...]
    rows: dict[str, list[str]]
    cells: dict[tuple[str, str], MatrixCell]
    divergences: tuple[Divergence, ...]
    ranges: dict[str, dict[str, VersionRange]]

    def cell(self, row: str, env: Environment) -> MatrixCell:
        return self.cells.get((row, env.name), MatrixCell())

    @property
    def route_ops(self) -> list[str]:
        """Every op some environment recorded a plan route for, sorted."""
        return sorted({op for env in self.environments for (_, op, _) in env.results.routes})

    def __repr__(self) -> str:
        return f"Report({self.title!r}, {len(self.environments)} environments, {len(self.divergences)} divergences)"


# --- the matrix ----------------------------------------------------------------------------------


def rows_by_op(envs: Iterable[Environment]) -> dict[str, list[str]]:
    """Every row of every environment grouped by op: the op row first, then its features sorted."""
    rows: dict[str, set[str]] = defaultdict(set)
    for env in envs:
        for key in env.results.tallies:
            rows[op_of(key.row)].add(key.row)
    return {
        op: [op, *sorted((r for r in found if r != op), key=lambda r: natural_key(feature_of(r)))]
        for op, found in sorted(rows.items())
    }


def environment_cells(env: Environment) -> dict[str, MatrixCell]:
    """Each row's cell in ``env``: one :class:`AdapterCell` per adapter, worst state first."""
    combos: dict[tuple[str, str], Counter[tuple[str, ...]]] = defaultdict(Counter)
    for key, n in env.results.tallies.items():
        if key.status == "diverge" and len(key.divergences) > 1 and n:
            combos[(key.row, key.adapter)][tuple(sorted(key.divergences))] += n
    out = {}
    for row, by_adapter in matrix((k, n) for k, n in env.results.tallies.items() if n).items():
        cells = [
            AdapterCell(adapter, cell, tuple(sorted(combos[(row, adapter)].items())))
            for adapter, cell in by_adapter.items()
        ]
        cells.sort(key=lambda c: (RANK[c.state], natural_key(c.adapter)))
        out[row] = MatrixCell(tuple(cells))
    return out


# --- divergences ---------------------------------------------------------------------------------

#: Headings of the divergence groups, in page order (see :func:`divergence_groups`).
DIVERGENCE_GROUPS = (
    "Observed in at least one environment",
    "Covered but never observed (no longer reproduce)",
    "Not exercised in any environment",
)
UNKNOWN_SUMMARY = "Not in the divergence file any more (only the results files name it)."


def divergence_catalogue(envs: Sequence[Environment], known: Iterable[Divergence]) -> tuple[Divergence, ...]:
    """The recorded divergences plus any id a results file names that no record has, by id (its
    adapter and op read from the tallies that name it)."""
    catalogue = {div.id: div for div in known}
    seen: dict[str, tuple[set[str], set[str]]] = {}
    for env in envs:
        for key in env.results.tallies:
            for div_id in key.divergences:
                adapters, ops = seen.setdefault(div_id, (set(), set()))
                adapters.add(key.adapter)
                ops.add(key.op)
        for div_id in env.results.divergences:
            seen.setdefault(div_id, (set(), set()))
    for div_id, (adapters, ops) in seen.items():
        if div_id not in catalogue:
            catalogue[div_id] = Divergence(
                id=div_id,
                adapter="|".join(sorted(adapters)) or "*",
                op="|".join(sorted(ops)) or "*",
                when="True",
                outputs=(),
                versions={},
                summary=UNKNOWN_SUMMARY,
                evidence="",
            )
    return tuple(sorted(catalogue.values(), key=lambda div: div.id))


def divergence_groups(report: Report) -> list[tuple[str, list[Divergence]]]:
    """The report's divergences under :data:`DIVERGENCE_GROUPS` (empty groups left out), by id."""
    groups: dict[str, list[Divergence]] = {title: [] for title in DIVERGENCE_GROUPS}
    for div in report.divergences:
        counts = [env.coverage(div.id) for env in report.environments]
        rank = 0 if any(c.observed for c in counts) else 1 if any(c.covered for c in counts) else 2
        groups[DIVERGENCE_GROUPS[rank]].append(div)
    return [(title, divs) for title, divs in groups.items() if divs]


def divergence_state(env: Environment, div: Divergence) -> str:
    """``observed``, ``no longer reproduces`` (covered, never observed), ``not exercised`` or
    ``no such adapter`` (no adapter of the environment matches the record's adapter pattern)."""
    coverage = env.coverage(div.id)
    if not coverage.covered and not env.has_adapter(div.adapter):
        return "no such adapter"
    return coverage.state


def combinations_with(env: Environment, div_id: str) -> list[tuple[tuple[str, ...], int]]:
    """The sets of several divergences, ``div_id`` among them, that explained checks together
    in ``env`` (each check counted once, on its op row), most frequent first."""
    found: Counter[tuple[str, ...]] = Counter()
    for key, n in env.results.tallies.items():
        if ":" not in key.row and len(key.divergences) > 1 and div_id in key.divergences:
            found[tuple(sorted(key.divergences))] += n
    return sorted(found.items(), key=lambda item: (-item[1], item[0]))


def frameworks_of(div: Divergence, envs: Sequence[Environment]) -> list[str]:
    """The frameworks whose versions matter: the keys of the record's ``versions``, or else every
    import name the matching adapters report."""
    if div.versions:
        return sorted(div.versions, key=framework_key)
    names = {
        name
        for env in envs
        for spec, versions in env.adapters.items()
        if adapter_matches(spec, div.adapter)
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
        coverage = env.coverage(div.id)
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
    """For every divergence (default: :func:`convequiv.divergences.recorded`, plus ids only the
    results name), per framework whose version matters: the versions in which it was observed,
    covered but not observed, and not exercised. ``environments`` may also be a results folder.

    ``version_ranges(envs)["torch-maxpool-grad-last-nan"]["torch"].describe()`` reads e.g.
    ``seen in torch 2.4.1 – 2.13.0; not seen in 2.1.2 (covered 12 times)``, and ``.specifier``
    (``>=2.4.1,<=2.13.0``) is a candidate for the record's ``versions`` field."""
    envs = load_directory(environments) if isinstance(environments, Path) else environments
    catalogue = divergence_catalogue(envs, recorded() if divergences is None else divergences)
    return {div.id: {fw: version_range(div, fw, envs) for fw in frameworks_of(div, envs)} for div in catalogue}


def versions_for(env: Environment, div: Divergence, report: Report) -> str:
    """The installed versions of the frameworks that matter for ``div`` in ``env``."""
    names = list(report.ranges.get(div.id, {})) or list(env.frameworks())
    return ", ".join(f"{name} {env.version(name, div.adapter) or 'not installed'}" for name in names)


# --- environments and totals in words -----------------------------------------------------------


def header_line(report: Report) -> str:
    """The first line under the title: date and environment count (the only line that varies)."""
    return f"Generated on {report.generated} from {plural(len(report.environments), 'environment')}."


def stats_line(report: Report) -> str:
    rows = sum(len(r) for r in report.rows.values())
    observed = sum(1 for div in report.divergences if any(e.coverage(div.id).observed for e in report.environments))
    failing = sum(1 for env in report.environments if env.total("fail"))
    partly = sum(1 for env in report.environments if env.partly_checked())
    return (
        f"{len(report.rows)} ops, {rows} rows; {len(report.divergences)} divergences, {observed} observed "
        f"somewhere; {plural(failing, 'environment')} with failed checks, {partly} with outputs not checked."
    )


# --- failures and routes -------------------------------------------------------------------------


def failures_of(env: Environment) -> list[FailureGroup]:
    """The environment's failed checks grouped by (adapter, op, api, dtype), with their features."""
    counts: Counter[tuple[str, str, str, str]] = Counter()
    features: dict[tuple[str, str, str, str], Counter[str]] = defaultdict(Counter)
    for key, n in env.results.tallies.items():
        if key.status != "fail" or not n:
            continue
        group = (key.adapter, key.op, key.api, key.dtype)
        if ":" in key.row:
            features[group][feature_of(key.row)] += n
        else:
            counts[group] += n
    return [
        FailureGroup(*g, counts[g], tuple(sorted(features[g].items(), key=lambda f: natural_key(f[0]))))
        for g in sorted(counts, key=lambda g: tuple(natural_key(p) for p in g))
    ]


#: Route counts of one adapter in one environment: ``{op: ((route, checks), ...)}``.
Routes = dict[str, tuple[tuple[str, int], ...]]


def routes_of(env: Environment) -> dict[str, Routes]:
    """``{adapter: {op: ((route, checks), ...)}}``: how the environment's checks reached each
    framework, most used route first and ``unsupported`` last; adapters in framework order."""
    found: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for (adapter, op, route), n in env.results.routes.items():
        if n:
            found[adapter][op][route or "?"] += n
    return {
        adapter: {
            op: tuple(sorted(counts.items(), key=lambda rc: (rc[0] == "unsupported", -rc[1], rc[0])))
            for op, counts in sorted(found[adapter].items())
        }
        for adapter in sorted(found, key=adapter_key)
    }


# --- the whole report ----------------------------------------------------------------------------


def build_report(
    environments: Sequence[Environment],
    divergences: Iterable[Divergence] | None = None,
    *,
    title: str = DEFAULT_TITLE,
    generated: str | None = None,
) -> Report:
    """Merge the environments (put in column order) into what both renderings show; the divergence
    records default to :func:`convequiv.divergences.recorded`."""
    envs = tuple(order_environments(environments))
    cells = {(row, env.name): cell for env in envs for row, cell in environment_cells(env).items()}
    catalogue = divergence_catalogue(envs, recorded() if divergences is None else divergences)
    return Report(
        title=title,
        generated=generated or today(),
        environments=envs,
        rows=rows_by_op(envs),
        cells=cells,
        divergences=catalogue,
        ranges={div.id: {fw: version_range(div, fw, envs) for fw in frameworks_of(div, envs)} for div in catalogue},
    )
