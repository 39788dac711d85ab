"""The one interface every framework adapter implements.

Data crosses the boundary as channels-first NumPy arrays of the dtype under test; the adapter owns
every layout change (NHWC, HWIO, depthwise kernels) and every translation from canonical padding
(:func:`convequiv.reference.resolve_padding`) to the framework's own spelling. An adapter exposes one or more
*APIs* (e.g. ``"functional"`` for ``torch.nn.functional`` and ``"layer"`` for ``torch.nn`` modules);
the suite checks each.

For every (case, api, dtype) an adapter answers :meth:`Adapter.support`: :data:`SUPPORTED` or an
:class:`Unsupported` with a reason and the evidence the suite checks:

* ``evidence="refuses"``: :meth:`Adapter.attempt` makes the native call, which must raise;
* ``evidence="lacks"``: the framework callable ``target`` (dotted path) has no ``parameter``;
* ``evidence="unsafe"``: running the case can corrupt the process (the framework writes outside
  its buffers), so it is not run; :meth:`Adapter.probe_hazard` shows the hazard without triggering
  it and returns what it saw (and fails once the framework is fixed).

:meth:`Adapter.semantics` declares which variant of a contested semantic the framework implements
for a case (max-gradient tie policy, NaN policy); the suite proves each declaration.
"""

from __future__ import annotations

import importlib
import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from convequiv.reference.cases import Case, ConvCase, PoolCase


@dataclass(frozen=True)
class Supported:
    """The adapter can express the case in the framework."""

    how: str = ""

    def __bool__(self) -> bool:
        return True


SUPPORTED = Supported()


@dataclass(frozen=True)
class Unsupported:
    """The framework cannot express the case; ``evidence`` says how the suite verifies that."""

    reason: str
    evidence: str = "refuses"
    target: str = ""
    parameter: str = ""

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return f"unsupported: {self.reason}"


Support = Supported | Unsupported


@dataclass(frozen=True)
class Semantics:
    """Variants of contested semantics a framework implements for one case."""

    ties: str = "first"
    nan: str = "propagate"


class UnsupportedCase(Exception):
    """Raised by :meth:`Adapter.run` when called with a case that :meth:`support` rejects."""


class Adapter(ABC):
    """One framework (or one Keras backend) behind the common interface."""

    #: Adapter name as selected by ``--adapters`` (e.g. ``"torch"``, ``"keras[jax]"``).
    name: ClassVar[str]
    #: Distribution names whose versions the report header prints.
    distributions: ClassVar[tuple[str, ...]] = ()
    #: The framework entry points checked, e.g. ``("functional", "layer")``.
    apis: ClassVar[tuple[str, ...]] = ("functional",)
    dtypes: ClassVar[tuple[str, ...]] = ("float32", "float64")
    #: True where every new case costs a compilation (XLA: ``jax``, ``keras[jax]``), 0.1-0.5 s on a
    #: CPU against well under 1 ms to run it; the suite then draws the profile's smaller
    #: ``compiled_examples`` budget per property for this adapter (``--compiled-examples``).
    compiles_per_case: ClassVar[bool] = False

    def apis_for(self, op: str) -> tuple[str, ...]:
        """The APIs through which this adapter runs ``op`` (default: all of :attr:`apis`)."""
        return self.apis

    def versions(self) -> dict[str, str]:
        """Installed versions of :attr:`distributions`, keyed by import name (``"not installed"``
        when absent); recorded divergences state their version ranges with the same keys."""
        from importlib import metadata

        found = {}
        for dist in self.distributions:
            try:
                found[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                found[dist] = "not installed"
        return found

    def describe(self) -> str:
        """One line for the report header."""
        return ", ".join(f"{k} {v}" for k, v in self.versions().items())

    def warm_up(self) -> None:  # noqa: B027 - optional hook
        """Import the framework and run one tiny op of each kind (called once per session)."""

    @abstractmethod
    def support(self, case: Case, api: str, dtype: str) -> Support:
        """Whether this adapter can run ``case`` through ``api`` in ``dtype``."""

    def semantics(self, case: Case, api: str) -> Semantics:
        """Declared tie and NaN policies of the framework op used for ``case``."""
        return Semantics()

    @abstractmethod
    def run(self, case: Case, inputs: dict[str, np.ndarray], api: str) -> dict[str, np.ndarray]:
        """Forward and backward of ``case`` on channels-first ``inputs`` (``x``, ``dy``, and for
        convolutions ``w`` and optionally ``b``) of the dtype under test.

        Returns channels-first arrays: ``y`` and ``dx``, plus ``dw`` (and ``db`` with a bias) for
        convolutions; gradients are those of ``sum(dy * y)`` through the framework's autodiff.
        """

    def attempt(self, case: Case, inputs: dict[str, np.ndarray], api: str) -> object:
        """Make the native call for a case declared ``Unsupported(evidence="refuses")``.

        It must raise; an adapter that claims a refusal overrides this.
        """
        raise NotImplementedError(f"{self.name} claims a refusal for {case!r} but has no attempt()")

    def probe_hazard(self, case: Case, inputs: dict[str, np.ndarray], api: str) -> str:
        """For a case declared ``Unsupported(evidence="unsafe")``: show, safely, what makes running
        it dangerous and describe it. Raises ``AssertionError`` when the hazard is not there."""
        raise AssertionError(f"{self.name} claims {case!r} is unsafe to run but has no probe_hazard()")

    def output_shape(self, case: Case, api: str) -> tuple[int, ...] | None:
        """The output shape the framework *computes* without running the op (e.g. a layer's
        ``compute_output_shape``); ``None`` when the API has no such function."""
        return None

    def layer_params(self, case: Case, api: str) -> tuple[int, int] | None:
        """``(trainable, non_trainable)`` parameter counts of the layer built for ``case``, or
        ``None`` when ``api`` builds no layer object."""
        return None

    def prove_unsupported(self, verdict: Unsupported, case: Case, inputs: dict[str, np.ndarray], api: str) -> str:
        """Check an ``Unsupported`` claim against the framework; return the evidence found.

        Raises ``AssertionError`` when the framework does, in fact, accept the case.
        """
        if verdict.evidence == "lacks":
            module_name, _, attr = verdict.target.rpartition(".")
            target = getattr(importlib.import_module(module_name), attr)
            params = inspect.signature(target).parameters
            assert verdict.parameter not in params, (
                f"{self.name}: claims {verdict.target} has no parameter {verdict.parameter!r}, but it does"
            )
            return f"{verdict.target} has no parameter {verdict.parameter!r}"
        if verdict.evidence == "unsafe":
            return self.probe_hazard(case, inputs, api)
        if type(self).attempt is Adapter.attempt:
            raise AssertionError(f"{self.name} claims a refusal for {case!r} but has no attempt()")
        try:
            self.attempt(case, inputs, api)
        except Exception as exc:  # the framework's own refusal, whatever its type
            text = str(exc).strip()
            return f"{type(exc).__name__}: {text.splitlines()[0][:200] if text else ''}"
        raise AssertionError(f"{self.name}: claims the framework refuses {case!r} ({verdict.reason}), but it ran")


def explicit_pads(case: ConvCase | PoolCase) -> tuple[tuple[int, int], ...]:
    """The case's padding resolved to explicit ``(lo, hi)`` pairs."""
    return case.pads


def symmetric(case: ConvCase | PoolCase) -> bool:
    """Whether the resolved padding is the same on both sides of every dimension."""
    return all(lo == hi for lo, hi in case.pads)
