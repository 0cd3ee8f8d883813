"""Summary packs under ``index/``: compaction that loses no run under concurrent writers.

Listing must not read every record, nor even list every run: on S3 each
request costs milliseconds. Once more than ``COMPACT_AT`` loose summaries
pile up, the writer packs them, with every pack it listed, into a new pack.

Why this is safe under any number of concurrent writers (issue 11: with the
old "readers read the newest two packs, a compaction deletes older ones",
concurrent compactions lost runs). Three rules:

1. *Nothing is deleted that the deleter did not include.* A compaction
   deletes only the loose summaries it read and the packs it listed (each
   read, or superseded by one it read), and only after its own pack, holding
   all of them, is stored. So at every moment every written run is held by
   its loose summary or by some existing pack.
2. *A pack is created, never overwritten* (``create_key``: ``If-None-Match``
   on S3, a hard link on a folder). Two compactions that would write the same
   name: the second writes and deletes nothing. A name is
   ``pack-<newest run>-<count>``, so a name that is deleted and created again
   holds the same runs (a later snapshot holds every run the earlier one did).
3. *A reader takes a consistent snapshot*: it lists loose summaries, then the
   index, and reads every pack no read pack supersedes (``bases``), newest
   first: one pack when no compactions raced, one per racing compaction
   otherwise. When anything it listed has vanished meanwhile (a compaction
   superseded it), it lists again. So a reader sees every run written before it
   started, whatever compactions ran meanwhile.

Packs written by ``nbprod store reindex`` carry a digest in their name
(``pack-<newest>-<count>-<digest>.json``): rebuilt from the records, they may
hold fewer runs than an older pack of the same count and newest run.
Packs of earlier nbprod versions (one ``base``) read as superseding their
base; the plain names stay readable by those versions. This relies on a LIST of one prefix being atomic (S3's are strongly
consistent; a folder's small listings are one ``getdents``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from ..errors import StoreError, StoreUnreachableError
from ..schema import RUN_ID

_PACK = re.compile(r"pack-(\d{8}T\d{6}Z-[0-9a-f]{6})-(\d+)(?:-([0-9a-f]{12}))?\.json")
COMPACT_AT = 100  # loose summaries that trigger a compaction
SNAPSHOT_TRIES = 20  # listings a reader takes while compactions keep superseding what it listed


class _Vanished(Exception):
    """Something a snapshot listed was deleted before it was read: list again."""


@dataclass(frozen=True)
class Snapshot:
    """A consistent view of the index: ``packed`` rows by run id, ``loose`` rows read
    (ids of loose summaries not read map to None), the packs listed, and what could
    not be parsed (only when taken leniently, for reindex)."""

    packed: dict[str, dict[str, Any]]
    loose: dict[str, dict[str, Any] | None]
    packs: list[str]
    corrupt: list[str]

    @property
    def ids(self) -> list[str]:
        return sorted(set(self.packed) | set(self.loose), reverse=True)


class Packs:
    """Mixed into :class:`~nbprod.store.Store` (through RunIndex), over :class:`~nbprod.store.backend.Backend`."""

    def snapshot(self, *, read_loose: bool = False, lenient: bool = False) -> Snapshot:
        """A consistent view of the index (module docstring, rule 3).

        Loose summaries are listed BEFORE the index: a compaction running
        meanwhile writes its pack before deleting what it packed, so every run
        is in one list or the other. ``read_loose`` reads the loose summaries of
        runs no pack holds; ``lenient`` skips (and names) packs and summaries that
        do not parse instead of raising.
        """
        with self._errors("listing runs"):
            for _ in range(SNAPSHOT_TRIES):
                try:
                    return self._take_snapshot(read_loose, lenient)
                except _Vanished:
                    continue
        raise StoreError(
            f"listing runs in store {self.url}: the index changed {SNAPSHOT_TRIES} times while it was read",
            hint="try again", url=self.url,
        )

    def _take_snapshot(self, read_loose: bool, lenient: bool) -> Snapshot:
        loose_names = self._names("summaries", ".json")
        packs = sorted((n for n in self._names("index", ".json") if _PACK.fullmatch(n)), key=_pack_order, reverse=True)
        packed: dict[str, dict[str, Any]] = {}
        superseded: set[str] = set()
        corrupt: list[str] = []
        for name in packs:
            if name in superseded:
                continue  # every run it holds is in a pack read already
            try:
                pack = json.loads(self.fs.cat_file(self._path(f"index/{name}")))
                rows = pack["runs"] if isinstance(pack, dict) else pack
                for row in rows:
                    packed.setdefault(row["run_id"], row)
            except FileNotFoundError:
                raise _Vanished from None  # superseded meanwhile by a pack this listing may not show
            except (ValueError, TypeError, KeyError) as err:
                corrupt.append(self._corrupt(f"index/{name}", "index pack", err, lenient))
                continue
            if isinstance(pack, dict):
                superseded.update(b for b in pack.get("bases") or [pack.get("base")] if b)
        loose: dict[str, dict[str, Any] | None] = {
            n[: -len(".json")]: None for n in loose_names if RUN_ID.fullmatch(n[: -len(".json")])
        }
        wanted = [i for i in loose if i not in packed] if read_loose else []
        if wanted:
            paths = {self._path(f"summaries/{i}.json"): i for i in wanted}
            blobs = self.fs.cat(list(paths), on_error="return") if len(paths) > 1 else _cat_one(self.fs, next(iter(paths)))
            for path, blob in blobs.items():
                if isinstance(blob, FileNotFoundError):
                    raise _Vanished  # packed and deleted by a compaction after the listing
                if isinstance(blob, Exception):
                    raise blob
                try:
                    row = json.loads(blob)
                    loose[row["run_id"]] = row
                except (ValueError, TypeError, KeyError) as err:
                    corrupt.append(self._corrupt(f"summaries/{paths[path]}.json", "summary", err, lenient))
        return Snapshot(packed=packed, loose=loose, packs=packs, corrupt=corrupt)

    def _corrupt(self, key: str, what: str, err: Exception, lenient: bool) -> str:
        """``key`` (to list as corrupt) when ``lenient``, else the one-line error naming it."""
        if not lenient:
            raise StoreError(
                f"store {self.url}: the {what} {key} is corrupt ({type(err).__name__})",
                hint="run `nbprod store reindex` to rebuild the index from the run records", url=self.url,
            ) from None
        return key

    def _names(self, prefix: str, suffix: str) -> list[str]:
        try:
            paths = self.fs.ls(self._path(prefix), detail=False, refresh=True) if not self.local else self.fs.ls(self._path(prefix), detail=False)
        except FileNotFoundError:
            return []
        names = [p.rstrip("/").rsplit("/", 1)[-1] for p in paths]
        return [n for n in names if n.endswith(suffix)]

    def compact(self, force: bool = False, written: str | None = None) -> str | None:
        """Pack the loose summaries, and every pack listed, into a new pack; then
        delete what it holds (module docstring, rules 1 and 2).

        Runs after each write (of run ``written``) once ``COMPACT_AT`` loose
        summaries exist, by the writer whose run is the newest of them (so that
        concurrent writers do not all compact at once), by any writer past twice
        that; or when forced. Returns the new pack's name, or None when nothing was done.
        """
        with self._errors("listing runs"):
            waiting = self._names("summaries", ".json")  # one LIST: the usual answer is "not yet"
        if not waiting or (len(waiting) < COMPACT_AT and not force):
            return None
        if not force and written and len(waiting) < 2 * COMPACT_AT and max(waiting) != f"{written}.json":
            return None
        snap = self.snapshot(read_loose=True)
        if not snap.loose:
            return None
        rows = {**{i: row for i, row in snap.loose.items() if row}, **snap.packed}
        return self.write_pack(rows, snap, name=f"pack-{max(rows)}-{len(rows)}.json")

    def write_pack(self, rows: dict[str, dict[str, Any]], snap: Snapshot, name: str | None = None) -> str | None:
        """Create a pack of ``rows`` superseding everything ``snap`` listed, then delete
        what it supersedes. None (and nothing deleted) when another writer created a
        pack of that name first. Without ``name``, the name carries a digest of the
        pack (reindex: no two different packs ever share it)."""
        if not rows:  # reindex of a store without records: nothing is listed
            with self._errors("compacting run summaries"):
                self._remove([f"summaries/{i}.json" for i in snap.loose] + [f"index/{p}" for p in snap.packs])
            return None
        ordered = [rows[i] for i in sorted(rows, reverse=True)]
        pack = {"base": snap.packs[0] if snap.packs else None, "bases": snap.packs, "runs": ordered}
        data = json.dumps(pack, sort_keys=True).encode()
        if name is None:
            name = f"pack-{max(rows)}-{len(rows)}-{hashlib.sha256(data).hexdigest()[:12]}.json"
        with self._errors("compacting run summaries"):
            if not self._create(f"index/{name}", data):
                return None  # a concurrent compaction made this very pack: leave everything to it
            gone = [f"summaries/{i}.json" for i in snap.loose] + [f"index/{p}" for p in snap.packs if p != name]
            self._remove(gone)
        return name

    def _remove(self, keys: list[str]) -> None:
        """Delete keys; missing ones are fine (another compaction got there first)."""
        paths = [self._path(k) for k in keys]
        if not paths:
            return
        if self.bucket:
            self.fs.rm(paths)  # one DeleteObjects per 1000 keys; S3 ignores missing keys
            return
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(path)

    def _create(self, key: str, data: bytes) -> bool:
        """:meth:`create_key`; where the server (or the role) allows no conditional
        write, a check then a write: it still refuses what exists, only not atomically."""
        try:
            return self.create_key(key, data)
        except StoreUnreachableError:
            raise
        except StoreError:
            if self._size(key) is not None:
                return False
            self._write_atomic(key, data)
            return True

    def _index(self) -> tuple[dict[str, dict[str, Any]], list[str], list[str]]:
        """(summaries of packed runs, loose run ids, pack names): the snapshot as a tuple."""
        snap = self.snapshot()
        return snap.packed, list(snap.loose), snap.packs


def _pack_order(name: str) -> tuple[str, int, str]:
    """Newest run, then most runs: the pack that supersedes another sorts before it."""
    match = _PACK.fullmatch(name)
    return (match.group(1), int(match.group(2)), match.group(3) or "")


def _cat_one(fs, path: str) -> dict[str, Any]:
    try:
        return {path: fs.cat_file(path)}
    except FileNotFoundError as err:
        return {path: err}
