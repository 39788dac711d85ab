"""convequiv: the application around the reference and the adapters — the equivalence check,
the recorded divergences, the pytest plugin, the command line, the notes' models and claims."""

__version__ = "0.2.0"
