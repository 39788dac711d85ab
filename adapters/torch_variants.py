"""PyTorch execution variants: the cases and plans of ``torch``, run on the paths users train on.

Selected as ``torch/<variant>`` (:data:`convequiv.adapters.VARIANTS`); each is a subclass of
:class:`~convequiv.adapters.torch_adapter.TorchAdapter` whose instances bear the full name, so a
variant is a column of its own in results and reports, and divergence records for ``torch`` cover it
(a record with ``adapter = "torch/compile"`` covers only that variant). Every variant keeps the
plans, refusals and declared semantics of ``torch`` (:meth:`TorchAdapter.support`) and adds what
its path changes:

``torch/compile``
    The forward (``torch.nn.functional`` op, or the ``torch.nn`` layer through
    ``torch.func.functional_call``) compiled by ``torch.compile`` (TorchInductor, CPU, C++ kernels
    built with the system compiler, ``fullgraph=True``), differentiated by the compiled backward
    (AOTAutograd); the JVP is ``torch.compile(torch.func.jvp(forward))``. Shapes are static
    (``dynamic=False``), the path of a model compiled for its input shape: with dynamic shapes
    Inductor 2.13 fails to lower many of these cases and its on-disk cache serves graphs compiled
    for other weight shapes (docs/findings/torch-compile-dynamic-shapes.md), so dynamic shapes do
    not yet save compilations here. One compiled function per *signature* (everything the traced
    code depends on besides the input shapes: op, API, dtype, channels, kernel, stride, padding as
    planned, dilation, groups, bias, ceil mode...), recompiled by Dynamo for each new shape; each
    signature gets its own code object (Dynamo keeps its cache per code object, so signatures never
    evict or guard-check each other). The suite checks many value draws per compiled case
    (``draws_per_case``: one compilation, many inputs). Dynamo never falls back to eager silently:
    the recompile limit is lifted and hitting it raises (``fail_on_recompile_limit_hit``). Inductor
    compiles in this process (``compile_threads = 1``: no worker pool on a small machine); its
    on-disk cache (``TORCHINDUCTOR_CACHE_DIR``) makes a later run's compilations cheaper.
    :meth:`TorchCompileAdapter.compile_stats` counts compilations and their seconds
    (``convequiv bench --suite``). The dtypes are float32 and bfloat16, the formats models are
    trained in on CPUs (``torch.autocast("cpu")`` casts to bfloat16); float64 and float16 run on
    the eager variants.
``torch/channels_last``
    ``x``, ``dy``, the tangents and the convolution weight (functional argument or layer weight) in
    ``torch.channels_last`` (4-D) / ``torch.channels_last_3d`` (5-D) memory format, by ``Tensor.to`` as
    ``model.to(memory_format=...)`` does: the format's own strides even where a channels-first tensor
    already qualifies (one channel, unit spatial sizes), unlike ``contiguous``. PyTorch has no
    channels-last format for 3-D tensors: 1-D cases are unsupported (``lacks torch.channels_last_1d``).
``torch/noncontiguous``
    Every input (``x``, ``w``, ``b``, ``dy``, tangents) a strided view of a larger buffer: every
    second element along every axis, starting at the second (storage offset and strides both off
    the contiguous layout).
``torch/no-onednn``
    Forward, backward and JVP inside ``torch.backends.mkldnn.flags(enabled=False)``: PyTorch's own
    CPU kernels instead of oneDNN (mkldnn) convolutions.

Every variant also produces ``jvp`` (``torch.func.jvp``, forward-mode AD) along the tangents
``tx`` / ``tw`` / ``tb`` the suite draws for adapters that produce it, checked against the
reference's linearization (:mod:`convequiv.reference.linearization`), and runs float16 and bfloat16
(accumulated in float32: :meth:`TorchAdapter.semantics`).
"""

from __future__ import annotations

import contextlib
import itertools
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from convequiv.reference.cases import Case, ConvCase, ConvTransposeCase

from . import onednn_rtus
from . import translate as tr
from .base import GRADIENTS, Arrays, Plan, Unsupported
from .torch_adapter import TorchAdapter, TorchPlan, to_array, to_tensor

PRIMALS = ("x", "w", "b")
Forward = Callable[..., Any]


