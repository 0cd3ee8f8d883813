"""nbprod.spool: runs kept locally while the store is down, pushed later."""

from __future__ import annotations

import json
import uuid

import pytest
from runfactory import store_run

from nbprod.store import maintenance, spool
from nbprod.settings import Settings
from nbprod.errors import StoreError
from nbprod.store import Store


@pytest.fixture
def settings(tmp_path):
    return Settings(store="s3://nbprod-test/team", spool=str(tmp_path / "spool"))


def test_nothing_spooled(settings):
    assert spool.pending_for(settings, settings.store) is None
    assert list(spool.spooled(settings)) == []


def test_spool_folder_is_per_store_and_names_its_store(settings):
    a = spool.open_spool(settings, "s3://nbprod-test/team")
    b = spool.open_spool(settings, "s3://nbprod-test/other")
    assert a.url != b.url
    assert json.loads((spool.spool_dir(settings, "s3://nbprod-test/team") / spool.TARGET).read_text()) == {
        "url": "s3://nbprod-test/team"
    }


def test_spool_never_writes_a_password_from_the_url(settings):
    url = "s3://AKIAEXAMPLE:hunter2-secret@nbprod-test/team"
    spool.open_spool(settings, url)
    written = "".join(p.read_text() for p in (spool.spool_dir(settings, url)).rglob("*") if p.is_file())
    assert "hunter2-secret" not in written and "AKIAEXAMPLE" not in written


def test_push_uploads_spooled_runs_to_s3_then_empties_the_spool(s3, settings, tmp_path):
    local = spool.open_spool(settings, settings.store)
    first = store_run(local, tmp_path / "w", minute=1)
    second = store_run(local, tmp_path / "w", minute=2, model=b"model-v2")
    found = list(spool.spooled(settings))
    assert [(url, ids) for url, _, ids in found] == [(settings.store, [second.run_id, first.run_id])]
    target = Store(settings.store)
    lines = []
    assert spool.push(local, target, log=lines.append) == [first.run_id, second.run_id]
    assert target.run_ids() == [second.run_id, first.run_id]
    assert maintenance.verify(target, log=lambda line: None).problems == []
    assert spool.pending_for(settings, settings.store) is None
    assert not spool.spool_dir(settings, settings.store).exists()
    assert "push 1/2" in lines[0] and first.run_id in lines[0]


def test_push_skips_runs_the_store_already_has(s3, settings, tmp_path):
    local = spool.open_spool(settings, settings.store)
    run = store_run(local, tmp_path / "w", minute=1)
    target = Store(settings.store)
    target.write_record(local.read_record(run.run_id))
    before = {k["key"]: k["size"] for k in target.list_keys("")}
    lines = []
    assert spool.push(local, target, log=lines.append) == []
    assert "already in" in lines[0]
    assert {k["key"]: k["size"] for k in target.list_keys("")} == before


def test_a_failed_push_keeps_the_spool(settings, tmp_path, monkeypatch):
    local = spool.open_spool(settings, settings.store)
    run = store_run(local, tmp_path / "w", minute=1)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(StoreError, match="cannot reach"):
        spool.push(local, Store(settings.store, timeout=1), log=lambda line: None)
    assert spool.pending_for(settings, settings.store)[1] == [run.run_id]


# -- a refusing store spools the run; the next recording pushes it ---------------------------

import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from pathlib import Path  # noqa: E402

import s3fs  # noqa: E402

from nbprod import schema  # noqa: E402
from nbprod.record.recorder import record_run  # noqa: E402
from nbprod.record.session import Session  # noqa: E402
from nbprod.record.taskview import EXECUTED, TaskView  # noqa: E402


