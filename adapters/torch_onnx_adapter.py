"""PyTorch exported to ONNX: the ``torch`` adapter's op, exported with ``torch.onnx.export`` and run
by ONNX Runtime's CPU provider (forward only), compared with the reference (never with torch).

Selected as ``torch/onnx`` (the TorchScript exporter, ``dynamo=False``, at its default opset) or
``torch/onnx/dynamo`` (the ``torch.export``-based exporter, ``dynamo=True``; it needs
``onnxscript``, and costs seconds per export).

Translation: the ``torch`` adapter plans the case (:class:`~convequiv.adapters.torch_adapter.TorchAdapter`:
``torch.nn.functional`` for api ``"functional"``, ``torch.nn`` modules for ``"layer"``; native
padding, or ``F.pad`` then an unpadded op); a module whose ``forward(x, w, b)`` runs that plan is
exported with the inputs as graph inputs ``x``, ``w``, ``b`` (the weights are inputs, not
initializers: one export serves any values). The plan carries the exported model, so the run only
executes it. Routes: ``legacy: <torch route>`` / ``dynamo: <torch route>`` (``native``,
``native same``, ``pre-pad``, ``unfold``, ``reduction``, ``adaptive``). Every new case costs an
export (about 0.2 s with the TorchScript exporter), so the suite draws the smaller example budget
of compiling adapters for it.

Outputs: ``y`` and ``shape`` (the output shape of the exported model after ONNX shape inference,
strict: it must also agree with the shape the exporter declared from tracing).

Refusals: the ``torch`` adapter's ``lacks`` claims (average-pool dilation, 4-D and up) hold here as
they are; its ``refuses`` claims are proven by the export, which runs the same torch call. Its
``unsafe`` claim (max pooling with windows of only padding corrupts memory in the *backward*) does
not apply: an export runs the forward only, so those cases are exported and run. An export that
raises inside torch is a refusal of the exporter. float64 models whose nodes ONNX Runtime has no
double kernel for are refused at session creation (NOT_IMPLEMENTED), as in ``onnxruntime``; a
convolution with ``padding="same"`` and dilation, which the TorchScript exporter writes as
``auto_pad="SAME_UPPER"``, is refused when ONNX Runtime runs it ("Dilation not supported for
AutoPadType", microsoft/onnxruntime#20582): exported models of such PyTorch convolutions do not run.

Transposed convolutions export as ``ConvTranspose`` (the ``torch`` plan's ``crop`` route adds a
``Slice``). PyTorch's ``output_padding`` may reach the stride where a dilation allows it; the
exported node then does not run (record ``torch-onnx-convtranspose-output-padding-stride``).

Semantics: those of ONNX Runtime's kernels for the exported nodes (``onnxruntime`` module
docstring); forward only, so no tie policy is observable.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass, field
from functools import cache
from typing import ClassVar

import numpy as np
import onnx
import onnx.numpy_helper
import torch

from convequiv.reference.cases import Case, ConvCase, ConvTransposeCase, PoolCase

from . import onnx_graph as og
from . import translate as tr
from .base import CLASSIC_OPS, Adapter, Arrays, Plan, Semantics, Unsupported
from .onnxruntime_adapter import NO_KERNEL, refusal, session
from .torch_adapter import TorchAdapter, TorchPlan, _module_name

EXPORTERS = ("legacy", "dynamo")
#: The cases with weights: their ``w`` and ``b`` are graph inputs (api ``"functional"``) or the
#: exported parameters of a module (api ``"layer"``).
WEIGHTED = (ConvCase, ConvTransposeCase)
TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class TorchOnnxPlan(Plan):
    """``torch_plan`` exported by ``exporter``; ``model`` is the serialized ONNX model (empty for
    an attempt that must fail while exporting), ``nodes`` its node types."""

    exporter: str = "legacy"
    torch_plan: TorchPlan | None = None
    model: bytes = field(default=b"", compare=False, repr=False)
    nodes: tuple[str, ...] = ()
    opset: int = 0

    def describe(self) -> str:
        inner = self.torch_plan.describe() if self.torch_plan is not None else self.call
        graph = " -> ".join(self.nodes) if self.nodes else "not exported"
        return f"torch.onnx.export({inner}, {self.exporter}) -> opset {self.opset}: {graph} [{self.route}]"


class _Forward(torch.nn.Module):
    """``forward(x, w, b)`` runs a torch plan (the ``torch`` adapter's forward, no gradients)."""

    def __init__(self, impl: TorchAdapter, plan: TorchPlan, names: list[str]) -> None:
        super().__init__()
        self.impl, self.plan, self.names = impl, plan, names

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        return self.impl._forward(self.plan, dict(zip(self.names, args)))


class _Layer(torch.nn.Module):
    """A convolution or transposed-convolution module (api ``"layer"``) as a model holds it: its
    weight and bias are parameters, exported as the initializers ``layer.weight`` / ``layer.bias``."""

    def __init__(self, impl: TorchAdapter, plan: TorchPlan) -> None:
        super().__init__()
        case, dtype = plan.case, TORCH_DTYPES[plan.dtype]
        self.plan = plan
        if isinstance(case, ConvTransposeCase):
            self.layer = impl._conv_transpose_layer(case, plan.padding, plan.output_padding, dtype)
        else:
            assert isinstance(case, ConvCase)
            self.layer = impl._conv_layer(case, plan.padding, dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.plan.prepad is not None:
            x = torch.nn.functional.pad(x, tr.flat_pad_widths(self.plan.prepad), value=self.plan.pad_value)
        y: torch.Tensor = self.layer(x)
        if self.plan.crop is not None:
            y = y[(slice(None), slice(None), *(slice(start, start + n) for start, n in self.plan.crop))]
        return y


#: The initializers of :class:`_Layer`'s exported parameters, by the input they receive.
PARAMETERS = {"layer.weight": "w", "layer.bias": "b"}


def _graph_inputs(plan: TorchPlan) -> list[str]:
    """The inputs the exported graph takes: ``x`` (and ``w`` / ``b`` where they are no parameters)."""
    case = plan.case
    if not isinstance(case, WEIGHTED) or plan.api == "layer":
        return ["x"]
    return ["x", "w", "b"] if case.bias else ["x", "w"]


def _inputs(plan: TorchPlan) -> dict[str, torch.Tensor]:
    """Example inputs for tracing (zeros: the exported graph does not depend on values)."""
    case = plan.case
    shapes = {"x": case.x_shape}
    if isinstance(case, WEIGHTED):
        shapes["w"] = case.w_shape
        shapes["b"] = (case.out_shape[1],)
    return {k: torch.zeros(shapes[k], dtype=TORCH_DTYPES[plan.dtype]) for k in _graph_inputs(plan)}


@cache
def _export(impl: TorchAdapter, plan: TorchPlan, exporter: str) -> bytes:
    """The ONNX model of ``plan`` from ``torch.onnx.export`` (raises what the exporter raises)."""
    args = _inputs(plan)
    names = list(args)
    layer = plan.api == "layer" and isinstance(plan.case, WEIGHTED)
    module = (_Layer(impl, plan) if layer else _Forward(impl, plan, names)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            program = torch.onnx.export(
                module, tuple(args.values()), dynamo=True, input_names=names, output_names=["y"], verbose=False
            )
            assert program is not None
            return bytes(program.model_proto.SerializeToString())
        buffer = io.BytesIO()
        torch.onnx.export(  # the TorchScript exporter writes to any binary file object
            module,
            tuple(args.values()),
            buffer,  # type: ignore[arg-type]
            dynamo=False,
            input_names=names,
            output_names=["y"],
        )
        return buffer.getvalue()


def _same_with_dilation(model: bytes) -> bool:
    """Whether the model has a Conv with auto_pad SAME_* and a dilation above 1 (which ONNX Runtime
    refuses when it runs the node)."""
    for node in _load(model).graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        same = node.op_type == "Conv" and attrs.get("auto_pad", b"NOTSET") in (b"SAME_UPPER", b"SAME_LOWER")
        if same and any(d > 1 for d in attrs.get("dilations", [])):
            return True
    return False


def _load(model: bytes) -> onnx.ModelProto:
    proto = onnx.ModelProto()
    proto.ParseFromString(model)
    return proto


class TorchOnnxAdapter(Adapter):
    """PyTorch ops exported to ONNX and run by ONNX Runtime (module docstring)."""

    name: ClassVar[str] = "torch/onnx"
    distributions = ("torch", "onnxruntime", "onnx")
    frameworks = ("torch", "onnxruntime", "onnx")
    apis = ("functional", "layer")
    dtypes = ("float32", "float64")
    produces = frozenset({"y", "shape"})
    ops = CLASSIC_OPS | {"conv_transpose"}
    #: Dilated average pooling is answered (convequiv/suite/test_avg_pool_dilation.py).
    avg_pool_dilation = True
    #: Ops whose NaN handling follows neither policy, with the divergence record that describes it.
    no_nan_policy: ClassVar[dict[str, str]] = {"max_pool": "ort-maxpool-nan", "global_max_pool": "ort-maxpool-nan"}
    compiles_per_case = True

    def __init__(self, variant: str | None = None) -> None:
        if variant not in (None, "dynamo"):
            raise ValueError(f"torch/onnx: unknown variant {variant!r}; the one variant is torch/onnx/dynamo")
        self.exporter = "dynamo" if variant == "dynamo" else "legacy"
        if variant is not None:
            self.name = f"torch/onnx/{variant}"  # type: ignore[misc]
        self.torch = TorchAdapter()

    def apis_for(self, op: str) -> tuple[str, ...]:
        return self.torch.apis_for(op)

    def versions(self) -> dict[str, str]:
        """The distributions' versions and the opset the exporter writes (divergence records
        scope ONNX shape inference by opset)."""
        plan = self.support(PoolCase("max", (1, 1, 4, 4), 2), "functional", "float32")
        opset = str(plan.opset) if isinstance(plan, TorchOnnxPlan) else "unknown"
        return {**super().versions(), "opset": opset}

    def warm_up(self) -> None:
        plan = self.support(PoolCase("max", (1, 1, 4, 4), 2), "functional", "float32")
        assert isinstance(plan, TorchOnnxPlan)

    # ------------------------------------------------------------------ plans
    def _native(self, case: PoolCase, api: str, dtype: str) -> TorchPlan:
        """The native call the ``torch`` adapter declines as unsafe for its backward."""
        call = f"torch.nn.functional.max_pool{case.nd}d" if api == "functional" else _module_name(case)
        return TorchPlan(case, api, dtype, "native", call, tr.per_side(case.pads))

    def _plan(self, torch_plan: TorchPlan, model: bytes = b"") -> TorchOnnxPlan:
        nodes: tuple[str, ...] = ()
        opset = 0
        if model:
            proto = _load(model)
            nodes = tuple(n.op_type for n in proto.graph.node)
            opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
        return TorchOnnxPlan(
            torch_plan.case,
            torch_plan.api,
            torch_plan.dtype,
            f"{self.exporter}: {torch_plan.route}",
            torch_plan.call,
            torch_plan.padding,
            torch_plan.prepad,
            torch_plan.pad_value,
            exporter=self.exporter,
            torch_plan=torch_plan,
            model=model,
            nodes=nodes,
            opset=opset,
        )

    def support(self, case: Case, api: str, dtype: str) -> TorchOnnxPlan | Unsupported:
        planned = self.torch.support(case, api, dtype)
        if isinstance(planned, Unsupported):
            if planned.evidence == "unsafe" and isinstance(case, PoolCase):
                planned = self._native(case, api, dtype)
            elif planned.evidence == "refuses" and isinstance(planned.attempt, TorchPlan):
                return Unsupported(planned.reason, attempt=self._plan(planned.attempt), message=planned.message)
            else:
                return planned
        assert isinstance(planned, TorchPlan)
        try:
            model = _export(self.torch, planned, self.exporter)
        except Exception as exc:  # the exporter's own refusal; proven by raising inside torch again
            return Unsupported(
                f"torch.onnx.export ({self.exporter}) refuses: {str(exc)[:160]}", attempt=self._plan(planned)
            )
        plan = self._plan(planned, model)
        node = refusal(model)
        if node is not None:
            return Unsupported(
                f"ONNX Runtime's CPU provider has no {dtype} kernel for {node} of the exported graph",
                attempt=plan,
                message=NO_KERNEL,
            )
        if _same_with_dilation(model):
            return Unsupported(
                "the exporter writes padding='same' as auto_pad SAME_UPPER, and ONNX Runtime's Conv refuses "
                "auto_pad SAME with dilations > 1",
                attempt=plan,
                message="Dilation not supported for AutoPadType",
            )
        return plan

    def semantics(self, case: Case, api: str) -> Semantics:
        return Semantics(ties="first", nan="ignore")

    # -------------------------------------------------------------------- run
    def run(self, plan: Plan, inputs: Arrays) -> Arrays:
        assert isinstance(plan, TorchOnnxPlan) and plan.torch_plan is not None
        model = plan.model or _export(self.torch, plan.torch_plan, plan.exporter)
        proto = _load(model)
        for init in proto.graph.initializer:  # a layer's parameters receive the example's values
            if init.name in PARAMETERS:
                init.CopyFrom(onnx.numpy_helper.from_array(inputs[PARAMETERS[init.name]], init.name))
        names = [i.name for i in proto.graph.input if i.name not in PARAMETERS]
        (y,) = session(proto).run(["y"], {k: np.ascontiguousarray(inputs[k]) for k in names})
        return {"y": np.asarray(y), "shape": og.inferred_shape(proto)}

    # ------------------------------------------------------ reproduction
    def reproduction(self, plan: Plan) -> str | None:
        """Standalone torch + onnxruntime source: the module, its export and the session."""
        if not isinstance(plan, TorchOnnxPlan) or plan.torch_plan is None:
            return None
        if plan.api == "layer" and isinstance(plan.case, WEIGHTED):
            return None  # the exported parameters are replaced in the model: no plain script
        names = _graph_inputs(plan.torch_plan)
        body = []
        if plan.torch_plan.prepad is not None:
            fill = "-math.inf" if plan.torch_plan.pad_value == -math.inf else repr(plan.torch_plan.pad_value)
            body.append(f"x = F.pad(x, {tr.flat_pad_widths(plan.torch_plan.prepad)}, value={fill})")
        body += self.torch._call_source(plan.torch_plan, plan.case)
        export = (
            "program = torch.onnx.export(Case(), args, dynamo=True, input_names=NAMES, output_names=['y'])\n"
            "    model = program.model_proto.SerializeToString()"
            if plan.exporter == "dynamo"
            else "buffer = io.BytesIO()\n"
            "    torch.onnx.export(Case(), args, buffer, dynamo=False, input_names=NAMES, output_names=['y'])\n"
            "    model = buffer.getvalue()"
        )
        lines = [
            "import io",
            "import math",
            "",
            "import onnxruntime as ort",
            "import torch",
            "import torch.nn.functional as F",
            "",
            f"NAMES = {names!r}",
            "",
            "",
            "class Case(torch.nn.Module):",
            "    def forward(self, *args):",
            "        t = dict(zip(NAMES, args))",
            "        x = t['x']",
            *(f"        {line}" for line in body),
            "        return y",
            "",
            "",
            "def framework_outputs(inputs):",
            "    args = tuple(torch.from_numpy(inputs[k]) for k in NAMES)",
            f"    {export}",
            "    session = ort.InferenceSession(model, providers=['CPUExecutionProvider'])",
            "    (y,) = session.run(['y'], {k: inputs[k] for k in NAMES})",
            "    return {'y': y}",
        ]
        return "\n".join(lines) + "\n"
