"""Text and JSON views of runs for the terminal (``nbprod runs ...``).

Also the selection behind ``nbprod runs ls``'s filters (``select_runs``) and
``--sort`` (``sort_runs``): they work on run *summaries* only, the small
objects the store lists in a few requests, so filtering a thousand runs never
reads a thousand records.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

from .records import TASK_FAILED, TASK_INTERRUPTED, TASK_SUCCEEDED, RunRecord, parse_time

MAX_METRICS_IN_TABLE = 3
# `runs ls --task NAME`: runs in which NAME was executed (whatever its outcome).
# Not skipped (up to date), fetched (downloaded from the store), aborted or not_run.
TASK_RAN = (TASK_SUCCEEDED, TASK_FAILED, TASK_INTERRUPTED)


def runs_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, indent=2, sort_keys=True)


def record_json(record: RunRecord) -> str:
    return json.dumps(record.to_dict(), indent=2, sort_keys=True, default=str)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _short_time(text: str | None) -> str:
    return (text or "")[:19].replace("T", " ")


def runs_table(rows: list[dict[str, Any]], headline: list[str] | tuple[str, ...] = (), *,
               empty: str | None = None) -> str:
    """One line per run. ``headline`` metrics (from nbprod.yaml) get a column each;
    the ``metrics`` column shows up to three of the others."""
    from tabulate import tabulate

    if not rows:
        return empty or "no runs recorded yet (run `ploomber build` or `nbprod build`)"
    headline = list(headline)
    table = []
    for row in rows:
        tasks = row.get("tasks") or {}
        ran = sum(1 for s in tasks.values() if s == "succeeded")
        commit = (row.get("commit") or "-")[:8] + ("*" if row.get("dirty") else "")
        metrics = row.get("metrics") or {}
        others = [(k, v) for k, v in metrics.items() if k not in headline]
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in others[:MAX_METRICS_IN_TABLE])
        table.append(
            [
                row["run_id"],
                _short_time(row.get("started_at")),
                row.get("status"),
                f"{row['duration_s']:.1f}s" if row.get("duration_s") is not None else "-",
                f"{ran}/{len(tasks)}",
                commit,
                *[_fmt(metrics[name]) if name in metrics else "-" for name in headline],
                shown or "-",
            ]
        )
    headers = ["run", "started (UTC)", "status", "time", "ran", "commit", *headline,
               "other metrics" if headline else "metrics"]
    return tabulate(table, headers=headers, tablefmt="simple", disable_numparse=True)


# -- runs ls: filters and sorting (summaries only) -------------------------------------


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``--since``: an ISO date or date-time (UTC unless it says otherwise), or an age
    such as ``30m``, ``12h``, ``7d``, ``2w`` counted back from ``now``."""
    from .exceptions import ConfigError

    text = text.strip()
    try:
        moment = parse_time(text)
    except ValueError:
        moment = None
    if moment is not None:
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    from .maintenance import parse_duration

    try:
        if not re.fullmatch(r"\d+(\.\d+)?\s*[smhdw]", text.lower()):  # "2026" is a year, not seconds
            raise ConfigError(text)
        seconds = parse_duration(text)
    except ConfigError:
        raise ConfigError(
            f"--since {text!r} is neither a date nor a duration",
            hint="use e.g. 2026-11-01, 2026-11-01T14:30, 30m, 12h, 7d or 2w",
        ) from None
    from datetime import timedelta

    return (now or datetime.now(timezone.utc)) - timedelta(seconds=seconds)


def parse_param(text: str) -> tuple[str, Any, str]:
    """``--param KEY=VALUE`` -> (key, value parsed as YAML, raw text).

    YAML so that ``seed=42`` is the int 42, ``C=0.01`` a float and
    ``years=[2008]`` a list, the way ploomber's env values reach the notebooks.
    """
    from .exceptions import ConfigError

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


