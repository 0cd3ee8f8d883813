"""An S3 endpoint that accepts TCP and never answers: every store call gives up in bounded time.

A real black hole on 127.0.0.1 (a thread that accepts connections, never reads
and never answers, stopped at teardown), the real ``nbprod`` CLI in a
subprocess, the real recorder. Before the fix, ``nbprod runs ls`` waited 300 s
(botocore's read timeout, times its attempts, times s3fs's 5 retries); the
error said "gave up after ~2 s" whatever the wait. Each test measures the
real elapsed time and checks the message against it.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from urllib.parse import urlsplit

import pytest
import s3fs
from faultproxy import FaultProxy
from runfactory import store_run

from nbprod import schema
from nbprod.errors import StoreUnreachableError
from nbprod.record.recorder import record_run
from nbprod.record.session import Session
from nbprod.record.taskview import EXECUTED, TaskView
from nbprod.settings import Settings
from nbprod.store import Store
from nbprod.store import spool as spooling

TIMEOUT = 2  # NBPROD_STORE_TIMEOUT in these tests
#: the bound: two attempts of TIMEOUT/2, up to 1 s of botocore's backoff, and slack for a loaded machine
BOUND = TIMEOUT + 1 + 3
URL = "s3://nbprod-test/blackhole"
WAITED = re.compile(r"gave up after (\d+\.\d) s")


class BlackHole:
    """Accepts every connection on 127.0.0.1 and holds it open, never reading or writing."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.endpoint = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.held: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            self.held.append(conn)

    @property
    def accepted(self) -> int:
        return len(self.held)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        for sock in [self.listener, *self.held]:
            sock.close()


