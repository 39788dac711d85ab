"""The notes' claims as data, each decided by running the reference and the installed frameworks.

* :mod:`~convequiv.notes.claims.catalogue`: one :class:`~convequiv.notes.claims.model.Claim` per claim;
* :mod:`~convequiv.notes.claims.deciders`: the functions that decide them;
* :mod:`~convequiv.notes.claims.notes`: the notes' files and code listings (read at run time);
* :mod:`~convequiv.notes.claims.run`: decide every claim; :mod:`~convequiv.notes.claims.render`: text, Markdown,
  JSON; :mod:`~convequiv.notes.claims.docs`: ``docs/claims.md``.
"""
