"""Content-addressed objects: products, executed notebooks and large scraps, stored once.

An object's key is its sha256 (``objects/sha256/ab/cdef...``). The hash is
known before anything is written, so an object already in the store costs one
HEAD and no upload; every upload is verified (``ChecksumSHA256`` on S3, and the
source hashed again afterwards), and every read is verified too: a corrupt
object is moved to ``quarantine/`` and reported, never returned. ``store verify``
moves aside what it finds corrupt the same way. An upload trusts a key that
exists with the right size (checking the content would read every product
again at every run), so a corrupt object is replaced only once it is moved
aside: then the next run that has those bytes uploads them again.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Any

from ..errors import IntegrityError, StoreError
from ..files import replace_atomically, sha256_bytes, sha256_file

_SHA = re.compile(r"[0-9a-f]{64}")


class Objects:
    """Mixed into :class:`~nbprod.store.Store`, over :class:`~nbprod.store.backend.Backend`."""

    @staticmethod
    def object_key(sha256: str) -> str:
        if not isinstance(sha256, str) or not _SHA.fullmatch(sha256):
            raise StoreError(f"not a sha256 digest: {sha256!r}")
        return f"objects/sha256/{sha256[:2]}/{sha256[2:]}"


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
            self._ensure_layout()
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

        with self._errors("storing objects"):
            self._ensure_layout()  # once, before the threads (each would check it otherwise)
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

    def quarantine_key(self, key: str) -> str:
        """Move what is stored under ``key`` to ``quarantine/<key>`` (kept as evidence);
        returns where it went. An upload skips a key that exists with the right size, so
        a corrupt object of the right size left in place would never be replaced: moved
        aside, the next put of the true content (the next run that has those bytes)
        stores it again."""
        aside = f"quarantine/{key}"
        with self._errors(f"quarantining {key}"):
            self.fs.makedirs(self._parent(self._path(aside)), exist_ok=True)
            self.fs.mv(self._path(key), self._path(aside))
        return aside

    def _quarantine(self, key: str, expected: str, actual: str) -> None:
        """Move a corrupt object aside (:meth:`quarantine_key`) and raise IntegrityError."""
        self.quarantine_key(key)
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

        def download(tmp: Path) -> None:
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

        replace_atomically(dest, download)
        return {"sha256": sha256, "size": dest.stat().st_size, "downloaded": True}

    def put_redacted(self, files: list[Path], redactor, kept: set[Path]) -> list[dict[str, Any]]:
        """:meth:`put_files` of ``files`` (concurrent on S3), except those in ``kept``
        (redacted in place already, but could not be rewritten: they still hold a secret
        locally), which are stored from ``redactor.bytes`` of their content. Results in
        ``files`` order. Used by the recorder and the shared-products client alike."""
        stored = iter(self.put_files([(p, None) for p in files if p not in kept]))
        return [self.put_bytes(redactor.bytes(p.read_bytes())) if p in kept else next(stored) for p in files]
