"""The report: a static, read-only site of a store's runs (``nbprod report``).

Modules: :mod:`.site` decides what to render and writes it (store ``site/`` prefix or
a folder) with the manifest that makes rebuilding incremental; :mod:`.pages` renders
the index, run and compare pages with Jinja2 (autoescape, CSP, redaction);
:mod:`.modelpages` the models pages (versions, gate reports, each alias over time) from
the registry's event logs; :mod:`.charts` draws the trend charts and alias timelines as
inline SVG; :mod:`.notebooks` renders executed notebooks with nbconvert, offline and
sanitized; :mod:`.values` turns stored scraps into tables, JSON or images.

Nothing is imported here at import time: ``build_site`` loads the rest when called.
"""

from __future__ import annotations

import os
from typing import Any, Callable


def build_site(store, out: str | os.PathLike | None = None, *, force: bool = False,
               log: Callable[[str], Any] = print, repo: str | os.PathLike | None = None,
               smoke: bool = False) -> dict[str, Any]:
    """Build or update the site; see :func:`nbprod.report.site.build_site`."""
    from .site import build_site as build

    return build(store, out, force=force, log=log, repo=repo, smoke=smoke)


__all__ = ["build_site"]
