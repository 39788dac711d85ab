"""Adapters written against convequiv 0.1's interface keep working through :class:`LegacyAdapter`.

That interface: ``support(case, api, dtype)`` returned ``SUPPORTED`` (a
:class:`~convequiv.adapters.base.Supported`) or an ``Unsupported``; ``run(case, inputs, api)`` ran a
case; ``attempt(case, inputs, api)`` made the native call a refusal claim names; ``semantics``,
``probe_hazard``, ``output_shape`` and ``layer_params`` were as today. :func:`convequiv.adapters.load`
recognises such a class by its ``run(case, inputs, api)`` signature, wraps it here and warns
(``DeprecationWarning``) with the name of the current interface: ``support`` returning a
:class:`~convequiv.adapters.base.Plan` and ``run(plan, inputs)``.

A refusal of a wrapped adapter is proven by its ``attempt`` raising, where the innermost frame of
the error lies outside the adapter's own module (an error of the adapter is not a refusal).
"""

from __future__ import annotations

import inspect
import traceback
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Protocol, cast

from convequiv.reference.cases import Case

from .base import Adapter, Arrays, NotRefused, Plan, Semantics, Unsupported

#: The routes of a wrapped adapter's plans.
RUN, ATTEMPT = "legacy run", "legacy attempt"


def is_legacy(cls: type) -> bool:
    """Whether ``cls.run`` has the 0.1 signature ``run(self, case, inputs, api)``."""
    run = getattr(cls, "run", None)
    if run is None:
        return False
    return list(inspect.signature(run).parameters)[1:] == ["case", "inputs", "api"]


class Interface01(Protocol):
    """What :class:`LegacyAdapter` calls on an adapter written against convequiv 0.1."""

    name: str

    def apis_for(self, op: str) -> Iterable[str]: ...

    def versions(self) -> Mapping[str, str]: ...

    def warm_up(self) -> None: ...

    def support(self, case: Case, api: str, dtype: str) -> object:
        """``SUPPORTED`` (a :class:`~convequiv.adapters.base.Supported`) or an ``Unsupported``."""

    def semantics(self, case: Case, api: str) -> Semantics: ...

    def run(self, case: Case, inputs: Arrays, api: str) -> Arrays: ...

    def attempt(self, case: Case, inputs: Arrays, api: str) -> object: ...

    def probe_hazard(self, case: Case, inputs: Arrays, api: str) -> str: ...

    def output_shape(self, case: Case, api: str) -> tuple[int, ...] | None: ...

    def layer_params(self, case: Case, api: str) -> tuple[int, int] | None: ...


class LegacyAdapter(Adapter):
    """The current interface around an adapter object of convequiv 0.1 (module docstring)."""

    name = "legacy"

    def __init__(self, old: Interface01):
        self.old = old
        self.name = old.name  # type: ignore[misc]
        for attribute in ("distributions", "apis", "dtypes", "compiles_per_case"):
            setattr(self, attribute, getattr(old, attribute))
        warnings.warn(
            f"adapter {old.name!r} ({type(old).__module__}:{type(old).__qualname__}) implements convequiv 0.1's "
            "interface (support -> SUPPORTED, run(case, inputs, api), attempt); it runs through a shim. Implement "
            "convequiv.adapters.base.Adapter: support(case, api, dtype) -> Plan | Unsupported and run(plan, inputs)",
            DeprecationWarning,
            stacklevel=3,
        )

    def apis_for(self, op: str) -> tuple[str, ...]:
        return tuple(self.old.apis_for(op))

    def versions(self) -> dict[str, str]:
        return dict(self.old.versions())

    def warm_up(self) -> None:
        self.old.warm_up()

    def support(self, case: Case, api: str, dtype: str) -> Plan | Unsupported:
        answer = self.old.support(case, api, dtype)
        if isinstance(answer, Unsupported):
            if answer.evidence == "refuses":
                return replace(answer, attempt=Plan(case, api, dtype, ATTEMPT, f"{self.name}.attempt"))
            return answer
        how = getattr(answer, "how", "") or api
        return Plan(case, api, dtype, RUN, f"{self.name}: {how}")

    def semantics(self, case: Case, api: str) -> Semantics:
        return self.old.semantics(case, api)

    def run(self, plan: Plan, inputs: Arrays) -> Arrays:
        if plan.route == ATTEMPT:
            self.old.attempt(plan.case, inputs, plan.api)
            return {}
        return self.old.run(plan.case, inputs, plan.api)

    def probe_hazard(self, case: Case, inputs: Arrays, api: str) -> str:
        return self.old.probe_hazard(case, inputs, api)

    def output_shape(self, case: Case, api: str) -> tuple[int, ...] | None:
        return self.old.output_shape(case, api)

    def layer_params(self, case: Case, api: str) -> tuple[int, int] | None:
        return self.old.layer_params(case, api)

    def _refusal_evidence(self, verdict: Unsupported, exc: Exception) -> str:
        frames = traceback.extract_tb(exc.__traceback__)
        own = Path(inspect.getfile(type(self.old))).resolve()
        text = str(exc).strip()
        summary = f"{type(exc).__name__}: {text.splitlines()[0][:200] if text else ''}"
        if frames and Path(frames[-1].filename).resolve() == own:
            raise NotRefused(
                f"{self.name}: {summary} was raised in the adapter's own module {own.name}, not by the framework"
            ) from exc
        return summary


def wrap(adapter: Adapter) -> Adapter:
    """``adapter`` itself, or a :class:`LegacyAdapter` around it when it has the 0.1 interface."""
    if is_legacy(type(adapter)):
        # is_legacy found the 0.1 run(case, inputs, api), which the Adapter type cannot say
        return LegacyAdapter(cast(Interface01, adapter))
    return adapter


__all__ = ["ATTEMPT", "RUN", "Interface01", "LegacyAdapter", "is_legacy", "wrap"]
