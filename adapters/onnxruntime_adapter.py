"""ONNX Runtime: one-node ONNX models of each case on the CPU execution provider (forward only).

Selected as ``onnxruntime`` (the newest opset both the installed ``onnx`` and ONNX Runtime know)
or ``onnxruntime/opsetN`` (variants: :data:`convequiv.adapters.onnx_graph.VARIANT_OPSETS`, any
opset from 11 up); each variant is an adapter of its own name, so results and divergence records
can tell opsets apart (a record for ``onnxruntime`` covers every variant).

Translation: the model of :mod:`convequiv.adapters.onnx_graph` (``Conv``, ``ConvTranspose``,
``MaxPool``, ``AveragePool``, ``GlobalMaxPool``, ``GlobalAveragePool``; ``Reshape -> pool -> Reshape``
for depth pooling; ``Flatten`` after global pooling without ``keepdims``), in the dtype under test. APIs:
``"pads"`` (explicit ``pads`` for every padding) and ``"auto_pad"`` (``VALID`` / ``SAME_UPPER`` /
``SAME_LOWER`` for the string paddings, explicit ``pads`` for the rest): ONNX Runtime resolves
``auto_pad`` on a path of its own. Routes: ``pads``, ``auto_pad``, ``reshape + pool``, ``global``,
``global + flatten``, and ``pads + fold`` for a transposed convolution whose ``output_padding`` reaching the
stride moves into the end padding. Sessions use one intra-op thread and the default graph optimisations.

Outputs: ``y`` (from :meth:`onnxruntime.InferenceSession.run`) and ``shape``, the output shape
ONNX shape inference declares for the model (``onnx.shape_inference.infer_shapes``, strict). ONNX
Runtime has no gradients: ``dx``, ``dw``, ``db`` are reported as not checked.

Refusals (evidence ``refuses``: session creation or the run raises inside ``onnxruntime``, with the
message named):

* float64 where the CPU provider has no double kernel: ``Conv``, ``ConvTranspose``, ``AveragePool``,
  ``GlobalAveragePool``, ``GlobalMaxPool`` (NOT_IMPLEMENTED "Could not find an implementation");
  ``MaxPool`` has one. :meth:`OnnxRuntimeAdapter.support` decides by creating the session (once per
  model) and only takes NOT_IMPLEMENTED for a refusal; any other error is left to the run, where it
  fails;
* average-pool dilation before opset 19 (INVALID_GRAPH "Unrecognized attribute: dilations");
* ``Conv`` with ``auto_pad`` SAME_UPPER / SAME_LOWER and dilations > 1 ("Dilation not supported for
  AutoPadType", microsoft/onnxruntime#20582);
* ``ConvTranspose`` with ``output_padding`` of the stride or more, which ONNX allows below the dilation
  ("less than the stride/dilation", onnx/onnx#3187) and which ``pads + fold`` could not move into the end
  padding ("output_padding (2) may be too large for stride (1)", at run time); claimed only where the
  installed release refuses the model (decided by running it on zeros once: 1.32.0 refuses, 1.17.3 and
  1.22.0 run it and return wrong values in 2-D / 3-D: ``ort-convtranspose-wide-output-padding``);
* pooling with a pad of ``kernel_shape`` or more on a side ("Pad should be smaller than kernel",
  checked against the undilated kernel; microsoft/onnxruntime#801, #23088), although ONNX defines it.

Semantics (found by running; ``docs/findings/`` and the ``ort-*`` records of
``convequiv/divergences.toml``): ConvTranspose with ``auto_pad`` SAME where the effective kernel is
shorter than the stride clamps ONNX's negative total padding at 0 and returns ``s - d * (k - 1) - 1``
cells fewer than ``n * s``, as ONNX shape inference declares (``ort-convtranspose-same-short-kernel``,
``docs/findings/onnx-convtranspose-same-short-kernel.md``); every other ConvTranspose agrees. MaxPool
and GlobalMaxPool have no single NaN policy. The float32 kernels without dilation (MLAS) propagate a NaN
only when it is a later tap of a window in 2-D / 3-D, and skip it in 1-D; the scalar kernels (float64,
any dilation > 1) take the window's first input tap and then only strictly greater ones, so a window is
NaN exactly when its first input tap is (``no_nan_policy`` names the record for the suite's NaN-policy
proof). Windows with no tap above ``-inf`` (only padding, or all ``-inf`` / NaN in the float32 kernels)
return the lowest finite value, not ``-inf``. With ``auto_pad`` SAME and dilations, pooling pads for the
undilated kernel (wrong shape and values), and MaxPool SAME fails at run time where the kernel is
shorter than the stride leaves uncovered. Declared: ``nan="ignore"`` (what the float32 1-D kernel does),
ties unobservable.
"""

