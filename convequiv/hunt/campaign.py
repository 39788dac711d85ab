"""A hunting campaign: worker processes over a wall-clock budget, with a live progress display.

The adapters are hunted in turn: ``--workers`` processes run at once, each on one adapter for a
slice of the budget (:mod:`convequiv.hunt.worker`; a Keras backend gets ``KERAS_BACKEND`` in its
process), one BLAS / OpenMP thread each, so that CPU time is workers x wall time. Seeds are
derived from ``--seed``, the shard and a counter, so a shard ``i/n`` never repeats another's.

The campaign reads the workers' events as they come: each finding is merged into the store at
once (a later run resumes it), and a worker that dies of a signal (the framework aborted or
segfaulted) becomes a ``process crash`` finding for the example it was checking; the worker is
replaced and the campaign goes on.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convequiv.settings import user_cache

from .repro import check_script
from .signature import Signature, essential
from .store import Finding, Store, machine

THREADS_ONE = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass
class Options:
    adapters: list[str]
    ops: list[str]
    budget: float
    workers: int
    out: Path
    seed: int
    shard: tuple[int, int] = (0, 1)
    round_examples: int = 200
    slice_seconds: float = 600.0


@dataclass
class Running:
    spec: str
    proc: subprocess.Popen[bytes]
    events: Path
    current: Path
    started: float
    offset: int = 0
    counted: Counter[str] = field(default_factory=Counter)  # failures of known findings, as last reported
    explained: Counter[str] = field(default_factory=Counter)  # checks explained per record, as last reported
    statuses: Counter[str] = field(default_factory=Counter)  # this worker's checks by status, as last reported
    tally_counted: Counter[str] = field(default_factory=Counter)  # ``counted`` as last added to the tally
    tally_explained: Counter[str] = field(default_factory=Counter)  # ``explained`` as last added to the tally


@dataclass
class Tally:
    """Per adapter, summed over its workers: checks by status, failures of known findings, recorded
    divergences seen."""

    statuses: Counter[str] = field(default_factory=Counter)
    counted: Counter[str] = field(default_factory=Counter)
    explained: Counter[str] = field(default_factory=Counter)


class Campaign:
    def __init__(self, options: Options):
        self.options = options
        self.store = Store.open(options.out)
        self.scratch = options.out / ".work"
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.queue: deque[str] = deque(options.adapters)
        self.running: list[Running] = []
        self.spawned = 0
        self.tallies: dict[str, Tally] = {}
        self.new: list[str] = []
        self.errors: list[str] = []
        self.worker_seconds = 0.0  # wall time of the worker processes, summed
        self._children_cpu = _children_cpu()  # CPU time of reaped child processes so far (workers, their children)
        self.started = time.time()
        self.deadline = self.started + options.budget

    # ---------------------------------------------------------------- workers
    def _seed(self) -> int:
        index, count = self.options.shard
        return (self.options.seed * 1_000_003 + self.spawned) * count + index

    def _spawn(self, spec: str) -> None:
        self.spawned += 1
        tag = f"w{self.spawned}"
        events, current = self.scratch / f"{tag}.events", self.scratch / f"{tag}.current"
        for path in (events, current):
            path.unlink(missing_ok=True)
        config = {
            "adapter": spec,
            "ops": self.options.ops,
            "seed": self._seed(),
            "deadline": min(self.deadline, time.time() + self.options.slice_seconds),
            "round_examples": self.options.round_examples,
            "events": str(events),
            "current": str(current),
            "known": [f.signature.to_json() for f in self.store.findings.values()],
        }
        cfg = self.scratch / f"{tag}.json"
        cfg.write_text(json.dumps(config))
        env = {**os.environ, **THREADS_ONE}
        env.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(user_cache("hypothesis-storage")))
        if spec.startswith("keras[") and spec.endswith("]"):
            env["KERAS_BACKEND"] = spec[len("keras[") : -1]
        log = (self.scratch / f"{tag}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "convequiv.hunt.worker", str(cfg)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        self.running.append(Running(spec, proc, events, current, time.time()))

    def _read(self, worker: Running) -> None:
        try:
            with worker.events.open() as fh:
                fh.seek(worker.offset)
                lines = fh.readlines()
                worker.offset = fh.tell()
        except FileNotFoundError:
            return
        for line in lines:
            if line.endswith("\n"):
                self._event(worker, json.loads(line))

    def _event(self, worker: Running, event: dict[str, Any]) -> None:
        if event["type"] == "progress":
            # A worker reports its own running totals; an adapter is hunted by one worker per slice,
            # so its tally adds what this worker checked since its last report.
            tally = self.tallies.setdefault(event["adapter"], Tally())
            for mine, theirs, reported in (
                (worker.statuses, tally.statuses, event["statuses"]),
                (worker.tally_counted, tally.counted, event["counted"]),
                (worker.tally_explained, tally.explained, event["explained"]),
            ):
                for key, n in reported.items():
                    theirs[key] += n - mine[key]
                    mine[key] = n
            for finding_id, n in event["counted"].items():
                if finding_id in self.store.findings:
                    self.store.findings[finding_id].count += n - worker.counted[finding_id]
                worker.counted[finding_id] = n
            for record, n in event["explained"].items():
                self.store.explained[record] += n - worker.explained[record]
                worker.explained[record] = n
            for finding_id, features in event.get("features", {}).items():
                self.store.narrow(finding_id, features)
        elif event["type"] == "finding":
            finding = Finding(
                signature=Signature.from_json(event["signature"]),
                example=event["example"],
                size=int(event["size"]),
                detail=event["detail"],
                plan=event["plan"],
                versions=event["versions"],
                machines=[machine()],
                standalone=event["standalone"],
                repro=event["repro"],
            )
            if self.store.add(finding):
                self.new.append(finding.id)
            self.store.save()

    def _finish(self, worker: Running) -> None:
        self._read(worker)
        self.worker_seconds += time.time() - worker.started
        code = worker.proc.returncode
        if code is not None and code < 0 and code != -signal.SIGTERM:
            self._crash(worker, code)
        elif code not in (0, -signal.SIGTERM, None):
            log = self.scratch / f"{worker.events.stem}.log"
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
            self.errors.append(f"{worker.spec}: worker exited with status {code}: {' '.join(tail)[:300]}")

    def _crash(self, worker: Running, code: int) -> None:
        """The framework killed the process: a finding for the example being checked."""
        try:
            current = json.loads(worker.current.read_text())
        except (OSError, ValueError):
            self.errors.append(f"{worker.spec}: worker died of signal {-code} before its first example")
            return
        if "progress" in current:
            self._event(worker, current["progress"])
        from convequiv.reference import cases as reference_cases

        namespace = {n: getattr(reference_cases, n) for n in reference_cases.__all__}
        example = eval(current["example"], namespace)  # written by our own worker: a case repr
        name = signal.Signals(-code).name
        sig = Signature(
            current.get("progress", {}).get("adapter", worker.spec),
            current["api"],
            current["dtype"],
            current["op"],
            ("process crash",),
            name,
            example.values == "special",
            essential(example.features()),
        )
        finding = Finding(
            signature=sig,
            example=current["example"],
            size=0,
            detail=f"the process died of {name} checking {current['example']} ({current['api']}, {current['dtype']})",
            machines=[machine()],
            standalone=False,
            repro=_crash_repro(worker.spec, current),
        )
        if self.store.add(finding):
            self.new.append(finding.id)
        self.store.save()

    # -------------------------------------------------------------------- loop
    def run(self, display: Callable[[Campaign], None] | None = None) -> Store:
        while True:
            now = time.time()
            if now > self.deadline + 60:  # a worker past its deadline and a grace minute
                for worker in self.running:
                    worker.proc.terminate()
            for worker in list(self.running):
                self._read(worker)
                if worker.proc.poll() is not None:
                    self._finish(worker)
                    self.running.remove(worker)
                    if time.time() < self.deadline:
                        self.queue.append(worker.spec)
            while now < self.deadline - 5 and len(self.running) < self.options.workers and self.queue:
                self._spawn(self.queue.popleft())
            if not self.running and (now >= self.deadline - 5 or not self.queue):
                break
            if display is not None:
                display(self)
            time.sleep(1.0)
        self.store.campaigns.append(self.summary())
        self.store.save()
        return self.store

    @property
    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the campaign's finished workers and everything they ran: on a
        machine shared with other work it is less than :attr:`worker_seconds`."""
        return _children_cpu() - self._children_cpu

    def summary(self) -> dict[str, Any]:
        return {
            "seed": self.options.seed,
            "shard": f"{self.options.shard[0]}/{self.options.shard[1]}",
            "budget_seconds": self.options.budget,
            "wall_seconds": round(time.time() - self.started, 1),
            "worker_seconds": round(self.worker_seconds, 1),
            "cpu_seconds": round(self.cpu_seconds, 1),
            "workers": self.options.workers,
            "machine": machine(),
            "examples": {a: sum(t.statuses.values()) for a, t in sorted(self.tallies.items())},
            "statuses": {a: dict(t.statuses) for a, t in sorted(self.tallies.items())},
            "new_findings": list(self.new),
            "errors": list(self.errors),
        }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _crash_repro(spec: str, current: dict[str, str]) -> str:
    doc = (
        "The process died while the framework ran this case (abort or segfault). Needs convequiv:\n"
        "running the case is what crashes, so the script runs it in a child process and reports how it ended."
    )
    return check_script(doc, spec, current["example"], current["api"], current["dtype"], in_child=True)
