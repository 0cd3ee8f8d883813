"""One build at a time per project: a lock on the project's outputs.

Why: two builds in one folder write the same product files, so each run's
record can describe the other's model (seen: the run recorded as ``C=0.5``
held the ``C=2.0`` model). A build therefore holds an OS file lock
(:mod:`filelock`, ``flock`` on POSIX) from the moment its DAG renders until its
run is recorded. A second build waits up to ``NBPROD_LOCK_TIMEOUT`` seconds
(default 0) and then stops with :class:`~nbprod.errors.BuildLockedError`
(exit 2), naming the holder's pid, host, run id and start time.

A holder that dies (SIGKILL, OOM killer, a preempted VM) releases an OS lock
with its process, so its lock is taken over by the next build; the holder's
description it left behind says so in one line.

Where: ``<project root>/.nbprod/build.lock``, with the holder described in
``build.lock.json`` beside it (the lock file itself is truncated by every
acquirer). ``.nbprod/`` holds a ``.gitignore`` of ``*``, so a project's git
tree does not look dirty because of it.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import BuildLockedError
from ..files import atomic_write

STATE_DIR = ".nbprod"


def state_dir(root: Path) -> Path:
    """``<root>/.nbprod``, created with a .gitignore that ignores all of it."""
    folder = Path(root) / STATE_DIR
    ignore = folder / ".gitignore"
    if not ignore.exists():
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(ignore, b"# nbprod's local state (build lock, what each task last ran on)\n*\n")
    return folder


@dataclass
class BuildLock:
    """The held lock of one build; :meth:`release` (idempotent) lets the next one in."""

    path: Path
    _lock: object | None = None

    @property
    def holder_file(self) -> Path:
        return self.path.with_name(self.path.name + ".json")

    def release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is None:
            return
        try:
            if _holder(self.holder_file).get("pid") == os.getpid():
                self.holder_file.unlink()
        except OSError:
            pass
        lock.release()


def acquire(root: Path, *, run_id: str, started: str, timeout: float,
            say: Callable[[str], None] = print) -> BuildLock:
    """Take the project's build lock, waiting up to ``timeout`` seconds."""
    from filelock import FileLock, Timeout

    path = state_dir(root) / "build.lock"
    lock = FileLock(str(path), timeout=timeout, thread_local=False)
    held = BuildLock(path)
    try:
        lock.acquire()
    except Timeout:
        raise BuildLockedError(_describe(_holder(held.holder_file), path), lock=str(path)) from None
    held._lock = lock
    previous = _holder(held.holder_file)
    if previous and previous.get("pid") != os.getpid():  # its owner died without releasing
        say(f"nbprod: took over the build lock of a build that is gone ({_who(previous)})")
    info = {"pid": os.getpid(), "host": socket.gethostname(), "run_id": run_id, "started_at": started}
    atomic_write(held.holder_file, json.dumps(info, sort_keys=True).encode())
    return held


def _holder(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _who(info: dict) -> str:
    return (f"pid {info.get('pid', '?')} on {info.get('host', '?')}, run {info.get('run_id', '?')}, "
            f"started {info.get('started_at', '?')}")


def _describe(info: dict, path: Path) -> str:
    if not info:
        return f"another build of this project holds {path}"
    return f"another build of this project is running ({_who(info)})"
