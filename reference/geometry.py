"""Window geometry: effective kernel, padding resolution and output sizes.

Notation per spatial dimension: input size ``n``, kernel ``k``, stride ``s``, dilation ``d``,
padding ``(lo, hi)``. The *effective kernel* (the span one window covers) is ``d * (k - 1) + 1``.

Padding is resolved once into explicit ``(lo, hi)`` pairs:

* ``int p`` -> ``(p, p)`` in every dimension; a sequence of ints -> symmetric per dimension;
  a sequence of ``(lo, hi)`` pairs -> as given (ints and pairs may be mixed);
* ``"valid"`` -> ``(0, 0)``;
* ``"same"`` (TensorFlow / Keras / JAX ``SAME``, ONNX ``SAME_UPPER``): ``out = ceil(n / s)``,
  ``total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)``, ``lo = total // 2``,
  ``hi = total - lo`` (an odd cell goes to the end);
* ``"same_lower"`` (ONNX ``SAME_LOWER``): ``hi = total // 2``, ``lo = total - hi``.

Output size with explicit padding: ``out = floor((n + lo + hi - d * (k - 1) - 1) / s) + 1``.
With ``ceil_mode`` (pooling): ``ceil`` instead of ``floor``, then the last window is dropped when it
would start inside the right padding: ``if (out - 1) * s >= n + lo: out -= 1`` (PyTorch's rule).
Floor mode keeps such a window, so with right padding of at least a stride ceil mode can give one
window *fewer* than floor mode (PyTorch never meets this: it limits padding to half the kernel).
An output size below 1 is an error.

:func:`window_geometry` resolves one call's geometry; it is a pure function of its arguments, so
calls whose arguments are plain ints, strings and tuples / lists of them are answered from a cache
(:func:`functools.lru_cache`): the suite calls every op several times per example with the same
geometry. Arguments of other types (NumPy integers, floats, booleans) are resolved, or rejected,
afresh each time, so the cache never changes what is accepted or the message of an error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar, cast

from ._checks import is_int, per_dim

PADDING_STRINGS = ("valid", "same", "same_lower")

Pads = tuple[tuple[int, int], ...]
T = TypeVar("T")


def effective_kernel(kernel: int | Sequence[int], dilation: int | Sequence[int] = 1) -> int | tuple[int, ...]:
    """Span covered by one dilated window, ``d * (k - 1) + 1``.

    Returns an int for int arguments, otherwise a tuple with one value per dimension
    (a 3x3 kernel with dilation 2 covers 5x5).
    """
    if is_int(kernel) and is_int(dilation):
        k = per_dim("effective_kernel", "kernel", kernel, 1)[0]
        d = per_dim("effective_kernel", "dilation", dilation, 1)[0]
        return d * (k - 1) + 1
    nd = len(kernel) if not is_int(kernel) else len(dilation)  # type: ignore[arg-type]
    ks = per_dim("effective_kernel", "kernel", kernel, nd)
    ds = per_dim("effective_kernel", "dilation", dilation, nd)
    return tuple(d * (k - 1) + 1 for k, d in zip(ks, ds))


def _same_pads(n: int, k: int, s: int, d: int, *, lower: bool) -> tuple[int, int]:
    out = -(-n // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    small, large = total // 2, total - total // 2
    return (large, small) if lower else (small, large)


def _pair(op: str, value: object, dim: int) -> tuple[int, int]:
    if is_int(value):
        lo = hi = int(value)  # type: ignore[call-overload]
    elif (
        isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2 and all(is_int(v) for v in value)
    ):
        lo, hi = int(value[0]), int(value[1])
    else:
        raise TypeError(
            f"{op}: padding for spatial dimension {dim} must be an int or a (lo, hi) pair of ints, got {value!r}"
        )
    if lo < 0 or hi < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {value!r} in spatial dimension {dim}")
    return lo, hi


def resolve_padding(
    padding: object,
    sizes: int | Sequence[int],
    kernel: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    dilation: int | Sequence[int] = 1,
    *,
    op: str = "resolve_padding",
) -> Pads:
    """Explicit ``((lo, hi), ...)`` padding, one pair per spatial dimension (see module docstring).

    ``sizes`` are the spatial input sizes; ``kernel``, ``stride`` and ``dilation`` are only
    consulted for the ``"same"`` forms.
    """
    size_tuple = per_dim(op, "sizes", sizes, 1 if is_int(sizes) else len(sizes), minimum=1)  # type: ignore[arg-type]
    nd = len(size_tuple)
    if isinstance(padding, str):
        if padding not in PADDING_STRINGS:
            raise ValueError(
                f"{op}: padding must be an int, a sequence, or one of "
                f"{', '.join(repr(p) for p in PADDING_STRINGS)}; got {padding!r}"
            )
        if padding == "valid":
            return ((0, 0),) * nd
        ks = per_dim(op, "kernel", kernel, nd)
        ss = per_dim(op, "stride", stride, nd)
        ds = per_dim(op, "dilation", dilation, nd)
        lower = padding == "same_lower"
        return tuple(_same_pads(n, k, s, d, lower=lower) for n, k, s, d in zip(size_tuple, ks, ss, ds))
    if is_int(padding):
        return (_pair(op, padding, 0),) * nd
    if isinstance(padding, Sequence):
        if len(padding) != nd:
            hint = " (for one spatial dimension write [(lo, hi)])" if nd == 1 and len(padding) == 2 else ""
            raise ValueError(f"{op}: padding must have one entry per spatial dimension ({nd}), got {padding!r}{hint}")
        return tuple(_pair(op, p, i) for i, p in enumerate(padding))
    raise TypeError(f"{op}: padding must be an int, a sequence or a string, got {padding!r}")


def _out_size(n: int, k_eff: int, s: int, lo: int, hi: int, ceil_mode: bool) -> int:
    span = n + lo + hi - k_eff
    if span < 0:
        return 0
    if not ceil_mode:
        return span // s + 1
    out = -(-span // s) + 1
    if (out - 1) * s >= n + lo:
        out -= 1
    return out


def output_size(
    n: int,
    kernel: int,
    *,
    stride: int = 1,
    padding: object = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Output length of one spatial dimension (formulas in the module docstring).

    ``padding`` is an int, a ``(lo, hi)`` pair, ``"valid"``, ``"same"`` or ``"same_lower"``.
    Raises ``ValueError`` when the output would be smaller than 1.
    """
    op = "output_size"
    (size,) = per_dim(op, "n", n, 1)
    (k,) = per_dim(op, "kernel", kernel, 1)
    (s,) = per_dim(op, "stride", stride, 1)
    (d,) = per_dim(op, "dilation", dilation, 1)
    if not isinstance(ceil_mode, bool):
        raise TypeError(f"{op}: ceil_mode must be a bool, got {ceil_mode!r}")
    if isinstance(padding, str):
        ((lo, hi),) = resolve_padding(padding, (size,), k, s, d, op=op)
    else:
        lo, hi = _pair(op, padding, 0)
    out = _out_size(size, d * (k - 1) + 1, s, lo, hi, ceil_mode)
    if out < 1:
        raise ValueError(
            f"{op}: output size would be {out} (n={size}, effective kernel={d * (k - 1) + 1}, "
            f"padding=({lo}, {hi}), stride={s}); it must be at least 1"
        )
    return out


