"""``convequiv tables [MODEL...] [--format F] [--check] [--list]``.

Prints each model's table in the layout of the tool it names: ``keras`` (Keras 3 summary),
``keras2`` (the Keras 2 layout the notes print), ``torchsummary``, ``markdown`` or ``json``. Without
``--format`` each model uses its own framework's tool: Keras 3 for channels-last models,
torchsummary for channels-first ones (PyTorch and NumPy code). No framework is imported for this.

``--check`` builds every selected model in each installed framework (Keras with this process's
backend; PyTorch) and compares it layer by layer with the reference, and the reference with every
number the notes print; each mismatch is printed as an error naming the layer, and the exit status
is 1 when there is any. ``--list`` prints the model names. An unknown model name exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
import time

from . import catalogue
from .infer import ModelInfo, infer
from .render import FORMATS, keras_summary, render, torchsummary


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", nargs="*", metavar="MODEL", help="model names (default: all; see --list)")
    parser.add_argument("--format", "-f", choices=FORMATS, help="table layout (default: each model's own tool)")
    parser.add_argument("--check", action="store_true", help="build in every installed framework and compare")
    parser.add_argument("--list", action="store_true", help="list the model names and exit")


def _native(info: ModelInfo) -> str:
    if info.model.data_format == "channels_first":
        return torchsummary(info)
    return keras_summary(info)


def _list() -> int:
    for model in catalogue.all_models():
        total = infer(model).total("keras").total
        print(f"{model.name:28} {total:>13,}  {model.source}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.list:
        return _list()
    names = args.models or catalogue.names()
    unknown = [n for n in names if n not in catalogue.names()]
    if unknown:
        print(f"convequiv tables: error: unknown model {unknown[0]!r} (see convequiv tables --list)", file=sys.stderr)
        return 2
    try:
        infos = [infer(catalogue.get(n)) for n in names]
    except ValueError as exc:
        print(f"convequiv tables: error: {exc}", file=sys.stderr)
        return 1
    if args.check:
        return _check(infos)
    if args.format is None:
        sys.stdout.write("\n".join(_native(i) for i in infos))
    else:
        sys.stdout.write(render(infos, args.format))
    return 0


def _check(infos: list[ModelInfo]) -> int:
    from . import check, frameworks
    from .printed import printed_for

    torch_ok = frameworks.load("torch") is not None
    keras_ok = frameworks.load("keras") is not None
    print(f"convequiv tables --check: {frameworks.describe('torch')}; {frameworks.describe('keras')}")
    failures = 0
    for info in infos:
        name = info.model.name
        started = time.perf_counter()
        parts = []
        for label, run_check, available in (
            ("notes", check.check_printed, True),
            ("keras", check.check_keras, keras_ok),
            ("torch", check.check_torch, torch_ok),
        ):
            if not available:
                parts.append(f"{label}: not installed")
                continue
            try:
                found = run_check(info)
            except Exception as exc:  # a build that fails is a finding, not a crash
                found = [
                    check.Mismatch(
                        name, label, "model", "build or run failed", "success", f"{type(exc).__name__}: {exc}"
                    )
                ]
            if label == "notes" and not printed_for(name):
                parts.append("notes: prints nothing")
            else:
                parts.append(f"{label}: {'ok' if not found else f'{len(found)} mismatch(es)'}")
            for mismatch in found:
                print(f"error: {mismatch}", file=sys.stderr)
            failures += len(found)
        print(f"{name:28} {'; '.join(parts)} ({time.perf_counter() - started:.1f} s)")
    print(f"{len(infos)} model(s), {failures} mismatch(es)")
    return 1 if failures else 0
