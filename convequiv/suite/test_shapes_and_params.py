"""Output shapes each framework computes without running, and parameter counts of its layers.

``adapter.output_shape`` is the framework's own shape function (Keras ``compute_output_shape``,
PyTorch's ``meta`` device...); it must equal the reference's shape, which itself is
``reference.output_size`` (``reference.transposed_output_size`` for a transposed convolution) per
spatial dimension, unless a recorded divergence of the case says otherwise (outputs ``shape``, or a
``crash`` matching the error the shape function raises). Layers built for a convolution must count
``O * C / groups * prod(kernel) (+ O)`` trainable parameters, for a transposed convolution
``C * O / groups * prod(kernel) (+ O)`` (``reference.conv_transpose_params``); pooling layers none.
"""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convequiv.adapters.base import Adapter, Plan
from convequiv.equivalence import applicable_records
from convequiv.reference import conv_params, conv_transpose_params, output_size, transposed_output_size
from convequiv.reference.cases import Case, ConvCase, ConvTransposeCase, Example, PoolCase
from convequiv.reference.strategies import (
    conv_cases,
    conv_transpose_cases,
    depth_pool_cases,
    examples,
    global_pool_cases,
    pool_cases,
)

ANY_CASE = st.one_of(
    conv_cases(), conv_transpose_cases(), pool_cases("max"), pool_cases("avg"), depth_pool_cases(), global_pool_cases()
)
LAYER_CASES = st.one_of(conv_cases(), conv_transpose_cases(), pool_cases("max"), pool_cases("avg"), global_pool_cases())


def _reference_shape(case: Case) -> tuple[int, ...]:
    if isinstance(case, ConvCase):
        spatial = tuple(
            output_size(n, k, stride=s, padding=p, dilation=d)
            for n, k, s, p, d in zip(case.x_shape[2:], case.w_shape[2:], case.stride, case.pads, case.dilation)
        )
        return (case.x_shape[0], case.w_shape[0], *spatial)
    if isinstance(case, ConvTransposeCase):
        named = case.padding if isinstance(case.padding, str) else None  # "same": n * s, whatever the crop
        spatial = tuple(
            transposed_output_size(n, k, stride=s, padding=named or p, output_padding=e, dilation=d)
            for n, k, s, p, e, d in zip(
                case.x_shape[2:], case.kernel, case.stride, case.pads, case.output_padding, case.dilation
            )
        )
        return (case.x_shape[0], case.out_channels, *spatial)
    if isinstance(case, PoolCase):
        spatial = tuple(
            output_size(n, k, stride=s, padding=p, dilation=d, ceil_mode=case.ceil_mode)
            for n, k, s, p, d in zip(case.x_shape[2:], case.kernel, case.resolved_stride, case.pads, case.dilation)
        )
        return (*case.x_shape[:2], *spatial)
    return case.out_shape


def _recorded_crash(records: list[Any], exc: Exception) -> bool:
    """Whether a recorded crash among ``records`` explains ``exc``."""
    return any("crash" in d.outputs and d.explains_crash(type(exc).__name__, str(exc)) for d in records)


@pytest.mark.ops("conv", "conv_transpose", "max_pool", "avg_pool", "depth_pool", "global_max_pool", "global_avg_pool")
@given(case=ANY_CASE)
def test_output_shape(adapter: Adapter, api: str, case: Case) -> None:
    assert case.out_shape == _reference_shape(case)
    plan = adapter.support(case, api, adapter.dtypes[0])
    if api not in adapter.checked_apis(case.op) or not isinstance(plan, Plan):
        return
    records = applicable_records(adapter, plan, Example(case))
    try:
        shape = adapter.output_shape(case, api)
    except Exception as exc:  # a recorded crash of the framework's shape function explains it
        if _recorded_crash(records, exc):
            return
        raise
    if shape is not None and tuple(shape) != case.out_shape:
        explained = [d.id for d in records if "shape" in d.outputs]
        assert explained, f"{adapter.name} ({api}) computes {shape} for {case!r}"


@pytest.mark.ops("conv", "conv_transpose", "max_pool", "avg_pool", "global_max_pool", "global_avg_pool")
@given(ex=examples(LAYER_CASES))
def test_layer_params(adapter: Adapter, api: str, ex: Example) -> None:
    case = ex.case
    plan = adapter.support(case, api, adapter.dtypes[0])
    if api not in adapter.checked_apis(case.op) or not isinstance(plan, Plan):
        return
    try:
        counted = adapter.layer_params(case, api)
    except Exception as exc:  # building the layer fails as a recorded crash says (Keras 3.0: output_padding 0)
        if _recorded_crash(applicable_records(adapter, plan, ex), exc):
            return
        raise
    if counted is None:
        return
    if isinstance(case, ConvCase):
        expected = conv_params(case.x_shape[1], case.w_shape[0], case.w_shape[2:], groups=case.groups, bias=case.bias)
    elif isinstance(case, ConvTransposeCase):
        expected = conv_transpose_params(
            case.x_shape[1], case.out_channels, case.kernel, groups=case.groups, bias=case.bias, ndim=case.nd
        )
    else:
        expected = 0
    assert tuple(counted) == (expected, 0), f"{adapter.name} ({api}) counts {counted} for {case!r}"
