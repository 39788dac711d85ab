"""``convequiv hunt``: long randomized campaigns that turn framework bugs into reports.

::

    convequiv hunt [--adapters A,...] [--ops OP,...] [--budget 30m] [--workers N] [--out DIR]
                   [--seed S] [--shard i/n]
    convequiv hunt --merge DIR... --out DIR
    convequiv hunt --replay DIR/<finding-id>

A campaign checks the equivalence properties with fresh random seeds at the breadth of the
``nightly`` profile for a wall-clock budget, in ``--workers`` processes (default: the machine's
cores), showing elapsed / budget, examples checked per adapter and findings so far. Every failure is
shrunk by Hypothesis and reduced to a signature (:mod:`convequiv.hunt.signature`); failures with
one signature are one finding, which keeps its smallest example and counts the others. Failures
explained by recorded divergences are counted per record; new findings are written to
``DIR/<finding-id>/`` with ``finding.json`` and a standalone ``repro.py``
(:mod:`convequiv.hunt.repro`). Running again with the same ``--out`` resumes; ``--merge`` joins
the folders of several machines or shards; ``--replay`` reruns one finding through the suite and
through its ``repro.py``.

Exit status: 0 no new finding, 1 new findings (or worker errors), 2 usage error.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.table import Table

    from .campaign import Campaign
    from .store import Store

OPS = ("conv", "conv_transpose", "max_pool", "avg_pool", "depth_pool", "global_max_pool", "global_avg_pool")


def _duration(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smh]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"invalid budget {text!r}: use e.g. 90s, 30m or 2h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def _shard(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not match or not 0 <= int(match.group(1)) < int(match.group(2)):
        raise argparse.ArgumentTypeError(f"invalid shard {text!r}: use i/n with 0 <= i < n")
    return int(match.group(1)), int(match.group(2))


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--adapters", help="comma-separated adapter specs (default: every installed adapter)")
    parser.add_argument("--ops", help=f"comma-separated ops (default: all of {', '.join(OPS)})")
    parser.add_argument("--budget", type=_duration, default=1800.0, help="wall-clock budget, e.g. 30m (default)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: the cores)")
    parser.add_argument("--out", type=Path, default=Path("convequiv-findings"), help="findings folder")
    parser.add_argument("--seed", type=int, default=None, help="base seed (default: from the clock)")
    parser.add_argument("--shard", type=_shard, default=(0, 1), help="this campaign's share of the seeds, i/n")
    parser.add_argument("--round-examples", type=int, default=200, help="examples per Hypothesis round")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="DIR", help="merge these findings folders into --out")
    parser.add_argument("--replay", type=Path, metavar="DIR/ID", help="rerun one finding and its repro.py")


def _requirements() -> str | None:
    import importlib.util

    missing = [m for m in ("hypothesis", "rich") if importlib.util.find_spec(m) is None]
    if missing:
        return f"convequiv hunt: error: needs {', '.join(missing)}: pip install 'convequiv[test]'"
    return None


def run(args: argparse.Namespace) -> int:
    problem = _requirements()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    from .store import StoreError

    try:
        if args.merge:
            return _merge(args.merge, args.out)
        if args.replay:
            return _replay(args.replay)
        return _campaign(args)
    except StoreError as exc:
        print(f"convequiv hunt: error: {exc}", file=sys.stderr)
        return 2


def _merge(folders: list[Path], out: Path) -> int:
    from .store import Store

    store = Store.open(out)
    for folder in folders:
        store.merge(Store.open(folder))
    store.save()
    print(f"convequiv hunt: {len(store.findings)} findings from {len(folders)} folders in {out}")
    return 0


def _replay(folder: Path) -> int:
    import json

    from convequiv.equivalence import check
    from convequiv.reference import cases

    data = json.loads((folder / "finding.json").read_text())
    sig = data["signature"]
    namespace = {n: getattr(cases, n) for n in cases.__all__}
    example = eval(data["example"], namespace)  # a case repr written by convequiv hunt
    print(f"suite: {sig['adapter']} ({sig['api']}, {sig['dtype']}) {example!r}")
    outcome = check(sig["adapter"], example, api=sig["api"], dtype=sig["dtype"], raise_on_failure=False)
    print(f"  {outcome.status}" + (f" ({', '.join(outcome.divergences)})" if outcome.divergences else ""))
    script = folder / "repro.py"
    print(f"repro.py ({script}):")
    done = subprocess.run([sys.executable, str(script)])
    print(f"  exit status {done.returncode} ({'still reproduces' if done.returncode else 'no longer reproduces'})")
    return 1 if outcome.status == "fail" or done.returncode else 0


def _campaign(args: argparse.Namespace) -> int:
    from convequiv.adapters import available_specs
    from convequiv.settings import parse_adapters

    from .campaign import Campaign, Options

    adapters = list(parse_adapters(args.adapters) or available_specs())
    ops = [o.strip() for o in args.ops.split(",")] if args.ops else list(OPS)
    unknown = [o for o in ops if o not in OPS]
    if unknown:
        print(f"convequiv hunt: error: unknown op {unknown[0]!r}; choose from {', '.join(OPS)}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("convequiv hunt: error: --workers must be at least 1", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else int(time.time())
    options = Options(
        adapters,
        ops,
        args.budget,
        args.workers,
        args.out,
        seed,
        args.shard,
        args.round_examples,
        slice_seconds=max(60.0, args.budget * args.workers / max(len(adapters), 1) / 2),
    )
    campaign = Campaign(options)
    print(
        f"convequiv hunt: seed {seed}, shard {args.shard[0]}/{args.shard[1]}, "
        f"{len(adapters)} adapters, findings in {args.out}"
    )
    store = _with_display(campaign)
    summary = store.campaigns[-1]
    print(
        f"convequiv hunt: {summary['wall_seconds']:.0f} s, {summary['worker_seconds'] / 3600:.2f} worker-hours, "
        f"{summary['cpu_seconds'] / 3600:.2f} CPU-hours"
    )
    for adapter, n in summary["examples"].items():
        print(f"  {adapter}: {n} examples {dict(summary['statuses'][adapter])}")
    if summary["new_findings"]:
        print(f"new findings ({len(summary['new_findings'])}):")
        for fid in summary["new_findings"]:
            print(f"  {args.out / fid}/repro.py")
    for error in summary["errors"]:
        print(f"worker error: {error}", file=sys.stderr)
    return 1 if summary["new_findings"] or summary["errors"] else 0


def progress_table(c: Campaign) -> Table:
    """The live display: elapsed of budget, findings, and per adapter its checks by status."""
    from rich.table import Table
    from rich.text import Text

    elapsed = time.time() - c.started
    found = f"{len(c.store.findings)} findings ({len(c.new)} new)"
    title = f"convequiv hunt: {elapsed:.0f} s of {c.options.budget:.0f} s, {found}"
    grid = Table(title=title, title_justify="left")
    for column in ("adapter", "checked", "agree", "diverge", "unsupported", "fail"):
        grid.add_column(column, justify="left" if column == "adapter" else "right")
    for adapter, tally in sorted(c.tallies.items()):
        s = tally.statuses
        grid.add_row(  # Text: an adapter name such as keras[torch] is not console markup
            Text(adapter), str(sum(s.values())), *(str(s[k]) for k in ("agree", "diverge", "unsupported", "fail"))
        )
    return grid


def _with_display(campaign: Campaign) -> Store:
    from rich.console import Console
    from rich.live import Live

    console = Console(stderr=True)
    if not console.is_terminal:
        last = [0.0]

        def plain(c: Campaign) -> None:
            if time.time() - last[0] >= 30:
                last[0] = time.time()
                console.print(progress_table(c))

        return campaign.run(plain)
    with Live(console=console, refresh_per_second=1, transient=False) as live:
        return campaign.run(lambda c: live.update(progress_table(c)))
