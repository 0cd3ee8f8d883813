"""The store's backend: the only module that imports fsspec.

``fsspec.core.url_to_fs`` picks the filesystem from the URL (a folder,
``memory://``, ``s3://`` through s3fs), so every store is one code path; a
missing backend becomes a one-line :class:`StoreError` naming the extra to
install. This layer knows keys and bytes, nothing of runs or objects:

- bounded S3 timeouts, so a down endpoint fails in seconds, naming itself;
- backend errors translated into nbprod's errors (:meth:`Backend._errors`, with
  :mod:`nbprod.store.failures`), the original kept as ``__cause__``: callers
  never see botocore or aiohttp;
- writes that are never visible half-done (:meth:`Backend._write_atomic`: a
  folder gets a temporary key renamed into place, an object store one PUT, never a streamed ``fs.open(..., "wb")``, which s3fs publishes even
  when the writer raises);
- a conditional create (:meth:`Backend.create_key`) that fails when the key
  exists: ``If-None-Match: *`` on S3, ``os.link`` of a complete temporary file
  on a folder (fsspec's local ``mode="create"`` is not atomic);
- the layout marker ``store.json`` (:meth:`Backend.check_layout`).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import uuid
from datetime import datetime, timezone
from typing import Any, Iterator
from urllib.parse import quote

from ..errors import IntegrityError, RunNotFoundError, StoreError, StoreUnreachableError
from .failures import translate

LAYOUT_KEY = "store.json"
LAYOUT = 1  # the layout this nbprod writes and reads
#: top-level prefixes of the layout; ``models/`` is reserved for the model registry
PREFIXES = ("objects", "runs", "summaries", "index", "products", "site", "quarantine", "models")

class Backend:
    """Keys and bytes under one URL, with nbprod's errors."""

    def __init__(self, url: str, *, timeout: float = 5.0, **storage_options: Any):
        import fsspec.core

        self.url = url
        self.timeout = timeout
        if url.startswith(("s3://", "s3a://")):
            # bound botocore's waits (default: 60 s connect, retries): an
            # unreachable endpoint must fail in seconds, saying which one
            # two botocore attempts (which retry throttling and 5xx too) of
            # timeout/2 each; s3fs does not retry connection errors on top
            config = dict(storage_options.pop("config_kwargs", {}))
            config.setdefault("connect_timeout", timeout / 2)
            config.setdefault("read_timeout", max(timeout, 30.0))
            config.setdefault("retries", {"max_attempts": 2, "mode": "standard"})
            storage_options["config_kwargs"] = config
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
        self._checked = False
        self._layout: dict[str, Any] | None = None  # store.json once read or written
        self._layout_checked = False
        self._memory_lock = threading.Lock()

    def __getstate__(self):  # picklable (ploomber pickles File clients): the lock is per process
        return {k: v for k, v in self.__dict__.items() if k != "_memory_lock"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._memory_lock = threading.Lock()

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
        try:
            self._check_bucket()
            self._check_layout_once()
            yield
        except (RunNotFoundError, IntegrityError, StoreError):
            raise
        except Exception as err:
            raise self._translate(err, action) from err

    def _translate(self, err: BaseException, action: str) -> StoreError:
        return translate(err, action, url=self.url, endpoint=self.endpoint, bucket=self.bucket, timeout=self.timeout)

    def _check_bucket(self) -> None:
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
            raise self._translate(err, f"opening bucket {self.bucket}") from err
        self._checked = True

    # -- the layout marker ---------------------------------------------------
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
                self.fs.pipe_file(tmp, data)
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
        return f"{key}.tmp-{uuid.uuid4().hex}"

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
        self.fs.pipe_file(self._path(tmp), data)
        try:
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
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
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
    only dots (``..``) are percent-encoded, so the segment stays one level."""
    encoded = quote(str(name), safe="")
    if not encoded or set(encoded) == {"."}:
        encoded = encoded.replace(".", "%2E") or "%00"
    return encoded
