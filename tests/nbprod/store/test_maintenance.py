"""nbprod.maintenance: store verify and gc, on a folder and on the S3 server."""

from __future__ import annotations

import time

import pytest
from runfactory import store_run

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
    problems = maintenance.verify(store, log=quiet).problems
    assert {p["run_id"] for p in problems} == {a.run_id, b.run_id}
    assert all(p["key"] == key and p["problem"].startswith("corrupt") for p in problems)
    assert all(p["what"] == "product model" for p in problems)
    # --no-hash only compares sizes: the same-size corruption goes unseen, by design
    assert maintenance.verify(store, hashes=False, log=quiet).problems == []


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
