"""S3 multipart uploads never completed: aborted on failure, listed and aborted by ``store gc``.

A product of 100 MiB or more goes up as a multipart upload (s3fs's threshold:
twice its 50 MiB part size). S3 keeps the parts of an upload that was neither
completed nor aborted, invisible in listings and billed, forever. Real moto
server on 127.0.0.1, the fault proxy between (refusing parts, or dying during
one), and a real process SIGKILLed mid-upload.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from urllib.parse import urlsplit

import boto3
import pytest
import s3fs
from faultproxy import FaultProxy, proxy  # noqa: F401  (the fixture)

from nbprod.errors import StoreError, StoreUnreachableError
from nbprod.files import sha256_file
from nbprod.store import Store, maintenance

BIG = 101 << 20  # just above s3fs's multipart threshold


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "model.bin"
    with open(path, "wb") as handle:
        for _ in range(BIG >> 20):
            handle.write(os.urandom(1 << 20))
        handle.write(os.urandom(BIG % (1 << 20)))
    return path


def client(s3):
    return boto3.client("s3", endpoint_url=s3.endpoint, aws_access_key_id="k", aws_secret_access_key="s",
                        region_name="us-east-1")


def uploads(s3, prefix: str = "") -> list[dict]:
    return client(s3).list_multipart_uploads(Bucket="nbprod-test", Prefix=prefix).get("Uploads", [])


def direct(s3, url: str) -> Store:
    return Store(url, client_kwargs={"endpoint_url": s3.endpoint})




def test_a_multipart_upload_the_server_refuses_is_aborted(s3, proxy, big_file):
    url = f"s3://nbprod-test/m-{uuid.uuid4().hex[:8]}"
    proxy.refuse(b"partNumber=")
    with pytest.raises(StoreError, match="access denied"):  # a refusal, not a slow machine's timeout
        Store(url, timeout=15).put_file(big_file)
    assert uploads(s3) == []  # started (create_multipart_upload went through), then aborted
    assert not direct(s3, url).exists(Store.object_key(sha256_file(big_file)))


def test_an_upload_cut_mid_way_is_listed_and_aborted_by_gc(s3, proxy, big_file):
    url = f"s3://nbprod-test/m-{uuid.uuid4().hex[:8]}"
    key = Store.object_key(sha256_file(big_file))
    proxy.cut_on_put(1, b"partNumber=")
    with pytest.raises(StoreUnreachableError):
        Store(url, timeout=2).put_file(big_file)
    assert proxy.cut_done.is_set()
    # s3fs's abort went to the dead endpoint too: the upload stays
    assert [u["Key"] for u in uploads(s3)] == [f"{urlsplit(url).path[1:]}/{key}"]
    other = client(s3).create_multipart_upload(Bucket="nbprod-test", Key="another-store/objects/x")
    store = direct(s3, url)
    # moto reports one fixed Initiated date for every upload: ages are counted from it here
    started = uploads(s3)[0]["Initiated"].timestamp()
    assert store.incomplete_uploads(3600, now=started + 60) == []  # younger than the grace: may be running
    assert len(store.incomplete_uploads(3600, now=started + 7200)) == 1
    found = store.incomplete_uploads(0)
    assert [(u["key"], u["why"]) for u in found] == [(key, f"incomplete multipart upload {found[0]['upload_id']}")]
    garbage = maintenance.garbage(store, 0)
    assert [c["key"] for c in garbage.candidates if c.get("upload_id")] == [key]
    maintenance.collect(store, garbage.candidates, log=lambda line: None)
    assert [u["Key"] for u in uploads(s3)] == ["another-store/objects/x"]  # only this store's upload went
    assert not store.exists(key)
    client(s3).abort_multipart_upload(Bucket="nbprod-test", Key="another-store/objects/x", UploadId=other["UploadId"])


def test_an_upload_whose_process_was_killed_is_aborted_by_store_gc(s3, big_file, tmp_path):
    url = f"s3://nbprod-test/m-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBPROD_")}
    env.update(s3.env(), NBPROD_STORE=url, NBPROD_SPOOL=str(tmp_path / "spool"))
    code = textwrap.dedent(f"""
        from nbprod.store import Store
        Store({url!r}).put_file({str(big_file)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + 60
        while not uploads(s3):
            assert proc.poll() is None and time.monotonic() < deadline, "the upload never started"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert len(uploads(s3)) == 1

    def gc(*args):
        return subprocess.run([sys.executable, "-m", "nbprod.cli", "store", "gc", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    listed = gc("--grace", "0s")
    assert listed.returncode == 0, listed.stderr
    assert "incomplete multipart upload" in listed.stdout
    assert "0 unreferenced object(s) and 1 incomplete multipart upload(s)" in listed.stdout
    assert len(uploads(s3)) == 1  # a dry run aborts nothing
    deleted = gc("--grace", "0s", "--delete")
    assert deleted.returncode == 0, deleted.stderr
    assert uploads(s3) == []
