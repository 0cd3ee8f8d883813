"""nbprod.pull: a run's products and notebooks, downloaded and verified."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runfactory import store_run

from nbprod.errors import IntegrityError, StoreError
from nbprod.store.pull import local_path, pull
from nbprod.store import Store
from runfactory import local_and_s3_store as store  # noqa: F401  (the fixture)


def files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_pull_writes_products_at_their_recorded_paths(store, tmp_path):
    run = store_run(store, tmp_path / "work", model=b"the model", metrics=b'{"f1": 1}')
    dest = tmp_path / "pulled"
    done = pull(store, run.run_id, dest, log=lambda line: None)
    got = files_under(dest)
    assert got["outputs/model/model.joblib"] == b"the model"
    assert got["outputs/metrics/metrics.json"] == b'{"f1": 1}'
    assert json.loads(got["run/notebooks/train.ipynb"])["metadata"]["run"] == run.run_id
    assert json.loads(got["run/record.json"])["run_id"] == run.run_id
    assert not [name for name in got if ".tmp-" in name]
    assert done.files == 3 and done.downloaded == 2


def test_pulling_again_downloads_nothing(store, tmp_path):
    run = store_run(store, tmp_path / "work")
    dest = tmp_path / "pulled"
    pull(store, run.run_id, dest, log=lambda line: None)
    assert pull(store, run.run_id, dest, log=lambda line: None).downloaded == 0


def test_pull_refuses_a_corrupt_object_and_leaves_no_file(store, tmp_path):
    run = store_run(store, tmp_path / "work", model=b"the model")
    key = Store.object_key(run.tasks[0].products[0]["sha256"])
    store.fs.pipe_file(store._path(key), b"tampered")
    dest = tmp_path / "pulled"
    with pytest.raises(IntegrityError, match="corrupt"):
        pull(store, run.run_id, dest, log=lambda line: None)
    assert not (dest / "outputs/model/model.joblib").exists()
    assert not [p for p in dest.rglob("*") if p.is_file()]
    assert store.exists(f"quarantine/{key}")


def test_pull_refuses_a_notebook_that_does_not_match_its_record(store, tmp_path):
    run = store_run(store, tmp_path / "work")
    store.write_key(run.tasks[0].notebook["key"], b"{}")
    with pytest.raises(IntegrityError, match="executed notebook"):
        pull(store, run.run_id, tmp_path / "pulled", log=lambda line: None)


def test_pull_of_a_missing_object_names_it(store, tmp_path):
    run = store_run(store, tmp_path / "work")
    key = Store.object_key(run.tasks[0].products[0]["sha256"])
    store.delete_key(key)
    with pytest.raises(StoreError, match="missing") as info:
        pull(store, run.run_id, tmp_path / "pulled", log=lambda line: None)
    assert key in str(info.value) and "store verify" in str(info.value)


@pytest.mark.parametrize(
    "recorded,expected",
    [
        ("outputs/data/x.parquet", "outputs/data/x.parquet"),
        ("./outputs/x.csv", "outputs/x.csv"),
        ("../../etc/passwd", "_external/t/passwd"),
        ("/etc/passwd", "_external/t/passwd"),
        ("outputs/../../x", "_external/t/x"),
        ("outputs\\..\\..\\x", "_external/t/x"),
        ("outputs/a\nb", "outputs/a%0Ab"),
    ],
)
def test_local_path_never_leaves_the_destination(recorded, expected):
    assert local_path(recorded, "t").as_posix() == expected


LONG_NAMES = {"accents": "é" * 300, "cjk": "训练模型" * 80, "ascii": "t" * 300}


@pytest.mark.parametrize("kind", sorted(LONG_NAMES))
def test_pull_of_a_task_with_a_long_unicode_name(kind, store, tmp_path):
    """Every file name stays within 255 bytes and starts like the task's name; two long names
    that share their start stay apart (the hash of the whole name)."""
    from nbprod.schema import RunRecord, TaskRecord, new_run_id

    name = LONG_NAMES[kind]
    other = name[:-1] + "x"  # the same first 254 characters
    tasks = []
    for task in (name, other):
        notebook = store.put_bytes(json.dumps({"cells": [], "metadata": {"task": task}}).encode())
        product = store.put_bytes(task.encode())
        tasks.append(TaskRecord(
            name=task, kind="notebook", status="succeeded",
            notebook={"key": notebook["key"], "sha256": notebook["sha256"], "size": notebook["size"]},
            products=[
                {"name": "model", "path": f"/abs/{task}.joblib", "sha256": product["sha256"], "size": product["size"]},
                {"name": "table", "path": f"outputs/{task}/{task}.csv", "sha256": product["sha256"], "size": product["size"]},
            ],
        ))
    record = RunRecord(run_id=new_run_id(), status="succeeded", started_at="2026-11-01T00:00:00+00:00",
                       duration_s=1.0, tasks=tasks)
    store.write_record(record)
    dest = tmp_path / "pulled"
    done = pull(store, record.run_id, dest, log=lambda line: None)
    got = files_under(dest)
    assert done.files == 6 and len(got) == 7  # 4 products, 2 notebooks (counted), the record
    for rel in got:
        assert all(len(part.encode()) <= 255 for part in Path(rel).parts), rel
    notebooks = sorted(rel for rel in got if rel.startswith("run/notebooks/"))
    assert len(notebooks) == 2 and all(n.endswith(".ipynb") and Path(n).name.startswith(name[:50]) for n in notebooks)
    assert {json.loads(got[n])["metadata"]["task"] for n in notebooks} == {name, other}
    external = sorted(rel for rel in got if rel.startswith("_external/"))
    assert len(external) == 2 and all(Path(e).suffix == ".joblib" and Path(e).name.startswith(name[:50]) for e in external)
    assert sorted(got[e] for e in external) == sorted([name.encode(), other.encode()])
    tables = [rel for rel in got if rel.startswith("outputs/")]
    assert len(tables) == 2 and all(Path(t).suffix == ".csv" for t in tables)


def test_store_keys_of_long_names_stay_within_a_file_name():
    from nbprod.store import safe_part

    long, other = "é" * 300, "é" * 299 + "x"
    assert len(safe_part(long)) <= 255 and safe_part(long).startswith("%C3%A9" * 10)
    assert safe_part(long) != safe_part(other)
    assert "%" not in safe_part(long).rsplit("~", 1)[1]  # never cut inside an escape
    assert safe_part("train") == "train" and safe_part("a/b") == "a%2Fb" and safe_part("..") == "%2E%2E"
