"""A campaign's findings on disk; campaigns resume into and merge across the same layout.

``DIR/index.json`` holds every finding (signature, smallest example, counts, versions, where it
was seen), the recorded divergences that explained failures (with counts), and one entry per
campaign (seed, shard, budget, wall time, CPU seconds, examples per adapter). Each new finding
also has ``DIR/<id>/finding.json`` (the same entry, with the failure's full text) and
``DIR/<id>/repro.py`` (:mod:`convequiv.hunt.repro`). Adding a finding whose signature is known
keeps the smaller example (and its reproduction) and adds the counts.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .signature import Signature

VERSION = 1


class StoreError(ValueError):
    """A findings folder that cannot be read (one line, naming the file)."""


@dataclass
class Finding:
    signature: Signature
    example: str
    size: int
    detail: str = ""
    plan: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    machines: list[str] = field(default_factory=list)
    count: int = 1
    standalone: bool = True
    repro: str = ""

    @property
    def id(self) -> str:
        return self.signature.id

    def to_json(self, *, full: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "signature": self.signature.to_json(),
            "example": self.example,
            "size": self.size,
            "plan": self.plan,
            "versions": self.versions,
            "machines": self.machines,
            "count": self.count,
            "standalone": self.standalone,
        }
        if full:
            data["detail"] = self.detail
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], repro: str = "") -> Finding:
        return cls(
            signature=Signature.from_json(data["signature"]),
            example=data["example"],
            size=int(data["size"]),
            detail=data.get("detail", ""),
            plan=data.get("plan", ""),
            versions=dict(data.get("versions", {})),
            machines=list(data.get("machines", [])),
            count=int(data.get("count", 1)),
            standalone=bool(data.get("standalone", True)),
            repro=repro,
        )


def machine() -> str:
    return (
        f"{platform.node()} ({platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()})"
    )


@dataclass
class Store:
    folder: Path
    findings: dict[str, Finding] = field(default_factory=dict)
    explained: Counter[str] = field(default_factory=Counter)
    campaigns: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def open(cls, folder: Path) -> Store:
        store = cls(folder)
        index = folder / "index.json"
        if not index.exists():
            return store
        try:
            data = json.loads(index.read_text())
            if data.get("version") != VERSION:
                raise StoreError(f"{index}: findings index version {data.get('version')!r}, expected {VERSION}")
            for entry in data["findings"]:
                repro = folder / entry["id"] / "repro.py"
                detail = folder / entry["id"] / "finding.json"
                full = json.loads(detail.read_text()) if detail.exists() else entry
                store.findings[entry["id"]] = Finding.from_json(full, repro.read_text() if repro.exists() else "")
            store.explained.update(data.get("explained", {}))
            store.campaigns = list(data.get("campaigns", []))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"{index}: cannot be read ({type(exc).__name__}: {exc})") from None
        return store

    def add(self, finding: Finding) -> bool:
        """Add or merge a finding; True when its signature is new to this store."""
        old = self.findings.get(finding.id)
        if old is None:
            self.findings[finding.id] = finding
            return True
        old.count += finding.count
        old.signature = old.signature.narrowed(set(finding.signature.features))
        old.machines = sorted(set(old.machines) | set(finding.machines))
        if finding.size < old.size:
            old.example, old.size, old.detail, old.plan = finding.example, finding.size, finding.detail, finding.plan
            old.repro, old.standalone, old.versions = finding.repro, finding.standalone, finding.versions
        return False

    def narrow(self, finding_id: str, features: list[str]) -> None:
        """Keep only the features a finding shares with failures counted under it."""
        if finding_id in self.findings:
            finding = self.findings[finding_id]
            finding.signature = finding.signature.narrowed(set(features))

    def merge(self, other: Store) -> None:
        for finding in other.findings.values():
            self.add(finding)
        self.explained.update(other.explained)
        self.campaigns += other.campaigns

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for finding in self.findings.values():
            folder = self.folder / finding.id
            folder.mkdir(exist_ok=True)
            _write(folder / "finding.json", json.dumps(finding.to_json(full=True), indent=1) + "\n")
            if finding.repro:
                _write(folder / "repro.py", finding.repro)
        index = {
            "version": VERSION,
            "findings": [f.to_json() for f in sorted(self.findings.values(), key=lambda f: f.id)],
            "explained": dict(sorted(self.explained.items())),
            "campaigns": self.campaigns,
        }
        _write(self.folder / "index.json", json.dumps(index, indent=1) + "\n")


def _write(path: Path, text: str) -> None:
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
