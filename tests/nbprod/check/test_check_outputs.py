"""nbprod check: outputs, execution counts, papermill's cells and metadata in a source notebook;
``--fix`` strips exactly those, keeping cell ids, tags and other metadata."""

from __future__ import annotations

import json

import nbformat
import pytest
from checkkit import cell, nbprod_check, notebook, params_cell

from nbprod.check.run import check

STREAM = {"output_type": "stream", "name": "stdout", "text": "120 rows\n"}
RESULT = {"output_type": "execute_result", "execution_count": 3, "metadata": {},
          "data": {"text/plain": "0.97"}}


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def executed_notebook(path):
    """A source notebook someone committed after running it with papermill."""
    return notebook(
        path,
        cell("# Train", kind="markdown", id="title"),
        params_cell("factor = 2  # how much"),
        cell("factor = 3", tags=("injected-parameters",), id="injected"),
        cell("print(120)", id="load", outputs=[STREAM], count=2, papermill={"status": "completed"},
             execution={"iopub.status.idle": "2026-12-01T10:00:00Z"}),
        cell("score = 0.97\nscore", id="fit", tags=("keep-me",), outputs=[RESULT], count=3, collapsed=True),
        cell("x = 1", id="counted", count=4),
        papermill={"parameters": {"factor": 3}}, ploomber={"injected_manually": True},
    )


def test_committed_execution_state_is_reported_by_cell(here):
    executed_notebook(here / "train.ipynb")
    found = [p.text() for p in check(["train.ipynb"]).problems if p.check == "outputs"]
    assert found == [
        "train.ipynb: error: execution metadata committed (metadata.papermill, metadata.ploomber, "
        "a cell's metadata.papermill, a cell's metadata.execution): `nbprod check --fix` removes it",
        "train.ipynb: cell 2 (id injected): error: papermill's injected cell is left in the source notebook "
        "(run in JupyterLab it overrides the defaults): `nbprod check --fix` removes it",
        "train.ipynb: cell 3 (id load): error: 1 output committed: `nbprod check --fix` strips it",
        "train.ipynb: cell 3 (id load): warning: execution count 2 committed: `nbprod check --fix` clears it",
        "train.ipynb: cell 4 (id fit): error: 1 output committed: `nbprod check --fix` strips it",
        "train.ipynb: cell 4 (id fit): warning: execution count 3 committed: `nbprod check --fix` clears it",
        "train.ipynb: cell 5 (id counted): warning: execution count 4 committed: `nbprod check --fix` clears it",
    ]


def test_a_clean_notebook_has_no_outputs_problem(here):
    notebook(here / "clean.ipynb", params_cell("factor = 2  # how much"), "y = factor * 2")
    assert check(["clean.ipynb"]).problems == ()


def test_fix_strips_in_place_and_keeps_ids_tags_and_other_metadata(here):
    path = executed_notebook(here / "train.ipynb")
    result = check(["train.ipynb"], fix=True)
    assert [p for p in result.problems if p.check == "outputs"] == []
    (fixed,) = result.fixed
    assert fixed.path == "train.ipynb"
    assert fixed.what == ("1 injected cell", "the outputs of 2 cells", "3 execution counts", "metadata.papermill",
                          "metadata.ploomber", "a cell's metadata.papermill", "a cell's metadata.execution")
    nb = nbformat.read(path, as_version=4)
    assert [c.id for c in nb.cells] == ["title", "parameters", "load", "fit", "counted"]  # not renumbered
    assert [c.get("outputs", []) for c in nb.cells if c.cell_type == "code"] == [[], [], [], []]
    assert [c.get("execution_count") for c in nb.cells if c.cell_type == "code"] == [None] * 4
    assert nb.cells[1].metadata == {"tags": ["parameters"]}
    assert nb.cells[3].metadata == {"tags": ["keep-me"], "collapsed": True}
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert "papermill" not in nb.metadata and "ploomber" not in nb.metadata
    assert nb.nbformat_minor == 5 and nbformat.validate(nb) is None


def test_fix_leaves_a_clean_notebook_untouched(here):
    path = notebook(here / "clean.ipynb", params_cell("factor = 2  # how much"), "y = factor * 2")
    before = path.read_bytes(), path.stat().st_mtime_ns
    assert check(["clean.ipynb"], fix=True).fixed == ()
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_fix_keeps_a_notebook_without_ids_without_ids(here):
    """nbformat 4.4 notebooks have no cell ids; --fix must not make some up."""
    path = here / "old.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "execution_count": 7, "metadata": {},
                                           "outputs": [STREAM], "source": ["print(1)"]}],
                                "metadata": {}, "nbformat": 4, "nbformat_minor": 4}))
    check(["old.ipynb"], fix=True)
    data = json.loads(path.read_text())
    assert data["cells"] == [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                              "source": ["print(1)"]}]


def test_the_command_fixes_then_passes(here):
    executed_notebook(here / "train.ipynb")
    before = nbprod_check(here, "train.ipynb")
    assert before.returncode == 4, before.stderr
    fixed = nbprod_check(here, "--fix", "train.ipynb")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "nbprod: train.ipynb: fixed: stripped 1 injected cell, the outputs of 2 cells" in fixed.stderr
    assert nbprod_check(here, "train.ipynb").returncode == 0


def test_an_unreadable_notebook_is_one_error(here):
    (here / "broken.ipynb").write_text('{"cells": [')
    (problem,) = check(["broken.ipynb"]).problems
    assert problem.text().startswith("broken.ipynb: error: not a readable notebook (")
