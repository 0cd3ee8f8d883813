"""One task's attempt within a run (``nbprod task``), recorded as a part of that run.

Why apart from :mod:`nbprod.record.recorder`: the record is built the same way as any run's
(blobs first, then the record), but it is kept under ``parts/`` for the assembly
(:mod:`nbprod.record.assemble`), never listed and never spooled.
"""

from __future__ import annotations

from ..schema import RunRecord
from ..settings import Settings
from ..store import Store
from .recorder import build_record
from .session import Session
from .taskview import TaskView


def record_attempt(session: Session, views: list[TaskView], status: str, *, elapsed, traceback_text,
                   settings: Settings) -> tuple[RunRecord, str]:
    """One task's attempt within run ``session.run_id`` (``nbprod task``): the record of this
    build with only that task, kept as a part (:mod:`nbprod.store.parts`). Never spooled: an
    orchestrator's worker may be gone when the store is back, so a store error fails the
    attempt (and the orchestrator retries it)."""
    from dataclasses import replace

    from ..store import parts

    task = session.part["task"]
    store = Store.from_settings(settings)
    record = build_record(session, views, store, settings=settings, run_status=status,
                          elapsed=elapsed, traceback_text=traceback_text)
    # the upstream tasks were fetched from the store (or up to date here): their own parts say
    # how they ran; the build's status and error stay this attempt's (a failed fetch fails it)
    record = replace(record, tasks=[t for t in record.tasks if t.name == task],
                     orchestrator=session.part.get("orchestrator"))
    parts.write_record(store, record, task, session.part["attempt"])
    return record, f"{store.url} (attempt {session.part['attempt']} of task {task!r})"
