"""A build as JUnit XML, the test report GitLab, Jenkins and most CI systems read.

Why JUnit: it is the one format every CI system shows without a plugin of nbprod's:
GitLab's merge-request widget (``artifacts: reports: junit:``), Jenkins' ``junit`` step,
Azure's and CircleCI's test tabs. A task is a test case (``classname`` the project,
``name`` the task, ``file`` its notebook); a failed task a ``<failure>`` whose message
is the record's one sentence and whose text is the failing cell and its traceback; an
interrupted one an ``<error>``; a task that did not run here (up to date, fetched,
aborted, not run) ``<skipped>``.

Built with :mod:`xml.etree.ElementTree`, never by hand, so every text is escaped;
characters XML 1.0 cannot hold (a NUL or an ANSI escape left in a traceback) are
dropped first, or the file would not parse. Written whole (:func:`nbprod.files.atomic_write`):
a CI system reading it never sees half a report. The record is redacted again before.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from ..files import atomic_write
from ..schema import (SUCCEEDED, TASK_ABORTED, TASK_FAILED, TASK_FETCHED, TASK_INTERRUPTED, TASK_NOT_RUN, TASK_SKIPPED,
                      TASK_SUCCEEDED, ErrorInfo, RunRecord)
from .sources import project_name, redacted, task_location

SUITE = "nbprod build"

#: why a task that did not run here is skipped, in the report's words
NOT_RUN = {
    TASK_SKIPPED: "up to date: its products were reused from an earlier run",
    TASK_FETCHED: "up to date in the store: its products were downloaded, not executed here",
    TASK_ABORTED: "not run: an upstream task failed",
    TASK_NOT_RUN: "not run",
}

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: object) -> str:
    return _NOT_XML.sub("", str(value))


def junit_tree(record: RunRecord, *, root: Path | None = None) -> ET.Element:
    """The ``<testsuites>`` element: one ``<testsuite name="nbprod build">``, a case per task."""
    record = redacted(record)
    suites = ET.Element("testsuites", name=SUITE)
    suite = ET.SubElement(suites, "testsuite", name=SUITE, timestamp=_text(record.started_at or ""))
    properties = ET.SubElement(suite, "properties")
    commit = (record.git or {}).get("commit")
    for name, value in (("run_id", record.run_id), ("status", record.status), ("commit", commit),
                        ("smoke", str(bool(getattr(record, "smoke", False))).lower())):
        if value is not None:
            ET.SubElement(properties, "property", name=name, value=_text(value))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for task in record.tasks:
        path, _ = task_location(record, task, root)
        case = ET.SubElement(suite, "testcase", classname=_text(project_name(record)), name=_text(task.name),
                             time=f"{task.duration_s or 0:.3f}")
        if path:
            case.set("file", _text(path))
        counts["tests"] += 1
        if task.status == TASK_FAILED:
            counts["failures"] += 1
            _problem(case, "failure", task.error, f"task '{task.name}' failed", "Failed")
        elif task.status == TASK_INTERRUPTED:
            counts["errors"] += 1
            _problem(case, "error", task.error, f"task '{task.name}' was interrupted", "Interrupted")
        elif task.status != TASK_SUCCEEDED:
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=NOT_RUN.get(task.status, task.status))
    if record.status != SUCCEEDED and not (counts["failures"] or counts["errors"]):
        # the build failed outside any task (a bad pipeline, a signal before any task ran)
        case = ET.SubElement(suite, "testcase", classname=_text(project_name(record)), name="(build)", time="0.000")
        counts["tests"] += 1
        counts["errors"] += 1
        _problem(case, "error", record.error, f"the build {record.status}", record.status.capitalize())
    for key, value in {**counts, "time": f"{record.duration_s or 0:.3f}"}.items():
        suite.set(key, str(value))
        suites.set(key, str(value))
    return suites


def _problem(case: ET.Element, tag: str, error: ErrorInfo | None, otherwise: str, kind: str) -> None:
    """A ``<failure>`` or ``<error>``: the one sentence as message, cell and traceback as text."""
    if error is None:
        ET.SubElement(case, tag, message=_text(otherwise), type=kind)
        return
    element = ET.SubElement(case, tag, message=_text(error.sentence()), type=_text(error.ename or kind))
    parts = []
    if error.cell_source:
        cell = f"cell {error.cell_index}" if error.cell_index is not None else "cell"
        parts.append(f"{cell}:\n{error.cell_source.rstrip()}")
    parts.append(error.traceback.rstrip() if error.traceback else f"{error.ename}: {error.evalue}")
    element.text = _text("\n\n".join(parts))


def write_junit(record: RunRecord, path: str | Path, *, root: Path | None = None) -> Path:
    """Write ``record`` as JUnit XML to ``path`` (whole, or not at all); the path written."""
    tree = ET.ElementTree(junit_tree(record, root=root))
    ET.indent(tree)
    buffer = io.BytesIO()
    tree.write(buffer, encoding="utf-8", xml_declaration=True)
    return atomic_write(path, buffer.getvalue() + b"\n")
