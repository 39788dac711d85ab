"""JAX: ``jax.lax`` primitives (api ``"lax"``) and, for depth and global pooling, ``jax.numpy``
reductions (api ``"numpy"``, a different primitive with a different gradient rule). The transposed
convolution runs through ``lax.conv_transpose`` (api ``"lax"``) and through
``lax.conv_general_dilated`` with ``lhs_dilation`` (api ``"dilated"``); its plans, padding
translation and forward function are in :mod:`convequiv.adapters.jax_transposed`.

Registered through the entry-point group ``convequiv.adapters`` (``jax = "convequiv.adapters.jax_adapter:JaxAdapter"``),
the way a third party registers an adapter.

Layouts: channels-first throughout, no transposes. ``lax.conv_general_dilated`` takes the layout as
dimension numbers, so the identity numbers ``(0, 1, 2, ...)`` for input ``(N, C, *S)``, kernel
``(O, C / groups, *K)`` and output ``(N, O, *S)`` (``NCHW``/``OIHW``/``NCHW`` for any rank) hand
the canonical arrays to XLA as they are; a transpose to ``NHWC`` would only test our own
transposes. XLA picks its internal layout either way. Pooling windows name the axes directly.

Plans (:class:`JaxPlan`, decided once in :meth:`JaxAdapter.support`) carry the arguments as lax
receives them: the padding (a native name or explicit pairs), the window, strides and window
dilation over every axis, and the padding of the average-pool divisor. Routes (``plan.route``):

* ``native SAME``, ``native SAME_LOWER``, ``native VALID``: convolution or max / average pooling
  with a string padding, passed by its lax name (:func:`~convequiv.adapters.translate.xla_padding_name`;
  lax resolves SAME on the dilated kernel, as the reference does);
* ``explicit pairs``: every other padding form, as the case's resolved ``(lo, hi)`` pairs (even
  where they are zero);
* ``ceil-mode high padding``: pooling with ``ceil_mode`` (lax has none), as explicit pairs whose
  high side reaches exactly the span the windows read
  (:func:`~convequiv.adapters.translate.padding_to_span` of ``case.geometry``): ``hi`` plus the
  ceil-mode overhang, or less when the last window stops short of the padding. Trimming unread
  padding changes no window and never yields a window the reference drops (a last window
  starting in the right padding); it is never negative, because the max-pool gradient on CPU
  slices the padded operand and fails on a negative pad;
* ``reduce_window over channels``: depth pooling, api ``"lax"`` (window ``(1, k, 1, ...)``,
  stride ``(1, s, 1, ...)``, which takes a stride other than the pool size natively);
* ``stacked channel slices``: depth pooling, api ``"numpy"``: ``jnp.max`` / ``jnp.mean`` over a
  stacked axis of the ``k`` strided channel slices (a reshape to ``(N, C / k, k, ...)`` when
  ``stride == pool_size``, written once for every stride);
* ``reduce_window over spatial axes``: global pooling, api ``"lax"``: one window covering every
  spatial axis;
* ``jnp reduction``: global pooling, api ``"numpy"``: ``jnp.max`` / ``jnp.mean`` over the spatial
  axes with ``keepdims``.

Max pooling is ``lax.reduce_window(x, -inf, lax.max, ...)``, which pads with the init value
``-inf``; dilation is ``window_dilation`` (dropped where the kernel is 1: the same window). Average
pooling is the window sum (``reduce_window`` with ``lax.add``, zero padding, the same padding
argument) divided by a divisor that JAX computes with a ``reduce_window`` sum over ones:
``count_include_pad=False`` sums ones with the same padding (real taps only);
``count_include_pad=True`` sums ones padded *with ones* by ``(lo, hi)`` and then with zeros up to
the ceil-mode span (:func:`~convequiv.adapters.translate.high_padding_beyond`), so the padded
extent counts and the overhang does not.

Gradients are ``jax.vjp`` of the forward function at ``(x, w, b)`` with cotangent ``dy``, and the
forward-mode derivative (output ``jvp``) is ``jax.jvp`` of the same function along the tangents
``(tx, tw, tb)`` the suite draws (:mod:`convequiv.reference.linearization`); forward, backward and
JVP run under one ``jax.jit`` per plan (:meth:`JaxAdapter._program`), where the JVP costs about 14 %
more CPU time per check (compiling dominates). The same path op by op, without ``jax.jit``:
``jax/eager`` (:mod:`convequiv.adapters.jax_variants`). XLA compiles per shape
either way and compiling dominates (0.1-0.5 s per program on CPU, running it under 1 ms); one
fused program per case and dtype beats eager dispatch, which compiles every small primitive of
the forward and the transpose separately: 300 drawn examples (60 per op family) in float32 and
float64, both APIs, 2-core CPU: jit 4.9 examples/s, eager 2.9/s (conv 2.6 vs 2.7/s, max pooling
3.1 vs 3.3/s, average pooling 9.9 vs 3.5/s, depth pooling 5.9 vs 2.2/s).

Compiled programs: XLA is paid once per distinct program, never by changing what runs:

* the arrays go to the compiled program as NumPy arrays, which the call copies to the device bit
  for bit; ``jnp.asarray`` would compile an identity program (``lax.stage``) for every new shape
  and dtype, 2-4 per example;
* two caches, most recent :data:`_PROGRAMS_KEPT` entries each: by plan (``repr`` of the case, api,
  dtype), which skips tracing when Hypothesis comes back to a case (16-35 % of the examples of
  the convolution, max, average and depth pooling properties repeat one of the last few cases
  with new values; none of global pooling's); and by lowered module (the StableHLO text with the
  argument and result structure, every argument kept): a plan that lowers to a module already
  compiled reuses its executable. Every plan is still traced and lowered by JAX itself
  (lax still resolves its own padding names), so a hit means XLA would have been handed the very
  same module: ``"VALID"`` and zero pairs, ``stride=None`` and the kernel's stride, a max
  pooling's ``count_include_pad`` lower alike (3-15 % fewer pooling compiles);
* across runs, JAX's persistent compilation cache, which is opt-in: point
  ``JAX_COMPILATION_CACHE_DIR`` at a folder (of this machine: XLA:CPU builds code for the host's
  CPU). Its key is the module, the compile options, XLA flags and the jaxlib and backend
  versions, so a hit loads the executable XLA would build. JAX stores only compilations of 1 s or
  more by default; the adapter lowers that threshold to 0 when a cache folder is set and
  ``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS`` is not. The ``ci`` profile draws the same
  examples every run, so a rerun compiles nothing (3 MB for 370 programs).

Measured on the suite's own derandomized streams (30 examples per property, float32 and float64,
both APIs; CPU time of whole checks, mean of two runs on a shared 2-core machine): 4.8 examples/s
before these measures, 6.2/s with them (conv 2.6 -> 3.1, max pooling 3.6 -> 5.2, average pooling
8.3 -> 12.3, depth pooling 5.5 -> 7.2, global max pooling 5.1 -> 6.2, global average pooling
10.9 -> 13.6), 54/s on a rerun with the persistent cache. Not done, because each changes the
program XLA runs: padding inputs to a few bucket shapes (XLA's YNNPACK offload starts at 4096
elements, sums are reassociated by shape, and padding taps would compete for a NaN window's
gradient), compiling with lower XLA or LLVM optimisation levels (not the executable users get);
shape polymorphism (``jax.export`` with symbolic dimensions) saves nothing, as XLA:CPU compiles
static shapes: the symbolic module is refined and compiled again for every concrete shape.

float64 requires ``jax_enable_x64``, a process-wide switch that the adapter sets when it is
constructed. Without it JAX silently computes float64 inputs in float32 (with a warning). It
changes every other user of JAX in the process: default float and int types become 64-bit
(``jnp.arange(3)`` is int64, ``keras.ops.convert_to_tensor`` of a float64 array stays float64),
and Keras 3 on JAX really builds float64 layers instead of truncating them to float32. The
``keras[jax]`` adapter turns the switch on itself, so the two agree in whatever order they load;
code that relies on JAX's 32-bit defaults should run in another process.

Contested semantics (XLA:CPU, found by running; the suite proves each declaration):

* ``reduce_window`` max (max pooling; depth and global pooling with api ``"lax"``): the gradient is
  ``select_and_scatter_add`` with the selector ``ge``: it scans the window in row-major order and
  keeps the current tap while it is ``>=`` the next, so the *first* maximum gets everything
  (``ties="first"``). ``lax.max`` propagates NaN (``nan="propagate"``).
* ``jnp.max`` (api ``"numpy"``): ``reduce_max``'s gradient divides the cotangent evenly among the
  elements equal to the maximum (``ties="split"``); NaN propagates (``nan="propagate"``).

Anomalies (recorded divergences, ids ``jax-*``): a NaN never compares ``>=``, so the select-and-
scatter selection moves past every NaN and the gradient lands on the first maximum after the
window's last NaN; on CPU JAX pads the operand with ``-inf`` before selecting, so in a window whose
real taps are all ``-inf`` a leading padding tap wins and the gradient is lost; ``jnp.max``'s
gradient with a NaN maximum is 0 for the whole window under jit (NaN when run eagerly); and XLA:CPU
runs max reductions of 4096 elements or more (non-overlapping windows) through YNNPACK, whose max
skips NaN (an all-NaN window gives ``-inf``), so NaN propagation depends on the array size.

Refusals: ``jax.vjp`` of max pooling with ``window_dilation`` raises ``NotImplementedError``
("VJP not implemented for select_and_gather (MaxPool) with window dilation"): dilated max pooling
runs forward but has no gradient, so those cases are unsupported; the refusal's ``attempt`` is the
plan of that call, and running it raises inside JAX (:attr:`JaxAdapter.frameworks`). JAX trims its
own frames from the tracebacks of errors (``jax_traceback_filtering``), which would make such an
error look raised by the adapter; :meth:`JaxAdapter.run` keeps tracebacks whole while it runs.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from convequiv.reference.cases import (
    Case,
    ConvCase,
    ConvTransposeCase,
    DepthPoolCase,
    Example,
    GlobalPoolCase,
    PoolCase,
)

from . import translate as tr
from . import xla_conv_abort
from .base import CLASSIC_OPS, GRADIENTS, Adapter, Arrays, Plan, Semantics, Unsupported
from .jax_transposed import JaxTransposePlan, conv_transpose, transposed_plan

#: Explicit padding of every axis of the data, as ``jax.lax.reduce_window`` takes it.
AxisPads = tuple[tuple[int, int], ...]
#: A lax padding argument as passed: a native name (``"SAME"``, ``"SAME_LOWER"``, ``"VALID"``) or pairs.
LaxPadding = str | AxisPads
#: Forward, backward and (with tangents) JVP of a plan: ``(primals, dy, tangents) -> (y, gradients of
#: the primals, jvp or None)``.
Program = Callable[
    [tuple[ArrayLike, ...], ArrayLike, tuple[ArrayLike, ...]],
    tuple[jax.Array, tuple[jax.Array, ...], jax.Array | None],
]
#: Set, this environment variable keeps JAX's own threshold for storing a compiled program.
_MIN_COMPILE_TIME = "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"
K = TypeVar("K")
V = TypeVar("V")
#: Plans and compiled modules kept by :meth:`JaxAdapter._program` (Hypothesis comes back to a case
#: within a few examples, or in the next shrinking step).
_PROGRAMS_KEPT = 64


@dataclass(frozen=True)
class JaxPlan(Plan):
    """``padding`` is the lax padding argument as passed: a native name or explicit pairs (of the
    spatial axes for ``conv_general_dilated``, of every axis for ``reduce_window``). ``window``,
    ``strides`` and ``window_dilation`` are ``reduce_window``'s, over every axis. For average
    pooling, ``count_pad`` (pairs of every axis, ``count_include_pad=True`` only) pads the ones of
    the divisor *with ones* and ``count_padding`` is the divisor sum's own (zero) padding."""

    window: tuple[int, ...] = ()
    strides: tuple[int, ...] = ()
    window_dilation: tuple[int, ...] = ()
    count_pad: AxisPads | None = None
    count_padding: LaxPadding | None = None
    #: What follows the call (a division), for :meth:`describe` only.
    then: str = ""

    @property
    def lax_padding(self) -> LaxPadding:
        """``padding`` as lax takes it (typed)."""
        assert isinstance(self.padding, (str, tuple)), self.padding
        return self.padding

    def describe(self) -> str:
        """One line: the lax call with the arguments the plan decides, e.g.
        ``jax.lax.reduce_window[lax.max](window=(1, 1, 2), strides=(1, 1, 2), padding='SAME') [native SAME]``."""
        args = [f"window={self.window}", f"strides={self.strides}"] if self.window else []
        if self.padding is not None:
            args.append(f"padding={self.padding!r}")
        if any(d > 1 for d in self.window_dilation):
            args.append(f"window_dilation={self.window_dilation}")
        text = f"{self.call}({', '.join(args)})" if args else self.call
        if self.count_padding is not None:
            ones = "ones" if self.count_pad is None else f"ones padded with ones by {self.count_pad}"
            text += f" / reduce_window[lax.add] of {ones} (padding={self.count_padding!r})"
        return f"{text}{self.then} [{self.route}]"


