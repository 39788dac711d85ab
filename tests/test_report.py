"""``convequiv report DIR``: merging results files into docs/compatibility.{md,html}.

The synthetic environments (see :func:`sample_dir`):

``default``
    torch 2.13.0+cpu and tensorflow 2.21.0; tensorflow shows ``tf-lowest`` on NaN input, torch shows
    ``torch-last-nan`` on tied NaN; everything else agrees;
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
from pathlib import Path
from types import SimpleNamespace

import pytest

from convequiv import report as rp
from convequiv.cli import main
from convequiv.divergences import Divergence

CHROMIUM = Path("/usr/bin/chromium")
SAME2 = "max_pool: padding same, stride 2+, even input"
NAN = "max_pool: NaN and ±inf in the input"
TIES = "max_pool: tied input values (max-gradient ties)"
NO_PAD = "avg_pool: count_include_pad=False"


def divergence(div_id: str, adapter: str, op: str, versions: dict[str, str], evidence: str = "") -> Divergence:
    return Divergence(
        id=div_id,
        adapter=adapter,
        op=op,
        when="True",
        outputs=("y",),
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
]


def tallies_for(adapter: str, api: str, entries: list[tuple[str, str, str, int]]) -> list[list]:
    """``entries`` are (feature or "", status, divergence, count); each also counts on its op row."""
    rows = []
    for feature, status, div, count in entries:
        rows.append(["max_pool" if not feature.startswith("avg") else "avg_pool", adapter, api, "float32"])
        rows[-1] += [status, div, count]
        if feature:
            rows.append([feature, adapter, api, "float32", status, div, count])
    return rows


def results(name: str, adapters: dict, tallies: list[list], coverage: dict | None = None, **extra) -> dict:
    data = {
        "environment": name,
        "created": "2026-11-20 10:00:00",
        "python": "3.11.7",
        "numpy": "2.4.6",
        "profile": "ci",
        "adapters": adapters,
        "wall_seconds": 75.0,
        "tallies": tallies,
        "matrix": {},
        "speed": {},
        "divergences": {
            div_id: {"covered": c, "observed": o, "adapter": "?", "op": "?"}
            for div_id, (c, o) in (coverage or {}).items()
        },
    }
    return {**data, **extra}


def default_results() -> dict:
    tallies = tallies_for(
        "tensorflow",
        "nn",
        [("max_pool: 2-D", "agree", "", 10), (NAN, "diverge", "tf-lowest", 4), (SAME2, "agree", "", 5)],
    )
    tallies += tallies_for(
        "torch",
        "functional",
        [("max_pool: 2-D", "agree", "", 12), (TIES, "diverge", "torch-last-nan", 3), (SAME2, "agree", "", 6)],
    )
    tallies += tallies_for("torch", "functional", [(NO_PAD, "agree", "", 7)])
    adapters = {"torch": {"torch": "2.13.0+cpu"}, "tensorflow": {"tensorflow": "2.21.0"}}
    return results("default", adapters, tallies, {"tf-lowest": (4, 4), "torch-last-nan": (3, 3)})


def torch21_results() -> dict:
    tallies = tallies_for(
        "torch",
        "functional",
        [("max_pool: 2-D", "agree", "", 12), (TIES, "agree", "", 12), (SAME2, "fail", "", 2), (SAME2, "agree", "", 4)],
    )
    return results("torch2.1", {"torch": {"torch": "2.1.2"}}, tallies, {"torch-last-nan": (12, 0)}, wall_seconds=4000)


def keras_results() -> dict:
    tallies = tallies_for(
        "keras[jax]",
        "layer",
        [("max_pool: 2-D", "agree", "", 9), (SAME2, "diverge", "keras-jax-same", 3), (NO_PAD, "unsupported", "", 5)],
    )
    adapters = {"keras[jax]": {"keras": "3.0.5", "jax": "0.4.30"}}
    return results("keras3.0-jax", adapters, tallies, {"keras-jax-same": (3, 3)})


def write(directory: Path, name: str, data: object) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


@pytest.fixture
def sample_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "results"
    write(directory, "b.json", torch21_results())
    write(directory, "a.json", keras_results())
    write(directory, "z.json", default_results())
    return directory


@pytest.fixture
def sample(sample_dir: Path) -> rp.Report:
    return rp.build_report(rp.load_directory(sample_dir), DIVERGENCES, generated="2026-11-23")


def env(report: rp.Report, name: str) -> rp.Environment:
    return next(e for e in report.environments if e.name == name)


def text(report: rp.Report, row: str, name: str) -> str:
    return rp.plain_cell(report.cell(row, env(report, name)))


def cli(*args: str) -> SimpleNamespace:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["report", *args])
        except SystemExit as exc:
            code = exc.code
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


# --- merging -------------------------------------------------------------------------------------


def test_environments_default_first_then_natural_name_order(sample: rp.Report):
    assert [e.name for e in sample.environments] == ["default", "keras3.0-jax", "torch2.1"]
    names = ["torch2.13", "default", "torch2.4", "keras3.10", "keras3.9"]
    assert sorted(names, key=rp.environment_key) == ["default", "keras3.9", "keras3.10", "torch2.4", "torch2.13"]


def test_rows_grouped_by_op_with_the_op_row_first(sample: rp.Report):
    assert list(sample.rows) == ["avg_pool", "max_pool"]
    assert sample.rows["avg_pool"] == ["avg_pool", NO_PAD]
    assert sample.rows["max_pool"] == ["max_pool", "max_pool: 2-D", NAN, SAME2, TIES]


def test_a_divergence_observed_in_one_environment_shows_only_there(sample: rp.Report):
    assert text(sample, NAN, "default") == "tensorflow: diverges tf-lowest (4)"  # torch ran no NaN case
    assert rp.cell_state(sample.cell(NAN, env(sample, "default"))) == "diverge"
    for other in ("torch2.1", "keras3.0-jax"):
        assert "tf-lowest" not in text(sample, NAN, other)
    assert text(sample, NAN, "torch2.1") == "—"  # not run there
    assert text(sample, TIES, "torch2.1") == "all agree (1)"
    assert text(sample, TIES, "default") == "torch: diverges torch-last-nan (3)"


def test_a_fail_shows_as_fail_with_its_count(sample: rp.Report):
    cell = sample.cell(SAME2, env(sample, "torch2.1"))
    assert rp.cell_state(cell) == "fail"
    assert rp.plain_cell(cell) == "torch: FAIL (2 of 6)"
    assert text(sample, "max_pool", "torch2.1") == "torch: FAIL (2 of 30)"
    assert rp.cell_state(sample.cell(SAME2, env(sample, "default"))) == "agree"
    assert text(sample, SAME2, "default") == "all agree (2)"


def test_keras_on_jax_same_padding_stride_2(sample: rp.Report):
    """The question the page must answer: where does keras 3.0 on jax differ for same padding, stride 2?"""
    assert text(sample, SAME2, "keras3.0-jax") == "keras[jax]: diverges keras-jax-same (3)"
    assert text(sample, NO_PAD, "keras3.0-jax") == "keras[jax]: unsupported"
    assert rp.cell_state(sample.cell(NO_PAD, env(sample, "keras3.0-jax"))) == "unsupported"


def test_worst_news_first_within_a_cell():
    tallies = [
        ["conv", "a-agrees", "x", "float32", "agree", "", 3],
        ["conv", "b-unsupported", "x", "float32", "unsupported", "", 2],
        ["conv", "c-diverges", "x", "float32", "diverge", "d1", 1],
        ["conv", "c-diverges", "x", "float32", "agree", "", 1],
        ["conv", "d-fails", "x", "float32", "fail", "", 1],
        ["conv", "d-fails", "x", "float32", "diverge", "d2", 2],
        ["conv", "e-partly", "x", "float32", "unsupported", "", 1],
        ["conv", "e-partly", "x", "float32", "agree", "", 4],
    ]
    environment = rp.parse_results(results("default", {}, tallies), "mixed.json")
    cell = rp.environment_cells(environment)["conv"]
    assert [c.adapter for c in cell] == ["d-fails", "c-diverges", "b-unsupported", "e-partly", "a-agrees"]
    assert rp.plain_cell(cell) == (
        "d-fails: FAIL (1 of 3); diverges d2 (2) · c-diverges: diverges d1 (1) · b-unsupported: unsupported"
        " · e-partly: unsupported (1 of 5) · +1 agree"
    )
    assert rp.cell_state(cell) == "fail"
    partly = tuple(c for c in cell if c.adapter in ("e-partly", "a-agrees"))
    assert rp.cell_state(partly) == "agree"  # agreeing wherever supported does not grey the cell
    assert cell[0].tooltip() == "d-fails: 1 fail, 2 diverge (d2 2)"


def test_failures_section_groups_failed_checks_with_their_features(sample: rp.Report):
    (group,) = rp.failures_of(env(sample, "torch2.1"))
    assert group == rp.FailureGroup(
        "torch", "max_pool", "functional", "float32", 2, (("padding same, stride 2+, even input", 2),)
    )
    assert rp.failures_of(env(sample, "default")) == []
    md = rp.render_markdown(sample)
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


# --- divergences and version ranges --------------------------------------------------------------


def torch_env(name: str, version: str, covered: int, observed: int) -> rp.Environment:
    tallies = [["max_pool", "torch", "functional", "float32", "agree", "", 10]]
    if observed:
        tallies.append(["max_pool", "torch", "functional", "float32", "diverge", "torch-last-nan", observed])
    data = results(name, {"torch": {"torch": version}}, tallies, {"torch-last-nan": (covered, observed)})
    return rp.parse_results(data, f"{name}.json")


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
    vr = rp.version_range(DIVERGENCES[1], "torch", envs)
    assert vr.gaps == ("2.6.0",)
    assert vr.describe() == "seen in torch 2.4.1 – 2.13.0 (except 2.6.0); not seen in 2.6.0 (covered 3 times)"
    single = rp.version_range(DIVERGENCES[1], "torch", envs[2:])
    assert single.describe() == "seen in torch 2.13.0" and single.specifier == "==2.13.0"
    never = rp.version_range(DIVERGENCES[1], "torch", envs[1:2])
    assert never.describe() == "not seen in torch 2.6.0 (covered 3 times)" and never.specifier is None
    assert rp.version_range(DIVERGENCES[3], "jax", envs).describe() == "jax: no environment has it"


def test_version_ranges_of_the_sample(sample: rp.Report):
    ranges = sample.ranges
    assert ranges["tf-lowest"]["tensorflow"].describe() == "seen in tensorflow 2.21.0"
    assert (
        ranges["torch-last-nan"]["torch"].describe() == "seen in torch 2.13.0+cpu; not seen in 2.1.2 (covered 12 times)"
    )
    keras = ranges["keras-jax-same"]
    assert list(keras) == ["keras", "jax"]
    assert keras["keras"].specifier == "==3.0.5" and keras["jax"].specifier == "==0.4.30"


def test_version_ranges_reads_the_divergence_file_by_default(sample: rp.Report):
    from convequiv.divergences import load

    ranges = rp.version_ranges(sample.environments)
    assert {d.id for d in load()} <= set(ranges)
    assert "tf-lowest" in ranges  # named by the results, unknown to the file


def test_version_ranges_of_a_folder(sample_dir: Path):
    ranges = rp.version_ranges(sample_dir, DIVERGENCES)
    assert ranges["keras-jax-same"]["jax"].describe() == "seen in jax 0.4.30"


def test_divergence_states_per_environment(sample: rp.Report):
    torch_div = DIVERGENCES[1]
    states = {e.name: rp.divergence_state(e, torch_div) for e in sample.environments}
    assert states == {"default": "observed", "torch2.1": "no longer reproduces", "keras3.0-jax": "no such adapter"}
    groups = dict(rp.divergence_groups(sample))
    assert [d.id for d in groups["Observed in at least one environment"]] == [
        "keras-jax-same",
        "tf-lowest",
        "torch-last-nan",
    ]
    assert [d.id for d in groups["Not exercised in any environment"]] == ["jax-only"]


def test_divergence_section_links_and_evidence(sample: rp.Report):
    page = rp.render_html(sample)
    assert page.count('id="div-tf-lowest"') == 1
    assert '<a href="#div-tf-lowest">tf-lowest</a>' in page
    assert '<a href="https://example.org/issues/1">https://example.org/issues/1</a>' in page
    assert "<code>repro: tf.nn.max_pool1d(x, 2, 2, &#x27;VALID&#x27;) -&gt; [[-3.4e+38]]</code>" in page
    section = page[page.index('id="div-torch-last-nan"') :]
    section = section[: section.index("</section>")]
    assert "seen in torch 2.13.0+cpu; not seen in 2.1.2 (covered 12 times)" in section
    assert re.search(r"torch2\.1</a></td><td class=\"agree\">no longer reproduces</td>", section)
    md = rp.render_markdown(sample)
    assert "#### tf-lowest" in md and "[tf-lowest]: #tf-lowest" in md
    assert "- <https://example.org/issues/1>" in md


# --- rendering -----------------------------------------------------------------------------------


def test_markdown_starts_with_date_count_and_legend(sample: rp.Report):
    lines = rp.render_markdown(sample).splitlines()
    assert lines[0] == f"# {rp.DEFAULT_TITLE}"
    assert lines[2] == "Generated on 2026-11-23 from 3 environments."
    assert lines[6].startswith("Each table covers one op")
    assert lines[12].startswith("| **default** | torch 2.13.0+cpu · tensorflow 2.21.0 | 2.4.6 | 3.11.7 | ci |")


def test_markdown_tables_are_well_formed(sample: rp.Report):
    md = rp.render_markdown(sample)
    for block in re.findall(r"(?:^\|.*\|\n)+", md, flags=re.M):
        widths = {len(re.findall(r"(?<!\\)\|", line)) for line in block.splitlines()}
        assert len(widths) == 1, block
    header = "| max_pool | default<br>torch 2.13.0+cpu · tensorflow 2.21.0 | keras3.0-jax<br>keras 3.0.5 · jax 0.4.30 |"
    assert header in md
    assert f"| {SAME2.split(': ')[1]} | all agree (2) | keras[jax]: diverges [keras-jax-same] (3) |" in md


def test_markdown_renders_links(sample: rp.Report):
    markdown_it = pytest.importorskip("markdown_it")
    page = markdown_it.MarkdownIt("commonmark").enable("table").render(rp.render_markdown(sample))
    assert '<a href="#tf-lowest">tf-lowest</a>' in page
    assert "[tf-lowest]" not in page  # every reference link resolved
    assert page.count("<table>") == 1 + 2 + 1 + 3  # environments, 2 ops, failures, 3 divergences seen


def test_many_environments_list_only_the_news_in_markdown(sample_dir: Path):
    for i in range(rp.MARKDOWN_MATRIX_MAX_ENVIRONMENTS):
        write(sample_dir, f"extra{i}.json", {**torch21_results(), "environment": f"torch2.1-copy{i}"})
    report = rp.build_report(rp.load_directory(sample_dir), DIVERGENCES, generated="2026-11-23")
    md = rp.render_markdown(report)
    assert f"- {SAME2.split(': ')[1]}: all agree in 1 of 9 environments; elsewhere:" in md
    assert "  - **keras3.0-jax**: keras[jax]: diverges [keras-jax-same] (3)" in md
    assert "  - **torch2.1-copy5**: torch: **FAIL (2 of 6)**" in md
    html_page = rp.render_html(report)
    assert html_page.count('<th class="env"') == 2 * 9  # the HTML keeps the full matrix


def test_html_is_self_contained(sample: rp.Report):
    page = rp.render_html(sample)
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<link|@import|url\(|src=\"http|<img|<iframe", page)
    assert '<p class="meta" id="generated">Generated on 2026-11-23 from 3 environments.</p>' in page
    assert page.index('id="generated"') < page.index('class="legend"') < page.index('<table class="matrix"')
    assert "position:sticky" in page and "td.fail" in page and "td.diverge" in page
    cell = re.search(r'<td class="fail" data-col="2" title="torch: 2 fail, 4 agree">(.*?)</td>', page)
    assert cell and "FAIL (2 of 6)" in cell.group(1)


def test_output_is_deterministic_apart_from_the_date(sample_dir: Path):
    envs = rp.load_directory(sample_dir)
    first = rp.build_report(envs, DIVERGENCES, generated="2026-01-01")
    second = rp.build_report(list(reversed(envs)), DIVERGENCES, generated="2027-12-31")

    def strip(text: str) -> str:
        return re.sub(r"Generated on \S+", "", text)

    assert strip(rp.render_markdown(first)) == strip(rp.render_markdown(second))
    assert strip(rp.render_html(first)) == strip(rp.render_html(second))
    assert rp.render_markdown(first) != rp.render_markdown(second)


def test_source_date_epoch_fixes_the_date(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert rp.today() == "2023-11-14"


# --- bad input and the command line --------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a convequiv results file"),
        (json.dumps({"environment": "x", "tallies": [["conv", "torch", "f", "float32", "odd", "", 1]]}), "tallies[0]"),
        (json.dumps({"environment": "x", "tallies": [["conv", "torch", 1]]}), "tallies[0] is not a 7-item list"),
        (json.dumps({"environment": "x", "tallies": [], "adapters": {"torch": "2.1"}}), "adapters['torch']"),
    ],
)
def test_bad_files_are_errors_naming_the_file(tmp_path: Path, content: str, message: str):
    path = write(tmp_path / "bad", "broken.json", content)
    with pytest.raises(rp.ReportError) as info:
        rp.load_directory(tmp_path / "bad")
    assert str(path) in str(info.value) and message in str(info.value)


def test_cli_writes_both_files(sample_dir: Path, tmp_path: Path):
    out = tmp_path / "docs"
    run = cli(str(sample_dir), "--out", str(out), "--title", "Nightly compatibility")
    assert run.returncode == 0, run.stderr
    assert "3 environments, 1 with failed checks" in run.stdout
    md = (out / "compatibility.md").read_text()
    page = (out / "compatibility.html").read_text()
    assert md.startswith("# Nightly compatibility\n\nGenerated on ")
    assert "from 3 environments." in md.splitlines()[2]
    assert "<title>Nightly compatibility</title>" in page and 'id="div-tf-lowest"' in page
    assert "Not in the divergence file any more" in page  # tf-lowest is a synthetic id


def test_cli_errors_exit_2(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    run = cli(str(empty))
    assert run.returncode == 2 and "no results files" in run.stderr and str(empty) in run.stderr
    run = cli(str(tmp_path / "missing"))
    assert run.returncode == 2 and "not a directory" in run.stderr
    write(tmp_path / "bad", "x.json", "[]")
    run = cli(str(tmp_path / "bad"), "--out", str(tmp_path / "o"))
    assert run.returncode == 2 and "x.json" in run.stderr and not (tmp_path / "o").exists()
    assert cli("--no-such-option").returncode == 2


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
    _, page = rp.write_report(report, tmp / "docs")
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
    assert re.search(r'<div class="controls" id="controls">', dom), "the filter script did not run"
    assert "keras[jax]</b>: diverges" in dom
