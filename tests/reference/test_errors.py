"""Bad input to every public function of reference raises TypeError / ValueError whose message
names the argument and the offending value, never a NumPy error from deep inside and never a
silently wrong shape. One table: (bad-input class) x (every function it applies to)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from convequiv import reference

X = np.zeros((2, 6, 5, 7))  # N=2, C=6, H=5, W=7
W = np.zeros((4, 3, 3, 2))  # O=4, C/groups=3 (groups=2), 3x2 kernel
B = np.zeros(4)
WT = np.zeros((6, 2, 3, 2))  # transposed: C=6, O / groups = 2 (groups=2, so O=4), 3x2 kernel

# Valid calls; each bad-input case overrides some of these keyword arguments.
VALID: dict[str, dict] = {
    "conv": {"x": X, "w": W, "b": B, "groups": 2},
    "conv_backward": {"x": X, "w": W, "dy": np.zeros((2, 4, 3, 6)), "groups": 2},
    "max_pool": {"x": X, "kernel": 2},
    "max_pool_backward": {"x": X, "dy": np.zeros((2, 6, 2, 3)), "kernel": 2},
    "avg_pool": {"x": X, "kernel": 2},
    "avg_pool_backward": {"x": X, "dy": np.zeros((2, 6, 2, 3)), "kernel": 2},
    "depth_pool": {"x": X, "pool_size": 3},
    "depth_pool_backward": {"x": X, "dy": np.zeros((2, 2, 5, 7)), "pool_size": 3},
    "global_avg_pool": {"x": X},
    "global_avg_pool_backward": {"x": X, "dy": np.zeros((2, 6))},
    "global_max_pool": {"x": X},
    "global_max_pool_backward": {"x": X, "dy": np.zeros((2, 6))},
    "output_size": {"n": 28, "kernel": 3},
    "resolve_padding": {"padding": "same", "sizes": (5, 7), "kernel": 3, "stride": 2},
    "effective_kernel": {"kernel": 3, "dilation": 2},
    "conv_params": {"in_channels": 6, "out_channels": 4, "kernel": 3},
    "dense_params": {"in_features": 6, "out_features": 4},
    "depthwise_conv_params": {"in_channels": 6, "kernel": 3},
    "separable_conv_params": {"in_channels": 6, "out_channels": 4, "kernel": 3},
    "batch_norm_params": {"channels": 6},
    "conv_transpose": {"x": X, "w": WT, "b": B, "groups": 2},
    "conv_transpose_backward": {"x": X, "w": WT, "dy": np.zeros((2, 4, 7, 8)), "groups": 2},
    "transposed_output_size": {"n": 28, "kernel": 3},
    "conv_transpose_params": {"in_channels": 6, "out_channels": 4, "kernel": 3},
}

ARRAY_OPS = [name for name in VALID if "pool" in name or (name.startswith("conv") and "params" not in name)]
BACKWARD = [name for name in ARRAY_OPS if name.endswith("_backward")]
WINDOWED = ["conv", "conv_backward", "max_pool", "max_pool_backward", "avg_pool", "avg_pool_backward"]
POOLS = ["max_pool", "max_pool_backward", "avg_pool", "avg_pool_backward"]
DILATED = ["conv", "conv_backward", "max_pool", "max_pool_backward", "avg_pool", "avg_pool_backward"]
PADDED = [*WINDOWED, "output_size", "resolve_padding"]
CONVS = ["conv", "conv_backward"]
DEPTH = ["depth_pool", "depth_pool_backward"]
MAXES = ["max_pool", "max_pool_backward", "global_max_pool", "global_max_pool_backward"]
TIE_OPS = ["max_pool_backward", "depth_pool_backward", "global_max_pool_backward"]
GLOBAL = ["global_avg_pool", "global_avg_pool_backward", "global_max_pool", "global_max_pool_backward"]
TRANSPOSED = ["conv_transpose", "conv_transpose_backward"]
TRANSPOSED_SIZE = [*TRANSPOSED, "transposed_output_size"]

# (bad-input class, functions, overrides, exception, argument named, value named)
BAD = [
    ("rank-2 x", ARRAY_OPS, {"x": np.zeros((2, 6))}, ValueError, "x", "(2, 6)"),
    ("rank-1 x", ARRAY_OPS, {"x": np.zeros(6)}, ValueError, "x", "(6,)"),
    ("empty x", ARRAY_OPS, {"x": np.zeros((2, 6, 0, 7))}, ValueError, "x", "(2, 6, 0, 7)"),
    ("complex x", ARRAY_OPS, {"x": X.astype(complex)}, TypeError, "x", "complex128"),
    ("bool x", ARRAY_OPS, {"x": X.astype(bool)}, TypeError, "x", "bool"),
    ("string x", ARRAY_OPS, {"x": np.full(X.shape, "a")}, TypeError, "x", "<U1"),
    ("object x", ARRAY_OPS, {"x": X.astype(object)}, TypeError, "x", "object"),
    ("complex dy", BACKWARD, {"dy": np.zeros((2, 6), complex)}, TypeError, "dy", "complex128"),
    ("bool dy", BACKWARD, {"dy": np.zeros((2, 6), bool)}, TypeError, "dy", "bool"),
    ("dy of the wrong shape", BACKWARD, {"dy": np.zeros((2, 6, 2, 7))}, ValueError, "dy", "(2, 6, 2, 7)"),
    ("complex w", CONVS, {"w": W.astype(np.complex64)}, TypeError, "w", "complex64"),
    ("bool w", CONVS, {"w": W.astype(bool)}, TypeError, "w", "bool"),
    ("w rank below x", CONVS, {"w": np.zeros((4, 3, 3))}, ValueError, "w", "(4, 3, 3)"),
    ("w without kernel axes", CONVS, {"w": np.zeros((4, 3))}, ValueError, "w", "(4, 3)"),
    ("channel mismatch", CONVS, {"w": np.zeros((4, 2, 3, 2))}, ValueError, "w", "(4, 2, 3, 2)"),
    ("groups not dividing C", CONVS, {"groups": 4}, ValueError, "groups", "4"),
    ("groups not dividing O", CONVS, {"groups": 3, "w": np.zeros((4, 2, 3, 2))}, ValueError, "groups", "3"),
    ("groups 0", CONVS, {"groups": 0}, ValueError, "groups", "0"),
    ("float groups", CONVS, {"groups": 2.0}, TypeError, "groups", "2.0"),
    ("empty kernel", CONVS, {"w": np.zeros((4, 3, 0, 2))}, ValueError, "w", "(4, 3, 0, 2)"),
    ("bias of the wrong length", ["conv"], {"b": np.zeros(3)}, ValueError, "b", "(3,)"),
    ("2-D bias", ["conv"], {"b": np.zeros((4, 1))}, ValueError, "b", "(4, 1)"),
    ("bool bias", ["conv"], {"b": np.zeros(4, bool)}, TypeError, "b", "bool"),
    ("stride 0", [*WINDOWED, "output_size", "resolve_padding"], {"stride": 0}, ValueError, "stride", "0"),
    ("negative stride", WINDOWED, {"stride": (1, -2)}, ValueError, "stride", "(1, -2)"),
    ("stride per dim of wrong length", WINDOWED, {"stride": (1, 1, 1)}, TypeError, "stride", "(1, 1, 1)"),
    ("float stride", [*WINDOWED, "output_size"], {"stride": 1.5}, TypeError, "stride", "1.5"),
    (
        "dilation 0",
        [*DILATED, "output_size", "effective_kernel", "resolve_padding"],
        {"dilation": 0},
        ValueError,
        "dilation",
        "0",
    ),
    (
        "kernel 0",
        [
            *POOLS,
            "output_size",
            "effective_kernel",
            "resolve_padding",
            "conv_params",
            "depthwise_conv_params",
            "separable_conv_params",
        ],
        {"kernel": 0},
        ValueError,
        "kernel",
        "0",
    ),
    ("kernel per dim of wrong length", POOLS, {"kernel": (2, 2, 2)}, TypeError, "kernel", "(2, 2, 2)"),
    ("negative padding", PADDED, {"padding": -1}, ValueError, "padding", "-1"),
    (
        "negative padding pair",
        [*WINDOWED, "resolve_padding"],
        {"padding": ((0, -2), 1)},
        ValueError,
        "padding",
        "(0, -2)",
    ),
    ("negative output_size pair", ["output_size"], {"padding": (0, -2)}, ValueError, "padding", "(0, -2)"),
    ("unknown padding string", PADDED, {"padding": "full"}, ValueError, "padding", "'full'"),
    ("upper-case padding string", PADDED, {"padding": "SAME"}, ValueError, "padding", "'SAME'"),
    ("float padding", PADDED, {"padding": 1.5}, TypeError, "padding", "1.5"),
    (
        "padding of the wrong length",
        [*WINDOWED, "resolve_padding"],
        {"padding": (1, 1, 1)},
        ValueError,
        "padding",
        "(1, 1, 1)",
    ),
    ("unknown ties", TIE_OPS, {"ties": "last"}, ValueError, "ties", "'last'"),
    ("unknown nan", MAXES, {"nan": "skip"}, ValueError, "nan", "'skip'"),
    ("unknown mode", DEPTH, {"mode": "min"}, ValueError, "mode", "'min'"),
    ("unknown convention", ["batch_norm_params"], {"convention": "tf"}, ValueError, "convention", "'tf'"),
    ("int ceil_mode", [*POOLS, "output_size"], {"ceil_mode": 1}, TypeError, "ceil_mode", "1"),
    (
        "string count_include_pad",
        ["avg_pool", "avg_pool_backward"],
        {"count_include_pad": "yes"},
        TypeError,
        "count_include_pad",
        "'yes'",
    ),
    ("int keepdims", GLOBAL, {"keepdims": 1}, TypeError, "keepdims", "1"),
    ("pool_size not dividing C", DEPTH, {"pool_size": 4}, ValueError, "pool_size", "4"),
    ("pool_size and stride not tiling C", DEPTH, {"pool_size": 3, "stride": 2}, ValueError, "pool_size", "3"),
    ("stride not tiling C", DEPTH, {"pool_size": 3, "stride": 2}, ValueError, "stride", "2"),
    ("pool_size above C", DEPTH, {"pool_size": 7}, ValueError, "pool_size", "7"),
    ("pool_size 0", DEPTH, {"pool_size": 0}, ValueError, "pool_size", "0"),
    ("depth stride 0", DEPTH, {"stride": 0}, ValueError, "stride", "0"),
    ("n 0", ["output_size"], {"n": 0}, ValueError, "n", "0"),
    ("float n", ["output_size"], {"n": 2.5}, TypeError, "n", "2.5"),
    ("sizes 0", ["resolve_padding"], {"sizes": (5, 0)}, ValueError, "sizes", "(5, 0)"),
    (
        "dilation of the wrong length",
        ["effective_kernel"],
        {"kernel": (3, 3), "dilation": (2, 2, 2)},
        TypeError,
        "dilation",
        "(2, 2, 2)",
    ),
    (
        "in_channels 0",
        ["conv_params", "depthwise_conv_params", "separable_conv_params"],
        {"in_channels": 0},
        ValueError,
        "in_channels",
        "0",
    ),
    (
        "out_channels -1",
        ["conv_params", "separable_conv_params"],
        {"out_channels": -1},
        ValueError,
        "out_channels",
        "-1",
    ),
    ("bool in_channels", ["conv_params"], {"in_channels": True}, ValueError, "in_channels", "True"),
    ("params groups not dividing", ["conv_params"], {"groups": 4}, ValueError, "groups", "4"),
    ("ndim 0", ["conv_params", "depthwise_conv_params", "separable_conv_params"], {"ndim": 0}, ValueError, "ndim", "0"),
    ("in_features 0", ["dense_params"], {"in_features": 0}, ValueError, "in_features", "0"),
    ("out_features -3", ["dense_params"], {"out_features": -3}, ValueError, "out_features", "-3"),
    (
        "depth_multiplier 0",
        ["depthwise_conv_params", "separable_conv_params"],
        {"depth_multiplier": 0},
        ValueError,
        "depth_multiplier",
        "0",
    ),
    ("channels 0", ["batch_norm_params"], {"channels": 0}, ValueError, "channels", "0"),
    # Transposed convolution: w is (C, O // groups, *kernel), output_padding < max(stride, dilation).
    ("transposed channel mismatch", TRANSPOSED, {"w": np.zeros((4, 2, 3, 2))}, ValueError, "w", "(4, 2, 3, 2)"),
    ("transposed w rank below x", TRANSPOSED, {"w": np.zeros((6, 2, 3))}, ValueError, "w", "(6, 2, 3)"),
    ("transposed empty kernel", TRANSPOSED, {"w": np.zeros((6, 2, 0, 2))}, ValueError, "w", "(6, 2, 0, 2)"),
    ("transposed complex w", TRANSPOSED, {"w": WT.astype(np.complex64)}, TypeError, "w", "complex64"),
    ("transposed bool w", TRANSPOSED, {"w": WT.astype(bool)}, TypeError, "w", "bool"),
    ("transposed groups not dividing C", TRANSPOSED, {"groups": 4}, ValueError, "groups", "4"),
    ("transposed groups 0", TRANSPOSED, {"groups": 0}, ValueError, "groups", "0"),
    ("transposed float groups", TRANSPOSED, {"groups": 2.0}, TypeError, "groups", "2.0"),
    ("transposed bias of the wrong length", ["conv_transpose"], {"b": np.zeros(3)}, ValueError, "b", "(3,)"),
    ("transposed stride 0", TRANSPOSED_SIZE, {"stride": 0}, ValueError, "stride", "0"),
    ("transposed negative stride", TRANSPOSED, {"stride": (1, -2)}, ValueError, "stride", "(1, -2)"),
    ("transposed float stride", TRANSPOSED_SIZE, {"stride": 1.5}, TypeError, "stride", "1.5"),
    ("transposed dilation 0", TRANSPOSED_SIZE, {"dilation": 0}, ValueError, "dilation", "0"),
    (
        "transposed kernel 0",
        ["transposed_output_size", "conv_transpose_params"],
        {"kernel": 0},
        ValueError,
        "kernel",
        "0",
    ),
    ("transposed negative padding", TRANSPOSED_SIZE, {"padding": -1}, ValueError, "padding", "-1"),
    ("transposed negative padding pair", TRANSPOSED, {"padding": ((0, -2), 1)}, ValueError, "padding", "(0, -2)"),
    (
        "transposed negative size pair",
        ["transposed_output_size"],
        {"padding": (0, -2)},
        ValueError,
        "padding",
        "(0, -2)",
    ),
    ("transposed unknown padding string", TRANSPOSED_SIZE, {"padding": "full"}, ValueError, "padding", "'full'"),
    ("transposed upper-case padding string", TRANSPOSED_SIZE, {"padding": "SAME"}, ValueError, "padding", "'SAME'"),
    ("transposed float padding", TRANSPOSED_SIZE, {"padding": 1.5}, TypeError, "padding", "1.5"),
    ("transposed padding of the wrong length", TRANSPOSED, {"padding": (1, 1, 1)}, ValueError, "padding", "(1, 1, 1)"),
    ("output_padding at the stride", TRANSPOSED_SIZE, {"output_padding": 1}, ValueError, "output_padding", "1"),
    (
        "output_padding at max(stride, dilation)",
        TRANSPOSED_SIZE,
        {"stride": 2, "dilation": 3, "output_padding": 3},
        ValueError,
        "output_padding",
        "3",
    ),
    (
        "output_padding above the stride in one dimension",
        TRANSPOSED,
        {"stride": (2, 3), "output_padding": (1, 3)},
        ValueError,
        "output_padding",
        "(1, 3)",
    ),
    ("negative output_padding", TRANSPOSED_SIZE, {"output_padding": -1}, ValueError, "output_padding", "-1"),
    ("float output_padding", TRANSPOSED_SIZE, {"output_padding": 0.5}, TypeError, "output_padding", "0.5"),
    (
        "output_padding per dim of wrong length",
        TRANSPOSED,
        {"output_padding": (0, 0, 0)},
        TypeError,
        "output_padding",
        "(0, 0, 0)",
    ),
    (
        "output_padding with same",
        TRANSPOSED_SIZE,
        {"padding": "same", "stride": 2, "output_padding": 1},
        ValueError,
        "output_padding",
        "1",
    ),
    (
        "output_padding with same_lower",
        TRANSPOSED_SIZE,
        {"padding": "same_lower", "stride": 2, "output_padding": 1},
        ValueError,
        "output_padding",
        "1",
    ),
    ("transposed n 0", ["transposed_output_size"], {"n": 0}, ValueError, "n", "0"),
    ("transposed float n", ["transposed_output_size"], {"n": 2.5}, TypeError, "n", "2.5"),
    ("transposed in_channels 0", ["conv_transpose_params"], {"in_channels": 0}, ValueError, "in_channels", "0"),
    ("transposed out_channels -1", ["conv_transpose_params"], {"out_channels": -1}, ValueError, "out_channels", "-1"),
    ("transposed params groups not dividing", ["conv_transpose_params"], {"groups": 4}, ValueError, "groups", "4"),
    ("transposed ndim 0", ["conv_transpose_params"], {"ndim": 0}, ValueError, "ndim", "0"),
]

# Output sizes below 1: the message names the geometry that causes it.
TOO_SMALL = [
    ("conv", {"w": np.zeros((4, 3, 6, 2))}, ["output size", "kernel 6", "input 5"]),
    ("conv_backward", {"w": np.zeros((4, 3, 6, 2))}, ["output size", "kernel 6", "input 5"]),
    ("conv", {"w": np.zeros((4, 3, 3, 2)), "dilation": 3}, ["output size", "effective kernel 7", "input 5"]),
    ("max_pool", {"kernel": 6}, ["output size", "kernel 6", "input 5"]),
    ("max_pool_backward", {"kernel": (6, 2)}, ["output size", "kernel 6", "input 5"]),
    ("avg_pool", {"kernel": (2, 8)}, ["output size", "kernel 8", "input 7"]),
    ("avg_pool_backward", {"kernel": 6, "ceil_mode": True}, ["output size", "kernel 6", "input 5"]),
    ("output_size", {"n": 2}, ["output size", "n=2", "effective kernel=3"]),
    ("output_size", {"n": 2, "kernel": 2, "dilation": 2, "padding": (0, 0)}, ["output size", "n=2", "kernel=3"]),
    (
        "avg_pool",
        {"x": np.zeros((1, 1, 3)), "kernel": 2, "stride": 1, "padding": [(2, 0)], "count_include_pad": False},
        ["padding", "((2, 0),)", "no input cell"],
    ),
    ("conv_transpose", {"padding": 4}, ["output size", "input 5", "padding (4, 4)", "output_padding 0"]),
    ("conv_transpose_backward", {"padding": ((0, 7), 0)}, ["output size", "input 5", "kernel 3", "padding (0, 7)"]),
    ("transposed_output_size", {"n": 1, "padding": 2}, ["output size", "n=1", "padding=(2, 2)"]),
]


def _call(name: str, overrides: dict):
    return getattr(reference, name)(**{**VALID[name], **overrides})


def _names(message: str, argument: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(argument)}(?![\w])", message) is not None


@pytest.mark.parametrize("name", list(VALID))
def test_valid_calls_pass(name):
    """The baseline calls the bad-input table mutates are valid, so each error below is caused by
    the one bad argument."""
    _call(name, {})


@pytest.mark.parametrize(
    ("name", "overrides", "error", "argument", "value"),
    [
        pytest.param(name, overrides, error, argument, value, id=f"{name}: {label}")
        for label, names, overrides, error, argument, value in BAD
        for name in names
    ],
)
def test_bad_input_is_named(name, overrides, error, argument, value):
    """The call raises exactly this exception type, and the message names the function, the
    argument and the offending value."""
    with pytest.raises((TypeError, ValueError)) as info:
        _call(name, overrides)
    message = str(info.value)
    assert type(info.value) is error, f"{name}: {type(info.value).__name__} instead of {error.__name__}: {message}"
    assert message.startswith(f"{name}: "), f"message does not name the function {name}: {message}"
    assert _names(message, argument), f"message does not name the argument {argument!r}: {message}"
    assert value in message, f"message does not show the value {value}: {message}"
    if argument == "w" and error is ValueError:
        layouts = (
            "C // groups",
            "O // groups",
            "empty",
        )  # conv: (O, C // groups, ...); transposed: (C, O // groups, ...)
        assert any(layout in message for layout in layouts), f"w's layout not described: {message}"


@pytest.mark.parametrize(("name", "overrides", "fragments"), TOO_SMALL, ids=lambda v: v if isinstance(v, str) else "")
def test_output_below_one_is_an_error(name, overrides, fragments):
    """An output size below 1 (or a window without any cell to average) is a ValueError naming
    the input size, kernel and padding that cause it, never an empty array."""
    with pytest.raises(ValueError) as info:
        _call(name, overrides)
    for fragment in fragments:
        assert fragment in str(info.value), f"{fragment!r} missing from: {info.value}"


def test_every_public_function_is_covered():
    """The bad-input table reaches every public function of reference, and every array op meets
    the wrong-rank, dtype and (for backward passes) wrong-dy classes."""
    public = {n for n in reference.__all__ if callable(getattr(reference, n)) and n != "ParamCount"}
    assert set(VALID) == public
    covered: dict[str, set[str]] = {}
    for label, names, *_ in BAD:
        for name in names:
            covered.setdefault(name, set()).add(label)
    assert set(covered) == public
    for name in ARRAY_OPS:
        assert {"rank-2 x", "complex x", "bool x", "string x"} <= covered[name], name
    for name in BACKWARD:
        assert {"dy of the wrong shape", "complex dy"} <= covered[name], name
    for name in [*WINDOWED, "output_size", "resolve_padding"]:
        assert {"negative padding", "unknown padding string"} <= covered[name], name