#: Every plan this adapter makes (the transposed convolution's: :mod:`convequiv.adapters.jax_transposed`).
AnyJaxPlan = JaxPlan | JaxTransposePlan


def _full(spatial: tuple[int, ...]) -> tuple[int, ...]:
    """A per-axis window argument: 1 for the batch and channel axes, then ``spatial``."""
    return (1, 1, *spatial)


def _window_dilation(case: PoolCase) -> tuple[int, ...]:
    """The case's dilation, 1 where the kernel is 1 (a single tap: the same window)."""
    return tuple(1 if k == 1 else d for k, d in zip(case.kernel, case.dilation))


def _module_text(lowered: Any) -> str:
    """The lowered module's text without source locations (``debug_info=False``; jax 0.4.25 lacks the
    keyword and prints them, which only makes fewer plans share an executable)."""
    try:
        return str(lowered.as_text(debug_info=False))
    except TypeError:
        return str(lowered.as_text())


def _keep_recent(cache: dict[K, V]) -> None:
    """Drop the least recently used entries (the first inserted) beyond :data:`_PROGRAMS_KEPT`."""
    while len(cache) > _PROGRAMS_KEPT:
        del cache[next(iter(cache))]


@contextmanager
def _whole_tracebacks() -> Iterator[None]:
    """JAX's traceback filtering off (module docstring), restored afterwards; it is no part of the
    jit cache key, so switching it recompiles nothing."""
    previous = jax.config.values["jax_traceback_filtering"]
    jax.config.update("jax_traceback_filtering", "off")  # type: ignore[no-untyped-call, unused-ignore]
    try:
        yield
    finally:
        jax.config.update("jax_traceback_filtering", previous)  # type: ignore[no-untyped-call, unused-ignore]


