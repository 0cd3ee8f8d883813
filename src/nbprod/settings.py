"""Settings from the environment (12-factor: config lives in the environment).

Nothing is read at import time: :func:`Settings.from_env` reads ``os.environ``
when called, so tests and long-lived processes see the current values.

=================  ==========================================  ===============
variable           meaning                                     default
=================  ==========================================  ===============
NBPROD_STORE       store URL: a folder, ``file://``,            ``outputs/store`` beside
                   ``memory://`` or ``s3://bucket/prefix``      the project's pipeline.yaml
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
NBPROD_CELL_       seconds one notebook cell may run before its  none (``--smoke``:
TIMEOUT            task fails, the cell named; ``0``: none       ``300``)
NBPROD_BUILD_      seconds a whole build may run before it is    none (``--smoke``:
TIMEOUT            stopped and recorded as interrupted           ``1800``)
=================  ==========================================  ===============

The default store belongs to the project, not to the current folder: it is
``outputs/store`` beside the ``pipeline.yaml`` of the build (the project root
the engine found), or for other commands beside the nearest ``pipeline.yaml``
in the current folder or above it (``ENTRY_POINT``, ploomber's variable, wins
when it names a file); only without any, ``outputs/store`` of the current
folder.

Credentials are never settings of nbprod: S3 access uses the standard AWS
variables and profiles, read by botocore itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .errors import ConfigError

DEFAULT_STORE = "outputs/store"
SMOKE_CELL_TIMEOUT = 300.0  # seconds, `nbprod build --smoke` without NBPROD_CELL_TIMEOUT
SMOKE_BUILD_TIMEOUT = 1800.0
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
    cell_timeout: float | None = None  # None: not set (a smoke build has its own default); 0: none
    build_timeout: float | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, root: str | os.PathLike | None = None
                 ) -> "Settings":
        """The settings in ``environ`` (default ``os.environ``); ``root``: the project's
        folder when the caller knows it (a build does), else it is looked for."""
        env = os.environ if environ is None else environ
        store = env.get("NBPROD_STORE", "").strip() or default_store(env, root)
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
            cell_timeout=_number(env, "NBPROD_CELL_TIMEOUT", None),
            build_timeout=_number(env, "NBPROD_BUILD_TIMEOUT", None),
        )

    def timeouts(self, *, smoke: bool = False) -> tuple[float | None, float | None]:
        """(cell, build) seconds, None for no limit: the variables, else a smoke build's
        defaults (a smoke run must end, whatever a notebook does)."""
        def pick(value: float | None, smoke_default: float) -> float | None:
            value = smoke_default if value is None and smoke else value
            return value or None

        return pick(self.cell_timeout, SMOKE_CELL_TIMEOUT), pick(self.build_timeout, SMOKE_BUILD_TIMEOUT)


def default_store(env: Mapping[str, str], root: str | os.PathLike | None = None) -> str:
    """``outputs/store`` of the project (see the module docstring), relative to the current
    folder when that is the project."""
    folder = Path(root) if root is not None else project_folder(env)
    if folder is None:
        return DEFAULT_STORE
    try:
        if folder.resolve() == Path.cwd().resolve():
            return DEFAULT_STORE
    except OSError:
        pass
    return str(folder / DEFAULT_STORE)


def project_folder(env: Mapping[str, str], start: str | os.PathLike | None = None) -> Path | None:
    """The folder of the project's pipeline.yaml: ``ENTRY_POINT`` when it names a file, else
    the nearest folder holding a pipeline.yaml from ``start`` (the current folder) up."""
    entry = env.get("ENTRY_POINT", "").strip()
    if entry and Path(entry).is_file():
        return Path(entry).resolve().parent
    try:
        here = Path(start or os.getcwd()).resolve()
    except OSError:
        return None
    for folder in (here, *here.parents):
        if (folder / "pipeline.yaml").is_file():
            return folder
    return None


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


def _number(env: Mapping[str, str], name: str, default: float | None) -> float | None:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0 or number == float("inf"):
        raise ConfigError(
            f"{name}={value!r} is not a non-negative number (seconds)",
            hint=f"set {name} to e.g. {default if default is not None else 600:g}",
        )
    return number
