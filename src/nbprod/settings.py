"""Settings from the environment (12-factor: config lives in the environment).

Nothing is read at import time: :func:`Settings.from_env` reads ``os.environ``
when called, so tests and long-lived processes see the current values.

=================  ==========================================  ===============
variable           meaning                                     default
=================  ==========================================  ===============
NBPROD_STORE       store URL: a folder, ``file://``,            ``outputs/store``
                   ``memory://`` or ``s3://bucket/prefix``
NBPROD_DEBUG       ``1`` shows tracebacks for nbprod's errors   off
NBPROD_INLINE_MAX  largest scrap (JSON bytes) kept inline in    ``4096``
                   the run record; larger ones become artifacts
NBPROD_STORE_      seconds to wait for an S3 endpoint to         ``5``
TIMEOUT            connect before the store counts as down
NBPROD_SPOOL       folder keeping runs the store could not      ``~/.cache/nbprod/spool``
                   take, until ``nbprod push``
NBPROD_CACHE       folder of products downloaded by             ``~/.cache/nbprod/objects``
                   ``nbprod.run(...).product()``, by sha256
NBPROD_LOCK_       seconds a build waits for another build of    ``0``
TIMEOUT            the same project to finish before exiting 2
NBPROD_REQUIRE_    ``1``: a build whose record could only be     off
STORE              spooled locally exits 3 (CI runners, pods)
NBPROD_MAX_        largest part of one cell output kept in a     ``10``
OUTPUT_MB          stored notebook (MB); the rest is cut, marked
=================  ==========================================  ===============

Credentials are never settings of nbprod: S3 access uses the standard AWS
variables and profiles, read by botocore itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from .errors import ConfigError

DEFAULT_STORE = "outputs/store"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    store: str = DEFAULT_STORE
    debug: bool = False
    inline_max: int = 4096
    store_timeout: float = 5.0
    spool: str = ""
    cache: str = ""
    lock_timeout: float = 0.0
    require_store: bool = False
    max_output_mb: float = 10.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        store = env.get("NBPROD_STORE", "").strip() or DEFAULT_STORE
        return cls(
            store=store,
            debug=_flag(env, "NBPROD_DEBUG"),
            inline_max=_int(env, "NBPROD_INLINE_MAX", 4096),
            store_timeout=float(_int(env, "NBPROD_STORE_TIMEOUT", 5)),
            spool=env.get("NBPROD_SPOOL", "").strip() or _cache_dir(env, "spool"),
            cache=env.get("NBPROD_CACHE", "").strip() or _cache_dir(env, "objects"),
            lock_timeout=_number(env, "NBPROD_LOCK_TIMEOUT", 0.0),
            require_store=_flag(env, "NBPROD_REQUIRE_STORE"),
            max_output_mb=_number(env, "NBPROD_MAX_OUTPUT_MB", 10.0),
        )


def _cache_dir(env: Mapping[str, str], name: str) -> str:
    home = env.get("HOME") or os.path.expanduser("~")
    cache = env.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
    return os.path.join(cache, "nbprod", name)


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean", hint=f"set {name} to 1 or 0")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise ConfigError(
            f"{name}={value!r} is not a non-negative integer", hint=f"set {name} to e.g. {default}"
        )
    return number


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0 or number == float("inf"):
        raise ConfigError(
            f"{name}={value!r} is not a non-negative number", hint=f"set {name} to e.g. {default:g}"
        )
    return number