class JaxAdapter(Adapter):
    name = "jax"
    distributions = ("jax", "jaxlib")
    frameworks = ("jax", "jaxlib")
    apis = ("lax", "numpy", "dilated")
    ops = CLASSIC_OPS | {"conv_transpose"}
    produces = GRADIENTS | {"jvp"}
    compiles_per_case = True
    #: Dilated average pooling is answered: lax.reduce_window dilates both sums (window_dilation).
    avg_pool_dilation = True

    def __init__(self) -> None:
        jax.config.update("jax_enable_x64", True)  # type: ignore[no-untyped-call, unused-ignore]
        if jax.config.values["jax_compilation_cache_dir"] and _MIN_COMPILE_TIME not in os.environ:
            # Every program of the suite compiles in under 1 s, JAX's default threshold for storing one.
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # type: ignore[no-untyped-call, unused-ignore]
        #: (case repr, api, dtype, with a JVP) -> digest of the lowered module; digest -> its executable.
        self._modules: dict[tuple[str, str, str, bool], str] = {}
        self._executables: dict[str, jax.stages.Compiled] = {}

    def apis_for(self, op: str) -> tuple[str, ...]:
        # jax.numpy has no convolution or windowed pooling of its own: those are lax only; the
        # transposed convolution has two lax spellings.
        if op == "conv_transpose":
            return ("lax", "dilated")
        return ("lax", "numpy") if op in ("depth_pool", "global_max_pool", "global_avg_pool") else ("lax",)

    def versions(self) -> dict[str, str]:
        import jaxlib.version

        return {"jax": jax.__version__, "jaxlib": jaxlib.version.__version__}

    def warm_up(self) -> None:
        """Start XLA and compile one tiny case of every op through every API."""
        cases = (
            ConvCase((1, 2, 4, 4), (2, 2, 2, 2), padding="same"),
            ConvTransposeCase((1, 2, 4, 4), (2, 2, 2, 2), stride=2, padding="same"),
            PoolCase("max", (1, 2, 4, 4), 2),
            PoolCase("avg", (1, 2, 4, 4), 2),
            DepthPoolCase((1, 2, 4, 4), 2),
            GlobalPoolCase("max", (1, 2, 4, 4)),
            GlobalPoolCase("avg", (1, 2, 4, 4)),
        )
        for case in cases:
            inputs = Example(case).inputs(np.float32).astype(np.float32)
            for api in self.apis_for(case.op):
                plan = self.support(case, api, "float32")
                assert isinstance(plan, (JaxPlan, JaxTransposePlan)), plan
                self.run(plan, inputs)

    # ------------------------------------------------------------------ plans
    def support(self, case: Case, api: str, dtype: str) -> AnyJaxPlan | Unsupported:
        if isinstance(case, ConvCase):
            return self._conv_plan(case, api, dtype)
        if isinstance(case, ConvTransposeCase):
            return transposed_plan(case, api, dtype)
        if isinstance(case, PoolCase):
            return self._pool_plan(case, api, dtype)
        if isinstance(case, DepthPoolCase):
            return self._depth_plan(case, api, dtype)
        if isinstance(case, GlobalPoolCase):
            return self._global_plan(case, api, dtype)
        return Unsupported(f"unknown case type {type(case).__name__}", "lacks", "jax.lax.unknown")

    def _conv_plan(self, case: ConvCase, api: str, dtype: str) -> JaxPlan | Unsupported:
        message = xla_conv_abort.abort_message(case)
        if message is not None:
            return Unsupported(
                f"XLA's CPU compiler aborts the process compiling this convolution's gradient ({message}); "
                "not run. Write-up: docs/findings/jax-xla-conv-grad-simplifier-abort.md",
                evidence="unsafe",
            )
        call = "jax.lax.conv_general_dilated"
        name = tr.xla_padding_name(case.padding)
        if name is not None:
            return JaxPlan(case, api, dtype, f"native {name}", call, name)
        return JaxPlan(case, api, dtype, "explicit pairs", call, case.pads)

    def probe_hazard(self, case: Case, inputs: Arrays, api: str) -> str:
        """Compile the convolution's gradient in a child process (:mod:`.xla_conv_abort`): it must die
        of SIGABRT with XLA's CHECK failure for the hazard to hold."""
        assert isinstance(case, ConvCase), f"{self.name} declares only convolutions unsafe, not {case!r}"
        message = xla_conv_abort.compile_in_child(case)
        assert message is not None, f"the gradient of {case!r} compiles: XLA no longer aborts on it"
        return f"compiling jax.grad of the convolution in a child process: it died of SIGABRT, {message}"

    def _pool_plan(self, case: PoolCase, api: str, dtype: str) -> JaxPlan | Unsupported:
        name = tr.xla_padding_name(case.padding)
        if case.ceil_mode:
            route, reach = "ceil-mode high padding", tr.padding_to_span(case.geometry)
            padding: LaxPadding = tr.pad_pairs(reach, channels_last_layout=False)
        elif name is not None:
            route, reach, padding = f"native {name}", case.pads, name
        else:
            route, reach = "explicit pairs", case.pads
            padding = tr.pad_pairs(reach, channels_last_layout=False)
        window, strides, dilation = _full(case.kernel), _full(case.resolved_stride), _full(_window_dilation(case))
        if case.kind == "max":
            plan = JaxPlan(
                case,
                api,
                dtype,
                route,
                "jax.lax.reduce_window[lax.max]",
                padding,
                window=window,
                strides=strides,
                window_dilation=dilation,
            )
            if any(d > 1 for d in plan.window_dilation):
                return Unsupported(
                    "jax.vjp of lax.reduce_window max with window_dilation raises NotImplementedError "
                    "(select_and_gather_add has no transpose for a dilated window)",
                    attempt=plan,
                )
            return plan
        counting: dict[str, Any] = {"count_padding": padding}  # count_include_pad=False: real cells only
        if case.count_include_pad:
            counting = {
                "count_pad": tr.pad_pairs(case.pads, channels_last_layout=False),
                "count_padding": tr.pad_pairs(tr.high_padding_beyond(case.pads, reach), channels_last_layout=False),
            }
        return JaxPlan(
            case,
            api,
            dtype,
            route,
            "jax.lax.reduce_window[lax.add]",
            padding,
            window=window,
            strides=strides,
            window_dilation=dilation,
            **counting,
        )

    def _depth_plan(self, case: DepthPoolCase, api: str, dtype: str) -> JaxPlan:
        if api == "lax":
            rest = (1,) * case.nd
            return JaxPlan(
                case,
                api,
                dtype,
                "reduce_window over channels",
                "jax.lax.reduce_window[lax.max]" if case.mode == "max" else "jax.lax.reduce_window[lax.add]",
                "VALID",
                window=(1, case.pool_size, *rest),
                strides=(1, case.resolved_stride, *rest),
                then="" if case.mode == "max" else " / pool_size",
            )
        reduce = "jnp.max" if case.mode == "max" else "jnp.mean"
        return JaxPlan(
            case, api, dtype, "stacked channel slices", f"{reduce}(stack of the strided channel slices, axis=2)"
        )

    def _global_plan(self, case: GlobalPoolCase, api: str, dtype: str) -> JaxPlan:
        if api == "lax":
            return JaxPlan(
                case,
                api,
                dtype,
                "reduce_window over spatial axes",
                "jax.lax.reduce_window[lax.max]" if case.mode == "max" else "jax.lax.reduce_window[lax.add]",
                "VALID",
                window=_full(case.x_shape[2:]),
                strides=_full((1,) * case.nd),
                then="" if case.mode == "max" else " / area",
            )
        reduce = "jnp.max" if case.mode == "max" else "jnp.mean"
        return JaxPlan(case, api, dtype, "jnp reduction", f"{reduce}(axis=spatial, keepdims={case.keepdims})")

    def semantics(self, case: Case, api: str) -> Semantics:
        if isinstance(case, (DepthPoolCase, GlobalPoolCase)) and api == "numpy":
            return Semantics(ties="split")  # reduce_max: even split among the maxima
        return Semantics(ties="first")  # select_and_scatter_add with ge

    # -------------------------------------------------------------------- run
    def run(self, plan: Plan, inputs: Arrays) -> Arrays:
        assert isinstance(plan, (JaxPlan, JaxTransposePlan)), f"{self.name} runs its own plans, got {plan!r}"
        names = [k for k in ("x", "w", "b") if k in inputs]
        # NumPy arrays go to the program as they are: the call copies them to the device bit for
        # bit, where jnp.asarray would compile an identity program per shape (lax.stage).
        primals = tuple(inputs[k] for k in names)
        # tangents (tx, tw, tb) as the suite draws them for an adapter that produces a JVP
        tangents = tuple(inputs[f"t{k}"] for k in names) if "jvp" in self.produces and "tx" in inputs else ()
        with _whole_tracebacks():
            y, grads, jvp = self._program(plan, primals, inputs["dy"], tangents)(primals, inputs["dy"], tangents)
        out = {"y": np.asarray(y), **{f"d{k}": np.asarray(g) for k, g in zip(names, grads)}}
        return out if jvp is None else {**out, "jvp": np.asarray(jvp)}

    def _program(
        self, plan: AnyJaxPlan, primals: tuple[np.ndarray, ...], dy: np.ndarray, tangents: tuple[np.ndarray, ...]
    ) -> Program:
        """The compiled forward, ``jax.vjp`` (and with ``tangents`` ``jax.jvp``) of ``plan`` for arrays
        like ``primals``, ``dy`` and ``tangents``.

        Two caches (module docstring, "Compiled programs"): by plan (``repr`` of the case, api and
        dtype), which skips tracing when a case comes back; and by lowered module, which skips
        compiling when another plan lowers to the very module already compiled. The most recent
        :data:`_PROGRAMS_KEPT` of each are kept; older ones and their executables are dropped."""
        key = (repr(plan.case), plan.api, plan.dtype, bool(tangents))
        module = self._modules.pop(key, None)
        compiled = None if module is None else self._executables.pop(module, None)
        if compiled is None:
            lowered = jax.jit(_forward_and_backward(_forward_fn(plan)), keep_unused=True).lower(primals, dy, tangents)
            text = f"{lowered.in_tree}\n{lowered.out_tree}\n{_module_text(lowered)}"
            module = hashlib.sha256(text.encode()).hexdigest()
            compiled = self._executables.pop(module, None)
            if compiled is None:
                compiled = lowered.compile()
        assert module is not None
        self._modules[key] = module
        self._executables[module] = compiled
        _keep_recent(self._modules)
        _keep_recent(self._executables)
        return compiled

    # ------------------------------------------------------------------ shapes
    def output_shape(self, case: Case, api: str) -> tuple[int, ...] | None:
        """Shape from ``jax.eval_shape`` of the planned forward (traced abstractly, nothing
        computed); for a refused case, of the refused call's forward."""
        plan = self.support(case, api, "float32")
        if isinstance(plan, Unsupported):
            if not isinstance(plan.attempt, (JaxPlan, JaxTransposePlan)):
                return None
            plan = plan.attempt
        shapes = [case.x_shape]
        if isinstance(case, (ConvCase, ConvTransposeCase)):
            shapes += [case.w_shape, case.out_shape[1:2]] if case.bias else [case.w_shape]
        specs = [jax.ShapeDtypeStruct(shape, jnp.float32) for shape in shapes]  # type: ignore[no-untyped-call, unused-ignore]
        return tuple(jax.eval_shape(_forward_fn(plan), *specs).shape)


