"""The one interface every framework adapter implements.

Data crosses the boundary as channels-first NumPy arrays of the dtype under test; the adapter owns
every layout change and every translation from canonical padding to the framework's own spelling
(all written once, in :mod:`convequiv.adapters.translate`). An adapter exposes one or more *APIs*
(e.g. ``"functional"`` for ``torch.nn.functional`` and ``"layer"`` for ``torch.nn`` modules); the
suite checks each.

For every (case, api, dtype) an adapter decides once, in :meth:`Adapter.support`, how the case
reaches the framework: a :class:`Plan` (the callable, the padding argument, a pre-pad, the layouts)
or :class:`Unsupported` with a reason and the evidence the suite checks:

* ``evidence="refuses"``: running ``attempt`` (a plan of the native call) must raise *inside the
  framework*: the innermost frame of the traceback lies in one of :attr:`Adapter.frameworks`, or,
  where the framework raises from compiled code called directly by the adapter, the error message
  matches the declared ``message`` (a regular expression). An error of the adapter's own code is
  never taken as the framework's refusal;
* ``evidence="lacks"``: the framework callable ``target`` (dotted path) has no ``parameter`` (or,
  with no ``parameter``, the framework has no callable ``target`` at all);
* ``evidence="unsafe"``: running the case can corrupt the process (the framework writes outside
  its buffers), so it is not run; :meth:`Adapter.probe_hazard` shows the hazard without triggering
  it and returns what it saw (and fails once the framework is fixed).

:meth:`Adapter.run` executes a plan and never decides again. The plan is what failure messages and
reports show as "how the case reached the framework" (:meth:`Plan.describe`); its ``route`` names
the translation path, so the suite can show that every path was exercised.

:meth:`Adapter.semantics` declares which variant of a contested semantic the framework implements
for a case (max-gradient tie policy, NaN policy); the suite proves each declaration. An adapter
of a runtime without gradients declares ``produces = frozenset({"y"})``: the other outputs are
reported as not checked, never as agreeing.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import traceback
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from convequiv.reference.cases import Case
from convequiv.reference.geometry import Pads

Arrays = dict[str, np.ndarray]
#: Every output a check compares, in report order (``jvp``: the forward-mode derivative along tangent
#: inputs, for adapters that produce it).
OUTPUTS = ("y", "dx", "dw", "db", "jvp")
GRADIENTS = frozenset({"y", "dx", "dw", "db"})
#: The ops an adapter runs unless it names more in :attr:`Adapter.ops`: those of convequiv 0.1, so that
#: an adapter written before an op existed is never handed cases of it.
CLASSIC_OPS = frozenset({"conv", "max_pool", "avg_pool", "depth_pool", "global_max_pool", "global_avg_pool"})


@dataclass(frozen=True)
class Plan:
    """How one case reaches the framework, decided once by :meth:`Adapter.support`.

    ``route`` is a short, stable name of the translation path (``"native"``, ``"pre-pad"``, ...),
    ``call`` the framework callable as a user would write it, ``padding`` the padding argument it
    receives, ``prepad`` the explicit ``(lo, hi)`` pairs a pad op applies first (filled with
    ``pad_value``), ``layout`` and ``kernel_layout`` the layouts handed to the framework.
    ``kernels`` names the CPU kernel library the framework picks for this plan where the machine
    decides it (TensorFlow: ``"onednn"`` or ``"eigen"``, see
    :func:`convequiv.adapters.tensorflow_adapter.kernels_for`); ``""`` where it does not vary.
    Divergence conditions read it as ``kernels``. Adapters subclass it to carry what their ``run``
    needs.
    """

    case: Case
    api: str
    dtype: str
    route: str
    call: str
    padding: object = None
    prepad: Pads | None = None
    pad_value: float = 0.0
    layout: str = "channels_first"
    kernel_layout: str = ""
    kernels: str = ""

    def describe(self) -> str:
        """One line: the call with its padding, and the pre-pad if any."""
        text = self.call if self.padding is None else f"{self.call}(padding={self.padding!r})"
        if self.prepad is not None:
            text += f" after a pad of {list(self.prepad)} with {self.pad_value:g}"
        if self.layout != "channels_first":
            text += f", {self.layout}"
        return f"{text} [{self.route}{self.kernels_note()}]"

    def signature(self) -> tuple[object, ...]:
        """What a program compiled for this plan depends on besides the batch and spatial sizes: the
        case's type, rank, channels and other fields (kernel, stride, padding, dilation, groups, ...)
        and the plan's decisions. Compiling adapters key their compiled programs by it."""
        case = self.case
        settings = tuple(
            (k, v) for k, v in sorted(vars(case).items()) if k not in ("x_shape", "geometry") and not k.startswith("_")
        )
        return (
            type(case).__name__,
            case.nd,
            case.x_shape[1],
            settings,
            self.api,
            self.dtype,
            self.route,
            self.call,
            repr(self.padding),
            self.prepad,
            self.pad_value,
            self.kernel_layout,
        )

    def kernels_note(self) -> str:
        """``", <library> kernels"`` where the machine picks the kernels, else ``""``."""
        return f", {self.kernels} kernels" if self.kernels else ""


