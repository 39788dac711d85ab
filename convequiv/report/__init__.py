"""``convequiv report``: one compatibility page for the results files of many environments.

Every ``*.json`` file in a folder is the results file of one environment's pytest run (one tox
environment / framework release; :mod:`convequiv.results`). The report merges them into
``compatibility.md`` and a self-contained ``compatibility.html``:

* one table per op: rows are the op (every check) and its semantic features, columns the
  environments (``default`` first, then natural name order); a cell lists the adapters that do not
  fully agree, each in :func:`convequiv.cells.render_cell`'s words, and counts those that agreed
  on every output of every check; outputs not checked (a forward-only adapter) show as such and
  never count as agreeing;
* the plan routes: per environment and adapter, how many checks reached the framework through
  each translation route;
* the divergences: where each record was observed, covered without showing, or not exercised,
  the version range derived from that, and the records that explained checks only together;
* the failures per environment, grouped by adapter, op, API and dtype.

Modules: :mod:`.environments` (reading the results files), :mod:`.model` (the view model),
:mod:`.markdown`, :mod:`.html` (with ``assets/``, the stylesheet and script it inlines), :mod:`.cli`
(the subcommand), :mod:`.text` (shared wording and ordering).
Output depends only on the inputs, apart from the "Generated on" line (``SOURCE_DATE_EPOCH``).
"""

from __future__ import annotations

from .cli import configure, run, write_report
from .environments import Environment, ReportError, load_directory
from .html import render_html
from .markdown import render_markdown
from .model import Report, build_report, version_ranges

__all__ = [
    "Environment",
    "Report",
    "ReportError",
    "build_report",
    "configure",
    "load_directory",
    "render_html",
    "render_markdown",
    "run",
    "version_ranges",
    "write_report",
]
