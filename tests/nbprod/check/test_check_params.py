"""nbprod check: the parameters cell against what the pipeline passes (pipeline.yaml params,
env.yaml, which are also --env--'s defaults): one cell, every name declared, values of the
declared type, help text."""

from __future__ import annotations

import pytest
from checkkit import cell, notebook, params_cell, pipeline, task

from nbprod.check.run import check

DECLARED = """\
upstream = None
product = None
factor = 2  # how much to scale
seed = 42  # the split's seed
C = 1.0  # regularisation
years = [2007, 2008]  # survey years
label = "run"  # what to call it
verbose = False  # say more
extra = None  # anything
"""


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ENTRY_POINT", raising=False)
    return tmp_path


def project(folder, params: dict, source: str = DECLARED, *cells, env: dict | None = None):
    notebook(folder / "notebooks/train.ipynb", params_cell(source), *(cells or ("x = 1",)))
    pipeline(folder, [task("train", params=params)], env=env)


def parameter_problems(**kw):
    return [p.text() for p in check(**kw).problems if p.check == "parameters"]


def test_a_string_where_a_number_is_declared_is_an_error(here):
    """papermill and ploomber accept factor='2x' for a default of 2; the run multiplies strings."""
    project(here, {"factor": "{{factor}}"}, env={"factor": "2x"})
    assert parameter_problems() == [
        "notebooks/train.ipynb: cell 0 (id parameters): error: line 3: `factor` is declared as an int but task "
        "'train' passes the str '2x': papermill injects it as it is, so the notebook runs on a str where it "
        "expects an int"]


@pytest.mark.parametrize("name, value, passed", [
    ("factor", 3, None), ("factor", 2.5, "float"), ("factor", True, "bool"), ("factor", "3x", "str"),
    ("factor", "3", None),  # ploomber renders the string "3" as the int 3: what the notebook gets is judged
    ("C", 1, None), ("C", 0.5, None), ("C", "0.5x", "str"), ("C", False, "bool"),
    ("seed", 7, None), ("seed", "{{seed}}", None),  # env.yaml's seed: 7, YAML's int
    ("years", [2009], None), ("years", "2009", "int"), ("years", {"a": 1}, "dict"),
    ("label", "other", None), ("label", 5, "int"),
    ("verbose", True, None), ("verbose", 1, "int"),
    ("extra", "anything", None),  # a None default is not judged
    ("factor", None, None),  # nor is None passed
])
def test_a_value_must_have_the_declared_type(here, name, value, passed):
    project(here, {name: value}, env={"seed": 7})
    found = parameter_problems()
    assert len(found) == (passed is not None), found
    if passed:
        assert f"`{name}` is declared as " in found[0] and f"passes the {passed} " in found[0]


@pytest.mark.parametrize("value, passed", [("2008", None), (2008, None), ([2008], None), ({"y": 2008}, "dict"),
                                           (2008.5, "float")])
def test_an_annotation_says_which_types_a_parameter_accepts(here, value, passed):
    project(here, {"years": value}, 'upstream = None\nproduct = None\nyears: int | str | list = "2008"  # years\n')
    found = parameter_problems()
    assert len(found) == (passed is not None), found
    if passed:
        assert "`years` is declared as " in found[0] and f"passes the {passed} " in found[0]


def test_a_parameter_the_cell_does_not_declare_is_an_error(here):
    project(here, {"seeds": 1, "factor": 3})
    assert parameter_problems() == [
        "notebooks/train.ipynb: cell 0 (id parameters): error: task 'train' passes seeds, which this cell does "
        "not declare (it declares: C, extra, factor, label, product, seed, upstream, verbose, years): a misspelt "
        "name leaves the notebook on its default"]


def test_a_tuple_assignment_declares_both_names(here):
    project(here, {"low": 1, "high": 2}, "upstream = None\nproduct = None\nlow, high = 0, 10  # the range\n")
    assert parameter_problems() == []


def test_a_second_parameters_cell_is_an_error(here):
    project(here, {"factor": 3}, DECLARED, cell("factor = 5  # again", tags=("parameters",), id="again"), "y = 1")
    assert parameter_problems() == [
        "notebooks/train.ipynb: cell 1 (id again): error: a second cell tagged `parameters` (the first is cell 0): "
        "papermill injects the pipeline's values after the first one, so this one overrides them: keep the tag "
        "on one cell"]


def test_no_parameters_cell_is_an_error_when_the_pipeline_passes_parameters(here):
    notebook(here / "notebooks/train.ipynb", "upstream = None\nproduct = None", "x = factor")
    pipeline(here, [task("train", params={"factor": 3})])
    assert parameter_problems() == [
        "notebooks/train.ipynb: error: no cell tagged `parameters`, but task 'train' passes factor: add one "
        "that declares them with their defaults"]


def test_no_parameters_cell_is_fine_when_nothing_is_passed(here):
    notebook(here / "notebooks/train.ipynb", "x = 1")
    pipeline(here, [task("train")])
    assert parameter_problems() == []


def test_a_parameter_without_help_text_is_a_warning(here):
    source = "upstream = None\nproduct = None\nfactor = 2\n# the seed\nseed = 42\nC = 1.0  # regularisation\n"
    project(here, {"factor": 3}, source)
    result = check()
    assert [p.text() for p in result.problems if p.check == "parameters"] == [
        "notebooks/train.ipynb: cell 0 (id parameters): warning: line 3: parameter `factor` has no help text: add "
        "a comment on its line (`factor = ...  # what it is`), which `papermill --help-notebook` shows",
        "notebooks/train.ipynb: cell 0 (id parameters): warning: line 5: parameter `seed` has no help text: add "
        "a comment on its line (`seed = ...  # what it is`), which `papermill --help-notebook` shows"]
    assert result.errors == 0 and not result.failed() and result.failed(strict=True)


def test_a_notebook_outside_the_pipeline_is_checked_for_its_cells_alone(here):
    notebook(here / "scratch.ipynb", params_cell("a = 1  # one"), cell("b = 2  # two", tags=("parameters",), id="b"))
    assert parameter_problems(paths=["scratch.ipynb"]) == [
        "scratch.ipynb: cell 1 (id b): error: a second cell tagged `parameters` (the first is cell 0): papermill "
        "injects the pipeline's values after the first one, so this one overrides them: keep the tag on one cell"]
