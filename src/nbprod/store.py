"""The store: runs, executed notebooks and artifacts, over one fsspec code path.

A local folder, ``memory://`` and ``s3://bucket/prefix`` are the same code:
``fsspec.core.url_to_fs`` picks the backend from the URL, and a missing
backend (``s3fs`` not installed) becomes a one-line :class:`StoreError` naming
the extra to install.

Layout under the store root::

    objects/sha256/ab/cdef...         products, executed notebooks, large scraps:
                                      content-addressed, stored once across runs
    runs/<run_id>/record.json         the run record, written after its objects
    summaries/<run_id>.json           what ``runs ls`` needs, written last
    index/pack-<run_id>-<n>.json      many summaries in one object (compaction):
                                      {"base": the pack it extends, "runs": [...]}

Order is the guarantee: blobs, then the record, then the summary. A run is
listed only through its summary (loose, or packed), so a run whose writing was
cut short is never listed as complete. Nothing is ever visible half-written: a
local file is written under a temporary name and renamed; an object store
gets one PUT per object (S3 makes an object visible only once complete), never
a streamed ``fs.open(..., "wb")``, which s3fs publishes even when the writer
raises.

Listing must not read every record, nor even list every run: on S3 each
request costs milliseconds. Once more than ``COMPACT_AT`` loose summaries
pile up, the writer packs them, with the previous pack, into a new pack and
deletes the loose ones. A reader lists the (few) loose summaries, then the
index, and reads the newest pack, plus the one before it only when the newest
was not built from it (two compactions raced): a handful of requests for any
number of runs. Packs are immutable and cumulative, so concurrent compactions
at worst write two packs that both hold everything their writers saw.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

from .exceptions import IntegrityError, RunNotFoundError, StoreError, StoreUnreachableError
from .records import RunRecord, sha256_bytes, sha256_file

RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")  # use with fullmatch
_SHA = re.compile(r"[0-9a-f]{64}")
_PACK = re.compile(r"pack-(\d{8}T\d{6}Z-[0-9a-f]{6})-(\d+)\.json")
COMPACT_AT = 100  # loose summaries that trigger a compaction
KEEP_PACKS = 2  # packs kept after a compaction (readers merge the newest two)

# botocore's connection failures (matched by name: callers never import botocore)
_UNREACHABLE = {
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ConnectionClosedError",
    "ProxyConnectionError",
    "ClientConnectorError",
    "ServerDisconnectedError",
}


class Store:
    """Runs and artifacts under one URL."""

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

    @classmethod
    def from_settings(cls, settings=None) -> "Store":
        from .config import Settings

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
        """Backend errors become one-line StoreErrors naming the store and the fix.

        The original stays as ``__cause__``; callers never see botocore or
        aiohttp exceptions. Messages name the bucket, endpoint and variables,
        never a credential value.
        """
        try:
            self._check_bucket()
            yield
        except (RunNotFoundError, IntegrityError, StoreError):
            raise
        except Exception as err:
            raise self._translate(err, action) from err

    def _translate(self, err: BaseException, action: str) -> StoreError:
        names = {type(e).__name__ for e in _chain(err)}
        if names & _UNREACHABLE or isinstance(err, (TimeoutError, ConnectionError)):
            return StoreUnreachableError(
                f"cannot reach the store {self.url} at {self.endpoint or 'its backend'} "
                f"while {action} (gave up after ~{self.timeout:g} s)",
                hint="check AWS_ENDPOINT_URL / network, or raise NBPROD_STORE_TIMEOUT",
                url=self.url,
                endpoint=self.endpoint,
            )
        if "NoCredentialsError" in names or "PartialCredentialsError" in names:
            return StoreError(
                f"no AWS credentials found for store {self.url}",
                hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE",
                url=self.url,
            )
        if isinstance(err, PermissionError):
            return StoreError(
                f"access denied to bucket {self.bucket or self.url} at {self.endpoint or self.url} "
                f"while {action}",
                hint="check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_PROFILE and the bucket policy",
                url=self.url,
            ) if self.bucket else StoreError(
                f"permission denied while {action} in store {self.url}",
                hint="check the folder's permissions",
                url=self.url,
            )
        if isinstance(err, FileNotFoundError):
            return StoreError(
                f"{action}: not found in store {self.url}", url=self.url
            )
        return StoreError(
            f"store {self.url} failed while {action}: {type(err).__name__}: "
            f"{' '.join(str(err).split())[:300]}",
            hint="check NBPROD_STORE and that the store is reachable",
            url=self.url,
        )

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

    # -- artifacts ----------------------------------------------------------
    def put_file(self, path: str | os.PathLike, sha256: str | None = None) -> dict[str, Any]:
        """Store a local file by content; returns ``{sha256, size, key, uploaded}``.

        The hash is known before anything is written, and an object already in
        the store is not written again (an unchanged product costs nothing).
        """
        sha256 = sha256 or sha256_file(path)
        size = os.path.getsize(path)
        key = self.object_key(sha256)
        with self._errors(f"storing {Path(path).name}"):
            if self._exists_with_size(key, size):
                return {"sha256": sha256, "size": size, "key": key, "uploaded": False}
            if self.local:
                tmp = self._tmp_key(key)
                self.fs.makedirs(self._parent(self._path(key)), exist_ok=True)
                self.fs.put_file(str(path), self._path(tmp))
                self._verify_upload(tmp, self._path(tmp), sha256, Path(path).name)  # the copy itself, before it gets its name
                self.fs.mv(self._path(tmp), self._path(key))
            else:
                # one PUT (multipart above s3fs's block size, which S3 shows
                # only once completed), then verified against what was hashed
                checksum = {"ChecksumSHA256": base64.b64encode(bytes.fromhex(sha256)).decode()} if self.bucket else {}
                try:
                    self.fs.put_file(str(path), self._path(key), **checksum)
                except Exception as err:
                    if "BadDigest" in str(err) or "XAmzContentSHA256Mismatch" in str(err):
                        raise IntegrityError(
                            f"upload of {Path(path).name} to {self.url} did not verify: the server saw other bytes than were hashed",
                            hint="re-run once nothing else is writing that file",
                            url=self.url, key=key, expected=sha256, actual=None,
                        ) from None
                    raise
                self._verify_upload(key, path, sha256)
        return {"sha256": sha256, "size": size, "key": key, "uploaded": True}

    def _verify_upload(self, key: str, path: str | os.PathLike, sha256: str, name: str | None = None) -> None:
        """Check that what was uploaded under ``key`` is what was hashed, or remove it.

        The key comes from the file's hash taken *before* the upload; a file
        rewritten in between would leave other bytes under that name. Real S3
        checks the body against ``ChecksumSHA256`` itself; this second hash of
        the source after the upload also covers servers that do not (moto,
        some S3-compatible stores) and multipart uploads.
        """
        actual = sha256_file(path)
        if actual != sha256:
            self.fs.rm_file(self._path(key))
            raise IntegrityError(
                f"upload of {name or Path(path).name} to {self.url} did not verify: the file changed while it was stored; the object was removed",
                hint="re-run once nothing else is writing that file",
                url=self.url, key=key, expected=sha256, actual=actual,
            )

    def put_files(self, items: list[tuple[str | os.PathLike, str | None]], workers: int = 8) -> list[dict[str, Any]]:
        """:meth:`put_file` for many ``(path, sha256 or None)`` pairs at once, concurrently.

        Object-store requests are latency-bound: one at a time, a run's dozen
        small products cost a dozen round trips in a row. Results are in the
        order of ``items``; the first error is raised after the others finish.
        """
        if len(items) <= 1 or self.local:
            return [self.put_file(path, sha) for path, sha in items]
        from concurrent.futures import ThreadPoolExecutor

        self._check_bucket()
        with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
            futures = [pool.submit(self.put_file, path, sha) for path, sha in items]
        return [f.result() for f in futures]

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
            self._quarantine(key, sha256, actual)
        return data

    def _quarantine(self, key: str, expected: str, actual: str) -> None:
        """Move a corrupt object aside (kept as evidence) and raise IntegrityError.

        The next put of the true content, which skips keys that exist, then
        stores it again.
        """
        with self._errors(f"quarantining {key}"):
            self.fs.makedirs(self._parent(self._path(f"quarantine/{key}")), exist_ok=True)
            self.fs.mv(self._path(key), self._path(f"quarantine/{key}"))
        raise IntegrityError(
            f"object {key} in store {self.url} is corrupt (sha256 {actual[:12]}..., "
            f"expected {expected[:12]}...); moved to quarantine/",
            hint="re-run the task that produced it to store it again",
            key=key,
            expected=expected,
            actual=actual,
            url=self.url,
        )

    def get_file(self, sha256: str, dest: str | os.PathLike) -> dict[str, Any]:
        """Download an object to a local file, verified; returns ``{sha256, size, downloaded}``.

        Streams to a temporary file beside ``dest``, hashes it and renames it
        only when the hash matches, so ``dest`` is never half-written or wrong.
        A ``dest`` that already holds the content is left alone.
        """
        key = self.object_key(sha256)
        dest = Path(dest)
        if dest.is_file() and sha256_file(dest) == sha256:
            return {"sha256": sha256, "size": dest.stat().st_size, "downloaded": False}
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp-{uuid.uuid4().hex[:8]}")
        try:
            with self._errors(f"downloading {key}"):
                try:
                    self.fs.get_file(self._path(key), str(tmp))
                except FileNotFoundError as err:
                    raise StoreError(
                        f"object {key} is missing from store {self.url}",
                        hint="run `nbprod store verify` to see which runs lack objects",
                        url=self.url,
                        key=key,
                    ) from err
            actual = sha256_file(tmp)
            if actual != sha256:
                self._quarantine(key, sha256, actual)
            os.replace(tmp, dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return {"sha256": sha256, "size": dest.stat().st_size, "downloaded": True}

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

    def write_key(self, key: str, data: bytes) -> None:
        with self._errors(f"writing {key}"):
            self._write_atomic(key, data)

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
        self.compact()
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
        return self._decode_record(run_id, data)

    def _decode_record(self, run_id: str, data: bytes) -> RunRecord:
        """A record from its JSON, or a one-line StoreError naming the run (never a traceback)."""
        try:
            return RunRecord.from_dict(json.loads(data))
        except (ValueError, TypeError, AttributeError) as err:
            raise StoreError(
                f"run {run_id}: its record.json in store {self.url} is corrupt ({type(err).__name__}: {err})",
                hint="restore it from a backup or delete the run's runs/<id>/ and summaries/<id>.json",
                url=self.url,
            ) from None

    def read_records(self, run_ids: list[str]) -> dict[str, RunRecord]:
        """Many records in few requests (s3fs fetches them concurrently);
        runs without a record are left out."""
        if not run_ids:
            return {}
        paths = {self._path(self.run_key(i, "record.json")): i for i in run_ids}
        with self._errors(f"reading {len(paths)} run records"):
            try:
                blobs = self.fs.cat(list(paths), on_error="omit")
            except FileNotFoundError:  # fsspec raises when no path at all exists
                blobs = {}
        found = {}
        for path, blob in blobs.items():
            if isinstance(blob, bytes):
                record = self._decode_record(paths.get(path, path), blob)
                found[record.run_id] = record
        return found

    def _index(self) -> tuple[dict[str, dict[str, Any]], list[str], list[str]]:
        """(summaries of packed runs, loose run ids, pack names newest first).

        Loose summaries are listed BEFORE the index: a compaction running
        meanwhile writes its pack before deleting what it packed, so every run
        is in one list or the other.
        """
        with self._errors("listing runs"):
            loose = self._names("summaries", ".json")
            packs = sorted(
                (n for n in self._names("index", ".json") if _PACK.fullmatch(n)), reverse=True
            )
            packed: dict[str, dict[str, Any]] = {}
            for position, name in enumerate(packs[:KEEP_PACKS]):
                try:
                    pack = json.loads(self.fs.cat_file(self._path(f"index/{name}")))
                except FileNotFoundError:  # replaced by a newer pack meanwhile
                    continue
                rows = pack["runs"] if isinstance(pack, dict) else pack
                for row in rows:
                    packed.setdefault(row["run_id"], row)
                # the newest pack was built from the next one (the usual case,
                # no concurrent compaction): that one holds nothing more
                if position == 0 and isinstance(pack, dict) and pack.get("base") == (packs[1:2] or [None])[0]:
                    break
        loose_ids = [n[: -len(".json")] for n in loose if RUN_ID.fullmatch(n[: -len(".json")])]
        return packed, loose_ids, packs

    def _names(self, prefix: str, suffix: str) -> list[str]:
        try:
            paths = self.fs.ls(self._path(prefix), detail=False, refresh=True) if not self.local else self.fs.ls(self._path(prefix), detail=False)
        except FileNotFoundError:
            return []
        names = [p.rstrip("/").rsplit("/", 1)[-1] for p in paths]
        return [n for n in names if n.endswith(suffix)]

    def run_ids(self) -> list[str]:
        """Ids of the complete runs, newest first (a few requests, not one per run)."""
        packed, loose, _ = self._index()
        return sorted(set(packed) | set(loose), reverse=True)

    def summaries(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Run summaries, newest first; reads only what is not packed."""
        packed, loose, _ = self._index()
        ids = sorted(set(packed) | set(loose), reverse=True)
        if limit is not None:
            ids = ids[:limit]
        wanted = [i for i in ids if i not in packed]
        found = dict(packed)
        if wanted:
            paths = [self._path(f"summaries/{i}.json") for i in wanted]
            with self._errors("reading run summaries"):
                blobs = self.fs.cat(paths, on_error="omit") if len(paths) > 1 else {paths[0]: self.fs.cat_file(paths[0])}
            for path, blob in blobs.items():
                if isinstance(blob, bytes):
                    row = json.loads(blob)
                    found[row["run_id"]] = row
        return [found[i] for i in ids if i in found]

    def compact(self, force: bool = False) -> str | None:
        """Pack loose summaries into a new cumulative pack, then delete them.

        Runs after each write once ``COMPACT_AT`` loose summaries exist (or when
        forced). Returns the new pack's name, or None when nothing was done.
        """
        with self._errors("listing runs"):
            waiting = self._names("summaries", ".json")  # one LIST: the usual answer is "not yet"
        if not waiting or (len(waiting) < COMPACT_AT and not force):
            return None
        packed, loose, packs = self._index()
        if not loose:
            return None
        rows = dict(packed)
        paths = [self._path(f"summaries/{i}.json") for i in loose]
        with self._errors("compacting run summaries"):
            blobs = self.fs.cat(paths, on_error="omit")
            for blob in blobs.values():
                if isinstance(blob, bytes):
                    row = json.loads(blob)
                    rows[row["run_id"]] = row
            newest = max(rows)
            name = f"pack-{newest}-{len(rows)}.json"
            ordered = [rows[i] for i in sorted(rows, reverse=True)]
            pack = {"base": packs[0] if packs else None, "runs": ordered}
            self._write_atomic(f"index/{name}", json.dumps(pack, sort_keys=True).encode())
            for run_id in loose:
                if run_id in rows:
                    with contextlib.suppress(FileNotFoundError):
                        self.fs.rm_file(self._path(f"summaries/{run_id}.json"))
            for old in packs[KEEP_PACKS - 1 :]:
                if old != name:
                    with contextlib.suppress(FileNotFoundError):
                        self.fs.rm_file(self._path(f"index/{old}"))
        return name

    def resolve(self, ref: str) -> str:
        """A run id from ``latest``, ``latest~N`` (the N-th run before the newest),
        a full id or a unique prefix of one."""
        ref = ref.strip()
        if not ref:
            raise RunNotFoundError(
                "empty run reference", hint="give a run id, a prefix of one, or `latest`", ref=ref, url=self.url
            )
        ids = self.run_ids()
        back = re.fullmatch(r"latest~(\d+)", ref)
        if back:
            if int(back.group(1)) >= len(ids):
                raise RunNotFoundError(
                    f"{ref!r}: store {self.url} has {len(ids)} run(s)",
                    hint=f"use latest~{len(ids) - 1} at most, or a run id from `nbprod runs ls`" if ids
                    else "run `ploomber build` or `nbprod build` first, or check NBPROD_STORE",
                    ref=ref, url=self.url,
                )
            return ids[int(back.group(1))]
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

    def _write_atomic(self, key: str, data: bytes) -> None:
        if not self.local:
            self.fs.pipe_file(self._path(key), data)  # one PUT: visible only when complete
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


def _protocols(fs) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)


def _chain(err: BaseException):
    seen = 0
    while err is not None and seen < 20:
        yield err
        err = err.__cause__ or err.__context__
        seen += 1


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


def check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        raise RunNotFoundError(
            f"{run_id!r} is not a run id", hint="run ids look like 20261122T143308Z-a1b2c3", ref=run_id
        )
    return run_id
