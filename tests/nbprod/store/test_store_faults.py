"""Faults during writes to S3: nothing half-written is ever visible under a final key.

Real HTTP: moto's server behind a loopback proxy that dies mid-upload.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit

import pytest
import s3fs
from faultproxy import FaultProxy, proxy  # noqa: F401  (the fixture)
from runfactory import store_run

from nbprod.errors import StoreUnreachableError
from nbprod.files import sha256_bytes
from nbprod.store import Store




def direct(s3, url: str) -> Store:
    """The same store, reached without the proxy."""
    return Store(url, client_kwargs={"endpoint_url": s3.endpoint})


def test_server_dying_mid_upload_leaves_no_object(s3, proxy, tmp_path):
    url = f"s3://nbprod-test/f-{uuid.uuid4().hex[:8]}"
    data = os.urandom(3 << 20)
    path = tmp_path / "model.bin"
    path.write_bytes(data)
    store = Store(url, timeout=2)
    proxy.cut_on_put(1, b"/objects/")
    with pytest.raises(StoreUnreachableError, match=proxy.endpoint):
        store.put_file(path)
    assert proxy.cut_done.is_set()
    key = Store.object_key(sha256_bytes(data))
    assert not direct(s3, url).exists(key)
    # once the server is back, the same upload completes and reads back verified
    proxy.restore()
    s3fs.S3FileSystem.clear_instance_cache()
    assert Store(url).put_file(path)["uploaded"] is True
    assert direct(s3, url).get_bytes(sha256_bytes(data)) == data


def test_record_write_cut_leaves_the_run_unlisted(s3, proxy, tmp_path):
    url = f"s3://nbprod-test/f-{uuid.uuid4().hex[:8]}"
    store = Store(url, timeout=2)
    proxy.cut_on_put(1, b"/summaries/")
    with pytest.raises(StoreUnreachableError):
        store_run(store, tmp_path)
    assert proxy.cut_done.is_set()
    # the record went up, its summary did not: not listed
    assert direct(s3, url).run_ids() == []


def test_s3fs_publishes_a_streamed_write_that_raised(s3):
    """Why the store never uses fs.open(..., "wb"): s3fs 2026.9 publishes it anyway."""
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3.endpoint})
    path = f"nbprod-test/upstream-{uuid.uuid4().hex[:8]}"
    with pytest.raises(RuntimeError):
        with fs.open(path, "wb") as handle:
            handle.write(b"half of it")
            raise RuntimeError("writer failed")
    assert fs.exists(path)  # if this starts failing, upstream fixed it: good news


def test_put_bytes_keeps_no_trace_of_an_exception_before_the_put(s3, tmp_path):
    store = Store(f"s3://nbprod-test/f-{uuid.uuid4().hex[:8]}")
    missing = tmp_path / "gone.bin"
    with pytest.raises(FileNotFoundError):
        store.put_file(missing)
    assert store.list_keys("objects") == []


@pytest.mark.parametrize("kind", ["s3", "local"])
def test_upload_that_does_not_match_its_hash_is_removed(kind, s3, tmp_path):
    """A file rewritten between hashing and upload never stays under the hashed key."""
    from nbprod.errors import IntegrityError

    url = f"s3://nbprod-test/f-{uuid.uuid4().hex[:8]}" if kind == "s3" else str(tmp_path / "store")
    path = tmp_path / "table.csv"
    path.write_bytes(b"a,b\n1,2\n")
    sha = sha256_bytes(path.read_bytes())
    path.write_bytes(b"a,b\n1,3\n")  # rewritten after it was hashed
    store = Store(url)
    with pytest.raises(IntegrityError, match="table.csv .*did not verify: the file changed"):
        store.put_file(path, sha)
    assert not store.exists(Store.object_key(sha))
    assert store.list_keys("objects/") == []  # no temporary copy left behind either
    # the same file, hashed now, stores and reads back
    assert store.get_bytes(store.put_file(path)["sha256"]) == b"a,b\n1,3\n"
