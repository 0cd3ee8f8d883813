"""Products shared across machines: a ploomber File client over nbprod's store.

Why: ``ploomber task NAME`` or ``ploomber build`` on a second machine should
not re-run what a first machine already built. ploomber 0.23 does this for
``File`` products that have a client: after a task succeeds it uploads each
product and its metadata file (``.<name>.metadata``); before running a task it
reads the remote metadata and, when the remote copy is up to date for the local
code and parameters, downloads it instead of executing. This module is that
client, over :class:`~nbprod.store.Store`: products go where runs go (a folder,
``memory://``, ``s3://``) through the same fsspec code path and the same
one-line errors, with no second S3 client. Enable it with::

    clients:
      File: {dotted_path: nbprod.products.client, root: '{{here}}'}

ploomber only duck-types clients (nothing checks their class), so this does
not subclass ``AbstractStorageClient`` and does not import ploomber.

Products are stored by content, like a run's artifacts: the bytes go to
``objects/<sha256>`` (uploaded only when the store lacks them, hash-verified
on upload and on download) and ``products/<path relative to the project
root>`` holds a small JSON pointer, ``{sha256, size}`` for a file or
``{files: {relative path: {sha256, size}}}`` for a folder. Every key segment
goes through :func:`~nbprod.store.safe_part`; a product outside the root is
refused. ``nbprod store gc`` keeps every object a pointer names.

Nothing is ever half-visible:

- objects are written whole under their hash (:meth:`Store.put_file`), and a
  pointer, one small PUT, is written only after all of its objects;
- the remote metadata is the commit marker. ploomber uploads it *before* its
  product, so the client holds it back, deletes the old remote metadata,
  writes the product, then the metadata: a reader sees the old pair, no
  metadata (so it runs the task itself) or the new pair, never new metadata
  beside an old or missing product. A download reads the metadata before and
  after the product and retries if a writer came in between;
- an upload ploomber does not pair with metadata (the partial notebook of a
  failed task) is stored as ``<stem>.failed<suffix>``, as
  :func:`nbprod.engine.repair.reset_failed` does locally, so the last good product
  stays usable;
- a download is verified against the pointer's hash and written under a
  temporary local name, then renamed.

Secrets (:mod:`nbprod.redact`): ploomber uploads a task's products right
after the task runs, before nbprod's ``on_finish`` hook records the run, so
the client redacts text products (the executed notebook above all) itself,
*in place*, before hashing them: the local file, the stored object and the
notebook the recorder stores next are the same redacted bytes, stored once.
A file that cannot be rewritten is stored from redacted bytes instead. The
metadata ploomber uploads (it holds the task's params and source) is
redacted too; when that changes it, the remote copy no longer matches the
local code and parameters, so another machine runs the task instead of
downloading it, which is the safe outcome.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .. import redact
from ..errors import StoreError
from ..files import replace_atomically
from ..store import Store, safe_part
from ..store.pointers import PREFIX, pointer_bytes, read_pointer
from .entry import project_root
from .repair import failed_name, metadata_of, product_of


def client(root: str | os.PathLike | None = None) -> "ProductClient":
    """The File client for pipeline.yaml's ``clients:``, on ``NBPROD_STORE``.

    ``root``: the folder product paths are relative to (``'{{here}}'`` in the
    spec); by default the project root ploomber finds (the pipeline.yaml folder).
    """
    from ..settings import Settings

    root = project_root() if root is None else root
    return ProductClient(Store.from_settings(Settings.from_env(root=root)), root)


class ProductClient:
    """ploomber's storage-client interface (download, upload, _remote_exists,
    close, parent) over a :class:`Store`."""

    def __init__(self, store: Store, root: str | os.PathLike):
        self.store = store
        self.root = Path(root).resolve()
        self._held: dict[str, tuple[str, bytes]] = {}  # product key -> its metadata, to write after it
        self._fetched: dict[str, bytes] = {}  # metadata key -> bytes read with its product

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.parent!r})"

    @property
    def parent(self) -> str:
        return f"{self.store.url.rstrip('/')}/{PREFIX}"

    def key(self, local: str | os.PathLike) -> str:
        path = Path(os.path.abspath(local))  # lexical: '..' cannot climb out unseen
        try:
            parts = path.relative_to(self.root).parts
        except ValueError:
            parts = ()
        if not parts:
            raise StoreError(
                f"product {os.fspath(local)} is outside the project root {self.root}, so it "
                f"cannot be shared through store {self.store.url}",
                hint="keep products under the folder of pipeline.yaml",
                url=self.store.url,
            )
        return "/".join([PREFIX, *(safe_part(p) for p in parts)])

    def _remote_exists(self, local) -> bool:
        return self.store.exists(self.key(local))

    def upload(self, local) -> None:
        local = Path(local)
        product = product_of(local)
        if product is not None:  # metadata: written after its product (File.upload sends it first)
            key = self.key(local)
            self._held[self.key(product)] = (key, redact.redact_bytes(local.read_bytes()))
            self.store.delete_key(key)
            return
        key = self.key(local)
        held = self._held.pop(key, None)
        if held is None:  # no metadata came first: a failed task's partial notebook
            key = self.key(failed_name(local))
        self._put(local, key)
        if held is not None:
            self.store.write_key(*held)

    def download(self, local, destination=None) -> None:
        local = Path(local)
        dest = Path(destination or local)
        key = self.key(local)
        fetched = self._fetched.pop(key, None)
        if fetched is not None:  # metadata read together with its product
            replace_atomically(dest, lambda tmp: tmp.write_bytes(fetched))
            return
        if product_of(local) is not None:  # metadata alone (ploomber's status check)
            data = self.store.read_key(key)
            replace_atomically(dest, lambda tmp: tmp.write_bytes(data))
            return
        meta_key = self.key(metadata_of(local))
        for _ in range(3):
            before = self._metadata_bytes(meta_key, key)
            self._get(key, dest)
            after = self._metadata_bytes(meta_key, key)
            if after == before:
                self._fetched[meta_key] = after
                return
        raise StoreError(
            f"{key} kept changing in store {self.store.url} while downloading it",
            hint="another machine is uploading it; run again",
            url=self.store.url,
        )

    def _metadata_bytes(self, meta_key: str, key: str) -> bytes:
        if not self.store.exists(meta_key):
            raise StoreError(
                f"{key} is not in store {self.store.url} (no metadata: never uploaded, "
                "or being uploaded now)",
                hint="run the task that makes it, or run again",
                url=self.store.url,
            )
        return self.store.read_key(meta_key)

    def close(self) -> None:
        self._held.clear()
        self._fetched.clear()

    # -- content-addressed: bytes in objects/, a small pointer per product ------
    def _put(self, local: Path, key: str) -> None:
        """Store the product's bytes by content, then its pointer (one small PUT).

        Unchanged bytes are not uploaded again, and the pointer appears only
        after every object it names is stored and verified. Text files are
        redacted first (see the module docstring).
        """
        if local.is_dir():
            files = sorted(c for c in local.rglob("*") if c.is_file())
            stored = self._put_paths(files)
            entry = {
                "files": {
                    "/".join(c.relative_to(local).parts): {"sha256": s["sha256"], "size": s["size"]}
                    for c, s in zip(files, stored)
                }
            }
        else:
            (stored,) = self._put_paths([local])
            entry = {"sha256": stored["sha256"], "size": stored["size"]}
        self.store.write_key(key, pointer_bytes(entry))

    def _put_paths(self, files: list[Path]) -> list[dict]:
        """Store files by content (concurrently on S3), their secrets removed first:
        redacted in place or, for a file that cannot be rewritten, stored from redacted
        bytes. Results are in the order of ``files``."""
        from ..record import outputs
        from ..record.scraps import redact_payloads_in_place
        from ..settings import Settings

        redactor = redact.current()
        kept = redactor.files_in_place(files) if redactor else set()  # these still hold a secret locally
        notebooks = [f for f in files if f.suffix == ".ipynb" and f not in kept]
        if redactor:  # as the recorder does: one object for the shared and the recorded notebook
            redact_payloads_in_place(notebooks, redactor)
        limit = Settings.from_env().max_output_mb
        for path in notebooks:
            for line in outputs.bound(path, limit):
                print(redact.redact_text(f"nbprod: {path.name}, {line}"), file=sys.stderr)
        return self.store.put_redacted(files, redactor, kept)

    def _get(self, key: str, dest: Path) -> None:
        pointer = read_pointer(self.store, key)
        if "files" not in pointer:
            return replace_atomically(dest, lambda tmp: self.store.get_file(pointer["sha256"], tmp))

        def get_tree(tmp: Path) -> None:
            tmp.mkdir()
            for rel, obj in sorted(pointer["files"].items()):
                parts = rel.split("/")
                if any(p in ("", ".", "..") for p in parts):
                    raise StoreError(f"{key} in store {self.store.url} names an unsafe path {rel!r}", url=self.store.url)
                self.store.get_file(obj["sha256"], tmp.joinpath(*parts))

        replace_atomically(dest, get_tree)
