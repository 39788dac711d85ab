"""ONNX graphs of canonical cases, shared by the ``onnxruntime`` and ``onnx/reference`` adapters.

A case becomes the model an exporter would write for it: one node (``Conv``, ``ConvTranspose``,
``MaxPool``, ``AveragePool``, ``GlobalMaxPool``, ``GlobalAveragePool``), or a short node sequence
where ONNX has no single operator (depth pooling, global pooling without ``keepdims``), built with
:mod:`onnx.helper` in the case's dtype at one opset. The plan (:class:`OnnxPlan`) holds the nodes
with their attributes, so the plan *is* the model: :func:`model` builds it, :func:`source` writes
the same model as standalone ``onnx.helper`` code for a finding's reproduction.

Translation (canonical -> ONNX), through :mod:`convequiv.adapters.translate`:

* layouts are ONNX's own (channels-first, weights ``(O, C / groups, *kernel)``, and ``(C, O /
  groups, *kernel)`` for ``ConvTranspose``, the canonical transposed layout): no transposes;
* ``strides`` is always written (ONNX's default is 1, not the kernel), ``dilations`` for
  convolution and max pooling, and for average pooling from opset 19 (AveragePool-19);
* padding: api ``"pads"`` writes the resolved ``(lo, hi)`` pairs as ``pads`` (every begin, then
  every end; route ``pads``); api ``"auto_pad"`` writes the string forms as ``auto_pad``
  (``"valid"`` -> ``VALID``, ``"same"`` -> ``SAME_UPPER``, ``"same_lower"`` -> ``SAME_LOWER``; route
  ``auto_pad``) and every other form as ``pads`` (route ``pads``). Exporters write both, and
  runtimes resolve ``auto_pad`` on a code path of its own;
* ``ceil_mode`` and ``count_include_pad`` are attributes (0 / 1);
* transposed convolution (``ConvTranspose``; ``kernel_shape``, ``strides``, ``dilations``,
  ``group`` and ``output_padding`` always written, ``output_shape`` never): api ``"pads"`` writes the
  resolved crop ``(lo, hi)`` as ``pads`` and as ``output_padding`` the cells past the uncropped end,
  ``out - ((n - 1) * s + d * (k - 1) + 1 - lo - hi)``: the case's ``output_padding`` for explicit
  padding and ``"valid"``; for ``"same"`` / ``"same_lower"`` the ``s - d * (k - 1) - 1`` cells past
  the last tap where the effective kernel is shorter than the stride, else 0 (route ``pads``). ONNX
  Runtime and the reference evaluator take only ``output_padding < stride`` (ONNX says "less than
  the stride/dilation"); where the case's reaches the stride (which a dilation allows), as much of
  it as the end padding holds moves into ``pads`` (``hi - c`` and ``output_padding - c`` with ``c =
  min(hi, output_padding)``: the same cells; route ``pads + fold``). Api ``"auto_pad"`` writes
  ``VALID`` (with the case's ``output_padding``), ``SAME_UPPER`` or ``SAME_LOWER`` (route
  ``auto_pad``), every other form as ``pads``. ONNX defines SAME by ``out = n * s`` and
  ``total_padding = s * (n - 1) + d * (k - 1) + 1 - n * s``, split like ``Conv``'s: the reference's
  ``"same"`` / ``"same_lower"`` while the effective kernel is at least the stride. Below it the total
  is negative, which ``pads`` (``>= 0``) cannot hold: ONNX shape inference and ONNX Runtime clamp it
  at 0 (a shorter output), the reference evaluator splits it (empty cells before the first tap);
  the reference keeps all ``s - d * (k - 1) - 1`` empty cells at the end. A real semantic
  difference of the route, recorded (``*-convtranspose-same-short-kernel*``), not routed around;
* depth pooling (route ``reshape + pool``): ``Reshape`` to ``(N, 1, C, prod(spatial))``, a 2-D
  ``MaxPool`` / ``AveragePool`` with kernel ``(k, 1)`` and strides ``(s, 1)``, ``Reshape`` back to
  ``(N, C', *spatial)``: the channel axis pooled as a spatial one, as converters of channel pooling
  emit it;
* global pooling: ``GlobalMaxPool`` / ``GlobalAveragePool`` (route ``global``), followed by
  ``Flatten(axis=1)`` without ``keepdims`` (route ``global + flatten``, what ``torch.flatten(y, 1)``
  exports to).

Opsets are adapter variants (``onnxruntime/opset18``): :func:`parse_variant` reads them, and
:data:`VARIANT_OPSETS` names the ones checked; the plain adapter uses the newest opset both the
installed ``onnx`` and the runtime know. The output shape ONNX's shape inference declares for the
model (:func:`inferred_shape`) is one more output, ``shape``, checked against the reference's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from convequiv.reference.cases import Case, ConvCase, ConvTransposeCase, DepthPoolCase, GlobalPoolCase, PoolCase

from . import translate as tr
from .base import Plan, Unsupported

#: The opsets checked as variants (besides the newest, the plain adapter's): 11 is the oldest opset
#: still commonly exported (the pooling ``pads`` / ``auto_pad`` / ``ceil_mode`` semantics of
#: MaxPool-11 / AveragePool-11 / Conv-11), 18 the last without average-pool dilation, 19 the first
#: with it (AveragePool-19).
VARIANT_OPSETS = (11, 18, 19)
#: The first opset whose AveragePool takes ``dilations``.
AVG_DILATION_OPSET = 19
#: The oldest opset a variant may name: MaxPool-11 / AveragePool-11 / Conv-11 define the ``pads`` and
#: ``auto_pad`` semantics checked here (``ceil_mode`` and max-pool ``dilations`` came in opset 10).
OLDEST_OPSET = 11

ELEMENT_TYPES = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE}
Attributes = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Node:
    """One ONNX node: ``op_type`` from ``inputs`` to ``outputs`` with ``attributes``."""

    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attributes: Attributes = ()

    def describe(self, opset: int) -> str:
        version = onnx.defs.get_schema(self.op_type, opset).since_version
        attrs = ", ".join(f"{k}={v!r}" for k, v in self.attributes)
        return f"{self.op_type}-{version}({attrs})"


@dataclass(frozen=True)
class OnnxPlan(Plan):
    """The model of a case: ``nodes`` over the graph inputs (``x``, and ``w`` / ``b`` for a
    convolution) and int64 ``constants`` (reshape targets), at ``opset``, in ``dtype``."""

    opset: int = 0
    nodes: tuple[Node, ...] = ()
    constants: tuple[tuple[str, tuple[int, ...]], ...] = ()

    def describe(self) -> str:
        nodes = " -> ".join(n.describe(self.opset) for n in self.nodes)
        return f"opset {self.opset} {self.dtype}: {nodes} [{self.route}]"


def parse_variant(adapter: str, variant: str | None, newest: int) -> int:
    """The opset a variant names (``"opset18"`` -> 18); ``None`` is the newest opset."""
    if variant is None:
        return newest
    if not variant.startswith("opset") or not variant[len("opset") :].isdigit():
        raise ValueError(f"{adapter}: unknown variant {variant!r}; use opsetN, e.g. {adapter}/opset{newest}")
    opset = int(variant[len("opset") :])
    if not OLDEST_OPSET <= opset <= newest:
        raise ValueError(f"{adapter}: opset {opset} is outside {OLDEST_OPSET}..{newest} (onnx {onnx.__version__})")
    return opset


# ------------------------------------------------------------------------------------------ plans
def _attributes(**values: Any) -> Attributes:
    return tuple((k, v) for k, v in values.items() if v is not None)


def _padding(case: ConvCase | PoolCase, api: str) -> tuple[str, dict[str, Any]]:
    """``(route, attributes)`` of the case's padding through ``api`` (module docstring)."""
    auto = tr.onnx_auto_pad(case.padding) if api == "auto_pad" else None
    if auto is not None:
        return "auto_pad", {"auto_pad": auto}
    return "pads", {"pads": tr.onnx_pads(case.pads)}


