"""nbprod.runner.checks: what papermill is about to inject, against the parameters cell (no kernel)."""

from __future__ import annotations

import nbformat
import pytest

from nbprod.errors import ConfigError
from nbprod.runner.checks import check


def notebook(*sources: str, tagged=(0,)):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s, metadata={"tags": ["parameters"]} if i in tagged else {})
                for i, s in enumerate(sources)]
    return nb


CELL = 'factor = 2  # scale\nyears: int | str | list = "2007"  # years\nC = 1.0  # reg\n'


def refused(nb, given) -> str:
    with pytest.raises(ConfigError) as caught:
        check(nb, given, "job.ipynb")
    assert caught.value.exit_code == 2
    return str(caught.value)


def test_an_undeclared_parameter_is_refused_naming_it_and_the_declared_names():
    assert refused(notebook(CELL), {"yeras": 2008}) == (
        "job.ipynb got parameter(s) yeras that its parameters cell does not declare (it declares: C, factor, "
        "years): fix the parameter's name (-p NAME VALUE) or declare it in the notebook's parameters cell")


def test_a_mistyped_parameter_is_refused_naming_it_and_its_type():
    text = refused(notebook(CELL), {"factor": "2x"})
    assert text.startswith("job.ipynb: `factor` is declared as an int but got the str '2x': pass a value of")


@pytest.mark.parametrize("given", [{"factor": 3}, {"C": 1}, {"years": 2008}, {"years": "2007,2008"},
                                   {"years": [2008]}, {}, {"factor": None},
                                   {"PAPERMILL_INPUT_PATH": "in.ipynb", "PAPERMILL_OUTPUT_PATH": "o.ipynb"}])
def test_declared_values_of_the_declared_type_pass(given):
    check(notebook(CELL), given, "job.ipynb")


def test_an_annotation_refuses_what_it_does_not_list():
    assert "`years` is annotated `int | str | list` but got the float 2.5" in refused(notebook(CELL), {"years": 2.5})


def test_parameters_without_a_parameters_cell_and_two_cells_are_refused():
    assert "has no cell tagged `parameters`" in refused(notebook("x = 1", tagged=()), {"x": 1})
    assert "has 2 cells tagged `parameters`" in refused(notebook("x = 1", "x = 2", tagged=(0, 1)), {})
    check(notebook("x = 1", tagged=()), {}, "job.ipynb")  # nothing given: nothing to check