# ---------------------------------------------------------------------- ops
def _forward_and_backward(forward: Callable[..., jax.Array]) -> Program:
    """``(primals, dy, tangents) -> (y, gradients of sum(dy * y) at the primals, jvp)`` through
    ``jax.vjp`` and, with tangents (one per primal), ``jax.jvp`` (``None`` without)."""

    def forward_and_backward(
        primals: tuple[ArrayLike, ...], dy: ArrayLike, tangents: tuple[ArrayLike, ...]
    ) -> tuple[jax.Array, tuple[jax.Array, ...], jax.Array | None]:
        y, backward = jax.vjp(forward, *primals)
        jvp = jax.jvp(forward, primals, tangents)[1] if tangents else None
        return y, backward(dy), jvp

    return forward_and_backward


def _forward_fn(plan: AnyJaxPlan) -> Callable[..., jax.Array]:
    """The forward function of ``plan``'s arrays (``x``, and ``w``, ``b`` for a convolution)."""
    if isinstance(plan, JaxTransposePlan):
        return lambda x, w, b=None: conv_transpose(plan, x, w, b)
    case = plan.case
    if isinstance(case, ConvCase):
        return lambda x, w, b=None: _conv(plan, case, x, w, b)
    if isinstance(case, PoolCase):
        return lambda x: _max_pool(plan, x) if case.kind == "max" else _avg_pool(plan, case, x)
    if isinstance(case, DepthPoolCase):
        return lambda x: _depth_pool(plan, case, x)
    assert isinstance(case, GlobalPoolCase)
    return lambda x: _global_pool(plan, case, x)


