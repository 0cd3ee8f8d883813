"""Parameters a notebook does not declare: an error, not a silent default.

ploomber 0.23 only warns (or says nothing) and papermill injects the unknown
name anyway, so a typo in pipeline.yaml or ``--env--`` silently runs the
notebook on its default.
"""

from __future__ import annotations

from ..errors import PipelineError


def check_params(dag) -> None:
    """Fail a notebook task given a parameter its parameters cell does not declare.

    ploomber 0.23 only warns (or says nothing) and papermill injects the
    unknown name anyway, so a typo in pipeline.yaml or ``--env--`` silently
    runs the notebook on its default. Declared names are the assignments in
    the cell tagged ``parameters``.
    """
    import ast

    from IPython.core.inputtransformer2 import TransformerManager
    from ploomber.sources.nb_utils import find_cell_with_tag
    from ploomber.tasks import NotebookRunner, ScriptRunner

    problems = []
    for name in dag._iter():
        task = dag[name]
        if not isinstance(task, (NotebookRunner, ScriptRunner)):
            continue
        nb = getattr(task.source, "_nb_obj_unrendered", None)
        if nb is None:
            continue
        cell, _ = find_cell_with_tag(nb, "parameters")
        if cell is None:
            continue  # ploomber itself rejects parameters without a parameters cell
        try:  # IPython's own transform: a `%magic` line is valid in a cell, not in Python
            tree = ast.parse(TransformerManager().transform_cell(cell.source))
        except SyntaxError:
            continue  # the kernel will report it, with the cell
        declared = {
            name.id
            for node in ast.walk(tree)
            if isinstance(node, (ast.Assign, ast.AnnAssign))
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            for name in ast.walk(target)  # `low, high = 0, 10` declares both
            if isinstance(name, ast.Name)
        }
        unknown = sorted(set(task.params) - declared - {"product", "upstream"})
        if unknown:
            problems.append(
                f"task '{name}' ({task.source.loc}) got parameter(s) {', '.join(unknown)} "
                f"that its parameters cell does not declare (it declares: "
                f"{', '.join(sorted(declared)) or 'nothing'})"
            )
    if problems:
        raise PipelineError(
            "; ".join(problems), hint="fix the parameter name in pipeline.yaml/env.yaml or declare it in the notebook"
        )
