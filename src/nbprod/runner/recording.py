"""A papermill run as a one-task build: its Session, its TaskView, its Build.

The build's machinery is reused as it is (:class:`nbprod.record.lifetime.Build`):
SIGINT/SIGTERM handlers that mark the run interrupted, the at-exit fallback, the
final line printed last (at exit under ``papermill``; ``nbprod run`` takes it and
raises it), and :func:`nbprod.record.recorder.record_run` with the spool fallback.
The one task is named for the notebook (``ingest`` for ``notebooks/ingest.ipynb``),
of kind ``papermill``; its source is the input notebook, its parameters the
injected ones, its product the output notebook (``nb``), which is also the
executed notebook the recorder reads the failing cell, a dead kernel and scraps from.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from .. import schema
from ..record.lifetime import Build
from ..record.session import Session
from ..record.taskview import ERRORED, EXECUTED, PENDING, TaskView

KIND = "papermill"
#: files that mark a project's root (where the run's store, git and spec files are looked up)
PROJECT_MARKERS = ("nbprod.yaml", "pipeline.yaml")


class Recording:
    """One papermill run being recorded."""

    def __init__(self, input_path: str | None, output_path: str | None, params: dict[str, Any],
                 argv: list[str], root: Path | None = None):
        self.input_path = input_path if _local(input_path) else None
        self.output_path = output_path if _local(output_path) else None
        self.params = plain(params)
        self.name = Path(input_path).stem if self.input_path else "notebook"
        self.outcome = PENDING
        self.notebook: str | None = self.output_path  # the executed notebook on disk
        self.session = Session(root=root or project_root(self.input_path), argv=list(argv))
        self.build = Build(self.session, describe=self.describe, out=sys.stderr)

    def start(self) -> "Recording":
        self.build.start()
        return self

    def describe(self) -> list[TaskView]:
        return [task_view(self.name, self.input_path, self.output_path, self.params, self.outcome, self.notebook)]

    def finish(self, nb, status: str, traceback_text: str | None = None) -> schema.RunRecord | None:
        """Record the run (once); ``nb`` is papermill's notebook, written to a temporary file when
        the output is not a local file (``-``, a URL), so the record still holds it."""
        if self.build.done:
            return self.build.record
        if status == schema.INTERRUPTED:
            self.session.interrupted_by = self.session.interrupted_by or "SIGINT"
        self.outcome = {schema.SUCCEEDED: EXECUTED, schema.FAILED: ERRORED}.get(status, PENDING)
        if self.output_path is None or not Path(self.output_path).is_file():
            self.notebook = _written(nb)
        return self.build.finish(status, traceback_text=traceback_text)


def task_view(name: str, input_path: str | None, output_path: str | None, params: dict[str, Any],
              outcome: str, notebook: str | None) -> TaskView:
    """The run's one task, as the recorder takes it."""
    return TaskView(
        name=name,
        kind=KIND,
        outcome=outcome,
        source=str(Path(input_path).resolve()) if input_path else None,
        params=dict(params),
        upstream=[],
        products={"nb": str(Path(output_path).resolve())} if output_path else {},
        notebook=str(Path(notebook).resolve()) if notebook else None,
    )


def failed(nb) -> bool:
    """Whether papermill will raise for this executed notebook (its ``raise_for_execution_errors``
    rule: an error output, ``SystemExit(0)`` excepted, or a cell marked as raised)."""
    for cell in nb.cells:
        exited = False
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                if output.get("ename") == "SystemExit" and output.get("evalue") in ("", "0"):
                    exited = True
                    continue
                return True
        if not exited and cell.get("metadata", {}).get("papermill", {}).get("exception") is True:
            return True
    return False


def project_root(input_path: str | None) -> Path:
    """The nearest folder at or above the notebook holding nbprod.yaml or pipeline.yaml, else the cwd."""
    if input_path:
        for folder in Path(input_path).resolve().parents:
            if any((folder / marker).is_file() for marker in PROJECT_MARKERS):
                return folder
    return Path.cwd()


def plain(params: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe parameters (anything else as its repr)."""
    found = {}
    for key, value in params.items():
        try:
            json.dumps(value)
            found[str(key)] = value
        except (TypeError, ValueError):
            found[str(key)] = repr(value)
    return found


def _local(path: str | None) -> bool:
    return bool(path) and path != "-" and "://" not in str(path)


def _written(nb) -> str | None:
    if nb is None:
        return None
    import nbformat

    handle, name = tempfile.mkstemp(prefix="nbprod-papermill-", suffix=".ipynb")
    with open(handle, "w", encoding="utf-8") as out:
        nbformat.write(nb, out)
    return name
