"""nbprod.executed: what a notebook executed for real by papermill says about its run."""

from __future__ import annotations

import traceback
from datetime import datetime

import nbformat
import papermill
import pytest
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from papermill.exceptions import PapermillExecutionError

from nbprod.record import executed
from nbprod.record.executed import find_error, load, strip_ansi, timing

PARAMS = {"x": 5}


def _write(path, cells):
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return nb


def _execute(folder, name, cells, parameters=PARAMS):
    """Write ``<name>.ipynb``, run it with papermill; (source nb, output path, exception or None)."""
    source = folder / f"{name}.ipynb"
    output = folder / f"{name}.out.ipynb"
    nb = _write(source, cells)
    error = None
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLOOMBER_STATS_ENABLED", "false")
        try:
            papermill.execute_notebook(
                str(source),
                str(output),
                parameters=parameters,
                kernel_name="python3",
                progress_bar=False,
                cwd=str(folder),
            )
        except Exception as err:  # noqa: BLE001 - the tests look at which one
            error = err
    return nb, output, error


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("executed")


@pytest.fixture(scope="module")
def raising(folder):
    return _execute(
        folder,
        "broken",
        [
            new_markdown_cell("# a notebook that raises"),
            new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
            new_code_cell("y = x * 2"),
            new_code_cell("z = y + 1\nraise ValueError('boom')"),
            new_code_cell("never = True"),
        ],
    )


@pytest.fixture(scope="module")
def dying(folder):
    return _execute(
        folder,
        "dies",
        [
            new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
            new_code_cell("y = 2"),
            new_code_cell("import os; os._exit(1)"),
            new_code_cell("z = 3"),
        ],
    )


@pytest.fixture(scope="module")
def clean(folder):
    return _execute(
        folder,
        "clean",
        [
            new_markdown_cell("# fine"),
            new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
            new_code_cell(""),
            new_code_cell("print('skipped')", metadata={"tags": ["skip-execution"]}),
            new_code_cell("import time; time.sleep(0.2); y = x + 1"),
            new_code_cell("y"),
        ],
    )


# -- a cell that raises ------------------------------------------------------------------


def test_papermill_raises_and_writes_the_failed_notebook(raising):
    _, output, error = raising
    assert isinstance(error, PapermillExecutionError)
    assert output.is_file()
    nb = load(output)
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    assert ["injected-parameters"] in tags  # precondition: papermill injected a cell


def test_find_error_for_a_raising_cell(raising):
    source, output, _ = raising
    nb = load(output)
    error = find_error(nb, "train")
    assert error is not None
    assert error.task == "train"
    assert error.ename == "ValueError"
    assert error.evalue == "boom"
    assert error.kernel_died is False
    # counted in the source notebook: markdown counts, papermill's injected cells do not
    assert error.cell_index == 3
    assert "raise ValueError('boom')" in source.cells[error.cell_index].source
    assert "raise ValueError('boom')" in error.cell_source


def test_execution_count_is_the_in_number_jupyter_shows(raising):
    _, output, _ = raising
    nb = load(output)
    failed = [c for c in nb.cells if c.cell_type == "code" and "boom" in c.source]
    assert len(failed) == 1
    error = find_error(nb, "train")
    # parameters (1), injected parameters (2), y (3), the failing cell (4)
    assert error.execution_count == failed[0].execution_count == 4


def test_traceback_has_no_ansi_codes(raising):
    _, output, _ = raising
    nb = load(output)
    raw = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert any("\x1b[" in line for line in raw[0]["traceback"])  # precondition: IPython colours it
    error = find_error(nb, "train")
    assert "\x1b" not in error.traceback
    assert "ValueError: boom" in error.traceback
    assert "raise ValueError('boom')" in error.traceback


def test_sentence_for_the_raising_notebook(raising):
    _, output, _ = raising
    sentence = find_error(load(output), "train").sentence()
    assert sentence == "task 'train', cell 3 (In [4]) failed: ValueError: boom"


