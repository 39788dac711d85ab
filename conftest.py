"""Root conftest: the convequiv pytest plugin (options, profiles, adapters, report)."""

pytest_plugins = ["convequiv.pytest_plugin"]
