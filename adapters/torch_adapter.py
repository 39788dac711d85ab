"""PyTorch: ``torch.nn.functional`` (api ``"functional"``) and ``torch.nn`` modules (api ``"layer"``).

Layouts are PyTorch's own (channels-first, weights ``(O, C / groups, *kernel)``), so no transposes.

Padding translation (canonical -> PyTorch):

* convolution: ``"valid"`` and symmetric explicit padding map to ``padding=`` directly; ``"same"``
  maps to ``padding="same"`` at stride 1 (PyTorch puts the odd cell at the end, like SAME_UPPER);
  everything else (``"same"`` with stride > 1, which PyTorch refuses, ``"same_lower"``,
  asymmetric pairs) becomes ``F.pad`` followed by an unpadded convolution;
* pooling takes only symmetric padding of at most ``kernel // 2`` (not the effective kernel). Other paddings are
  applied with ``F.pad`` (``-inf`` for max, zeros for average with ``count_include_pad=True``)
  when that gives exactly the canonical windows — always without ``ceil_mode``, and with it when
  the output shape is unchanged (``ceil_mode`` drops a last window that starts in the *right*
  padding, which a pre-padded input no longer distinguishes). Otherwise the case is unsupported.

Refusals: ``avg_pool3d`` rejects an (unpadded) input smaller than the kernel, although the padded
input holds every window (``avg_pool1d``/``2d`` accept the same geometry).

Contested semantics (PyTorch CPU kernels): max pooling and adaptive max pooling send the gradient
to the first maximum (``val > maxval`` in row-major order); ``amax`` splits it evenly among tied
maxima (documented in ``torch.amax``). NaN propagates through every max.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from convequiv.reference.cases import Case, ConvCase, DepthPoolCase, GlobalPoolCase, PoolCase
from convequiv.reference.geometry import window_geometry

from .base import SUPPORTED, Adapter, Semantics, Support, Supported, Unsupported

_TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _flat_pad(pads: tuple[tuple[int, int], ...]) -> list[int]:
    """``F.pad`` order: last dimension first, ``(lo, hi)`` each."""
    return [v for lo, hi in reversed(pads) for v in (lo, hi)]


def _padding_only_windows(case: PoolCase) -> np.ndarray:
    """Boolean mask over the output ``(N, C, *out)``: windows that read no input element."""
    return case.window_counts(np.ones(case.x_shape, dtype=bool)) == 0


class TorchAdapter(Adapter):
    name = "torch"
    distributions = ("torch",)
    apis = ("functional", "layer")

    def apis_for(self, op: str) -> tuple[str, ...]:
        # torch.nn has no channel-pooling module; depth pooling is written with tensor ops.
        return ("functional",) if op == "depth_pool" else self.apis

    def warm_up(self) -> None:
        x = torch.zeros(1, 1, 4, 4, requires_grad=True)
        F.max_pool2d(F.conv2d(x, torch.ones(1, 1, 2, 2)), 2).sum().backward()

    # ------------------------------------------------------------------ support
    def _pool_translation(self, case: PoolCase) -> Support:
        """How a pooling case reaches PyTorch (see module docstring)."""
        pads = case.pads
        if case.kind == "avg" and case.nd == 3 and any(n < k for n, k in zip(case.x_shape[2:], case.kernel)):
            return Unsupported(
                "avg_pool3d refuses an input smaller than the kernel, even when padding makes every window fit"
            )
        native = all(lo == hi and lo <= k // 2 for (lo, hi), k in zip(pads, case.kernel))
        if native and case.kind == "max" and _padding_only_windows(case).any():
            return Unsupported(
                "a window reads only padding (dilation steps over every input element): PyTorch's CPU "
                "max pooling returns an index outside that window and its backward adds the gradient "
                "there, past the end of the gradient buffer for the last windows (heap corruption, "
                "abort); not run. pytorch/pytorch#114216 reports the -inf forward of such windows",
                evidence="unsafe",
            )
        if native:
            return Supported("native padding")
        if case.kind == "avg" and not case.count_include_pad:
            return Unsupported(
                "average pooling with count_include_pad=False needs symmetric padding of at most "
                "half the kernel; a pre-padded input would count the padding"
            )
        if case.ceil_mode:
            prepadded = window_geometry(
                case.op,
                tuple(n + lo + hi for n, (lo, hi) in zip(case.x_shape[2:], pads)),
                case.kernel,
                stride=case.resolved_stride,
                padding=0,
                dilation=case.dilation,
                ceil_mode=True,
            )
            if prepadded.out != case.out_shape[2:]:
                return Unsupported(
                    "ceil_mode with padding PyTorch cannot take natively: pre-padding would change "
                    "which last window ceil_mode drops"
                )
        return Supported("F.pad, then pooling without padding")

    def support(self, case: Case, api: str, dtype: str) -> Support:
        if case.nd > 3:
            return Unsupported(f"PyTorch has no {case.nd}-D convolution or pooling")
        if isinstance(case, ConvCase):
            return SUPPORTED
        if isinstance(case, PoolCase):
            return self._pool_translation(case)
        if isinstance(case, (DepthPoolCase, GlobalPoolCase)):
            return SUPPORTED
        return Unsupported(f"unknown case type {type(case).__name__}")

    def semantics(self, case: Case, api: str) -> Semantics:
        if isinstance(case, DepthPoolCase):
            return Semantics(ties="split")  # torch.amax
        if isinstance(case, GlobalPoolCase) and api == "functional":
            return Semantics(ties="split")  # torch.amax over the spatial axes
        return Semantics(ties="first")

    def attempt(self, case: Case, inputs: dict[str, np.ndarray], api: str) -> object:
        """The native call PyTorch must refuse: pooling with padding it cannot take directly, or an
        op of a rank PyTorch does not have."""
        x = torch.from_numpy(inputs["x"])
        if not isinstance(case, PoolCase):
            return getattr(F, f"{case.op}{case.nd}d")(x, torch.from_numpy(inputs["w"]))
        pads = case.pads
        padding = tuple(lo for lo, _ in pads) if all(lo == hi for lo, hi in pads) else pads
        pool = getattr(F, f"{case.kind}_pool{case.nd}d")
        kw = {"dilation": case.dilation} if case.kind == "max" else {"count_include_pad": case.count_include_pad}
        return pool(x, case.kernel, case.stride, padding, ceil_mode=case.ceil_mode, **kw)

    def probe_hazard(self, case: Case, inputs: dict[str, np.ndarray], api: str) -> str:
        """The forward's ``return_indices`` (the forward writes only its outputs, so it is safe): each
        window that reads only padding must get an index outside the window for the hazard to hold."""
        assert isinstance(case, PoolCase) and case.kind == "max"
        padding = tuple(lo for lo, _ in case.pads)
        pool = getattr(F, f"max_pool{case.nd}d")
        x = torch.from_numpy(inputs["x"])
        _, indices = pool(x, case.kernel, case.stride, padding, case.dilation, case.ceil_mode, return_indices=True)
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

    # ---------------------------------------------------------------------- run
    def run(self, case: Case, inputs: dict[str, np.ndarray], api: str) -> dict[str, np.ndarray]:
        tensors = {
            k: torch.from_numpy(np.ascontiguousarray(v)).requires_grad_(k in ("x", "w", "b")) for k, v in inputs.items()
        }
        y = self._forward(case, tensors, api)
        y.backward(tensors["dy"])
        out = {"y": y.detach().numpy(), "dx": tensors["x"].grad.numpy()}
        for name in ("w", "b"):
            if name in tensors:
                out[f"d{name}"] = tensors[name].grad.numpy()
        return out

    def _forward(self, case: Case, t: dict[str, torch.Tensor], api: str) -> torch.Tensor:
        if isinstance(case, ConvCase):
            return self._conv(case, t, api)
        if isinstance(case, PoolCase):
            return self._pool(case, t["x"], api)
        if isinstance(case, DepthPoolCase):
            return self._depth_pool(case, t["x"])
        assert isinstance(case, GlobalPoolCase)
        return self._global_pool(case, t["x"], api)

    def _conv_padding(self, case: ConvCase) -> tuple[object, list[int] | None]:
        """``(padding argument, F.pad widths or None)`` for a convolution."""
        if case.padding == "valid":
            return "valid", None
        if case.padding == "same" and all(s == 1 for s in case.stride):
            return "same", None
        pads = case.pads
        if all(lo == hi for lo, hi in pads):
            return tuple(lo for lo, _ in pads), None
        return 0, _flat_pad(pads)

    def _conv(self, case: ConvCase, t: dict[str, torch.Tensor], api: str) -> torch.Tensor:
        padding, prepad = self._conv_padding(case)
        x = F.pad(t["x"], prepad) if prepad else t["x"]
        w, b = t["w"], t.get("b")
        if api == "functional":
            conv = getattr(F, f"conv{case.nd}d")
            return conv(x, w, b, stride=case.stride, padding=padding, dilation=case.dilation, groups=case.groups)
        layer = self._conv_layer(case, padding, w.dtype)
        # The module's own parameters are replaced by the leaf tensors whose gradients we read.
        return torch.func.functional_call(layer, {"weight": w, **({"bias": b} if b is not None else {})}, (x,))

    def _conv_layer(self, case: ConvCase, padding: object, dtype: torch.dtype) -> torch.nn.Module:
        cls = getattr(torch.nn, f"Conv{case.nd}d")
        return cls(
            case.x_shape[1],
            case.w_shape[0],
            case.w_shape[2:],
            stride=case.stride,
            padding=padding,
            dilation=case.dilation,
            groups=case.groups,
            bias=case.bias,
            dtype=dtype,
        )

    def _pool(self, case: PoolCase, x: torch.Tensor, api: str) -> torch.Tensor:
        how = self._pool_translation(case)
        pads = case.pads
        if isinstance(how, Supported) and how.how.startswith("F.pad"):
            fill = -math.inf if case.kind == "max" else 0.0
            x = F.pad(x, _flat_pad(pads), value=fill)
            padding: tuple[int, ...] = (0,) * case.nd
        else:
            padding = tuple(lo for lo, _ in pads)
        extra = {"dilation": case.dilation} if case.kind == "max" else {"count_include_pad": case.count_include_pad}
        stride = {} if case.stride is None else {"stride": case.stride}
        if api == "functional":
            pool = getattr(F, f"{case.kind}_pool{case.nd}d")
            return pool(x, case.kernel, padding=padding, ceil_mode=case.ceil_mode, **stride, **extra)
        cls = getattr(torch.nn, f"{case.kind.capitalize()}Pool{case.nd}d")
        return cls(case.kernel, padding=padding, ceil_mode=case.ceil_mode, **stride, **extra)(x)

    def _depth_pool(self, case: DepthPoolCase, x: torch.Tensor) -> torch.Tensor:
        k = case.pool_size
        s = k if case.stride is None else case.stride
        windows = x.unfold(1, k, s)  # (N, C', *spatial, k)
        return windows.amax(dim=-1) if case.mode == "max" else windows.mean(dim=-1)

    def _global_pool(self, case: GlobalPoolCase, x: torch.Tensor, api: str) -> torch.Tensor:
        dims = tuple(range(2, x.ndim))
        if api == "functional":
            reduce = torch.amax if case.mode == "max" else torch.mean
            return reduce(x, dim=dims, keepdim=case.keepdims)
        cls = getattr(torch.nn, f"Adaptive{case.mode.capitalize()}Pool{case.nd}d")
        y = cls(1)(x)
        return y if case.keepdims else torch.flatten(y, 1)

    # ------------------------------------------------------------ shapes, params
    def output_shape(self, case: Case, api: str) -> tuple[int, ...] | None:
        """Shape from running the op on PyTorch's ``meta`` device (no data, no compute)."""
        meta = {"x": torch.empty(case.x_shape, device="meta")}  # type: ignore[attr-defined]
        if isinstance(case, ConvCase):
            meta["w"] = torch.empty(case.w_shape, device="meta")
            if case.bias:
                meta["b"] = torch.empty(case.w_shape[0], device="meta")
        return tuple(self._forward(case, meta, api).shape)

    def layer_params(self, case: Case, api: str) -> tuple[int, int] | None:
        if api != "layer":
            return None
        if isinstance(case, ConvCase):
            padding, _ = self._conv_padding(case)
            module: torch.nn.Module = self._conv_layer(case, padding, torch.float32)
        elif isinstance(case, PoolCase):
            module = getattr(torch.nn, f"{case.kind.capitalize()}Pool{case.nd}d")(case.kernel)
        elif isinstance(case, GlobalPoolCase):
            module = getattr(torch.nn, f"Adaptive{case.mode.capitalize()}Pool{case.nd}d")(1)
        else:
            return None
        trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
        frozen = sum(p.numel() for p in module.parameters() if not p.requires_grad)
        return trainable, frozen
