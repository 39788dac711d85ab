"""Small-case latency: the per-call time of every op, forward and backward, on the suite's typical
shapes, against PyTorch.

The equivalence suite's examples are tiny (a few hundred values), and every one of them calls the
reference several times (expected values, gradients, error bounds), so there the reference's fixed
cost per call matters, not its throughput. These cases are the suite's typical shapes (its named
edge cases' sizes); each is timed like the large ones (:func:`.timing.time_blocks`, with more
repeats), in float64, the reference's call as the suite makes it and PyTorch's native call of the
same work. Where PyTorch cannot spell the reference's padding (``"same"`` with stride 2 pads one
cell at the end only), it pads symmetrically to the same output shape: the same work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from convequiv import reference


@dataclass(frozen=True)
class SmallCase:
    """One small call: the op, its input shape, the reference's keyword arguments and a note."""

    name: str
    op: str
    x: tuple[int, ...]
    args: dict[str, Any] = field(default_factory=dict)
    w: tuple[int, ...] | None = None
    note: str = ""

    def describe(self) -> str:
        shape = "x".join(str(v) for v in self.x)
        if self.w is not None:
            shape += " * " + "x".join(str(v) for v in self.w)
        extra = ", ".join(f"{k}={v!r}" for k, v in self.args.items())
        return f"{shape}" + (f" ({extra})" if extra else "")


SMALL_CASES: tuple[SmallCase, ...] = (
    SmallCase(
        "conv.same.s2",
        "conv",
        (2, 3, 8, 8),
        {"stride": 2, "padding": "same"},
        w=(4, 3, 3, 3),
        note="PyTorch pads (1, 1) for the reference's same (0, 1): the same output and work",
    ),
    SmallCase("conv.depthwise", "conv", (2, 4, 7, 6), {"padding": 1, "groups": 4}, w=(4, 1, 3, 3)),
    SmallCase(
        "conv_transpose.s2",
        "conv_transpose",
        (2, 3, 4, 5),
        {"stride": 2, "padding": 1, "output_padding": 1},
        w=(3, 4, 3, 3),
    ),
    SmallCase("max_pool.3s2", "max_pool", (2, 3, 8, 8), {"kernel": 3, "stride": 2}),
    SmallCase("avg_pool.3s2", "avg_pool", (2, 3, 8, 8), {"kernel": 3, "stride": 2}),
    SmallCase("depth_pool.3", "depth_pool", (2, 6, 4, 5), {"pool_size": 3}),
    SmallCase("global_avg_pool", "global_avg_pool", (2, 3, 5, 7)),
    SmallCase("global_max_pool", "global_max_pool", (2, 3, 5, 7)),
)


def make_inputs(case: SmallCase, seed: int = 0) -> dict[str, np.ndarray]:
    """float64 ``x``, ``dy`` shaped like the reference's output and, for conv, ``w`` and ``b`` (``O``
    channels: ``w`` is ``(O, C / groups, kh, kw)``, transposed ``(C, O / groups, kh, kw)``)."""
    rng = np.random.default_rng(seed)
    arrays = {"x": rng.standard_normal(case.x)}
    if case.w is not None:
        arrays["w"] = rng.standard_normal(case.w)
        out_channels = case.w[1] * case.args.get("groups", 1) if case.op == "conv_transpose" else case.w[0]
        arrays["b"] = rng.standard_normal(out_channels)
    y = np.asarray(reference_call(case, "forward", arrays)())
    arrays["dy"] = rng.standard_normal(y.shape)
    return arrays


def reference_call(case: SmallCase, direction: str, a: dict[str, np.ndarray]) -> Callable[[], object]:
    """The reference call of one small case, as the suite makes it."""
    x, kw, fwd = a["x"], dict(case.args), direction == "forward"
    if case.op == "conv":
        if fwd:
            return lambda: reference.conv(x, a["w"], a["b"], **kw)
        return lambda: reference.conv_backward(x, a["w"], a["dy"], **kw)
    if case.op == "conv_transpose":
        if fwd:
            return lambda: reference.conv_transpose(x, a["w"], a["b"], **kw)
        return lambda: reference.conv_transpose_backward(x, a["w"], a["dy"], **kw)
    forward = getattr(reference, case.op)
    backward = getattr(reference, f"{case.op}_backward")
    if fwd:
        return lambda: forward(x, **kw)
    return lambda: backward(x, a["dy"], **kw)


def torch_call(torch: Any, case: SmallCase, direction: str, a: dict[str, np.ndarray]) -> Callable[[], object]:
    """PyTorch's call of the same work (module docstring), on tensors made before timing."""
    functional, aten = torch.nn.functional, torch.ops.aten
    t = {name: torch.from_numpy(v) for name, v in a.items()}
    x, dy, fwd = t["x"], t["dy"], direction == "forward"
    kw = case.args
    if case.op == "conv":
        w, b = t["w"], t["b"]
        s, g = kw.get("stride", 1), kw.get("groups", 1)
        p = 1 if kw.get("padding") == "same" else kw.get("padding", 0)
        if fwd:
            return lambda: functional.conv2d(x, w, b, s, p, 1, g)
        mask = [True, True, True]
        return lambda: aten.convolution_backward(dy, x, w, [w.shape[0]], [s, s], [p, p], [1, 1], False, [0, 0], g, mask)
    if case.op == "conv_transpose":  # explicit int padding only: PyTorch spells the reference's call exactly
        w, b = t["w"], t["b"]
        s, p, op, g = kw.get("stride", 1), kw.get("padding", 0), kw.get("output_padding", 0), kw.get("groups", 1)
        if fwd:
            return lambda: functional.conv_transpose2d(x, w, b, s, p, op, g, 1)
        mask = [True, True, True]
        o = w.shape[1] * g
        return lambda: aten.convolution_backward(dy, x, w, [o], [s, s], [p, p], [1, 1], True, [op, op], g, mask)
    if case.op in ("max_pool", "avg_pool"):
        k, s = kw["kernel"], kw.get("stride", kw["kernel"])
        if case.op == "max_pool":
            if fwd:
                return lambda: functional.max_pool2d(x, k, s)

            def max_grad() -> object:
                _, idx = aten.max_pool2d_with_indices(x, [k, k], [s, s], [0, 0])
                return aten.max_pool2d_with_indices_backward(dy, x, [k, k], [s, s], [0, 0], [1, 1], False, idx)

            return max_grad
        if fwd:
            return lambda: functional.avg_pool2d(x, k, s)
        return lambda: aten.avg_pool2d_backward(dy, x, [k, k], [s, s], [0, 0], False, True, None)

    def grad(fn: Callable) -> object:
        xg = x.detach().requires_grad_(True)
        return torch.autograd.grad(fn(xg), xg, dy)[0]

    n, c = case.x[:2]
    if case.op == "depth_pool":
        k = kw["pool_size"]

        def depth(v: Any) -> Any:
            return v.view(n, c // k, k, *case.x[2:]).amax(2)

        return (lambda: depth(x)) if fwd else (lambda: grad(depth))
    if case.op == "global_avg_pool":
        if fwd:
            return lambda: x.mean((2, 3))
        area = case.x[2] * case.x[3]
        return lambda: (dy / area)[:, :, None, None].expand(x.shape).contiguous()
    return (lambda: x.amax((2, 3))) if fwd else (lambda: grad(lambda v: v.amax((2, 3))))
