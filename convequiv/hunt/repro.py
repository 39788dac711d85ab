"""A finding's ``repro.py``: a script a person can paste into an upstream issue.

It holds the inputs as literals (the dtype the framework received), the framework call written
out by the adapter (:meth:`convequiv.adapters.base.Adapter.reproduction`: only NumPy and the
framework are imported), and the expected values as literals computed by the NumPy reference in
float64, with the rounding-error bound of :mod:`convequiv.reference.tolerance` for the tested dtype.
It prints what the framework returned against what was expected and exits 1 while they differ
(or the call raises), 0 once the framework agrees. Where an adapter cannot write its call out, the
script imports convequiv to make it and says so.
"""

from __future__ import annotations

import numpy as np

from convequiv.adapters.base import Adapter, Plan
from convequiv.reference.cases import Example

_COMPARE = '''
def differs(name, got, want, bound):
    """The suite's rule: NaN exactly where expected, infinities exact, else |got - want| <= bound."""
    got = np.asarray(got, dtype=np.float64)
    if got.shape != want.shape:
        print(f"{name}: shape {got.shape}, expected {want.shape}")
        return True
    with np.errstate(invalid="ignore"):
        err = np.where(np.isnan(want) | np.isinf(want), 0.0, np.abs(got - want))
    bad = (np.isnan(got) != np.isnan(want)) | (np.isinf(want) & ~np.isnan(want) & (got != want)) | (err > bound)
    if not bad.any():
        print(f"{name}: agrees (every element within the bound)")
        return False
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    print(f"{name}: {int(bad.sum())} of {bad.size} elements differ; first at {list(where)}: got {got[where]!r}, "
          f"expected {want[where]!r} (bound {bound[where]:.3g})")
    return True


def main():
    try:
        got = framework_outputs({k: v.copy() for k, v in INPUTS.items()})
    except Exception as exc:
        print(f"the framework call raised {type(exc).__name__}: {exc}")
        return 1
    bad = [differs(name, got.get(name, np.full(want.shape, np.nan)), want, BOUND[name])
           for name, want in EXPECTED.items()]
    return 1 if any(bad) else 0


if __name__ == "__main__":
    sys.exit(main())
'''


def _literal(a: np.ndarray) -> str:
    if a.dtype.name == "bfloat16":  # NumPy has no bfloat16: float32 holds its values exactly
        return f"np.array({a.astype(np.float32).tolist()!r}, dtype=np.float32).astype(numpy_dtype('bfloat16'))"
    return f"np.array({a.tolist()!r}, dtype=np.{a.dtype})"


def _arrays(name: str, arrays: dict[str, np.ndarray]) -> str:
    body = "".join(f"    {k!r}: {_literal(v)},\n" for k, v in arrays.items())
    return f"{name} = {{\n{body}}}\n"


#: The imports a script needs to name a case the way ``repr`` writes it.
_CASE_IMPORTS = "from convequiv.reference.cases import *  # noqa: F403\n"


def _fallback_source(spec: str, example: Example, api: str, dtype: str) -> str:
    return (
        "from convequiv.adapters import load  # this adapter writes no standalone call: convequiv runs it\n"
        "from convequiv.reference.precision import numpy_dtype\n"
        f"{_CASE_IMPORTS}\n\n"
        "def framework_outputs(inputs):\n"
        f"    impl = load({spec!r})\n"
        f"    plan = impl.support({example.case!r}, {api!r}, {dtype!r})\n"
        "    return impl.run(plan, inputs)\n"
    )


def check_script(doc: str, spec: str, example: str, api: str, dtype: str, *, in_child: bool) -> str:
    """A ``repro.py`` that runs the suite's own check of one example (it needs convequiv): for findings
    no framework call can show alone. ``example`` is the example's ``repr``.

    Run in the script's process (``in_child=False``), it exits 1 while the check fails. With
    ``in_child=True`` (the check kills its process: an abort, a segmentation fault) it runs the check in
    a child process and exits 1 while the child dies of a signal."""
    call = f"check({spec!r}, {example}, api={api!r}, dtype={dtype!r})"
    head = f'"""{doc}\n"""\n\nimport sys\n\n'
    if in_child:
        return (
            f"{head}import subprocess\n\n"
            "CODE = (\n"
            '    "from convequiv.equivalence import check; from convequiv.reference.cases import *; "\n'
            f"    {call!r}\n"
            ")\n\n"
            "done = subprocess.run([sys.executable, '-c', CODE])\n"
            "print(f'the child exited with status {done.returncode}')\n"
            "sys.exit(1 if done.returncode < 0 else 0)\n"
        )
    return (
        f"{head}from convequiv.equivalence import EquivalenceError, check\n{_CASE_IMPORTS}\n"
        f"try:\n    print({call})\nexcept EquivalenceError as exc:\n    print(exc)\n    sys.exit(1)\n"
    )


def write_script(impl: Adapter, spec: str, plan: Plan, example: Example, *, title: str) -> tuple[str, bool]:
    """``(source of repro.py, standalone)`` for ``example`` run through ``plan``."""
    dtype = plan.dtype
    inputs = example.inputs(dtype)
    sem = impl.semantics(example.case, plan.api)
    expected = example.case.expected(inputs, ties=sem.ties, nan=sem.nan)
    bounds = example.case.bounds(inputs, dtype, ties=sem.ties, nan=sem.nan)
    expected = {k: v for k, v in expected.items() if k in impl.produces}
    # a framework's own call takes NumPy arrays; bfloat16 ones need convequiv's conversions
    source = None if plan.dtype == "bfloat16" else impl.reproduction(plan)
    standalone = source is not None
    if source is None:
        source = _fallback_source(spec, example, plan.api, dtype)
    versions = ", ".join(f"{k} {v}" for k, v in impl.versions().items())
    needs = (
        f"Needs only NumPy and the framework ({versions})."
        if standalone
        else f"Needs convequiv: {spec} writes no standalone call ({versions})."
    )
    doc = (
        f'"""{title}\n\n{needs}\n'
        f"Case: {example!r}\n"
        f"Reached the framework as: {plan.describe()}\n"
        f"Expected: the NumPy reference in float64 (semantics ties={sem.ties!r}, nan={sem.nan!r}), within\n"
        f"the rounding-error bound of {dtype}. Exit status 1 while the framework differs, 0 once it agrees.\n"
        '"""\n\n'
    )
    parts = [
        doc,
        "import sys\n\nimport numpy as np\n\ninf, nan = float('inf'), float('nan')\n\n",
        source,
        "\n",
        _arrays("INPUTS", inputs.astype(dtype)),
        _arrays("EXPECTED", expected),
        _arrays("BOUND", {k: bounds[k] for k in expected}),
        _COMPARE,
    ]
    return "".join(parts), standalone
