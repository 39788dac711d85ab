"""Dilated average pooling (ONNX AveragePool-19, ``lax.reduce_window``): forward and input gradient
of the adapters that declare where their framework has it, against the reference.

Most pooling APIs have no average-pool dilation. An adapter opts in with the class attribute
``avg_pool_dilation = True`` once its ``support()`` answers dilated average pooling: with a plan
where the framework dilates, or a proven ``Unsupported`` where it cannot (``lacks`` / ``refuses``).
Until then its items are skipped with that reason, never run against a framework that would
silently ignore the dilation.
"""

import pytest
from hypothesis import given

from convequiv.adapters.base import Adapter
from convequiv.pytest_plugin import Equivalence
from convequiv.reference.cases import Example, PoolCase
from convequiv.reference.strategies import OP_VALUES, examples, pool_cases

DILATED = examples(pool_cases("avg", avg_dilation=True), values=OP_VALUES["avg_pool"])
EDGE_CASES = [
    Example(PoolCase("avg", (2, 3, 9, 8), 3, stride=2, padding=1, dilation=2), 51, name="avg_pool_dilation"),
    Example(
        PoolCase("avg", (2, 3, 7, 9), (2, 3), stride=1, padding="same", dilation=(3, 2), count_include_pad=False),
        52,
        name="avg_pool_dilation_same_exclude_pad",
    ),
    Example(
        PoolCase("avg", (2, 2, 10), 3, stride=2, padding=2, dilation=2, ceil_mode=True),
        53,
        name="avg_pool_dilation_ceil_mode",
    ),
    Example(
        # the pads (1, 2) are SAME's for the undilated window (4), not for the dilated one (7)
        PoolCase("avg", (1, 2, 4), 4, stride=1, padding=((1, 2),), dilation=2, count_include_pad=False),
        54,
        name="avg_pool_dilation_exclude_pad_undilated_same_pads",
    ),
    Example(
        # SAME's pads with the default stride (the window, 2): refused for the stride before the padding
        PoolCase("avg", (1, 2, 3), 2, padding=1, dilation=2, count_include_pad=False),
        55,
        name="avg_pool_dilation_exclude_pad_strided",
    ),
]


def _declared(adapter: Adapter) -> None:
    if not getattr(adapter, "avg_pool_dilation", False):
        pytest.skip(f"{adapter.name} does not yet declare where its framework has average-pool dilation")


@pytest.mark.ops("avg_pool")
@given(ex=DILATED)
def test_avg_pool_dilation(adapter: Adapter, api: str, dtype: str, ex: Example, equivalence: Equivalence) -> None:
    _declared(adapter)
    equivalence.check(adapter, ex, api=api, dtype=dtype)


@pytest.mark.ops("avg_pool")
@pytest.mark.parametrize("ex", EDGE_CASES, ids=lambda e: e.name)
def test_avg_pool_dilation_edge_case(
    adapter: Adapter, api: str, dtype: str, ex: Example, equivalence: Equivalence
) -> None:
    _declared(adapter)
    equivalence.check(adapter, ex, api=api, dtype=dtype)
