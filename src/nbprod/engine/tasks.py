"""A built ploomber DAG described as plain data for the recorder.

ploomber's task classes, statuses (``TaskStatus``), product objects, build
report columns and its ``waiting_download`` state are read here and nowhere
else: the recorder gets :class:`~nbprod.record.taskview.TaskView` objects with
outcomes in nbprod's own words.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..record.taskview import ABORTED, ERRORED, EXECUTED, PENDING, SKIPPED, TaskView

# ploomber's TaskStatus values -> nbprod's outcomes (anything else: still pending)
_OUTCOME = {
    "executed": EXECUTED,
    "skipped": SKIPPED,
    "errored": ERRORED,
    "broken_process_pool": ERRORED,
    "aborted": ABORTED,
}


def describe(dag, interrupted: bool = False) -> list[TaskView]:
    """The DAG's tasks in execution order. In an ``interrupted`` build, a task whose worker
    process was stopped (a broken process pool) was interrupted, not failed."""
    from ploomber.tasks import NotebookRunner, PythonCallable, ScriptRunner

    views = []
    for name in dag:  # topological order (dag._iter() is the order tasks were added)
        task = dag[name]
        if isinstance(task, NotebookRunner):
            kind = "notebook"
        elif isinstance(task, ScriptRunner):
            kind = "script"
        elif isinstance(task, PythonCallable):
            kind = "function"
        else:
            kind = "other"
        products = _product_paths(task.product)
        views.append(
            TaskView(
                name=name,
                kind=kind,
                outcome=PENDING if interrupted and task.exec_status.value == "broken_process_pool"
                else _OUTCOME.get(task.exec_status.value, PENDING),
                source=_source_location(task),
                params=_plain_params(task.params),
                upstream=list(task.upstream),
                products=products,
                notebook=_notebook_path(task) if kind == "notebook" else None,
            )
        )
    return views


def _product_paths(product) -> dict[str, str]:
    try:
        serial = product.to_json_serializable()
    except Exception:  # a product that is not a file (SQL table, ...)
        return {"product": str(product)}
    if isinstance(serial, dict):
        return {str(k): str(v) for k, v in serial.items()}
    if isinstance(serial, list):
        return {str(i): str(v) for i, v in enumerate(serial)}
    return {"product": str(serial)}


def _source_location(task) -> str | None:
    loc = getattr(task.source, "loc", None)
    return str(loc) if loc else None


def _notebook_path(task) -> str | None:
    """Path of the executed .ipynb of a NotebookRunner task.

    ploomber executes into ``<nb product>.ipynb`` and, for an HTML/PDF product,
    converts and removes it on success; after a failure the partial .ipynb is
    left there. So: the product itself when it is a notebook, else the .ipynb
    beside it if one exists.
    """
    key = task.nb_product_key
    if isinstance(key, list):
        key = key[-1]
    product = task.product[key] if hasattr(task.product, "products") else task.product
    path = Path(str(product))
    ipynb = path.with_suffix(".ipynb")
    return str(ipynb) if path.suffix == ".ipynb" or ipynb.exists() else None


def _plain_params(params) -> dict[str, Any]:
    """A task's parameters without ploomber's injected product/upstream, JSON-safe."""
    plain = {}
    for key, value in params.items():
        if key in ("product", "upstream"):
            continue
        try:
            json.dumps(value)
            plain[key] = value
        except TypeError:
            plain[key] = repr(value)
    return plain




def to_download(dag) -> set[str]:
    """Tasks whose products are up to date in the store (a File client): ploomber
    downloads them instead of running them, and the record says ``fetched``."""
    return {name for name in dag if getattr(dag[name].exec_status, "value", None) == "waiting_download"}


def elapsed(report) -> dict[str, float]:
    """Seconds per task from ploomber's build report (its ``Elapsed (s)`` column)."""
    if report is None:
        return {}
    table = report.to_dict()
    return dict(zip(table.get("name", []), table.get("Elapsed (s)", [])))