@dataclass(frozen=True)
class WindowGeometry:
    """Fully resolved sliding-window geometry of one op call, per spatial dimension."""

    sizes: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: Pads
    out: tuple[int, ...]
    #: What the ops derive from this geometry once (padding plan, view strides, tap masks), keyed
    #: by what else it depends on; not part of the geometry's identity.
    memo: dict[Any, Any] = field(default_factory=dict, init=False, compare=False, hash=False, repr=False)

    @property
    def nd(self) -> int:
        return len(self.sizes)

    def remember(self, key: object, make: Callable[[], T]) -> T:
        """``make()``, computed once for this geometry and ``key`` (kept in :attr:`memo`)."""
        try:
            return cast(T, self.memo[key])
        except KeyError:
            value = self.memo[key] = make()
            return value

    @cached_property
    def span(self) -> tuple[int, ...]:
        """Extent of the padded input that the windows actually read (``>= 1`` per dimension)."""
        return tuple(
            (o - 1) * s + d * (k - 1) + 1 for o, s, d, k in zip(self.out, self.stride, self.dilation, self.kernel)
        )

    @cached_property
    def overhang(self) -> tuple[int, ...]:
        """Cells past the right padding that ceil-mode windows reach (never counted as taps)."""
        return tuple(max(0, span - (n + lo + hi)) for span, n, (lo, hi) in zip(self.span, self.sizes, self.padding))


