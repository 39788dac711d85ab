"""The equivalence suite: every adapter against the reference, one file per area.

Run it from a checkout (``pytest``) or from an installed wheel (``pytest --pyargs convequiv.suite``,
with ``--adapters mypackage.module:MyAdapter`` for an adapter of your own). Each property draws
Hypothesis examples; each named edge case of :data:`convequiv.reference.strategies.EDGE_CASES` is
a test item of its own, so a failing edge case never stops the drawn examples of its op.
"""
