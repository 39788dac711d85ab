"""Environment for a pytest or ``convequiv check`` run started inside the test suite."""

from __future__ import annotations

import os


def nested_env(**extra: str) -> dict[str, str]:
    """This process's environment without any ``CONVEQUIV_*`` setting of the outer run (profile,
    adapters, results file...), plus ``extra``: a nested run states everything it depends on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEQUIV_")}
    env.update(extra)
    return env