@dataclass(frozen=True)
class Unsupported:
    """The framework cannot express the case; ``evidence`` says how the suite verifies that.

    ``attempt`` (with ``evidence="refuses"``) is the plan of the native call that must raise, and
    ``message`` an optional regular expression its error message must match.
    """

    reason: str
    evidence: str = "refuses"
    target: str = ""
    parameter: str = ""
    attempt: Plan | None = field(default=None, compare=False)
    message: str = ""

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return f"unsupported: {self.reason}"


@dataclass(frozen=True)
class Semantics:
    """Variants of contested semantics a framework implements for one case.

    ``accumulate`` names the floating format the framework accumulates the sums of the forward
    output ``y`` in when it stores a coarser one (``"float32"`` for float16 / bfloat16 data); ``""``
    means the storage format. ``accumulate_gradients`` does the same for the derivatives ``dx``,
    ``dw``, ``db`` and ``jvp``. The error bounds follow them
    (:func:`convequiv.reference.tolerance.sum_bound`); float32 and float64 data are never
    accumulated more coarsely than stored, so they change nothing there."""

    ties: str = "first"
    nan: str = "propagate"
    accumulate: str = ""
    accumulate_gradients: str = ""


@dataclass(frozen=True)
class Supported:
    """The answer of :meth:`Adapter.support` in convequiv 0.1 (before plans); still understood from
    adapters written against that interface (:mod:`convequiv.adapters.legacy`)."""

    how: str = ""

    def __bool__(self) -> bool:
        return True


SUPPORTED = Supported()


class UnsupportedCase(Exception):
    """Raised by :meth:`Adapter.run` when called with a case that :meth:`Adapter.support` rejects."""


class NotRefused(AssertionError):
    """An ``Unsupported`` claim that the framework contradicts (it ran, or the error was not its own)."""


def _package_roots(modules: tuple[str, ...]) -> list[Path]:
    roots = []
    for name in modules:
        spec = importlib.util.find_spec(name)
        for location in (spec.submodule_search_locations or []) if spec else []:
            roots.append(Path(location).resolve())
    return roots


