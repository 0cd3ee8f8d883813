"""nbprod.maintenance: store verify and gc, on a folder and on the S3 server."""

from __future__ import annotations

import time

import pytest
from runfactory import store_run

from nbprod.errors import IntegrityError, StoreError
from nbprod.store import maintenance
from nbprod.store import Store
from runfactory import local_and_s3_store as store  # noqa: F401  (the fixture)

WEEK = 7 * 86400


def quiet(_line):
    pass


def test_verify_a_sound_store(store, tmp_path):
    a = store_run(store, tmp_path, minute=1)
    store_run(store, tmp_path, minute=2)  # same model bytes: the object is shared
    result = maintenance.verify(store, log=quiet)
    assert result.problems == []
    assert result.runs == 2
    # 1 model + 1 metrics + 1 table shared by both runs, plus one notebook each
    assert result.objects == 5
    assert result.bytes > 0
    only_a = maintenance.verify(store, [a.run_id], log=quiet)
    assert only_a.runs == 1 and only_a.objects == 4


def test_verify_names_a_corrupt_object_and_every_run_using_it(store, tmp_path):
    a = store_run(store, tmp_path, minute=1)
    b = store_run(store, tmp_path, minute=2)
    model = a.tasks[0].products[0]
    key = Store.object_key(model["sha256"])
    store.fs.pipe_file(store._path(key), b"model-v2")  # same size, other bytes
    # --no-hash only compares sizes: the same-size corruption goes unseen, by design
    assert maintenance.verify(store, hashes=False, log=quiet).problems == []
    result = maintenance.verify(store, log=quiet)
    problems = result.problems
    assert {p["run_id"] for p in problems} == {a.run_id, b.run_id}
    assert all(p["key"] == key and p["problem"].startswith("corrupt") for p in problems)
    assert all(p["problem"].endswith(f"; moved to quarantine/{key}") for p in problems)
    assert all(p["what"] == "product model" for p in problems)
    assert result.quarantined == [key]


def test_verify_quarantines_a_corrupt_object_and_the_next_run_stores_it_again(store, tmp_path):
    """A same-size corruption left in place would never be replaced: an upload skips a
    key that exists with the right size."""
    run = store_run(store, tmp_path, minute=1, model=b"weights-1")
    sha = run.tasks[0].products[0]["sha256"]
    key = Store.object_key(sha)
    store.fs.pipe_file(store._path(key), b"WEIGHTS-1")  # bit rot, in place, same size
    found = maintenance.verify(store, log=quiet)
    assert found.quarantined == [key]
    with pytest.raises(IntegrityError, match="quarantine"):
        found.raise_for_problems()
    assert not store.exists(key) and store.read_key(f"quarantine/{key}") == b"WEIGHTS-1"  # kept as evidence
    again = store_run(store, tmp_path / "next", minute=2, model=b"weights-1")  # the next run with those bytes
    assert again.tasks[0].products[0]["sha256"] == sha
    assert store.get_bytes(sha) == b"weights-1"
    assert store.read_key(key) == b"weights-1"
    assert maintenance.verify(store, log=quiet).problems == []  # both runs sound again


def test_verify_reports_a_record_that_no_summary_or_pack_lists(store, tmp_path):
    kept = store_run(store, tmp_path, minute=1)
    lost = store_run(store, tmp_path, minute=2)
    store.delete_key(f"summaries/{lost.run_id}.json")  # what concurrent compactions did (issue 11)
    assert store.run_ids() == [kept.run_id]
    result = maintenance.verify(store, log=quiet)
    assert result.unlisted == [lost.run_id] and result.runs == 2
    assert result.problems == [{"run_id": lost.run_id, "task": None, "what": "record",
                                "key": Store.run_key(lost.run_id, "record.json"),
                                "problem": "not listed (no summary, in no pack): `nbprod store reindex` lists it"}]
    with pytest.raises(IntegrityError) as info:
        result.raise_for_problems()
    assert "1 record(s) not listed" in str(info.value) and "nbprod store reindex" in str(info.value)
    # naming runs checks those runs only
    assert maintenance.verify(store, [kept.run_id], log=quiet).problems == []
    done = maintenance.reindex(store, log=quiet)
    assert (done.runs, done.added, done.dropped, done.unreadable) == (2, 1, 0, [])
    assert store.run_ids() == [lost.run_id, kept.run_id]
    assert store.summaries()[0] == lost.summary()
    assert maintenance.verify(store, log=quiet).problems == []


def test_verify_reports_missing_and_truncated_objects(store, tmp_path):
    run = store_run(store, tmp_path, minute=1)
    metrics = run.tasks[0].products[1]
    store.fs.pipe_file(store._path(Store.object_key(metrics["sha256"])), b"{")
    store.delete_key(run.tasks[0].notebook["key"])
    problems = {p["what"]: p["problem"] for p in maintenance.verify(store, log=quiet).problems}
    assert problems["executed notebook"] == "missing"
    assert problems["product metrics"].startswith("size 1 bytes, recorded")


def test_verify_reports_a_listed_run_without_its_record(store, tmp_path):
    run = store_run(store, tmp_path, minute=1)
    store.delete_key(Store.run_key(run.run_id, "record.json"))
    problems = maintenance.verify(store, log=quiet).problems
    assert problems == [
        {"run_id": run.run_id, "task": None, "what": "record", "key": Store.run_key(run.run_id, "record.json"), "problem": "missing"}
    ]


