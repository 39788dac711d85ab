"""Ordering and wording shared by the Markdown and HTML renderings: sort keys, anchors, the legend,
environment descriptions and the evidence of a divergence record."""

from __future__ import annotations

import os
import re
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..divergences import Divergence

DEFAULT_ENVIRONMENT = "default"
DEFAULT_TITLE = "Compatibility with the NumPy reference"
#: Frameworks named first, in this order, wherever versions are listed.
FRAMEWORK_ORDER = ("torch", "tensorflow", "keras", "jax", "jaxlib")
URL = re.compile(r"https?://[^\s<>\"';,]+[^\s<>\"';,.)]")

LEGEND = (
    "Each table covers one op: its first row counts every check of the op, the others only the checks "
    "whose case has that feature. Columns are environments (one pytest run each; their versions are in "
    "the Environments table). A cell lists the environment's adapters that do not fully agree on that row, "
    "worst news first, with counts of checks: **FAIL** n: n checks disagreed with the NumPy reference and no "
    "recorded divergence explains them (details under Failures); **diverges** n [ids]: mismatches that "
    "recorded divergences explain (each id links to its entry, with where and in which versions it was "
    "seen; “a + b together n”: n checks needed both records at once); **agrees** n: within the error "
    "bound; **unsupported** n: the framework lacks that configuration (proven); “dx **not checked**”: "
    "outputs the adapter does not compute (a forward-only adapter), so those checks are not counted as "
    "agreeing. Adapters that agreed on every output of every check are only counted (“+2 agree”); "
    "“all agree (n)” means all n adapters did, and “—” that the row was not run there."
)
ROUTES_INTRO = (
    "How the checks reached each framework: per environment and adapter, the translation route of the "
    "adapter's plan for each op (e.g. native, pre-pad) with the number of checks that took it; "
    "“unsupported” counts the cases the framework cannot express."
)


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


def public_version(version: str) -> str:
    """The version without its local label (``2.13.0+cpu`` -> ``2.13.0``)."""
    return version.split("+", 1)[0]


def in_specifier(version: str, specifier: str | None) -> bool:
    """Whether ``version`` lies in the PEP 440 ``specifier``; unparseable ones count as inside."""
    if not specifier:
        return True
    try:
        from packaging.specifiers import SpecifierSet
        from packaging.version import Version

        return Version(version) in SpecifierSet(specifier, prereleases=True)
    except Exception:  # unparseable version or specifier: do not claim it is outside
        return True


def framework_key(name: str) -> tuple[int, str]:
    return (FRAMEWORK_ORDER.index(name) if name in FRAMEWORK_ORDER else len(FRAMEWORK_ORDER), name)


def adapter_key(spec: str) -> tuple[tuple[int, str], list[Any]]:
    """Adapters in framework order (``torch``, ``tensorflow``, ``keras[...]``, ``jax``), then by name."""
    return (framework_key(spec.split("[", 1)[0].split("/", 1)[0]), natural_key(spec))


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


def times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def wall_time(seconds: float) -> str:
    if seconds <= 0:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60:02d} min"


def evidence_items(evidence: str) -> list[list[tuple[str, str]]]:
    """The `` ; ``-separated items of a record's evidence, each as ``("url" | "text" | "code", text)``
    pieces: an item with links is text around the links, an item without one is code."""
    items = []
    for item in (part.strip() for part in evidence.split(" ; ")):
        if not item:
            continue
        if URL.search(item):
            pieces, urls = URL.split(item), URL.findall(item)
            parts = [("text", pieces[0])]
            for url, after in zip(urls, pieces[1:]):
                parts += [("url", url), ("text", after)]
            items.append([p for p in parts if p[1]])
        else:
            items.append([("code", item)])
    return items


def patterns(div: Divergence) -> list[tuple[str, str]]:
    """A record's API, dtype and route patterns other than ``*``, as (field, pattern)."""
    return [(k, v) for k, v in (("api", div.api), ("dtype", div.dtype), ("route", div.route)) if v != "*"]


def today() -> str:
    """Today's date, or ``SOURCE_DATE_EPOCH``'s when set (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return time.strftime("%Y-%m-%d", time.gmtime(int(epoch)))
    return time.strftime("%Y-%m-%d")
