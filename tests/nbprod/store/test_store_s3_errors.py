"""S3 failures become one-line StoreErrors, in bounded time, with no credential value.

Real HTTP against moto's server on 127.0.0.1: a closed port for an endpoint
that is down, a second moto server with authentication on for wrong
credentials.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
import s3fs

from nbprod.errors import StoreError, StoreUnreachableError
from nbprod.store import Store

SECRET = "testing-secret-value"  # tests/conftest.py S3_ENV


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def nbprod(*args, env):
    return subprocess.run([sys.executable, "-m", "nbprod.cli", *args], capture_output=True, text=True, env=env, timeout=120)


def cli_env(monkeypatch_env: dict[str, str], **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NBPROD_"))}
    env.update(monkeypatch_env)
    env.update(extra)
    return env


@pytest.fixture
def down(s3, monkeypatch):
    """AWS variables pointing at a loopback port where nothing listens."""
    endpoint = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    s3fs.S3FileSystem.clear_instance_cache()
    return endpoint


def test_endpoint_down_is_one_line_within_the_bound(down):
    store = Store("s3://nbprod-test/x", timeout=2)
    started = time.monotonic()
    with pytest.raises(StoreUnreachableError) as info:
        store.run_ids()
    elapsed = time.monotonic() - started
    message = str(info.value)
    assert elapsed < 10
    assert down in message and "AWS_ENDPOINT_URL" in message and "s3://nbprod-test/x" in message
    assert "\n" not in message and SECRET not in message
    assert info.value.__cause__ is not None  # the botocore error, kept for --debug


def test_endpoint_down_from_the_cli_exits_3_with_one_line(down, s3):
    env = cli_env(s3.env(), AWS_ENDPOINT_URL=down, NBPROD_STORE="s3://nbprod-test/x", NBPROD_STORE_TIMEOUT="2")
    started = time.monotonic()
    done = nbprod("runs", "ls", env=env)
    assert time.monotonic() - started < 20
    assert done.returncode == 3
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("nbprod: error: cannot reach the store s3://nbprod-test/x at " + down)
    assert SECRET not in done.stderr + done.stdout


def test_missing_bucket_names_the_bucket_and_the_variable(s3):
    with pytest.raises(StoreError) as info:
        Store("s3://no-such-bucket/runs").run_ids()
    message = str(info.value)
    assert message.startswith(f"bucket no-such-bucket does not exist at {s3.endpoint}")
    assert "NBPROD_STORE=s3://no-such-bucket/runs" in message


def test_missing_bucket_from_the_cli(s3):
    done = nbprod("runs", "ls", env=cli_env(s3.env(), NBPROD_STORE="s3://no-such-bucket/runs"))
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        f"nbprod: error: bucket no-such-bucket does not exist at {s3.endpoint}: "
        "create it, or fix the bucket in NBPROD_STORE=s3://no-such-bucket/runs"
    ]


def test_no_credentials_names_the_variables(s3, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask a non-loopback metadata service
    s3fs.S3FileSystem.clear_instance_cache()
    with pytest.raises(StoreError) as info:
        Store("s3://nbprod-test/x").run_ids()
    assert "AWS_ACCESS_KEY_ID" in str(info.value) and "AWS_PROFILE" in str(info.value)


@pytest.fixture(scope="module")
def auth_server():
    """A moto server that checks credentials (no IAM user exists, so every key is wrong)."""
    port = free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("moto server with authentication did not start")
            time.sleep(0.2)
    yield endpoint
    proc.kill()
    proc.wait()


def test_wrong_credentials_name_the_bucket_and_variables_but_no_value(s3, auth_server, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", auth_server)
    s3fs.S3FileSystem.clear_instance_cache()
    with pytest.raises(StoreError) as info:
        Store("s3://nbprod-test/x").run_ids()
    message = str(info.value)
    assert message.startswith(f"access denied to bucket nbprod-test at {auth_server}")
    assert "AWS_ACCESS_KEY_ID" in message and "AWS_SECRET_ACCESS_KEY" in message
    assert SECRET not in message and "testing-key-id" not in message
    assert "\n" not in message


def test_wrong_credentials_from_the_cli(s3, auth_server):
    done = nbprod("runs", "ls", env=cli_env(s3.env(), AWS_ENDPOINT_URL=auth_server, NBPROD_STORE="s3://nbprod-test/x"))
    assert done.returncode == 3
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "access denied to bucket nbprod-test" in done.stderr
    assert SECRET not in done.stderr + done.stdout


@pytest.mark.parametrize("url", ["s3://", "s3:///x", "s3a://"])
def test_an_s3_url_without_a_bucket_is_refused(url):
    from nbprod.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        Store(url)
    assert str(info.value) == f"NBPROD_STORE={url} names no bucket: set NBPROD_STORE=s3://BUCKET or s3://BUCKET/PREFIX"


@pytest.mark.parametrize("url", ["s3://", "s3:///x"])
def test_an_s3_url_without_a_bucket_from_the_cli_exits_2(url, tmp_path):
    env = cli_env({}, NBPROD_STORE=url, NBPROD_SPOOL=str(tmp_path / "spool"), AWS_EC2_METADATA_DISABLED="true")
    done = nbprod("runs", "ls", env=env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"nbprod: error: NBPROD_STORE={url} names no bucket: set NBPROD_STORE=s3://BUCKET or s3://BUCKET/PREFIX"
    ]