def _conv(plan: JaxPlan, case: ConvCase, x: jax.Array, w: jax.Array, b: jax.Array | None) -> jax.Array:
    axes = tuple(range(case.nd + 2))
    y = lax.conv_general_dilated(
        x,
        w,
        window_strides=case.stride,
        padding=plan.lax_padding,
        rhs_dilation=case.dilation,
        dimension_numbers=lax.ConvDimensionNumbers(axes, axes, axes),
        feature_group_count=case.groups,
    )
    return y if b is None else y + b.reshape((1, -1) + (1,) * case.nd)


def _reduce_window(plan: JaxPlan, x: jax.Array, init: float, op: Callable[..., jax.Array]) -> jax.Array:
    dilation = plan.window_dilation or None
    y: jax.Array = lax.reduce_window(x, init, op, plan.window, plan.strides, plan.lax_padding, window_dilation=dilation)
    return y


def _max_pool(plan: JaxPlan, x: jax.Array) -> jax.Array:
    return _reduce_window(plan, x, -jnp.inf, lax.max)


def _avg_pool(plan: JaxPlan, case: PoolCase, x: jax.Array) -> jax.Array:
    total = _reduce_window(plan, x, 0.0, lax.add)
    ones = jnp.ones(_full(case.x_shape[2:]), x.dtype)
    if plan.count_pad is not None:
        ones = lax.pad(ones, jnp.ones((), x.dtype), tr.lax_pad_config(plan.count_pad))
    assert plan.count_padding is not None
    divisor = lax.reduce_window(
        ones, 0.0, lax.add, plan.window, plan.strides, plan.count_padding, window_dilation=plan.window_dilation
    )
    y: jax.Array = total / divisor
    return y


def _depth_pool(plan: JaxPlan, case: DepthPoolCase, x: jax.Array) -> jax.Array:
    k, s = case.pool_size, case.resolved_stride
    if plan.api == "lax":
        if case.mode == "max":
            return _reduce_window(plan, x, -jnp.inf, lax.max)
        return _reduce_window(plan, x, 0.0, lax.add) / k
    out = case.out_shape[1]
    windows = jnp.stack([x[:, t : t + (out - 1) * s + 1 : s] for t in range(k)], axis=2)  # (N, C', k, *S)
    return jnp.max(windows, axis=2) if case.mode == "max" else jnp.mean(windows, axis=2)


def _global_pool(plan: JaxPlan, case: GlobalPoolCase, x: jax.Array) -> jax.Array:
    if plan.api == "numpy":
        reduce = jnp.max if case.mode == "max" else jnp.mean
        return reduce(x, axis=tuple(range(2, x.ndim)), keepdims=case.keepdims)
    if case.mode == "max":
        y = _reduce_window(plan, x, -jnp.inf, lax.max)
    else:
        y = _reduce_window(plan, x, 0.0, lax.add) / math.prod(case.x_shape[2:])
    return y if case.keepdims else y.reshape(case.x_shape[:2])
