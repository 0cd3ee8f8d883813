"""The store (a folder, ``memory://``, ``s3://``): backend, objects, run index, spool, pull, maintenance.

``from nbprod.store import Store`` is the way in; the rest of the package is
imported by what needs it. fsspec is imported by :mod:`nbprod.store.backend`
only, and only when a store is opened.
"""

from __future__ import annotations

from .backend import safe_part
from .core import Store
from .index import check_run_id

__all__ = ["Store", "safe_part", "check_run_id"]
