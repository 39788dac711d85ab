"""ONNX's reference evaluator: the one-node models of ``onnxruntime`` run by
``onnx.reference.ReferenceEvaluator`` (forward only).

The evaluator is the NumPy implementation ONNX uses to produce the expected outputs of its
backend conformance tests, so what it computes is what ONNX's test data say every runtime must
compute. Selected as ``onnx/reference`` (the newest opset of the installed ``onnx``) or
``onnx/reference/opsetN``. Ops: those of ``onnxruntime``, ``conv_transpose`` included.

Translation, APIs and routes: those of :mod:`convequiv.adapters.onnx_graph` (the same models
``onnxruntime`` runs; APIs ``"pads"`` and ``"auto_pad"``). Each model is first validated with
``onnx.checker.check_model`` (the evaluator itself validates nothing), so a model ONNX rejects is a
refusal of ONNX, never a silently ignored attribute.

Outputs: ``y`` and ``shape`` (ONNX shape inference on the model); no gradients.

Refusals (evidence ``refuses``, raised inside ``onnx``): grouped ConvTranspose where the installed
evaluator has no grouped implementation (onnx 1.16.2: "group=2 != 1 is not implemented yet"; decided by
running a tiny grouped model once, :func:`groups_refused`); average-pool dilation before opset 19
(the checker: "Unrecognized attribute: dilations for operator AveragePool"); AveragePool with
``ceil_mode`` and ``auto_pad`` (the evaluator asserts against it, although ONNX defines it);
ConvTranspose with ``output_padding`` of the stride or more that ``pads + fold`` cannot move into the end
padding (its Col2Im derives the input length from the output and fails its check, "calculated number of
sliding blocks"; ONNX allows it below the dilation), claimed only where the grouping runs (below). Every
dtype runs.

Semantics (found by running; ``docs/findings/onnx-reference-pool.md`` and the ``onnx-reference-*``
records): GlobalMaxPool reduces with ``numpy.max`` (NaN propagates; declared ``nan="propagate"``)
but over the wrong axes for other than 2-D input. The pooling loops mark padding with NaN and drop
NaN taps, so input NaN counts as padding (AveragePool with ``count_include_pad=0`` skips it, MaxPool
propagates it only from a window's first tap, an all-NaN window raises), a window of only padding
gives 0, 1-D MaxPool with padding returns too few windows or raises, AveragePool with ``ceil_mode``
reads wrong windows, ``auto_pad`` with dilations uses the undilated kernel, and SAME where the kernel
is shorter than the stride raises. ConvTranspose (``docs/findings/onnx-reference-convtranspose-groups.md``,
``docs/findings/onnx-convtranspose-same-short-kernel.md``): with ``group > 1`` it slices the weight with the
output-channel count and writes each group into one channel, so it raises except with one input and one
output channel per group (``onnx-reference-convtranspose-groups-crash``), and there adds ``B[0]`` to every
channel (``onnx-reference-convtranspose-groups-bias``); ``auto_pad`` SAME where the effective kernel is
shorter than the stride splits ONNX's negative total padding with floor division and moves empty cells
before the first tap (``onnx-reference-convtranspose-same-short-kernel``).
"""

from __future__ import annotations

import re
from functools import cache
from typing import ClassVar

import numpy as np
import onnx
import onnx.reference

from convequiv.reference.cases import Case, ConvTransposeCase, PoolCase

from . import onnx_graph as og
from .base import CLASSIC_OPS, Adapter, Arrays, Plan, Semantics, Unsupported

#: What the evaluator of onnx 1.16.2 says about a grouped ConvTranspose (it has no grouped implementation).
GROUPS_NOT_IMPLEMENTED = r"group=\d+ != 1 is not implemented yet"


@cache
def groups_refused() -> bool:
    """Whether the installed evaluator refuses every grouped ConvTranspose (onnx 1.16.2: "group=2 != 1
    is not implemented yet"; 1.18.0 and later run some: ``onnx-reference-convtranspose-groups-*``)."""
    case = ConvTransposeCase((1, 2, 1), (2, 1, 1), groups=2, bias=False)
    plan = og.plan_for(case, "pads", "float32", og.OLDEST_OPSET)
    assert isinstance(plan, og.OnnxPlan)
    inputs = {"x": np.zeros((1, 2, 1), np.float32), "w": np.zeros((2, 1, 1), np.float32)}
    try:
        onnx.reference.ReferenceEvaluator(og.model(plan)).run(["y"], inputs)
    except Exception as exc:  # whatever the evaluator raises; only the message decides
        return re.search(GROUPS_NOT_IMPLEMENTED, str(exc)) is not None
    return False


def _groups_run(case: ConvTransposeCase) -> bool:
    """Whether the evaluator's ConvTranspose gets past its grouping: one group, or one input and one
    output channel per group (module docstring)."""
    return case.groups == 1 or (case.x_shape[1] == case.groups and case.w_shape[1] == 1)


