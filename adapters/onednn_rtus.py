"""Strided 1x1 convolutions whose weight gradient oneDNN computes outside its workspace, in PyTorch.

oneDNN runs a strided 1x1 convolution by first copying the input positions the stride reads into a
dense "reduce to unit stride" (rtus) workspace. For a channels-last (``nhwc``) source with fewer
input channels than the kernel's channel block (8 for ``jit_1x1:avx2``, 16 for the AVX-512 kernels),
the ``backward_weights`` kernels address that workspace with the block size per position while only
the channel count per position is booked (uxlfoundation/oneDNN#6035): the float32 weight gradient
can come back wrong, and the heap is corrupted, which kills the process later (SIGABRT, SIGSEGV).
Write-up: docs/findings/torch-onednn-conv-1x1-stride-channels-last-dw.md.

Two adapters hand PyTorch such sources: ``torch/channels_last`` (``Tensor.to(channels_last)``) and
every ``keras[torch]`` adapter (Keras passes its NHWC input to ``conv{1,2}d`` as a permuted view, which
has channels-last strides; the compiled training step of ``keras[torch]/jit`` passes the same strides
and oneDNN logs the same kernel). They ask :func:`at_risk` in ``support`` and declare the case
``Unsupported(evidence="unsafe")``; the proof (``probe_hazard``) runs the case's backward once in a
child process with oneDNN's verbose log and requires the ``jit_1x1`` ``backward_weights`` line on a
plain (``ac..``) source (:func:`kernel_in_child`, cached per geometry and layout).

When oneDNN takes that kernel, measured on an AVX2-only CPU (block 8; torch 2.1.2, 2.4.1, 2.8.0, 2.13.0,
2.15.0, 2,883 geometries each, no mismatch; assumed the same on AVX-512 CPUs, where a case the rule declares
but oneDNN runs with another kernel fails its proof): float32, a 1x1 kernel, no padding, one group, fewer input channels
than the block, every spatial size a multiple of its stride and some stride above 1 (a unit stride
takes the same kernel without the workspace), and a batch above one or more than 20,480 input elements
(below that PyTorch's ``use_mkldnn`` keeps 1x1 convolutions of one sample off oneDNN). 3-D convolutions
take another kernel; a 1-D convolution reaches oneDNN as a 2-D one of height 1 and stays channels-last
only with one input channel.
"""

from __future__ import annotations

import functools
import json
import math
import os
import signal
import subprocess
import sys
from typing import Literal

from convequiv.reference.cases import ConvCase

from .base import Unsupported

#: How the adapter lays out x and w: ``channels_last`` (``Tensor.to``) or Keras' ``permuted`` views.
Layout = Literal["channels_last", "permuted"]

#: Seconds a child may take (importing torch and one backward take about 2 s).
CHILD_TIMEOUT = 120

#: Below this many input elements PyTorch runs a one-sample 1x1 convolution without oneDNN.
MKLDNN_MIN_ELEMENTS = 20480

CHILD = """
import ctypes, json, sys
import torch, torch.nn.functional as F
try:  # oneDNN prints with C stdio: unbuffered (glibc's _IONBF), its line survives an abort right after
    libc = ctypes.CDLL(None)
    libc.setvbuf(ctypes.c_void_p.in_dll(libc, "stdout"), None, 2, 0)
except (OSError, ValueError, AttributeError):
    pass
g = json.loads(sys.argv[1])
nd, x_shape, w_shape = len(g["x"]) - 2, g["x"], g["w"]
conv = getattr(F, f"conv{nd}d")
if g["layout"] == "channels_last":
    x = torch.randn(x_shape).to(memory_format=torch.channels_last)
    w = torch.randn(w_shape).to(memory_format=torch.channels_last).requires_grad_()
    weight = w
else:  # Keras: an NHWC input and an (*k, C, O) kernel, permuted to channels-first views
    x = torch.randn(x_shape[0], *x_shape[2:], x_shape[1]).movedim(-1, 1)
    w = torch.randn(*w_shape[2:], w_shape[1], w_shape[0]).requires_grad_()
    weight = w.permute(nd + 1, nd, *range(nd))
with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
    y = conv(x, weight, stride=g["stride"])
    y.backward(torch.randn_like(y))
"""


