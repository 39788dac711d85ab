"""``convequiv claims [ID...] [--note N] [--format text|markdown|json] [--reference-only]``.

Decides each claim (all by default) by running the reference, the installed frameworks and the
notes' own listings, and prints verdicts with evidence. ``--reference-only`` uses no framework.
Exit status 1 when a decided verdict differs from the catalogue's expectation or a decider fails,
2 for an unknown claim id.
"""

from __future__ import annotations

import argparse
import sys

from .render import FORMATS


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ids", nargs="*", metavar="ID", help="claim ids (default: all)")
    parser.add_argument("--note", choices=("000", "001", "002", "003", "004"), help="only this note's claims")
    parser.add_argument("--format", "-f", choices=FORMATS, default="text")
    parser.add_argument("--reference-only", action="store_true", help="use no framework, only the NumPy reference")


def run(args: argparse.Namespace) -> int:
    from .catalogue import CLAIMS, by_id
    from .context import Context
    from .render import environment, render
    from .run import decide_all

    known = by_id()
    unknown = [i for i in args.ids if i not in known]
    if unknown:
        print(f"convequiv claims: error: unknown claim {unknown[0]!r}", file=sys.stderr)
        return 2
    claims = [known[i] for i in args.ids] if args.ids else list(CLAIMS)
    if args.note:
        claims = [c for c in claims if c.note == args.note]
    ctx = Context.default()
    if args.reference_only:
        ctx.allowed = frozenset()
    results = decide_all(ctx, claims)
    sys.stdout.write(render(results, environment(ctx), args.format))
    bad = [r for r in results if r.disagrees or r.error]
    for r in bad:
        what = "decider failed" if r.error else f"decided {r.verdict}, catalogue expects {r.claim.expected}"
        print(f"convequiv claims: {r.claim.id}: {what}", file=sys.stderr)
    return 1 if bad else 0
