"""How a cell of the op x adapter matrix reads, in words or in symbols: the one cell renderer of
the terminal summary, ``convequiv check``, its Markdown/JSON report and ``convequiv report``.

A cell sums the checks of one row (an op, or an op with a feature) and one adapter:

* ``words`` (Markdown): ``FAIL 3 · diverges 12 [id, ...] · agrees 340 · unsupported 5 · dx not checked``;
* ``compact`` (terminal, at most :data:`COMPACT_WIDTH` characters): the worst news as a symbol and
  the checked count: ``✗ 3/352`` (3 of 352 checked examples failed), ``~ 12/352`` (12 diverged,
  explained by recorded divergences, the rest agreed), ``✓ 352`` (all agreed; unsupported cases
  are counted in the detailed reports), ``∅ 40`` (every case unsupported), ``-`` (nothing ran). A
  trailing ``*`` marks outputs not checked.
"""

from __future__ import annotations

from .results import Cell

SYMBOLS = {"fail": "✗", "diverge": "~", "agree": "✓", "unsupported": "∅", "none": "-"}
LEGEND = (
    "✓ n: all n checked examples agree · ~ k/n: k differ as recorded divergences explain · "
    "✗ k/n: k fail (unexplained) · ∅ n: unsupported (proven) · *: some outputs not checked"
)
WORDS = {"fail": "FAIL", "diverge": "diverges", "unsupported": "unsupported", "agree": "agrees"}
COMPACT_WIDTH = 11


def render_cell(cell: Cell | None, style: str = "words", *, divergence_ids: bool = True) -> str:
    """One cell in ``style`` ``"words"`` or ``"compact"`` (module docstring)."""
    if cell is None or not cell.total:
        return "-"
    if style == "compact":
        return _compact(cell)
    parts = []
    for status in ("fail", "diverge", "agree", "unsupported"):
        n = cell.statuses[status]
        if not n:
            continue
        text = f"{WORDS[status]} {n}"
        if status == "diverge" and divergence_ids and cell.divergences:
            text += " [" + ", ".join(sorted(cell.divergences)) + "]"
        parts.append(text)
    if cell.unchecked:
        parts.append(", ".join(sorted(cell.unchecked)) + " not checked")
    return " · ".join(parts)


def _compact(cell: Cell) -> str:
    checked = cell.statuses["agree"] + cell.statuses["diverge"] + cell.statuses["fail"]
    mark = "*" if cell.unchecked else ""
    if not checked:
        return f"{SYMBOLS['unsupported']} {cell.statuses['unsupported']}"
    for state in ("fail", "diverge"):
        if cell.statuses[state]:
            return f"{SYMBOLS[state]} {cell.statuses[state]}/{checked}{mark}"
    return f"{SYMBOLS['agree']} {checked}{mark}"