def test_gc_finds_only_unreferenced_objects_older_than_the_grace_period(store, tmp_path):
    kept = store_run(store, tmp_path, minute=1)
    orphan = store.put_bytes(b"left behind by a run killed before its record")
    # a run whose recording was cut short: notebook stored, no record
    cut = "20261101T000500Z-abcdef"
    store.write_key(Store.run_key(cut, "notebooks", "train.ipynb"), b"{}")
    later = time.time() + WEEK + 60
    assert maintenance.garbage(store, WEEK).candidates == []  # all younger than a week
    found = maintenance.garbage(store, WEEK, now=later)
    keys = {c["key"]: c["why"] for c in found.candidates}
    assert keys == {
        orphan["key"]: "no record references it",
        Store.run_key(cut, "notebooks", "train.ipynb"): "run has no record (its recording was cut short)",
    }
    assert found.runs == 1 and found.referenced == 4
    freed = maintenance.collect(store, found.candidates, log=quiet)
    assert freed == orphan["size"] + 2
    assert not store.exists(orphan["key"])
    # everything the kept run references survives, and verifies
    assert maintenance.verify(store, log=quiet).problems == []
    assert maintenance.garbage(store, 0, now=later).candidates == []
    assert store.read_record(kept.run_id).run_id == kept.run_id


# -- reindex ---------------------------------------------------------------------------


def test_reindex_lists_records_lost_from_the_index_and_drops_runs_without_one(store, tmp_path):
    runs = [store_run(store, tmp_path, minute=i) for i in range(4)]
    pack = store.compact(force=True)
    newest = store_run(store, tmp_path, minute=9)
    store.delete_key(f"index/{pack}")  # the old bug: packed runs deleted with their pack
    assert store.run_ids() == [newest.run_id]
    store.delete_key(Store.run_key(runs[0].run_id, "record.json"))  # and one record gone for good
    done = maintenance.reindex(store, log=quiet)
    assert (done.runs, done.added, done.dropped) == (4, 3, 0)
    assert store.run_ids() == sorted([r.run_id for r in runs[1:]] + [newest.run_id], reverse=True)
    assert store.list_keys("summaries") == [] and [k["key"] for k in store.list_keys("index")] == [f"index/{done.pack}"]
    again = maintenance.reindex(store, log=quiet)  # nothing to change: the same pack
    assert (again.runs, again.added, again.dropped) == (4, 0, 0)
    # a listed run whose record is gone is no longer listed
    store.delete_key(Store.run_key(newest.run_id, "record.json"))
    assert maintenance.reindex(store, log=quiet).dropped == 1
    assert newest.run_id not in store.run_ids()


def test_a_corrupt_pack_is_one_line_naming_reindex_which_repairs_it(store, tmp_path):
    runs = [store_run(store, tmp_path, minute=i) for i in range(3)]
    pack = store.compact(force=True)
    store.write_key(f"index/{pack}", b'{"runs": [{"run_')  # truncated
    with pytest.raises(StoreError) as info:
        store.run_ids()
    assert f"index pack index/{pack} is corrupt" in str(info.value) and "nbprod store reindex" in str(info.value)
    lines = []
    done = maintenance.reindex(store, log=lines.append)
    assert lines == [f"nbprod: warning: index/{pack} in store {store.url} is corrupt: rebuilt from the records"]
    assert done.runs == 3 and store.run_ids() == sorted((r.run_id for r in runs), reverse=True)


# -- one corrupt record.json stops nothing ----------------------------------------------


def _corrupt_record(store, run) -> None:
    key = Store.run_key(run.run_id, "record.json")
    store.fs.pipe_file(store._path(key), store.read_key(key)[:-40])  # truncated JSON


def test_verify_skips_a_corrupt_record_with_one_warning_and_checks_the_rest(store, tmp_path):
    bad = store_run(store, tmp_path, minute=1, model=b"only-in-the-bad-run")
    good = store_run(store, tmp_path, minute=2)
    _corrupt_record(store, bad)
    store.delete_key(good.tasks[0].notebook["key"])  # and a real problem in the other run
    lines = []
    result = maintenance.verify(store, log=lines.append)
    warnings = [line for line in lines if "warning" in line]
    assert len(warnings) == 1 and bad.run_id in warnings[0] and "corrupt" in warnings[0]
    assert result.unreadable == [bad.run_id]
    assert {(p["run_id"], p["what"]): p["problem"] for p in result.problems} == {
        (bad.run_id, "record"): "unreadable (corrupt JSON): skipped",
        (good.run_id, "executed notebook"): "missing",
    }
    with pytest.raises(IntegrityError, match="1 unreadable record"):
        result.raise_for_problems()


def test_gc_skips_a_corrupt_record_and_keeps_what_its_bytes_name(store, tmp_path):
    bad = store_run(store, tmp_path, minute=1, model=b"only-in-the-bad-run")
    store_run(store, tmp_path, minute=2)
    orphan = store.put_bytes(b"garbage nobody references")
    _corrupt_record(store, bad)
    found = maintenance.garbage(store, WEEK, now=time.time() + WEEK + 60)
    assert list(found.unreadable) == [bad.run_id] and "corrupt" in found.unreadable[bad.run_id]
    assert [c["key"] for c in found.candidates] == [orphan["key"]]  # the rest is done
    model = Store.object_key(bad.tasks[0].products[0]["sha256"])
    assert model not in {c["key"] for c in found.candidates}  # named in the corrupt record: kept
    assert found.runs == 1
