"""Backend failures as nbprod's store errors: one line naming the store, the endpoint and the fix.

Like s3fs's ``errors.py``: whatever botocore, aiohttp or the OS raised becomes a
:class:`~nbprod.errors.StoreError` (a :class:`~nbprod.errors.StoreUnreachableError`
for an endpoint that does not answer, after which a run is spooled), with the
original as ``__cause__``. botocore's exceptions are matched by class name, so
nothing here imports botocore. Messages name the bucket, endpoint and variables,
never a credential value.

An unreachable endpoint's message says how long the operation really waited
(``elapsed``, measured by the backend from the operation's start), not the
configured bound: the two differ by botocore's backoff, and by more when the
bound is not what was waited for. A full disk (ENOSPC, EDQUOT, EFBIG) names the
folder to free space in.
"""

from __future__ import annotations

import errno

from ..errors import StoreError, StoreUnreachableError

# botocore's connection failures (matched by name: callers never import botocore)
_UNREACHABLE = {
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ConnectionClosedError",
    "ProxyConnectionError",
    "ClientConnectorError",
    "ServerDisconnectedError",
}


_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def translate(err: BaseException, action: str, *, url: str, endpoint: str | None, bucket: str | None,
              timeout: float, elapsed: float | None = None) -> StoreError:
    """The StoreError for ``err``, raised while ``action`` (``"reading runs/x"``), after
    ``elapsed`` seconds (None: unknown, the configured ``timeout`` is named instead)."""
    names = {type(e).__name__ for e in _chain(err)}
    if names & _UNREACHABLE or isinstance(err, (TimeoutError, ConnectionError)):
        waited = f"gave up after {elapsed:.1f} s" if elapsed is not None else f"timeout {timeout:g} s"
        return StoreUnreachableError(
            f"cannot reach the store {url} at {endpoint or 'its backend'} "
            f"while {action} ({waited})",
            hint="check AWS_ENDPOINT_URL / network, or raise NBPROD_STORE_TIMEOUT",
            url=url,
            endpoint=endpoint,
        )
    if "NoCredentialsError" in names or "PartialCredentialsError" in names:
        return StoreError(
            f"no AWS credentials found for store {url}",
            hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE",
            url=url,
        )
    if isinstance(err, PermissionError):
        return StoreError(
            f"access denied to bucket {bucket or url} at {endpoint or url} "
            f"while {action}",
            hint="check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_PROFILE and the bucket policy",
            url=url,
        ) if bucket else StoreError(
            f"permission denied while {action} in store {url}",
            hint="check the folder's permissions",
            url=url,
        )
    full = next((e for e in _chain(err) if isinstance(e, OSError) and e.errno in _FULL), None)
    if full is not None and not bucket:
        return StoreError(
            f"no space left in store {url} while {action} ({errno.errorcode[full.errno]}: {full.strerror})",
            hint=f"free space on the disk holding {url} (nothing half-written was kept)",
            url=url,
        )
    if isinstance(err, FileNotFoundError):
        return StoreError(
            f"{action}: not found in store {url}", url=url
        )
    return StoreError(
        f"store {url} failed while {action}: {type(err).__name__}: "
        f"{' '.join(str(err).split())[:300]}",
        hint="check NBPROD_STORE and that the store is reachable",
        url=url,
    )


def _chain(err: BaseException):
    seen = 0
    while err is not None and seen < 20:
        yield err
        err = err.__cause__ or err.__context__
        seen += 1
