"""Output shapes each framework computes without running, and parameter counts of its layers.

``adapter.output_shape`` is the framework's own shape function (Keras ``compute_output_shape``,
PyTorch's ``meta`` device...); it must equal the reference's shape, which itself is
``reference.output_size`` per spatial dimension. Layers built for a convolution must count
``O * C / groups * prod(kernel) (+ O)`` trainable parameters; pooling layers none.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convequiv.adapters.base import Adapter
from convequiv.reference import conv_params, output_size
from convequiv.reference.cases import Case, ConvCase, Example, PoolCase
from convequiv.reference.strategies import conv_cases, depth_pool_cases, examples, global_pool_cases, pool_cases

ANY_CASE = st.one_of(conv_cases(), pool_cases("max"), pool_cases("avg"), depth_pool_cases(), global_pool_cases())


def _reference_shape(case: Case) -> tuple[int, ...]:
    if isinstance(case, ConvCase):
        spatial = tuple(
            output_size(n, k, stride=s, padding=p, dilation=d)
            for n, k, s, p, d in zip(case.x_shape[2:], case.w_shape[2:], case.stride, case.pads, case.dilation)
        )
        return (case.x_shape[0], case.w_shape[0], *spatial)
    if isinstance(case, PoolCase):
        spatial = tuple(
            output_size(n, k, stride=s, padding=p, dilation=d, ceil_mode=case.ceil_mode)
            for n, k, s, p, d in zip(case.x_shape[2:], case.kernel, case.resolved_stride, case.pads, case.dilation)
        )
        return (*case.x_shape[:2], *spatial)
    return case.out_shape


@pytest.mark.ops("conv", "max_pool", "avg_pool", "depth_pool", "global_max_pool", "global_avg_pool")
@given(case=ANY_CASE)
def test_output_shape(adapter: Adapter, api: str, case: Case) -> None:
    assert case.out_shape == _reference_shape(case)
    if api not in adapter.apis_for(case.op) or not adapter.support(case, api, adapter.dtypes[0]):
        return
    shape = adapter.output_shape(case, api)
    if shape is not None:
        assert tuple(shape) == case.out_shape, f"{adapter.name} ({api}) computes {shape} for {case!r}"


@pytest.mark.ops("conv", "max_pool", "avg_pool", "global_max_pool", "global_avg_pool")
@given(ex=examples(st.one_of(conv_cases(), pool_cases("max"), pool_cases("avg"), global_pool_cases())))
def test_layer_params(adapter: Adapter, api: str, ex: Example) -> None:
    case = ex.case
    if api not in adapter.apis_for(case.op) or not adapter.support(case, api, adapter.dtypes[0]):
        return
    counted = adapter.layer_params(case, api)
    if counted is None:
        return
    if isinstance(case, ConvCase):
        expected = conv_params(case.x_shape[1], case.w_shape[0], case.w_shape[2:], groups=case.groups, bias=case.bias)
    else:
        expected = 0
    assert tuple(counted) == (expected, 0), f"{adapter.name} ({api}) counts {counted} for {case!r}"
