"""Runs in the store: records, summaries, summary packs, and run references.

Layout::

    runs/<run_id>/record.json         the run record, written after its objects
    summaries/<run_id>.json           what ``runs ls`` needs, written last
    index/pack-<run_id>-<n>.json      many summaries in one object (compaction):
                                      {"base": the pack it extends, "runs": [...]}

Order is the guarantee: blobs, then the record, then the summary. A run is
listed only through its summary (loose, or packed), so a run whose writing was
cut short is never listed as complete.

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

import contextlib
import json
import re
from typing import Any

from ..errors import RunNotFoundError, StoreError
from ..schema import RUN_ID, RunRecord
from .backend import safe_part

_PACK = re.compile(r"pack-(\d{8}T\d{6}Z-[0-9a-f]{6})-(\d+)\.json")
COMPACT_AT = 100  # loose summaries that trigger a compaction
KEEP_PACKS = 2  # packs kept after a compaction (readers merge the newest two)


class RunIndex:
    """Mixed into :class:`~nbprod.store.Store`, over :class:`~nbprod.store.backend.Backend`."""

    @staticmethod
    def run_key(run_id: str, *parts: str) -> str:
        """Key under a run; each part is percent-encoded so a name with ``/`` or
        ``..`` can never address anything outside the run's prefix."""
        check_run_id(run_id)
        return "/".join(["runs", run_id, *(safe_part(part) for part in parts)])


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

    def record_of(self, ref: str) -> RunRecord:
        """The record of the run ``ref`` names (an id, a unique prefix, ``latest``, ``latest~N``)."""
        return self.read_record(self.resolve(ref))

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



def check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        raise RunNotFoundError(
            f"{run_id!r} is not a run id", hint="run ids look like 20261122T143308Z-a1b2c3", ref=run_id
        )
    return run_id
