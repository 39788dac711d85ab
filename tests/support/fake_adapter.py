"""NumPy-only adapters used to test the adapter machinery (loading, plans, proofs of refusals, the
worker process, divergence records, forward-only outputs, the 0.1 interface shim), not
equivalence: they answer with the reference's own results, so they are never used to check
frameworks. Their "framework" is NumPy: a refusal counts when NumPy raises it."""

from __future__ import annotations

import os

import numpy as np

from convequiv.adapters.base import SUPPORTED, Adapter, Plan, Unsupported
from convequiv.reference.cases import Inputs


class EchoAdapter(Adapter):
    name = "echo"
    apis = ("only",)
    frameworks = ("numpy",)

    def versions(self):
        return {"pid": str(os.getpid()), "CONVEQUIV_FAKE": os.environ.get("CONVEQUIV_FAKE", "")}

    def support(self, case, api, dtype):
        return Plan(case, api, dtype, "echo", "reference")

    def run(self, plan, inputs):
        if plan.case.op == "global_avg_pool":
            raise ValueError("echo refuses global_avg_pool")
        return plan.case.expected(Inputs(**inputs))


class ForwardOnlyEcho(EchoAdapter):
    """A runtime without gradients: it produces ``y`` only."""

    name = "echo-forward"
    produces = frozenset({"y"})

    def run(self, plan, inputs):
        return {"y": plan.case.expected(Inputs(**inputs))["y"]}


class ShiftedEcho(EchoAdapter):
    """Adds 1 to ``y`` and ``dx`` of max pooling: two outputs differ, as two records describe."""

    name = "echo-shifted"

    def run(self, plan, inputs):
        out = dict(super().run(plan, inputs))
        if plan.case.op == "max_pool":
            out["y"], out["dx"] = out["y"] + 1, out["dx"] + 1
        return out


class CrashingEcho(EchoAdapter):
    """Its framework (NumPy) raises for every average pooling."""

    name = "echo-crash"

    def run(self, plan, inputs):
        if plan.case.op == "avg_pool":
            np.reshape(np.zeros(3), (2, 2))  # raises inside NumPy
        return super().run(plan, inputs)


class RefusingEcho(EchoAdapter):
    """Claims NumPy refuses average pooling; ``attempt`` runs a plan whose NumPy call raises."""

    name = "echo-refusing"

    def support(self, case, api, dtype):
        plan = super().support(case, api, dtype)
        if case.op == "avg_pool":
            return Unsupported("NumPy refuses", attempt=Plan(case, api, dtype, "attempt", "np.reshape"))
        return plan

    def run(self, plan, inputs):
        if plan.route == "attempt":
            np.reshape(np.zeros(3), (2, 2))
        return super().run(plan, inputs)


class AdapterBugAsRefusal(RefusingEcho):
    """The same claim, but its 'evidence' is an error of its own code."""

    name = "echo-own-bug"

    def run(self, plan, inputs):
        if plan.route == "attempt":
            raise KeyError("a lookup in the adapter itself")
        return super().run(plan, inputs)


class OldStyleEcho(Adapter):
    """Written against convequiv 0.1: ``support`` -> SUPPORTED, ``run(case, inputs, api)``, ``attempt``."""

    name = "echo-0.1"
    apis = ("only",)

    def support(self, case, api, dtype):
        if case.op == "avg_pool":
            return Unsupported("NumPy refuses", evidence="refuses")
        return SUPPORTED

    def run(self, case, inputs, api):
        return case.expected(Inputs(**inputs))

    def attempt(self, case, inputs, api):
        return np.reshape(np.zeros(3), (2, 2))


class NotAnAdapter:
    """Something that is not an Adapter subclass."""