def conv_plan(case: ConvCase, api: str, dtype: str, opset: int) -> OnnxPlan:
    route, padding = _padding(case, api)
    inputs = ("x", "w", "b") if case.bias else ("x", "w")
    attrs = _attributes(
        kernel_shape=list(case.kernel),
        strides=list(case.stride),
        dilations=list(case.dilation),
        group=case.groups,
        **padding,
    )
    node = Node("Conv", inputs, ("y",), attrs)
    return OnnxPlan(case, api, dtype, route, "Conv", opset=opset, nodes=(node,))


def conv_transpose_plan(case: ConvTransposeCase, api: str, dtype: str, opset: int) -> OnnxPlan:
    """``ConvTranspose`` with ``pads`` and the ``output_padding`` that gives the case's output
    length (folded into the end padding where it reaches the stride), or ``auto_pad`` for the string
    paddings through api ``"auto_pad"`` (module docstring)."""
    auto = tr.onnx_auto_pad(case.padding) if api == "auto_pad" else None
    padding: dict[str, Any]
    if auto is not None:
        route, padding, extra = "auto_pad", {"auto_pad": auto}, list(case.output_padding)
    else:
        pads, extra = [], []
        for out, full, (lo, hi), s in zip(case.out_shape[2:], case.full_sizes, case.pads, case.stride):
            tail = out - (full - lo - hi)  # cells past the uncropped end: output_padding
            cut = min(hi, tail) if tail >= s else 0
            pads.append((lo, hi - cut))
            extra.append(tail - cut)
        route = "pads" if tuple(pads) == case.pads else "pads + fold"
        padding = {"pads": tr.onnx_pads(tuple(pads))}
    inputs = ("x", "w", "b") if case.bias else ("x", "w")
    attrs = _attributes(
        kernel_shape=list(case.kernel),
        strides=list(case.stride),
        dilations=list(case.dilation),
        group=case.groups,
        output_padding=extra,
        **padding,
    )
    node = Node("ConvTranspose", inputs, ("y",), attrs)
    return OnnxPlan(case, api, dtype, route, "ConvTranspose", opset=opset, nodes=(node,))


