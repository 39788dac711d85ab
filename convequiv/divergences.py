"""Recorded divergences: real, narrow differences between a framework and the reference.

The data live in ``divergences.toml`` next to this module, one ``[[divergence]]`` table each:

``id``
    stable short name, used in reports and ``--strict-divergences`` output;
``adapter``, ``op``, ``api``, ``dtype``, ``route``
    patterns the check must match, where ``*`` stands for any text, ``|`` separates alternatives
    and everything else, brackets included, is literal (``"keras[*]"``, ``"keras[jax]|keras[torch]"``,
    ``"*_pool"``, ``"*"``). ``route`` is the translation path of the adapter's plan (``"pre-pad"``,
    default ``"*"``). An adapter pattern also matches the variants of that adapter
    (``"torch"`` matches ``"torch/compile"``) unless it names a variant itself;
``when``
    a condition in the language of :mod:`convequiv.condition` over ``case``, ``example``,
    ``inputs``, ``dtype`` and ``kernels`` that selects exactly the affected cases; the data predicates
    (``example.most_in_a_window('nan')`` ...) read the arrays the framework received;
``outputs``
    the outputs that differ (``["y"]``, ``["dx"]``, ...; ``["crash"]`` for a framework error);
    a mismatch in any other output is a failure even inside the condition. Several records that
    apply to one check explain it together when their outputs cover every differing output;
``raises`` (crash records)
    ``"ExceptionType: regular expression"``: the framework call must fail with that exception type
    and a message matching the expression;
``versions``
    ``{framework = "specifier"}`` ranges (PEP 440) in which the divergence was seen, keyed like the
    adapters' ``versions()`` (import names: ``torch``, ``tensorflow``, ``keras``, ``jax``);
``summary``, ``evidence``
    what differs and a link to an upstream issue / the minimal reproduction.

Inside its condition a recorded divergence turns a mismatch into ``diverges (id)``; the suite stays
strict everywhere else. ``--strict-divergences`` turns it back into a failure.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path

from .condition import Condition, ConditionError

DATA_FILE = Path(__file__).with_name("divergences.toml")
_REQUIRED = ("id", "adapter", "op", "when", "outputs", "versions", "summary", "evidence")
_OPTIONAL = ("api", "dtype", "route", "raises")
KNOWN_OUTPUTS = frozenset({"y", "dx", "dw", "db", "jvp", "shape", "crash"})


@dataclass(frozen=True)
class Divergence:
    id: str
    adapter: str
    op: str
    when: str
    outputs: tuple[str, ...]
    versions: dict[str, str]
    summary: str
    evidence: str
    api: str = "*"
    dtype: str = "*"
    route: str = "*"
    raises: str = ""
    source: str = ""
    condition: Condition = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.condition is None:
            object.__setattr__(self, "condition", Condition(self.when))

    def matches_check(self, adapter: str, op: str, api: str, dtype: str, route: str) -> bool:
        """Whether the patterns cover the check (versions and condition aside)."""
        return (
            adapter_matches(adapter, self.adapter)
            and matches(op, self.op)
            and matches(api, self.api)
            and matches(dtype, self.dtype)
            and matches(route, self.route)
        )

    def applies(self, scope: Mapping[str, object], versions: Mapping[str, str]) -> bool:
        """Whether the condition holds for the check's data (``scope``) in these versions."""
        return self.in_versions(versions) and self.condition(scope)

    def in_versions(self, versions: Mapping[str, str]) -> bool:
        from packaging.specifiers import SpecifierSet
        from packaging.version import Version

        for name, spec in self.versions.items():
            installed = versions.get(name) or installed_version(name)
            if installed is None:
                return False
            if Version(installed) not in SpecifierSet(spec, prereleases=True):
                return False
        return True

    def explains_crash(self, exc_type: str, message: str) -> bool:
        """Whether a crash record matches this exception (``raises``: ``"Type: regex"``)."""
        if not self.raises:
            return False
        expected_type, _, pattern = self.raises.partition(":")
        return expected_type.strip() == exc_type and re.search(pattern.strip(), message) is not None


