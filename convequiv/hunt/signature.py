"""What makes two failures the same finding: a signature.

A failure's signature is the adapter, API, dtype, op, the outputs that differ (``y``, ``dx``,
``dw``, ``db``, ``shape``; ``crash`` when the framework call raised, ``process crash`` when the
process died), the plan's route (how the case reached the framework), whether the input held NaN
or infinities, and the semantic features (:meth:`convequiv.reference.cases.Example.features`,
without the rank) that *every* failure of the finding had: the first failure's features,
narrowed by each later one. Everything but the features identifies the finding (its ``id``); the
features say what its failures have in common, which is where a maintainer starts looking.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_RANK = re.compile(r"^[a-z_]+: [0-9]-D(, .*)?$")


def essential(features: set[str] | frozenset[str]) -> tuple[str, ...]:
    """The features without the rank (``"conv: 2-D"``; ``"global_max_pool: 2-D, keepdims=True"``
    keeps its ``keepdims`` part)."""
    kept = set()
    for feature in features:
        if _RANK.match(feature):
            op, _, rest = feature.partition(": ")
            extra = rest.partition(", ")[2]
            if extra:
                kept.add(f"{op}: {extra}")
        else:
            kept.add(feature)
    return tuple(sorted(kept))


@dataclass(frozen=True)
class Signature:
    adapter: str
    api: str
    dtype: str
    op: str
    outputs: tuple[str, ...]
    route: str
    nonfinite: bool = False
    features: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, ...]:
        values = "nonfinite" if self.nonfinite else "finite"
        return (self.adapter, self.api, self.dtype, self.op, ",".join(self.outputs), self.route, values)

    def narrowed(self, features: set[str] | frozenset[str]) -> Signature:
        """The same signature with only the features it shares with another failure's."""
        common = tuple(f for f in self.features if f in set(essential(features)))
        return Signature(self.adapter, self.api, self.dtype, self.op, self.outputs, self.route, self.nonfinite, common)

    @property
    def id(self) -> str:
        """A short, stable, file-system-safe name: ``torch-max_pool-dx-1a2b3c4d``."""
        digest = hashlib.sha256(repr(self.key).encode()).hexdigest()[:8]
        stem = re.sub(r"[^a-z0-9_]+", "-", f"{self.adapter}-{self.op}-{'-'.join(self.outputs)}".lower()).strip("-")
        return f"{stem}-{digest}"

    def to_json(self) -> dict[str, object]:
        return {
            "adapter": self.adapter,
            "api": self.api,
            "dtype": self.dtype,
            "op": self.op,
            "outputs": list(self.outputs),
            "route": self.route,
            "nonfinite": self.nonfinite,
            "features": list(self.features),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Signature:
        return cls(
            adapter=str(data["adapter"]),
            api=str(data["api"]),
            dtype=str(data["dtype"]),
            op=str(data["op"]),
            outputs=tuple(data["outputs"]),  # type: ignore[arg-type]
            route=str(data["route"]),
            nonfinite=bool(data.get("nonfinite", False)),
            features=tuple(data["features"]),  # type: ignore[arg-type]
        )


def failing_outputs(problems: object) -> tuple[str, ...]:
    """The outputs named by an outcome's problems, in report order."""
    order = ("crash", "shape", "y", "dx", "dw", "db", "jvp")
    names = {getattr(p, "output", "") for p in problems}  # type: ignore[attr-defined]
    return tuple(sorted(names, key=lambda n: order.index(n) if n in order else len(order)))
