"""A NumPy-only adapter used to test the adapter machinery (loading, the worker process), not
equivalence: it answers with the reference's own results, so it is never used to check frameworks."""

from __future__ import annotations

import os

from convequiv.adapters.base import SUPPORTED, Adapter
from convequiv.reference.cases import Inputs


class EchoAdapter(Adapter):
    name = "echo"
    apis = ("only",)

    def versions(self):
        return {"pid": str(os.getpid()), "CONVEQUIV_FAKE": os.environ.get("CONVEQUIV_FAKE", "")}

    def support(self, case, api, dtype):
        return SUPPORTED

    def run(self, case, inputs, api):
        if case.op == "global_avg_pool":
            raise ValueError("echo refuses global_avg_pool")
        return case.expected(Inputs(**inputs))


class NotAnAdapter:
    """Something that is not an Adapter subclass."""
