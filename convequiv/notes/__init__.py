"""The lecture notes' product: their models as data with parameter tables (:mod:`.models`) and
their claims with verdicts and evidence (:mod:`.claims`).

It sits on top of the reference and the adapters and is used by the ``tables`` and ``claims``
commands; nothing in the equivalence core (the reference, the adapters, the suite, the check, the
hunt, the results and reports) imports it.
"""
