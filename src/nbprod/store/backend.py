"""The store's backend: the only module that imports fsspec.

``fsspec.core.url_to_fs`` picks the filesystem from the URL (a folder,
``memory://``, ``s3://`` through s3fs), so every store is one code path; a
missing backend becomes a one-line :class:`StoreError` naming the extra to
install. This layer knows keys and bytes, nothing of runs or objects:

- every S3 request bounded in time, and an ``s3://`` URL without a bucket
  refused (:mod:`nbprod.store.bounds`); an error says how long the operation
  really waited;
- backend errors translated into nbprod's errors (:meth:`Backend._errors`, with
  :mod:`nbprod.store.failures`), the original kept as ``__cause__``: callers
  never see botocore or aiohttp;
- writes that are never visible half-done (:meth:`Backend._write_atomic`: a
  folder gets a temporary key renamed into place, an object store one PUT, never a streamed ``fs.open(..., "wb")``, which s3fs publishes even
  when the writer raises); on a folder, every temporary key handed out during
  an operation (:meth:`Backend._tmp_key`) is removed when it ends, so a write
  that fails (a full disk) leaves nothing behind;
- S3 multipart uploads never completed (the process or the endpoint died
  mid-upload, so s3fs's own abort could not run): listed and aborted by
  ``store gc`` (:meth:`Backend.incomplete_uploads`, :meth:`Backend.abort_upload`);
- a conditional create (:meth:`Backend.create_key`) that fails when the key
  exists: ``If-None-Match: *`` on S3, ``os.link`` of a complete temporary file
  on a folder (fsspec's local ``mode="create"`` is not atomic);
- the layout marker ``store.json`` (:mod:`nbprod.store.layout`, mixed in).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from typing import Any, Iterator
from urllib.parse import quote

from ..errors import ConfigError, IntegrityError, RunNotFoundError, StoreError
from ..files import fit_name
from .failures import translate
from .bounds import bounded, no_expect_continue, no_s3fs_retries, require_bucket
from .multipart import MultipartUploads
from .layout import LAYOUT, LAYOUT_KEY, LayoutMarker  # noqa: F401  (LAYOUT: read by tests and callers)

#: top-level prefixes of the layout; ``models/`` is reserved for the model registry
PREFIXES = ("objects", "runs", "summaries", "index", "products", "site", "quarantine", "models")

class Backend(MultipartUploads, LayoutMarker):
    """Keys and bytes under one URL, with nbprod's errors."""

    def __init__(self, url: str, *, timeout: float = 5.0, **storage_options: Any):
        import fsspec.core

        self.url = url
        self.timeout = timeout
        if url.startswith(("s3://", "s3a://")):
            require_bucket(url)
            storage_options = bounded(storage_options, timeout)
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
        self.local = "file" in _protocols(self.fs)
        no_s3fs_retries(self.fs)
        self._temps = threading.local()  # temporary keys of the operation running in each thread
        self._checked = False
        self._layout: dict[str, Any] | None = None  # store.json once read or written
        self._layout_checked = False
        self._memory_lock = threading.Lock()

    def __getstate__(self):  # picklable (ploomber pickles File clients): locks are per process
        return {k: v for k, v in self.__dict__.items() if k not in ("_memory_lock", "_temps")}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._memory_lock = threading.Lock()
        self._temps = threading.local()
        no_s3fs_retries(self.fs)

    @classmethod
    def from_settings(cls, settings=None):
        from ..settings import Settings

        settings = settings or Settings.from_env()
        return cls(settings.store, timeout=settings.store_timeout)

    @property
    def endpoint(self) -> str | None:
        """The S3 endpoint in use (for messages), None for other stores."""
        if "s3" not in _protocols(self.fs):
            return None
        client_kwargs = getattr(self.fs, "client_kwargs", {}) or {}
        return (
            getattr(self.fs, "endpoint_url", None)
            or client_kwargs.get("endpoint_url")
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
            or "AWS S3 (default endpoint)"
        )

    @property
    def bucket(self) -> str | None:
        return self.root.split("/", 1)[0] if "s3" in _protocols(self.fs) else None

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}" if self.root else key

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Backend errors become one-line StoreErrors naming the store and the fix.

        The original stays as ``__cause__``; callers never see botocore or
        aiohttp exceptions. Messages name the bucket, endpoint and variables,
        never a credential value.
        """
        started = time.monotonic()
        outermost = getattr(self._temps, "keys", None) is None
        if outermost:
            self._temps.keys = []
        try:
            if self.bucket:
                no_expect_continue(self.fs)
            self._check_bucket(started)
            self._check_layout_once()
            yield
        except (RunNotFoundError, IntegrityError, StoreError):
            raise
        except Exception as err:
            raise self._translate(err, action, started) from err
        finally:
            if outermost:
                self._remove_temps()

    def _translate(self, err: BaseException, action: str, started: float | None = None) -> StoreError:
        elapsed = None if started is None else time.monotonic() - started
        return translate(err, action, url=self.url, endpoint=self.endpoint, bucket=self.bucket,
                         timeout=self.timeout, elapsed=elapsed)

    def _remove_temps(self) -> None:
        """Remove what is left of the temporary keys this operation handed out (renamed
        ones are gone already): a failed write (EFBIG, ENOSPC) leaves no partial file."""
        keys, self._temps.keys = self._temps.keys, None
        for key in keys:
            with contextlib.suppress(OSError):
                os.unlink(self._path(key))

    def _check_bucket(self, started: float | None = None) -> None:
        """Once per Store: a missing bucket is an error, not an empty store."""
        if self._checked or not self.bucket:
            return
        # not fs.exists(): it answers False when the endpoint is down
        try:
            self.fs.call_s3("head_bucket", Bucket=self.bucket)
        except FileNotFoundError as err:
            raise StoreError(
                f"bucket {self.bucket} does not exist at {self.endpoint}",
                hint=f"create it, or fix the bucket in NBPROD_STORE={self.url}",
                url=self.url,
            ) from err
        except Exception as err:
            raise self._translate(err, f"opening bucket {self.bucket}", started) from err
        self._checked = True

    def hash_key(self, key: str, chunk: int = 1 << 20) -> tuple[str, int]:
        """(sha256, size) of what is stored under ``key``, streamed (never all in memory)."""
        import hashlib

        digest, size = hashlib.sha256(), 0
        with self._errors(f"reading {key}"):
            try:
                with self.fs.open(self._path(key), "rb", block_size=chunk) as handle:
                    while block := handle.read(chunk):
                        digest.update(block)
                        size += len(block)
            except FileNotFoundError as err:
                raise StoreError(f"{key} is missing from store {self.url}", url=self.url, key=key) from err
        return digest.hexdigest(), size

    def key_size(self, key: str) -> int | None:
        """The stored size under ``key``, None when nothing is there."""
        with self._errors(f"checking {key}"):
            return self._size(key)

    def read_key(self, key: str) -> bytes:
        with self._errors(f"reading {key}"):
            try:
                return self.fs.cat_file(self._path(key))
            except FileNotFoundError as err:
                raise StoreError(
                    f"{key} is missing from store {self.url}", url=self.url, key=key
                ) from err

    def read_keys(self, keys: list[str]) -> dict[str, bytes]:
        """Many keys in few requests (s3fs fetches them concurrently); a missing key is left
        out, any other failure raises (a partial answer must never look complete)."""
        if not keys:
            return {}
        paths = {self._path(key): key for key in keys}
        with self._errors(f"reading {len(keys)} keys"):
            try:
                blobs = self.fs.cat(list(paths), on_error="return")
            except FileNotFoundError:  # fsspec raises when no path at all exists
                return {}
        found = {}
        for path, blob in blobs.items():
            if isinstance(blob, FileNotFoundError):
                continue
            if isinstance(blob, BaseException):
                raise self._translate(blob, f"reading {paths.get(path, path)}") from blob
            found[paths.get(path, path)] = blob
        return found

    def write_key(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        """Write ``key`` whole; ``content_type`` is set on an object store (the report's pages)."""
        with self._errors(f"writing {key}"):
            self._write_atomic(key, data, content_type=content_type)

    def create_key(self, key: str, data: bytes) -> bool:
        """Write ``key`` only if nothing is there; False when it already exists.

        S3: one PUT with ``If-None-Match: *`` (s3fs ``mode="create"``; the server
        answers 412 to the second writer). A folder: a complete temporary file
        hard-linked to the key (``os.link`` fails when the key exists), because
        fsspec's local ``mode="create"`` checks and writes in two steps.
        """
        with self._errors(f"creating {key}"):
            path = self._path(key)
            if self.local:
                self.fs.makedirs(self._parent(path), exist_ok=True)
                tmp = self._path(self._tmp_key(key))
                self.fs.pipe_file(tmp, data)  # a failure here: removed by _errors
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    return False
                except OSError:  # no hard links here (vfat, some FUSE and SMB mounts): O_EXCL
                    return _create_exclusive(path, data)
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(tmp)
                return True
            if self.bucket:
                try:
                    self.fs.pipe_file(path, data, mode="create")
                except FileExistsError:
                    return False
                return True
            with self._memory_lock:  # memory:// lives in this process: a lock makes it atomic
                if self.fs.exists(path):
                    return False
                self.fs.pipe_file(path, data)
                return True

    def exists(self, key: str) -> bool:
        with self._errors(f"checking {key}"):
            return self.fs.exists(self._path(key))

    def delete_key(self, key: str) -> None:
        with self._errors(f"deleting {key}"):
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(self._path(key))

    def list_keys(self, prefix: str) -> list[dict[str, Any]]:
        """Every object under ``prefix``: ``{key, size, mtime}`` (mtime a POSIX time or None)."""
        with self._errors(f"listing {prefix}"):
            try:
                found = self.fs.find(self._path(prefix), detail=True)
            except FileNotFoundError:
                return []
        start = len(self.root) + 1 if self.root else 0
        rows = []
        for path, info in found.items():
            if info.get("type") == "directory":
                continue
            rows.append({"key": path[start:], "size": info.get("size"), "mtime": _mtime(info)})
        return rows

    # -- internals -----------------------------------------------------------
    def _exists_with_size(self, key: str, size: int) -> bool:
        return self._size(key) == size

    def _size(self, key: str) -> int | None:
        """Size under ``key`` or None, in one request.

        On S3 a HEAD of the object itself: s3fs's ``info`` follows a 404 with a
        LIST (to find "directories"), doubling the cost of every new object.
        """
        try:
            if self.bucket:
                path = self._path(key)
                head = self.fs.call_s3("head_object", Bucket=self.bucket, Key=path.split("/", 1)[1])
                return head.get("ContentLength")
            return self.fs.info(self._path(key)).get("size")
        except FileNotFoundError:
            return None

    def _tmp_key(self, key: str) -> str:
        """A unique temporary key beside ``key`` (its name within the file-name limit),
        removed when the operation that asked for it ends (:meth:`_errors`)."""
        parent, _, name = key.rpartition("/")
        tmp = fit_name(name, suffix=f".tmp-{uuid.uuid4().hex}")
        tmp = f"{parent}/{tmp}" if parent else tmp
        if self.local and getattr(self._temps, "keys", None) is not None:
            self._temps.keys.append(tmp)
        return tmp

    @staticmethod
    def _parent(path: str) -> str:
        return path.rsplit("/", 1)[0] if "/" in path else ""

    def _write_atomic(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        if key != LAYOUT_KEY:
            self._ensure_layout()
        if not self.local:
            extra = {"ContentType": content_type} if content_type and self.bucket else {}
            self.fs.pipe_file(self._path(key), data, **extra)  # one PUT: visible only when complete
            return
        tmp = self._tmp_key(key)
        self.fs.makedirs(self._parent(self._path(key)), exist_ok=True)
        try:
            self.fs.pipe_file(self._path(tmp), data)
            self.fs.mv(self._path(tmp), self._path(key))
        except BaseException:
            with contextlib.suppress(Exception):
                self.fs.rm_file(self._path(tmp))
            raise



def _create_exclusive(path: str, data: bytes) -> bool:
    """Create ``path`` only if absent (``O_CREAT | O_EXCL``), for filesystems without links."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(path)  # ours (O_EXCL): a half-written key must not stay
        raise
    return True


def _protocols(fs) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)


def _mtime(info: dict[str, Any]) -> float | None:
    value = info.get("mtime", info.get("LastModified", info.get("created")))
    if value is None:
        return None
    if hasattr(value, "timestamp"):
        return value.timestamp()
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def safe_part(name: str) -> str:
    """One key segment from any name: ``/``, control characters and a name of
    only dots (``..``) are percent-encoded, so the segment stays one level; one
    longer than a file name may be (255 bytes: a store can be a folder) keeps its
    start and gets a hash of the whole name (:func:`nbprod.files.fit_name`)."""
    encoded = quote(str(name), safe="")
    if not encoded or set(encoded) == {"."}:
        encoded = encoded.replace(".", "%2E") or "%00"
    return fit_name(encoded)
