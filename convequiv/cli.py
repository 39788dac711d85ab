"""``convequiv`` command line: one subcommand per module, imported only when used.

Each subcommand module defines ``configure(parser)`` (its arguments) and ``run(args) -> int``
(the exit status); modules import no framework at import time, so ``--help`` stays instant.
Bad arguments exit with status 2 and a one-line message.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "check": ("convequiv.check_cli", "run the equivalence suite and print the op x adapter matrix"),
    "size": ("convequiv.size_cli", "output size of one spatial dimension, with the formula applied"),
    "tables": ("convequiv.notes.models.cli", "parameter-count tables of the notes' models"),
    "claims": ("convequiv.notes.claims.cli", "the notes' claims with verdicts and evidence"),
    "report": ("convequiv.report", "merge results files of several runs into a compatibility report"),
    "hunt": ("convequiv.hunt", "long randomized campaigns: findings with standalone reproductions"),
    "bench": ("convequiv.bench", "benchmark the reference against PyTorch and TensorFlow"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit status 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from convequiv import __version__

    parser = _Parser(prog="convequiv", description="Cross-framework equivalence suite for CNN building blocks.")
    parser.add_argument("--version", action="version", version=f"convequiv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module_name, summary) in SUBCOMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # subcommand not part of this installation
            raise
        module.configure(sub.add_parser(name, help=summary, description=summary))
        sub.choices[name].set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    return int(args._module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
