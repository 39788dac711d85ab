"""The report as GitHub-flavoured Markdown, readable as plain text.

Up to :data:`MATRIX_MAX_ENVIRONMENTS` environments each op is a table with a column per
environment; beyond, each row lists only the environments where some adapter does not fully agree.
Divergence ids are shortcut reference links to their headings, defined at the end of the page.
"""

from __future__ import annotations

import re
from collections import defaultdict

from ..divergences import Divergence
from .environments import Environment, adapters_text, frameworks_text
from .model import (
    MatrixCell,
    Report,
    Token,
    combinations_with,
    divergence_groups,
    divergence_state,
    failures_of,
    header_line,
    line_tokens,
    routes_of,
    stats_line,
    versions_for,
)
from .text import LEGEND, ROUTES_INTRO, evidence_items, feature_of, github_slug, patterns, wall_time

#: Up to this many environments the op tables have one column per environment.
MATRIX_MAX_ENVIRONMENTS = 6


def md_escape(text: str) -> str:
    """Escape what would break a GFM table cell or turn into markup (``|``, ``*``, backticks,
    backslashes, ``<`` before a tag name); brackets and underscores stay as they are."""
    return re.sub(r"([|*`\\]|<(?=[A-Za-z/!?]))", r"\\\1", text)


def md_code(text: str) -> str:
    """``text`` as a code span (not for table cells: a ``|`` would split the cell)."""
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_tokens(tokens: list[Token]) -> str:
    """An adapter's line: divergence ids as reference links (``[id]``, without the brackets around
    the list, which would read ``[[id]]``), FAIL in bold, outputs not checked in italics, the rest
    escaped."""
    out = []
    for kind, text in tokens:
        if kind == "divergence":
            out.append(f"[{text}]")
        elif kind == "fail":
            out.append(f"**{md_escape(text)}**")
        elif kind == "unchecked":
            out.append(f"*{md_escape(text)}*")
        elif kind != "bracket":
            out.append(md_escape(text))
    return "".join(out)


def md_cell(cell: MatrixCell) -> str:
    """A cell: the adapters that do not fully agree, ``; ``-separated, then the agree count;
    ``—`` when nothing ran."""
    if not cell.adapters:
        return "—"
    parts = [md_tokens(line_tokens(a)) for a in cell.news]
    return "; ".join(parts + ([cell.agree_text()] if cell.agreeing else []))


def _row_label(row: str) -> str:
    return f"**{md_escape(row)}** (every check)" if ":" not in row else md_escape(feature_of(row))


def _table(head: list[str], rows: list[list[str]], align: str = "") -> list[str]:
    """A GFM table; ``align`` has one letter per column, ``r`` for right-aligned."""
    rule = ["---:" if align[i : i + 1] == "r" else "---" for i in range(len(head))]
    return ["| " + " | ".join(cells) + " |" for cells in [head, rule, *rows]]


def _environments(report: Report) -> list[str]:
    head = ["Environment", "Adapters and versions", "numpy", "Python", "Profile", "Run on", "Wall time"]
    head += ["Checks", "Failed", "Partly checked"]
    rows = [
        [
            f"**{md_escape(env.name)}**",
            md_escape(adapters_text(env)),
            md_escape(env.results.numpy or "?"),
            md_escape(env.results.python or "?"),
            md_escape(env.results.profile or "?"),
            md_escape(env.results.created or "?"),
            wall_time(env.results.wall_seconds),
            str(env.total()),
            str(env.total("fail")),
            str(env.partly_checked()),
        ]
        for env in report.environments
    ]
    return _table(head, rows, "......rrrr")


def _matrix(report: Report, op: str) -> list[str]:
    """One op as a table with a column per environment."""
    envs = report.environments
    head = [md_escape(op)] + [f"{md_escape(e.name)}<br>{md_escape(frameworks_text(e))}" for e in envs]
    rows = [[_row_label(row)] + [md_cell(report.cell(row, env)) for env in envs] for row in report.rows[op]]
    return _table(head, rows)


def _differences(report: Report, op: str) -> list[str]:
    """One op as a nested list: per row, how many environments agree, then the others."""
    total = len(report.environments)
    lines = []
    for row in report.rows[op]:
        listed, agreeing, missing = [], 0, 0
        for env in report.environments:
            cell = report.cell(row, env)
            if not cell.adapters:
                missing += 1
            elif cell.quiet:
                agreeing += 1
            else:
                listed.append(f"  - **{md_escape(env.name)}**: {md_cell(cell)}")
        summary = f"all agree in {agreeing} of {total} environments" + (f", not run in {missing}" if missing else "")
        lines.append(f"- {_row_label(row)}: {summary}{'; elsewhere:' if listed else '.'}")
        lines += listed
    return lines


def _routes(report: Report) -> list[str]:
    ops = report.route_ops
    if not ops:
        return ["No plan routes recorded.", ""]
    rows = []
    for env in report.environments:
        for i, (adapter, by_op) in enumerate(routes_of(env).items()):
            cells = [f"**{md_escape(env.name)}**" if i == 0 else "", md_escape(adapter)]
            cells += [md_escape(" · ".join(f"{r} {n}" for r, n in by_op.get(op, ()))) or "—" for op in ops]
            rows.append(cells)
    return [ROUTES_INTRO, "", *_table(["Environment", "Adapter", *map(md_escape, ops)], rows), ""]