def _plain(args: tuple[object, ...]) -> bool:
    """Whether every argument is a plain int or str, or a tuple / list of plain ints or of tuples /
    lists of plain ints: a cache key that compares equal only to itself (``True == 1`` and
    ``3.0 == 3`` never reach the cache)."""
    for value in args:
        kind = type(value)
        if kind is int or kind is str:
            continue
        if kind is not tuple and kind is not list:
            return False
        for item in cast("tuple[object, ...]", value):
            inner = type(item)
            if inner is int:
                continue
            if inner is not tuple and inner is not list:
                return False
            for leaf in cast("tuple[object, ...]", item):
                if type(leaf) is not int:
                    return False
    return True


def _frozen(value: object) -> object:
    """A plain value with its lists as tuples (hashable, and equal for either spelling)."""
    if type(value) is list or type(value) is tuple:
        return tuple(_frozen(v) for v in value)
    return value


def window_geometry(
    op: str,
    sizes: tuple[int, ...],
    kernel: object,
    *,
    stride: object,
    padding: object,
    dilation: object = 1,
    ceil_mode: bool = False,
) -> WindowGeometry:
    """Validate and resolve every geometric argument of a sliding-window op (cached for plain
    arguments, see the module docstring)."""
    args = (op, sizes, kernel, stride, padding, dilation)
    if type(ceil_mode) is bool:
        return through_cache(_cached_geometry, _resolve_geometry, args, ceil_mode)
    return _resolve_geometry(op, tuple(sizes), kernel, stride, padding, dilation, ceil_mode)


def through_cache(
    cached: Callable[..., T],
    resolve: Callable[..., T],
    args: tuple[object, ...],
    *flags: bool,
) -> T:
    """``cached(*args, *flags)`` when every argument is plain (:func:`_plain`; lists frozen to tuples),
    else ``resolve(*args, *flags)`` afresh: a geometry resolver's cache that never changes what is
    accepted or the message of an error."""
    if not _plain(args):
        return resolve(args[0], tuple(args[1]), *args[2:], *flags)  # type: ignore[arg-type]
    try:
        return cached(*args, *flags)
    except TypeError as error:  # a list somewhere: unhashable until frozen
        if "unhashable" not in str(error):
            raise
        return cached(*_frozen(args), *flags)  # type: ignore[misc]


@functools.lru_cache(maxsize=4096)
def _cached_geometry(
    op: str, sizes: tuple[int, ...], kernel: object, stride: object, padding: object, dilation: object, ceil_mode: bool
) -> WindowGeometry:
    return _resolve_geometry(op, sizes, kernel, stride, padding, dilation, ceil_mode)


def _resolve_geometry(
    op: str, sizes: tuple[int, ...], kernel: object, stride: object, padding: object, dilation: object, ceil_mode: bool
) -> WindowGeometry:
    nd = len(sizes)
    ks = per_dim(op, "kernel", kernel, nd)
    ss = per_dim(op, "stride", stride, nd)
    ds = per_dim(op, "dilation", dilation, nd)
    if not isinstance(ceil_mode, bool):
        raise TypeError(f"{op}: ceil_mode must be a bool, got {ceil_mode!r}")
    pads = resolve_padding(padding, sizes, ks, ss, ds, op=op)
    outs = []
    for dim, (n, k, s, d, (lo, hi)) in enumerate(zip(sizes, ks, ss, ds, pads)):
        out = _out_size(n, d * (k - 1) + 1, s, lo, hi, ceil_mode)
        if out < 1:
            raise ValueError(
                f"{op}: output size along spatial dimension {dim} would be {out} (input {n}, kernel "
                f"{k}, dilation {d}, effective kernel {d * (k - 1) + 1}, padding ({lo}, {hi}), stride "
                f"{s}); it must be at least 1"
            )
        outs.append(out)
    return WindowGeometry(sizes, ks, ss, ds, pads, tuple(outs))
