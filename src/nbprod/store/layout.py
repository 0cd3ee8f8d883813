"""The layout marker ``store.json``: a store written by a newer nbprod is refused whole.

Mixed into :class:`~nbprod.store.backend.Backend` (it uses the backend's
errors and conditional create). Before the first operation of a store, read
or write, ``store.json`` is read: a layout newer than :data:`LAYOUT` is a
one-line error, since reading such a store could misread it and deleting
could destroy it. The first write creates the marker conditionally, so two
first writers at once agree and neither overwrites the other; a store that
refuses the marker (a role allowed only ``runs/``, ``objects/``...) still works
without it: the marker is a guard, not a precondition.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from ..errors import StoreError, StoreUnreachableError

LAYOUT_KEY = "store.json"
LAYOUT = 1  # the layout this nbprod writes and reads


class LayoutMarker:
    """``store.json`` handling, over a Backend's ``_errors``, ``fs`` and ``create_key``."""

    _layout: dict[str, Any] | None
    _layout_checked: bool

    def _check_layout_once(self) -> None:
        """Before the first operation of this Store, read or write: a store of a newer
        layout is refused whole (reading it could misread, deleting could destroy)."""
        if self._layout is None and not self._layout_checked:
            self._layout_checked = True  # set first: layout() itself goes through _errors
            try:
                self.layout()
            except BaseException:
                self._layout_checked = False
                raise

    def layout(self) -> dict[str, Any] | None:
        """``store.json`` (``{layout, created_by, created_at}``), None for a store
        nothing was written to yet. A layout newer than :data:`LAYOUT` is a
        one-line error: this nbprod would misread it."""
        if self._layout is None:
            with self._errors("reading store.json"):
                try:
                    data = self.fs.cat_file(self._path(LAYOUT_KEY))
                except FileNotFoundError:
                    return None
            self._layout = self._check_layout(data)
        return self._layout

    def _check_layout(self, data: bytes) -> dict[str, Any]:
        try:
            marker = json.loads(data)
            version = int(marker["layout"])
        except (ValueError, TypeError, KeyError) as err:
            raise StoreError(
                f"store {self.url}: store.json is not an nbprod layout marker ({type(err).__name__})",
                hint="restore it, or point NBPROD_STORE at an nbprod store", url=self.url,
            ) from None
        if version > LAYOUT:
            raise StoreError(
                f"store {self.url} has layout {version}, newer than this nbprod reads ({LAYOUT})",
                hint="upgrade nbprod (pip install -U nbprod)", url=self.url,
            )
        return marker

    def _ensure_layout(self) -> None:
        """Before the first write: check ``store.json``, or create it (conditionally:
        two first writers at once agree, neither overwrites the other)."""
        if self._layout is not None or self.layout() is not None:
            return
        from .. import __version__

        marker = {"layout": LAYOUT, "created_by": f"nbprod {__version__}",
                  "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")}
        data = json.dumps(marker, indent=1, sort_keys=True).encode()
        try:
            created = self.create_key(LAYOUT_KEY, data)
        except StoreUnreachableError:
            raise
        except StoreError:
            # a role allowed only runs/, objects/...; a server without conditional writes:
            # the marker is a guard, not a precondition, so the store works without it
            self._layout = {"layout": LAYOUT, "unmarked": True}
            return
        if not created:
            self._layout = None
            self.layout()  # another writer made it first: check theirs
        else:
            self._layout = marker