def output_padding(plan: OnnxPlan) -> tuple[int, ...]:
    """The ``output_padding`` attribute of the plan's (first) node; ``()`` where it has none."""
    values: list[int] = dict(plan.nodes[0].attributes).get("output_padding", [])
    return tuple(values)


def pool_plan(case: PoolCase, api: str, dtype: str, opset: int) -> OnnxPlan | Unsupported:
    """MaxPool / AveragePool; average-pool dilation needs AveragePool-19 (refused before)."""
    route, padding = _padding(case, api)
    op_type = "MaxPool" if case.kind == "max" else "AveragePool"
    dilated = any(d > 1 for d in case.dilation)
    extra: dict[str, Any] = {}
    if case.kind == "max" or opset >= AVG_DILATION_OPSET or dilated:
        extra["dilations"] = list(case.dilation)
    if case.kind == "avg":
        extra["count_include_pad"] = int(case.count_include_pad)
    attrs = _attributes(
        kernel_shape=list(case.kernel),
        strides=list(case.resolved_stride),
        ceil_mode=int(case.ceil_mode),
        **padding,
        **extra,
    )
    plan = OnnxPlan(case, api, dtype, route, op_type, opset=opset, nodes=(Node(op_type, ("x",), ("y",), attrs),))
    if case.kind == "avg" and dilated and opset < AVG_DILATION_OPSET:
        version = onnx.defs.get_schema("AveragePool", opset).since_version
        return Unsupported(
            f"AveragePool-{version} (opset {opset}) has no dilations; AveragePool-19 added them",
            attempt=plan,
            message="[Uu]nrecognized attribute: dilations",
        )
    return plan