class TorchVariant(TorchAdapter):
    """Base of the variants: the JVP, and hooks for the layout of the inputs (:meth:`prepare`), the
    context the framework runs in (:meth:`context`) and the callables it runs (:meth:`forward_fn`,
    :meth:`jvp_fn`)."""

    name: ClassVar[str] = "torch/?"
    produces: ClassVar[frozenset[str]] = GRADIENTS | {"jvp"}

    def prepare(self, key: str, tensor: torch.Tensor) -> torch.Tensor:
        """The tensor handed to the framework for input ``key`` (default: as it is)."""
        return tensor

    def context(self) -> contextlib.AbstractContextManager[Any]:
        """The context forward, backward and JVP run in (default: none)."""
        return contextlib.nullcontext()

    def forward_fn(self, plan: Plan, names: tuple[str, ...]) -> Forward:
        """``forward(*primals) -> y`` for ``plan``, primals in the order of ``names``."""
        return _forward(self, plan, names)

    def jvp_fn(self, plan: Plan, names: tuple[str, ...]) -> Forward:
        """``jvp(*primals, *tangents) -> (y, jvp)``."""
        return _jvp(self.forward_fn(plan, names), len(names))

    def run(self, plan: Plan, inputs: Arrays) -> Arrays:
        names = tuple(k for k in PRIMALS if k in inputs)
        with self.context():
            primals = [self.prepare(k, to_tensor(inputs[k])).detach().requires_grad_() for k in names]
            y = self.forward_fn(plan, names)(*primals)
            y.backward(self.prepare("dy", to_tensor(inputs["dy"])))
            out = {"y": to_array(y)}
            for key, leaf in zip(names, primals):
                if leaf.grad is not None:
                    out[f"d{key}"] = to_array(leaf.grad)
            if "tx" in inputs:
                constants = [p.detach() for p in primals]
                tangents = [self.prepare(f"t{k}", to_tensor(inputs[f"t{k}"])) for k in names]
                _, tangent_out = self.jvp_fn(plan, names)(*constants, *tangents)
                out["jvp"] = to_array(tangent_out)
        return out

    def reproduction(self, plan: Plan) -> str | None:
        return None  # the standalone source of ``torch`` would not take this variant's path


def _forward(
    adapter: TorchAdapter, plan: Plan, names: tuple[str, ...], layer: torch.nn.Module | None = None
) -> Forward:
    """``forward(*primals)`` running ``plan`` as :class:`TorchAdapter` does; with ``layer`` (a
    ``torch.nn.Conv*d`` or ``ConvTranspose*d`` built beforehand) a layer-API convolution calls that module instead of
    building one (module construction cannot be compiled)."""
    if layer is None:

        def forward(*primals: torch.Tensor) -> torch.Tensor:
            return adapter._forward(plan, dict(zip(names, primals)))

        return forward

    def forward_layer(*primals: torch.Tensor) -> torch.Tensor:
        t = dict(zip(names, primals))
        x = t["x"]
        if plan.prepad is not None:
            x = F.pad(x, tr.flat_pad_widths(plan.prepad), value=plan.pad_value)
        params = {"weight": t["w"], **({"bias": t["b"]} if "b" in t else {})}
        y: torch.Tensor = torch.func.functional_call(layer, params, (x,))
        crop = getattr(plan, "crop", None)  # a transposed convolution's canonical window
        if crop is not None:
            y = y[(slice(None), slice(None), *(slice(start, start + n) for start, n in crop))]
        return y

    return forward_layer


