"""The report as one self-contained HTML page: the stylesheet and script of ``assets/`` inlined, no
external resource, complete without JavaScript (the script only adds the environment filter and
hiding the rows where everything agrees)."""

from __future__ import annotations

import html
import re
from functools import cache
from importlib import resources

from ..divergences import Divergence
from .environments import Environment, adapters_text, frameworks_text
from .markdown import absent_text
from .model import (
    MatrixCell,
    Report,
    Token,
    combination_tokens,
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
from .text import LEGEND, ROUTES_INTRO, evidence_items, feature_of, patterns, slug, wall_time

LEGEND_EXTRA = " Hover over a cell for every adapter's counts."
#: The legend chips of the bar: (state, label).
CHIPS = (
    ("fail", "fail"),
    ("diverge", "diverges"),
    ("unchecked", "not checked"),
    ("unsupported", "unsupported"),
    ("agree", "agree"),
    ("none", "— not run"),
)


@cache
def asset(name: str) -> str:
    """A file of ``convequiv/report/assets`` (package data)."""
    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


def inline_css(css: str) -> str:
    """The stylesheet without comments and needless whitespace."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    css = re.sub(r"\s+", " ", css)
    return re.sub(r"\s*([{};,])\s*", r"\1", css).replace(": ", ":").strip()


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _inline_markup(text: str) -> str:
    """Escape, then render the summaries' ``code`` and *emphasis*."""
    out = esc(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", r"<em>\1</em>", out)


def div_link(div_id: str) -> str:
    return f'<a href="#div-{slug(div_id)}">{esc(div_id)}</a>'


def html_tokens(tokens: list[Token]) -> str:
    out = []
    for kind, text in tokens:
        if kind == "adapter":
            out.append(f"<b>{esc(text)}</b>")
        elif kind == "divergence":
            out.append(div_link(text))
        elif kind == "fail":
            out.append(f'<span class="failtext">{esc(text)}</span>')
        elif kind == "unchecked":
            out.append(f'<span class="nc">{esc(text)}</span>')
        else:
            out.append(esc(text))
    return "".join(out)


def html_cell(cell: MatrixCell, env: Environment, col: int) -> str:
    """A ``<td>`` of the matrix: its class is the cell's colour; its title has every adapter's counts."""
    if not cell.adapters:
        return f'<td class="none" data-col="{col}" title="not run in {esc(env.name)}">—</td>'
    lines = [
        f'<div class="ln {a.colour}">{html_tokens(line_tokens(a, combinations=False))}'
        + "".join(f'<div class="combo">{html_tokens(tokens)}</div>' for tokens in combination_tokens(a))
        + "</div>"
        for a in cell.news
    ]
    if cell.agreeing:
        names = ", ".join(a.adapter for a in cell.agreeing)
        lines.append(f'<div class="ok" title="{esc(names)}">{esc(cell.agree_text())}</div>')
    return f'<td class="{cell.state}" data-col="{col}" title="{esc(cell.tooltip())}">{"".join(lines)}</td>'


def _env_title(env: Environment) -> str:
    r = env.results
    return (
        f"{env.name}: {adapters_text(env)}; numpy {r.numpy}; Python {r.python}; "
        f"profile {r.profile}; run on {r.created}; {wall_time(r.wall_seconds)}"
    )


def _env_filter_text(env: Environment) -> str:
    return f"{env.name} {frameworks_text(env) or 'no framework'}"


def _matrix(report: Report, op: str) -> list[str]:
    head = [f'<th class="row" scope="col">{esc(op)}</th>']
    for col, env in enumerate(report.environments):
        versions = frameworks_text(env) or "no framework"
        head.append(
            f'<th class="env" scope="col" data-col="{col}" data-env="{esc(_env_filter_text(env))}" '
            f'title="{esc(_env_title(env))}"><a href="#env-{env.slug}">{esc(env.name)}</a>'
            f'<span class="versions">{esc(versions)}</span></th>'
        )
    out = [f'<div class="scroll"><table class="matrix" id="table-{slug(op)}">', "<thead><tr>", *head, "</tr></thead>"]
    out.append("<tbody>")
    for row in report.rows[op]:
        cells = [report.cell(row, env) for env in report.environments]
        quiet = " quiet" if all(c.quiet for c in cells) else ""
        kind = "feature" if ":" in row else "op"
        label = feature_of(row) if ":" in row else f"{op} (every check)"
        out.append(
            f'<tr class="{kind}{quiet}" id="row-{slug(row)}">'
            f'<th class="row" scope="row" title="{esc(row)}">{esc(label)}</th>'
        )
        out += [html_cell(c, env, col) for col, (c, env) in enumerate(zip(cells, report.environments))]
        out.append("</tr>")
    return [*out, "</tbody></table></div>"]


def _environments(report: Report) -> list[str]:
    out = [
        '<div class="scroll"><table class="plain envs"><thead><tr><th>Environment</th><th>Adapters and versions</th>'
        "<th>numpy</th><th>Python</th><th>Profile</th><th>Run on</th><th>Wall time</th><th>Checks</th>"
        '<th>Failed</th><th title="checks with some outputs not checked">Partly checked</th><th>File</th>'
        "</tr></thead><tbody>"
    ]
    for env in report.environments:
        r = env.results
        failed, partly = env.total("fail"), env.partly_checked()
        failed_html = f'<a href="#fail-{env.slug}">{failed}</a>' if failed else "0"
        out.append(
            f'<tr id="env-{env.slug}"><td><b>{esc(env.name)}</b></td><td>{esc(adapters_text(env))}</td>'
            f"<td>{esc(r.numpy or '?')}</td><td>{esc(r.python or '?')}</td><td>{esc(r.profile or '?')}</td>"
            f'<td>{esc(r.created or "?")}</td><td class="num">{esc(wall_time(r.wall_seconds))}</td>'
            f'<td class="num">{env.total()}</td><td class="num{" fail" if failed else ""}">{failed_html}</td>'
            f'<td class="num">{partly}</td><td><code>{esc(env.source)}</code></td></tr>'
        )
    out.append("</tbody></table></div>")
    return out


def _routes(report: Report) -> list[str]:
    ops = report.route_ops
    if not ops:
        return ['<p class="muted">No plan routes recorded.</p>']
    head = "".join(f"<th>{esc(op)}</th>" for op in ops)
    out = [
        f'<p class="legend">{esc(ROUTES_INTRO)}</p>',
        '<div class="scroll"><table class="plain routes"><thead><tr><th>Environment</th><th>Adapter</th>'
        f"{head}</tr></thead><tbody>",
    ]
    for env in report.environments:
        for i, (adapter, by_op) in enumerate(routes_of(env).items()):
            name = f'<a href="#env-{env.slug}">{esc(env.name)}</a>' if i == 0 else ""
            cells = []
            for op in ops:
                spans = [
                    f'<span class="route{" unsupported" if r == "unsupported" else ""}">{esc(r)} {n}</span>'
                    for r, n in by_op.get(op, ())
                ]
                cells.append(f"<td>{' · '.join(spans) or '—'}</td>")
            out.append(
                f'<tr class="{"first" if i == 0 else "more"}" data-env="{esc(_env_filter_text(env))}">'
                f"<td>{name}</td><td><b>{esc(adapter)}</b></td>{''.join(cells)}</tr>"
            )
    out.append("</tbody></table></div>")
    return out


def _evidence(evidence: str) -> str:
    items = []
    for parts in evidence_items(evidence):
        text = "".join(
            f'<a href="{esc(t)}">{esc(t)}</a>'
            if kind == "url"
            else f"<code>{esc(t)}</code>"
            if kind == "code"
            else esc(t)
            for kind, t in parts
        )
        items.append(f"<li>{text}</li>")
    return f"<p>Evidence:</p><ul>{''.join(items)}</ul>" if items else ""


def _divergence(report: Report, div: Divergence) -> list[str]:
    states = {env.name: divergence_state(env, div) for env in report.environments}
    n_observed = sum(1 for s in states.values() if s == "observed")
    meta = [f"adapter <code>{esc(div.adapter)}</code>", f"op <code>{esc(div.op)}</code>"]
    meta += [f"{k} <code>{esc(v)}</code>" for k, v in patterns(div)]
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
        _evidence(div.evidence),
    ]
    for vr in report.ranges.get(div.id, {}).values():
        suggestion = f' <span class="muted">(suggested: <code>{esc(vr.framework)} {esc(vr.specifier)}</code>)</span>'
        out.append(
            f'<p><span class="range">Version range:</span> {esc(vr.describe())}{suggestion if vr.specifier else ""}</p>'
        )
    for env in report.environments:
        for combo, n in combinations_with(env, div.id):
            ids = " + ".join(div_link(d) for d in combo)
            out.append(f"<p>Together: {ids} explained {n} checks in <b>{esc(env.name)}</b>.</p>")
    out += _divergence_environments(report, div, states)
    out.append("</section>")
    return out


def _divergence_environments(report: Report, div: Divergence, states: dict[str, str]) -> list[str]:
    rows = []
    for env in report.environments:
        state = states[env.name]
        if state in ("observed", "no longer reproduces"):
            cov = env.coverage(div.id)
            cls = "diverge" if state == "observed" else "agree"
            rows.append(
                f'<tr><td><a href="#env-{env.slug}">{esc(env.name)}</a></td><td class="{cls}">{esc(state)}</td>'
                f'<td class="num">{cov.covered}</td><td class="num">{cov.observed}</td>'
                f"<td>{esc(versions_for(env, div, report))}</td></tr>"
            )
    out = []
    if rows:
        out.append(
            '<table class="plain"><thead><tr><th>Environment</th><th>State</th><th>Covered</th><th>Observed</th>'
            f"<th>Versions</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    unexercised = [e for e in report.environments if states[e.name] == "not exercised"]
    if unexercised:
        listed = ", ".join(f"{e.name} ({versions_for(e, div, report)})" for e in unexercised)
        out.append(f'<p class="muted">Not exercised in: {esc(listed)}.</p>')
    absent = [e for e in report.environments if states[e.name] == "no such adapter"]
    if absent:
        names = ", ".join(e.name for e in absent)
        out.append(
            f'<p class="muted" title="{esc(names)}">No <code>{esc(div.adapter)}</code> adapter in '
            f"{esc(absent_text(absent))}.</p>"
        )
    return out


def _failures(report: Report) -> list[str]:
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
    if not out:
        return ['<p class="chip agree">No failed checks in any environment.</p>']
    clean = [env.name for env in report.environments if not env.total("fail")]
    if clean:
        out.append(f'<p class="muted">No failed checks in: {esc(", ".join(clean))}.</p>')
    return out


def render_html(report: Report) -> str:
    """The whole page."""
    ops_nav = " ".join(f'<a href="#op-{slug(op)}">{esc(op)}</a>' for op in report.rows)
    legend = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", esc(LEGEND))
    chips = " ".join(f'<span class="chip {state}">{esc(label)}</span>' for state, label in CHIPS)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(report.title)}</title>",
        f"<style>{inline_css(asset('report.css'))}</style></head>",
        "<body>",
        f'<header class="bar"><span class="name">{esc(report.title)}</span>',
        f'<nav>{ops_nav} <a href="#routes">routes</a> <a href="#divergences">divergences</a> '
        f'<a href="#failures">failures</a> <a href="#environments">environments</a></nav>',
        f'<span class="chips">{chips}</span></header>',
        "<main>",
        f"<h1>{esc(report.title)}</h1>",
        f'<p class="meta" id="generated">{esc(header_line(report))}</p>',
        f'<p class="meta">{esc(stats_line(report))}</p>',
        f'<p class="legend">{legend}{esc(LEGEND_EXTRA)}</p>',
        '<div class="controls" id="controls" hidden><label>Show environments matching '
        '<input type="search" id="env-filter" placeholder="e.g. keras 3.0 jax"></label>'
        '<label><input type="checkbox" id="hide-quiet"> hide rows where every environment agrees</label></div>',
        '<h2 id="environments">Environments</h2>',
        *_environments(report),
    ]
    for op in report.rows:
        out += [f'<h2 id="op-{slug(op)}">{esc(op)}</h2>', *_matrix(report, op)]
    out += ['<h2 id="routes">Plan routes</h2>', *_routes(report)]
    out.append('<h2 id="divergences">Divergences</h2>')
    for title, divs in divergence_groups(report):
        out.append(f"<h3>{esc(title)} ({len(divs)})</h3>")
        for div in divs:
            out += _divergence(report, div)
    out += ['<h2 id="failures">Failures</h2>', *_failures(report)]
    out += ["</main>", f"<script>{asset('report.js')}</script>", "</body></html>"]
    return "\n".join(out) + "\n"
