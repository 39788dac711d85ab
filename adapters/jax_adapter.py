"""JAX: ``jax.lax`` primitives (api ``"lax"``) and, for depth and global pooling, ``jax.numpy``
reductions (api ``"numpy"``, a different primitive with a different gradient rule).

Registered through the entry-point group ``convequiv.adapters`` (``jax = "convequiv.adapters.jax_adapter:JaxAdapter"``),
the way a third party registers an adapter.

Layouts: channels-first throughout, no transposes. ``lax.conv_general_dilated`` takes the layout as
dimension numbers, so the identity numbers ``(0, 1, 2, ...)`` for input ``(N, C, *S)``, kernel
``(O, C / groups, *K)`` and output ``(N, O, *S)`` (``NCHW``/``OIHW``/``NCHW`` for any rank) hand
the canonical arrays to XLA as they are; a transpose to ``NHWC`` would only test our own
transposes. XLA picks its internal layout either way. Pooling windows name the axes directly.

Padding translation (canonical -> lax):

* convolution: a string padding goes to ``lax`` natively (``"same"`` -> ``"SAME"``,
  ``"same_lower"`` -> ``"SAME_LOWER"``, ``"valid"`` -> ``"VALID"``; lax resolves SAME on the dilated
  kernel, as the reference does), every other form as its explicit ``(lo, hi)`` pairs;
* max pooling: ``lax.reduce_window(x, -inf, lax.max, ...)`` pads with the init value ``-inf``; a
  string padding is passed natively, explicit pairs as given. ``ceil_mode`` becomes explicit high
  padding ``max(span - n - lo, 0)``, where ``span = (out - 1) * s + d * (k - 1) + 1`` is what the
  windows read: ``hi`` plus the reference's ceil-mode overhang, or less when the last window stops
  short of the padding. Trimming unread padding changes no window and never yields a window the
  reference drops (a last window starting in the right padding); it is never negative, because
  the max-pool gradient on CPU slices the padded operand and fails on a negative pad. Dilation is
  ``window_dilation`` (dropped where the kernel is 1: same window);
* average pooling: the window sum (``reduce_window`` with ``lax.add``, zero padding, same
  translation) divided by a divisor that JAX computes with a ``reduce_window`` sum over ones:
  ``count_include_pad=False`` sums ones with the same padding (real taps only);
  ``count_include_pad=True`` sums ones padded *with ones* by ``(lo, hi)`` and then with zeros up to
  the ceil-mode span, so the padded extent counts and the overhang does not;
* depth pooling, api ``"lax"``: ``reduce_window`` over the channel axis (window ``(1, k, 1, ...)``,
  stride ``(1, s, 1, ...)``), which takes a stride other than the pool size natively; api
  ``"numpy"``: ``jnp.max`` / ``jnp.mean`` over a stacked axis of the ``k`` strided channel slices
  (a reshape to ``(N, C / k, k, ...)`` when ``stride == pool_size``, written once for every stride);
* global pooling, api ``"lax"``: ``reduce_window`` with one window covering every spatial axis;
  api ``"numpy"``: ``jnp.max`` / ``jnp.mean`` over the spatial axes with ``keepdims``.

Gradients are ``jax.vjp`` of the forward function at ``(x, w, b)`` with cotangent ``dy``, forward
and backward under one ``jax.jit`` per case (:meth:`JaxAdapter._program`). XLA compiles per shape
either way and compiling dominates (0.1-0.5 s per program on CPU, running it under 1 ms); one
fused program per case and dtype beats eager dispatch, which compiles every small primitive of
the forward and the transpose separately: 300 drawn examples (60 per op family) in float32 and
float64, both APIs, 2-core CPU: jit 4.9 examples/s, eager 2.9/s (conv 2.6 vs 2.7/s, max pooling
3.1 vs 3.3/s, average pooling 9.9 vs 3.5/s, depth pooling 5.9 vs 2.2/s). Hypothesis revisits a case
while shrinking, so the latest compiled cases are kept.

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
runs forward but has no gradient, so those cases are unsupported (``attempt`` makes that call).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from convequiv.reference.cases import Case, ConvCase, DepthPoolCase, Example, GlobalPoolCase, PoolCase
from convequiv.reference.geometry import window_geometry

from .base import SUPPORTED, Adapter, Semantics, Support, Unsupported

Pads = tuple[tuple[int, int], ...]
#: A compiled case: ``(primals, dy) -> (y, gradients of the primals)``.
Program = Callable[[tuple[jax.Array, ...], jax.Array], tuple[jax.Array, tuple[jax.Array, ...]]]
_NATIVE_PADDING = {"valid": "VALID", "same": "SAME", "same_lower": "SAME_LOWER"}
#: Compiled cases kept by :meth:`JaxAdapter._program` (Hypothesis revisits a case while shrinking).
_PROGRAMS_KEPT = 64


def _full(spatial: tuple[int, ...]) -> tuple[int, ...]:
    """A per-axis window argument: 1 for the batch and channel axes, then ``spatial``."""
    return (1, 1, *spatial)


class JaxAdapter(Adapter):
    name = "jax"
    distributions = ("jax", "jaxlib")
    apis = ("lax", "numpy")
    compiles_per_case = True

    def __init__(self) -> None:
        jax.config.update("jax_enable_x64", True)
        self._programs: dict[tuple[str, str], Program] = {}

    def apis_for(self, op: str) -> tuple[str, ...]:
        # jax.numpy has no convolution or windowed pooling of its own: those are lax only.
        return self.apis if op in ("depth_pool", "global_max_pool", "global_avg_pool") else ("lax",)

    def versions(self) -> dict[str, str]:
        import jaxlib

        return {"jax": jax.__version__, "jaxlib": jaxlib.__version__}

    def warm_up(self) -> None:
        """Start XLA and compile one tiny case of every op through every API."""
        cases = (
            ConvCase((1, 2, 4, 4), (2, 2, 2, 2), padding="same"),
            PoolCase("max", (1, 2, 4, 4), 2),
            PoolCase("avg", (1, 2, 4, 4), 2),
            DepthPoolCase((1, 2, 4, 4), 2),
            GlobalPoolCase("max", (1, 2, 4, 4)),
            GlobalPoolCase("avg", (1, 2, 4, 4)),
        )
        for case in cases:
            inputs = Example(case).inputs(np.float32).astype(np.float32)
            for api in self.apis_for(case.op):
                self.run(case, inputs, api)

    # ------------------------------------------------------------------ support
    def support(self, case: Case, api: str, dtype: str) -> Support:
        if isinstance(case, PoolCase) and case.kind == "max" and any(d > 1 for d in _window_dilation(case)):
            return Unsupported(
                "jax.vjp of lax.reduce_window max with window_dilation raises NotImplementedError "
                "(select_and_gather_add has no transpose for a dilated window)"
            )
        return SUPPORTED

    def semantics(self, case: Case, api: str) -> Semantics:
        if isinstance(case, (DepthPoolCase, GlobalPoolCase)) and api == "numpy":
            return Semantics(ties="split")  # reduce_max: even split among the maxima
        return Semantics(ties="first")  # select_and_scatter_add with ge

    def attempt(self, case: Case, inputs: dict[str, np.ndarray], api: str) -> object:
        """The gradient of dilated max pooling, which JAX refuses."""
        assert isinstance(case, PoolCase)

        def pool(x: jax.Array) -> jax.Array:
            return lax.reduce_window(
                x,
                -jnp.inf,
                lax.max,
                _full(case.kernel),
                _full(case.resolved_stride),
                _pool_padding(case),
                window_dilation=_full(_window_dilation(case)),
            )

        _, backward = jax.vjp(pool, jnp.asarray(inputs["x"]))
        return backward(jnp.asarray(inputs["dy"]))

    # ---------------------------------------------------------------------- run
    def run(self, case: Case, inputs: dict[str, np.ndarray], api: str) -> dict[str, np.ndarray]:
        names = [k for k in ("x", "w", "b") if k in inputs]
        primals = tuple(jnp.asarray(inputs[k]) for k in names)
        y, grads = self._program(case, api)(primals, jnp.asarray(inputs["dy"]))
        return {"y": np.asarray(y), **{f"d{k}": np.asarray(g) for k, g in zip(names, grads)}}

    def _program(self, case: Case, api: str) -> Program:
        """``jax.jit`` of forward and ``jax.vjp`` for one case (its shapes are fixed, so one compile
        per dtype); the most recent :data:`_PROGRAMS_KEPT` stay cached, older ones and their
        executables are dropped."""
        key = (repr(case), api)
        program = self._programs.pop(key, None)
        if program is None:
            forward = self._forward_fn(case, api)

            def forward_and_backward(
                primals: tuple[jax.Array, ...], dy: jax.Array
            ) -> tuple[jax.Array, tuple[jax.Array, ...]]:
                y, backward = jax.vjp(forward, *primals)
                return y, backward(dy)

            program = jax.jit(forward_and_backward)
        self._programs[key] = program
        while len(self._programs) > _PROGRAMS_KEPT:
            del self._programs[next(iter(self._programs))]
        return program

    def output_shape(self, case: Case, api: str) -> tuple[int, ...] | None:
        """Shape from ``jax.eval_shape`` (traced abstractly, nothing computed)."""
        specs = [jax.ShapeDtypeStruct(case.x_shape, jnp.float32)]  # type: ignore[attr-defined]
        if isinstance(case, ConvCase):
            specs.append(jax.ShapeDtypeStruct(case.w_shape, jnp.float32))
            if case.bias:
                specs.append(jax.ShapeDtypeStruct(case.w_shape[:1], jnp.float32))
        return tuple(jax.eval_shape(self._forward_fn(case, api), *specs).shape)

    def _forward_fn(self, case: Case, api: str) -> Callable[..., jax.Array]:
        if isinstance(case, ConvCase):
            return lambda x, w, b=None: _conv(case, x, w, b)
        if isinstance(case, PoolCase):
            return lambda x: _max_pool(case, x) if case.kind == "max" else _avg_pool(case, x)
        if isinstance(case, DepthPoolCase):
            return lambda x: _depth_pool(case, x, api)
        assert isinstance(case, GlobalPoolCase)
        return lambda x: _global_pool(case, x, api)


# ---------------------------------------------------------------------- ops
def _conv(case: ConvCase, x: jax.Array, w: jax.Array, b: jax.Array | None) -> jax.Array:
    axes = tuple(range(case.nd + 2))
    padding = _NATIVE_PADDING[case.padding] if isinstance(case.padding, str) else case.pads
    y = lax.conv_general_dilated(
        x,
        w,
        window_strides=case.stride,
        padding=padding,
        rhs_dilation=case.dilation,
        dimension_numbers=lax.ConvDimensionNumbers(axes, axes, axes),
        feature_group_count=case.groups,
    )
    return y if b is None else y + b.reshape((1, -1) + (1,) * case.nd)


def _window_dilation(case: PoolCase) -> tuple[int, ...]:
    """The case's dilation, 1 where the kernel is 1 (a single tap: the same window)."""
    return tuple(1 if k == 1 else d for k, d in zip(case.kernel, case.dilation))


