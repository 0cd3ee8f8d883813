"""Runs in the store: records, summaries, summary packs, and run references.

Layout::

    runs/<run_id>/record.json         the run record, written once, after its objects
    summaries/<run_id>.json           what ``runs ls`` needs, written last
    index/pack-<run_id>-<n>.json      many summaries in one object (compaction):
                                      {"bases": [packs it supersedes], "base": the newest of them,
                                       "runs": [...]}

Order is the guarantee: blobs, then the record, then the summary. A run is
listed only through its summary (loose, or packed), so a run whose writing was
cut short is never listed as complete. A record is created, never replaced
(:meth:`Backend.create_key`): a second record under the same run id is refused
with a StoreError, and writing the *same* record again (a push resumed after
the record went up but its summary did not) just completes it.

Listing must not read every record, nor even list every run: on S3 each
request costs milliseconds. Loose summaries are packed into a few objects
under ``index/`` (:mod:`nbprod.store.packs` explains compaction, and why it
loses no run under any number of concurrent writers); a reader lists the
loose summaries and reads the packs: a handful of requests for any number
of runs.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import RecordExistsError, RunNotFoundError, StoreError
from ..schema import RUN_ID, RunRecord
from .backend import safe_part
from .packs import COMPACT_AT, Packs, Snapshot  # noqa: F401  (COMPACT_AT, Snapshot: importers' names)


class RunIndex(Packs):
    """Mixed into :class:`~nbprod.store.Store`, over :class:`~nbprod.store.backend.Backend`."""

    @staticmethod
    def run_key(run_id: str, *parts: str) -> str:
        """Key under a run; each part is percent-encoded so a name with ``/`` or
        ``..`` can never address anything outside the run's prefix."""
        check_run_id(run_id)
        return "/".join(["runs", run_id, *(safe_part(part) for part in parts)])


    # -- runs --------------------------------------------------------------
    def write_record(self, record: RunRecord) -> str:
        """Persist a run: the record (created, never replaced), then its summary
        (what makes it listed). Blobs the record references must already be stored.

        A record already stored under this run id is refused (StoreError), unless it
        is this very record (a write resumed after its summary failed): then the
        summary is written and the run is listed.
        """
        key = self.run_key(record.run_id, "record.json")
        payload = json.dumps(record.to_dict(), indent=1, sort_keys=True, default=str)
        summary = json.dumps(record.summary(), sort_keys=True, default=str)
        with self._errors(f"writing run {record.run_id}"):
            self._ensure_layout()
            if not self._create(key, payload.encode()) and not self._same_record(key, payload):
                raise RecordExistsError(
                    f"run {record.run_id} already has another record in store {self.url}; not overwritten",
                    hint="a run id is written once: record this run under a new id (schema.new_run_id)",
                    url=self.url, run_id=record.run_id,
                )
            self._write_atomic(f"summaries/{record.run_id}.json", summary.encode())
        self.compact(written=record.run_id)
        return key

    def _same_record(self, key: str, payload: str) -> bool:
        try:
            return json.loads(self.fs.cat_file(self._path(key))) == json.loads(payload)
        except ValueError:  # the stored one is corrupt: it is not this record either
            return False

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

    def read_records(self, run_ids: list[str], unreadable: dict[str, str] | None = None) -> dict[str, RunRecord]:
        """Many records in few requests (s3fs fetches them concurrently);
        runs without a record are left out. A corrupt record raises a StoreError,
        or, when ``unreadable`` is a dict, is put there (run id -> the one-line reason)
        and left out, so one bad record does not stop a report, a verify or a gc."""
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
                run_id = paths.get(path, path)
                try:
                    found[run_id] = self._decode_record(run_id, blob)
                except StoreError as err:
                    if unreadable is None:
                        raise
                    unreadable[run_id] = str(err)
        return found

    def recorded_ids(self) -> list[str]:
        """Ids of every run with a record.json, listed or not (lists all of ``runs/``)."""
        with self._errors("listing run records"):
            keys = [row["key"] for row in self.list_keys("runs")]
        return sorted({k.split("/")[1] for k in keys if k.endswith("/record.json") and k.count("/") == 2
                       and RUN_ID.fullmatch(k.split("/")[1])}, reverse=True)

    def run_ids(self) -> list[str]:
        """Ids of the complete runs, newest first (a few requests, not one per run)."""
        return self.snapshot().ids

    def summaries(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Run summaries, newest first; reads only what is not packed."""
        snap = self.snapshot(read_loose=True)
        found = {**{i: row for i, row in snap.loose.items() if row}, **snap.packed}
        ids = snap.ids if limit is None else snap.ids[:limit]
        return [found[i] for i in ids if i in found]

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
