"""``convequiv report DIR``: merging results files into compatibility.{md,html}.

The synthetic environments (see :func:`sample_dir`), written as schema-2 results files:

``default``
    torch 2.13.0+cpu, tensorflow 2.21.0 and a forward-only ``tflite`` adapter (gradients not
    checked); tensorflow shows ``tf-lowest`` on NaN input, torch shows ``torch-last-nan`` on tied
    NaN, and 2 tied checks need ``torch-last-nan`` and ``torch-grad-ties`` together; everything
    else agrees;
``torch2.1``
    torch 2.1.2 only; ``torch-last-nan`` covered 12 times but never observed; two checks fail on
    ``max_pool: padding same, stride 2+, even input``;
``keras3.0-jax``
    keras[jax] (keras 3.0.5, jax 0.4.30); shows ``keras-jax-same`` on same padding with stride 2 and
    does not support ``count_include_pad=False``.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import struct
import subprocess
import zlib
from collections import Counter
from importlib import resources
from pathlib import Path
from types import SimpleNamespace

import pytest

from convequiv import report as rp
from convequiv.cli import main
from convequiv.divergences import Divergence
from convequiv.report import html as rhtml
from convequiv.report import markdown as rmd
from convequiv.report import model
from convequiv.report.environments import Environment, load_environment
from convequiv.report.text import DEFAULT_TITLE, environment_key, today
from convequiv.results import DivergenceState, Key, Results, ResultsError

CHROMIUM = Path("/usr/bin/chromium")
SAME2 = "max_pool: padding same, stride 2+, even input"
NAN = "max_pool: NaN and ±inf in the input"
TIES = "max_pool: tied input values (max-gradient ties)"
NO_PAD = "avg_pool: count_include_pad=False"
TWO_D = "max_pool: 2-D"


def divergence(
    div_id: str, adapter: str, op: str, versions: dict[str, str], evidence: str = "", outputs: tuple[str, ...] = ("y",)
) -> Divergence:
    return Divergence(
        id=div_id,
        adapter=adapter,
        op=op,
        when="True",
        outputs=outputs,
        versions=versions,
        summary=f"`{div_id}`: what differs.",
        evidence=evidence,
    )


DIVERGENCES = [
    divergence(
        "tf-lowest",
        "tensorflow",
        "max_pool",
        {"tensorflow": "==2.21.*"},
        "https://example.org/issues/1 ; repro: tf.nn.max_pool1d(x, 2, 2, 'VALID') -> [[-3.4e+38]]",
    ),
    divergence("torch-last-nan", "torch", "max_pool", {"torch": "==2.13.*"}),
    divergence("keras-jax-same", "keras[jax]", "*_pool", {"keras": "==3.0.*", "jax": "==0.4.*"}),
    divergence("jax-only", "jax", "max_pool", {"jax": "==0.10.*"}),
    divergence("torch-grad-ties", "torch", "max_pool", {"torch": "==2.13.*"}, outputs=("dx",)),
]

#: (adapter, api, row, status, divergences, count[, unchecked]); a feature row also counts on its op row.
Entry = tuple


def results(
    name: str,
    adapters: dict[str, dict[str, str]],
    entries: list[Entry],
    coverage: dict[str, tuple[int, int]] | None = None,
    routes: dict[tuple[str, str, str], int] | None = None,
    **extra: object,
) -> Results:
    tallies: Counter[Key] = Counter()
    for adapter, api, row, status, divs, count, *unchecked in entries:
        divs = (divs,) if isinstance(divs, str) and divs else tuple(divs or ())
        rows = [row] if ":" not in row else [row.split(":", 1)[0], row]
        for r in rows:
            tallies[Key(r, adapter, api, "float32", status, divs, tuple(*unchecked))] += count
    out = Results(
        environment=name,
        created="2026-11-20 10:00:00",
        python="3.11.7",
        numpy="2.4.6",
        profile="ci",
        adapters=adapters,
        wall_seconds=75.0,
        tallies=tallies,
        routes=Counter(routes or {}),
        divergences={d: DivergenceState(c, o) for d, (c, o) in (coverage or {}).items()},
    )
    for attr, value in extra.items():
        setattr(out, attr, value)
    return out


def default_results() -> Results:
    entries = [
        ("tensorflow", "nn", TWO_D, "agree", "", 10),
        ("tensorflow", "nn", NAN, "diverge", "tf-lowest", 4),
        ("tensorflow", "nn", SAME2, "agree", "", 5),
        ("torch", "functional", TWO_D, "agree", "", 12),
        ("torch", "functional", TIES, "diverge", "torch-last-nan", 3),
        ("torch", "functional", TIES, "diverge", ("torch-last-nan", "torch-grad-ties"), 2),
        ("torch", "functional", SAME2, "agree", "", 6),
        ("torch", "functional", NO_PAD, "agree", "", 7),
        ("tflite", "interpreter", TWO_D, "agree", "", 8, ("dx",)),
        ("tflite", "interpreter", SAME2, "agree", "", 4, ("dx",)),
    ]
    adapters = {
        "torch": {"torch": "2.13.0+cpu"},
        "tensorflow": {"tensorflow": "2.21.0"},
        "tflite": {"tensorflow": "2.21.0"},
    }
    coverage = {"tf-lowest": (4, 4), "torch-last-nan": (5, 5), "torch-grad-ties": (2, 2)}
    routes = {
        ("torch", "max_pool", "native"): 17,
        ("torch", "max_pool", "pre-pad"): 6,
        ("torch", "avg_pool", "pre-pad"): 7,
        ("tensorflow", "max_pool", "native"): 19,
        ("tflite", "max_pool", "native"): 12,
    }
    return results("default", adapters, entries, coverage, routes)


def torch21_results() -> Results:
    entries = [
        ("torch", "functional", TWO_D, "agree", "", 12),
        ("torch", "functional", TIES, "agree", "", 12),
        ("torch", "functional", SAME2, "fail", "", 2),
        ("torch", "functional", SAME2, "agree", "", 4),
    ]
    routes = {("torch", "max_pool", "native"): 24, ("torch", "max_pool", "pre-pad"): 6}
    return results(
        "torch2.1", {"torch": {"torch": "2.1.2"}}, entries, {"torch-last-nan": (12, 0)}, routes, wall_seconds=4000.0
    )


def keras_results() -> Results:
    entries = [
        ("keras[jax]", "layer", TWO_D, "agree", "", 9),
        ("keras[jax]", "layer", SAME2, "diverge", "keras-jax-same", 3),
        ("keras[jax]", "layer", NO_PAD, "unsupported", "", 5),
    ]
    adapters = {"keras[jax]": {"keras": "3.0.5", "jax": "0.4.30"}}
    routes = {("keras[jax]", "max_pool", "native"): 12, ("keras[jax]", "avg_pool", "unsupported"): 5}
    return results("keras3.0-jax", adapters, entries, {"keras-jax-same": (3, 3)}, routes)


def write(directory: Path, name: str, data: Results | str | object) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    if isinstance(data, Results):
        data = data.to_json()
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.fixture
def sample_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "results"
    write(directory, "b.json", torch21_results())
    write(directory, "a.json", keras_results())
    write(directory, "z.json", default_results())
    return directory


@pytest.fixture
def sample(sample_dir: Path) -> model.Report:
    return rp.build_report(rp.load_directory(sample_dir), DIVERGENCES, generated="2026-11-23")


def env(report: model.Report, name: str) -> Environment:
    return next(e for e in report.environments if e.name == name)


def text(report: model.Report, row: str, name: str) -> str:
    return report.cell(row, env(report, name)).plain()


def cli(*args: str) -> SimpleNamespace:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["report", *args])
        except SystemExit as exc:
            code = exc.code
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


# --- merging -------------------------------------------------------------------------------------


def test_environments_default_first_then_natural_name_order(sample: model.Report):
    assert [e.name for e in sample.environments] == ["default", "keras3.0-jax", "torch2.1"]
    names = ["torch2.13", "default", "torch2.4", "keras3.10", "keras3.9"]
    assert sorted(names, key=environment_key) == ["default", "keras3.9", "keras3.10", "torch2.4", "torch2.13"]


def test_rows_grouped_by_op_with_the_op_row_first(sample: model.Report):
    assert list(sample.rows) == ["avg_pool", "max_pool"]
    assert sample.rows["avg_pool"] == ["avg_pool", NO_PAD]
    assert sample.rows["max_pool"] == ["max_pool", TWO_D, NAN, SAME2, TIES]


def test_a_divergence_observed_in_one_environment_shows_only_there(sample: model.Report):
    assert text(sample, NAN, "default") == "tensorflow: diverges 4 [tf-lowest]"  # torch ran no NaN case
    assert sample.cell(NAN, env(sample, "default")).state == "diverge"
    for other in ("torch2.1", "keras3.0-jax"):
        assert "tf-lowest" not in text(sample, NAN, other)
    assert text(sample, NAN, "torch2.1") == "—"  # not run there
    assert text(sample, TIES, "torch2.1") == "all agree (1)"


def test_divergences_that_explain_checks_together_are_shown_as_a_combination(sample: model.Report):
    cell = sample.cell(TIES, env(sample, "default"))
    assert (
        cell.plain()
        == "torch: diverges 5 [torch-grad-ties, torch-last-nan] · torch-grad-ties + torch-last-nan together 2"
    )
    (torch,) = cell.adapters
    assert torch.combinations == ((("torch-grad-ties", "torch-last-nan"), 2),)
    tokens = model.line_tokens(torch)
    assert [t for kind, t in tokens if kind == "divergence"] == ["torch-grad-ties", "torch-last-nan"] * 2
    assert len(model.line_tokens(torch, combinations=False)) == len(tokens) - 5
    page = rhtml.render_html(sample)
    assert (
        '<div class="combo"><a href="#div-torch-grad-ties">torch-grad-ties</a> + '
        '<a href="#div-torch-last-nan">torch-last-nan</a> together 2</div>' in page
    )
    assert "<p>Together: " in page and "explained 2 checks in <b>default</b>" in page
    md = rmd.render_markdown(sample)
    assert "diverges 5 [torch-grad-ties], [torch-last-nan] · [torch-grad-ties] + [torch-last-nan] together 2" in md
    assert "- Together: [torch-grad-ties] + [torch-last-nan] explained 2 checks in **default**" in md
    assert model.combinations_with(env(sample, "default"), "torch-last-nan") == [
        (("torch-grad-ties", "torch-last-nan"), 2)
    ]


def test_outputs_not_checked_are_shown_and_never_count_as_agreeing(sample: model.Report):
    default = env(sample, "default")
    cell = sample.cell(SAME2, default)
    assert cell.plain() == "tflite: agrees 4 · dx not checked; +2 agree"
    assert cell.state == "unchecked" and not cell.quiet
    assert [a.adapter for a in cell.agreeing] == ["tensorflow", "torch"]
    assert default.partly_checked() == 12 and default.total() == 19 + 23 + 7 + 12
    page = rhtml.render_html(sample)
    assert re.search(r'<td class="unchecked" data-col="0"[^>]*><div class="ln unchecked"><b>tflite</b>', page)
    assert (
        '<span class="nc">dx not checked</span>' in page and '<span class="chip unchecked">not checked</span>' in page
    )
    md = rmd.render_markdown(sample)
    assert "tflite: agrees 4 · *dx not checked*; +2 agree" in md
    assert "“dx **not checked**”" in md  # the legend says what it means


def test_a_fail_shows_as_fail_with_its_count(sample: model.Report):
    cell = sample.cell(SAME2, env(sample, "torch2.1"))
    assert cell.state == "fail"
    assert cell.plain() == "torch: FAIL 2 · agrees 4"
    assert text(sample, "max_pool", "torch2.1") == "torch: FAIL 2 · agrees 28"
    assert text(sample, TWO_D, "torch2.1") == "all agree (1)"


def test_keras_on_jax_same_padding_stride_2(sample: model.Report):
    """The question the page must answer: where does keras 3.0 on jax differ for same padding, stride 2?"""
    assert text(sample, SAME2, "keras3.0-jax") == "keras[jax]: diverges 3 [keras-jax-same]"
    assert text(sample, NO_PAD, "keras3.0-jax") == "keras[jax]: unsupported 5"
    assert sample.cell(NO_PAD, env(sample, "keras3.0-jax")).state == "unsupported"


def test_worst_news_first_within_a_cell():
    entries = [
        ("a-agrees", "x", "conv", "agree", "", 3),
        ("b-unsupported", "x", "conv", "unsupported", "", 2),
        ("c-diverges", "x", "conv", "diverge", "d1", 1),
        ("c-diverges", "x", "conv", "agree", "", 1),
        ("d-fails", "x", "conv", "fail", "", 1),
        ("d-fails", "x", "conv", "diverge", "d2", 2),
        ("e-partly", "x", "conv", "unsupported", "", 1),
        ("e-partly", "x", "conv", "agree", "", 4),
        ("f-forward", "x", "conv", "agree", "", 2, ("dw", "dx")),
    ]
    adapters = {name: {} for name, *_ in entries}
    environment = Environment("default", "mixed.json", results("default", adapters, entries))
    cell = model.environment_cells(environment)["conv"]
    assert [c.adapter for c in cell.adapters] == [
        "d-fails",
        "c-diverges",
        "f-forward",
        "b-unsupported",
        "e-partly",
        "a-agrees",
    ]
    assert cell.plain() == (
        "d-fails: FAIL 1 · diverges 2 [d2]; c-diverges: diverges 1 [d1] · agrees 1; f-forward: agrees 2 · dw, dx not "
        "checked; b-unsupported: unsupported 2; e-partly: agrees 4 · unsupported 1; +1 agree"
    )
    assert cell.state == "fail"
    partly = model.MatrixCell(tuple(c for c in cell.adapters if c.adapter in ("e-partly", "a-agrees")))
    assert partly.state == "agree"  # agreeing wherever supported does not grey the cell
    assert cell.adapters[0].tooltip() == "d-fails: FAIL 1 · diverges 2 [d2]"


def test_failures_section_groups_failed_checks_with_their_features(sample: model.Report):
    (group,) = model.failures_of(env(sample, "torch2.1"))
    assert group == model.FailureGroup(
        "torch", "max_pool", "functional", "float32", 2, (("padding same, stride 2+, even input", 2),)
    )
    assert model.failures_of(env(sample, "default")) == []
    md = rmd.render_markdown(sample)
    failures = md[md.index("## Failures") :]
    assert "### Failures in torch2.1" in failures
    assert "| torch | max_pool | functional | float32 | 2 | padding same, stride 2+, even input (2) |" in failures
    assert "No failed checks in: default, keras3.0-jax." in failures


def test_duplicate_environment_names_get_their_file_name(tmp_path: Path):
    directory = tmp_path / "dup"
    write(directory, "one.json", torch21_results())
    write(directory, "two.json", torch21_results())
    names = [e.name for e in rp.load_directory(directory)]
    assert names == ["torch2.1 (one.json)", "torch2.1 (two.json)"]


# --- plan routes ---------------------------------------------------------------------------------


def test_plan_routes_per_environment_and_adapter(sample: model.Report):
    assert sample.route_ops == ["avg_pool", "max_pool"]
    routes = model.routes_of(env(sample, "default"))
    assert list(routes) == ["torch", "tensorflow", "tflite"]
    assert routes["torch"] == {"avg_pool": (("pre-pad", 7),), "max_pool": (("native", 17), ("pre-pad", 6))}
    assert model.routes_of(env(sample, "keras3.0-jax"))["keras[jax]"]["avg_pool"] == (("unsupported", 5),)
    md = rmd.render_markdown(sample)
    section = md[md.index("## Plan routes") : md.index("## Divergences")]
    assert "| Environment | Adapter | avg_pool | max_pool |" in section
    assert "| **default** | torch | pre-pad 7 | native 17 · pre-pad 6 |" in section
    assert "|  | tensorflow | — | native 19 |" in section
    assert "| **keras3.0-jax** | keras[jax] | unsupported 5 | native 12 |" in section
    page = rhtml.render_html(sample)
    routes_html = page[page.index('id="routes"') : page.index('id="divergences"')]
    assert '<table class="plain routes">' in routes_html
    assert '<span class="route">native 17</span> · <span class="route">pre-pad 6</span>' in routes_html
    assert '<span class="route unsupported">unsupported 5</span>' in routes_html


# --- divergences and version ranges --------------------------------------------------------------


def torch_env(name: str, version: str, covered: int, observed: int) -> Environment:
    entries = [("torch", "functional", "max_pool", "agree", "", 10)]
    if observed:
        entries.append(("torch", "functional", "max_pool", "diverge", "torch-last-nan", observed))
    data = results(name, {"torch": {"torch": version}}, entries, {"torch-last-nan": (covered, observed)})
    return Environment(name, f"{name}.json", data)


def test_version_range_first_last_and_covered_but_not_observed():
    envs = [
        torch_env("t2.13", "2.13.0+cpu", 5, 5),
        torch_env("t2.4", "2.4.1", 3, 2),
        torch_env("t2.1", "2.1.2", 12, 0),
        torch_env("t2.0", "2.0.1", 0, 0),
    ]
    torch_div = divergence("torch-last-nan", "torch", "max_pool", {"torch": ">=2.1"})
    ranges = rp.version_ranges(envs, [torch_div])
    assert set(ranges) == {"torch-last-nan"}
    vr = ranges["torch-last-nan"]["torch"]
    assert (vr.first, vr.last) == ("2.4.1", "2.13.0+cpu")  # by version, not by text
    assert vr.observed == (("2.4.1", 2), ("2.13.0+cpu", 5))
    assert vr.not_observed == (("2.1.2", 12),)
    assert vr.not_exercised == ("2.0.1",)
    assert vr.specifier == ">=2.4.1,<=2.13.0"
    assert vr.describe() == (
        "seen in torch 2.4.1 – 2.13.0+cpu; not seen in 2.1.2 (covered 12 times); "
        "not exercised with 2.0.1 (2.0.1 outside the recorded >=2.1)"
    )


def test_version_range_gaps_single_versions_and_nothing():
    envs = [torch_env("a", "2.4.1", 2, 2), torch_env("b", "2.6.0", 3, 0), torch_env("c", "2.13.0", 1, 1)]
    vr = model.version_range(DIVERGENCES[1], "torch", envs)
    assert vr.gaps == ("2.6.0",)
    assert vr.describe() == "seen in torch 2.4.1 – 2.13.0 (except 2.6.0); not seen in 2.6.0 (covered 3 times)"
    single = model.version_range(DIVERGENCES[1], "torch", envs[2:])
    assert single.describe() == "seen in torch 2.13.0" and single.specifier == "==2.13.0"
    never = model.version_range(DIVERGENCES[1], "torch", envs[1:2])
    assert never.describe() == "not seen in torch 2.6.0 (covered 3 times)" and never.specifier is None
    assert model.version_range(DIVERGENCES[3], "jax", envs).describe() == "jax: no environment has it"


def test_version_ranges_of_the_sample(sample: model.Report):
    ranges = sample.ranges
    assert ranges["tf-lowest"]["tensorflow"].describe() == "seen in tensorflow 2.21.0"
    assert (
        ranges["torch-last-nan"]["torch"].describe() == "seen in torch 2.13.0+cpu; not seen in 2.1.2 (covered 12 times)"
    )
    keras = ranges["keras-jax-same"]
    assert list(keras) == ["keras", "jax"]
    assert keras["keras"].specifier == "==3.0.5" and keras["jax"].specifier == "==0.4.30"


def test_version_ranges_reads_the_recorded_divergences_by_default(sample: model.Report):
    from convequiv.divergences import recorded

    ranges = rp.version_ranges(sample.environments)
    assert {d.id for d in recorded()} <= set(ranges)
    assert "tf-lowest" in ranges  # named by the results, unknown to the file
    (unknown,) = (d for d in model.divergence_catalogue(sample.environments, []) if d.id == "keras-jax-same")
    assert (unknown.adapter, unknown.op, unknown.summary) == ("keras[jax]", "max_pool", model.UNKNOWN_SUMMARY)


def test_version_ranges_of_a_folder(sample_dir: Path):
    ranges = rp.version_ranges(sample_dir, DIVERGENCES)
    assert ranges["keras-jax-same"]["jax"].describe() == "seen in jax 0.4.30"


def test_divergence_states_per_environment(sample: model.Report):
    torch_div = DIVERGENCES[1]
    states = {e.name: model.divergence_state(e, torch_div) for e in sample.environments}
    assert states == {"default": "observed", "torch2.1": "no longer reproduces", "keras3.0-jax": "no such adapter"}
    groups = dict(model.divergence_groups(sample))
    assert [d.id for d in groups["Observed in at least one environment"]] == [
        "keras-jax-same",
        "tf-lowest",
        "torch-grad-ties",
        "torch-last-nan",
    ]
    assert [d.id for d in groups["Not exercised in any environment"]] == ["jax-only"]


def test_divergence_section_links_and_evidence(sample: model.Report):
    page = rhtml.render_html(sample)
    assert page.count('id="div-tf-lowest"') == 1
    assert '[<a href="#div-tf-lowest">tf-lowest</a>]' in page
    assert '<a href="https://example.org/issues/1">https://example.org/issues/1</a>' in page
    assert "<code>repro: tf.nn.max_pool1d(x, 2, 2, &#x27;VALID&#x27;) -&gt; [[-3.4e+38]]</code>" in page
    section = page[page.index('id="div-torch-last-nan"') :]
    section = section[: section.index("</section>")]
    assert "seen in torch 2.13.0+cpu; not seen in 2.1.2 (covered 12 times)" in section
    assert re.search(r"torch2\.1</a></td><td class=\"agree\">no longer reproduces</td>", section)
    md = rmd.render_markdown(sample)
    assert "#### tf-lowest" in md and "[tf-lowest]: #tf-lowest" in md
    assert "- <https://example.org/issues/1>" in md


# --- rendering -----------------------------------------------------------------------------------


def test_markdown_starts_with_date_count_and_legend(sample: model.Report):
    lines = rmd.render_markdown(sample).splitlines()
    assert lines[0] == f"# {DEFAULT_TITLE}"
    assert lines[2] == "Generated on 2026-11-23 from 3 environments."
    assert lines[4].endswith("1 environment with failed checks, 1 with outputs not checked.")
    assert lines[6].startswith("Each table covers one op")
    assert lines[12].startswith(
        "| **default** | torch 2.13.0+cpu · tensorflow 2.21.0 · tflite: tensorflow 2.21.0 | 2.4.6 | 3.11.7 | ci |"
    )


def test_markdown_tables_are_well_formed(sample: model.Report):
    md = rmd.render_markdown(sample)
    for block in re.findall(r"(?:^\|.*\|\n)+", md, flags=re.M):
        widths = {len(re.findall(r"(?<!\\)\|", line)) for line in block.splitlines()}
        assert len(widths) == 1, block
    header = "| max_pool | default<br>torch 2.13.0+cpu · tensorflow 2.21.0 | keras3.0-jax<br>keras 3.0.5 · jax 0.4.30 |"
    assert header in md
    row = f"| {SAME2.split(': ')[1]} | tflite: agrees 4 · *dx not checked*; +2 agree | keras[jax]: diverges 3 "
    assert row + "[keras-jax-same] | torch: **FAIL 2** · agrees 4 |" in md


def test_markdown_renders_links(sample: model.Report):
    markdown_it = pytest.importorskip("markdown_it")
    page = markdown_it.MarkdownIt("commonmark").enable("table").render(rmd.render_markdown(sample))
    assert '<a href="#tf-lowest">tf-lowest</a>' in page
    assert '<a href="#torch-grad-ties">torch-grad-ties</a> + <a href="#torch-last-nan">torch-last-nan</a>' in page
    assert not re.search(r"\[(tf-lowest|torch-last-nan|torch-grad-ties|keras-jax-same)\]", page)  # all resolved
    assert "keras[jax]" in page  # an adapter's brackets stay text
    # environments, 2 ops, routes, failures, 4 divergences seen
    assert page.count("<table>") == 1 + 2 + 1 + 1 + 4


def test_many_environments_list_only_the_news_in_markdown(sample_dir: Path):
    for i in range(rmd.MATRIX_MAX_ENVIRONMENTS):
        copy = torch21_results()
        copy.environment = f"torch2.1-copy{i}"
        write(sample_dir, f"extra{i}.json", copy)
    report = rp.build_report(rp.load_directory(sample_dir), DIVERGENCES, generated="2026-11-23")
    md = rmd.render_markdown(report)
    assert f"- {TWO_D.split(': ')[1]}: all agree in 8 of 9 environments; elsewhere:" in md
    assert "  - **default**: tflite: agrees 8 · *dx not checked*; +2 agree" in md
    assert "  - **keras3.0-jax**: keras[jax]: diverges 3 [keras-jax-same]" in md
    assert "  - **torch2.1-copy5**: torch: **FAIL 2** · agrees 4" in md
    html_page = rhtml.render_html(report)
    assert html_page.count('<th class="env"') == 2 * 9  # the HTML keeps the full matrix


def test_html_is_self_contained_with_the_assets_inlined(sample: model.Report):
    page = rhtml.render_html(sample)
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<link|@import|url\(|src=\"http|<img|<iframe|<script src", page)
    assert '<p class="meta" id="generated">Generated on 2026-11-23 from 3 environments.</p>' in page
    assert page.index('id="generated"') < page.index('class="legend"') < page.index('<table class="matrix"')
    assert "position:sticky" in page and "td.fail" in page and "td.unchecked" in page
    assert "document.getElementById('env-filter')" in page  # assets/report.js
    cell = re.search(r'<td class="fail" data-col="2" title="torch: FAIL 2 · agrees 4">(.*?)</td>', page)
    assert cell and '<span class="failtext">FAIL 2</span> · agrees 4' in cell.group(1)
    legend = page[page.index('class="chips"') :]
    for label in ("fail", "diverges", "not checked", "unsupported", "agree", "— not run"):
        assert f">{label}</span>" in legend[: legend.index("</header>")]


def test_assets_are_package_data():
    assets = resources.files("convequiv.report").joinpath("assets")
    assert {"report.css", "report.js"} <= {p.name for p in assets.iterdir()}
    assert rhtml.inline_css("/* x */ a { color: red; }\n") == "a{color:red;}"


def test_output_is_deterministic_apart_from_the_date(sample_dir: Path):
    envs = rp.load_directory(sample_dir)
    first = rp.build_report(envs, DIVERGENCES, generated="2026-01-01")
    second = rp.build_report(list(reversed(envs)), DIVERGENCES, generated="2027-12-31")

    def strip(text: str) -> str:
        return re.sub(r"Generated on \S+", "", text)

    assert strip(rmd.render_markdown(first)) == strip(rmd.render_markdown(second))
    assert strip(rhtml.render_html(first)) == strip(rhtml.render_html(second))
    assert rmd.render_markdown(first) != rmd.render_markdown(second)


def test_source_date_epoch_fixes_the_date(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert today() == "2023-11-14"


# --- bad input and the command line --------------------------------------------------------------


def _edited(**changes: object) -> str:
    data = default_results().to_json()
    data.update(changes)
    return json.dumps(data)


def _stray_adapter() -> str:
    data = default_results().to_json()
    data["tallies"][0]["adapter"] = "jax"
    return json.dumps(data)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON (line 1"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"schema": "something-else", "version": 2}), "not a convequiv results file"),
        (_edited(version=3), "schema version 3 is newer than this convequiv reads (2); upgrade"),
        (_edited(version=1), "schema version 1 is older"),
        (_stray_adapter(), "tally 0: adapter 'jax' is not listed under 'adapters'"),
        (_edited(tallies=[{"row": "conv"}]), "malformed entry"),
        (_edited(wall_seconds="slow"), "malformed"),
    ],
)
def test_bad_files_are_one_line_errors_naming_the_file(tmp_path: Path, content: str, message: str):
    path = write(tmp_path / "bad", "broken.json", content)
    with pytest.raises(ResultsError) as info:
        rp.load_directory(tmp_path / "bad")
    assert str(path) in str(info.value) and message in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(ResultsError):
        load_environment(path)


def test_cli_writes_both_files(sample_dir: Path, tmp_path: Path):
    out = tmp_path / "site"
    run = cli(str(sample_dir), "--out", str(out), "--title", "Nightly compatibility")
    assert run.returncode == 0, run.stderr
    assert "3 environments, 1 with failed checks" in run.stdout
    md = (out / "compatibility.md").read_text()
    page = (out / "compatibility.html").read_text()
    assert md.startswith("# Nightly compatibility\n\nGenerated on ")
    assert "from 3 environments." in md.splitlines()[2]
    assert "<title>Nightly compatibility</title>" in page and 'id="div-tf-lowest"' in page
    assert "Not in the divergence file any more" in page  # tf-lowest is a synthetic id
    assert sorted(p.name for p in out.iterdir()) == ["compatibility.html", "compatibility.md"]  # no temp files


def test_cli_default_output_is_a_new_folder_not_docs(sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    run = cli(str(sample_dir))
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "convequiv-report" / "compatibility.html").is_file()
    assert not (tmp_path / "docs").exists()
    helptext = io.StringIO()
    with contextlib.redirect_stdout(helptext), pytest.raises(SystemExit):
        main(["report", "--help"])
    assert "./convequiv-report" in " ".join(helptext.getvalue().split())


def test_cli_bad_results_file_exits_1_with_one_line_and_writes_nothing(sample_dir: Path, tmp_path: Path):
    out = tmp_path / "site"
    out.mkdir()
    (out / "compatibility.md").write_text("old page\n")
    bad = write(sample_dir, "y.json", _edited(version=3))
    run = cli(str(sample_dir), "--out", str(out))
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and str(bad) in run.stderr and "newer than this convequiv reads" in run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["compatibility.md"]
    assert (out / "compatibility.md").read_text() == "old page\n"
    fresh = tmp_path / "fresh"
    assert cli(str(sample_dir), "--out", str(fresh)).returncode == 1 and not fresh.exists()


def test_cli_folder_errors(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    run = cli(str(empty), "--out", str(tmp_path / "o"))
    assert run.returncode == 1 and "no results files" in run.stderr and str(empty) in run.stderr
    run = cli(str(tmp_path / "missing"), "--out", str(tmp_path / "o"))
    assert run.returncode == 1 and "not a directory" in run.stderr
    assert not (tmp_path / "o").exists()
    assert cli("--no-such-option").returncode == 2


def test_a_failed_write_leaves_no_partial_output(sample: model.Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    out = tmp_path / "site"
    out.mkdir()
    (out / "compatibility.md").write_text("old page\n")
    real_replace = rp.cli.os.replace
    calls: list[str] = []

    def failing_replace(src: Path, dst: Path) -> None:
        calls.append(Path(dst).name)
        if Path(dst).name == "compatibility.html":
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(rp.cli.os, "replace", failing_replace)
    with pytest.raises(OSError):
        rp.write_report(sample, out)
    assert calls == ["compatibility.md", "compatibility.html"]
    assert sorted(p.name for p in out.iterdir()) == ["compatibility.md"]  # no temporary file left


# --- the page in a browser -----------------------------------------------------------------------


def png_facts(path: Path) -> tuple[int, int, int]:
    """(width, height, distinct byte values of the decompressed image data) of a PNG file."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp / 'profile'}"]
    return subprocess.run(command + list(args), capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed: the browser rendering test needs it")
    tmp = tmp_path_factory.mktemp("browser")
    directory = tmp / "results"
    for name, data in (("a", default_results()), ("b", torch21_results()), ("c", keras_results())):
        write(directory, f"{name}.json", data)
    report = rp.build_report(rp.load_directory(directory), DIVERGENCES, generated="2026-11-23")
    _, page = rp.write_report(report, tmp / "site")
    blank = write(tmp, "blank.html", "<!DOCTYPE html><html><body></body></html>")
    size = "--window-size=1400,1000"
    shot, blank_shot = tmp / "report.png", tmp / "blank.png"
    for html_file, png in ((page, shot), (blank, blank_shot)):
        done = chromium(f"--screenshot={png}", size, "--hide-scrollbars", html_file.as_uri(), tmp=tmp)
        assert png.exists(), done.stderr[-2000:]
    dom = chromium("--dump-dom", page.as_uri(), tmp=tmp)
    assert dom.returncode == 0, dom.stderr[-2000:]
    return SimpleNamespace(shot=shot, blank=blank_shot, dom=dom.stdout, tmp=tmp)


def test_screenshot_is_a_real_rendering(rendered: SimpleNamespace):
    width, height, distinct = png_facts(rendered.shot)
    assert (width, height) == (1400, 1000)
    assert rendered.shot.stat().st_size > 20_000
    assert rendered.shot.stat().st_size > 4 * rendered.blank.stat().st_size  # far more than a blank page
    assert distinct > 64, "the screenshot is (nearly) one colour"
    assert png_facts(rendered.blank)[2] < distinct


def test_rendered_dom_has_the_tables_and_anchors(rendered: SimpleNamespace):
    dom = rendered.dom
    assert dom.count('<table class="matrix"') == 2
    assert 'id="div-tf-lowest"' in dom and 'href="#div-tf-lowest"' in dom
    assert 'id="div-keras-jax-same"' in dom and 'href="#div-keras-jax-same"' in dom
    assert 'id="env-keras3.0-jax"' in dom and 'id="fail-torch2.1"' in dom
    assert 'id="routes"' in dom and '<table class="plain routes">' in dom
    assert re.search(r'<div class="controls" id="controls">', dom), "the filter script did not run"
    assert "keras[jax]</b>: diverges 3 [" in dom
    assert '<td class="unchecked"' in dom
