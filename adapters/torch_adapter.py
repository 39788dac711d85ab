"""PyTorch: ``torch.nn.functional`` (api ``"functional"``) and ``torch.nn`` modules (api ``"layer"``).

Layouts are PyTorch's own (channels-first, weights ``(O, C / groups, *kernel)``), so no transposes.

Padding translation (canonical -> PyTorch), decided once per case in :meth:`TorchAdapter.support`:

* convolution (routes ``native`` and ``pre-pad``): ``"valid"`` and symmetric explicit padding map
  to ``padding=`` directly; ``"same"`` maps to ``padding="same"`` at stride 1 (PyTorch puts the odd
  cell at the end, like SAME_UPPER); everything else (``"same"`` with stride > 1, which PyTorch
  refuses, ``"same_lower"``, asymmetric pairs) becomes ``F.pad`` followed by an unpadded
  convolution;
* pooling takes only symmetric padding of at most ``kernel // 2`` (not the effective kernel). Other
  paddings are applied with ``F.pad`` (route ``pre-pad``: ``-inf`` for max, zeros for average with
  ``count_include_pad=True``) when that gives exactly the canonical windows — always without
  ``ceil_mode``, and with it when the output shape is unchanged (``ceil_mode`` drops a last window
  that starts in the *right* padding, which a pre-padded input no longer distinguishes). Otherwise
  the case is unsupported: the native call with that padding raises.

A pre-padded max pooling input turns padding into real ``-inf`` elements: where a window's input
taps are all ``-inf`` (or NaN-free and ``-inf``) and its first tap is padding, PyTorch's first-maximum
rule sends the gradient to the padding cell (recorded divergence ``torch-maxpool-prepad-neginf-tie``,
an artefact of the emulation, not of native PyTorch).

Transposed convolution (routes ``native`` and ``crop``): PyTorch's ``padding`` crops the same
number of cells at both ends and ``output_padding`` adds cells at the high end, so symmetric
explicit padding maps directly; every other padding (asymmetric pairs, ``"same"`` / ``"same_lower"``
with an odd total, which PyTorch has no string for) runs with ``padding = min(lo, hi)`` and
``output_padding = max(0, tail + min(lo, hi) - hi)`` and crops the output to the canonical window
``[lo - min(lo, hi), lo - min(lo, hi) + out)``. ``tail`` is the case's ``output_padding``, or for
``"same"`` with an effective kernel shorter than the stride the ``s - d * (k - 1) - 1`` cells past
the last tap; it never exceeds PyTorch's limit ``max(stride, dilation) - 1``.

Refusals: a float16 / bfloat16 case whose CPU kernel the installed release lacks ("not implemented
for 'Half'": ``avg_pool3d`` in 2.13, ``adaptive_max_pool3d`` in 2.4) is found by running the plan
once on zeros per call, route, rank and dtype, and refused with that error as proof. Average pooling
has no dilation (``lacks``: ``nn.AvgPool*d`` has no such argument, and
``F.avg_pool*d`` take the same ones). ``avg_pool3d`` rejects an (unpadded) input smaller than the
kernel, although the padded input holds every window (``avg_pool1d``/``2d`` accept the same
geometry). Max pooling with a window that reads only padding is not run at all (evidence
``unsafe``, :meth:`TorchAdapter.probe_hazard`).

Contested semantics (PyTorch CPU kernels): max pooling and adaptive max pooling send the gradient
to the first maximum (``val > maxval`` in row-major order); ``amax`` splits it evenly among tied
maxima (documented in ``torch.amax``). NaN propagates through every max.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from convequiv.reference.cases import Case, ConvCase, ConvTransposeCase, DepthPoolCase, GlobalPoolCase, PoolCase
from convequiv.reference.geometry import window_geometry
from convequiv.reference.precision import REDUCED, numpy_dtype

from . import translate as tr
from .base import CLASSIC_OPS, Adapter, Arrays, Plan, Semantics, Unsupported


@dataclass(frozen=True)
class TorchPlan(Plan):
    """``call`` is run on the (pre-padded) input with ``padding``; ``ceil_mode`` as the case's. A
    transposed convolution also takes ``output_padding``, and its output is cut to ``crop`` (one
    ``(start, length)`` per spatial dimension) when that is not ``None``."""

    output_padding: tuple[int, ...] = ()
    crop: tuple[tuple[int, int], ...] | None = None


def _missing_forward_kernel(case: PoolCase, dtype: str) -> str:
    """The error of ``max_pool{1,2,3}d``'s forward on zeros of ``dtype`` where the release has no CPU
    kernel for it (torch 2.1: no Half max_pool2d), else ``""``. Only the forward runs: safe for the cases
    whose backward is unsafe."""
    if dtype not in REDUCED:
        return ""
    x = torch.zeros(case.x_shape, dtype=getattr(torch, dtype))
    pool = getattr(F, f"max_pool{case.nd}d")
    try:
        pool(x, case.kernel, case.stride, tr.per_side(case.pads), case.dilation, case.ceil_mode)
    except RuntimeError as exc:
        text = str(exc).splitlines()[0] if str(exc) else ""
        return text if "not implemented for" in text else ""
    return ""


def _padding_only_windows(case: PoolCase) -> np.ndarray:
    """Boolean mask over the output ``(N, C, *out)``: windows that read no input element."""
    empty: np.ndarray = case.window_counts(np.ones(case.x_shape, dtype=bool)) == 0  # NumPy's == gives Any
    return empty


def to_tensor(a: np.ndarray) -> torch.Tensor:
    """``a`` as a tensor of its dtype: bfloat16 (``ml_dtypes``, which ``torch.from_numpy`` does not
    take) goes through float32, which holds every bfloat16 value exactly."""
    if a.dtype.name == "bfloat16":
        return torch.from_numpy(a.astype(np.float32)).to(torch.bfloat16)
    return torch.from_numpy(np.ascontiguousarray(a))


def to_array(t: torch.Tensor) -> np.ndarray:
    """A tensor's values as a NumPy array of its dtype (bfloat16 as ``ml_dtypes.bfloat16``)."""
    t = t.detach()
    if t.dtype == torch.bfloat16:
        return t.float().numpy().astype(numpy_dtype("bfloat16"))
    return t.numpy()