def channel_block() -> int:
    """The channel block of oneDNN's float32 1x1 kernels on this CPU: 16 with AVX-512, else 8."""
    import torch

    return 16 if torch.backends.cpu.get_cpu_capability().startswith("AVX512") else 8


def at_risk(case: ConvCase, dtype: str, layout: Layout) -> bool:
    """Whether oneDNN computes the weight gradient of ``case`` with the strided 1x1 kernel on a
    channels-last source of fewer channels than the block (module docstring)."""
    sizes = case.x_shape[2:]
    channels_last = case.nd == 2 or (case.nd == 1 and layout == "permuted" and case.x_shape[1] == 1)
    return (
        dtype == "float32"
        and channels_last
        and case.groups == 1
        and all(k == 1 for k in case.w_shape[2:])
        and all(lo == 0 and hi == 0 for lo, hi in case.pads)
        and all(n % s == 0 for n, s in zip(sizes, case.stride))
        and max(case.stride) > 1
        and (case.x_shape[0] > 1 or math.prod(case.x_shape) > MKLDNN_MIN_ELEMENTS)
        and case.x_shape[1] < channel_block()
    )


def unsafe() -> Unsupported:
    """The verdict for a case :func:`at_risk`: not run, its hazard shown by :func:`kernel_in_child`."""
    return Unsupported(
        "oneDNN's strided 1x1 backward-weights kernel on a channels-last source with fewer channels than its "
        "block books its workspace per channel and addresses it per block (uxlfoundation/oneDNN#6035): wrong "
        "weight gradient and heap corruption (abort); not run. Write-up: "
        "docs/findings/torch-onednn-conv-1x1-stride-channels-last-dw.md",
        evidence="unsafe",
    )


def kernel_in_child(case: ConvCase, layout: Layout) -> str:
    """The oneDNN ``backward_weights`` line of ``case``'s backward, run in a child process, or the signal
    the child died of (the corruption itself). Raises ``AssertionError`` when oneDNN ran the weight
    gradient with another kernel or on a blocked source."""
    return _cached(_geometry(case, layout))


def _geometry(case: ConvCase, layout: Layout) -> str:
    geometry = {"x": list(case.x_shape), "w": list(case.w_shape), "stride": list(case.stride), "layout": layout}
    return json.dumps(geometry, sort_keys=True)


@functools.cache
def _cached(geometry: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, geometry],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        env={k: v for k, v in os.environ.items() if k != "ONEDNN_VERBOSE"},
    )
    died = f"; the child process then died of {signal.Signals(-done.returncode).name}" if done.returncode < 0 else ""
    tail = done.stderr.strip().splitlines()[-1:] or [""]
    assert done.returncode <= 0, f"the child process ended with status {done.returncode}: {tail[0]}"
    lines = [line for line in done.stdout.splitlines() if "backward_weights" in line and "convolution" in line]
    # oneDNN writes "src:f32::blocked:acdb" (v3) or "src_f32::blocked:acdb" (v2)
    affected = [line for line in lines if "jit_1x1:" in line and "f32::blocked:ac" in line]
    if not affected and died:
        return f"no oneDNN line{died} in the backward"  # the corruption itself, before the log
    assert affected, f"oneDNN ran the weight gradient with another kernel: {lines[:1] or 'no oneDNN log'}"
    fields = affected[0].split(",")
    kernel = next(f for f in fields if "jit_1x1:" in f)
    source = next(f for f in fields if "f32::blocked:ac" in f).split(" ")[0]
    return f"oneDNN ran backward_weights with {kernel} on {source}{died}"