from __future__ import annotations

import re
from functools import cache
from typing import ClassVar

import numpy as np
import onnx
import onnxruntime as ort

from convequiv.reference.cases import Case, ConvCase, ConvTransposeCase, PoolCase

from . import onnx_graph as og
from .base import CLASSIC_OPS, Adapter, Arrays, Plan, Semantics, Unsupported

#: What ONNX Runtime says when the CPU provider has no kernel for a node's type.
NO_KERNEL = "NOT_IMPLEMENTED"
#: What ONNX Runtime (1.32.0; 1.17.3 and 1.22.0 run such models) says at run time about a ConvTranspose
#: output_padding of the stride or more.
WIDE_OUTPUT_PADDING = r"output_padding \(\d+\) may be too large for stride"


def session(proto: onnx.ModelProto) -> ort.InferenceSession:
    """A CPU session of ``proto`` with one intra-op thread and only errors logged."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])


@cache
def refusal(serialized: bytes) -> str | None:
    """The node ONNX Runtime has no kernel for (``"Conv(22)"``: type and opset version) when it
    refuses a model with NOT_IMPLEMENTED, or ``None`` when the model loads."""
    proto = onnx.ModelProto()
    proto.ParseFromString(serialized)
    try:
        session(proto)
    except Exception as exc:  # onnxruntime raises its own exception types from compiled code
        text = str(exc)
        if NO_KERNEL not in text:
            return None
        found = re.search(r"implementation for (\w+\(\d+\))", text)
        return found.group(1) if found else text[:120]
    return None


@cache
def run_error(serialized: bytes, pattern: str) -> bool:
    """Whether running the model on zeros fails inside ONNX Runtime with a message matching
    ``pattern`` (a refusal that some releases make at run time and others do not)."""
    proto = onnx.ModelProto()
    proto.ParseFromString(serialized)
    feeds = {
        value.name: np.zeros(
            [d.dim_value for d in value.type.tensor_type.shape.dim],
            onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type),
        )
        for value in proto.graph.input
    }
    try:
        session(proto).run(None, feeds)
    except Exception as exc:  # onnxruntime raises its own exception types from compiled code
        return re.search(pattern, str(exc)) is not None
    return False


@cache
def newest_runtime_opset() -> int:
    """The newest opset that both the installed ``onnx`` and ONNX Runtime load (ONNX Runtime
    refuses models stamped with an opset newer than it knows)."""
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "probe", [x], [y])
    for opset in range(og.newest_opset(), og.OLDEST_OPSET - 1, -1):
        opsets = [onnx.helper.make_opsetid("", opset)]
        proto = onnx.helper.make_model(graph, opset_imports=opsets)
        proto.ir_version = onnx.helper.find_min_ir_version_for(opsets)
        try:
            session(proto)
        except Exception:  # an opset this runtime does not know yet
            continue
        return opset
    raise RuntimeError(f"onnxruntime {ort.__version__} loads no opset from {og.OLDEST_OPSET} up")


class OnnxRuntimeAdapter(Adapter):
    """ONNX models of the cases on ONNX Runtime's CPU provider (module docstring)."""

    name: ClassVar[str] = "onnxruntime"
    distributions = ("onnxruntime", "onnx")
    frameworks = ("onnxruntime", "onnx")
    apis = ("pads", "auto_pad")
    dtypes = ("float32", "float64")
    produces = frozenset({"y", "shape"})
    ops = CLASSIC_OPS | {"conv_transpose"}
    #: Dilated average pooling is answered (convequiv/suite/test_avg_pool_dilation.py).
    avg_pool_dilation = True
    #: Ops whose NaN handling follows neither policy, with the divergence record that describes it.
    no_nan_policy: ClassVar[dict[str, str]] = {"max_pool": "ort-maxpool-nan", "global_max_pool": "ort-maxpool-nan"}

    def __init__(self, variant: str | None = None) -> None:
        base = type(self).name
        self.opset = og.parse_variant(base, variant, self.newest_opset())
        if variant is not None:
            self.name = f"{base}/{variant}"  # type: ignore[misc]  # each variant is a column of its own

    def newest_opset(self) -> int:
        return newest_runtime_opset()

    def versions(self) -> dict[str, str]:
        return {**super().versions(), "opset": str(self.opset)}

    def apis_for(self, op: str) -> tuple[str, ...]:
        # Depth and global pooling have no padding: one model, one API.
        return self.apis if op in ("conv", "conv_transpose", "max_pool", "avg_pool") else ("pads",)

    def warm_up(self) -> None:
        session(og.model(self._plan(PoolCase("max", (1, 1, 4, 4), 2), "pads", "float32")))

    def _plan(self, case: Case, api: str, dtype: str) -> og.OnnxPlan:
        plan = og.plan_for(case, api, dtype, self.opset)
        assert isinstance(plan, og.OnnxPlan)
        return plan

    # ------------------------------------------------------------------ plans
    def support(self, case: Case, api: str, dtype: str) -> og.OnnxPlan | Unsupported:
        plan = og.plan_for(case, api, dtype, self.opset)
        if isinstance(plan, Unsupported):
            return plan
        node = refusal(og.model(plan).SerializeToString())
        if node is not None:
            return Unsupported(
                f"ONNX Runtime's CPU provider has no {dtype} kernel for {node} (opset {self.opset})",
                attempt=plan,
                message=NO_KERNEL,
            )
        same = plan.route == "auto_pad" and isinstance(case, ConvCase) and case.padding != "valid"
        if isinstance(case, ConvCase) and same and any(d > 1 for d in case.dilation):
            return Unsupported(
                "ONNX Runtime's Conv refuses auto_pad SAME_UPPER / SAME_LOWER with dilations > 1",
                attempt=plan,
                message="Dilation not supported for AutoPadType",
            )
        wide = isinstance(case, ConvTransposeCase) and any(p >= s for p, s in zip(og.output_padding(plan), case.stride))
        if wide and run_error(og.model(plan).SerializeToString(), WIDE_OUTPUT_PADDING):
            return Unsupported(
                "ONNX Runtime's ConvTranspose takes output_padding below the stride only (ONNX: 'less than the "
                "stride/dilation'); cells that far past the last tap cannot move into the end padding",
                attempt=plan,
                message=WIDE_OUTPUT_PADDING,
            )
        too_wide = any(
            lo >= k or hi >= k for (lo, hi), k in zip(getattr(case, "pads", ()), getattr(case, "kernel", ()))
        )
        if isinstance(case, PoolCase) and plan.route == "pads" and too_wide:
            return Unsupported(
                "ONNX Runtime's pooling refuses pads of kernel_shape or more (compared with the undilated "
                "kernel, so dilated windows whose padding is still inside the span are refused too)",
                attempt=plan,
                message="Pad should be smaller than kernel",
            )
        return plan

    def semantics(self, case: Case, api: str) -> Semantics:
        # Forward only: no tie policy is observable. NaN: skipped where a window's first input tap
        # is a number (module docstring); the rest is recorded (ort-maxpool-nan).
        return Semantics(ties="first", nan="ignore")

    # -------------------------------------------------------------------- run
    def run(self, plan: Plan, inputs: Arrays) -> Arrays:
        assert isinstance(plan, og.OnnxPlan)
        proto = og.model(plan)
        (y,) = session(proto).run(["y"], og.feeds(plan, inputs))
        return {"y": np.asarray(y), "shape": og.inferred_shape(proto)}

    # ------------------------------------------------------ reproduction
    def reproduction(self, plan: Plan) -> str | None:
        """Standalone ``onnx.helper`` + ``onnxruntime`` source for ``plan``."""
        if not isinstance(plan, og.OnnxPlan):
            return None
        names = og.input_names(plan.case)
        lines = [*og.source_header(), "import onnxruntime as ort", "", ""]
        lines.append("def framework_outputs(inputs):")
        lines += [f"    {line}" for line in og.source(plan)]
        lines += [
            "    session = ort.InferenceSession(model.SerializeToString(), providers=['CPUExecutionProvider'])",
            f"    (y,) = session.run(['y'], {{k: inputs[k] for k in {names!r}}})",
            "    return {'y': y}",
        ]
        return "\n".join(lines) + "\n"
