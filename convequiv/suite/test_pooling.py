"""Max and average pooling (padding forms, default stride, ceil_mode, count_include_pad, dilation
for max): forward and input gradient of every adapter against the reference, with tie-heavy,
all-negative and NaN / inf inputs."""

import pytest
from hypothesis import given

from convequiv.adapters.base import Adapter
from convequiv.pytest_plugin import Equivalence
from convequiv.reference.cases import Example
from convequiv.reference.strategies import edge_cases, op_examples


@pytest.mark.ops("max_pool")
@given(ex=op_examples("max_pool"))
def test_max_pool(adapter: Adapter, api: str, dtype: str, ex: Example, equivalence: Equivalence) -> None:
    equivalence.check(adapter, ex, api=api, dtype=dtype)


@pytest.mark.ops("max_pool")
@pytest.mark.parametrize("ex", edge_cases("max_pool"), ids=lambda e: e.name)
def test_max_pool_edge_case(adapter: Adapter, api: str, dtype: str, ex: Example, equivalence: Equivalence) -> None:
    equivalence.check(adapter, ex, api=api, dtype=dtype)


@pytest.mark.ops("avg_pool")
@given(ex=op_examples("avg_pool"))
def test_avg_pool(adapter: Adapter, api: str, dtype: str, ex: Example, equivalence: Equivalence) -> None:
    equivalence.check(adapter, ex, api=api, dtype=dtype)


@pytest.mark.ops("avg_pool")
@pytest.mark.parametrize("ex", edge_cases("avg_pool"), ids=lambda e: e.name)
def test_avg_pool_edge_case(adapter: Adapter, api: str, dtype: str, ex: Example, equivalence: Equivalence) -> None:
    equivalence.check(adapter, ex, api=api, dtype=dtype)
