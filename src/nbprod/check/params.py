"""The parameters cell, against what the pipeline passes: declared, of the declared type, explained.

Why: papermill injects the pipeline's values after the first cell tagged
``parameters`` whatever the notebook declares, and as they are. A build stops
on a parameter the cell does not declare and on a second ``parameters`` cell
(:mod:`nbprod.engine.params`; both read the cell with :mod:`nbprod.parameters`,
so they agree on what "declared" means), but nothing stops a value of the wrong type: with
``factor = 2`` declared and ``factor: 2x`` passed, the notebook multiplies
strings and the run records success. So a passed value must have the declared
type: the annotation's (``years: int | str | list = "2007"``), else the
default's (an int where the default is an int, not a bool or a float; a number
where it is a float; a list or tuple where it is a list); the rules are
:mod:`nbprod.parameters`', which the build shares.

A parameter without help text (a comment on its line, ``seed = 42  # the
split's seed``, which ``papermill --help-notebook`` shows) is a warning.
"""

from __future__ import annotations

from typing import Any

from ..engine.inspect import INJECTED, TaskInfo
from ..parameters import Declared, declare, declared_names, expected, parameters_cells, shown
from .documents import Document, injected
from .problems import ERROR, WARNING, Problem

CHECK = "parameters"


def check(doc: Document, tasks: list[TaskInfo]) -> list[Problem]:
    """The parameters cell(s) of ``doc`` against every task that runs it."""
    numbers = _parameters_cells(doc)
    problems = [doc.problem(ERROR, CHECK, f"a second cell tagged `parameters` (the first is cell {numbers[0]}): "
                            "papermill injects the pipeline's values after the first one, so this one "
                            "overrides them: keep the tag on one cell", n) for n in numbers[1:]]
    if not numbers:
        for task in tasks:
            if task.params:
                problems.append(doc.problem(ERROR, CHECK, f"no cell tagged `parameters`, but task {task.name!r} "
                                            f"passes {', '.join(sorted(task.params))}: add one that declares "
                                            "them with their defaults"))
        return problems
    number = numbers[0]
    source = doc.nb.cells[number].source
    names = declared_names(source)
    if names is None:
        return problems  # not Python: pyflakes reports it
    declared = declare(source)
    for task in tasks:
        problems += _passed(doc, number, task, names, declared)
    for item in declared.values():
        if item.name not in INJECTED and not item.help:
            problems.append(doc.problem(WARNING, CHECK, f"parameter `{item.name}` has no help text: add a comment "
                                        f"on its line (`{item.name} = ...  # what it is`), which "
                                        "`papermill --help-notebook` shows", number, item.line))
    return problems


def _parameters_cells(doc: Document) -> list[int]:
    """Numbers of the cells tagged ``parameters`` (engine.params counts without papermill's cells)."""
    positions = [n for n, cell in doc.cells() if not injected(cell)]
    return [positions[i] for i in parameters_cells(doc.nb)]


def _passed(doc: Document, number: int, task: TaskInfo, names: set[str],
            declared: dict[str, Declared]) -> list[Problem]:
    """What ``task`` passes, against the cell: undeclared names, values of another type."""
    problems = []
    unknown = sorted(set(task.params) - names)
    if unknown:
        problems.append(doc.problem(ERROR, CHECK, f"task {task.name!r} passes {', '.join(unknown)}, which this "
                                    f"cell does not declare (it declares: {', '.join(sorted(names)) or 'nothing'}): "
                                    "a misspelt name leaves the notebook on its default", number))
    for name, value in sorted(task.params.items()):
        item = declared.get(name)
        kind = expected(item) if item is not None else None
        if kind is None or value is None or kind.accepts(value):
            continue
        problems.append(doc.problem(ERROR, CHECK, f"`{name}` is declared as {kind.described} but task "
                                    f"{task.name!r} passes the {type(value).__name__} {shown(value)}: papermill "
                                    f"injects it as it is, so the notebook runs on {_article(value)} where it "
                                    f"expects {kind.described}", number, item.line))
    return problems


def _article(value: Any) -> str:
    name = type(value).__name__
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"
