"""What an executed notebook says about how its run went.

papermill marks the failing cell of a notebook that raised, but when the
kernel dies (``os._exit``, SIGKILL, out of memory) papermill 2.7 leaves every
cell marked "completed" and records no error; the dying cell may even carry
an execution count (the kernel acknowledged it before dying). This module reads the executed
notebook itself (nbformat only) and finds both: the cell with an error output,
or the cell that started and never finished.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ..schema import ErrorInfo

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
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
    failing cell is the last one papermill started.
    """
    cells = [(i, c) for i, c in _source_cells(nb) if c.cell_type == "code" and c.source.strip()]
    for index, cell in cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                tb = strip_ansi("\n".join(output.get("traceback", [])))
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
