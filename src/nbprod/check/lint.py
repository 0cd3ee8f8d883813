"""pyflakes on a notebook's code cells, reported by cell.

Why all cells at once: a notebook is one module run top to bottom, so a name
defined in cell 2 is defined in cell 5, and an import used only in a later
cell is used. The code cells are joined in order (IPython's own transform
turns ``%magic`` and ``!shell`` lines into Python first; the body of
``%%time``/``%%timeit``/``%%capture`` is Python, other cell magics are not and
are left out) and each message is traced back to its cell and line.

What pyflakes says is an error where running the notebook would fail: an
undefined name (the notebook raises ``NameError``), ``return``/``break``
outside their place, a duplicate argument; the same set ploomber's own static
analysis treats as errors. The rest (an unused import, a redefinition, an
f-string without placeholders) are warnings. The names papermill injects for
the task (its parameters, ``product``, ``upstream``) and IPython's
(``display``, ``get_ipython``) count as defined. A cell that does not parse is
an error, and pyflakes waits until every cell parses.
"""

from __future__ import annotations

import ast
from .documents import Document, injected
from .problems import ERROR, WARNING, Problem

CHECK = "pyflakes"
IPYTHON_NAMES = ("display", "get_ipython", "In", "Out", "exit", "quit")
PYTHON_CELL_MAGICS = ("time", "timeit", "capture", "prun")
_ERRORS = ("UndefinedName", "UndefinedLocal", "UndefinedExport", "DuplicateArgument", "ReturnOutsideFunction",
           "YieldOutsideFunction", "ContinueOutsideLoop", "BreakOutsideLoop")
_FLAGS = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT  # IPython runs top-level `await`


def check(doc: Document, defined: tuple[str, ...] = ()) -> list[Problem]:
    """pyflakes' messages for ``doc``; ``defined``: the names the pipeline injects into it."""
    cells = _python_cells(doc)
    problems = []
    for number, code in cells:
        try:
            compile(code, doc.shown, "exec", _FLAGS)
        except SyntaxError as err:
            problems.append(doc.problem(ERROR, CHECK, f"syntax error: {err.msg}", number, err.lineno))
    if problems:
        return problems
    return _flakes(doc, cells, defined)


def _python_cells(doc: Document) -> list[tuple[int, str]]:
    """(number, Python source) of each code cell, magics made Python."""
    from IPython.core.inputtransformer2 import TransformerManager

    transform = TransformerManager().transform_cell
    found = []
    for number, cell in doc.cells():
        if cell.get("cell_type") != "code" or injected(cell) or not cell.source.strip():
            continue
        source = cell.source
        if source.lstrip().startswith("%%"):
            first, _, body = source.lstrip().partition("\n")
            if first[2:].split(" ")[0] not in PYTHON_CELL_MAGICS:
                continue  # %%bash, %%sql, %%writefile: not Python
            source = "\n" + body  # the line numbers stay the cell's
        try:
            found.append((number, transform(source)))
        except SyntaxError:  # IPython could not transform it: Python will say why
            found.append((number, source))
    return found


def _flakes(doc: Document, cells: list[tuple[int, str]], defined: tuple[str, ...]) -> list[Problem]:
    from pyflakes.checker import Checker

    starts, parts, line = [], [], 1
    for number, code in cells:
        code = code if code.endswith("\n") else code + "\n"
        starts.append((line, number))
        parts.append(code)
        line += code.count("\n")
    module = "".join(parts)
    tree = _TopLevelAwait().visit(compile(module, doc.shown, "exec", _FLAGS))
    checker = Checker(tree, filename=doc.shown, builtins=set(IPYTHON_NAMES) | set(defined))
    problems = []
    for message in sorted(checker.messages, key=lambda m: (m.lineno, getattr(m, "col", 0))):
        kind = type(message).__name__
        start, number = max((s for s in starts if s[0] <= message.lineno), key=lambda s: s[0])
        severity = ERROR if kind in _ERRORS else WARNING
        problems.append(doc.problem(severity, CHECK, message.message % message.message_args, number,
                                    message.lineno - start + 1))
    return problems


class _TopLevelAwait(ast.NodeTransformer):
    """``await x`` outside a function becomes ``x``: IPython runs a top-level ``await``, while
    pyflakes calls it a yield outside a function and does not look inside it."""

    def visit_Await(self, node: ast.Await) -> ast.AST:
        return self.visit(node.value)

    def _leave(self, node: ast.AST) -> ast.AST:
        return node  # inside a function an await is pyflakes' business

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _leave
