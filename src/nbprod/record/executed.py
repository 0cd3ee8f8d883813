"""What an executed notebook says about how its run went.

papermill marks the failing cell of a notebook that raised, but when the
kernel dies (``os._exit``, SIGKILL, out of memory) papermill 2.7 leaves every
cell marked "completed" and records no error; the dying cell may even carry
an execution count (the kernel acknowledged it before dying). This module reads the executed
notebook itself (nbformat only) and finds both: the cell with an error output,
or the cell that started and never finished.

A cell that outlives ploomber's ``execution_timeout`` (papermill's, enforced by
nbclient) is interrupted: the notebook then shows a ``KeyboardInterrupt`` with
an empty message, as if someone had pressed Ctrl-C. Only the build's traceback
(nbclient's ``CellTimeoutError``) tells the two apart, so a timeout is recorded
as what it was, with the limit.

When the notebook shows nothing (a function task, a product never written),
the failure comes from ploomber's build report (:func:`error_from_traceback`):
one text for every failed task, each under its banner, whose last lines are
ploomber's wrappers and its ``Need help?`` footer, so each task's error is read
from its own section, the task's own exception first, with the file and line
of the project's code it was raised in.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ..schema import ErrorInfo

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TIMEOUT = re.compile(r"CellTimeoutError: A cell timed out while it was being executed, after ([0-9.]+) seconds")
TIMEOUT_ENAME = "CellTimeoutError"
TRACEBACK_LINES = 30


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def load(path: str) -> Any:
    import nbformat

    return nbformat.read(str(path), as_version=4)


def _is_injected(cell: Any) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    return "injected-parameters" in tags or "papermill-error-cell-tag" in tags


def _source_cells(nb: Any) -> list[tuple[int, Any]]:
    """(index in the source notebook, cell): papermill's injected cells do not count."""
    cells = []
    index = 0
    for cell in nb.cells:
        if _is_injected(cell):
            continue
        cells.append((index, cell))
        index += 1
    return cells


def find_error(nb: Any, task: str, traceback_text: str | None = None) -> ErrorInfo | None:
    """The failure an executed notebook shows, or None if it shows none.

    Call it for a task that failed. A cell with an error output is the
    failure. Otherwise, if the kernel died (papermill leaves no trace of it in
    the notebook: ``traceback_text`` from the build names nbclient's
    ``DeadKernelError``, or execution stopped before the last cell), the
    failing cell is the last one papermill started. When ``traceback_text``
    names nbclient's ``CellTimeoutError``, the interrupted cell is recorded as
    timed out (ename ``CellTimeoutError``), with the limit.
    """
    cells = [(i, c) for i, c in _source_cells(nb) if c.cell_type == "code" and c.source.strip()]
    limit = timeout_of(task_section(traceback_text, task) if traceback_text else None)
    for index, cell in cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                tb = strip_ansi("\n".join(output.get("traceback", [])))
                if limit is not None and output.get("ename") == "KeyboardInterrupt":
                    return _timed_out(task, index, cell, limit, tb)
                return ErrorInfo(
                    task=task,
                    ename=output.get("ename", "Error"),
                    evalue=strip_ansi(output.get("evalue", "")),
                    cell_index=index,
                    execution_count=cell.get("execution_count"),
                    cell_source=_excerpt(cell.source),
                    traceback="\n".join(tb.splitlines()[-TRACEBACK_LINES:]),
                )
    started = [(i, c) for i, c in cells if _started(c)]
    if limit is not None and started:  # stopped before the kernel wrote the interrupt's output
        index, cell = started[-1]
        return _timed_out(task, index, cell, limit, None)
    stopped_early = bool(started) and len(started) < len(cells)
    died = "DeadKernelError" in (traceback_text or "") or stopped_early
    if died and started:
        index, cell = started[-1]
        return ErrorInfo(
            task=task,
            ename="DeadKernelError",
            evalue="the kernel died (os._exit, a signal, or out of memory) before the cell finished",
            cell_index=index,
            execution_count=cell.get("execution_count"),
            cell_source=_excerpt(cell.source),
            kernel_died=True,
        )
    return None


def timeout_of(traceback_text: str | None) -> str | None:
    """The limit, in seconds as nbclient wrote it, when the build's traceback is a cell timeout."""
    match = _TIMEOUT.search(strip_ansi(traceback_text or ""))
    return match.group(1) if match else None


def _timed_out(task: str, index: int, cell: Any, limit: str, traceback: str | None) -> ErrorInfo:
    return ErrorInfo(
        task=task,
        ename=TIMEOUT_ENAME,
        evalue=f"the cell was still running after execution_timeout ({limit} s) and was interrupted",
        cell_index=index,
        execution_count=cell.get("execution_count"),
        cell_source=_excerpt(cell.source),
        traceback="\n".join(traceback.splitlines()[-TRACEBACK_LINES:]) if traceback else None,
    )


