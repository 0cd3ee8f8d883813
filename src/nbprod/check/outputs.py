"""What an execution left in a source notebook: outputs, counts, papermill's cells and metadata.

Why it matters: a source notebook is code. Its outputs are data (sometimes
personal data or secrets) that reach git and every clone, its execution counts
make every diff noisy, and the traces papermill and ploomber leave when a
notebook is executed or injected into (``ploomber nb --inject``) make a source
look like a run: worst, papermill's ``injected-parameters`` cell, which, run in
JupyterLab, overrides the notebook's own defaults with a past run's values.

:func:`strip` (``nbprod check --fix``) removes exactly what :func:`committed`
reports and nothing else: cell ids, tags and other metadata stay, cells keep
their order (nbstripout's default renumbers ids, which breaks every reference
to a cell). Both read the same tables, so they cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from .documents import NOTEBOOK, Document, injected
from .problems import ERROR, WARNING, Problem

CHECK = "outputs"
#: notebook metadata papermill and ploomber write (``ploomber nb --inject`` writes ``ploomber``)
NOTEBOOK_KEYS = ("papermill", "ploomber")
#: cell metadata an execution writes (papermill's timings and status; JupyterLab's and nbclient's timings)
CELL_KEYS = ("papermill", "execution")


def committed(doc: Document) -> list[Problem]:
    """One problem per cell with outputs, an execution count or papermill's tag; one for metadata."""
    if doc.kind != NOTEBOOK:
        return []
    problems = []
    for number, cell in doc.cells():
        if injected(cell):
            problems.append(doc.problem(ERROR, CHECK, "papermill's injected cell is left in the source notebook "
                                        "(run in JupyterLab it overrides the defaults): `nbprod check --fix` "
                                        "removes it", number))
            continue
        outputs = len(cell.get("outputs", []) or [])
        if outputs:
            plural = outputs > 1
            problems.append(doc.problem(ERROR, CHECK, f"{outputs} output{'s' if plural else ''} committed: "
                                        f"`nbprod check --fix` strips {'them' if plural else 'it'}", number))
        if cell.get("execution_count") is not None:
            problems.append(doc.problem(WARNING, CHECK, f"execution count {cell['execution_count']} committed: "
                                        "`nbprod check --fix` clears it", number))
    traces = _metadata(doc.nb)
    if traces:
        problems.append(doc.problem(ERROR, CHECK, f"execution metadata committed ({', '.join(traces)}): "
                                    "`nbprod check --fix` removes it"))
    return problems


def _metadata(nb: Any) -> list[str]:
    """Where papermill/ploomber/execution metadata is: ``metadata.papermill``, ``3 cells' metadata.execution``."""
    found = [f"metadata.{key}" for key in NOTEBOOK_KEYS if key in nb.metadata]
    for key in CELL_KEYS:
        cells = sum(key in cell.get("metadata", {}) for cell in nb.cells if not injected(cell))
        if cells:
            found.append(f"{cells} cells' metadata.{key}" if cells > 1 else f"a cell's metadata.{key}")
    return found


def strip(doc: Document) -> tuple[str, ...]:
    """Remove what :func:`committed` reports, in place; what was removed (empty: nothing)."""
    if doc.kind != NOTEBOOK:
        return ()
    nb = doc.nb
    removed = []
    cells = [c for c in nb.cells if injected(c)]
    if cells:
        nb.cells = [c for c in nb.cells if not injected(c)]
        removed.append(f"{len(cells)} injected cell{'s' if len(cells) > 1 else ''}")
    traces = _metadata(nb)
    outputs = counts = 0
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            outputs += bool(cell.get("outputs"))
            counts += cell.get("execution_count") is not None
            cell["outputs"], cell["execution_count"] = [], None
        for key in CELL_KEYS:
            cell.get("metadata", {}).pop(key, None)
    for key in NOTEBOOK_KEYS:
        nb.metadata.pop(key, None)
    if outputs:
        removed.append(f"the outputs of {outputs} cell{'s' if outputs > 1 else ''}")
    if counts:
        removed.append(f"{counts} execution count{'s' if counts > 1 else ''}")
    removed += traces
    return tuple(removed)
