"""Deliberately wrong PyTorch adapters: each carries one classic bug the suite must catch.

They are also usable from the command line, e.g.
``pytest tests/equivalence --adapters tests.equivalence.broken_adapters:FlippedKernel``.
"""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F

from convequiv.adapters.base import Semantics, Unsupported
from convequiv.adapters.torch_adapter import TorchAdapter, _flat_pad


class SameLowerInsteadOfSame(TorchAdapter):
    """Puts the odd padding cell of "same" at the start (SAME_LOWER) instead of the end."""

    name = "broken[same-lower]"

    def _conv_padding(self, case):
        if case.padding == "same":
            return 0, _flat_pad(tuple((hi, lo) for lo, hi in case.pads))
        return super()._conv_padding(case)


class FlippedKernel(TorchAdapter):
    """Computes a true convolution (kernel flipped) instead of cross-correlation."""

    name = "broken[flipped-kernel]"

    def _conv(self, case, t, api):
        flipped = dict(t, w=torch.flip(t["w"], dims=tuple(range(2, t["w"].ndim))))
        return super()._conv(case, flipped, api)


class TransposedKernel(TorchAdapter):
    """Swaps the two spatial kernel axes of 2-D convolutions (an HWIO / OIHW mix-up)."""

    name = "broken[transposed-kernel]"

    def _conv(self, case, t, api):
        if case.nd == 2 and case.w_shape[2] == case.w_shape[3]:
            t = dict(t, w=t["w"].transpose(2, 3))
        return super()._conv(case, t, api)


class ZeroPaddedMaxPool(TorchAdapter):
    """Pads max pooling with zeros, as one of the notes claims PyTorch does."""

    name = "broken[zero-padded-max-pool]"

    def _pool(self, case, x, api):
        if case.kind == "max" and any(lo or hi for lo, hi in case.pads):
            x = F.pad(x, _flat_pad(case.pads), value=0.0)
            case = replace(case, padding=0, x_shape=tuple(x.shape))
        return super()._pool(case, x, api)


class IgnoresCountIncludePad(TorchAdapter):
    """Always divides average-pool windows by the full kernel size."""

    name = "broken[ignores-count-include-pad]"

    def _pool_translation(self, case):
        return super()._pool_translation(replace(case, count_include_pad=True))

    def _pool(self, case, x, api):
        return super()._pool(replace(case, count_include_pad=True), x, api)


class WrongTiePolicy(TorchAdapter):
    """Declares that max pooling splits tied gradients, which PyTorch does not do."""

    name = "broken[wrong-tie-policy]"

    def semantics(self, case, api):
        return Semantics(ties="split") if case.op == "max_pool" else super().semantics(case, api)


class FalseRefusal(TorchAdapter):
    """Claims PyTorch refuses grouped convolutions (it does not)."""

    name = "broken[false-refusal]"

    def support(self, case, api, dtype):
        if case.op == "conv" and case.groups > 1:
            return Unsupported("grouped convolution", evidence="refuses")
        return super().support(case, api, dtype)

    def attempt(self, case, inputs, api):
        conv = getattr(F, f"conv{case.nd}d")
        return conv(torch.from_numpy(inputs["x"]), torch.from_numpy(inputs["w"]), groups=case.groups)


class HalfPrecisionGradient(TorchAdapter):
    """Rounds the weight gradient through float16, a silent precision loss."""

    name = "broken[half-precision-gradient]"

    def run(self, case, inputs, api):
        out = super().run(case, inputs, api)
        if "dw" in out:
            out["dw"] = out["dw"].astype("float16").astype(out["dw"].dtype)
        return out


class DropsCeilModeWindow(TorchAdapter):
    """Ignores ceil_mode (floors the output size)."""

    name = "broken[drops-ceil-mode]"

    def _pool(self, case, x, api):
        return super()._pool(replace(case, ceil_mode=False), x, api)


BROKEN = (
    SameLowerInsteadOfSame,
    FlippedKernel,
    TransposedKernel,
    ZeroPaddedMaxPool,
    IgnoresCountIncludePad,
    WrongTiePolicy,
    FalseRefusal,
    HalfPrecisionGradient,
    DropsCeilModeWindow,
)
