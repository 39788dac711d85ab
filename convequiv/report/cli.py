"""``convequiv report DIR [--out DIR_OUT] [--title TEXT]``: the command line of the report.

Reads every ``*.json`` results file of ``DIR`` (:func:`convequiv.results.read`), builds the report
and writes ``compatibility.md`` and ``compatibility.html`` into ``DIR_OUT`` (default
:data:`DEFAULT_OUT`, a new folder in the working directory: the command never writes into a
repository's ``docs`` unless told to). Both pages are rendered first and written to temporary files
that replace the old pages only at the end, so an error leaves ``DIR_OUT`` as it was.

Exit status 1, with one line naming the file and the problem, for a results file that is corrupt,
of another schema or version, or that tallies an adapter it does not list; likewise for a missing
folder, one without results files, an unusable divergence file, or an output folder that cannot be
written. Bad arguments exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from ..results import ResultsError
from .environments import ReportError, load_directory
from .html import render_html
from .markdown import render_markdown
from .model import Report, build_report
from .text import DEFAULT_TITLE

DEFAULT_OUT = Path("convequiv-report")
PAGES = ("compatibility.md", "compatibility.html")


def write_report(report: Report, out_dir: Path) -> tuple[Path, Path]:
    """Render both pages, then write them into ``out_dir`` (created if needed) through temporary
    files renamed into place last; returns the paths of the Markdown and HTML pages."""
    texts = [render_markdown(report), render_html(report)]
    out_dir.mkdir(parents=True, exist_ok=True)
    temps: list[Path] = []
    try:
        for name, text in zip(PAGES, texts):
            temps.append(out_dir / f".{name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
            with open(temps[-1], "x", encoding="utf-8") as fh:
                fh.write(text)
        for tmp, name in zip(temps, PAGES):
            os.replace(tmp, out_dir / name)
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
    return out_dir / PAGES[0], out_dir / PAGES[1]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=Path, metavar="DIR", help="folder of results files (pytest --results FILE)")
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR_OUT",
        help=f"where to write compatibility.md and compatibility.html (default: ./{DEFAULT_OUT}, created if needed)",
    )
    parser.add_argument("--title", default=DEFAULT_TITLE, help=f"page title (default: {DEFAULT_TITLE!r})")


def _error(message: object) -> int:
    text = " ".join(str(message).split())  # one line, whatever the message holds
    print(f"convequiv report: error: {text}", file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:
    try:
        envs = load_directory(args.directory)
        report = build_report(envs, title=args.title)
    except (ResultsError, ReportError, ValueError) as exc:
        return _error(exc)
    try:
        md, page = write_report(report, args.out)
    except OSError as exc:
        return _error(f"{args.out}: cannot write the report ({exc.strerror or exc})")
    failing = sum(1 for env in envs if env.total("fail"))
    plural = "s" if len(envs) != 1 else ""
    print(f"wrote {md} and {page}: {len(envs)} environment{plural}, {failing} with failed checks")
    return 0
