"""Recorded divergences: real, narrow differences between a framework and the reference.

The data live in ``divergences.toml`` next to this module, one ``[[divergence]]`` table each:

``id``
    stable short name, used in reports and ``--strict-divergences`` output;
``adapter``, ``op``, ``api``, ``dtype``
    patterns the failing check must match, where ``*`` stands for any text, ``|`` separates
    alternatives and everything else, brackets included, is literal (``"keras[*]"``,
    ``"keras[jax]|keras[torch]"``, ``"*_pool"``, ``"*"``);
``when``
    a Python expression over ``case`` (a :mod:`convequiv.reference.cases` dataclass) and ``example``
    (:class:`convequiv.reference.cases.Example`, whose ``most_in_a_window`` / ``fewest_in_a_window`` /
    ``most_near_max_in_a_window`` describe the data) that selects exactly the affected cases;
``outputs``
    the outputs that differ (``["y"]``, ``["dx"]``, ...); a mismatch in any other output is a
    failure even inside the condition;
``versions``
    ``{framework = "specifier"}`` ranges (PEP 440) in which the divergence was seen, keyed like the
    adapters' ``versions()`` (import names: ``torch``, ``tensorflow``, ``keras``, ``jax``);
``summary``, ``evidence``
    what differs and a link to an upstream issue / the minimal reproduction.

Inside its condition a recorded divergence turns a mismatch into ``diverges (id)``; the suite stays
strict everywhere else. ``--strict-divergences`` turns it back into a failure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import tomllib

DATA_FILE = Path(__file__).with_name("divergences.toml")
_FIELDS = ("id", "adapter", "op", "when", "outputs", "versions", "summary", "evidence")


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
    _code: Any = field(default=None, compare=False, repr=False)

    def applies(self, adapter: str, op: str, api: str, dtype: str, example: Any, versions: dict[str, str]) -> bool:
        """Whether this divergence's condition covers the check (versions included)."""
        if not (
            matches(adapter, self.adapter)
            and matches(op, self.op)
            and matches(api, self.api)
            and matches(dtype, self.dtype)
        ):
            return False
        if not self.in_versions(versions):
            return False
        scope = {"case": example.case, "example": example}
        return bool(eval(self._code, {}, scope))

    def in_versions(self, versions: dict[str, str]) -> bool:
        from packaging.specifiers import SpecifierSet
        from packaging.version import Version

        for name, spec in self.versions.items():
            installed = versions.get(name) or installed_version(name)
            if installed is None:
                return False
            if Version(installed) not in SpecifierSet(spec, prereleases=True):
                return False
        return True

    def explains(self, outputs: Iterable[str]) -> bool:
        return set(outputs) <= set(self.outputs)


def matches(name: str, pattern: str) -> bool:
    """Whether ``name`` matches ``pattern``: ``*`` is any text, ``|`` separates alternatives."""
    return any(
        re.fullmatch(".*".join(re.escape(part) for part in alternative.split("*")), name) is not None
        for alternative in pattern.split("|")
    )


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
    """Parse and validate the divergence file; a malformed entry is a ``ValueError``."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    entries = []
    seen = set()
    for raw in data.get("divergence", []):
        missing = [f for f in _FIELDS if f not in raw]
        if missing:
            raise ValueError(f"{path}: divergence {raw.get('id', '?')!r} lacks {', '.join(missing)}")
        if raw["id"] in seen:
            raise ValueError(f"{path}: duplicate divergence id {raw['id']!r}")
        seen.add(raw["id"])
        try:
            code = compile(raw["when"], f"<divergence {raw['id']}>", "eval")
        except SyntaxError as exc:
            raise ValueError(f"{path}: divergence {raw['id']!r} has an invalid condition: {exc}") from exc
        entries.append(
            Divergence(
                id=raw["id"],
                adapter=raw["adapter"],
                op=raw["op"],
                when=raw["when"],
                outputs=tuple(raw["outputs"]),
                versions=dict(raw["versions"]),
                summary=raw["summary"],
                evidence=raw["evidence"],
                api=raw.get("api", "*"),
                dtype=raw.get("dtype", "*"),
                _code=code,
            )
        )
    return entries
