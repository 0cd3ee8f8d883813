"""Text and JSON views of runs for the terminal (``nbprod runs ...``).

Tables go through tabulate so their columns line up whatever the values' widths;
``runs ls`` adds a column per parameter that differs among the listed runs (runs of
one pipeline differ mostly by parameters, and that is what tells them apart) and
the command each was built with.
"""

from __future__ import annotations

import json
from typing import Any

from ..schema import RunRecord

MAX_METRICS_IN_TABLE = 3
MAX_CELL = 40  # characters of a parameter value or command shown in `runs ls`


def runs_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, indent=2, sort_keys=True)


def record_json(record: RunRecord) -> str:
    return json.dumps(record.to_dict(), indent=2, sort_keys=True, default=str)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _cell(text: str) -> str:
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _param_cell(params: dict[str, Any], name: str) -> str:
    if name not in params:
        return "-"
    value = params[name]
    return _cell(json.dumps(value, sort_keys=True, default=str) if isinstance(value, (dict, list)) else _fmt(value))


def _command(command: list[str] | None) -> str:
    import shlex

    return _cell(shlex.join(str(a) for a in command)) if command else "-"


def _short_time(text: str | None) -> str:
    return (text or "")[:19].replace("T", " ")


def runs_table(rows: list[dict[str, Any]], headline: list[str] | tuple[str, ...] = (), *,
               empty: str | None = None) -> str:
    """One line per run. ``headline`` metrics (from nbprod.yaml) get a column each;
    the ``metrics`` column shows up to three of the others; each parameter whose value
    differs among the rows gets a column after them; ``ran`` counts executed tasks (succeeded,
    failed or interrupted) of all the run's tasks; the command comes last."""
    from tabulate import tabulate

    from .select import differing_params, ran as executed

    if not rows:
        return empty or "no runs recorded yet (run `ploomber build` or `nbprod build`)"
    headline = list(headline)
    params = differing_params(rows)
    tagged = any(row.get("tags") for row in rows)  # a tags column only when some run has tags
    table = []
    for row in rows:
        tasks = row.get("tasks") or {}
        ran = executed(row)
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
                *[_param_cell(row.get("params") or {}, name) for name in params],
                *([",".join(row.get("tags") or ()) or "-"] if tagged else []),
                _command(row.get("command")),
            ]
        )
    headers = ["run", "started (UTC)", "status", "time", "ran", "commit", *headline,
               "other metrics" if headline else "metrics", *params, *(["tags"] if tagged else []), "command"]
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
        *([f"spec      " + ", ".join(f"{name} (sha256 {str(info.get('sha256'))[:12]})"
                                     for name, info in record.project["files"].items())]
          if (record.project or {}).get("files") else []),
        f"commit    {commit}" + (f"  [{git.get('branch')}]" if git.get("branch") else ""),
        f"python    {record.python.get('version')}   ({len(record.packages)} packages recorded)",
        f"command   {' '.join(record.command)}",
        *([f"tags      {', '.join(record.tags)}"] if record.tags else []),
        *([f"note      {record.note}"] if record.note else []),
        *([f"run of    {_orchestrator(record.orchestrator)}"] if record.orchestrator else []),
        *([f"warning   the tasks ran other commits: " + ", ".join(
            f"{name} {str(v.get('commit'))[:12]}{' (dirty)' if v.get('dirty') else ''}"
            for name, v in git["tasks"].items())] if git.get("consistent") is False else []),
    ]
    if record.error:
        lines.append(f"error     {record.error.sentence()}")
    lines.append("")
    rows = [
        [
            t.name,
            t.status,
            _fmt(t.duration_s) if t.duration_s is not None else "-",
            (t.source_sha256 or "-")[:12],
            ", ".join(f"{k}={_fmt(v)}" for k, v in t.params.items()) or "-",
        ]
        for t in record.tasks
    ]
    headers = ["task", "status", "seconds", "code sha256", "params"]
    if any(t.attempts for t in record.tasks):  # assembled from an orchestrator's attempts
        for row, t in zip(rows, record.tasks):
            row.insert(2, " ".join(f"{a.get('attempt')}:{a.get('status')}" for a in t.attempts) or "-")
        headers.insert(2, "attempts")
    lines.append(tabulate(rows, headers=headers, tablefmt="simple"))
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
        rows = [[task, p.get("name"), p.get("path"), f"{p['size']:,} B" if isinstance(p.get("size"), int) else "-",
                 str(p.get("sha256") or "-")[:16], "partial" if p.get("partial") else ""] for task, p in products]
        table = tabulate(rows, headers=["task", "product", "path", "size", "sha256", ""], tablefmt="simple",
                         disable_numparse=True, colalign=("left", "left", "left", "right", "left", "left"))
        lines += ["  " + line.rstrip() for line in table.splitlines()]
    kernels = {(t.kernel.get("name"), t.kernel.get("executable")): t.kernel for t in record.tasks
               if t.kernel and not t.kernel.get("same_env")}
    if kernels:
        lines += ["", "kernels (not nbprod's environment)"]
        for (name, exe), kernel in kernels.items():
            differ = kernel.get("packages") or {}
            lines.append(f"  {name:<14} {exe}  Python {kernel.get('python') or '?'}  "
                         f"{len(differ)} package(s) differ" + (f": {', '.join(list(differ)[:5])}" if differ else ""))
    notebooks = [(t.name, t.notebook) for t in record.tasks if t.notebook]
    if notebooks:
        where = f" (in {store.url})" if store is not None else ""
        lines += ["", f"executed notebooks{where}"]
        lines += [f"  {name:<12} {nb['key']}" for name, nb in notebooks]
    if record.error and record.error.traceback:
        lines += ["", f"traceback of {record.error.task} (excerpt)", record.error.traceback]
    return "\n".join(lines)


def _orchestrator(found: dict) -> str:
    """``airflow dag penguins, run manual__2026-12-01T02:00:00+00:00`` (logical date when it has one)."""
    text = f"{found.get('name')} dag {found.get('dag_id')}, run {found.get('run_id')}"
    logical = found.get("logical_date")
    return text + (f", logical date {logical}" if logical not in (None, "", "None") else "")