def depth_pool_plan(case: DepthPoolCase, api: str, dtype: str, opset: int) -> OnnxPlan:
    n, c, *spatial = case.x_shape
    op_type = "MaxPool" if case.mode == "max" else "AveragePool"
    attrs = _attributes(kernel_shape=[case.pool_size, 1], strides=[case.resolved_stride, 1])
    nodes = (
        Node("Reshape", ("x", "channels_as_rows"), ("rows",)),
        Node(op_type, ("rows",), ("pooled",), attrs),
        Node("Reshape", ("pooled", "out_shape"), ("y",)),
    )
    constants = (("channels_as_rows", (n, 1, c, math.prod(spatial))), ("out_shape", case.out_shape))
    return OnnxPlan(case, api, dtype, "reshape + pool", op_type, opset=opset, nodes=nodes, constants=constants)


def global_pool_plan(case: GlobalPoolCase, api: str, dtype: str, opset: int) -> OnnxPlan:
    op_type = "GlobalMaxPool" if case.mode == "max" else "GlobalAveragePool"
    if case.keepdims:
        return OnnxPlan(case, api, dtype, "global", op_type, opset=opset, nodes=(Node(op_type, ("x",), ("y",)),))
    nodes = (Node(op_type, ("x",), ("pooled",)), Node("Flatten", ("pooled",), ("y",), (("axis", 1),)))
    return OnnxPlan(case, api, dtype, "global + flatten", op_type, opset=opset, nodes=nodes)


def plan_for(case: Case, api: str, dtype: str, opset: int) -> OnnxPlan | Unsupported:
    """The model of ``case`` through ``api`` in ``dtype`` at ``opset`` (module docstring)."""
    if isinstance(case, ConvCase):
        return conv_plan(case, api, dtype, opset)
    if isinstance(case, ConvTransposeCase):
        return conv_transpose_plan(case, api, dtype, opset)
    if isinstance(case, PoolCase):
        return pool_plan(case, api, dtype, opset)
    if isinstance(case, DepthPoolCase):
        return depth_pool_plan(case, api, dtype, opset)
    if isinstance(case, GlobalPoolCase):
        return global_pool_plan(case, api, dtype, opset)
    return Unsupported(f"unknown case type {type(case).__name__}", "lacks", "onnx.unknown")


# ------------------------------------------------------------------------------------------ models
def _input_shapes(case: Case) -> dict[str, tuple[int, ...]]:
    shapes = {"x": case.x_shape}
    if isinstance(case, ConvCase):
        shapes["w"] = case.w_shape
        if case.bias:
            shapes["b"] = (case.w_shape[0],)
    if isinstance(case, ConvTransposeCase):
        shapes["w"] = case.w_shape
        if case.bias:
            shapes["b"] = (case.out_channels,)
    return shapes


