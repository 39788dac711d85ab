"""The notes' claims as data, each decided by running the reference and the installed frameworks.

* :mod:`~convequiv.claims.catalogue`: one :class:`~convequiv.claims.model.Claim` per claim;
* :mod:`~convequiv.claims.deciders`: the functions that decide them;
* :mod:`~convequiv.claims.notes`: the notes' files and code listings (read at run time);
* :mod:`~convequiv.claims.run`: decide every claim; :mod:`~convequiv.claims.render`: text, Markdown,
  JSON; :mod:`~convequiv.claims.docs`: ``docs/claims.md``.
"""
