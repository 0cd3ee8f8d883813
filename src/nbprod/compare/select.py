"""Which runs: the filters and sorting behind ``nbprod runs ls`` and ``nbprod.runs()``.

They work on run *summaries* only, the small objects the store lists in a few
requests (summary packs), so filtering ten thousand runs never reads ten
thousand records. :func:`list_runs` is the one operation both the CLI and the
Python API call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Iterable

from ..errors import ConfigError, RunNotFoundError
from ..schema import RUN_STATUSES, TASK_FAILED, TASK_INTERRUPTED, TASK_SUCCEEDED, is_smoke, parse_time
from .metrics import MetricSpec, by_name, from_dicts

# `runs ls --task NAME`: runs in which NAME was executed (whatever its outcome).
# Not skipped (up to date), fetched (downloaded from the store), aborted or not_run.
TASK_RAN = (TASK_SUCCEEDED, TASK_FAILED, TASK_INTERRUPTED)


@dataclass(frozen=True)
class Listing:
    """Runs chosen by :func:`list_runs`: summaries newest first (or best first by
    ``sort``), and the metric declarations recorded by the newest run."""

    rows: tuple[dict[str, Any], ...]
    specs: tuple[MetricSpec, ...]
    filtered: bool
    smoke_hidden: int = 0  # smoke runs left out (among those read)

    @property
    def headline(self) -> list[str]:
        return [s.name for s in self.specs if s.headline]


def list_runs(store, *, statuses: Iterable[str] = (), since: datetime | str | None = None,
              params: Iterable[str] | dict[str, Any] = (), task: str | None = None,
              sort: str = "started", limit: int | None = 20, with_specs: bool = True,
              tags: Iterable[str] = (), smoke: bool = False) -> Listing:
    """Summaries of the runs passing every filter (filters combine: all must match).

    ``params``: ``KEY=VALUE`` texts (YAML-typed, as ``--param`` takes them) or a
    dict; ``since``: a datetime, an ISO date or an age (``7d``); ``sort``:
    ``started`` (newest first) or a metric name (best first by its declared goal,
    highest first when undeclared; runs without it last). ``limit`` None: all.
    ``tags``: runs holding every one of these tags (``nbprod build --tag``).
    ``smoke``: smoke runs (``nbprod build --smoke``) are listed too; without it they are
    not production history and are left out.
    """
    from ..durations import parse_since

    wanted = run_statuses(statuses)
    since_at = parse_since(since) if isinstance(since, str) else since
    if isinstance(since_at, date) and not isinstance(since_at, datetime):  # a day: from its start
        since_at = datetime(since_at.year, since_at.month, since_at.day)
    if since_at is not None and since_at.tzinfo is None:  # naive: UTC, like every time nbprod records
        since_at = since_at.replace(tzinfo=timezone.utc)
    if isinstance(params, dict):
        matches = [(str(k), v, str(v)) for k, v in params.items()]
    else:
        matches = [parse_param(p) for p in params]
    tags = [str(t) for t in tags]
    filtering = bool(wanted or since_at or matches or task or tags)
    by_metric = sort != "started"
    # filters and metric sorting need every summary (listed from packs: a few requests)
    rows = store.summaries(limit=None if (limit is None or filtering or by_metric) else limit)
    if not smoke and limit is not None and len(rows) == limit and any(is_smoke(r) for r in rows):
        rows = store.summaries(limit=None)  # the newest `limit` production runs lie further back
    hidden = 0 if smoke else sum(1 for r in rows if is_smoke(r))
    rows = [r for r in rows if smoke or not is_smoke(r)]
    specs = newest_specs(store, rows) if rows and (by_metric or with_specs) else []
    rows = select_runs(rows, statuses=wanted, since=since_at, params=matches, task=task, tags=tags)
    if by_metric and rows:
        rows = sort_runs(rows, sort, _goal(specs, sort, rows))
    if limit is not None:
        rows = rows[:limit]
    return Listing(rows=tuple(rows), specs=tuple(specs), filtered=filtering, smoke_hidden=hidden)


def run_statuses(given: Iterable[str]) -> list[str]:
    """``--status`` values (repeatable, or comma-separated), checked."""
    if isinstance(given, str):
        given = [given]
    wanted = [s.strip().lower() for item in given for s in str(item).split(",") if s.strip()]
    for status in wanted:
        if status not in RUN_STATUSES:
            raise ConfigError(f"--status {status!r} is not a run status", hint="use succeeded, failed or interrupted")
    return wanted


def newest_specs(store, rows) -> list[MetricSpec]:
    """The metric declarations recorded by the newest run: one record read, because
    summaries do not carry them. An unreadable record just means no headline columns."""
    try:
        return from_dicts(store.read_record(rows[0]["run_id"]).metrics_spec)
    except RunNotFoundError:
        return []


def _goal(specs, metric: str, rows) -> str:
    """Which way `--sort METRIC` ranks: the declared goal, else highest first."""
    if not any(metric in (row.get("metrics") or {}) for row in rows):
        known = sorted({name for row in rows for name in (row.get("metrics") or {})})
        raise ConfigError(
            f"--sort {metric!r}: no listed run has that metric",
            hint=f"use `started` or one of: {', '.join(known)}" if known else "use `started`",
        )
    spec = by_name(specs).get(metric)
    return spec.goal if spec else "max"


def parse_param(text: str) -> tuple[str, Any, str]:
    """``--param KEY=VALUE`` -> (key, value parsed as YAML, raw text).

    YAML so that ``seed=42`` is the int 42, ``C=0.01`` a float and
    ``years=[2008]`` a list, the way ploomber's env values reach the notebooks.
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--param {text!r} is not KEY=VALUE", hint="use e.g. --param seed=42 or --param years=[2008]")
    import yaml

    value: Any = raw
    number = raw.strip()
    # numbers first: YAML 1.1 reads 1e-3 as a string and 010 as 8
    if re.fullmatch(r"[+-]?\d+", number):
        return key.strip(), int(number, 10), raw
    if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", number):
        return key.strip(), float(number), raw
    try:
        value = yaml.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError:
        value = raw
    return key.strip(), value, raw


