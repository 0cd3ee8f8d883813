"""The parameters papermill is about to inject, against the notebook's parameters cell.

papermill injects whatever it is given after the first cell tagged ``parameters``
and only logs "Passed unknown parameter" for a name the notebook does not
declare, so ``-p yeras 2008`` runs the notebook on its default and exits 0.
Here every rule of :mod:`nbprod.parameters` that a build applies is applied to a
papermill run: one parameters cell, every name declared, every value of the
declared type (annotation, else default). A problem is a
:class:`~nbprod.errors.ConfigError` (exit 2), one line naming the parameter,
what the cell declares and the fix.
"""

from __future__ import annotations

from typing import Any

from .. import parameters
from ..errors import ConfigError

#: what papermill itself may inject (``--inject-paths``): not the notebook's to declare
BUILTIN = frozenset({"PAPERMILL_INPUT_PATH", "PAPERMILL_OUTPUT_PATH"})


def check(nb, given: dict[str, Any], where: str) -> None:
    """Raise ConfigError when ``given`` would not reach notebook ``nb`` (at ``where``) as recorded."""
    names = sorted(set(given) - BUILTIN)
    cells = parameters.parameters_cells(nb)
    if len(cells) > 1:
        raise ConfigError(
            f"{where} has {len(cells)} cells tagged `parameters` (cells {', '.join(map(str, cells))}): "
            f"papermill injects the values after cell {cells[0]}, so cell {cells[1]} would override them",
            hint="keep the `parameters` tag on one cell only")
    if not names:
        return
    source = parameters.parameters_source(nb)
    if source is None:
        raise ConfigError(f"{where} got parameter(s) {', '.join(names)} but has no cell tagged `parameters`",
                          hint="add a cell tagged `parameters` that declares them with their defaults")
    declared = parameters.declared_names(source)
    if declared is None:
        return  # not Python: the kernel will say so, with the cell
    unknown = [name for name in names if name not in declared]
    if unknown:
        raise ConfigError(
            f"{where} got parameter(s) {', '.join(unknown)} that its parameters cell does not declare "
            f"(it declares: {', '.join(sorted(declared)) or 'nothing'})",
            hint="fix the parameter's name (-p NAME VALUE) or declare it in the notebook's parameters cell")
    items = parameters.declare(source)
    wrong = [reason for name in names if name in items
             and (reason := parameters.mistyped(items[name], given[name])) is not None]
    if wrong:
        raise ConfigError(
            f"{where}: {'; '.join(wrong)}",
            hint="pass a value of the declared type (-p parses numbers and True/False; -r passes a string "
                 "as it is; -y takes YAML lists and mappings), or annotate the parameter with the types it "
                 "accepts (`x: int | str = ...`)")
