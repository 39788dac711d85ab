"""reference.linearization: the JVP of every op is its derivative (finite differences on the
linear ops, the transpose of the gradient's routing everywhere), tangents are drawn only on request
and leave the other arrays alone, and the JVP bound bounds a float32 computation of it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convequiv.reference import linearization
from convequiv.reference.cases import ConvCase, DepthPoolCase, Example, GlobalPoolCase, Inputs, PoolCase
from convequiv.reference.strategies import (
    EDGE_CASES,
    conv_cases,
    depth_pool_cases,
    examples,
    global_pool_cases,
    op_examples,
    pool_cases,
)

from .test_tolerance import float32_conv

ANY_EXAMPLE = st.one_of(
    examples(conv_cases(), values=("normal", "ties")),
    examples(pool_cases("max"), values=("normal", "ties", "negative", "special")),
    examples(pool_cases("avg"), values=("normal",)),
    examples(depth_pool_cases(), values=("normal", "ties")),
    examples(global_pool_cases(), values=("normal", "ties", "special")),
)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    keep = np.isfinite(a) & np.isfinite(b)
    return float(np.sum(np.where(keep, a, 0.0) * np.where(keep, b, 0.0)))


@given(ex=ANY_EXAMPLE, ties=st.sampled_from(["first", "split"]))
def test_jvp_is_the_transpose_of_the_gradient(ex, ties):
    """<jvp, dy> = <tx, dx> (+ <tw, dw> + <tb, db> for a convolution): the JVP routes tangents the way
    the gradient routes dy back, for every op, tie policy and NaN policy."""
    nan = "propagate"
    inputs = ex.inputs(tangents=True)
    out = ex.case.expected(inputs, ties=ties, nan=nan)
    lhs = _dot(out["jvp"], inputs.dy)
    rhs = _dot(inputs.tx, out["dx"])
    scale = _dot(np.abs(out["jvp"]), np.abs(inputs.dy)) + _dot(np.abs(inputs.tx), np.abs(out["dx"])) + 1.0
    if isinstance(ex.case, ConvCase):
        rhs += _dot(inputs.tw, out["dw"]) + (_dot(inputs.tb, out["db"]) if inputs.tb is not None else 0.0)
        scale += _dot(np.abs(inputs.tw), np.abs(out["dw"]))
    if not (np.isfinite(out["jvp"]).all() and np.isfinite(out["dx"]).all()):
        return  # NaN / inf routed: the identity holds on the finite part only, checked without specials
    assert abs(lhs - rhs) <= 1e-9 * scale, f"{lhs} != {rhs} for {ex!r}"


@given(ex=st.one_of(op_examples("conv"), examples(pool_cases("avg")), examples(global_pool_cases(modes=("avg",)))))
def test_jvp_of_the_linear_ops_is_a_finite_difference(ex):
    """Convolution (bilinear: the difference quotient's h * conv(tx, tw) term is removed by the
    central difference) and average pooling: jvp = (f(p + h t) - f(p - h t)) / 2h."""
    inputs = ex.inputs(tangents=True)
    h = 0.5

    def moved(sign: float) -> np.ndarray:
        shifted = Inputs(
            x=inputs.x + sign * h * inputs.tx,
            dy=inputs.dy,
            w=None if inputs.w is None else inputs.w + sign * h * inputs.tw,
            b=None if inputs.b is None else inputs.b + sign * h * inputs.tb,
        )
        return ex.case.expected(shifted)["y"]

    quotient = (moved(1.0) - moved(-1.0)) / (2 * h)
    np.testing.assert_allclose(ex.case.expected(inputs)["jvp"], quotient, rtol=1e-9, atol=1e-9)


@given(ex=examples(pool_cases("max", paddings=("valid",)), values=("normal",)))
def test_max_jvp_is_a_one_sided_difference_away_from_ties(ex):
    """Normal values have no ties: a small step keeps every window's maximal tap, so the max-pool
    JVP equals the difference quotient."""
    inputs = ex.inputs(tangents=True)
    h = 1e-7
    shifted = Inputs(x=inputs.x + h * inputs.tx, dy=inputs.dy)
    quotient = (ex.case.expected(shifted)["y"] - ex.case.expected(inputs)["y"]) / h
    np.testing.assert_allclose(ex.case.expected(inputs)["jvp"], quotient, rtol=1e-6, atol=1e-6)


def test_max_jvp_follows_the_tie_policy_by_hand():
    """One window [2, 5, 5, 1] with tangents [1, 10, 20, 100]: first -> 10, split -> (10 + 20) / 2;
    NaN in the window: propagate -> its tangent, ignore -> the maximum's."""
    case = PoolCase("max", (1, 1, 4), 4)
    tangents = np.array([[[1.0, 10.0, 20.0, 100.0]]])
    x = np.array([[[2.0, 5.0, 5.0, 1.0]]])
    inputs = Inputs(x=x, dy=np.ones((1, 1, 1)), tx=tangents)
    assert linearization.jvp(case, inputs, ties="first").item() == 10.0
    assert linearization.jvp(case, inputs, ties="split").item() == 15.0
    with_nan = Inputs(x=np.array([[[2.0, np.nan, 5.0, 1.0]]]), dy=np.ones((1, 1, 1)), tx=tangents)
    assert linearization.jvp(case, with_nan, nan="propagate").item() == 10.0
    assert linearization.jvp(case, with_nan, nan="ignore").item() == 20.0


