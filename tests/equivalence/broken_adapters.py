"""Deliberately wrong PyTorch adapters: each carries one classic bug the suite must catch.

They are also usable from the command line, e.g.
``pytest convequiv/suite --adapters tests.equivalence.broken_adapters:FlippedKernel``.
"""

from __future__ import annotations

import os
from dataclasses import replace

import torch

from convequiv.adapters.base import Semantics, Unsupported
from convequiv.adapters.torch_adapter import TorchAdapter, TorchPlan


class SameLowerInsteadOfSame(TorchAdapter):
    """Puts the odd padding cell of "same" at the start (SAME_LOWER) instead of the end."""

    name = "broken[same-lower]"

    def _conv_plan(self, case, api, dtype):
        if case.padding == "same":
            swapped = tuple((hi, lo) for lo, hi in case.pads)
            return TorchPlan(case, api, dtype, "pre-pad", "conv", (0,) * case.nd, prepad=swapped)
        return super()._conv_plan(case, api, dtype)


class FlippedKernel(TorchAdapter):
    """Computes a true convolution (kernel flipped) instead of cross-correlation."""

    name = "broken[flipped-kernel]"

    def _conv(self, plan, case, x, w, b):
        return super()._conv(plan, case, x, torch.flip(w, dims=tuple(range(2, w.ndim))), b)


class TransposedKernel(TorchAdapter):
    """Swaps the two spatial kernel axes of 2-D convolutions (an HWIO / OIHW mix-up)."""

    name = "broken[transposed-kernel]"

    def _conv(self, plan, case, x, w, b):
        if case.nd == 2 and case.w_shape[2] == case.w_shape[3]:
            w = w.transpose(2, 3)
        return super()._conv(plan, case, x, w, b)


class ZeroPaddedMaxPool(TorchAdapter):
    """Pads max pooling with zeros, as one of the notes claims PyTorch does."""

    name = "broken[zero-padded-max-pool]"

    def _pool_plan(self, case, api, dtype):
        plan = super()._pool_plan(case, api, dtype)
        if case.kind == "max" and any(lo or hi for lo, hi in case.pads) and not isinstance(plan, Unsupported):
            return TorchPlan(case, api, dtype, "pre-pad", plan.call, (0,) * case.nd, prepad=case.pads, pad_value=0.0)
        return plan


class IgnoresCountIncludePad(TorchAdapter):
    """Always divides average-pool windows by the full kernel size."""

    name = "broken[ignores-count-include-pad]"

    def _pool_plan(self, case, api, dtype):
        return super()._pool_plan(replace(case, count_include_pad=True), api, dtype)


class WrongTiePolicy(TorchAdapter):
    """Declares that max pooling splits tied gradients, which PyTorch does not do."""

    name = "broken[wrong-tie-policy]"

    def semantics(self, case, api):
        return Semantics(ties="split") if case.op == "max_pool" else super().semantics(case, api)


class FalseRefusal(TorchAdapter):
    """Claims PyTorch refuses grouped convolutions (it does not)."""

    name = "broken[false-refusal]"

    def support(self, case, api, dtype):
        plan = super().support(case, api, dtype)
        if case.op == "conv" and case.groups > 1 and not isinstance(plan, Unsupported):
            return Unsupported("grouped convolution", evidence="refuses", attempt=plan)
        return plan


class HalfPrecisionGradient(TorchAdapter):
    """Rounds the weight gradient through float16, a silent precision loss."""

    name = "broken[half-precision-gradient]"

    def run(self, plan, inputs):
        out = super().run(plan, inputs)
        if "dw" in out:
            out["dw"] = out["dw"].astype("float16").astype(out["dw"].dtype)
        return out


class DropsCeilModeWindow(TorchAdapter):
    """Ignores ceil_mode (floors the output size)."""

    name = "broken[drops-ceil-mode]"

    def _pool(self, plan, case, x):
        return super()._pool(plan, replace(case, ceil_mode=False), x)


class GroupedWeightGradient(TorchAdapter):
    """Scales the weight gradient of grouped convolutions: one narrow bug for ``convequiv hunt``."""

    name = "broken[grouped-weight-gradient]"
    dtypes = ("float32", "float64")  # the campaign's budget goes to the planted bug, not to half precision

    def run(self, plan, inputs):
        out = super().run(plan, inputs)
        if plan.case.op == "conv" and plan.case.groups > 1:
            out["dw"] = out["dw"] * 1.5
        return out

    def reproduction(self, plan):
        """The call PyTorch makes, with the planted bug: this adapter stands in for a broken framework."""
        source = super().reproduction(plan)
        if plan.case.op != "conv" or plan.case.groups == 1:
            return source
        return source + (
            "\n\n_torch_outputs = framework_outputs\n\n\n"
            "def framework_outputs(inputs):\n"
            "    out = _torch_outputs(inputs)\n"
            "    out['dw'] = out['dw'] * 1.5\n"
            "    return out\n"
        )


class BugInAdapterCode(TorchAdapter):
    """Claims a refusal whose 'evidence' is a crash of its own code, not of PyTorch."""

    name = "broken[bug-as-refusal]"

    def support(self, case, api, dtype):
        plan = super().support(case, api, dtype)
        if case.op == "conv" and case.bias and not isinstance(plan, Unsupported):
            return Unsupported("bias", evidence="refuses", attempt=replace(plan, call="not a callable"))
        return plan

    def _conv(self, plan, case, x, w, b):
        if plan.call == "not a callable":
            raise KeyError("the adapter's own lookup failed")
        return super()._conv(plan, case, x, w, b)


class AbortsOnGroups(TorchAdapter):
    """Kills its process (SIGABRT) on grouped convolutions, as a framework with a CHECK failure or heap
    corruption does: for ``convequiv hunt``, not in :data:`BROKEN` (it would end the test session)."""

    name = "broken[aborts-on-groups]"
    dtypes = ("float32",)

    def run(self, plan, inputs):
        if plan.case.op == "conv" and plan.case.groups > 1:
            os.abort()
        return super().run(plan, inputs)


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
    GroupedWeightGradient,
    BugInAdapterCode,
)
