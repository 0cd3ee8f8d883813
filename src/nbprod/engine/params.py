"""A notebook's parameters cell, checked before anything runs: a wrong value is an error, not a silent default.

papermill (and ploomber, which calls it) injects the pipeline's values right
after the *first* cell tagged ``parameters`` and injects a name even when the
notebook never declares it, so three mistakes run a notebook on values other
than the ones the run records: a typo in pipeline.yaml or ``--env--`` (the
notebook uses its default), a second cell tagged ``parameters`` (it runs after
the injected cell and overrides the pipeline's value), and parameters given to
a notebook without a parameters cell. Each ends the build at render, naming the
notebook and the cells, before a kernel starts.

ploomber itself would *add* a parameters cell to a notebook without one,
rewriting the user's source file while it loads pipeline.yaml: ``nbprod build``
stops it (:func:`leave_sources_alone`, used by :mod:`nbprod.engine.dag`);
plain ``ploomber build`` runs no nbprod code before that rewrite, so there the
error says the cell is ploomber's placeholder.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from ..errors import PipelineError
from ..parameters import declared_names as _declared, parameters_cells  # noqa: F401 (parameters_cells: re-exported)

INJECTED = {"product", "upstream"}  # ploomber injects these into every notebook
#: the lines of the parameters cell ploomber writes into a notebook that has none
PLACEHOLDER_LINES = {
    "# declare a list tasks whose products you want to use as inputs",
    "upstream = None",
    "# declare a dictionary with the outputs of this task",
    "product = None",
    "# add default values for parameters here",
}


def check_params(dag) -> None:
    """Fail the build when a notebook task's parameters would not reach it as recorded.

    Declared names are the assignments in the cell tagged ``parameters``;
    cells are numbered as in the failure line (0-based, in the source
    notebook, every cell counted). Every problem of every task is reported at once.
    """
    from ploomber.tasks import NotebookRunner, ScriptRunner

    problems: list[tuple[str, str]] = []
    for name in dag._iter():
        task = dag[name]
        if not isinstance(task, (NotebookRunner, ScriptRunner)):
            continue
        nb = getattr(task.source, "_nb_obj_unrendered", None)
        if nb is None:
            continue
        problem = _problem(name, task, nb)
        if problem is not None:
            problems.append(problem)
    if problems:
        hints = list(dict.fromkeys(hint for _, hint in problems))
        raise PipelineError("; ".join(text for text, _ in problems), hint="; ".join(hints))


def _problem(name: str, task, nb) -> tuple[str, str] | None:
    where = f"task '{name}' ({task.source.loc})"
    given = sorted(set(task.params) - INJECTED)
    cells = parameters_cells(nb)
    if len(cells) > 1:
        numbers = ", ".join(str(i) for i in cells[:-1]) + f" and {cells[-1]}"
        return (
            f"{where} has {len(cells)} cells tagged `parameters` (cells {numbers}): the pipeline's "
            f"values are injected after cell {cells[0]}, so cell {cells[1]} would override them",
            "keep the `parameters` tag on one cell only",
        )
    if not cells:
        if not given:
            return None  # papermill injects product/upstream at the top; nothing to override
        return (
            f"{where} got parameter(s) {', '.join(given)} but has no cell tagged `parameters`",
            "add a cell tagged `parameters` that declares them with their defaults",
        )
    source = _cells(nb)[cells[0]].source
    declared = _declared(source)
    if declared is None:
        return None  # not valid Python: the kernel will report it, with the cell
    unknown = sorted(set(given) - declared)
    if not unknown:
        return None
    placeholder = {line.strip() for line in source.splitlines() if line.strip()} <= PLACEHOLDER_LINES
    note = (" (that cell is the placeholder ploomber adds to a notebook that had no parameters cell)"
            if placeholder else "")
    return (
        f"{where} got parameter(s) {', '.join(unknown)} that its parameters cell does not declare "
        f"(it declares: {', '.join(sorted(declared)) or 'nothing'}){note}",
        "fix the parameter name in pipeline.yaml/env.yaml or declare it in the notebook",
    )


def _cells(nb) -> list:
    return [c for c in nb.cells if "injected-parameters" not in (c.get("metadata", {}).get("tags", []) or [])]


@contextlib.contextmanager
def leave_sources_alone() -> Iterator[None]:
    """While loading a pipeline, keep ploomber from adding a parameters cell to a source notebook.

    ploomber 0.23 rewrites a notebook without one (``add_parameters_cell``)
    when the task is created. Instead, such a notebook is refused where
    ploomber needs the cell (:func:`_keep_as_is`); elsewhere it runs as it is
    (papermill injects ``product``/``upstream`` at the top) and
    :func:`check_params` refuses it if it was given parameters.
    """
    from ploomber.sources.notebooksource import NotebookSource

    saved = NotebookSource._validate_parameters_cell
    NotebookSource._validate_parameters_cell = _keep_as_is
    try:
        yield
    finally:
        NotebookSource._validate_parameters_cell = saved


def _keep_as_is(self, extract_upstream=False, extract_product=False) -> None:
    """ploomber's ``_validate_parameters_cell`` without the rewrite of the user's file.

    When ploomber reads ``upstream``/``product`` from the parameters cell
    (``extract_upstream``/``extract_product``, its defaults) a notebook without
    one cannot load: say so, naming it, instead of ploomber's anonymous error.
    """
    from ploomber.sources.nb_utils import find_cell_with_tag

    cell, _ = find_cell_with_tag(self._nb_obj_unrendered, "parameters")
    if cell is not None or not (extract_upstream or extract_product):
        return
    needed = [line for flag, line in ((extract_upstream, "upstream = None"), (extract_product, "product = None"))
              if flag]
    kind = "notebook" if self._ext_in == "ipynb" else "script"
    raise PipelineError(
        f"{self.loc} has no cell tagged `parameters`, which ploomber reads the task's "
        f"{' and '.join(line.split()[0] for line in needed)} from",
        hint=f"add one at the top of the {kind} declaring {' and '.join(needed)} (or what it needs) "
             "and the defaults of its parameters",
    )

