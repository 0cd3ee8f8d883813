"""Text and JSON views of runs for the terminal (``nbprod runs ...``)."""

from __future__ import annotations

import json
from typing import Any

from ..schema import RunRecord

MAX_METRICS_IN_TABLE = 3


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
