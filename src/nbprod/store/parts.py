"""One task's attempts within a run, kept apart from the run's record until it is assembled.

Why: an orchestrator (Airflow, or anyone calling ``nbprod task NAME``) runs each task of a
run in its own process, often on its own machine, and retries it; the run's record, written
once (:meth:`~nbprod.store.index.RunIndex.write_record`), can only be assembled when every
task has had its say. Until then each attempt leaves, under ``parts/<run_id>/<task>/``:

- ``<attempt>.started.json`` when it starts (host, time): an attempt killed outright
  (SIGKILL, a lost worker) leaves only this, so the run still shows that it happened;
- ``<attempt>.refused.json`` when it was refused before running (an upstream task's products
  not up to date in the store), with the one-line reason;
- ``<attempt>.record.json`` when it ends: the record of a one-task build (status, timings,
  scraps, products, error with its cell), its blobs stored before it, as for any run.

Both are created, never replaced (a second writer of the same attempt is refused), so what
an attempt said cannot change after the fact. ``runs ls`` does not list parts; the
assembled record (:mod:`nbprod.record.assemble`) is an ordinary run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import RecordExistsError, StoreError
from ..schema import RunRecord
from .backend import safe_part
from .core import Store
from .index import check_run_id

PREFIX = "parts"
_NAME = re.compile(r"^(?P<attempt>\d+)\.(?P<what>started|refused|record)\.json$")


@dataclass
class Attempt:
    """What one attempt of a task left: its start, and its record unless it was killed."""

    attempt: int
    started: dict[str, Any] | None = None
    record: RunRecord | None = None
    refused: dict[str, Any] | None = None  # refused before running ({message}): an upstream was missing


@dataclass
class Parts:
    """Every attempt of every task of one run (task name -> attempts, oldest first)."""

    run_id: str
    tasks: dict[str, list[Attempt]] = field(default_factory=dict)


def key(run_id: str, task: str, attempt: int, what: str) -> str:
    check_run_id(run_id)
    return f"{PREFIX}/{run_id}/{safe_part(task)}/{int(attempt):04d}.{what}.json"


def write_started(store: Store, run_id: str, task: str, attempt: int, info: dict[str, Any]) -> None:
    """Say that attempt ``attempt`` of ``task`` started (refused if that attempt started already:
    two processes were given the same attempt number)."""
    _create(store, key(run_id, task, attempt, "started"), {"task": task, "attempt": attempt, **info},
            f"attempt {attempt} of task {task!r} in run {run_id} has started already")


def write_refused(store: Store, run_id: str, task: str, attempt: int, info: dict[str, Any]) -> None:
    """Say that attempt ``attempt`` of ``task`` was refused before it ran (``info``: message...)."""
    _create(store, key(run_id, task, attempt, "refused"), {"task": task, "attempt": attempt, **info},
            f"attempt {attempt} of task {task!r} in run {run_id} was refused already")


def write_record(store: Store, record: RunRecord, task: str, attempt: int) -> str:
    """Keep the record of one attempt (its blobs already stored); its key."""
    where = key(record.run_id, task, attempt, "record")
    _create(store, where, record.to_dict(), f"attempt {attempt} of task {task!r} in run {record.run_id} "
                                           "is recorded already")
    return where


def read(store: Store, run_id: str) -> Parts:
    """Every attempt recorded for ``run_id`` (none: empty ``tasks``)."""
    from urllib.parse import unquote

    check_run_id(run_id)
    found = Parts(run_id)
    with store._errors(f"reading the parts of run {run_id}"):
        rows = store.list_keys(f"{PREFIX}/{run_id}")
    attempts: dict[tuple[str, int], Attempt] = {}
    for row in sorted(rows, key=lambda r: r["key"]):
        *_, task_part, name = row["key"].split("/")
        match = _NAME.match(name)
        if match is None:
            continue
        task, number = unquote(task_part), int(match["attempt"])
        attempt = attempts.setdefault((task, number), Attempt(number))
        data = store.read_key(row["key"])
        try:
            payload = json.loads(data)
            if match["what"] == "started":
                attempt.started = payload
            elif match["what"] == "refused":
                attempt.refused = payload
            else:
                attempt.record = RunRecord.from_dict(payload)
        except (ValueError, TypeError, AttributeError) as err:
            raise StoreError(f"{row['key']} in store {store.url} is corrupt ({type(err).__name__}: {err})",
                             hint="delete it: that attempt then counts as never recorded", url=store.url) from None
    for (task, _), attempt in sorted(attempts.items(), key=lambda kv: kv[0]):
        found.tasks.setdefault(task, []).append(attempt)
    return found


def _create(store: Store, where: str, payload: dict[str, Any], refused: str) -> None:
    data = json.dumps(payload, indent=1, sort_keys=True, default=str).encode("utf-8")
    with store._errors(f"writing {where}"):
        store._ensure_layout()
    created = store.create_key(where, data)
    if not created and store.read_key(where) != data:
        raise RecordExistsError(f"{refused}; not overwritten", hint="give each attempt its own number (--attempt)",
                                url=store.url, key=where)