def test_find_error_without_injected_parameters(folder):
    source, output, error = _execute(
        folder,
        "broken-no-params",
        [new_code_cell("a = 1"), new_code_cell("{}['missing']")],
        parameters=None,
    )
    assert isinstance(error, PapermillExecutionError)
    found = find_error(load(output), "t")
    assert found.ename == "KeyError"
    assert found.cell_index == 1
    assert found.execution_count == 2


# -- a kernel that dies ---------------------------------------------------------------------


def test_papermill_reports_the_dead_kernel_and_writes_the_notebook(dying):
    _, output, error = dying
    assert isinstance(error, DeadKernelError)
    assert output.is_file()


def test_find_error_for_a_dead_kernel(dying):
    source, output, _ = dying
    error = find_error(load(output), "train")
    assert error is not None
    assert error.kernel_died is True
    assert error.task == "train"
    assert error.cell_index == 2
    assert "os._exit(1)" in source.cells[error.cell_index].source
    assert "os._exit(1)" in error.cell_source
    sentence = error.sentence()
    assert sentence.startswith("task 'train', cell 2")
    assert "kernel died" in sentence


def test_find_error_for_a_dead_kernel_in_the_last_cell_given_the_build_traceback(folder):
    source, output, error = _execute(
        folder,
        "dies-last",
        [new_code_cell("x = 1", metadata={"tags": ["parameters"]}), new_code_cell("import os; os._exit(3)")],
    )
    assert isinstance(error, DeadKernelError)
    text = "".join(traceback.format_exception(error))
    found = find_error(load(output), "train", text)
    assert found.kernel_died is True
    assert found.cell_index == 1


def test_find_error_for_a_dead_kernel_after_an_empty_cell(folder):
    _, output, error = _execute(
        folder,
        "dies-after-empty",
        [
            new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
            new_code_cell(""),
            new_code_cell("import os; os._exit(1)"),
            new_code_cell("z = 3"),
        ],
    )
    assert isinstance(error, DeadKernelError)
    found = find_error(load(output), "train")
    assert found is not None and found.kernel_died is True
    assert found.cell_index == 2


# -- a clean run -------------------------------------------------------------------------------


def test_clean_notebook_has_no_error(clean):
    _, output, error = clean
    assert error is None
    assert find_error(load(output), "report") is None


def test_timing_of_an_executed_notebook(clean):
    _, output, _ = clean
    start, end, duration = timing(load(output))
    started, ended = datetime.fromisoformat(start), datetime.fromisoformat(end)
    assert started.tzinfo is not None
    assert started < ended
    assert duration >= 0.2  # the notebook sleeps 0.2 s
    assert abs(duration - (ended - started).total_seconds()) < 0.5


def test_timing_computes_the_duration_when_missing(clean):
    _, output, _ = clean
    nb = load(output)
    del nb.metadata.papermill["duration"]
    start, end, duration = timing(nb)
    expected = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    assert duration == pytest.approx(expected)


def test_timing_of_a_notebook_papermill_never_ran(tmp_path):
    path = tmp_path / "plain.ipynb"
    _write(path, [new_code_cell("1")])
    assert timing(load(path)) == (None, None, None)


def test_timing_of_a_failed_notebook(raising):
    _, output, _ = raising
    start, end, duration = timing(load(output))
    assert start and end
    assert duration > 0


# -- helpers ------------------------------------------------------------------------------------


def test_strip_ansi():
    assert strip_ansi("\x1b[31mValueError\x1b[39m: \x1b[38;5;28;01mboom\x1b[0m") == "ValueError: boom"
    assert strip_ansi("plain") == "plain"


def test_load_reads_nbformat_4(tmp_path):
    path = tmp_path / "n.ipynb"
    _write(path, [new_code_cell("1")])
    nb = load(str(path))
    assert nb.nbformat == 4
    assert nb.cells[0].source == "1"
    assert executed.load(path).cells[0].cell_type == "code"
