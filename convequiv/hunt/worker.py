"""One hunting process: draws examples of one adapter with fresh seeds until its deadline.

Started by :mod:`convequiv.hunt.campaign` as ``python -m convequiv.hunt.worker CONFIG.json``. It
loops over the adapter's (op, API, dtype) tasks; each *round* is one Hypothesis search of
``round_examples`` examples with its own seed. Every example goes through
:func:`convequiv.equivalence.check` without raising: agreements, recorded divergences and proven
refusals are counted, and a failure is tested against the findings known so far (same signature
key, essential features covered; :mod:`convequiv.hunt.signature`): a known one is counted, a new
one is raised as an exception class of its own, so that Hypothesis shrinks it to a smallest
example and keeps searching for others (several are reported together). One bug never hides
another: the round goes on past every known failure.

Events go to the JSON-lines file the config names: ``progress`` (counts per status and
divergence), ``finding`` (signature, smallest example, detail, repro.py source), ``round``; and
before each check the example (and the running totals) is written to the ``current`` file, so that when the framework
kills the process (abort, segfault) the campaign knows which example did it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from convequiv.adapters.base import Unsupported
from convequiv.reference.cases import Example

from .signature import Signature, essential, failing_outputs


class NewFailure(Exception):
    """Base of the per-signature exception classes (Hypothesis tells failures apart by type)."""

    outcome: Any = None


_CLASSES: dict[tuple[str, ...], type[NewFailure]] = {}


def _failure_class(key: tuple[str, ...]) -> type[NewFailure]:
    if key not in _CLASSES:
        _CLASSES[key] = type(f"NewFailure{len(_CLASSES)}", (NewFailure,), {"__module__": __name__})
    return _CLASSES[key]


class Worker:
    def __init__(self, config: dict[str, Any]):
        from convequiv.adapters import load

        self.config = config
        self.spec: str = config["adapter"]
        self.impl = load(self.spec)
        self.impl.warm_up()
        self.events = Path(config["events"])
        self.current = Path(config["current"])
        self.deadline = float(config["deadline"])
        self.known = {sig.id: sig for sig in map(Signature.from_json, config.get("known", []))}
        self.statuses: Counter[str] = Counter()
        self.explained: Counter[str] = Counter()
        self.counted: Counter[str] = Counter()  # failures of known findings, by finding id

    def emit(self, event: dict[str, Any]) -> None:
        with self.events.open("a") as fh:
            fh.write(json.dumps(event) + "\n")

    def tasks(self) -> list[tuple[str, str, str]]:
        ops = self.config["ops"]
        return [(op, api, dtype) for op in ops for api in self.impl.checked_apis(op) for dtype in self.impl.dtypes]

    def run(self) -> None:
        tasks = self.tasks()
        round_no = 0
        while time.time() < self.deadline and tasks:
            op, api, dtype = tasks[round_no % len(tasks)]
            self.hunt_round(op, api, dtype, seed=int(self.config["seed"]) * 100_003 + round_no)
            round_no += 1
            self.emit(self.progress())

    def progress(self) -> dict[str, Any]:
        """The ``progress`` event: this worker's running totals."""
        return {
            "type": "progress",
            "adapter": self.impl.name,
            "statuses": dict(self.statuses),
            "explained": dict(self.explained),
            "counted": dict(self.counted),
            "features": {i: list(self.known[i].features) for i in self.counted},
        }

    def hunt_round(self, op: str, api: str, dtype: str, seed: int) -> None:
        from hypothesis import HealthCheck, Phase, given, settings
        from hypothesis import seed as fix_seed

        from convequiv.draws import case_draws
        from convequiv.equivalence import check
        from convequiv.reference.strategies import op_examples

        def one(case_example: Any) -> None:
            key = (repr(case_example), api, dtype)  # Hypothesis's replay meets the same draws
            for ex in case_draws(case_example, self.impl, key):  # compiled variants: several inputs per compilation
                if time.time() > self.deadline:
                    return
                check_one(ex)

        def check_one(ex: Any) -> None:
            # what the campaign needs should the framework kill this process: the example, and the
            # totals so far (a crash would otherwise lose the round's counts)
            current = {"op": op, "api": api, "dtype": dtype, "example": repr(ex), "progress": self.progress()}
            self.current.write_text(json.dumps(current))
            try:
                outcome = check(self.impl, ex, api=api, dtype=dtype, raise_on_failure=False)
            except AssertionError as exc:  # an Unsupported claim the framework contradicts
                outcome = _contradiction(self.impl.name, ex, api, dtype, exc)
            self.statuses[outcome.status] += 1
            for div in outcome.divergences:
                self.explained[div] += 1
            if outcome.status != "fail":
                return
            sig = signature_of(outcome, op)
            if sig.id in self.known:
                self.known[sig.id] = self.known[sig.id].narrowed(outcome.features)
                self.counted[sig.id] += 1
                return
            error = _failure_class(sig.key)(outcome.detail)
            error.outcome = outcome
            raise error

        test = settings(
            max_examples=int(self.config["round_examples"]),
            database=None,
            deadline=None,
            derandomize=False,
            report_multiple_bugs=True,
            phases=[Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )(fix_seed(seed)(given(case_example=op_examples(op))(one)))
        try:
            test()
        except NewFailure as single:
            self.report([single], op)
        except ExceptionGroup as group:
            found, other = group.split(NewFailure)
            self.report(list(_leaves(found)), op)
            if other is not None:
                raise other from None

    def report(self, failures: list[NewFailure], op: str) -> None:
        from .repro import write_script

        for failure in failures:
            outcome = failure.outcome
            sig = signature_of(outcome, op)
            plan = self.impl.support(outcome.example.case, outcome.api, outcome.dtype)
            title = f"{outcome.adapter} ({outcome.api}, {outcome.dtype}) {op}: {', '.join(sig.outputs)} differ"
            if isinstance(plan, Unsupported):  # the claim's proof failed: the adapter's defect, shown by the suite
                source, standalone = _claim_script(self.spec, outcome, plan, title), False
            else:
                source, standalone = write_script(self.impl, self.spec, plan, outcome.example, title=title)
            self.known[sig.id] = sig
            self.emit(
                {
                    "type": "finding",
                    "signature": sig.to_json(),
                    "id": sig.id,
                    "example": repr(outcome.example),
                    "size": _size(outcome.example),
                    "detail": outcome.detail,
                    "plan": outcome.plan,
                    "versions": self.impl.versions(),
                    "repro": source,
                    "standalone": standalone,
                }
            )


def _claim_script(spec: str, outcome: Any, claim: Unsupported, title: str) -> str:
    """repro.py for a refuted ``Unsupported`` claim: the suite's own check (it needs convequiv), exit 1
    while the claim and the framework disagree."""
    from .repro import check_script

    doc = (
        f"{title}\n\nThe adapter declares the case unsupported ({claim.reason}; evidence {claim.evidence}) and the\n"
        "proof of that claim failed: an adapter defect until the claim is fixed. Needs convequiv."
    )
    return check_script(doc, spec, repr(outcome.example), outcome.api, outcome.dtype, in_child=False)


def signature_of(outcome: Any, op: str) -> Signature:
    """The signature of a failed check (:mod:`convequiv.hunt.signature`)."""
    return Signature(
        outcome.adapter,
        outcome.api,
        outcome.dtype,
        op,
        failing_outputs(outcome.problems),
        outcome.route,
        outcome.example.values == "special",
        essential(outcome.features),
    )


def _leaves(group: BaseException | None) -> list[NewFailure]:
    """The failures inside a (possibly nested) exception group."""
    if group is None:
        return []
    if isinstance(group, BaseExceptionGroup):
        return [leaf for e in group.exceptions for leaf in _leaves(e)]
    return [group] if isinstance(group, NewFailure) else []


def _size(example: Example) -> int:
    """How big an example is (smaller is a better reproduction): input elements, then kernel taps."""
    import math

    case = example.case
    w_shape: tuple[int, ...] = getattr(case, "w_shape", (1,))  # convolutions only
    return math.prod(case.x_shape) * 10_000 + math.prod(w_shape)


def _contradiction(name: str, ex: Any, api: str, dtype: str, exc: AssertionError) -> Any:
    from convequiv.compare import ArrayMismatch
    from convequiv.equivalence import Outcome

    problem = ArrayMismatch("unsupported claim", str(exc).splitlines()[0][:500])
    return Outcome(name, api, dtype, ex, "fail", str(exc), route="unsupported", problems=(problem,))


def main(path: str) -> None:
    config = json.loads(Path(path).read_text())
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    Worker(config).run()


if __name__ == "__main__":
    main(sys.argv[1])
