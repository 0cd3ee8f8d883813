"""nbprod.engine.params: a notebook's parameters cell checked before anything runs (issue 11, section 2).

In-memory ploomber tasks over notebooks written here; no kernel: nothing here
executes a cell.
"""

from __future__ import annotations

import os
import textwrap

import nbformat
import pytest

os.environ.setdefault("PLOOMBER_STATS_ENABLED", "false")
os.environ.setdefault("PLOOMBER_VERSION_CHECK_DISABLED", "true")

from ploomber import DAG  # noqa: E402
from ploomber.executors import Serial  # noqa: E402
from ploomber.products import File  # noqa: E402
from ploomber.sources.notebooksource import NotebookSource  # noqa: E402
from ploomber.spec import DAGSpec  # noqa: E402
from ploomber.tasks import NotebookRunner  # noqa: E402

from nbprod import errors  # noqa: E402
from nbprod.engine import dag as engine_dag  # noqa: E402
from nbprod.engine.params import check_params, leave_sources_alone, parameters_cells  # noqa: E402
from nbprod.errors import PipelineError  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def notebook(path, *cells, tagged=(0,)):
    """A notebook of code cells ("# md ..." makes a markdown cell); cells in ``tagged`` are tagged parameters."""
    nb = nbformat.v4.new_notebook()
    for i, source in enumerate(cells):
        cell = (nbformat.v4.new_markdown_cell(source[5:]) if source.startswith("# md ")
                else nbformat.v4.new_code_cell(source))
        if i in tagged:
            cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def one_task(tmp_path, src, **params) -> DAG:
    dag = DAG(executor=Serial(build_in_subprocess=False))
    with leave_sources_alone():
        NotebookRunner(src, File(tmp_path / "out" / f"{src.stem}.ipynb"), dag, name=src.stem, params=params)
    return dag


# -- two cells tagged parameters ----------------------------------------------------------------


def test_two_parameters_cells_are_refused_naming_the_notebook_and_both_cells(tmp_path):
    src = notebook(tmp_path / "fit.ipynb", "product = None\nn = 3", "# md the model", "print(n)", "n = 100",
                   "print(n)", tagged=(0, 3))
    dag = one_task(tmp_path, src, n=3)

    with pytest.raises(PipelineError) as caught:
        check_params(dag)

    err = caught.value
    assert err.exit_code == errors.USAGE
    assert f"task 'fit' ({src})" in err.message
    # numbered as the failure line numbers cells: 0-based, markdown counted
    assert "2 cells tagged `parameters` (cells 0 and 3)" in err.message
    assert "cell 3 would override them" in err.message
    assert "one cell" in err.hint
    assert "\n" not in str(err)


def test_three_parameters_cells_name_every_cell_and_a_task_without_params_is_refused_too(tmp_path):
    src = notebook(tmp_path / "t.ipynb", "a = 1", "b = 2", "c = 3", "print(a)", tagged=(0, 1, 2))

    with pytest.raises(PipelineError, match=r"3 cells tagged `parameters` \(cells 0, 1 and 2\)"):
        check_params(one_task(tmp_path, src))


def test_parameters_cells_skip_papermills_injected_cell_in_the_numbering():
    nb = nbformat.v4.new_notebook()
    injected = nbformat.v4.new_code_cell("n = 3")
    injected.metadata["tags"] = ["injected-parameters"]
    first, second = nbformat.v4.new_code_cell("n = 1"), nbformat.v4.new_code_cell("n = 2")
    first.metadata["tags"] = second.metadata["tags"] = ["parameters"]
    nb.cells = [first, injected, nbformat.v4.new_code_cell("x"), second]

    assert parameters_cells(nb) == [0, 2]


def test_one_parameters_cell_is_accepted(tmp_path):
    src = notebook(tmp_path / "t.ipynb", "product = None\nn = 3", "print(n)", "n = 100")

    check_params(one_task(tmp_path, src, n=4))


# -- no parameters cell -----------------------------------------------------------------------


def test_without_the_guard_ploomber_rewrites_a_notebook_without_parameters_cell(tmp_path):
    """The precondition: what leave_sources_alone prevents."""
    src = notebook(tmp_path / "plain.ipynb", "x = 1", tagged=())
    before = src.read_bytes()

    NotebookRunner(src, File(tmp_path / "out.ipynb"), DAG(), name="plain", params={"x": 2})

    assert src.read_bytes() != before
    assert parameters_cells(nbformat.read(str(src), as_version=4)) == [0]


def test_a_notebook_without_parameters_cell_given_parameters_is_refused_and_left_as_it_was(tmp_path):
    src = notebook(tmp_path / "plain.ipynb", "x = 1", tagged=())
    before = src.read_bytes()
    dag = one_task(tmp_path, src, x=2)

    with pytest.raises(PipelineError) as caught:
        check_params(dag)

    assert src.read_bytes() == before
    err = caught.value
    assert f"task 'plain' ({src}) got parameter(s) x but has no cell tagged `parameters`" in err.message
    assert "add a cell tagged `parameters`" in err.hint


def test_a_notebook_without_parameters_cell_and_no_parameters_is_accepted_as_it_is(tmp_path):
    src = notebook(tmp_path / "plain.ipynb", "x = 1", tagged=())
    before = src.read_bytes()

    check_params(one_task(tmp_path, src))

    assert src.read_bytes() == before


def spec(tmp_path, body: str):
    path = tmp_path / "pipeline.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def test_when_ploomber_reads_upstream_from_the_cell_a_notebook_without_one_is_refused_at_load(tmp_path):
    src = notebook(tmp_path / "plain.ipynb", "x = 1", tagged=())
    before = src.read_bytes()
    path = spec(tmp_path, "tasks:\n  - source: plain.ipynb\n    product: out/plain.ipynb\n")

    with leave_sources_alone(), pytest.raises(Exception) as caught:  # noqa: PT011 - ploomber may wrap it
        DAGSpec(str(path)).to_dag()

    assert src.read_bytes() == before
    err = engine_dag.as_pipeline_error(caught.value)
    assert isinstance(err, PipelineError)
    assert err.message.startswith(f"{src} has no cell tagged `parameters`")
    assert "upstream = None" in err.hint


def test_leave_sources_alone_restores_ploombers_method_even_after_an_error():
    original = NotebookSource._validate_parameters_cell
    with pytest.raises(RuntimeError), leave_sources_alone():
        assert NotebookSource._validate_parameters_cell is not original
        raise RuntimeError("load failed")

    assert NotebookSource._validate_parameters_cell is original


def test_after_ploomber_added_its_placeholder_cell_the_error_says_so(tmp_path):
    """Plain `ploomber build`: the rewrite happens while pipeline.yaml loads, before any nbprod code."""
    notebook(tmp_path / "plain.ipynb", "x = 1", tagged=())
    path = spec(tmp_path, "tasks:\n  - source: plain.ipynb\n    product: out/plain.ipynb\n    params: {x: 2}\n")
    dag = DAGSpec(str(path)).to_dag()  # ploomber adds its placeholder cell to plain.ipynb

    with pytest.raises(PipelineError) as caught:
        check_params(dag)

    assert "got parameter(s) x that its parameters cell does not declare" in caught.value.message
    assert "placeholder ploomber adds" in caught.value.message


def test_a_parameters_cell_of_the_users_own_is_not_called_a_placeholder(tmp_path):
    src = notebook(tmp_path / "t.ipynb", "upstream = None\nalpha = 1", "print(alpha)")

    with pytest.raises(PipelineError) as caught:
        check_params(one_task(tmp_path, src, alhpa=2))

    assert "placeholder" not in caught.value.message
