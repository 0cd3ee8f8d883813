"""Nothing is stored twice, counted from what the store holds and what the server was
asked, never from the uploader's own ``uploaded`` flag.

S3: moto's server (on 127.0.0.1) logs every request it receives (its recorder); each
object key must have been PUT once, however many runs hold the same bytes. A folder:
an object written again would be a new file (a temporary copy renamed into place), so
its inode and mtime must not change.
"""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from collections import Counter
from urllib.parse import unquote, urlsplit

import pytest
from runfactory import store_run

from nbprod.store import Store


@pytest.fixture
def server_log(s3, tmp_path, monkeypatch):
    """The requests moto's server received (method, path) since the fixture started."""
    from moto.moto_api import recorder  # the server runs in this process: its log goes to tmp_path

    monkeypatch.setattr(recorder, "_location", str(tmp_path / "moto-requests.jsonl"))

    def call(action: str) -> str:
        request = urllib.request.Request(f"{s3.endpoint}/moto-api/recorder/{action}", method="POST" if action != "download-recording" else "GET")
        return urllib.request.urlopen(request).read().decode()

    call("reset-recording")
    call("start-recording")

    def read() -> list[tuple[str, str]]:
        return [(e["method"], unquote(urlsplit(e["url"]).path)) for e in map(json.loads, call("download-recording").splitlines())]

    yield read
    call("stop-recording")


def _object_keys(store: Store) -> list[str]:
    return sorted(row["key"] for row in store.list_keys("objects"))


def test_same_bytes_in_three_runs_are_put_once_on_s3(s3, server_log, tmp_path):
    store = Store(f"s3://nbprod-test/once-{uuid.uuid4().hex[:8]}")
    runs = [store_run(store, tmp_path / str(i), minute=i) for i in range(3)]  # same model, metrics, table
    changed = store_run(store, tmp_path / "3", minute=3, model=b"model-v2")  # one new object
    objects = {Store.object_key(o["sha256"]) for r in [*runs, changed] for o in r.objects()}
    assert _object_keys(store) == sorted(objects) and len(objects) == 4  # what the store holds
    puts = Counter(path.split("/", 2)[2] for method, path in server_log() if method == "PUT")
    object_puts = {key.split("/", 1)[1]: n for key, n in puts.items() if key.split("/", 1)[1].startswith("objects/")}
    assert object_puts == {key: 1 for key in objects}, object_puts  # what the server was asked
    records = [key for key in puts if key.endswith("/record.json")]
    assert len(records) == 4 and set(puts[k] for k in records) == {1}


def test_same_bytes_in_two_runs_are_written_once_on_a_folder(tmp_path):
    store = Store(str(tmp_path / "store"))
    first = store_run(store, tmp_path / "a", minute=1)
    before = {key: os.stat(store._path(key)) for key in _object_keys(store)}
    second = store_run(store, tmp_path / "b", minute=2)
    assert {o["sha256"] for o in first.objects()} == {o["sha256"] for o in second.objects()}
    after = {key: os.stat(store._path(key)) for key in _object_keys(store)}
    assert set(after) == set(before) and len(after) == 3
    assert {k: (s.st_ino, s.st_mtime_ns) for k, s in after.items()} == {k: (s.st_ino, s.st_mtime_ns) for k, s in before.items()}
