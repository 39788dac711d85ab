"""Deciders for claims about output sizes: the formula, stride, padding, 'same' and 'valid'."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import pairwise

import numpy as np

from convequiv.reference import output_size

from ..context import Context, Evidence, shape
from ..model import Decision
from ..notes import run_listing
from .fw import keras_call, torch_conv


def _torch_size(ctx: Context, ev: Evidence, n: int, k: int, stride: int = 1, padding: object = 0) -> int | None:
    torch = ctx.torch()
    if torch is None:
        return None
    out = torch_conv(torch, np.zeros((1, 1, n, n)), np.zeros((1, 1, k, k)), stride=stride, padding=padding)
    ev.ran.add("torch")
    return int(out.shape[-1])


def _keras_size(ctx: Context, ev: Evidence, n: int, k: int, stride: int = 1, padding: str = "valid") -> int | None:
    keras = ctx.keras()
    if keras is None:
        return None
    out = keras_call(keras.layers.Conv2D(1, k, strides=stride, padding=padding), np.zeros((1, n, n, 1)))
    ev.ran.add("keras")
    return int(out.shape[1])


def _frameworks(ctx: Context, ev: Evidence, n: int, k: int, stride: int, padding: int, expected: int) -> bool:
    """Report what PyTorch and Keras give for one case; False when one disagrees with ``expected``."""
    agree = True
    t = _torch_size(ctx, ev, n, k, stride, padding)
    if t is None:
        ev.missing("torch")
    else:
        ev.add(f"torch conv2d on {n}x{n}, kernel {k}, stride {stride}, padding {padding}: {t}x{t}")
        agree &= t == expected
    if padding == 0:
        kk = _keras_size(ctx, ev, n, k, stride, "valid")
        if kk is None:
            ev.missing("keras")
        else:
            ev.add(f"Keras Conv2D(kernel {k}, strides {stride}, 'valid') on {n}x{n}: {kk}x{kk}")
            agree &= kk == expected
    return agree


def _grid() -> Iterator[tuple[int, int, int, int]]:
    for n in range(5, 41):
        for k in (1, 2, 3, 5, 7):
            for p in range(4):
                for s in range(1, 5):
                    if n + 2 * p >= k:
                        yield n, k, p, s


def output_size_formula(ctx: Context) -> Decision:
    """OH = (H + 2P - FH) / S + 1 equals the real size exactly when S divides H + 2P - FH."""
    ev = Evidence()
    exact = fractional = wrong = 0
    for n, k, p, s in _grid():
        value = (n + 2 * p - k) / s + 1
        ref = output_size(n, k, stride=s, padding=p)
        if (n + 2 * p - k) % s == 0:
            exact += 1
            wrong += value != ref
        else:
            fractional += 1
            wrong += int(value) != ref
    ev.add(
        f"over {exact + fractional} cases (H 5-40, FH in 1, 2, 3, 5, 7, P 0-3, S 1-4) the formula equals the "
        f"reference's output size in all {exact} cases where S divides H + 2P - FH; in the other {fractional} it "
        f"is not an integer and the real size is its floor ({wrong} disagreements); e.g. H=28, FH=3, P=0, S=2 "
        f"gives {(28 - 3) / 2 + 1} where the reference gives {output_size(28, 3, stride=2)}",
        "reference",
    )
    agree = _frameworks(ctx, ev, 28, 3, 2, 0, 13)
    return ev.decide("conditional" if not wrong and fractional and agree else "wrong")


def output_must_be_integer(ctx: Context) -> Decision:
    """Frameworks do not require S to divide H + 2P - FH: they floor."""
    ev = Evidence()
    ref = output_size(28, 3, stride=2)
    ev.add(f"(28 + 0 - 3) / 2 + 1 = 12.5 + 1 is not an integer, yet the reference returns {ref} (floor)", "reference")
    agree = _frameworks(ctx, ev, 28, 3, 2, 0, ref)
    if ctx.notes is not None:
        ev.add("the note's own im2col computes out_h with // (floor) and Convolution with int() (truncation)", "notes")
    return ev.decide("wrong" if agree else "holds")


def stride_shrinks(ctx: Context) -> Decision:
    """Output size never grows with the stride, but often stays the same."""
    ev = Evidence()
    grows = ties = cases = 0
    for n in range(5, 41):
        for k in (1, 3, 5):
            for p in range(3):
                sizes = [output_size(n, k, stride=s, padding=p) for s in range(1, n + 2 * p - k + 3)]
                cases += len(sizes) - 1
                grows += sum(b > a for a, b in pairwise(sizes))
                ties += sum(b == a for a, b in pairwise(sizes))
    example = [output_size(28, 3, stride=s) for s in (13, 14, 15)]
    ev.add(
        f"over {cases} stride increments (n 5-40, k 1/3/5, p 0-2, every stride up to the padded span) the "
        f"reference's size never grew ({grows} times) but stayed equal {ties} times: n=28, k=3, strides 13, 14, 15 "
        f"give {', '.join(map(str, example))}",
        "reference",
    )
    return ev.decide("conditional" if not grows and ties else ("holds" if not grows else "wrong"))


def padding_grows(ctx: Context) -> Decision:
    """Output size never shrinks with padding; it grows at every step only while the stride is <= 2."""
    ev = Evidence()
    shrink = flat_small = flat_large = 0
    for n in range(5, 41):
        for k in (1, 3, 5, 7):
            for s in range(1, 5):
                sizes = [output_size(n, k, stride=s, padding=p) for p in range(0, 5) if n + 2 * p >= k]
                steps = list(pairwise(sizes))
                shrink += sum(b < a for a, b in steps)
                flat = sum(b == a for a, b in steps)
                flat_small += flat if s <= 2 else 0
                flat_large += flat if s > 2 else 0
    example = [output_size(28, 3, stride=3, padding=p) for p in (0, 1, 2)]
    ev.add(
        f"the reference's size never shrank with more padding ({shrink} times); with stride 1 or 2 every extra pad "
        f"grew it ({flat_small} unchanged steps), with stride 3-4 {flat_large} steps left it unchanged: n=28, k=3, "
        f"stride 3, padding 0, 1, 2 give {', '.join(map(str, example))}",
        "reference",
    )
    return ev.decide("conditional" if not shrink and not flat_small and flat_large else "wrong")


def _cnn_param(ctx: Context, ev: Evidence) -> Callable[..., float]:
    """The note's own cnn_param when the notes are here, else the same formula."""
    listing = ctx.listing("001-cnn-param")
    if listing is not None:
        run = run_listing(listing, {})
        if run.ok:
            ev.ran.add("notes")
            cnn_param: Callable[..., float] = run.namespace["cnn_param"]
            return cnn_param
    return lambda W, F, P, S=1: ((W - F + 2 * P) / S) + 1