def _jvp(forward: Forward, count: int) -> Forward:
    def jvp(*primals_and_tangents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        primals, tangents = primals_and_tangents[:count], primals_and_tangents[count:]
        result = torch.func.jvp(forward, tuple(primals), tuple(tangents))
        return result[0], result[1]

    return jvp


# ----------------------------------------------------------------------------------------- compile
@dataclass
class CompileStats:
    """Compilations of one process: signatures compiled, checks run, seconds in first calls."""

    signatures: int = 0
    calls: int = 0
    first_call_seconds: float = 0.0
    per_signature: dict[tuple[Any, ...], int] | None = None


_CODE_NUMBERS = itertools.count()


def _own_code(fn: Forward, label: str) -> Forward:
    """A copy of ``fn`` with a code object of its own: Dynamo keeps its cache per code object, so
    signatures compiled from copies never share (or invalidate) each other's entries."""
    number = next(_CODE_NUMBERS)
    code = fn.__code__.replace(co_name=f"{label}_{number}", co_qualname=f"{label}_{number}")
    copy = types.FunctionType(code, fn.__globals__, code.co_name, fn.__defaults__, fn.__closure__)
    return copy


class TorchCompileAdapter(TorchVariant):
    name: ClassVar[str] = "torch/compile"
    dtypes: ClassVar[tuple[str, ...]] = ("float32", "bfloat16")
    compiles_per_case: ClassVar[bool] = True
    #: Value draws the suite checks per compiled case (pytest_plugin.Equivalence.check).
    draws_per_case: ClassVar[int] = 25

    def __init__(self) -> None:
        import torch._dynamo.config as dynamo_config
        import torch._inductor.config as inductor_config

        dynamo_config.recompile_limit = 1 << 30
        dynamo_config.accumulated_recompile_limit = 1 << 30
        dynamo_config.fail_on_recompile_limit_hit = True  # never run eager silently
        inductor_config.compile_threads = 1
        self._compiled: dict[tuple[Any, ...], tuple[Forward, Forward]] = {}
        self.stats = CompileStats(per_signature={})

    def warm_up(self) -> None:
        super().warm_up()  # eager; the first compilation happens with the first case

    def _compiled_pair(self, plan: Plan, names: tuple[str, ...]) -> tuple[Forward, Forward]:
        key = (plan.signature(), names)
        if key not in self._compiled:
            case = plan.case
            layer = None
            dtype = getattr(torch, plan.dtype)
            if isinstance(case, ConvCase) and plan.api == "layer":
                layer = self._conv_layer(case, plan.padding, dtype)
            if isinstance(case, ConvTransposeCase) and isinstance(plan, TorchPlan) and plan.api == "layer":
                layer = self._conv_transpose_layer(case, plan.padding, plan.output_padding, dtype)
            forward = _own_code(_forward(self, plan, names, layer), f"{case.op}_{plan.api}")
            jvp = _own_code(_jvp(forward, len(names)), f"{case.op}_{plan.api}_jvp")
            self._compiled[key] = (
                torch.compile(forward, fullgraph=True, dynamic=False),
                torch.compile(jvp, fullgraph=True, dynamic=False),
            )
            self.stats.signatures += 1
        return self._compiled[key]

    def forward_fn(self, plan: Plan, names: tuple[str, ...]) -> Forward:
        return self._compiled_pair(plan, names)[0]

    def jvp_fn(self, plan: Plan, names: tuple[str, ...]) -> Forward:
        return self._compiled_pair(plan, names)[1]

    def run(self, plan: Plan, inputs: Arrays) -> Arrays:
        key = (plan.signature(), tuple(k for k in PRIMALS if k in inputs))
        assert self.stats.per_signature is not None
        first = self.stats.per_signature.get(key, 0) == 0
        started = time.perf_counter()
        out = super().run(plan, inputs)
        self.stats.calls += 1
        self.stats.per_signature[key] = self.stats.per_signature.get(key, 0) + 1
        if first:
            self.stats.first_call_seconds += time.perf_counter() - started
        return out

    def compile_stats(self) -> dict[str, float]:
        """``signatures`` compiled (each a forward + backward and a JVP), ``checks`` run,
        ``compile_seconds`` (first calls of a signature: compilation plus one run) and
        ``checks_per_signature``."""
        s = self.stats
        return {
            "signatures": s.signatures,
            "checks": s.calls,
            "compile_seconds": round(s.first_call_seconds, 3),
            "checks_per_signature": round(s.calls / s.signatures, 2) if s.signatures else 0.0,
        }


# ------------------------------------------------------------------------------------ memory layout
class TorchChannelsLastAdapter(TorchVariant):
    name: ClassVar[str] = "torch/channels_last"

    def support(self, case: Case, api: str, dtype: str) -> TorchPlan | Unsupported:
        if case.nd == 1:
            return Unsupported(
                "PyTorch has no channels-last memory format for 3-D tensors (N, C, L)",
                "lacks",
                "torch.channels_last_1d",
            )
        if isinstance(case, ConvCase) and onednn_rtus.at_risk(case, dtype, "channels_last"):
            return onednn_rtus.unsafe()
        return super().support(case, api, dtype)

    def probe_hazard(self, case: Case, inputs: Arrays, api: str) -> str:
        if isinstance(case, ConvCase):
            return onednn_rtus.kernel_in_child(case, "channels_last")
        return super().probe_hazard(case, inputs, api)

    def prepare(self, key: str, tensor: torch.Tensor) -> torch.Tensor:
        # ``Tensor.to`` (what users and ``Module.to`` call) always writes the format's own strides;
        # ``contiguous(memory_format=...)`` keeps a tensor whose strides already qualify, which for one
        # channel or unit spatial sizes are the channels-first ones, so that path would never be checked.
        if tensor.ndim == 4:
            return tensor.to(memory_format=torch.channels_last)
        if tensor.ndim == 5:
            return tensor.to(memory_format=torch.channels_last_3d)
        return tensor


def strided_view(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor``'s values in a view of a buffer twice as large along every axis: every second
    element from the second one (non-contiguous strides and a storage offset)."""
    buffer = torch.zeros([2 * n + 1 for n in tensor.shape], dtype=tensor.dtype)
    view = buffer[tuple(slice(1, None, 2) for _ in tensor.shape)]
    view.copy_(tensor)
    return view


class TorchNonContiguousAdapter(TorchVariant):
    name: ClassVar[str] = "torch/noncontiguous"

    def prepare(self, key: str, tensor: torch.Tensor) -> torch.Tensor:
        return strided_view(tensor)


# ------------------------------------------------------------------------------------------ kernels
class TorchNoOneDnnAdapter(TorchVariant):
    name: ClassVar[str] = "torch/no-onednn"

    def context(self) -> contextlib.AbstractContextManager[Any]:
        return _mkldnn_off()


@contextlib.contextmanager
def _mkldnn_off() -> Iterator[None]:
    with torch.backends.mkldnn.flags(enabled=False):
        yield