def test_depth_and_global_max_jvp_by_hand():
    x = np.array([[[[1.0]], [[3.0]], [[3.0]], [[0.0]]]])  # (1, 4, 1, 1): channels 1, 3, 3, 0
    t = np.array([[[[1.0]], [[2.0]], [[4.0]], [[8.0]]]])
    depth = DepthPoolCase((1, 4, 1, 1), 2)
    inputs = Inputs(x=x, dy=np.ones((1, 2, 1, 1)), tx=t)
    np.testing.assert_array_equal(linearization.jvp(depth, inputs).ravel(), [2.0, 4.0])
    np.testing.assert_array_equal(linearization.jvp(depth, inputs, ties="split").ravel(), [2.0, 4.0])
    flat = Inputs(x=x.reshape(1, 1, 4), dy=np.ones((1, 1)), tx=t.reshape(1, 1, 4))
    glob = GlobalPoolCase("max", (1, 1, 4))
    assert linearization.jvp(glob, flat).item() == 2.0
    assert linearization.jvp(glob, flat, ties="split").item() == 3.0


def test_tangents_only_on_request_and_without_moving_the_other_arrays():
    for ex in EDGE_CASES.values():
        plain, more = ex.inputs("float32"), ex.inputs("float32", tangents=True)
        assert plain.tx is None and "jvp" not in ex.case.expected(plain)
        for name in ("x", "dy", "w", "b"):
            a, b = getattr(plain, name), getattr(more, name)
            assert (a is None and b is None) or np.array_equal(a, b, equal_nan=True)
        assert more.tx.shape == ex.case.x_shape
        if isinstance(ex.case, ConvCase):
            assert more.tw.shape == ex.case.w_shape
            assert (more.tb is None) == (not ex.case.bias)
        bounds = ex.case.bounds(more, "float32")
        assert bounds["jvp"].shape == ex.case.out_shape == ex.case.expected(more)["jvp"].shape


@given(ex=examples(conv_cases(), values=("normal",)))
def test_conv_jvp_bound_bounds_a_float32_jvp(ex):
    """conv(tx, w) + conv(x, tw) + tb computed in float32 (two float32 convolutions, then float32
    sums) stays within the JVP bound."""
    case = ex.case
    inputs = ex.inputs(np.float32, tangents=True)
    kw = case.kwargs()
    jvp32 = float32_conv(inputs.tx, inputs.w, inputs.tb, **kw) + float32_conv(inputs.x, inputs.tw, None, **kw)
    err = np.abs(jvp32.astype(np.float64) - case.expected(inputs)["jvp"])
    bound = case.bounds(inputs, np.float32)["jvp"]
    assert np.all(err <= bound), f"{err.max():.3e} > {bound[np.argmax(err - bound)]:.3e}"


@pytest.mark.parametrize("ex", [e for e in EDGE_CASES.values() if e.case.op == "conv"], ids=lambda e: e.name)
def test_a_transposed_tangent_is_far_above_the_jvp_bound(ex):
    """A layout bug in the JVP (the weight tangent's kernel flipped) errs far above its bound."""
    inputs = ex.inputs(np.float32, tangents=True)
    wrong = Inputs(
        x=inputs.x, dy=inputs.dy, w=inputs.w, b=inputs.b, tx=inputs.tx, tw=inputs.tw[..., ::-1], tb=inputs.tb
    )
    if np.array_equal(wrong.tw, inputs.tw):
        pytest.skip("kernel symmetric along the last axis")
    err = np.abs(ex.case.expected(wrong)["jvp"] - ex.case.expected(inputs)["jvp"])
    assert (err > ex.case.bounds(inputs, np.float32)["jvp"]).any()


def test_linearize_wraps_only_concrete_methods():
    """Every case class gains the JVP (and its bound) from ``linearize``; the abstract base does not."""
    for cls in (ConvCase, PoolCase, DepthPoolCase, GlobalPoolCase):
        assert cls.expected.__wrapped__ is not None and cls.bounds.__wrapped__ is not None
    ex = Example(PoolCase("avg", (2, 3, 5, 4), 2), 3)
    assert set(ex.case.expected(ex.inputs(tangents=True))) == {"y", "dx", "jvp"}
