"""Each adapter's declared variants of contested semantics are proven, and proven discriminating.

For the max-gradient tie policy and the NaN policy, a fixed example on which the two variants of
the reference really differ must agree with the variant the adapter declares and must *fail*
against the other one, so a wrong declaration cannot pass. A forward-only adapter skips the tie
policy (no gradient shows it); an adapter whose kernels follow neither NaN policy names, per op,
the recorded divergence that describes them (``no_nan_policy = {"max_pool": "<id>"}``) and skips.
"""

from dataclasses import replace

import numpy as np
import pytest

from convequiv.adapters.base import Adapter, Semantics, Unsupported
from convequiv.equivalence import EquivalenceError, check
from convequiv.reference.cases import DepthPoolCase, Example, GlobalPoolCase, PoolCase

OTHER = {"first": "split", "split": "first", "propagate": "ignore", "ignore": "propagate"}

TIE_EXAMPLES = {
    "max_pool": Example(PoolCase("max", (2, 3, 6, 8), 2, stride=2), 7, "ties"),
    "depth_pool": Example(DepthPoolCase((2, 6, 5, 4), 2), 8, "ties"),
    "global_max_pool": Example(GlobalPoolCase("max", (2, 3, 4, 5)), 9, "ties"),
}
NAN_EXAMPLES = {
    "max_pool": Example(PoolCase("max", (2, 3, 6, 8), 2, stride=2), 10, "special"),
    "global_max_pool": Example(GlobalPoolCase("max", (2, 3, 4, 5)), 11, "special"),
}


def _dtype(adapter: Adapter) -> str:
    return "float64" if "float64" in adapter.dtypes else adapter.dtypes[0]


def _prove(adapter: Adapter, api: str, example: Example, field: str, output: str) -> None:
    dtype = _dtype(adapter)
    if output not in adapter.produces:
        pytest.skip(f"{adapter.name} does not produce {output!r}: the policy cannot be observed")
    support = adapter.support(example.case, api, dtype)
    if isinstance(support, Unsupported):
        pytest.skip(f"{adapter.name} ({api}): {support}")
    unsettled = getattr(adapter, "no_nan_policy", {}).get(example.case.op) if field == "nan" else None
    if unsettled:  # the result depends on where the NaN lies; the divergence record says how
        pytest.skip(f"{adapter.name} has no single NaN policy for {example.case.op}: recorded as {unsettled}")
    declared = adapter.semantics(example.case, api)
    other = replace(declared, **{field: OTHER[getattr(declared, field)]})
    inputs = example.inputs(dtype)
    mine = example.case.expected(inputs, ties=declared.ties, nan=declared.nan)[output]
    theirs = example.case.expected(inputs, ties=other.ties, nan=other.nan)[output]
    assert not np.array_equal(mine, theirs, equal_nan=True), "the example does not separate the two policies"
    check(adapter, example, api=api, dtype=dtype, semantics=declared, outputs=(output,))
    with pytest.raises(EquivalenceError):
        check(adapter, example, api=api, dtype=dtype, semantics=other, outputs=(output,))


@pytest.mark.ops("max_pool")
def test_max_pool_tie_policy(adapter: Adapter, api: str) -> None:
    _prove(adapter, api, TIE_EXAMPLES["max_pool"], "ties", "dx")


@pytest.mark.ops("depth_pool")
def test_depth_pool_tie_policy(adapter: Adapter, api: str) -> None:
    _prove(adapter, api, TIE_EXAMPLES["depth_pool"], "ties", "dx")


@pytest.mark.ops("global_max_pool")
def test_global_max_pool_tie_policy(adapter: Adapter, api: str) -> None:
    _prove(adapter, api, TIE_EXAMPLES["global_max_pool"], "ties", "dx")


@pytest.mark.ops("max_pool")
def test_max_pool_nan_policy(adapter: Adapter, api: str) -> None:
    _prove(adapter, api, NAN_EXAMPLES["max_pool"], "nan", "y")


@pytest.mark.ops("global_max_pool")
def test_global_max_pool_nan_policy(adapter: Adapter, api: str) -> None:
    _prove(adapter, api, NAN_EXAMPLES["global_max_pool"], "nan", "y")


def test_semantics_are_valid_policy_names(adapter: Adapter, api: str) -> None:
    """Declarations use the reference's keywords, for every op family."""
    for example in (*TIE_EXAMPLES.values(), *NAN_EXAMPLES.values()):
        declared = adapter.semantics(example.case, api)
        assert isinstance(declared, Semantics)
        assert declared.ties in ("first", "split") and declared.nan in ("propagate", "ignore")
