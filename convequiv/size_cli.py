"""``convequiv size N --kernel K [--stride S] [--padding P] [--dilation D] [--ceil-mode]``.

Prints the output size of one spatial dimension and the formula of :mod:`convequiv.reference.geometry` with
the numbers substituted; ``--padding`` takes an int, ``LO,HI``, ``valid``, ``same`` or
``same_lower``.
"""

from __future__ import annotations

import argparse
import sys

from convequiv.reference import output_size, resolve_padding


def _padding(text: str) -> object:
    if text in ("valid", "same", "same_lower"):
        return text
    try:
        parts = [int(p) for p in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid padding {text!r}: use an int, LO,HI, valid, same or same_lower"
        ) from None
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        return tuple(parts)
    raise argparse.ArgumentTypeError(f"invalid padding {text!r}: use an int, LO,HI, valid, same or same_lower")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("n", type=int, help="input size along one spatial dimension")
    parser.add_argument("--kernel", "-k", type=int, required=True)
    parser.add_argument("--stride", "-s", type=int, default=1)
    parser.add_argument("--padding", "-p", type=_padding, default=0, help="int, LO,HI, valid, same or same_lower")
    parser.add_argument("--dilation", "-d", type=int, default=1)
    parser.add_argument(
        "--ceil-mode",
        action="store_true",
        help="pooling's ceil mode (drops a last window starting in the right padding)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        out = output_size(
            args.n,
            args.kernel,
            stride=args.stride,
            padding=args.padding,
            dilation=args.dilation,
            ceil_mode=args.ceil_mode,
        )
        ((lo, hi),) = resolve_padding(
            args.padding if isinstance(args.padding, (str, int)) else [args.padding],
            [args.n],
            args.kernel,
            args.stride,
            args.dilation,
        )
    except (TypeError, ValueError) as exc:
        print(f"convequiv size: error: {exc}", file=sys.stderr)
        return 2
    k_eff = args.dilation * (args.kernel - 1) + 1
    rounding = "ceil" if args.ceil_mode else "floor"
    print(out)
    how = f"padding {args.padding!r} -> (lo, hi) = ({lo}, {hi}); " if isinstance(args.padding, str) else ""
    print(
        f"{how}out = {rounding}((n + lo + hi - d*(k-1) - 1) / s) + 1 = "
        f"{rounding}(({args.n} + {lo} + {hi} - {args.dilation}*({args.kernel}-1) - 1) / {args.stride}) + 1"
        f" = {rounding}({args.n + lo + hi - k_eff} / {args.stride}) + 1"
        + (
            " (last window dropped: it would start in the right padding)"
            if args.ceil_mode and out != -(-(args.n + lo + hi - k_eff) // args.stride) + 1
            else ""
        )
        + f" = {out}"
    )
    return 0