@pytest.fixture(scope="module")
def auth_endpoint():
    """A second moto server that checks credentials: no IAM user exists, so every key is refused (403)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("moto server with authentication did not start")
                time.sleep(0.2)
        yield endpoint
    finally:
        proc.kill()
        proc.wait()


def record(tmp_path: Path, settings: Settings, content: str):
    product = tmp_path / "outputs" / "model.bin"
    product.parent.mkdir(parents=True, exist_ok=True)
    product.write_text(content)
    view = TaskView(name="train", kind="function", outcome=EXECUTED, source=None, params={}, upstream=[],
                    products={"model": str(product)}, notebook=None)
    lines = []
    record_, where = record_run(Session(root=tmp_path, argv=["nbprod", "build"]), [view], schema.SUCCEEDED,
                                settings=settings, say=lambda line, err=False: lines.append(line))
    return record_, where, lines


def endpoint(monkeypatch, url: str) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    s3fs.S3FileSystem.clear_instance_cache()


def assert_pushed_by_the_next_recording(tmp_path, settings, first):
    second, where, lines = record(tmp_path, settings, "model 2")
    assert where == settings.store
    assert f"nbprod: pushing 1 spooled run(s) to {settings.store}" in lines
    store = Store(settings.store)
    assert sorted(store.run_ids()) == sorted([first.run_id, second.run_id])
    assert store.get_bytes(first.task("train").products[0]["sha256"]) == b"model 1"  # its objects came along
    assert maintenance.verify(store, log=lambda line: None).problems == []
    assert spool.pending_for(settings, settings.store) is None
    assert not spool.spool_dir(settings, settings.store).exists()


def test_a_missing_bucket_spools_the_run_and_the_next_recording_pushes_it(s3, tmp_path):
    settings = Settings(store="s3://nbprod-later/team", spool=str(tmp_path / "spool"), store_timeout=15)
    first, where, lines = record(tmp_path, settings, "model 1")
    assert where.startswith("the local spool")
    assert lines[0].startswith(f"nbprod: warning: bucket nbprod-later does not exist at {s3.endpoint}")
    assert spool.pending_for(settings, settings.store)[1] == [first.run_id]
    s3.create_bucket("nbprod-later")  # the bucket is made; the next build reaches it
    s3fs.S3FileSystem.clear_instance_cache()
    assert_pushed_by_the_next_recording(tmp_path, settings, first)


def test_refused_credentials_spool_the_run_and_the_next_recording_pushes_it(s3, auth_endpoint, tmp_path, monkeypatch):
    settings = Settings(store="s3://nbprod-test/team", spool=str(tmp_path / "spool"), store_timeout=15)
    endpoint(monkeypatch, auth_endpoint)  # the same bucket, through an endpoint that refuses these keys
    first, where, lines = record(tmp_path, settings, "model 1")
    assert where.startswith("the local spool")
    assert lines[0].startswith(f"nbprod: warning: access denied to bucket nbprod-test at {auth_endpoint}")
    assert "testing-secret-value" not in " ".join(lines)
    assert spool.pending_for(settings, settings.store)[1] == [first.run_id]
    assert Store(settings.store, client_kwargs={"endpoint_url": s3.endpoint}).run_ids() == []
    endpoint(monkeypatch, s3.endpoint)  # credentials fixed
    assert_pushed_by_the_next_recording(tmp_path, settings, first)


def test_a_run_whose_record_reached_the_store_without_its_summary_is_listed_by_the_push(settings, tmp_path):
    """The recording wrote record.json, then the summary failed and the run was spooled
    (built again, so its record differs in its timings): the push must not be refused forever."""
    import dataclasses

    local = spool.open_spool(settings, settings.store)
    run = store_run(local, tmp_path / "w", minute=1)
    target = Store(str(tmp_path / "target"))
    first = dataclasses.replace(local.read_record(run.run_id), recording_s=0.123)
    for obj in first.objects():
        target.put_file(local._path(local.object_key(obj["sha256"])), obj["sha256"])
    target.write_key(target.run_key(run.run_id, "record.json"), json.dumps(first.to_dict()).encode())
    assert target.run_ids() == []  # not listed: no summary
    lines = []
    assert spool.push(local, target, log=lines.append) == [run.run_id]
    assert target.run_ids() == [run.run_id]
    assert target.read_record(run.run_id).recording_s == 0.123  # the stored record is the run
    assert "without its summary" in lines[0]
    assert spool.pending_for(settings, settings.store) is None


def test_two_projects_relative_default_stores_have_their_own_spools(tmp_path, monkeypatch):
    settings = Settings(store="outputs/store", spool=str(tmp_path / "spool"))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    in_a = spool.spool_dir(settings, settings.store)
    same = spool.spool_dir(settings, str(tmp_path / "a" / "outputs" / "store"))
    monkeypatch.chdir(tmp_path / "b")
    assert spool.spool_dir(settings, settings.store) != in_a  # a run spooled in a is never pushed into b
    assert same == in_a