def explained_by(records: Iterable[Divergence], outputs: Iterable[str]) -> list[Divergence]:
    """The records that together explain every output in ``outputs`` (those that explain at least
    one of them), or ``[]`` when some output is explained by none."""
    wanted = set(outputs)
    chosen = [d for d in records if wanted & set(d.outputs)]
    covered = set().union(*(d.outputs for d in chosen)) if chosen else set()
    return chosen if wanted and wanted <= covered else []


def matches(name: str, pattern: str) -> bool:
    """Whether ``name`` matches ``pattern``: ``*`` is any text, ``|`` separates alternatives."""
    return any(
        re.fullmatch(".*".join(re.escape(part) for part in alternative.split("*")), name) is not None
        for alternative in pattern.split("|")
    )


def adapter_matches(adapter: str, pattern: str) -> bool:
    """:func:`matches`, where a pattern without a variant also covers the adapter's variants."""
    base = adapter.split("/", 1)[0]
    return matches(adapter, pattern) or ("/" not in pattern and base != adapter and matches(base, pattern))


@cache
def installed_version(name: str) -> str | None:
    """Version of the distribution providing import name ``name`` (``tensorflow`` is provided by
    ``tensorflow-cpu`` here), or ``None`` when it is not installed."""
    candidates = [name, *metadata.packages_distributions().get(name, [])]
    for dist in candidates:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def load(path: Path = DATA_FILE) -> list[Divergence]:
    """Parse and validate a divergence file; a malformed entry is a ``ValueError`` naming it."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    entries = []
    seen = set()
    for raw in data.get("divergence", []):
        name = raw.get("id", "?")
        missing = [f for f in _REQUIRED if f not in raw]
        if missing:
            raise ValueError(f"{path}: divergence {name!r} lacks {', '.join(missing)}")
        unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
        if unknown:
            raise ValueError(f"{path}: divergence {name!r} has unknown field(s) {', '.join(unknown)}")
        if name in seen:
            raise ValueError(f"{path}: duplicate divergence id {name!r}")
        seen.add(name)
        outputs = tuple(raw["outputs"])
        if not outputs or not set(outputs) <= KNOWN_OUTPUTS:
            raise ValueError(f"{path}: divergence {name!r} outputs must be among {sorted(KNOWN_OUTPUTS)}")
        if ("crash" in outputs) != bool(raw.get("raises")):
            raise ValueError(f"{path}: divergence {name!r}: a crash record has outputs ['crash'] and 'raises'")
        try:
            condition = Condition(raw["when"])
        except ConditionError as exc:
            raise ValueError(f"{path}: divergence {name!r}: {exc}") from exc
        entries.append(
            Divergence(
                id=name,
                adapter=raw["adapter"],
                op=raw["op"],
                when=raw["when"],
                outputs=outputs,
                versions=dict(raw["versions"]),
                summary=raw["summary"],
                evidence=raw["evidence"],
                source=str(path),
                condition=condition,
                **{k: raw[k] for k in _OPTIONAL if k in raw},
            )
        )
    return entries


@cache
def _all(extra: str) -> tuple[Divergence, ...]:
    entries = load()
    for item in filter(None, extra.split(os.pathsep)):
        entries += load(Path(item))
    ids = [d.id for d in entries]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ValueError(f"divergence ids defined twice: {', '.join(duplicated)}")
    return tuple(entries)


def recorded() -> tuple[Divergence, ...]:
    """The project's divergence file plus any files listed in ``CONVEQUIV_DIVERGENCES``
    (``os.pathsep``-separated; how a third-party adapter records its own divergences)."""
    return _all(os.environ.get("CONVEQUIV_DIVERGENCES", ""))
