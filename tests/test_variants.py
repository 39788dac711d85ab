"""Every execution variant (convequiv.adapters.VARIANTS) checks one named edge case per op, float32 and
bfloat16 where it takes them, JVP included where it produces one: agree, a recorded divergence or a
proven refusal. The variants run when named (``--adapters torch/compile``); this is their CI."""

import pytest

from convequiv import adapters
from convequiv.equivalence import check
from convequiv.reference.strategies import edge_cases

OPS = ("conv", "conv_transpose", "max_pool", "avg_pool", "depth_pool", "global_max_pool", "global_avg_pool")
STATUSES = {"agree", "diverge", "unsupported"}


@pytest.mark.parametrize("spec", sorted(adapters.VARIANTS))
def test_variant_checks_an_edge_case_of_every_op(spec):
    if not adapters.installed(spec):
        pytest.skip(f"{spec}: its framework is not installed")
    impl = adapters.load(spec)
    checked = 0
    ops = [op for op in OPS if impl.checked_apis(op)]  # the ops the variant runs
    assert set(ops) >= set(OPS) - {"conv_transpose"}, f"{spec} runs only {ops}"
    for op in ops:
        example = edge_cases(op)[0]
        for dtype in ("float32", "bfloat16"):
            if dtype not in impl.dtypes:
                continue
            outcome = check(impl, example, api=impl.checked_apis(op)[0], dtype=dtype)  # raises on a mismatch
            assert outcome.status in STATUSES, (op, dtype, outcome.status)
            checked += outcome.status == "agree"
    assert checked >= len(ops), f"{spec}: only {checked} checks agreed"
