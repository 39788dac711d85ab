"""Convolution (1-D, 2-D, 3-D; stride, every padding form, dilation, groups, depthwise, bias):
forward output and input / weight / bias gradients of every adapter against the reference."""

import pytest
from hypothesis import given

from convequiv.adapters.base import Adapter
from convequiv.pytest_plugin import Equivalence
from convequiv.reference.cases import Example
from convequiv.reference.strategies import edge_cases, op_examples


@pytest.mark.ops("conv")
@given(ex=op_examples("conv"))
def test_conv(adapter: Adapter, api: str, dtype: str, ex: Example, equivalence: Equivalence) -> None:
    equivalence.check(adapter, ex, api=api, dtype=dtype)


@pytest.mark.ops("conv")
@pytest.mark.parametrize("ex", edge_cases("conv"), ids=lambda e: e.name)
def test_conv_edge_case(adapter: Adapter, api: str, dtype: str, ex: Example, equivalence: Equivalence) -> None:
    equivalence.check(adapter, ex, api=api, dtype=dtype)
