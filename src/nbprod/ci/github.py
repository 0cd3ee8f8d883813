"""What a build tells GitHub Actions: a log group and an error annotation per failed task,
and a job summary with the run's headline metrics against a baseline.

Why workflow commands and not the API: they need no token and no network, only lines
on stdout (``::error file=...::``) and text appended to ``$GITHUB_STEP_SUMMARY``; the
runner turns them into annotations on the pull request and a page on the run.

Escaping follows GitHub's rules (actions/toolkit ``command.ts``): in a message ``%``,
``\\r`` and ``\\n`` become ``%25``, ``%0D``, ``%0A``; in a property ``:`` and ``,`` too.
A notebook's cell source and traceback are printed between ``::stop-commands::TOKEN``
and ``::TOKEN::`` (TOKEN random per block), so a line of them that looks like a
workflow command (``::add-mask::``, ``::error::``) is shown, never obeyed.

Nothing here may print a credential: the record is redacted again before anything is
written (:func:`nbprod.ci.sources.redacted`), and so is each text written.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TextIO

from ..compare.diff import diff_records, markdown_cell, markdown_metrics, markdown_table
from ..compare.metrics import from_dicts, headline
from ..redact import redact_text
from ..schema import FAILED, INTERRUPTED, SUCCEEDED, TASK_FAILED, TASK_INTERRUPTED, ErrorInfo, RunRecord
from .sources import redacted, task_location

HEADLINE = {SUCCEEDED: "✅ succeeded", FAILED: "❌ failed", INTERRUPTED: "⚠️ interrupted"}


def escape_data(text: str) -> str:
    """A workflow command's message, on one line."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (``file=``, ``title=``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, **properties: str | int | None) -> str:
    """One workflow command line: ``::name key=value,...::message``."""
    props = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items() if value is not None)
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def annotate(record: RunRecord, stream: TextIO, *, root: Path | None = None) -> int:
    """Write an ``::error`` annotation and a ``::group::`` with the failing cell's source
    and traceback for each failed or interrupted task (and one for a run that failed
    outside any task) to ``stream``; the number of annotations written.

    ``root``: the repository root the ``file=`` paths are relative to
    (:func:`nbprod.ci.sources.repo_root`)."""
    record = redacted(record)
    written = 0
    for task in record.tasks:
        if task.status not in (TASK_FAILED, TASK_INTERRUPTED):
            continue
        path, line = task_location(record, task, root)
        verb = "was interrupted" if task.status == TASK_INTERRUPTED else "failed"
        said = task.error.sentence() if task.error else f"task '{task.name}' {verb}"
        _emit(stream, command("error", f"{said} (run {record.run_id})", file=path, line=line,
                              title=f"nbprod: task {task.name} {verb.split()[-1]}"))
        if task.error:  # the cell and traceback, folded in the log
            _emit(stream, _group(task.error, path))
        written += 1
    if not written and record.status != SUCCEEDED:
        sentence = record.error.sentence() if record.error else f"the build {record.status}"
        _emit(stream, command("error", f"{sentence} (run {record.run_id})", title=f"nbprod: build {record.status}"))
        written += 1
    return written


def _group(error: ErrorInfo, path: str | None) -> str:
    """The failing cell's source and traceback, folded in the log, commands stopped."""
    token = secrets.token_hex(16)
    where = f"cell {error.cell_index}" if error.cell_index is not None else "the task"
    if error.execution_count:
        where += f" (In [{error.execution_count}])"
    lines = [command("group", f"nbprod: {error.sentence()}"), f"::stop-commands::{token}"]
    if error.cell_source:
        lines += [f"{where} of {path or error.task}:", error.cell_source.rstrip("\n"), ""]
    lines.append(error.traceback.rstrip("\n") if error.traceback else f"{error.ename}: {error.evalue}")
    lines += [f"::{token}::", "::endgroup::"]
    return "\n".join(lines)


def _emit(stream: TextIO, text: str) -> None:
    stream.write(redact_text(text) + "\n")
    stream.flush()


def job_summary(record: RunRecord, baseline: RunRecord | None = None, *, note: str | None = None) -> str:
    """The markdown job summary: status, run id, the tasks, the headline metrics and
    their delta against ``baseline`` (``note`` says why there is none, when there is none)."""
    record = redacted(record)
    smoke = " · smoke" if getattr(record, "smoke", False) else ""
    commit = (record.git or {}).get("commit")
    facts = [f"run `{record.run_id}`{smoke}"]
    if commit:
        facts.append(f"commit `{commit[:8]}`" + (" (uncommitted changes)" if (record.git or {}).get("dirty") else ""))
    if record.duration_s is not None:
        facts.append(f"{record.duration_s:.1f} s")
    lines = [f"### nbprod build {HEADLINE.get(record.status, record.status)}", "", " · ".join(facts), ""]
    if record.error:
        lines += [f"> {markdown_cell(record.error.sentence())}", ""]
    rows = [[task.name, task.status, "-" if task.duration_s is None else f"{task.duration_s:.1f} s",
             task.error.sentence() if task.error else ""] for task in record.tasks]
    if rows:
        lines += [markdown_table(["task", "status", "time", "error"], rows), ""]
    if baseline is not None:
        lines += [f"#### Headline metrics against run `{baseline.run_id}`", "",
                  markdown_metrics(diff_records(redacted(baseline), record), headline_only=True), ""]
    else:
        lines += ["#### Metrics", "", f"_no baseline: {markdown_cell(note or 'none given')}_", ""]
        metrics = record.metrics()
        shown = [name for name in headline(from_dicts(record.metrics_spec)) if name in metrics] or list(metrics)
        if shown:
            lines += [markdown_table(["metric", "value"], [[name, f"{metrics[name]:.6g}"] for name in shown]), ""]
    return redact_text("\n".join(lines))


def append_summary(path: str | Path, text: str) -> None:
    """Append ``text`` to the job summary file (GitHub gives each step its own file and
    shows what every step appended, in order)."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(redact_text(text).rstrip("\n") + "\n\n")