def cnn_param_value(w: int, f: int, p: int, s: int, printed: float) -> Callable[[Context], Decision]:
    def decide(ctx: Context) -> Decision:
        ev = Evidence()
        fn = _cnn_param(ctx, ev)
        value = fn(w, f, p, s)
        ref = output_size(w, f, stride=s, padding=p)
        ev.add(
            f"cnn_param({w}, {f}, {p}, {s}) = {value!r} (the note prints {printed!r}); reference output size {ref}",
            "reference",
        )
        agree = _frameworks(ctx, ev, w, f, s, p, ref)
        return ev.decide("holds" if value == printed == ref and agree else "wrong")

    decide.__qualname__ = f"cnn_param_value_{w}_{f}_{p}_{s}"
    return decide


def cnn_param_float(ctx: Context) -> Decision:
    """cnn_param returns a float; it is the framework size only when S divides W - F + 2P."""
    ev = Evidence()
    fn = _cnn_param(ctx, ev)
    inside, outside = fn(28, 3, 1, 1), fn(28, 3, 0, 2)
    ref_in, ref_out = output_size(28, 3, stride=1, padding=1), output_size(28, 3, stride=2)
    ev.add(
        f"cnn_param(28, 3, 1, 1) = {inside!r} vs reference {ref_in}; cnn_param(28, 3, 0, 2) = {outside!r} vs "
        f"reference {ref_out}",
        "reference",
    )
    agree = _frameworks(ctx, ev, 28, 3, 2, 0, ref_out)
    return ev.decide("conditional" if inside == ref_in and outside != ref_out and agree else "wrong")


