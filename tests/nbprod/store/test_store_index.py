"""Listing without reading every run: loose summaries compacted into packs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from nbprod.store import packs as store_module
from nbprod.schema import RunRecord, TaskRecord, new_run_id
from nbprod.store import Store
from runfactory import local_and_s3_store as store  # noqa: F401  (the fixture)


def record(i: int) -> RunRecord:
    moment = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=i)
    return RunRecord(
        run_id=new_run_id(moment),
        status="succeeded",
        started_at=moment.isoformat(),
        tasks=[TaskRecord(name="t", kind="notebook", status="succeeded", scraps={"m": {"value": i}})],
    )


def loose(store):
    return [k["key"] for k in store.list_keys("summaries")]


def packs(store):
    return sorted(k["key"] for k in store.list_keys("index"))


def test_writes_compact_loose_summaries_into_a_pack(store, monkeypatch):
    monkeypatch.setattr(store_module, "COMPACT_AT", 5)
    written = []
    for i in range(12):
        rec = record(i)
        store.write_record(rec)
        written.append(rec.run_id)
    # compactions at the 5th and 10th write: 2 loose left, one pack (it supersedes the first)
    assert len(loose(store)) == 2
    assert len(packs(store)) == 1
    assert store.run_ids() == sorted(written, reverse=True)
    rows = store.summaries()
    assert [r["run_id"] for r in rows] == sorted(written, reverse=True)
    assert rows[0]["metrics"] == {"m": 11} and rows[-1]["metrics"] == {"m": 0}
    assert [r["run_id"] for r in store.summaries(limit=3)] == sorted(written, reverse=True)[:3]
    # every record is still readable, and a prefix resolves through the pack
    assert store.read_record(written[0]).run_id == written[0]
    assert store.resolve(written[0][:-1]) in written


def test_forced_compaction_and_reading_two_packs(store):
    first = [record(i) for i in range(3)]
    for rec in first:
        store.write_record(rec)
    name = store.compact(force=True)
    assert name and name.startswith(f"pack-{max(r.run_id for r in first)}-3")
    assert loose(store) == []
    second = record(10)
    store.write_record(second)
    assert store.compact(force=True)
    assert store.compact(force=True) is None  # nothing loose: nothing to do
    assert store.run_ids()[0] == second.run_id and len(store.run_ids()) == 4


def test_a_loose_summary_deleted_by_a_concurrent_compaction_is_found_in_the_pack(store):
    """Reader lists loose summaries, then a compaction runs, then it reads the index."""
    for i in range(4):
        store.write_record(record(i))
    listed = store._names("summaries", ".json")
    store.compact(force=True)  # another process packs and deletes them
    assert listed and loose(store) == []
    assert len(store.summaries()) == 4


def _pack(store, name, base, recs):
    import json

    rows = [r.summary() for r in sorted(recs, key=lambda r: r.run_id, reverse=True)]
    store.write_key(f"index/{name}", json.dumps({"base": base, "runs": rows}).encode())


def test_racing_compactions_lose_no_run(store):
    """Two compactions that each saw part of the loose summaries: both packs are read."""
    a, b, c = record(1), record(2), record(3)
    _pack(store, f"pack-{b.run_id}-2.json", None, [a, b])
    _pack(store, f"pack-{c.run_id}-2.json", None, [a, c])  # built without seeing b
    assert store.run_ids() == [c.run_id, b.run_id, a.run_id]


def test_the_pack_a_newer_one_was_built_from_is_not_read(store):
    a, b, c = record(1), record(2), record(3)
    older = f"pack-{b.run_id}-2.json"
    _pack(store, older, None, [a, b])
    _pack(store, f"pack-{c.run_id}-3.json", older, [a, b, c])
    store.write_key(f"index/{older}", b"not json: reading it would fail")
    assert store.run_ids() == [c.run_id, b.run_id, a.run_id]


def test_compaction_records_its_base(store):
    import json

    for i in range(2):
        store.write_record(record(i))
    first = store.compact(force=True)
    store.write_record(record(5))
    second = store.compact(force=True)
    pack = json.loads(store.read_key(f"index/{second}"))
    assert pack["base"] == first and len(pack["runs"]) == 3


# -- concurrent compactions, interleaved by hand (test_concurrent_writers.py runs them for real)


def _listed(store) -> set[str]:
    return set(store.run_ids())


def test_two_compactions_that_saw_different_runs_lose_none(store):
    first = [record(i) for i in range(3)]
    for rec in first:
        store.write_record(rec)
    seen_by_a = store.snapshot(read_loose=True)
    late = record(7)
    store.write_record(late)  # written after A listed, before B did
    seen_by_b = store.snapshot(read_loose=True)
    rows = lambda snap: {**{i: r for i, r in snap.loose.items() if r}, **snap.packed}  # noqa: E731
    b = store.write_pack(rows(seen_by_b), seen_by_b, name=f"pack-{late.run_id}-4.json")
    a = store.write_pack(rows(seen_by_a), seen_by_a, name=f"pack-{first[-1].run_id}-3.json")
    assert a and b  # two heads: B's pack does not hold A's, A did not list B's
    assert _listed(store) == {r.run_id for r in [*first, late]}
    assert store.list_keys("summaries") == []
    store.write_record(record(9))
    store.compact(force=True)  # the next compaction merges both heads
    assert len(packs(store)) == 1 and len(_listed(store)) == 5


def test_a_pack_name_already_taken_is_neither_overwritten_nor_followed_by_deletes(store):
    a, b, x = record(1), record(2), record(3)
    for rec in (a, b):
        store.write_record(rec)
    snap_one = store.snapshot(read_loose=True)
    store.write_record(x)
    snap_two = store.snapshot(read_loose=True)
    name = f"pack-{b.run_id}-2.json"
    assert store.write_pack({r.run_id: r.summary() for r in (a, b)}, snap_one, name=name) == name
    # another compaction arrives at the same name with other runs: it must write and delete nothing
    assert store.write_pack({r.run_id: r.summary() for r in (a, x)}, snap_two, name=name) is None
    assert _listed(store) == {a.run_id, b.run_id, x.run_id}
    assert [k["key"] for k in store.list_keys("summaries")] == [f"summaries/{x.run_id}.json"]


def test_a_reader_lists_again_when_a_compaction_supersedes_what_it_listed(store, monkeypatch):
    """Reader lists the index, a compaction packs everything and deletes the pack it
    listed, then the reader reads: it must list again, not miss the runs."""
    recs = [record(i) for i in range(4)]
    for rec in recs[:2]:
        store.write_record(rec)
    store.compact(force=True)
    for rec in recs[2:]:
        store.write_record(rec)
    other = Store(store.url)  # another process's compaction
    real = Store._names
    calls = []

    def list_then_compact(self, prefix, suffix):
        names = real(self, prefix, suffix)
        if self is store and prefix == "index" and not calls:
            calls.append(prefix)
            assert other.compact(force=True)  # supersedes (and deletes) the pack just listed
        return names

    monkeypatch.setattr(Store, "_names", list_then_compact)
    assert _listed(store) == {r.run_id for r in recs}
    assert calls == ["index"]


def test_a_reader_reads_again_when_loose_summaries_are_packed_under_it(store, monkeypatch):
    recs = [record(i) for i in range(3)]
    for rec in recs:
        store.write_record(rec)
    other = Store(store.url)
    real = Store._names
    calls = []

    def list_then_compact(self, prefix, suffix):
        names = real(self, prefix, suffix)
        if self is store and prefix == "index" and not calls:
            calls.append(prefix)
            assert other.compact(force=True)  # packs and deletes the loose summaries just listed
        return names

    monkeypatch.setattr(Store, "_names", list_then_compact)
    assert [r["run_id"] for r in store.summaries()] == sorted((r.run_id for r in recs), reverse=True)
