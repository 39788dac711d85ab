"""Depth (channel) pooling and global pooling of every adapter against the reference."""

import pytest
from hypothesis import given

from convequiv.adapters.base import Adapter
from convequiv.pytest_plugin import Equivalence
from convequiv.reference.cases import Example
from convequiv.reference.strategies import edge_cases, op_examples


@pytest.mark.ops("depth_pool")
@given(ex=op_examples("depth_pool"))
def test_depth_pool(adapter: Adapter, api: str, dtype: str, ex: Example, equivalence: Equivalence) -> None:
    equivalence.check(adapter, ex, api=api, dtype=dtype)


@pytest.mark.ops("depth_pool")
@pytest.mark.parametrize("ex", edge_cases("depth_pool"), ids=lambda e: e.name)
def test_depth_pool_edge_case(adapter: Adapter, api: str, dtype: str, ex: Example, equivalence: Equivalence) -> None:
    equivalence.check(adapter, ex, api=api, dtype=dtype)


@pytest.mark.ops("global_max_pool", "global_avg_pool")
@given(ex=op_examples("global_max_pool") | op_examples("global_avg_pool"))
def test_global_pool(adapter: Adapter, api: str, dtype: str, ex: Example, equivalence: Equivalence) -> None:
    equivalence.check(adapter, ex, api=api, dtype=dtype)


@pytest.mark.ops("global_max_pool", "global_avg_pool")
@pytest.mark.parametrize("ex", edge_cases("global_max_pool") + edge_cases("global_avg_pool"), ids=lambda e: e.name)
def test_global_pool_edge_case(adapter: Adapter, api: str, dtype: str, ex: Example, equivalence: Equivalence) -> None:
    equivalence.check(adapter, ex, api=api, dtype=dtype)