def model(plan: OnnxPlan) -> onnx.ModelProto:
    """The ONNX model of ``plan``: graph inputs with static shapes, int64 constants as
    initializers, the output ``y`` of the plan's dtype and rank with its sizes left to shape
    inference; the lowest IR version the opset needs (older runtimes load it too)."""
    elem = ELEMENT_TYPES[plan.dtype]
    inputs = [
        helper.make_tensor_value_info(name, elem, list(shape)) for name, shape in _input_shapes(plan.case).items()
    ]
    initializers = [
        helper.make_tensor(name, TensorProto.INT64, [len(values)], list(values)) for name, values in plan.constants
    ]
    nodes = [helper.make_node(n.op_type, list(n.inputs), list(n.outputs), **dict(n.attributes)) for n in plan.nodes]
    output = helper.make_tensor_value_info("y", elem, [None] * len(plan.case.out_shape))
    graph = helper.make_graph(nodes, "case", inputs, [output], initializer=initializers)
    opsets = [helper.make_opsetid("", plan.opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="convequiv")
    proto.ir_version = helper.find_min_ir_version_for(opsets)
    return proto


def input_names(case: Case) -> list[str]:
    """The graph inputs of a case's model: ``x``, and ``w`` (and ``b``) for a convolution."""
    return list(_input_shapes(case))


def feeds(plan: Plan, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The graph inputs of ``plan``'s model from the suite's arrays (``dy`` is no graph input)."""
    return {name: np.ascontiguousarray(inputs[name]) for name in _input_shapes(plan.case)}


def inferred_shape(proto: onnx.ModelProto, output: str = "y") -> np.ndarray:
    """The shape ONNX's shape inference (strict mode) gives ``output``; ``-1`` for a dimension it
    leaves unknown, and an empty array for an output of unknown rank. A shape the model declares
    for ``output`` (an exporter writes the traced one) is cleared first, so the answer is the
    inference's own, and compared with the reference's like every output."""
    proto = _without_output_sizes(proto, output)
    inferred = onnx.shape_inference.infer_shapes(proto, strict_mode=True)
    for value in inferred.graph.output:
        if value.name == output:
            tensor = value.type.tensor_type
            if not tensor.HasField("shape"):
                return np.zeros(0, dtype=np.int64)
            return np.array([d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim], dtype=np.int64)
    raise KeyError(f"the model has no output {output!r}")


def _without_output_sizes(proto: onnx.ModelProto, output: str) -> onnx.ModelProto:
    """A copy of ``proto`` whose ``output`` keeps its rank but no sizes."""
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    for value in copy.graph.output:
        if value.name == output and value.type.tensor_type.HasField("shape"):
            for dim in value.type.tensor_type.shape.dim:
                dim.Clear()
    return copy


@cache
def newest_opset() -> int:
    """The newest opset of the default ONNX domain the installed ``onnx`` knows."""
    return int(onnx.defs.onnx_opset_version())


# --------------------------------------------------------------------------------- reproductions
def source(plan: OnnxPlan) -> list[str]:
    """Lines of standalone ``onnx.helper`` code that build ``plan``'s model as ``model``."""
    elem = "TensorProto.FLOAT" if plan.dtype == "float32" else "TensorProto.DOUBLE"
    lines = ["graph_inputs = ["]  # not ``inputs``: the reproductions' function takes that name
    for name, shape in _input_shapes(plan.case).items():
        lines.append(f"    helper.make_tensor_value_info({name!r}, {elem}, {list(shape)}),")
    lines.append("]")
    lines.append("constants = [")
    for name, values in plan.constants:
        lines.append(f"    helper.make_tensor({name!r}, TensorProto.INT64, [{len(values)}], {list(values)}),")
    lines.append("]")
    lines.append("nodes = [")
    for n in plan.nodes:
        attrs = "".join(f", {k}={v!r}" for k, v in n.attributes)
        lines.append(f"    helper.make_node({n.op_type!r}, {list(n.inputs)}, {list(n.outputs)}{attrs}),")
    lines.append("]")
    lines += [
        f"output = helper.make_tensor_value_info('y', {elem}, {[None] * len(plan.case.out_shape)})",
        "graph = helper.make_graph(nodes, 'case', graph_inputs, [output], initializer=constants)",
        f"opsets = [helper.make_opsetid('', {plan.opset})]",
        "model = helper.make_model(graph, opset_imports=opsets)",
        "model.ir_version = helper.find_min_ir_version_for(opsets)",
    ]
    return lines


def source_header() -> list[str]:
    return ["import onnx", "from onnx import TensorProto, helper", ""]


__all__ = [
    "AVG_DILATION_OPSET",
    "OLDEST_OPSET",
    "VARIANT_OPSETS",
    "Node",
    "OnnxPlan",
    "feeds",
    "inferred_shape",
    "input_names",
    "model",
    "newest_opset",
    "output_padding",
    "parse_variant",
    "plan_for",
    "source",
    "source_header",
]
