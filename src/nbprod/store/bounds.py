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
of botocore's backoff.

Uploads need two more settings, because aiohttp's ``sock_read`` only starts
once a request body is sent: botocore asks for ``Expect: 100-continue`` on
every PUT with a body, and aiohttp then waits for the ``100 Continue`` with no
timeout at all (botocore's own HTTP client waits 1 s and sends anyway), so a
PUT to an endpoint that stopped answering hung forever, whatever its size.
The header is dropped (a handler on the client's ``before-call.s3`` event,
:func:`no_expect_continue`): a refused upload then sends its body before the
403, which costs bandwidth, never correctness. A body larger than the socket
buffers to a peer that stops reading stalls the send: ``TCP_USER_TIMEOUT``
(Linux; set by aiobotocore's ``socket_factory`` connector argument) of half
``NBPROD_STORE_TIMEOUT`` closes a connection whose sent data stays
unacknowledged, or unsent behind a zero window, that long (the kernel checks
at its zero-window probes, so up to about twice that), which bounds a stalled
upload (measured: ~5 s for two attempts at ``NBPROD_STORE_TIMEOUT=2``) without
bounding a slow one.

``s3://`` and ``s3:///x`` name no bucket: a configuration error (exit 2), never
a store to try.
"""

from __future__ import annotations

import functools
import socket
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
    never answers fails after about ``timeout`` s (plus up to 1 s of backoff).

    And no listings cache (``use_listings_cache=False``): s3fs fills it from every
    ``find`` and answers later ``info``/``cat`` calls from it, so a key another process
    created after a listing looked missing (a model's newest event, a record just written)."""
    storage_options = {**storage_options, "use_listings_cache": storage_options.get("use_listings_cache", False)}
    half = max(timeout, 0.2) / 2  # 0 would mean "no timeout" to aiohttp
    config = dict(storage_options.pop("config_kwargs", {}))
    config.setdefault("connect_timeout", half)
    config.setdefault("read_timeout", half)
    config.setdefault("retries", {"total_max_attempts": 2, "mode": "standard"})
    if hasattr(socket, "TCP_USER_TIMEOUT"):
        config.setdefault("connector_args", {"socket_factory": functools.partial(_socket, int(half * 1000))})
    return {**storage_options, "config_kwargs": config}


def _socket(user_timeout_ms: int, addr_info) -> socket.socket:
    """aiohttp's connection socket, which gives up on a send that makes no progress."""
    family, type_, proto, _, _ = addr_info
    sock = socket.socket(family=family, type=type_, proto=proto)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, user_timeout_ms)
    return sock


def no_expect_continue(fs) -> None:
    """Drop ``Expect: 100-continue`` from every request of ``fs``'s client (once per
    client: s3fs creates it lazily, and again in a process that unpickled ``fs``)."""
    client = fs.s3
    if not getattr(client, "_nbprod_no_expect", False):
        client.meta.events.register_last("before-call.s3", _drop_expect, unique_id="nbprod-no-expect-continue")
        client._nbprod_no_expect = True


def _drop_expect(params, **kwargs) -> None:
    params.get("headers", {}).pop("Expect", None)


def no_s3fs_retries(fs) -> None:
    """s3fs retries timeouts itself (``S3FileSystem.retries``, 5) on top of botocore's
    attempts; botocore's are the ones bounded, so s3fs tries once."""
    proto = fs.protocol
    if "s3" in ((proto,) if isinstance(proto, str) else tuple(proto)):
        fs.retries = 1
