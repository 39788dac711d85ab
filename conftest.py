"""Root conftest of the repository. The equivalence suite's plugin (convequiv.pytest_plugin) is
registered by the package's ``pytest11`` entry point, so it serves ``pytest --pyargs convequiv.suite``
from an installed wheel exactly as it serves this checkout."""
