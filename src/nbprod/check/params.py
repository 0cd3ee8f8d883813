"""The parameters cell, against what the pipeline passes: declared, of the declared type, explained.

Why: papermill injects the pipeline's values after the first cell tagged
``parameters`` whatever the notebook declares, and as they are. A build stops
on a parameter the cell does not declare and on a second ``parameters`` cell
(:mod:`nbprod.engine.params`, whose rules this check reuses, so both agree on
what "declared" means), but nothing stops a value of the wrong type: with
``factor = 2`` declared and ``factor: 2x`` passed, the notebook multiplies
strings and the run records success. So a passed value must have the type of
the declared default: an int where the default is an int (not a bool, not a
float), a number where it is a float, a string where it is a string, a list
(or tuple) where it is a list, a mapping where it is a dict; ``None`` passed,
or a default that is ``None`` or not a literal, is not judged.

A parameter without help text (a comment on its line, ``seed = 42  # the
split's seed``, which ``papermill --help-notebook`` shows) is a warning.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from ..engine.inspect import INJECTED, TaskInfo
from ..engine.params import _declared, parameters_cells
from .documents import Document, injected
from .problems import ERROR, WARNING, Problem

CHECK = "parameters"
_UNKNOWN = object()  # a default that is not a literal
#: the family of a declared default -> (its name in messages, what it accepts)
_TYPES: dict[type, tuple[str, tuple[type, ...]]] = {
    bool: ("a bool", (bool,)),
    int: ("an int", (int,)),
    float: ("a float", (int, float)),
    str: ("a str", (str,)),
    list: ("a list", (list, tuple)),
    tuple: ("a tuple", (list, tuple)),
    dict: ("a dict", (dict,)),
}


@dataclass(frozen=True)
class Declared:
    """One name a parameters cell assigns: its default (or ``_UNKNOWN``), line and help."""

    name: str
    default: Any
    line: int  # 1-based, in the cell
    help: str | None


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
    names = _declared(source)
    if names is None:
        return problems  # not Python: pyflakes reports it
    declared = _defaults(source)
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
        expected = _expected(item.default) if item is not None else None
        if expected is None or value is None or _accepts(expected, value):
            continue
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        problems.append(doc.problem(ERROR, CHECK, f"`{name}` is declared as {_TYPES[expected][0]} but task "
                                    f"{task.name!r} passes the {type(value).__name__} {shown}: papermill injects "
                                    f"it as it is, so the notebook runs on {_article(value)} where it expects "
                                    f"{_TYPES[expected][0]}", number, item.line))
    return problems


def _expected(default: Any) -> type | None:
    """The type family a default declares (None: not judged)."""
    if default is _UNKNOWN or default is None:
        return None
    return next((kind for kind in _TYPES if type(default) is kind), None)


def _accepts(expected: type, value: Any) -> bool:
    if isinstance(value, bool) and expected is not bool:
        return False  # True is an int to Python, not to a notebook that computes with it
    return isinstance(value, _TYPES[expected][1])


def _article(value: Any) -> str:
    name = type(value).__name__
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"


def _defaults(source: str) -> dict[str, Declared]:
    """Top-level assignments of a cell: name -> default (a literal, else unknown), line, help."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a magic in the parameters cell: names are known, defaults are not
        return {}
    comments = _comments(source)
    found: dict[str, Declared] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        single = len(targets) == 1 and isinstance(targets[0], ast.Name)
        default = _literal(value) if single else _UNKNOWN
        lines = range(node.lineno, (node.end_lineno or node.lineno) + 1)
        help_text = next((comments[n] for n in lines if comments.get(n)), None)
        for target in targets:
            for name in (n.id for n in ast.walk(target) if isinstance(n, ast.Name)):
                found[name] = Declared(name, default, node.lineno, help_text)
    return found


def _literal(node: ast.AST) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _UNKNOWN


def _comments(source: str) -> dict[int, str]:
    """line -> the text of the comment at its end (1-based lines)."""
    import io
    import tokenize

    found = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                found[token.start[0]] = token.string.lstrip("#").strip()
    except (tokenize.TokenError, SyntaxError):
        pass
    return found
