"""convequiv's NumPy reference: the oracle every framework is checked against.

Channels-first everywhere: ``x`` is ``(N, C, *spatial)`` with any spatial rank >= 1, a conv weight
is ``(O, C // groups, *kernel)``, a bias ``(O,)``. Kernel, stride and dilation take an int or one
value per spatial dimension. Padding takes an int, per-dimension ints, per-dimension ``(lo, hi)``
pairs, ``"valid"``, ``"same"`` or ``"same_lower"`` (:mod:`convequiv.reference.geometry`). Inputs are
converted to float64 and every result is float64. Semantics that frameworks disagree on are
explicit keywords: padding placement, ``ceil_mode``, ``count_include_pad``, the max-gradient tie
policy ``ties`` and the NaN policy ``nan``.

Modules: :mod:`~convequiv.reference.geometry` (sizes and padding), :mod:`~convequiv.reference.convolution`,
:mod:`~convequiv.reference.transposed` (transposed convolution, the adjoint of ``conv``; its weight is
``(C, O // groups, *kernel)``), :mod:`~convequiv.reference.pooling` (max / average),
:mod:`~convequiv.reference.channel_pooling` (depth and global),
:mod:`~convequiv.reference.params` (parameter counts), :mod:`~convequiv.reference.tolerance` (error bounds),
:mod:`~convequiv.reference.strategies` (Hypothesis strategies; needs ``hypothesis``).

The package imports nothing but NumPy.
"""

from convequiv import __version__ as __version__

from .channel_pooling import (
    depth_pool,
    depth_pool_backward,
    global_avg_pool,
    global_avg_pool_backward,
    global_max_pool,
    global_max_pool_backward,
)
from .convolution import conv, conv_backward
from .geometry import effective_kernel, output_size, resolve_padding
from .params import (
    ParamCount,
    batch_norm_params,
    conv_params,
    conv_transpose_params,
    dense_params,
    depthwise_conv_params,
    separable_conv_params,
)
from .pooling import avg_pool, avg_pool_backward, max_pool, max_pool_backward
from .transposed import conv_transpose, conv_transpose_backward, transposed_output_size

__all__ = [
    "ParamCount",
    "avg_pool",
    "avg_pool_backward",
    "batch_norm_params",
    "conv",
    "conv_backward",
    "conv_params",
    "conv_transpose",
    "conv_transpose_backward",
    "conv_transpose_params",
    "dense_params",
    "depth_pool",
    "depth_pool_backward",
    "depthwise_conv_params",
    "effective_kernel",
    "global_avg_pool",
    "global_avg_pool_backward",
    "global_max_pool",
    "global_max_pool_backward",
    "max_pool",
    "max_pool_backward",
    "output_size",
    "resolve_padding",
    "separable_conv_params",
    "transposed_output_size",
]
