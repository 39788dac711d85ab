"""The oneDNN strided 1x1 weight-gradient hazard (convequiv.adapters.onednn_rtus): the adapters that hand
PyTorch channels-last sources declare exactly the cases oneDNN runs with that kernel unsafe, and the proof
shows the kernel from a child process; a case just outside the rule takes another kernel."""

import pytest

pytest.importorskip("torch")

from convequiv import adapters
from convequiv.adapters import onednn_rtus
from convequiv.equivalence import check
from convequiv.reference.cases import ConvCase
from convequiv.reference.strategies import Example

# x (3, 2, 4, 6), stride (1, 3): the finding's case (2 channels, fewer than any block; 6 % 3 == 0)
AT_RISK = ConvCase((3, 2, 4, 6), (3, 2, 1, 1), stride=(1, 3), bias=False)
OUTSIDE = {
    "unit stride": ConvCase((3, 2, 4, 6), (3, 2, 1, 1), stride=1, bias=False),
    "width not a multiple of the stride": ConvCase((3, 2, 4, 7), (3, 2, 1, 1), stride=(1, 3), bias=False),
    "one small sample": ConvCase((1, 2, 4, 6), (3, 2, 1, 1), stride=(1, 3), bias=False),
    "padded": ConvCase((3, 2, 4, 6), (3, 2, 1, 1), stride=(1, 3), padding=((0, 0), (0, 3)), bias=False),
    "3x1 kernel": ConvCase((3, 2, 6, 6), (3, 2, 3, 1), stride=(1, 3), bias=False),
    "two groups": ConvCase((3, 2, 4, 6), (4, 1, 1, 1), stride=(1, 3), groups=2, bias=False),
    "3-D": ConvCase((3, 2, 2, 4, 6), (3, 2, 1, 1, 1), stride=(1, 1, 3), bias=False),
    "enough channels": ConvCase((3, 16, 4, 6), (3, 16, 1, 1), stride=(1, 3), bias=False),
}


def test_rule():
    assert onednn_rtus.at_risk(AT_RISK, "float32", "channels_last")
    assert not onednn_rtus.at_risk(AT_RISK, "float64", "channels_last")
    for name, case in OUTSIDE.items():
        assert not onednn_rtus.at_risk(case, "float32", "channels_last"), name
    one_channel_1d = ConvCase((3, 1, 6), (2, 1, 1), stride=2, bias=False)
    assert onednn_rtus.at_risk(one_channel_1d, "float32", "permuted")  # Keras' NWC view, oneDNN's acdb
    assert not onednn_rtus.at_risk(ConvCase((3, 2, 6), (2, 2, 1), stride=2), "float32", "permuted")


@pytest.mark.parametrize("layout", ["channels_last", "permuted"])
def test_the_kernel_runs_inside_the_rule_and_not_just_outside(layout):
    assert "jit_1x1:" in onednn_rtus.kernel_in_child(AT_RISK, layout)
    for name in ("width not a multiple of the stride", "one small sample"):
        with pytest.raises(AssertionError, match="another kernel"):
            onednn_rtus._cached.__wrapped__(onednn_rtus._geometry(OUTSIDE[name], layout))


@pytest.mark.parametrize("spec", ["torch/channels_last", "keras[torch]"])
def test_adapters_declare_and_prove_the_hazard(spec):
    if not adapters.installed(spec):
        pytest.skip(f"{spec} is not installed")
    impl = adapters.load(spec)
    for api in impl.apis:
        outcome = check(impl, Example(AT_RISK, 0, name="conv_1x1_stride_few_channels"), api=api, dtype="float32")
        assert outcome.status == "unsupported" and "oneDNN#6035" in outcome.detail, outcome
        assert "jit_1x1:" in outcome.detail, outcome.detail
        assert not isinstance(impl.support(AT_RISK, api, "float64"), adapters.Unsupported)