def padding_preserves(ctx: Context) -> Decision:
    """Padding keeps the size only for stride 1 with P = (F - 1) / 2."""
    ev = Evidence()
    kept = [(k, (k - 1) // 2) for k in (1, 3, 5, 7) if output_size(28, k, padding=(k - 1) // 2) == 28]
    counter = {"F=5, P=1, S=1": output_size(28, 5, padding=1), "F=3, P=1, S=2": output_size(28, 3, stride=2, padding=1)}
    ev.add(
        f"n=28 keeps its size for (F, P) = {kept} at stride 1, but F=5, P=1 gives {counter['F=5, P=1, S=1']} and "
        f"F=3, P=1, S=2 gives {counter['F=3, P=1, S=2']}",
        "reference",
    )
    agree = _frameworks(ctx, ev, 28, 3, 2, 1, 14)
    return ev.decide("conditional" if len(kept) == 4 and agree else "wrong")


def same_keeps_size(ctx: Context) -> Decision:
    """'same' gives ceil(n / s): the input size only at stride 1."""
    ev = Evidence()
    s1 = [output_size(n, 3, padding="same") for n in (70, 120)]
    s2 = [output_size(n, 3, stride=2, padding="same") for n in (70, 120)]
    even = output_size(70, 4, padding="same")
    ev.add(
        f"reference, kernel 3, 'same', on 70x120: stride 1 -> {s1[0]}x{s1[1]}, stride 2 -> {s2[0]}x{s2[1]}; "
        f"kernel 4 at stride 1 keeps 70 -> {even} with pads (1, 2) (the odd cell at the end)",
        "reference",
    )
    ok = s1 == [70, 120] and s2 == [35, 60]
    keras = ctx.keras()
    if keras is not None:
        out = keras_call(keras.layers.Conv2D(32, 3, strides=2, padding="same"), np.zeros((2, 70, 120, 3)))
        ev.add(f"Keras Conv2D(32, 3, strides=2, padding='same') on (2, 70, 120, 3): {shape(out.shape)}", "keras")
        ok &= out.shape == (2, 35, 60, 32)
    else:
        ev.missing("keras")
    torch = ctx.torch()
    if torch is not None:
        try:
            torch.nn.Conv2d(3, 32, 3, stride=2, padding="same")
            ev.add("torch accepts padding='same' with stride 2", "torch")
        except ValueError as exc:
            ev.add(f"torch refuses padding='same' with stride 2 ({exc})", "torch")
    return ev.decide("conditional" if ok else "wrong")


def valid_shrinks(ctx: Context) -> Decision:
    """'valid' shrinks the output by k - 1 at stride 1, i.e. not at all for a 1x1 kernel."""
    ev = Evidence()
    sizes = {k: output_size(70, k) for k in (1, 3, 5)}
    ev.add(
        f"reference, 'valid', stride 1, n=70: kernel 1 -> {sizes[1]}, kernel 3 -> {sizes[3]}, kernel 5 -> {sizes[5]}",
        "reference",
    )
    keras = ctx.keras()
    if keras is not None:
        out = keras_call(keras.layers.Conv2D(1, 1, padding="valid"), np.zeros((1, 70, 70, 1)))
        ev.add(f"Keras Conv2D(1, 1, padding='valid') on 70x70: {out.shape[1]}x{out.shape[2]}", "keras")
    else:
        ev.missing("keras")
    return ev.decide("conditional" if sizes == {1: 70, 3: 68, 5: 66} else "wrong")


def padding_stride_cases(ctx: Context) -> Decision:
    """5x5 input, 3x3 filter: no padding stride 1 -> 3x3, stride 2 -> 2x2, zero padding stride 1 -> 5x5."""
    ev = Evidence()
    got = (output_size(5, 3), output_size(5, 3, stride=2), output_size(5, 3, padding="same"))
    ev.add(
        f"reference on a 5x5 input (the figures' size), 3x3 filter: {got[0]}x{got[0]}, {got[1]}x{got[1]}, "
        f"{got[2]}x{got[2]}",
        "reference",
    )
    ok = got == (3, 2, 5)
    sizes = [_torch_size(ctx, ev, 5, 3, stride, padding) for stride, padding in ((1, 0), (2, 0), (1, 1))]
    if sizes[0] is None:
        ev.missing("torch")
    else:
        ev.add(f"torch conv2d gives {', '.join(f'{n}x{n}' for n in sizes)}")
        ok &= tuple(sizes) == (3, 2, 5)
    return ev.decide("holds" if ok else "wrong")


def stride_inverse(ctx: Context) -> Decision:
    """Size ~ n / s only for inputs much larger than the kernel."""
    ev = Evidence()
    small = [output_size(5, 3, stride=s) for s in (1, 2)]
    large = [output_size(224, 3, stride=s, padding=1) for s in (1, 2, 4)]
    ev.add(
        f"reference: 5x5, kernel 3: stride 1 -> {small[0]}, stride 2 -> {small[1]} (not half of 3); 224, kernel 3, "
        f"padding 1: strides 1, 2, 4 -> {', '.join(map(str, large))}",
        "reference",
    )
    return ev.decide("conditional" if small == [3, 2] and large == [224, 112, 56] else "wrong")