@pytest.fixture
def black_hole(monkeypatch):
    hole = BlackHole()
    for key, value in {"AWS_ACCESS_KEY_ID": "testing-key-id", "AWS_SECRET_ACCESS_KEY": "testing-secret-value",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": hole.endpoint,
                       "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    s3fs.S3FileSystem.clear_instance_cache()
    yield hole
    hole.stop()
    s3fs.S3FileSystem.clear_instance_cache()


def cli(*args: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBPROD_")}
    env.update(NBPROD_STORE=URL, NBPROD_STORE_TIMEOUT=str(TIMEOUT), NBPROD_SPOOL=str(tmp_path / "spool"))
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "nbprod.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120)
    return done, time.monotonic() - started


def waited(message: str) -> float:
    found = WAITED.search(message)
    assert found, message
    return float(found.group(1))


def assert_true_wait(message: str, elapsed: float, slack: float) -> float:
    """The wait the message names happened: at least the two attempts' timeouts,
    at most what the test measured, and not much less than it."""
    said = waited(message)
    assert TIMEOUT - 0.1 <= said <= elapsed + 0.05, (said, elapsed)
    assert elapsed - said < slack, (said, elapsed)
    return said


def test_store_call_gives_up_after_about_the_timeout_and_says_how_long(black_hole):
    store = Store(URL, timeout=TIMEOUT)
    started = time.monotonic()
    with pytest.raises(StoreUnreachableError) as info:
        store.run_ids()
    elapsed = time.monotonic() - started
    assert elapsed < BOUND
    assert black_hole.accepted >= 2  # both of botocore's attempts reached the black hole
    assert_true_wait(str(info.value), elapsed, slack=0.4)
    assert black_hole.endpoint in str(info.value) and "NBPROD_STORE_TIMEOUT" in str(info.value)


def test_reads_of_a_store_already_opened_are_bounded_too(s3, tmp_path, monkeypatch):
    """The bucket check passed while the endpoint answered; then it stops answering
    (a proxy turned black hole, pooled connections included): each read gives up in time."""
    proxy = FaultProxy(urlsplit(s3.endpoint).port)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        s3fs.S3FileSystem.clear_instance_cache()
        store = Store(URL, timeout=TIMEOUT)
        run = store_run(store, tmp_path / "work")
        assert store.run_ids() == [run.run_id]
        proxy.hold()
        for read in (lambda: store.read_record(run.run_id), store.run_ids,
                     lambda: store.get_file(run.tasks[0].products[0]["sha256"], tmp_path / "model")):
            started = time.monotonic()
            with pytest.raises(StoreUnreachableError) as info:
                read()
            elapsed = time.monotonic() - started
            assert elapsed < BOUND
            assert_true_wait(str(info.value), elapsed, slack=0.4)
    finally:
        proxy.close()
        s3fs.S3FileSystem.clear_instance_cache()


@pytest.mark.parametrize("size", [1 << 10, 30 << 20], ids=["record-sized", "30MB"])
def test_writes_to_a_store_that_stops_answering_are_bounded(size, s3, tmp_path, monkeypatch):
    """A PUT used to wait forever for the "100 Continue" botocore asks for (aiohttp has no
    timeout there), whatever its size; a body larger than the socket buffers stalls its
    send once the peer stops reading (TCP_USER_TIMEOUT ends it)."""
    proxy = FaultProxy(urlsplit(s3.endpoint).port)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        s3fs.S3FileSystem.clear_instance_cache()
        store = Store(URL, timeout=TIMEOUT)
        store.write_key("runs/warm/x.json", b"{}")  # bucket checked, store.json made: the next call is the PUT itself
        proxy.hold()
        data = os.urandom(size)
        started = time.monotonic()
        with pytest.raises(StoreUnreachableError) as info:
            store.write_key("runs/x/notebooks/t.ipynb", data)
        elapsed = time.monotonic() - started
        assert elapsed < 2 * TIMEOUT + 1 + 3  # a stalled send: two attempts of TCP_USER_TIMEOUT
        assert_true_wait(str(info.value), elapsed, slack=0.4)
    finally:
        proxy.close()
        s3fs.S3FileSystem.clear_instance_cache()


def test_runs_ls_exits_3_with_one_line_in_bounded_time(black_hole, tmp_path):
    done, elapsed = cli("runs", "ls", tmp_path=tmp_path)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"nbprod: error: cannot reach the store {URL} at {black_hole.endpoint}")
    assert elapsed < BOUND + 3  # + the interpreter's start and imports
    assert_true_wait(lines[0], elapsed, slack=6)


def test_push_exits_3_in_bounded_time_and_keeps_the_spool(black_hole, tmp_path):
    settings = Settings(store=URL, spool=str(tmp_path / "spool"))
    run = store_run(spooling.open_spool(settings, URL), tmp_path / "work")
    done, elapsed = cli("push", tmp_path=tmp_path)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the store" in lines[0], done.stderr
    assert elapsed < BOUND + 3
    assert_true_wait(lines[0], elapsed, slack=6)
    assert spooling.pending_for(settings, URL)[1] == [run.run_id]


def test_a_build_recording_into_a_black_hole_is_spooled_in_bounded_time(black_hole, tmp_path):
    product = tmp_path / "outputs" / "model.bin"
    product.parent.mkdir(parents=True)
    product.write_bytes(os.urandom(3 << 20))  # larger than the socket buffers: a PUT would never end
    settings = Settings(store=URL, spool=str(tmp_path / "spool"), store_timeout=TIMEOUT)
    view = TaskView(name="train", kind="function", outcome=EXECUTED, source=None, params={}, upstream=[],
                    products={"model": str(product)}, notebook=None)
    lines = []
    started = time.monotonic()
    record, where = record_run(Session(root=tmp_path, argv=["nbprod", "build"]), [view], schema.SUCCEEDED,
                               settings=settings, say=lambda line, err=False: lines.append(line))
    elapsed = time.monotonic() - started
    assert where.startswith("the local spool") and f"(store {URL} unavailable)" in where
    assert elapsed < BOUND + 6  # + provenance (packages, git), slower with the other worker's kernels beside it
    assert lines[0].startswith(f"nbprod: warning: cannot reach the store {URL} at {black_hole.endpoint}")
    assert_true_wait(lines[0], elapsed, slack=3)
    spool, ids = spooling.pending_for(settings, URL)
    assert ids == [record.run_id]
    assert spool.get_bytes(record.task("train").products[0]["sha256"]) == product.read_bytes()
