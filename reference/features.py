"""How reports name what an example exercises: the semantic features of padding and of values.

Every feature is prefixed with the op by the case (``"conv: padding same, stride > 1"``); these are
the rows of the compatibility report under each op.
"""

from __future__ import annotations

from .geometry import Pads

#: How a report names the input values of an example (``"normal"`` adds no feature).
VALUE_FEATURES = {
    "ties": "tied input values (max-gradient ties)",
    "negative": "all inputs negative (padding must not win)",
    "special": "NaN and ±inf in the input",
}


def padding_features(padding: object, pads: Pads, sizes: tuple[int, ...], stride: tuple[int, ...]) -> set[str]:
    """The padding's form (a named string, explicit symmetric or asymmetric, none) and, for the
    ``"same"`` forms, whether a stride above 1 meets an even input (where SAME's extra cell
    decides the result)."""
    feats: set[str] = set()
    if isinstance(padding, str):
        feats.add(f"padding {padding}")
        if padding != "valid" and any(s > 1 for s in stride):
            feats.add(f"padding {padding}, stride > 1")
            if any(s > 1 and n % 2 == 0 for s, n in zip(stride, sizes)):
                feats.add(f"padding {padding}, stride 2+, even input")
    elif any(lo != hi for lo, hi in pads):
        feats.add("explicit asymmetric padding")
    elif any(lo for lo, _ in pads):
        feats.add("explicit symmetric padding")
    else:
        feats.add("no padding")
    return feats
