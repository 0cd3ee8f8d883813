"""The model registry: versions, aliases and gates, kept in the store beside the runs.

Why in the store, with no server: a version points at objects a run stored already, and
every change is an event created only if absent, so a folder and an S3 bucket are the
same registry, safe under concurrent writers. Layout under ``models/<name>/``::

    events/00000001.json   the append-only, hash-chained log (:mod:`.log`)
    head.json              the last event a writer saw (helps ``models verify`` see deletions)
    versions/<v>.json      each version's manifest, created once (a copy of its event's)

:mod:`.registry` folds the log (versions, aliases over time) and makes every change;
:mod:`.gates` decides a version's gates on :mod:`.predictions`; :mod:`.runs` turns a
recorded run into versions; :mod:`.loading` is ``nbprod.load_model``.
"""
