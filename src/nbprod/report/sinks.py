"""Where the report's pages go: a local folder (``--out``) or the store's ``site/`` prefix.

Both write every page whole (a reader never sees half a page): the folder through
:func:`nbprod.files.atomic_write`, the store through its own one-PUT writes, with
each page's ``Content-Type`` so an S3 static website serves it as a page.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nbprod.files import atomic_write
from nbprod.store import Store

_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".json": "application/json"}


class FolderSink:
    """A local folder (``--out``)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder).expanduser().resolve()
        if self.folder.exists() and not self.folder.is_dir():
            from nbprod.errors import ConfigError

            raise ConfigError(f"--out {folder} is a file, not a folder", hint="give a folder path")

    @property
    def where(self) -> str:
        return str(self.folder / "index.html")

    def read(self, rel: str) -> bytes | None:
        try:
            return (self.folder / rel).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def write(self, rel: str, data: bytes) -> None:
        atomic_write(self.folder / rel, data)

    def delete(self, rel: str) -> None:
        try:
            (self.folder / rel).unlink()
        except FileNotFoundError:
            pass

    def flush(self) -> None:
        pass


class StoreSink:
    """The store's ``site/`` prefix, written through the Store's own methods.

    On S3 a page is one ``put_object`` with its ``Content-Type`` (``write_key`` sets
    none, and a static website would then offer pages as downloads), sent from a
    few threads: a site is many small objects and each PUT costs a round trip.
    """

    PREFIX = "site/"

    def __init__(self, store: Store, workers: int = 8):
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=workers) if store.bucket else None
        self._pending: list = []

    @property
    def where(self) -> str:
        return f"{self.store.url.rstrip('/')}/{self.PREFIX}index.html"

    def read(self, rel: str) -> bytes | None:
        key = self.PREFIX + rel
        if self.store.key_size(key) is None:
            return None
        return self.store.read_key(key)

    def write(self, rel: str, data: bytes) -> None:
        key = self.PREFIX + rel
        if self._pool is None:
            self.store.write_key(key, data)
            return
        self._pending.append(self._pool.submit(self._put, key, data, _TYPES.get(Path(rel).suffix, "application/octet-stream")))
        if len(self._pending) >= 64:
            self.flush()

    def _put(self, key: str, data: bytes, content_type: str) -> None:
        self.store.write_key(key, data, content_type=content_type)

    def delete(self, rel: str) -> None:
        self.flush()
        self.store.delete_key(self.PREFIX + rel)

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        errors = [f.exception() for f in pending]
        for error in errors:
            if error is not None:
                raise error


