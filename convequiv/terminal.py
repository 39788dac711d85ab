"""The run's summary as a person reads it in a terminal: one matrix (adapters x ops) that fits 100
columns, its legend, the recorded divergences once (grouped by state), and the speed per adapter.

Used by the pytest plugin's terminal summary and by ``convequiv check``; the Markdown / JSON / HTML
reports carry the details per cell (:mod:`convequiv.cells`).
"""

from __future__ import annotations

from collections.abc import Iterable

from .cells import COMPACT_WIDTH, LEGEND, render_cell
from .divergences import Divergence, adapter_matches
from .results import Results, matrix

#: Column headings of the ops, short enough for the 100-column matrix.
OP_HEADINGS = {
    "conv": "conv",
    "conv_transpose": "conv_t",
    "max_pool": "max_pool",
    "avg_pool": "avg_pool",
    "depth_pool": "depth",
    "global_max_pool": "glob_max",
    "global_avg_pool": "glob_avg",
}
WIDTH = 100


def _op_order(op: str) -> tuple[int, str]:
    order = list(OP_HEADINGS)
    return (order.index(op) if op in order else len(order), op)


def matrix_lines(results: Results) -> list[str]:
    """Adapters as rows, ops as columns, compact cells; at most :data:`WIDTH` characters a line."""
    table = matrix(results.tallies.items(), features=False)
    ops = sorted(table, key=_op_order)
    adapters = sorted({a for cells in table.values() for a in cells})
    if not ops:
        return ["(no checks ran)"]
    first = max(len("adapter"), *(len(a) for a in adapters))
    first = min(first, WIDTH - len(ops) * (COMPACT_WIDTH + 1) - 1)
    heading = "adapter".ljust(first) + "".join(
        f" {OP_HEADINGS.get(op, op)[:COMPACT_WIDTH]:>{COMPACT_WIDTH}}" for op in ops
    )
    lines = [heading, "-" * len(heading)]
    for adapter in adapters:
        cells = [render_cell(table[op].get(adapter), "compact") for op in ops]
        lines.append(adapter[:first].ljust(first) + "".join(f" {c:>{COMPACT_WIDTH}}" for c in cells))
    lines.append("")
    lines += _wrap(LEGEND)
    return lines


def divergence_lines(results: Results, records: Iterable[Divergence], *, width: int = WIDTH) -> list[str]:
    """The recorded divergences of the adapters that ran, once, grouped: observed, no longer
    reproduces, not exercised; lines of at most ``width`` characters."""
    groups: dict[str, list[str]] = {"observed": [], "no longer reproduces": [], "not exercised": []}
    ran = list(results.adapters)
    for div in records:
        if not any(adapter_matches(a, div.adapter) for a in ran):
            continue  # about adapters this run did not check
        state = results.divergences.get(div.id)
        name = state.state if state else "not exercised"
        if name == "observed" and state:
            groups[name].append(f"{div.id} ({state.observed} of {state.covered} covered checks)")
        elif name == "no longer reproduces" and state:
            groups[name].append(f"{div.id} (covered {state.covered} checks, all agreed)")
        else:
            groups[name].append(div.id)
    lines = []
    for name, items in groups.items():
        if items:
            lines += _wrap(f"{name} ({len(items)}): " + ", ".join(items), width)
    return lines


def speed_lines(results: Results) -> list[str]:
    """Examples run and examples per second inside the framework, per adapter and op."""
    lines = []
    for (adapter, op), (n, secs) in sorted(results.speed.items()):
        rate = f"{n / secs:.1f}/s" if secs else "-"
        lines.append(f"{adapter:<20} {op:<16} {n:>7} examples  {rate:>10} in the framework")
    return lines


def _wrap(text: str, width: int = WIDTH) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width, subsequent_indent="  ", break_on_hyphens=False)
