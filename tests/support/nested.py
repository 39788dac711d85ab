"""Environment for a pytest run started inside the test suite."""

from __future__ import annotations

import os

#: Set by tox for the outer run; a nested run must not write or name the outer run's results.
OUTER_RUN_ONLY = ("CONVEQUIV_RESULTS", "CONVEQUIV_ENV_NAME")


def nested_env() -> dict[str, str]:
    """This process's environment without the variables that belong to the outer run."""
    return {k: v for k, v in os.environ.items() if k not in OUTER_RUN_ONLY}