def _equal(recorded: Any, wanted: Any) -> bool:
    """Parameter equality as a user means it: 1 == 1.0, but True is not 1."""
    if isinstance(recorded, bool) or isinstance(wanted, bool):
        return isinstance(recorded, bool) and isinstance(wanted, bool) and recorded == wanted
    if isinstance(recorded, (int, float)) and isinstance(wanted, (int, float)):
        return recorded == wanted
    if isinstance(recorded, (list, tuple)) and isinstance(wanted, (list, tuple)):
        return len(recorded) == len(wanted) and all(_equal(a, b) for a, b in zip(recorded, wanted))
    if isinstance(recorded, dict) and isinstance(wanted, dict):
        return recorded.keys() == wanted.keys() and all(_equal(recorded[k], wanted[k]) for k in recorded)
    return recorded == wanted


def _param_matches(row: dict[str, Any], key: str, value: Any, raw: str) -> bool:
    params = row.get("params")
    if not isinstance(params, dict) or key not in params:  # summaries before params were recorded: no match
        return False
    recorded = params[key]
    return _equal(recorded, value) or (isinstance(recorded, str) and recorded == raw)


def select_runs(
    rows: list[dict[str, Any]],
    *,
    statuses: list[str] | tuple[str, ...] = (),
    since: datetime | None = None,
    params: list[tuple[str, Any, str]] | tuple = (),
    task: str | None = None,
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


def record_text(record: RunRecord, store=None) -> str:
    from tabulate import tabulate

    git = record.git or {}
    commit = git.get("commit") or "(not a git repository)"
    if git.get("dirty"):
        commit += f" (dirty, diff sha256 {str(git.get('diff_sha256'))[:12]})"
    lines = [
        f"run       {record.run_id}",
        f"status    {record.status}" + (f" (by {record.interrupted_by})" if record.interrupted_by else ""),
        f"started   {record.started_at}   ended {record.ended_at}   ({_fmt(record.duration_s)} s)",
        f"who       {record.user}@{record.host}",
        f"project   {record.project.get('root')}",
        f"commit    {commit}" + (f"  [{git.get('branch')}]" if git.get("branch") else ""),
        f"python    {record.python.get('version')}   ({len(record.packages)} packages recorded)",
        f"command   {' '.join(record.command)}",
    ]
    if record.error:
        lines.append(f"error     {record.error.sentence()}")
    lines.append("")
    rows = [
        [
            t.name,
            t.status,
            _fmt(t.duration_s) if t.duration_s is not None else "-",
            ", ".join(f"{k}={_fmt(v)}" for k, v in t.params.items()) or "-",
        ]
        for t in record.tasks
    ]
    lines.append(tabulate(rows, headers=["task", "status", "seconds", "params"], tablefmt="simple"))
    metrics = record.metrics()
    if metrics:
        lines += ["", "metrics"]
        lines += [f"  {k:<24} {_fmt(v)}" for k, v in metrics.items()]
    if record.inputs:
        lines += ["", "inputs"]
        lines += [f"  {i.get('name'):<24} sha256 {str(i.get('sha256'))[:16]}  ({i.get('declared_by')})" for i in record.inputs]
    products = [(t.name, p) for t in record.tasks for p in t.products]
    if products:
        lines += ["", "products"]
        for task, p in products:
            flag = "  (partial)" if p.get("partial") else ""
            lines.append(f"  {task}:{p['name']:<14} {p['path']}  {p['size']} B  sha256 {p['sha256'][:16]}{flag}")
    notebooks = [(t.name, t.notebook) for t in record.tasks if t.notebook]
    if notebooks:
        where = f" (in {store.url})" if store is not None else ""
        lines += ["", f"executed notebooks{where}"]
        lines += [f"  {name:<12} {nb['key']}" for name, nb in notebooks]
    if record.error and record.error.traceback:
        lines += ["", f"traceback of {record.error.task} (excerpt)", record.error.traceback]
    return "\n".join(lines)
