"""The condition language of recorded divergences: what it evaluates, and what it refuses to run."""

from __future__ import annotations

import numpy as np
import pytest

from convequiv.condition import Condition, ConditionError
from convequiv.reference.cases import ConvCase, Example, PoolCase

CASE = ConvCase((2, 3, 8, 6), (4, 3, 3, 3), stride=(2, 1), padding="same", dilation=(1, 2))
SCOPE = {"case": CASE, "example": Example(CASE), "inputs": None, "dtype": "float32"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("case.nd == 2 and case.padding == 'same'", True),
        ("case.nd < 2 or dtype == 'float64'", False),
        ("not case.bias", False),
        ("any(d > 1 and s > 1 for d, s in zip(case.dilation, case.stride))", False),
        ("any(d > 1 for d in case.dilation) and max(case.stride) == 2", True),
        ("all(lo <= hi for lo, hi in case.pads)", True),
        ("case.x_shape[1] == 3 and case.w_shape[-1] == 3 and case.x_shape[2:] == (8, 6)", True),
        ("case.stride in ((2, 1), (1, 2))", True),
        ("(-(-case.x_shape[2] // 2) - 1) * 2 + 3 - case.x_shape[2] <= 1", True),
        ("[s for s in case.stride if s > 1] == [2]", True),
        ("case.groups if case.bias else 0", True),
        ("len(case.x_shape) - 2 == case.nd", True),
    ],
)
def test_expressions_evaluate_like_python(text, expected):
    assert Condition(text)(SCOPE) is expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("__import__('os').system('true')", "may be called"),
        ("case.__class__", "leading underscore"),
        ("case._geometry", "leading underscore"),
        ("open('/etc/passwd')", "may be called"),
        ("case.expected(None)", "may be called"),
        ("[x for x in ().__class__.__mro__]", "leading underscore"),
        ("lambda: 1", "not allowed"),
        ("os.system", "unknown name"),
        ("(x := 1)", "not allowed"),
        ("case.nd ==", "invalid condition"),
        ("max(case.stride, key=abs)", "positional"),
    ],
)
def test_anything_else_is_refused_when_loaded(text, reason):
    with pytest.raises(ConditionError, match=reason):
        Condition(text)


def test_predicates_read_the_given_inputs():
    case = PoolCase("max", (1, 1, 1, 4), (1, 2))

    class View:
        def most_in_a_window(self, flag):
            return 2 if flag == "nan" else 0

    assert Condition("example.most_in_a_window('nan') >= 2")({"case": case, "example": View()})
    assert not Condition("example.most_in_a_window('-inf') >= 1")({"case": case, "example": View()})
    assert Condition("inputs.x.size == 4")({"inputs": type("I", (), {"x": np.zeros(4)})()})
