"""A notebook's parameters cell: the names it declares, their defaults, help text and types.

One home for these rules, so the build (:mod:`nbprod.engine.params`), ``nbprod
check`` (:mod:`nbprod.check.params`) and a notebook run by papermill
(:mod:`nbprod.runner`) agree on what "declared" and "of the declared type" mean.
Pure: the cell's text is read with ``ast``/``tokenize`` (and IPython's own
transform, so a ``%magic`` line is valid in a cell); nothing here runs a kernel
or knows ploomber or papermill.

Types. A parameter's annotation says what it accepts
(``years: int | str | list = "2007,2008,2009"`` for a deliberately polymorphic
one): the names ``int``, ``float``, ``str``, ``bool``, ``list``, ``tuple``,
``dict`` and ``None``, joined by ``|`` or in ``Optional[...]``/``Union[...]``;
``list[int]`` is a list (items are not judged); ``Any``, or a name not listed,
is not judged. Without an annotation the default's type rules: a float accepts
an int, a bool is not an int (``True`` is one to Python, not to a notebook that
computes with it), a list and a tuple are interchangeable; a ``None`` default or
one that is not a literal is not judged. A ``None`` value is never judged.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

#: a default that is not a literal (``x = compute()``)
UNKNOWN: Any = type("Unknown", (), {"__repr__": lambda self: "<not a literal>"})()

#: a type name -> (its name in messages, the Python types it accepts)
_FAMILIES: dict[str, tuple[str, tuple[type, ...]]] = {
    "bool": ("a bool", (bool,)),
    "int": ("an int", (int,)),
    "float": ("a float", (int, float)),
    "str": ("a str", (str,)),
    "list": ("a list", (list, tuple)),
    "tuple": ("a tuple", (list, tuple)),
    "dict": ("a dict", (dict,)),
    "None": ("None", (type(None),)),
}
_BY_TYPE = {bool: "bool", int: "int", float: "float", str: "str", list: "list", tuple: "tuple", dict: "dict"}
_ALIASES = {"List": "list", "Tuple": "tuple", "Dict": "dict", "NoneType": "None", "Sequence": "list",
            "Mapping": "dict"}


@dataclass(frozen=True)
class Declared:
    """One name a parameters cell assigns."""

    name: str
    default: Any  # the literal default, or UNKNOWN
    line: int  # 1-based, in the cell
    help: str | None  # the comment on its line(s)
    annotation: str | None = None  # as written (``int | str | list``)


@dataclass(frozen=True)
class Expected:
    """The types a declared parameter accepts."""

    names: tuple[str, ...]  # type names, in the order declared

    @property
    def described(self) -> str:
        """``an int`` (one type), ``int | str | list`` (several)."""
        if len(self.names) == 1:
            return _FAMILIES[self.names[0]][0]
        return " | ".join(self.names)

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) and "bool" not in self.names:
            return False  # True is an int to Python, not to a notebook that computes with it
        return any(isinstance(value, _FAMILIES[name][1]) for name in self.names)


# -- names -----------------------------------------------------------------------------------
def parameters_cells(nb) -> list[int]:
    """Indexes of the cells tagged ``parameters``, papermill's injected cell not counted."""
    found = []
    index = 0
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", []) or []
        if "injected-parameters" in tags:
            continue
        if "parameters" in tags:
            found.append(index)
        index += 1
    return found


def parameters_source(nb) -> str | None:
    """The source of the first cell tagged ``parameters`` (None: the notebook has none)."""
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", []) or []
        if "parameters" in tags and "injected-parameters" not in tags:
            return cell.source
    return None


def declared_names(source: str) -> set[str] | None:
    """Names a parameters cell assigns (``low, high = 0, 10`` declares both), or None if not Python."""
    tree = _parse(source)
    if tree is None:
        return None
    return {
        node.id
        for assign in ast.walk(tree)
        if isinstance(assign, (ast.Assign, ast.AnnAssign))
        for target in (assign.targets if isinstance(assign, ast.Assign) else [assign.target])
        for node in ast.walk(target)
        if isinstance(node, ast.Name)
    }


# -- defaults, help, annotations ----------------------------------------------------------------
def declare(source: str) -> dict[str, Declared]:
    """Top-level assignments of a cell: name -> :class:`Declared` ({} when not Python)."""
    tree = _parse(source)
    if tree is None:
        return {}
    comments = _comments(source)
    found: dict[str, Declared] = {}
    for node in tree.body:
        annotation = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
            annotation = ast.unparse(node.annotation)
        else:
            continue
        single = len(targets) == 1 and isinstance(targets[0], ast.Name)
        default = _literal(value) if single else UNKNOWN
        lines = range(node.lineno, (node.end_lineno or node.lineno) + 1)
        help_text = next((comments[n] for n in lines if comments.get(n)), None)
        for target in targets:
            for name in (n.id for n in ast.walk(target) if isinstance(n, ast.Name)):
                found[name] = Declared(name, default, node.lineno, help_text, annotation)
    return found


def expected(item: Declared) -> Expected | None:
    """What ``item`` accepts: from its annotation, else its default's type (None: not judged)."""
    if item.annotation is not None:
        names = _annotation_types(item.annotation)
        return Expected(tuple(dict.fromkeys(names))) if names else None
    if item.default is UNKNOWN or item.default is None:
        return None
    name = _BY_TYPE.get(type(item.default))
    return Expected((name,)) if name else None


def mistyped(item: Declared, value: Any) -> str | None:
    """Why ``value`` is not of ``item``'s declared type, in one line (None: it is, or not judged)."""
    kind = expected(item)
    if kind is None or value is None or kind.accepts(value):
        return None
    how = f"annotated `{item.annotation}`" if item.annotation is not None else f"declared as {kind.described}"
    return f"`{item.name}` is {how} but got the {type(value).__name__} {shown(value)}"


def shown(value: Any) -> str:
    """``repr(value)``, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _annotation_types(text: str) -> list[str] | None:
    """Type names an annotation allows; None when any part is not judged (Any, unknown)."""
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return None
    names: list[str] = []

    def walk(node: ast.AST) -> bool:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return walk(node.left) and walk(node.right)
        if isinstance(node, ast.Constant) and node.value is None:
            names.append("None")
            return True
        if isinstance(node, ast.Constant) and isinstance(node.value, str):  # "int | str": a forward reference
            inner = _annotation_types(node.value)
            names.extend(inner or [])
            return inner is not None
        if isinstance(node, ast.Subscript):
            outer = _name(node.value)
            if outer in ("Optional", "Union"):
                items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
                if outer == "Optional":
                    names.append("None")
                return all(walk(item) for item in items)
            return walk(node.value)  # list[int] -> list
        name = _name(node)
        name = _ALIASES.get(name, name) if name else None
        if name in _FAMILIES:
            names.append(name)
            return True
        return False  # Any, or a name this module does not judge

    return names if walk(node) else None


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):  # typing.Optional
        return node.attr
    return None


def _parse(source: str) -> ast.Module | None:
    from IPython.core.inputtransformer2 import TransformerManager

    try:  # IPython's own transform: a `%magic` line is valid in a cell, not in Python
        return ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return None


def _literal(node: ast.AST) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return UNKNOWN


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
