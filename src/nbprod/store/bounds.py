"""How an S3 store is opened: every request bounded in time, and a URL that names a bucket.

An endpoint that accepts TCP and never answers (a hung proxy, a firewall that
lets the handshake through) made ``nbprod runs ls`` wait 300 s: botocore's
read timeout (then 30 s) times its attempts, times s3fs's own retry loop (5
tries of every timeout). Here the libraries' own settings bound it instead, no
retry loop of nbprod's: aiobotocore's ``AioConfig`` (through s3fs's
``config_kwargs``) gets connect and read timeouts of half
``NBPROD_STORE_TIMEOUT`` and two attempts in all (botocore's standard mode,
which also retries throttling and 5xx), and s3fs's loop tries once. A request
to such an endpoint fails after about ``NBPROD_STORE_TIMEOUT`` s plus up to 1 s
of botocore's backoff. Limit (aiohttp's): ``sock_read`` starts once a request
body is sent, so an upload larger than the socket buffers to an endpoint that
stops reading mid-way is not bounded by it; every upload follows a bounded
HEAD of its key, so a store that is down before the upload fails in time.

``s3://`` and ``s3:///x`` name no bucket: a configuration error (exit 2), never
a store to try.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError


def require_bucket(url: str) -> None:
    """``s3://`` and ``s3:///x`` name no bucket: a usage error, not a store to try."""
    if not url.split("://", 1)[1].split("/", 1)[0]:
        raise ConfigError(f"NBPROD_STORE={url} names no bucket",
                          hint="set NBPROD_STORE=s3://BUCKET or s3://BUCKET/PREFIX", url=url)


def bounded(storage_options: dict[str, Any], timeout: float) -> dict[str, Any]:
    """s3fs options with every request bounded (aiobotocore's ``AioConfig`` through
    ``config_kwargs``): connect and read timeouts of ``timeout / 2`` (aiohttp's
    ``sock_connect`` / ``sock_read``) and two attempts in all (botocore's standard
    retry mode, which also retries throttling and 5xx): an endpoint that accepts and
    never answers fails after about ``timeout`` s (plus up to 1 s of backoff)."""
    half = max(timeout, 0.2) / 2  # 0 would mean "no timeout" to aiohttp
    config = dict(storage_options.pop("config_kwargs", {}))
    config.setdefault("connect_timeout", half)
    config.setdefault("read_timeout", half)
    config.setdefault("retries", {"total_max_attempts": 2, "mode": "standard"})
    return {**storage_options, "config_kwargs": config}


def no_s3fs_retries(fs) -> None:
    """s3fs retries timeouts itself (``S3FileSystem.retries``, 5) on top of botocore's
    attempts; botocore's are the ones bounded, so s3fs tries once."""
    proto = fs.protocol
    if "s3" in ((proto,) if isinstance(proto, str) else tuple(proto)):
        fs.retries = 1
