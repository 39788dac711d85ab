"""The translation module: every layout conversion is an exact permutation whose inverse restores
the array, and the padding spellings say what each framework expects."""

from __future__ import annotations

import numpy as np
import pytest

from convequiv.adapters import translate as tr

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 3, 5, 4), (2, 3, 5, 4, 6), (2, 3)])
def test_data_layouts_round_trip(shape):
    a = RNG.standard_normal(shape)
    last = tr.channels_last(a)
    assert last.shape == tr.channels_last_shape(shape)
    np.testing.assert_array_equal(tr.channels_first(last), a)
    assert tr.channels_first_shape(last.shape) == shape
    if a.ndim > 2:
        assert last[1, ..., 2].tolist() == a[1, 2].tolist()


@pytest.mark.parametrize("shape", [(4, 3, 2), (4, 3, 2, 5), (4, 3, 2, 5, 3)])
def test_kernel_layouts_round_trip(shape):
    w = RNG.standard_normal(shape)
    k = tr.kernel_spatial_first(w)
    assert k.shape == shape[2:] + (shape[1], shape[0])
    np.testing.assert_array_equal(tr.kernel_channels_first(k), w)
    assert k[(1,) * (w.ndim - 2) + (2, 3)] == w[(3, 2) + (1,) * (w.ndim - 2)]


def test_depthwise_kernel_numbers_outputs_like_groups():
    channels, multiplier = 3, 2
    w = RNG.standard_normal((channels * multiplier, 1, 3, 2))
    k = tr.depthwise_kernel(w, channels)
    assert k.shape == (3, 2, channels, multiplier)
    for c in range(channels):
        for j in range(multiplier):
            np.testing.assert_array_equal(k[:, :, c, j], w[c * multiplier + j, 0])
    np.testing.assert_array_equal(tr.depthwise_kernel_back(k), w)


def test_padding_spellings():
    pads = ((1, 2), (0, 3))
    assert tr.flat_pad_widths(pads) == [0, 3, 1, 2]
    assert tr.pad_list(pads) == [[0, 0], [1, 2], [0, 3], [0, 0]]
    assert tr.pad_list(pads, channels_last_layout=False) == [[0, 0], [0, 0], [1, 2], [0, 3]]
    assert tr.named_padding("same", pads) == "same" and tr.named_padding(pads, pads) is None
    assert tr.named_padding(0, ((0, 0), (0, 0))) == "valid"
    assert tr.padded_sizes((5, 6), pads) == (8, 9)
    assert tr.per_side(((1, 1), (2, 2))) == (1, 2)
    with pytest.raises(ValueError, match="not symmetric"):
        tr.per_side(pads)
    assert tr.torch_pool_takes(((1, 1),), (2,)) and not tr.torch_pool_takes(((2, 2),), (3,))
    assert not tr.torch_pool_takes(((0, 1),), (3,))
    x = RNG.standard_normal((1, 1, 2, 3))
    padded = np.pad(x, tr.pad_list(pads, channels_last_layout=False))
    assert padded.shape == (1, 1) + tr.padded_sizes((2, 3), pads)