def _evidence(evidence: str) -> list[str]:
    items = []
    for parts in evidence_items(evidence):
        text = "".join(
            f"<{t}>" if kind == "url" else md_code(t) if kind == "code" else md_escape(t) for kind, t in parts
        )
        items.append(f"- {text}")
    return items


def _divergence(report: Report, div: Divergence) -> list[str]:
    lines = [f"#### {div.id}", ""]
    meta = [f"adapter {md_code(div.adapter)}", f"op {md_code(div.op)}"]
    meta += [f"{k} {md_code(v)}" for k, v in patterns(div)]
    if div.outputs:
        meta.append(f"outputs {', '.join(div.outputs)}")
    recorded = ", ".join(f"{k} {v}" for k, v in div.versions.items())
    meta.append(f"recorded versions: {md_code(recorded) if recorded else 'none'}")
    lines += [" · ".join(meta), "", div.summary, ""]
    if div.evidence:
        lines += ["Evidence:", "", *_evidence(div.evidence), ""]
    for vr in report.ranges.get(div.id, {}).values():
        suggestion = f" (suggested: {md_code(f'{vr.framework} {vr.specifier}')})" if vr.specifier else ""
        lines.append(f"- **Version range**: {md_escape(vr.describe())}{suggestion}")
    lines += ["", *_combinations(report, div), *_divergence_environments(report, div), ""]
    return lines


def _combinations(report: Report, div: Divergence) -> list[str]:
    """Where the record explained checks only together with others."""
    lines = []
    for env in report.environments:
        for combo, n in combinations_with(env, div.id):
            ids = " + ".join(f"[{d}]" for d in combo)
            lines.append(f"- Together: {ids} explained {n} checks in **{md_escape(env.name)}**")
    return lines + [""] if lines else []


def _divergence_environments(report: Report, div: Divergence) -> list[str]:
    by_state: dict[str, list[Environment]] = defaultdict(list)
    for env in report.environments:
        by_state[divergence_state(env, div)].append(env)
    lines = []
    seen = [e for e in report.environments if e in by_state["observed"] + by_state["no longer reproduces"]]
    if seen:
        rows = []
        for env in seen:
            cov = env.coverage(div.id)
            rows.append(
                [
                    md_escape(env.name),
                    divergence_state(env, div),
                    str(cov.covered),
                    str(cov.observed),
                    md_escape(versions_for(env, div, report)),
                ]
            )
        lines += [*_table(["Environment", "State", "Covered", "Observed", "Versions"], rows, "..rr"), ""]
    if by_state["not exercised"]:
        listed = ", ".join(f"{e.name} ({versions_for(e, div, report)})" for e in by_state["not exercised"])
        lines.append(f"Not exercised in: {md_escape(listed)}.")
    if by_state["no such adapter"]:
        lines.append(f"No {md_code(div.adapter)} adapter in {md_escape(absent_text(by_state['no such adapter']))}.")
    return lines


def absent_text(envs: list[Environment]) -> str:
    """``a, b`` for up to five environments, else ``37 environments``."""
    return ", ".join(e.name for e in envs) if len(envs) <= 5 else f"{len(envs)} environments"


def _failures(report: Report) -> list[str]:
    lines = []
    for env in report.environments:
        groups = failures_of(env)
        if not groups:
            continue
        head = ["Adapter", "Op", "API", "dtype", "Failed checks", "Features of the failed cases"]
        rows = [
            [
                md_escape(g.adapter),
                md_escape(g.op),
                md_escape(g.api),
                md_escape(g.dtype),
                str(g.count),
                md_escape(", ".join(f"{f} ({n})" for f, n in g.features) or "—"),
            ]
            for g in groups
        ]
        lines += [f"### Failures in {md_escape(env.name)}", "", *_table(head, rows, "....r"), ""]
    clean = [env.name for env in report.environments if not env.total("fail")]
    if not lines:
        return ["No failed checks in any environment.", ""]
    if clean:
        lines += [f"No failed checks in: {md_escape(', '.join(clean))}.", ""]
    return lines


def render_markdown(report: Report) -> str:
    """The whole page."""
    lines = [f"# {report.title}", "", header_line(report), "", stats_line(report), "", LEGEND, ""]
    as_matrix = len(report.environments) <= MATRIX_MAX_ENVIRONMENTS
    if not as_matrix:
        lines += [
            f"With {len(report.environments)} environments each op is a list: per row, the number of environments "
            "where every adapter agreed, then the others with their adapters that do not fully agree "
            "(the HTML page has the full matrix).",
            "",
        ]
    lines += ["## Environments", "", *_environments(report), ""]
    for op in report.rows:
        lines += [f"## {md_escape(op)}", "", *(_matrix(report, op) if as_matrix else _differences(report, op)), ""]
    lines += ["## Plan routes", "", *_routes(report)]
    lines += ["## Divergences", ""]
    for title, divs in divergence_groups(report):
        lines += [f"### {title} ({len(divs)})", ""]
        for div in divs:
            lines += _divergence(report, div)
    lines += ["## Failures", "", *_failures(report)]
    lines += ["", *(f"[{div.id}]: #{github_slug(div.id)}" for div in report.divergences)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).rstrip() + "\n"