def _explicit_pads(case: PoolCase) -> Pads:
    """``(lo, hi)`` per spatial dimension; with ``ceil_mode`` the high side reaches exactly as far
    as the last window reads (module docstring)."""
    if not case.ceil_mode:
        return case.pads
    geom = window_geometry(
        case.op,
        case.x_shape[2:],
        case.kernel,
        stride=case.resolved_stride,
        padding=case.padding,
        dilation=case.dilation,
        ceil_mode=True,
    )
    return tuple((lo, max(span - n - lo, 0)) for (lo, _), span, n in zip(geom.padding, geom.span, geom.sizes))


def _pool_padding(case: PoolCase) -> str | Pads:
    """``reduce_window`` padding over all axes: the native string, or explicit pairs."""
    if isinstance(case.padding, str) and not case.ceil_mode:
        return _NATIVE_PADDING[case.padding]
    return ((0, 0), (0, 0), *_explicit_pads(case))


def _max_pool(case: PoolCase, x: jax.Array) -> jax.Array:
    return lax.reduce_window(
        x,
        -jnp.inf,
        lax.max,
        _full(case.kernel),
        _full(case.resolved_stride),
        _pool_padding(case),
        window_dilation=_full(_window_dilation(case)),
    )


def _avg_pool(case: PoolCase, x: jax.Array) -> jax.Array:
    window, strides = _full(case.kernel), _full(case.resolved_stride)
    total = lax.reduce_window(x, 0.0, lax.add, window, strides, _pool_padding(case))
    ones = jnp.ones(_full(case.x_shape[2:]), x.dtype)
    if case.count_include_pad:
        pads = _explicit_pads(case)
        ones = lax.pad(ones, jnp.ones((), x.dtype), [(0, 0, 0), (0, 0, 0), *((lo, hi, 0) for lo, hi in case.pads)])
        counted = ((0, 0), (0, 0), *((0, high - hi) for (_, hi), (_, high) in zip(case.pads, pads)))
        divisor = lax.reduce_window(ones, 0.0, lax.add, window, strides, counted)
    else:
        divisor = lax.reduce_window(ones, 0.0, lax.add, window, strides, _pool_padding(case))
    return total / divisor


