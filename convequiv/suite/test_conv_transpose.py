"""Transposed convolution (1-D, 2-D, 3-D; stride, every padding form, output_padding, dilation,
groups, bias): forward output and input / weight / bias gradients of every adapter that runs it
against the reference (:func:`convequiv.reference.conv_transpose`)."""

import pytest
from hypothesis import given

from convequiv.adapters.base import Adapter
from convequiv.pytest_plugin import Equivalence
from convequiv.reference.cases import Example
from convequiv.reference.strategies import edge_cases, op_examples


@pytest.mark.ops("conv_transpose")
@given(ex=op_examples("conv_transpose"))
def test_conv_transpose(adapter: Adapter, api: str, dtype: str, ex: Example, equivalence: Equivalence) -> None:
    equivalence.check(adapter, ex, api=api, dtype=dtype)


@pytest.mark.ops("conv_transpose")
@pytest.mark.parametrize("ex", edge_cases("conv_transpose"), ids=lambda e: e.name)
def test_conv_transpose_edge_case(
    adapter: Adapter, api: str, dtype: str, ex: Example, equivalence: Equivalence
) -> None:
    equivalence.check(adapter, ex, api=api, dtype=dtype)