def _started(cell: Any) -> bool:
    return bool(cell.get("metadata", {}).get("papermill", {}).get("start_time"))


def timing(nb: Any) -> tuple[str | None, str | None, float | None]:
    """(start, end, seconds) of the notebook run, from papermill's metadata."""
    meta = nb.get("metadata", {}).get("papermill", {})
    start, end = meta.get("start_time"), meta.get("end_time")
    duration = meta.get("duration")
    if duration is None and start and end:
        duration = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    return start, end, duration


def _excerpt(source: str, lines: int = 5) -> str:
    parts = source.splitlines()
    text = "\n".join(parts[:lines])
    return text + ("\n..." if len(parts) > lines else "")


# -- the build's traceback: tasks without a notebook (functions), or a notebook that shows nothing --

#: ploomber's "--- PythonCallable: fit -> File(..) ---"; one dash each side when the title is
#: wider than the terminal (a long product path, or 80 columns with no terminal)
_BANNER = re.compile(r"^-+ \w+: (?P<name>.+?) -> .* -+$")
_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)')
#: ploomber's messages that only say *that* a task failed; its real message is elsewhere in the text
_WRAPPERS = re.compile(
    r"^(Error building task ['\"][^'\"]*['\"]\.?$|Exception when running on_\w+ for task|"
    r"Error when executing task ['\"][^'\"]*['\"]\. Partially executed notebook)"
)


def error_from_traceback(text: str, task: str) -> ErrorInfo:
    """The error a build's traceback text shows, for a task the notebook does not explain.

    The exception is the last ``Name: message`` line raised by the task's own
    code, else the specific message ploomber raised (``the task ran
    successfully but the product File('out/x') is missing``; its generic
    wrappers, banners and ``Need help?`` footer are skipped). A function
    task's error names the file and line of the innermost frame of its own
    code (``(at tasks.py:12, in fit)``).
    """
    lines = [line for line in task_section(strip_ansi(text), task).splitlines() if line.strip()]
    ours: list[tuple[int, str, str]] = []
    ploombers: list[tuple[int, str, str]] = []
    for i, line in enumerate(lines):
        head, sep, rest = line.strip().partition(": ")
        if not (sep and head[:1].isalpha() and head.replace(".", "").replace("_", "").isalnum()):
            continue
        if not (head.endswith(("Error", "Exception", "Interrupt", "Exit")) or "." in head):
            continue
        name = head.rsplit(".", 1)[-1]
        if head.startswith("ploomber."):
            if not _WRAPPERS.match(rest.strip()):
                message = re.sub(r"^Error building task ['\"][^'\"]*['\"]: ", "", rest.strip())
                ploombers.append((i, name, message))
        else:
            ours.append((i, name, rest.strip()))
    if ours:
        index, ename, evalue = ours[-1]
        where = _user_frame(lines, index)
        if where:
            evalue = f"{evalue} (at {where})" if evalue else f"(at {where})"
    elif ploombers:
        index, ename, evalue = ploombers[-1]
    else:
        meaningful = [line.strip() for line in lines if not line.strip().startswith(("Need help", "=", "-"))]
        ename, evalue = "Error", meaningful[-1] if meaningful else ""
    return ErrorInfo(task=task, ename=ename, evalue=evalue, traceback="\n".join(lines[-TRACEBACK_LINES:]))


def task_section(text: str, task: str) -> str:
    """The part of ploomber's build report about ``task`` (one report holds every failed
    task, each under its banner), or the whole text when no banner names it."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines)
                  if (m := _BANNER.match(line.strip())) and m.group("name") == task), None)
    if start is None:
        return text
    end = next((i for i in range(start + 1, len(lines))
                if _BANNER.match(lines[i].strip()) or (lines[i].startswith("=") and "Summary" in lines[i])), len(lines))
    return "\n".join(lines[start:end])


def _user_frame(lines: list[str], index: int) -> str | None:
    """``path:line, in func`` of the innermost frame above ``lines[index]`` that is the project's
    code: a file on this machine outside the Python installation and its packages."""
    import os
    import sysconfig

    library = tuple(
        os.path.realpath(p) for p in {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    )
    for line in reversed(lines[:index]):
        if line.lstrip().startswith("Traceback (most recent call last)"):
            return None
        match = _FRAME.match(line)
        if not match:
            continue
        path = match.group("path")
        if path.startswith("<") or os.path.realpath(path).startswith(library) or "site-packages" in path:
            continue
        if not os.path.isfile(path):  # only a file the user can open (not exec'd code, not another machine's)
            continue
        try:
            shown = os.path.relpath(path)
        except ValueError:
            shown = path
        shown = path if shown.startswith("..") else shown
        return f"{shown}:{match.group('line')}, in {match.group('func')}"
    return None