class OnnxReferenceAdapter(Adapter):
    """The cases' ONNX models on ``onnx.reference.ReferenceEvaluator`` (module docstring)."""

    name: ClassVar[str] = "onnx/reference"
    distributions = ("onnx",)
    frameworks = ("onnx",)
    apis = ("pads", "auto_pad")
    dtypes = ("float32", "float64")
    produces = frozenset({"y", "shape"})
    ops = CLASSIC_OPS | {"conv_transpose"}
    #: Dilated average pooling is answered (convequiv/suite/test_avg_pool_dilation.py).
    avg_pool_dilation = True
    #: Ops whose NaN handling follows neither policy, with the divergence record that describes it.
    no_nan_policy: ClassVar[dict[str, str]] = {"max_pool": "onnx-reference-pool-nan-as-padding"}

    def __init__(self, variant: str | None = None) -> None:
        base = type(self).name
        self.opset = og.parse_variant(base, variant, og.newest_opset())
        if variant is not None:
            self.name = f"{base}/{variant}"  # type: ignore[misc]  # each variant is a column of its own

    def versions(self) -> dict[str, str]:
        return {**super().versions(), "opset": str(self.opset)}

    def apis_for(self, op: str) -> tuple[str, ...]:
        return self.apis if op in ("conv", "conv_transpose", "max_pool", "avg_pool") else ("pads",)

    def warm_up(self) -> None:
        plan = og.plan_for(PoolCase("max", (1, 1, 4, 4), 2), "pads", "float32", self.opset)
        assert isinstance(plan, og.OnnxPlan)
        onnx.reference.ReferenceEvaluator(og.model(plan)).run(None, {"x": np.zeros((1, 1, 4, 4), np.float32)})

    def support(self, case: Case, api: str, dtype: str) -> og.OnnxPlan | Unsupported:
        plan = og.plan_for(case, api, dtype, self.opset)
        refused = isinstance(case, PoolCase) and case.kind == "avg" and case.ceil_mode
        if isinstance(plan, og.OnnxPlan) and refused and plan.route == "auto_pad":
            return Unsupported(
                "the evaluator's AveragePool asserts that ceil_mode is not used with auto_pad (ONNX allows both)",
                attempt=plan,
                message="ceil_mode is not supported with auto_pad",
            )
        if (
            isinstance(plan, og.OnnxPlan)
            and isinstance(case, ConvTransposeCase)
            and case.groups > 1
            and groups_refused()
        ):
            return Unsupported(
                "the evaluator's ConvTranspose has no grouped implementation in this onnx release",
                attempt=plan,
                message=GROUPS_NOT_IMPLEMENTED,
            )
        # Grouped models other than depthwise 1:1 fail earlier (onnx-reference-convtranspose-groups-crash).
        stride = case.stride if isinstance(case, ConvTransposeCase) and _groups_run(case) else ()
        if isinstance(plan, og.OnnxPlan) and any(p >= s for p, s in zip(og.output_padding(plan), stride)):
            return Unsupported(
                "the evaluator's ConvTranspose runs Col2Im, which derives the input length from the output "
                "length and rejects output_padding of the stride or more (ONNX: 'less than the stride/dilation'; "
                "its shape inference accepts it)",
                attempt=plan,
                message="calculated number of sliding blocks",
            )
        return plan

    def semantics(self, case: Case, api: str) -> Semantics:
        # Forward only: no tie policy is observable. MaxPool and GlobalMaxPool return NaN for a
        # window holding NaN where they take the maximum with numpy.max (module docstring).
        return Semantics(ties="first", nan="propagate")

    def run(self, plan: Plan, inputs: Arrays) -> Arrays:
        assert isinstance(plan, og.OnnxPlan)
        proto = og.model(plan)
        onnx.checker.check_model(proto)
        (y,) = onnx.reference.ReferenceEvaluator(proto).run(["y"], og.feeds(plan, inputs))
        return {"y": np.asarray(y), "shape": og.inferred_shape(proto)}

    def reproduction(self, plan: Plan) -> str | None:
        """Standalone ``onnx.helper`` + ``onnx.reference`` source for ``plan``."""
        if not isinstance(plan, og.OnnxPlan):
            return None
        names = og.input_names(plan.case)
        lines = [*og.source_header(), "import onnx.reference", "", ""]
        lines.append("def framework_outputs(inputs):")
        lines += [f"    {line}" for line in og.source(plan)]
        lines += [
            "    onnx.checker.check_model(model)",
            f"    (y,) = onnx.reference.ReferenceEvaluator(model).run(['y'], {{k: inputs[k] for k in {names!r}}})",
            "    return {'y': y}",
        ]
        return "\n".join(lines) + "\n"
