"""Backend failures as nbprod's store errors: one line naming the store, the endpoint and the fix.

Like s3fs's ``errors.py``: whatever botocore, aiohttp or the OS raised becomes a
:class:`~nbprod.errors.StoreError` (a :class:`~nbprod.errors.StoreUnreachableError`
for an endpoint that does not answer, after which a run is spooled), with the
original as ``__cause__``. botocore's exceptions are matched by class name, so
nothing here imports botocore. Messages name the bucket, endpoint and variables,
never a credential value.
"""

from __future__ import annotations

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


def translate(err: BaseException, action: str, *, url: str, endpoint: str | None, bucket: str | None,
              timeout: float) -> StoreError:
    """The StoreError for ``err``, raised while ``action`` (``"reading runs/x"``)."""
    names = {type(e).__name__ for e in _chain(err)}
    if names & _UNREACHABLE or isinstance(err, (TimeoutError, ConnectionError)):
        return StoreUnreachableError(
            f"cannot reach the store {url} at {endpoint or 'its backend'} "
            f"while {action} (gave up after ~{timeout:g} s)",
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
