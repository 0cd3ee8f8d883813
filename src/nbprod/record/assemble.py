"""One run record from the parts its tasks left (``nbprod task --assemble``).

Why a step of its own: under an orchestrator each task of a run is a separate ``nbprod task``
process, retried on its own; only when all of them are done (whatever their fate: Airflow's
``trigger_rule="all_done"``) can the run be judged. The rules, so a record is never silently
wrong:

- each task of the pipeline appears once, in the pipeline's order, as its LAST attempt says,
  with every attempt listed (``attempts``: number, status, times, host, error);
- an attempt that started and never recorded its end was killed (SIGKILL, OOM, a lost
  worker): the task is ``interrupted`` with an error saying so, unless a later attempt
  recorded;
- a task with no attempt at all never ran (an upstream task failed): ``not_run``; one refused
  before running (its upstream products not up to date in the store) is ``failed``, saying so;
- the run succeeded only if every task succeeded (or was up to date); a failed, killed or
  never-run task makes it failed; its error is the first failed task's, with the cell;
- the run-level provenance (commit, packages, Python, project files) is the first recorded
  attempt's; when the tasks' last attempts ran other commits, or a dirty tree, ``git`` says
  ``consistent: false`` with each task's commit (a folder per worker can drift; ``--clone``
  pins one commit); inputs are the union of all attempts'.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .. import schema
from ..schema import ErrorInfo, RunRecord, TaskRecord
from ..store.parts import Attempt, Parts

OK = (schema.TASK_SUCCEEDED, schema.TASK_SKIPPED, schema.TASK_FETCHED)


def assemble(parts: Parts, plan: list[dict[str, Any]], *, orchestrator: dict[str, Any] | None) -> RunRecord:
    """The record of run ``parts.run_id``: ``plan`` is the pipeline's tasks in order
    (``{name, kind, source, upstream}``); tasks found only in ``parts`` come after them."""
    from ..errors import RunNotFoundError

    recorded = [a.record for attempts in parts.tasks.values() for a in attempts if a.record is not None]
    if not parts.tasks:
        raise RunNotFoundError(f"run {parts.run_id} has no task attempt in the store: nothing to assemble",
                               hint="run its tasks first (`nbprod task NAME --run-id ...`), in this store",
                               ref=parts.run_id)
    known = {step["name"] for step in plan}
    plan = [*plan, *({"name": name} for name in parts.tasks if name not in known)]
    tasks = [_task(step, parts.tasks.get(step["name"], [])) for step in plan]
    base = min(recorded, key=lambda r: r.started_at) if recorded else None
    starts = [t for t in (_started(a) for attempts in parts.tasks.values() for a in attempts) if t]
    ends = [r.ended_at for r in recorded if r.ended_at]
    started, ended = min(starts), max(ends, default=None)
    failed = [t for t in tasks if t.status not in OK]
    status = schema.SUCCEEDED if not failed else schema.FAILED
    if failed and all(t.status == schema.TASK_INTERRUPTED for t in failed):
        status = schema.INTERRUPTED
    first = next((t for t in tasks if t.error is not None), None)
    fields: dict[str, Any] = {}
    if base is not None:
        fields = {name: getattr(base, name) for name in ("nbprod_version", "command", "user", "host", "project",
                                                          "git", "python", "packages", "metrics_spec", "tags",
                                                          "note", "uncommitted")}
    if base is not None:
        fields["git"] = _git(base, [(name, attempts[-1].record) for name, attempts in parts.tasks.items()
                                    if attempts[-1].record is not None])
    return RunRecord(
        run_id=parts.run_id, status=status, started_at=started, ended_at=ended,
        duration_s=_seconds(started, ended), tasks=tasks, error=first.error if first else None,
        inputs=_inputs(recorded), orchestrator=orchestrator or (base.orchestrator if base else None),
        **fields,
    )


def _task(step: dict[str, Any], attempts: list[Attempt]) -> TaskRecord:
    history = [_attempt(a) for a in attempts]
    last = attempts[-1] if attempts else None
    if last is not None and last.record is not None:
        mine = [t for t in last.record.tasks if t.name == step["name"]]
        if mine:
            error = mine[0].error or (last.record.error if mine[0].status not in OK else None)
            return dataclasses.replace(mine[0], attempts=history, error=error)
    plain = {"name": step["name"], "kind": step.get("kind") or "other", "source": step.get("source"),
             "upstream": list(step.get("upstream") or []), "attempts": history}
    if last is None:
        return TaskRecord(status=schema.TASK_NOT_RUN, **plain)
    if last.refused is not None:
        return TaskRecord(status=schema.TASK_FAILED, **plain,
                          error=ErrorInfo(task=step["name"], ename="UpstreamNotInStore",
                                          evalue=str(last.refused.get("message") or "refused before it ran")))
    started = _started(last)
    host = (last.started or {}).get("host")
    return TaskRecord(
        status=schema.TASK_INTERRUPTED, started_at=started, **plain,
        error=ErrorInfo(task=step["name"], ename="AttemptLost",
                        evalue=f"attempt {last.attempt} started{f' on {host}' if host else ''} at {started} and "
                               "never recorded its end (killed: SIGKILL, out of memory, a lost worker; or its "
                               "record could not be stored)"),
    )


def _git(base: RunRecord, last: list[tuple[str, RunRecord]]) -> dict[str, Any] | None:
    """The first attempt's commit; when the tasks' last attempts ran other commits or other
    uncommitted changes (the patch's hash), the run says so (``consistent: false`` and each task's ``{commit, dirty}``) instead of claiming one."""
    seen = {name: {"commit": (r.git or {}).get("commit"), "dirty": (r.git or {}).get("dirty"),
                   "patch": ((r.uncommitted or {}).get("patch") or {}).get("sha256")} for name, r in last}
    if len({tuple(v.values()) for v in seen.values()}) <= 1:
        return base.git
    return {**(base.git or {}), "consistent": False, "tasks": seen}


def _attempt(attempt: Attempt) -> dict[str, Any]:
    started = attempt.started or {}
    found: dict[str, Any] = {"attempt": attempt.attempt, "started_at": _started(attempt), "host": started.get("host")}
    record = attempt.record
    task = record.tasks[0] if record is not None and record.tasks else None
    if attempt.refused is not None:
        return {**found, "status": schema.TASK_FAILED, "ended_at": None, "duration_s": None,
                "error": attempt.refused.get("message")}
    if record is None:
        return {**found, "status": schema.TASK_INTERRUPTED, "ended_at": None, "duration_s": None,
                "error": "never recorded its end (killed)"}
    return {**found, "host": found["host"] or record.host,
            "status": task.status if task else record.status, "ended_at": record.ended_at,
            "duration_s": task.duration_s if task else record.duration_s,
            "error": record.error.sentence() if record.error else None}


def _started(attempt: Attempt) -> str | None:
    if attempt.started and attempt.started.get("started_at"):
        return attempt.started["started_at"]
    return attempt.record.started_at if attempt.record is not None else None


def _inputs(recorded: list[RunRecord]) -> list[dict[str, Any]]:
    seen: dict[tuple, dict[str, Any]] = {}
    for record in sorted(recorded, key=lambda r: r.started_at):
        for item in record.inputs:
            seen.setdefault((item.get("name"), item.get("path"), item.get("sha256")), item)
    return list(seen.values())


def _seconds(started: str | None, ended: str | None) -> float | None:
    if not started or not ended:
        return None
    try:
        return round((schema.parse_time(ended) - schema.parse_time(started)).total_seconds(), 3)
    except (TypeError, ValueError):
        return None