def _depth_pool(case: DepthPoolCase, x: jax.Array, api: str) -> jax.Array:
    k = case.pool_size
    s = k if case.stride is None else case.stride
    if api == "lax":
        window, strides = (1, k) + (1,) * case.nd, (1, s) + (1,) * case.nd
        if case.mode == "max":
            return lax.reduce_window(x, -jnp.inf, lax.max, window, strides, "VALID")
        return lax.reduce_window(x, 0.0, lax.add, window, strides, "VALID") / k
    out = (x.shape[1] - k) // s + 1
    windows = jnp.stack([x[:, t : t + (out - 1) * s + 1 : s] for t in range(k)], axis=2)  # (N, C', k, *S)
    return jnp.max(windows, axis=2) if case.mode == "max" else jnp.mean(windows, axis=2)


def _global_pool(case: GlobalPoolCase, x: jax.Array, api: str) -> jax.Array:
    spatial = case.x_shape[2:]
    if api == "numpy":
        reduce = jnp.max if case.mode == "max" else jnp.mean
        return reduce(x, axis=tuple(range(2, x.ndim)), keepdims=case.keepdims)
    if case.mode == "max":
        y = lax.reduce_window(x, -jnp.inf, lax.max, _full(spatial), _full((1,) * case.nd), "VALID")
    else:
        y = lax.reduce_window(x, 0.0, lax.add, _full(spatial), _full((1,) * case.nd), "VALID") / math.prod(spatial)
    return y if case.keepdims else y.reshape(case.x_shape[:2])
