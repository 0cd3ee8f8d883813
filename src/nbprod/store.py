"""The store: runs, executed notebooks and artifacts, over one fsspec code path.

A local folder, ``memory://`` and ``s3://bucket/prefix`` are the same code:
``fsspec.core.url_to_fs`` picks the backend from the URL, and a missing
backend (``s3fs`` not installed) becomes a one-line :class:`StoreError` naming
the extra to install.

Layout under the store root::

    objects/sha256/ab/cdef...         artifacts, content-addressed: stored once
    runs/<run_id>/notebooks/<t>.ipynb executed notebook of task <t>
    runs/<run_id>/record.json         the run record, written after its blobs
    summaries/<run_id>.json           what ``runs ls`` needs, written last

Order is the guarantee: blobs, then the record, then the summary. A run is
listed only through its summary, so a run whose writing was cut short is never
listed as complete. Record and summary are written to a temporary key and
moved into place, so no half-written record is ever visible under its name.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

from .exceptions import IntegrityError, RunNotFoundError, StoreError
from .records import RunRecord, sha256_bytes, sha256_file

RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")  # use with fullmatch
_SHA = re.compile(r"[0-9a-f]{64}")


class Store:
    """Runs and artifacts under one URL."""

    def __init__(self, url: str, **storage_options: Any):
        import fsspec.core

        self.url = url
        try:
            self.fs, self.root = fsspec.core.url_to_fs(url, **storage_options)
        except ImportError as err:  # fsspec names the package to install
            raise StoreError(
                f"cannot open store {url}: {err}", hint="pip install 'nbprod[s3]'", url=url
            ) from err
        except ValueError as err:
            raise StoreError(
                f"cannot open store {url}: {err}", hint="check NBPROD_STORE", url=url
            ) from err
        self.root = self.root.rstrip("/")

    @classmethod
    def from_settings(cls, settings=None) -> "Store":
        from .config import Settings

        return cls((settings or Settings.from_env()).store)

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    # -- keys ----------------------------------------------------------------
    def _path(self, key: str) -> str:
        return f"{self.root}/{key}" if self.root else key

    @staticmethod
    def object_key(sha256: str) -> str:
        if not isinstance(sha256, str) or not _SHA.fullmatch(sha256):
            raise StoreError(f"not a sha256 digest: {sha256!r}")
        return f"objects/sha256/{sha256[:2]}/{sha256[2:]}"

    @staticmethod
    def run_key(run_id: str, *parts: str) -> str:
        """Key under a run; each part is percent-encoded so a name with ``/`` or
        ``..`` can never address anything outside the run's prefix."""
        check_run_id(run_id)
        return "/".join(["runs", run_id, *(safe_part(part) for part in parts)])

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Backend errors become StoreError, with the original as ``__cause__``."""
        try:
            yield
        except (FileNotFoundError, RunNotFoundError, IntegrityError):
            raise
        except PermissionError as err:
            raise StoreError(
                f"permission denied while {action} in store {self.url}: {err}",
                hint="check the credentials and permissions for this store",
                url=self.url,
            ) from err
        except OSError as err:
            raise StoreError(
                f"store {self.url} failed while {action}: {err}",
                hint="check NBPROD_STORE and that the store is reachable",
                url=self.url,
            ) from err

    # -- artifacts ----------------------------------------------------------
    def put_file(self, path: str | os.PathLike, sha256: str | None = None) -> dict[str, Any]:
        """Store a local file by content; returns ``{sha256, size, key, uploaded}``.

        The hash is known before anything is written, and an object already in
        the store is not written again (an unchanged product costs nothing).
        """
        sha256 = sha256 or sha256_file(path)
        size = os.path.getsize(path)
        key = self.object_key(sha256)
        with self._errors(f"storing {path}"):
            if self._exists_with_size(key, size):
                return {"sha256": sha256, "size": size, "key": key, "uploaded": False}
            tmp = self._tmp_key(key)
            self.fs.makedirs(self._parent(self._path(key)), exist_ok=True)
            self.fs.put_file(str(path), self._path(tmp))
            self.fs.mv(self._path(tmp), self._path(key))
        return {"sha256": sha256, "size": size, "key": key, "uploaded": True}

    def put_bytes(self, data: bytes) -> dict[str, Any]:
        sha256 = sha256_bytes(data)
        key = self.object_key(sha256)
        with self._errors("storing an object"):
            if self._exists_with_size(key, len(data)):
                return {"sha256": sha256, "size": len(data), "key": key, "uploaded": False}
            self._write_atomic(key, data)
        return {"sha256": sha256, "size": len(data), "key": key, "uploaded": True}

    def get_bytes(self, sha256: str) -> bytes:
        """An object's bytes, verified against its hash."""
        key = self.object_key(sha256)
        data = self.read_key(key)
        actual = sha256_bytes(data)
        if actual != sha256:
            # move it aside (kept as evidence): the next put of the true content,
            # which skips keys that exist, then stores it again
            with self._errors(f"quarantining {key}"):
                self.fs.makedirs(self._parent(self._path(f"quarantine/{key}")), exist_ok=True)
                self.fs.mv(self._path(key), self._path(f"quarantine/{key}"))
            raise IntegrityError(
                f"object {key} in store {self.url} is corrupt (sha256 {actual[:12]}..., "
                f"expected {sha256[:12]}...); moved to quarantine/",
                hint="re-run the task that produced it to store it again",
                key=key,
                expected=sha256,
                actual=actual,
                url=self.url,
            )
        return data

    def read_key(self, key: str) -> bytes:
        with self._errors(f"reading {key}"):
            try:
                return self.fs.cat_file(self._path(key))
            except FileNotFoundError as err:
                raise StoreError(
                    f"{key} is missing from store {self.url}", url=self.url, key=key
                ) from err

    def write_key(self, key: str, data: bytes) -> None:
        with self._errors(f"writing {key}"):
            self._write_atomic(key, data)

    def exists(self, key: str) -> bool:
        with self._errors(f"checking {key}"):
            return self.fs.exists(self._path(key))

    # -- runs --------------------------------------------------------------
    def write_record(self, record: RunRecord) -> str:
        """Persist a run: the record, then its summary (what makes it listed).

        Blobs the record references must already be stored.
        """
        key = self.run_key(record.run_id, "record.json")
        payload = json.dumps(record.to_dict(), indent=1, sort_keys=True, default=str)
        summary = json.dumps(record.summary(), sort_keys=True, default=str)
        with self._errors(f"writing run {record.run_id}"):
            self._write_atomic(key, payload.encode())
            self._write_atomic(f"summaries/{record.run_id}.json", summary.encode())
        return key

    def read_record(self, run_id: str) -> RunRecord:
        key = self.run_key(run_id, "record.json")
        with self._errors(f"reading run {run_id}"):
            try:
                data = self.fs.cat_file(self._path(key))
            except FileNotFoundError as err:
                raise RunNotFoundError(
                    f"run {run_id} has no record in store {self.url}", ref=run_id, url=self.url
                ) from err
        return RunRecord.from_dict(json.loads(data))

    def run_ids(self) -> list[str]:
        """Ids of the complete runs, newest first (one listing call)."""
        with self._errors("listing runs"):
            try:
                names = self.fs.ls(self._path("summaries"), detail=False)
            except FileNotFoundError:
                return []
        ids = [Path(n).name[: -len(".json")] for n in names if n.endswith(".json")]
        return sorted((i for i in ids if RUN_ID.fullmatch(i)), reverse=True)

    def summaries(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Run summaries, newest first; reads only ``limit`` small objects."""
        ids = self.run_ids()
        if limit is not None:
            ids = ids[:limit]
        if not ids:
            return []
        paths = [self._path(f"summaries/{i}.json") for i in ids]
        with self._errors("reading run summaries"):
            blobs = self.fs.cat(paths, on_error="omit")
        found = {Path(p).name[: -len(".json")]: json.loads(b) for p, b in blobs.items()}
        return [found[i] for i in ids if i in found]

    def resolve(self, ref: str) -> str:
        """A run id from ``latest``, a full id or a unique prefix of one."""
        ref = ref.strip()
        if not ref:
            raise RunNotFoundError(
                "empty run reference", hint="give a run id, a prefix of one, or `latest`", ref=ref, url=self.url
            )
        ids = self.run_ids()
        if not ids:
            raise RunNotFoundError(
                f"no runs in store {self.url}",
                hint="run `ploomber build` or `nbprod build` first, or check NBPROD_STORE",
                ref=ref,
                url=self.url,
            )
        if ref == "latest":
            return ids[0]
        matches = [i for i in ids if i.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise RunNotFoundError(
                f"no run matches {ref!r} in store {self.url}",
                hint="see `nbprod runs ls` for run ids",
                ref=ref,
                url=self.url,
            )
        raise RunNotFoundError(
            f"{ref!r} matches {len(matches)} runs ({', '.join(matches[:3])}, ...)",
            hint="give more characters of the run id",
            ref=ref,
            url=self.url,
        )

    # -- internals -----------------------------------------------------------
    def _exists_with_size(self, key: str, size: int) -> bool:
        try:
            info = self.fs.info(self._path(key))
        except FileNotFoundError:
            return False
        return info.get("size") == size

    def _tmp_key(self, key: str) -> str:
        return f"{key}.tmp-{uuid.uuid4().hex}"

    @staticmethod
    def _parent(path: str) -> str:
        return path.rsplit("/", 1)[0] if "/" in path else ""

    def _write_atomic(self, key: str, data: bytes) -> None:
        tmp = self._tmp_key(key)
        self.fs.makedirs(self._parent(self._path(key)), exist_ok=True)
        self.fs.pipe_file(self._path(tmp), data)
        try:
            self.fs.mv(self._path(tmp), self._path(key))
        except BaseException:
            with contextlib.suppress(Exception):
                self.fs.rm_file(self._path(tmp))
            raise


def safe_part(name: str) -> str:
    """One key segment from any name: ``/``, control characters and a name of
    only dots (``..``) are percent-encoded, so the segment stays one level."""
    encoded = quote(str(name), safe="")
    if not encoded or set(encoded) == {"."}:
        encoded = encoded.replace(".", "%2E") or "%00"
    return encoded


def check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        raise RunNotFoundError(
            f"{run_id!r} is not a run id", hint="run ids look like 20261122T143308Z-a1b2c3", ref=run_id
        )
    return run_id
