"""The store: runs, executed notebooks and artifacts under one URL, over one fsspec code path.

:class:`Store` is the three layers of :mod:`nbprod.store` put together:
:class:`~nbprod.store.backend.Backend` (fsspec, errors, atomic and conditional
writes, the ``store.json`` layout marker), :class:`~nbprod.store.objects.Objects`
(content-addressed, verified objects) and :class:`~nbprod.store.index.RunIndex`
(records, summaries, packs, run references).

Layout under the store root::

    store.json                        layout marker: {layout, created_by, created_at}
    objects/sha256/ab/cdef...         products, executed notebooks, large scraps
    runs/<run_id>/record.json         the run record, written after its objects
    summaries/<run_id>.json           what ``runs ls`` needs, written last
    index/pack-<run_id>-<n>.json      many summaries in one object
    products/<path>                   pointers of shared products (engine.products)
    parts/<run_id>/<task>/<n>.*.json  one task's attempts within a run, until assembled (store.parts)
    site/                             the report (nbprod report)
    quarantine/                       corrupt objects moved aside
    models/<name>/events/<n>.json     the model registry's event logs (nbprod.models.log)
"""

from __future__ import annotations

from .backend import Backend
from .index import RunIndex
from .objects import Objects


class Store(RunIndex, Objects, Backend):
    """Runs and artifacts under one URL."""
