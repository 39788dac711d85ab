"""``import convequiv.reference`` imports nothing but NumPy (and the standard library): users install the
oracle without any framework, and Hypothesis is only needed for reference.strategies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
before = set(sys.modules)
import numpy
with_numpy = set(sys.modules)
import convequiv.reference
import convequiv.reference.cases, convequiv.reference.tolerance
new = sorted({name.split(".")[0] for name in set(sys.modules) - with_numpy})
print(json.dumps({"new": new, "modules": sorted(set(sys.modules) - with_numpy),
                  "all": sorted({m.split(".")[0] for m in sys.modules}),
                  "stdlib": sorted(sys.stdlib_module_names)}))
"""

FORBIDDEN = {"torch", "tensorflow", "jax", "jaxlib", "keras", "hypothesis", "scipy", "pytest", "adapters", "reference"}


def test_import_reference_pulls_in_only_numpy():
    """In a fresh interpreter, importing reference (and its cases and tolerance modules) loads no
    framework, no Hypothesis, no SciPy, nothing of this repository but reference, and no third-party
    package beyond NumPy."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    data = json.loads(result.stdout)
    loaded = set(data["all"])
    assert not loaded & FORBIDDEN, f"import reference loaded {sorted(loaded & FORBIDDEN)}"
    stdlib = set(data["stdlib"])
    third_party = [
        name for name in data["new"] if name not in stdlib and name != "convequiv" and not name.startswith("_")
    ]
    assert third_party == [], f"import reference loaded non-stdlib modules {third_party}"
    assert "convequiv" in data["new"]
    assert sorted(m for m in data["modules"] if m.startswith("convequiv")) == [
        m for m in sorted(data["modules"]) if m.startswith("convequiv.reference") or m == "convequiv"
    ], "import convequiv.reference loaded more of convequiv than the reference"
