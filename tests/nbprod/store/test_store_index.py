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
