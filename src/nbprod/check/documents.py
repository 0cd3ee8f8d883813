"""A notebook or script being checked: its cells, numbered as nbprod numbers them.

Why one reader: every check reports by cell, so each must count cells the same
way. A cell's number is its position in the source file, 0-based, every cell
counted (what a failed build's ``cell N`` says for a source notebook without
papermill's injected cell); its id is nbformat's (nbformat 4.5). Notebooks are
read with nbformat, which keeps ids and tags, so ``--fix`` writes back the same
cells. A ``.py`` task is read the way ploomber runs it, through jupytext, as
cells; jupytext makes up new ids on every read, so a script's cells are named
by number only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .problems import ERROR, Problem

NOTEBOOK, SCRIPT = "notebook", "script"
#: the cells papermill adds to a notebook it executes (never part of a source notebook)
PAPERMILL_TAGS = ("injected-parameters", "papermill-error-cell-tag")


def shown(path: str | os.PathLike) -> str:
    """A path relative to the working directory when it is inside it (what lines print)."""
    path = Path(path)
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


@dataclass
class Document:
    """A notebook or script read for checking (``nb`` is nbformat's NotebookNode)."""

    path: Path
    kind: str  # NOTEBOOK or SCRIPT
    nb: Any

    @property
    def shown(self) -> str:
        return shown(self.path)

    def cells(self) -> Iterator[tuple[int, Any]]:
        """(number, cell) for every cell, papermill's injected ones included."""
        yield from enumerate(self.nb.cells)

    def problem(self, severity: str, check: str, message: str, number: int | None = None,
                line: int | None = None) -> Problem:
        """A problem of this file, of cell ``number`` when given."""
        cell_id = None
        if number is not None and self.kind == NOTEBOOK:
            cell_id = self.nb.cells[number].get("id")
        return Problem(self.shown, severity, check, message, cell=number, cell_id=cell_id, line=line)


def tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []) or [])


def injected(cell: Any) -> bool:
    """Whether papermill added this cell (its parameters, its error banner)."""
    return any(tag in PAPERMILL_TAGS for tag in tags(cell))


def read(path: Path) -> Document | Problem:
    """The document at ``path``, or the problem that it cannot be read."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbformat's validation warnings: not this check's business
            if path.suffix == ".ipynb":
                import nbformat

                return Document(path, NOTEBOOK, nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))
            import jupytext

            return Document(path, SCRIPT, jupytext.read(str(path)))
    except Exception as err:  # not JSON, not a notebook, not UTF-8: nothing else can be checked
        reason = " ".join(str(err).split())[:200] or type(err).__name__
        what = "notebook" if path.suffix == ".ipynb" else "script"
        return Problem(shown(path), ERROR, "outputs", f"not a readable {what} ({reason})")


def write(doc: Document) -> None:
    """Write a notebook back, whole or not at all, keeping its mode, ids and tags."""
    import warnings

    import nbformat

    from ..files import atomic_write

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = nbformat.writes(doc.nb)
    atomic_write(doc.path, (text if text.endswith("\n") else text + "\n").encode("utf-8"),
                 mode=doc.path.stat().st_mode & 0o7777)
