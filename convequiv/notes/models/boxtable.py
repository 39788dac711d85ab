"""A box-drawing table laid out the way Keras 3's ``model.summary()`` gets it from ``rich``.

Keras asks rich for a table of ``line_length`` characters whose columns want
``int(p * line_length) - previous`` characters at the relative ``positions``; rich adds one cell of
padding on each side, finds the total too wide for ``line_length`` minus the borders and takes the
excess back evenly (integer shares, Python's ``round``), which is why a Keras 3 summary at the
default 88 characters has columns of 38, 29 and 17 (padding included). Cell text wraps at
spaces; a word longer than the cell is cut with an ellipsis.

Only the plain-text rendering is reproduced (no colours or bold), as Keras prints it when the
output is captured or not a terminal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_WORD = re.compile(r"\s*\S+\s*")


def _ratio_reduce(total: int, ratios: list[int], maximums: list[int], values: list[int]) -> list[int]:
    ratios = [r if m else 0 for r, m in zip(ratios, maximums)]
    total_ratio = sum(ratios)
    if not total_ratio:
        return values[:]
    remaining = total
    result = []
    for ratio, maximum, value in zip(ratios, maximums, values):
        if ratio and total_ratio > 0:
            distributed = min(maximum, round(ratio * remaining / total_ratio))
            result.append(value - distributed)
            remaining -= distributed
            total_ratio -= ratio
        else:
            result.append(value)
    return result


def column_widths(line_length: int, positions: Sequence[float]) -> list[int]:
    """Widths of the columns including their two cells of padding (borders excluded)."""
    wanted, current = [], 0
    for pos in positions:
        width = int(pos * line_length) - current
        wanted.append(width + 2)
        current += width
    budget = line_length - (len(positions) + 1)
    if sum(wanted) > budget:
        wanted = _ratio_reduce(sum(wanted) - budget, [1] * len(wanted), wanted, wanted)
    return wanted


def wrap(text: str, width: int) -> list[str]:
    """Break ``text`` at spaces into lines of at most ``width`` characters (rich's rule: a word
    that fits no line stands alone and is cut to ``width - 1`` characters plus an ellipsis)."""
    breaks: list[int] = []
    offset = 0
    for match in _WORD.finditer(text):
        start, word = match.start(), match.group(0)
        length = len(word.rstrip())
        if width - offset >= length:
            offset += len(word)
        elif length > width:
            if start:
                breaks.append(start)
            offset = len(word)
        elif offset and start:
            breaks.append(start)
            offset = len(word)
    pieces = [text[a:b] for a, b in zip([0, *breaks], [*breaks, len(text)])] or [""]
    lines = []
    for piece in pieces:
        piece = piece.rstrip()
        if len(piece) > width:
            piece = piece[: width - 1] + "…"
        lines.append(piece)
    return lines


def render(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    line_length: int,
    positions: Sequence[float],
    justify: Sequence[str],
) -> list[str]:
    """The table's lines: heavy header box, a light rule between rows."""
    widths = column_widths(line_length, positions)

    def cells(values: Sequence[str], bar: str) -> list[str]:
        wrapped = [wrap(v, w - 2) for v, w in zip(values, widths)]
        height = max(len(w) for w in wrapped)
        out = []
        for i in range(height):
            parts = []
            for lines, w, how in zip(wrapped, widths, justify):
                text = lines[i] if i < len(lines) else ""
                text = text.rjust(w - 2) if how == "right" else text.ljust(w - 2)
                parts.append(f" {text} ")
            out.append(bar + bar.join(parts) + bar)
        return out

    def rule(left: str, fill: str, mid: str, right: str) -> str:
        return left + mid.join(fill * w for w in widths) + right

    lines = [rule("┏", "━", "┳", "┓"), *cells(header, "┃"), rule("┡", "━", "╇", "┩")]
    for i, row in enumerate(rows):
        if i:
            lines.append(rule("├", "─", "┼", "┤"))
        lines.extend(cells(row, "│"))
    lines.append(rule("└", "─", "┴", "┘"))
    return lines