def _module_name(case: PoolCase | GlobalPoolCase) -> str:
    if isinstance(case, GlobalPoolCase):
        return f"torch.nn.Adaptive{case.mode.capitalize()}Pool{case.nd}d"
    return f"torch.nn.{case.kind.capitalize()}Pool{case.nd}d"


class TorchAdapter(Adapter):
    name = "torch"
    distributions = ("torch",)
    frameworks = ("torch",)
    apis = ("functional", "layer")
    ops = CLASSIC_OPS | {"conv_transpose"}
    #: float16 / bfloat16 accumulate in float32 on the CPU (``semantics``; reference/tolerance.py).
    dtypes: ClassVar[tuple[str, ...]] = ("float32", "float64", "float16", "bfloat16")
    #: Dilated average pooling is answered: PyTorch lacks it (convequiv/suite/test_avg_pool_dilation.py).
    avg_pool_dilation = True

    def apis_for(self, op: str) -> tuple[str, ...]:
        # torch.nn has no channel-pooling module; depth pooling is written with tensor ops.
        return ("functional",) if op == "depth_pool" else self.apis

    def warm_up(self) -> None:
        x = torch.zeros(1, 1, 4, 4, requires_grad=True)
        torch.autograd.backward(F.max_pool2d(F.conv2d(x, torch.ones(1, 1, 2, 2)), 2).sum())

    # ------------------------------------------------------------------ plans
    def support(self, case: Case, api: str, dtype: str) -> TorchPlan | Unsupported:
        plan = self._plan(case, api, dtype)
        if isinstance(plan, TorchPlan) and dtype in REDUCED:
            missing = self._missing_kernel(plan)
            if missing:
                reason = f"{plan.call} has no {dtype} CPU kernel in torch {torch.__version__} ({missing})"
                return Unsupported(reason, attempt=plan, message="not implemented for")
        return plan

    def _missing_kernel(self, plan: TorchPlan) -> str:
        """The error of a release without a float16 / bfloat16 CPU kernel for ``plan``'s call (which
        kernels exist changes from release to release), found by running the plan once on zeros;
        ``""`` where it runs. Remembered per call, route, rank and dtype."""
        probes: dict[tuple[object, ...], str] = self.__dict__.setdefault("_kernel_probes", {})
        key = (plan.call, plan.route, plan.case.nd, plan.dtype, type(plan.case).__name__)
        if key not in probes:
            case, dtype = plan.case, numpy_dtype(plan.dtype)
            zeros = {"x": np.zeros(case.x_shape, dtype), "dy": np.zeros(case.out_shape, dtype)}
            w_shape = getattr(case, "w_shape", None)
            if w_shape is not None:
                zeros["w"] = np.zeros(w_shape, dtype)
                if getattr(case, "bias", False):
                    zeros["b"] = np.zeros(case.out_shape[1], dtype)
            try:
                TorchAdapter.run(self, plan, zeros)  # the eager path, also for the variants
                probes[key] = ""
            except RuntimeError as exc:
                text = str(exc).splitlines()[0] if str(exc) else ""
                probes[key] = text if "not implemented for" in text else ""
        return probes[key]

    def _plan(self, case: Case, api: str, dtype: str) -> TorchPlan | Unsupported:
        if case.nd > 3:
            return Unsupported(
                f"PyTorch has no {case.nd}-D convolution or pooling",
                "lacks",
                f"torch.nn.functional.{case.op}{case.nd}d",
            )
        if isinstance(case, ConvCase):
            return self._conv_plan(case, api, dtype)
        if isinstance(case, ConvTransposeCase):
            return self._conv_transpose_plan(case, api, dtype)
        if isinstance(case, PoolCase):
            return self._pool_plan(case, api, dtype)
        if isinstance(case, DepthPoolCase):
            reduce = "amax" if case.mode == "max" else "mean"
            return TorchPlan(case, api, dtype, "unfold", f"Tensor.unfold(1, k, s).{reduce}(-1)")
        if isinstance(case, GlobalPoolCase):
            if api == "functional":
                reduce = "torch.amax" if case.mode == "max" else "torch.mean"
                return TorchPlan(case, api, dtype, "reduction", f"{reduce}(dim=spatial)")
            return TorchPlan(case, api, dtype, "adaptive", f"{_module_name(case)}(1)")
        return Unsupported(f"unknown case type {type(case).__name__}", "lacks", "torch.nn.functional.unknown")

    def _conv_plan(self, case: ConvCase, api: str, dtype: str) -> TorchPlan:
        call = f"torch.nn.functional.conv{case.nd}d" if api == "functional" else f"torch.nn.Conv{case.nd}d"
        if case.padding == "valid":
            return TorchPlan(case, api, dtype, "native", call, "valid")
        if case.padding == "same" and all(s == 1 for s in case.stride):
            return TorchPlan(case, api, dtype, "native same", call, "same")
        if tr.symmetric(case.pads):
            return TorchPlan(case, api, dtype, "native", call, tr.per_side(case.pads))
        return TorchPlan(case, api, dtype, "pre-pad", call, (0,) * case.nd, prepad=case.pads)

    def _conv_transpose_plan(self, case: ConvTransposeCase, api: str, dtype: str) -> TorchPlan:
        if api == "functional":
            call = f"torch.nn.functional.conv_transpose{case.nd}d"
        else:
            call = f"torch.nn.ConvTranspose{case.nd}d"
        # The cells past the last tap: output_padding, or what "same" adds when the kernel is shorter
        # than the stride.
        tail = tuple(n - (f - lo - hi) for n, f, (lo, hi) in zip(case.out_shape[2:], case.full_sizes, case.pads))
        if tr.symmetric(case.pads):
            return TorchPlan(case, api, dtype, "native", call, tr.per_side(case.pads), output_padding=tail)
        kept = tuple(min(lo, hi) for lo, hi in case.pads)
        extra = tuple(max(0, e + m - hi) for e, m, (_, hi) in zip(tail, kept, case.pads))
        crop = tuple((lo - m, n) for (lo, _), m, n in zip(case.pads, kept, case.out_shape[2:]))
        return TorchPlan(case, api, dtype, "crop", call, kept, output_padding=extra, crop=crop)

    def _pool_plan(self, case: PoolCase, api: str, dtype: str) -> TorchPlan | Unsupported:
        if case.kind == "avg" and any(d > 1 for d in case.dilation):
            # F.avg_pool*d are builtins without a signature; the modules state the same arguments.
            return Unsupported(
                f"PyTorch's average pooling (F.avg_pool{case.nd}d, nn.AvgPool{case.nd}d) has no dilation",
                "lacks",
                f"torch.nn.AvgPool{case.nd}d",
                "dilation",
            )
        pads = case.pads
        call = f"torch.nn.functional.{case.kind}_pool{case.nd}d" if api == "functional" else _module_name(case)
        native = tr.symmetric(pads) and tr.torch_pool_takes(pads, case.kernel)
        native_padding = tr.per_side(pads) if tr.symmetric(pads) else pads
        attempt = TorchPlan(case, api, dtype, "native", call, native_padding)
        small = any(n < k for n, k in zip(case.x_shape[2:], case.kernel))
        if native and case.kind == "avg" and case.nd == 3 and small:
            return Unsupported(
                "avg_pool3d refuses an input smaller than the kernel, even when padding makes every window fit",
                attempt=attempt,
                message="smaller than kernel size",
            )
        if native and case.kind == "max" and _padding_only_windows(case).any():
            missing = _missing_forward_kernel(case, dtype)
            if missing:  # the forward raises before the unsafe backward could run: a plain refusal
                reason = f"{call} has no {dtype} CPU kernel in torch {torch.__version__} ({missing})"
                return Unsupported(reason, attempt=attempt, message="not implemented for")
            return Unsupported(
                "a window reads only padding (dilation steps over every input element): PyTorch's CPU "
                "max pooling returns an index outside that window and its backward adds the gradient "
                "there, past the end of the gradient buffer for the last windows (heap corruption, "
                "abort); not run. pytorch/pytorch#114216 reports the -inf forward of such windows; write-up: "
                "docs/findings/torch-maxpool-empty-window-oob.md",
                evidence="unsafe",
            )
        if native:
            return attempt
        refusal = "pad should be at most half|pad should be smaller than or equal to half|must be tuple of ints"
        if case.kind == "avg" and not case.count_include_pad:
            return Unsupported(
                "average pooling with count_include_pad=False needs symmetric padding of at most "
                "half the kernel; a pre-padded input would count the padding",
                attempt=attempt,
                message=refusal,
            )
        if case.ceil_mode:
            prepadded = window_geometry(
                case.op,
                tr.padded_sizes(case.x_shape[2:], pads),
                case.kernel,
                stride=case.resolved_stride,
                padding=0,
                dilation=case.dilation,
                ceil_mode=True,
            )
            if prepadded.out != case.out_shape[2:]:
                return Unsupported(
                    "ceil_mode with padding PyTorch cannot take natively: pre-padding would change "
                    "which last window ceil_mode drops",
                    attempt=attempt,
                    message=refusal,
                )
        fill = -math.inf if case.kind == "max" else 0.0
        return TorchPlan(case, api, dtype, "pre-pad", call, (0,) * case.nd, prepad=pads, pad_value=fill)

    def semantics(self, case: Case, api: str) -> Semantics:
        # float16 / bfloat16: forward sums accumulate in float32, derivatives in the storage format
        # (which kernels, and how we know: reference/tolerance.py)
        split = isinstance(case, DepthPoolCase) or (isinstance(case, GlobalPoolCase) and api == "functional")
        # The transposed convolution's forward is the convolution's dx kernel: col2im adds into the
        # output in the storage format.
        accumulate = "" if isinstance(case, ConvTransposeCase) else "float32"
        return Semantics(ties="split" if split else "first", accumulate=accumulate)  # split: torch.amax

    def probe_hazard(self, case: Case, inputs: Arrays, api: str) -> str:
        """The forward's ``return_indices`` (the forward writes only its outputs, so it is safe): each
        window that reads only padding must get an index outside the window for the hazard to hold."""
        assert isinstance(case, PoolCase) and case.kind == "max"
        pool = getattr(F, f"max_pool{case.nd}d")
        x = to_tensor(inputs["x"])
        _, indices = pool(
            x, case.kernel, case.stride, tr.per_side(case.pads), case.dilation, case.ceil_mode, return_indices=True
        )
        empty = _padding_only_windows(case)
        assert empty.any(), f"{case!r} has no window that reads only padding"
        plane = math.prod(case.x_shape[2:])
        bad = indices.numpy()[empty]
        assert (bad >= 0).all(), f"indices {bad.tolist()} mark the padding-only windows: the hazard is gone"
        outside = bad >= plane
        return (
            f"{empty.sum()} window(s) read only padding; max_pool{case.nd}d(return_indices=True) gives them "
            f"indices {sorted(set(bad.tolist()))[:6]} ({int(outside.sum())} outside the {plane}-element plane, "
            "the others pointing at elements the window does not read)"
        )

    # -------------------------------------------------------------------- run
    def run(self, plan: Plan, inputs: Arrays) -> Arrays:
        tensors = {k: to_tensor(v).requires_grad_(k in ("x", "w", "b")) for k, v in inputs.items()}
        y = self._forward(plan, tensors)
        torch.autograd.backward(y, tensors["dy"])
        out = {"y": to_array(y)}
        for name in ("x", "w", "b"):
            grad = tensors[name].grad if name in tensors else None
            if grad is not None:
                out[f"d{name}"] = to_array(grad)
        return out

    def _forward(self, plan: Plan, t: dict[str, torch.Tensor]) -> torch.Tensor:
        case, x = plan.case, t["x"]
        if plan.prepad is not None:
            x = F.pad(x, tr.flat_pad_widths(plan.prepad), value=plan.pad_value)
        if isinstance(case, ConvCase):
            return self._conv(plan, case, x, t["w"], t.get("b"))
        if isinstance(case, ConvTransposeCase):
            assert isinstance(plan, TorchPlan)
            return self._conv_transpose(plan, case, x, t["w"], t.get("b"))
        if isinstance(case, PoolCase):
            return self._pool(plan, case, x)
        if isinstance(case, DepthPoolCase):
            windows = x.unfold(1, case.pool_size, case.resolved_stride)  # (N, C', *spatial, k)
            return windows.amax(dim=-1) if case.mode == "max" else windows.mean(dim=-1)
        assert isinstance(case, GlobalPoolCase)
        if plan.api == "functional":
            spatial = tuple(range(2, x.ndim))
            if case.mode == "max":
                return torch.amax(x, dim=spatial, keepdim=case.keepdims)
            return torch.mean(x, dim=spatial, keepdim=case.keepdims)
        module: torch.nn.Module = getattr(torch.nn, f"Adaptive{case.mode.capitalize()}Pool{case.nd}d")(1)
        y: torch.Tensor = module(x)
        return y if case.keepdims else torch.flatten(y, 1)

    def _conv(
        self, plan: Plan, case: ConvCase, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None
    ) -> torch.Tensor:
        if plan.api == "functional":
            conv: Callable[..., torch.Tensor] = getattr(F, f"conv{case.nd}d")
            return conv(x, w, b, stride=case.stride, padding=plan.padding, dilation=case.dilation, groups=case.groups)
        layer = self._conv_layer(case, plan.padding, w.dtype)
        # The module's own parameters are replaced by the leaf tensors whose gradients we read.
        y: torch.Tensor = torch.func.functional_call(
            layer, {"weight": w, **({"bias": b} if b is not None else {})}, (x,)
        )
        return y

    def _conv_layer(self, case: ConvCase, padding: object, dtype: torch.dtype) -> torch.nn.Module:
        cls: type[torch.nn.Module] = getattr(torch.nn, f"Conv{case.nd}d")
        return cls(
            case.x_shape[1],
            case.w_shape[0],
            case.kernel,
            stride=case.stride,
            padding=padding,
            dilation=case.dilation,
            groups=case.groups,
            bias=case.bias,
            dtype=dtype,
        )

    def _conv_transpose(
        self, plan: TorchPlan, case: ConvTransposeCase, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None
    ) -> torch.Tensor:
        if plan.api == "functional":
            conv: Callable[..., torch.Tensor] = getattr(F, f"conv_transpose{case.nd}d")
            kw = {"stride": case.stride, "padding": plan.padding, "output_padding": plan.output_padding}
            y = conv(x, w, b, groups=case.groups, dilation=case.dilation, **kw)
        else:
            layer = self._conv_transpose_layer(case, plan.padding, plan.output_padding, w.dtype)
            y = torch.func.functional_call(layer, {"weight": w, **({"bias": b} if b is not None else {})}, (x,))
        if plan.crop is None:
            return y
        return y[(slice(None), slice(None), *(slice(start, start + n) for start, n in plan.crop))]

    def _conv_transpose_layer(
        self, case: ConvTransposeCase, padding: object, output_padding: tuple[int, ...], dtype: torch.dtype
    ) -> torch.nn.Module:
        cls: type[torch.nn.Module] = getattr(torch.nn, f"ConvTranspose{case.nd}d")
        return cls(
            case.x_shape[1],
            case.out_channels,
            case.kernel,
            stride=case.stride,
            padding=padding,
            output_padding=output_padding,
            groups=case.groups,
            bias=case.bias,
            dilation=case.dilation,
            dtype=dtype,
        )

    def _pool(self, plan: Plan, case: PoolCase, x: torch.Tensor) -> torch.Tensor:
        extra = {"dilation": case.dilation} if case.kind == "max" else {"count_include_pad": case.count_include_pad}
        stride = {} if case.stride is None else {"stride": case.stride}
        kw = {"padding": plan.padding, "ceil_mode": case.ceil_mode, **stride, **extra}
        if plan.api == "functional":
            pool: Callable[..., torch.Tensor] = getattr(F, f"{case.kind}_pool{case.nd}d")
            return pool(x, case.kernel, **kw)
        module: torch.nn.Module = getattr(torch.nn, f"{case.kind.capitalize()}Pool{case.nd}d")(case.kernel, **kw)
        y: torch.Tensor = module(x)
        return y

    # ------------------------------------------------------ reproduction
    def reproduction(self, plan: Plan) -> str | None:
        """Standalone PyTorch source for ``plan`` (see :meth:`Adapter.reproduction`)."""
        case = plan.case
        lines = [
            "import math",
            "",
            "import torch",
            "import torch.nn.functional as F",
            "",
            "",
            "def framework_outputs(inputs):",
            "    t = {k: torch.from_numpy(v).requires_grad_(k != 'dy') for k, v in inputs.items()}",
            "    x = t['x']",
        ]
        if plan.prepad is not None:
            fill = "-math.inf" if plan.pad_value == -math.inf else repr(plan.pad_value)
            lines.append(f"    x = F.pad(x, {tr.flat_pad_widths(plan.prepad)}, value={fill})")
        lines += [f"    {line}" for line in self._call_source(plan, case)]
        lines += [
            "    y.backward(t['dy'])",
            "    out = {'y': y.detach().numpy()}",
            "    for k in ('x', 'w', 'b'):",
            "        if k in t and t[k].grad is not None:",
            "            out['d' + k] = t[k].grad.numpy()",
            "    return out",
        ]
        return "\n".join(lines) + "\n"

    def _call_source(self, plan: Plan, case: Case) -> list[str]:
        if isinstance(case, ConvCase):
            kw = f"stride={case.stride}, padding={plan.padding!r}, dilation={case.dilation}, groups={case.groups}"
            bias = "t.get('b')"
            if plan.api == "functional":
                return [f"y = F.conv{case.nd}d(x, t['w'], {bias}, {kw})"]
            return [
                f"layer = torch.nn.Conv{case.nd}d({case.x_shape[1]}, {case.w_shape[0]}, {case.kernel}, {kw}, "
                f"bias={case.bias}, dtype=t['w'].dtype)",
                "params = {'weight': t['w'], **({'bias': t['b']} if 'b' in t else {})}",
                "y = torch.func.functional_call(layer, params, (x,))",
            ]
        if isinstance(case, ConvTransposeCase):
            assert isinstance(plan, TorchPlan)
            kw = (
                f"stride={case.stride}, padding={plan.padding!r}, output_padding={plan.output_padding}, "
                f"groups={case.groups}, dilation={case.dilation}"
            )
            if plan.api == "functional":
                lines = [f"y = F.conv_transpose{case.nd}d(x, t['w'], t.get('b'), {kw})"]
            else:
                lines = [
                    f"layer = torch.nn.ConvTranspose{case.nd}d({case.x_shape[1]}, {case.out_channels}, {case.kernel}, "
                    f"{kw}, bias={case.bias}, dtype=t['w'].dtype)",
                    "params = {'weight': t['w'], **({'bias': t['b']} if 'b' in t else {})}",
                    "y = torch.func.functional_call(layer, params, (x,))",
                ]
            if plan.crop is not None:
                cut = ", ".join(f"{start}:{start + n}" for start, n in plan.crop)
                lines.append(f"y = y[:, :, {cut}]")
            return lines
        if isinstance(case, PoolCase):
            extra = f"dilation={case.dilation}" if case.kind == "max" else f"count_include_pad={case.count_include_pad}"
            stride = "" if case.stride is None else f"stride={case.stride}, "
            kw = f"{stride}padding={plan.padding!r}, ceil_mode={case.ceil_mode}, {extra}"
            if plan.api == "functional":
                return [f"y = F.{case.kind}_pool{case.nd}d(x, {case.kernel}, {kw})"]
            return [f"y = torch.nn.{case.kind.capitalize()}Pool{case.nd}d({case.kernel}, {kw})(x)"]
        if isinstance(case, DepthPoolCase):
            reduce = "amax" if case.mode == "max" else "mean"
            return [f"y = x.unfold(1, {case.pool_size}, {case.resolved_stride}).{reduce}(dim=-1)"]
        assert isinstance(case, GlobalPoolCase)
        if plan.api == "functional":
            reduce = "torch.amax" if case.mode == "max" else "torch.mean"
            return [f"y = {reduce}(x, dim={tuple(range(2, case.nd + 2))}, keepdim={case.keepdims})"]
        flatten = "" if case.keepdims else ".flatten(1)"
        return [f"y = torch.nn.Adaptive{case.mode.capitalize()}Pool{case.nd}d(1)(x){flatten}"]

    # ------------------------------------------------------- shapes, params
    def output_shape(self, case: Case, api: str) -> tuple[int, ...] | None:
        """Shape from running the planned op on PyTorch's ``meta`` device (no data, no compute)."""
        plan = self.support(case, api, "float32")
        if isinstance(plan, Unsupported):
            return None
        meta = {"x": torch.empty(case.x_shape, device="meta")}
        if isinstance(case, (ConvCase, ConvTransposeCase)):
            meta["w"] = torch.empty(case.w_shape, device="meta")
            if case.bias:
                meta["b"] = torch.empty(case.out_shape[1], device="meta")
        return tuple(self._forward(plan, meta).shape)

    def layer_params(self, case: Case, api: str) -> tuple[int, int] | None:
        if api != "layer":
            return None
        if isinstance(case, ConvCase):
            module: torch.nn.Module = self._conv_layer(case, "valid", torch.float32)
        elif isinstance(case, ConvTransposeCase):
            module = self._conv_transpose_layer(case, 0, (0,) * case.nd, torch.float32)
        elif isinstance(case, (PoolCase, GlobalPoolCase)):
            cls = getattr(torch.nn, _module_name(case).rpartition(".")[2])
            module = cls(case.kernel if isinstance(case, PoolCase) else 1)
        else:
            return None
        trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
        frozen = sum(p.numel() for p in module.parameters() if not p.requires_grad)
        return trainable, frozen