def equal(recorded: Any, wanted: Any) -> bool:
    """Parameter equality as a user means it: 1 == 1.0, but True is not 1."""
    if isinstance(recorded, bool) or isinstance(wanted, bool):
        return isinstance(recorded, bool) and isinstance(wanted, bool) and recorded == wanted
    if isinstance(recorded, (int, float)) and isinstance(wanted, (int, float)):
        return recorded == wanted
    if isinstance(recorded, (list, tuple)) and isinstance(wanted, (list, tuple)):
        return len(recorded) == len(wanted) and all(equal(a, b) for a, b in zip(recorded, wanted))
    if isinstance(recorded, dict) and isinstance(wanted, dict):
        return recorded.keys() == wanted.keys() and all(equal(recorded[k], wanted[k]) for k in recorded)
    return recorded == wanted


def _param_matches(row: dict[str, Any], key: str, value: Any, raw: str) -> bool:
    """``seed`` matches any task's parameter of that name (the first, as ``params`` holds it);
    ``train.C`` only that task's. Summaries recorded before per-task parameters were kept
    (no ``task_params``) match a dotted key by its plain name."""
    task, dot, name = key.partition(".")
    per_task = row.get("task_params")
    if dot and isinstance(per_task, dict):
        values = per_task.get(task)
        if not isinstance(values, dict) or name not in values:
            return False
        recorded = values[name]
    else:
        params = row.get("params")
        plain = name if dot else key
        if not isinstance(params, dict) or plain not in params:  # summaries before params were recorded
            return False
        recorded = params[plain]
    return equal(recorded, value) or (isinstance(recorded, str) and recorded == raw)


def select_runs(
    rows: list[dict[str, Any]],
    *,
    statuses: list[str] | tuple[str, ...] = (),
    since: datetime | None = None,
    params: list[tuple[str, Any, str]] | tuple = (),
    task: str | None = None,
    tags: list[str] | tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """The summaries passing every filter given (all of them: filters combine with AND)."""
    chosen = []
    for row in rows:
        if statuses and row.get("status") not in statuses:
            continue
        if since is not None:
            started = _started(row)
            if started is None or started < since:
                continue
        if any(not _param_matches(row, key, value, raw) for key, value, raw in params):
            continue
        if task is not None and (row.get("tasks") or {}).get(task) not in TASK_RAN:
            continue
        if tags and not set(tags) <= set(row.get("tags") or ()):
            continue
        chosen.append(row)
    return chosen


def _started(row: dict[str, Any]) -> datetime | None:
    try:
        moment = parse_time(row.get("started_at"))
    except (TypeError, ValueError):
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def sort_runs(rows: list[dict[str, Any]], metric: str, goal: str = "max") -> list[dict[str, Any]]:
    """Best first by ``metric`` (``goal`` max: highest first; min: lowest first);
    runs without the metric last; ties keep their order (newest first)."""
    def number(row):
        value = (row.get("metrics") or {}).get(metric)
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value else None

    have = [r for r in rows if number(r) is not None]
    lacking = [r for r in rows if number(r) is None]
    have.sort(key=number, reverse=goal != "min")  # stable: ties stay newest first
    return have + lacking


def differing_params(rows: Iterable[dict[str, Any]]) -> list[str]:
    """Parameter names (summaries' plain names) whose value is not the same in every row,
    absent counting as a value: the columns ``runs ls`` and the report index add, so
    runs told apart by their parameters show which. Sorted by name."""
    import json

    rows = list(rows)
    names = {name for row in rows for name in (row.get("params") or {})}

    def value(row: dict[str, Any], name: str) -> str:
        params = row.get("params") or {}
        return json.dumps(params[name], sort_keys=True, default=str) if name in params else "\0absent"

    return sorted(name for name in names if len({value(row, name) for row in rows}) > 1)


def ran(row: dict[str, Any]) -> int:
    """Tasks a run executed (succeeded, failed or interrupted in it): ``runs ls``'s ``ran``."""
    return sum(1 for status in (row.get("tasks") or {}).values() if status in TASK_RAN)

