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