def raised_inside(exc: BaseException, modules: tuple[str, ...]) -> bool:
    """Whether the innermost frame of ``exc``'s traceback lies in one of the packages ``modules``."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return False
    innermost = Path(frames[-1].filename).resolve()
    return any(innermost.is_relative_to(root) for root in _package_roots(modules))


class Adapter(ABC):
    """One framework (or one Keras backend) behind the common interface."""

    #: Adapter name as selected by ``--adapters`` (e.g. ``"torch"``, ``"keras[jax]"``).
    name: ClassVar[str]
    #: Distribution names whose versions the report header prints.
    distributions: ClassVar[tuple[str, ...]] = ()
    #: Top-level modules of the framework: a refusal must be raised inside one of them.
    frameworks: ClassVar[tuple[str, ...]] = ()
    #: The framework entry points checked, e.g. ``("functional", "layer")``.
    apis: ClassVar[tuple[str, ...]] = ("functional",)
    dtypes: ClassVar[tuple[str, ...]] = ("float32", "float64")
    #: The outputs ``run`` returns: ``y`` and the gradients, or only ``y`` for a forward-only runtime.
    produces: ClassVar[frozenset[str]] = GRADIENTS
    #: True where every new case costs a compilation (XLA: ``jax``, ``keras[jax]``), 0.1-0.5 s on a
    #: CPU against well under 1 ms to run it; the suite then draws the profile's smaller
    #: ``compiled_examples`` budget per property for this adapter (``--compiled-examples``).
    compiles_per_case: ClassVar[bool] = False
    #: Value draws the suite checks per drawn case (compiled variants: one compilation, many inputs).
    draws_per_case: ClassVar[int] = 1
    #: The ops this adapter runs (``conv_transpose`` besides :data:`CLASSIC_OPS` where it has it).
    ops: ClassVar[frozenset[str]] = CLASSIC_OPS

    def apis_for(self, op: str) -> tuple[str, ...]:
        """The APIs through which this adapter runs ``op`` (default: all of :attr:`apis`)."""
        return self.apis

    def checked_apis(self, op: str) -> tuple[str, ...]:
        """The APIs the suite checks ``op`` through: :meth:`apis_for` for an op in :attr:`ops`, none
        for any other (the adapter has no checks of that op; the report shows it as not checked)."""
        return tuple(self.apis_for(op)) if op in self.ops else ()

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
    def support(self, case: Case, api: str, dtype: str) -> Plan | Unsupported:
        """How this adapter runs ``case`` through ``api`` in ``dtype``, or why it cannot."""

    def semantics(self, case: Case, api: str) -> Semantics:
        """Declared tie and NaN policies of the framework op used for ``case``."""
        return Semantics()

    @abstractmethod
    def run(self, plan: Plan, inputs: Arrays) -> Arrays:
        """Forward and backward of ``plan.case`` on channels-first ``inputs`` (``x``, ``dy``, and for
        convolutions ``w`` and optionally ``b``) of the dtype under test.

        Returns channels-first arrays: ``y`` and, per :attr:`produces`, ``dx``, plus ``dw`` (and ``db``
        with a bias) for convolutions; gradients are those of ``sum(dy * y)`` through the
        framework's autodiff.
        """

    def probe_hazard(self, case: Case, inputs: Arrays, api: str) -> str:
        """For a case declared ``Unsupported(evidence="unsafe")``: show, safely, what makes running
        it dangerous and describe it. Raises ``AssertionError`` when the hazard is not there."""
        raise AssertionError(f"{self.name} claims {case!r} is unsafe to run but has no probe_hazard()")

    def reproduction(self, plan: Plan) -> str | None:
        """Python source, importing only NumPy and the framework, that defines
        ``framework_outputs(inputs) -> dict`` doing what :meth:`run` does for ``plan`` (channels-first
        NumPy arrays in and out); ``convequiv hunt`` writes it into a finding's standalone ``repro.py``.
        ``None`` when the adapter cannot write one (the reproduction then imports convequiv)."""
        return None

    def output_shape(self, case: Case, api: str) -> tuple[int, ...] | None:
        """The output shape the framework *computes* without running the op (e.g. a layer's
        ``compute_output_shape``); ``None`` when the API has no such function."""
        return None

    def layer_params(self, case: Case, api: str) -> tuple[int, int] | None:
        """``(trainable, non_trainable)`` parameter counts of the layer built for ``case``, or
        ``None`` when ``api`` builds no layer object."""
        return None

    def prove_unsupported(self, verdict: Unsupported, case: Case, inputs: Arrays, api: str) -> str:
        """Check an ``Unsupported`` claim against the framework; return the evidence found.

        Raises :class:`NotRefused` when the framework does, in fact, accept the case, or when the
        error raised is not the framework's own (module docstring).
        """
        if verdict.evidence == "lacks":
            return self._prove_lacks(verdict)
        if verdict.evidence == "unsafe":
            return self.probe_hazard(case, inputs, api)
        if verdict.evidence != "refuses":
            raise NotRefused(f"{self.name}: unknown evidence {verdict.evidence!r} for {case!r}")
        if verdict.attempt is None:
            raise NotRefused(f"{self.name} claims a refusal for {case!r} but names no attempt")
        try:
            self.run(verdict.attempt, inputs)
        except Exception as exc:
            return self._refusal_evidence(verdict, exc)
        raise NotRefused(f"{self.name}: claims the framework refuses {case!r} ({verdict.reason}), but it ran")

    def _prove_lacks(self, verdict: Unsupported) -> str:
        module_name, _, attr = verdict.target.rpartition(".")
        if self.frameworks and module_name.split(".")[0] not in self.frameworks:
            raise NotRefused(f"{self.name}: {verdict.target} is not part of {', '.join(self.frameworks)}")
        module = importlib.import_module(module_name)
        if not verdict.parameter:  # the framework has no such callable at all
            if hasattr(module, attr):
                raise NotRefused(f"{self.name}: claims there is no {verdict.target}, but there is")
            return f"{module_name} has no {attr}"
        target = getattr(module, attr)
        if verdict.parameter in inspect.signature(target).parameters:
            raise NotRefused(
                f"{self.name}: claims {verdict.target} has no parameter {verdict.parameter!r}, but it does"
            )
        return f"{verdict.target} has no parameter {verdict.parameter!r}"

    def _refusal_evidence(self, verdict: Unsupported, exc: Exception) -> str:
        text = str(exc).strip()
        first_line = text.splitlines()[0][:200] if text else ""
        summary = f"{type(exc).__name__}: {first_line}"
        if verdict.message:
            if re.search(verdict.message, text) is None:
                raise NotRefused(
                    f"{self.name}: the refusal of {verdict.attempt!r} should match {verdict.message!r}, got {summary}"
                ) from exc
            return summary
        if not raised_inside(exc, self.frameworks):
            raise NotRefused(
                f"{self.name}: {summary} was raised outside {', '.join(self.frameworks) or 'the framework'} "
                "(an error of the adapter, not a refusal of the framework)"
            ) from exc
        return summary
