"""nbprod.parameters: the parameters cell's names, defaults, help text and types (annotations too)."""

from __future__ import annotations

import nbformat
import pytest

from nbprod.parameters import UNKNOWN, declare, declared_names, expected, mistyped, parameters_cells

CELL = '''\
# Defaults run as-is
years: int | str | list = "2007,2008,2009"  # survey years in the batch
factor = 2  # how much to scale
C = 1.0  # regularisation
label = "run"
flags = [1, 2]
verbose = False  # say more
extra = None  # anything
computed = len("abc")  # not a literal
low, high = 0, 10  # the range
'''


def item(source: str, name: str = "x"):
    return declare(source)[name]


def test_defaults_lines_and_help_text():
    found = declare(CELL)
    assert found["factor"].default == 2 and found["factor"].line == 3 and found["factor"].help == "how much to scale"
    assert found["years"].default == "2007,2008,2009" and found["years"].annotation == "int | str | list"
    assert found["label"].help is None
    assert found["computed"].default is UNKNOWN
    assert found["low"].default is UNKNOWN and found["high"].help == "the range"  # a tuple assignment declares both
    assert found["years"].help == "survey years in the batch"


def test_help_of_a_default_spread_over_lines_is_any_of_its_lines_comment():
    found = declare('product = {\n    "nb": "out.ipynb",  # the executed notebook\n}\n')
    assert found["product"].help == "the executed notebook"


@pytest.mark.parametrize("value, reason", [
    (3, None), (2.5, "float"), (True, "bool"), ("3x", "str"), (None, None),
])
def test_without_an_annotation_the_default_rules(value, reason):
    got = mistyped(item(CELL, "factor"), value)
    assert (got is None) == (reason is None), got
    if reason:
        assert got == f"`factor` is declared as an int but got the {reason} {value!r}"


@pytest.mark.parametrize("name, value, ok", [
    ("C", 1, True), ("C", 0.5, True), ("C", "0.5", False), ("C", False, False),  # a float accepts an int
    ("verbose", True, True), ("verbose", 1, False),
    ("flags", (1,), True), ("flags", "1,2", False),  # list and tuple interchangeable
    ("extra", "anything", True), ("computed", 5, True),  # None and non-literal defaults are not judged
])
def test_default_types(name, value, ok):
    assert (mistyped(item(CELL, name), value) is None) == ok


@pytest.mark.parametrize("value, ok", [
    (2008, True), ("2007,2008", True), ([2008], True), ((2008,), True),
    (2008.0, False), (True, False), ({"a": 1}, False),
])
def test_a_union_annotation_declares_the_accepted_types(value, ok):
    years = item(CELL, "years")
    assert (mistyped(years, value) is None) == ok
    if not ok:
        assert mistyped(years, value).startswith("`years` is annotated `int | str | list` but got the ")


@pytest.mark.parametrize("annotation, value, ok", [
    ("Optional[int]", 3, True), ("Optional[int]", None, True), ("Optional[int]", "3", False),
    ("typing.Optional[float]", 3, True),
    ("Union[int, str]", "a", True), ("Union[int, str]", 1.5, False),
    ("list[int]", [1, "a"], True), ("list[int]", 1, False),  # items are not judged
    ("'int | None'", 1, True), ("'int | None'", "x", False),
    ("bool", True, True), ("int", True, False), ("int | bool", True, True),
    ("float", 1, True), ("dict", {}, True), ("dict", [], False),
    ("Any", object(), True), ("Path", 3, True), ("int | Any", "x", True),  # not judged
])
def test_annotations(annotation, value, ok):
    declared = item(f"x: {annotation} = None  # something\n")
    assert (mistyped(declared, value) is None) == ok


def test_the_annotation_wins_over_the_default():
    declared = item('x: int | str = "a"\n')
    assert mistyped(declared, 3) is None
    assert expected(declared).described == "int | str"
    assert expected(item("x: int = 1\n")).described == "an int"
    assert expected(item("x: Any = 1\n")) is None


def test_a_magic_in_the_cell_leaves_names_defaults_and_help_readable():
    source = "%load_ext autoreload\nfactor = 2  # how much\n!echo hi\n"
    assert declared_names(source) == {"factor"}
    assert declare(source)["factor"].help == "how much" and declare(source)["factor"].line == 2


def test_not_python_declares_nothing():
    assert declared_names("factor = = 2") is None
    assert declare("factor = = 2") == {}


def test_parameters_cells_skip_papermills_injected_cell():
    nb = nbformat.v4.new_notebook()
    tagged = [["parameters"], ["injected-parameters"], [], ["parameters"]]
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": tags}) for tags in tagged]
    assert parameters_cells(nb) == [0, 2]
