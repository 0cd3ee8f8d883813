"""nbprod.executed: what a notebook executed for real by papermill says about its run."""

from __future__ import annotations

import os
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


def _execute(folder, name, cells, parameters=PARAMS, **options):
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
                **options,
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


# -- a cell that never ends: papermill's execution_timeout ------------------------------------


@pytest.fixture(scope="module")
def timing_out(folder):
    return _execute(
        folder,
        "sleeps",
        [
            new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
            new_code_cell("import time"),
            new_code_cell("time.sleep(60)"),
            new_code_cell("after = True"),
        ],
        execution_timeout=2,
    )


def test_papermill_interrupts_a_timed_out_cell_and_the_notebook_shows_a_bare_keyboard_interrupt(timing_out):
    """The precondition: the notebook alone cannot tell a timeout from Ctrl-C."""
    _, output, error = timing_out
    assert type(error).__name__ == "CellTimeoutError"
    outputs = [o for c in load(output).cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert [(o["ename"], o["evalue"]) for o in outputs] == [("KeyboardInterrupt", "")]


def test_a_timed_out_cell_is_recorded_as_a_timeout_naming_the_cell_and_the_limit(timing_out):
    source, output, error = timing_out
    text = "".join(traceback.format_exception(error))

    found = find_error(load(output), "train", text)

    assert found.ename == "CellTimeoutError"
    assert found.cell_index == 2 and "time.sleep(60)" in source.cells[found.cell_index].source
    assert "execution_timeout (2 s)" in found.evalue
    assert found.kernel_died is False
    assert found.sentence().startswith("task 'train', cell 2 (In [")
    assert "CellTimeoutError: the cell was still running after execution_timeout (2 s)" in found.sentence()


def test_without_the_builds_timeout_a_keyboard_interrupt_stays_one(timing_out):
    _, output, _ = timing_out
    assert find_error(load(output), "train", "KeyboardInterrupt\n").ename == "KeyboardInterrupt"


def test_a_timeout_in_another_tasks_section_of_the_report_is_not_this_tasks(timing_out):
    _, output, error = timing_out
    other = ("----- NotebookRunner: other -> File('o.ipynb') -----\n" + "".join(traceback.format_exception(error))
             + "----- NotebookRunner: train -> File('t.ipynb') -----\nKeyboardInterrupt\n")
    assert find_error(load(output), "train", other).ename == "KeyboardInterrupt"
    assert find_error(load(output), "other", other).ename == "CellTimeoutError"


def test_a_timeout_before_the_interrupt_reached_the_notebook_is_the_last_started_cell():
    nb = nbformat.v4.new_notebook(cells=[new_code_cell("a = 1"), new_code_cell("slow()"), new_code_cell("b")])
    for cell, started in zip(nb.cells, (True, True, False)):
        cell.metadata["papermill"] = {"start_time": "2026-01-01T00:00:00" if started else None}
    text = "nbclient.exceptions.CellTimeoutError: A cell timed out while it was being executed, after 5 seconds."

    found = find_error(nb, "t", text)

    assert (found.ename, found.cell_index, found.kernel_died) == ("CellTimeoutError", 1, False)
    assert "(5 s)" in found.evalue


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


# -- the build's traceback: function tasks, a product never written ------------------------------
# real ploomber builds of in-memory DAGs (no kernel); the functions must be importable


TASKS = """\
from pathlib import Path


def raises(product):
    value = 1
    raise ValueError(f"bad value {value}")


def nothing(product):
    \"\"\"Runs fine and never writes its declared product.\"\"\"


def ok(product):
    Path(str(product)).write_text("ok")


SEEN = {}


def on_failure(traceback):  # a module's function: ploomber pickles the DAG, hooks included
    SEEN.update(traceback)
"""


def _build_report(folder, executor: str) -> str:
    """ploomber's on_failure traceback text (what the hooks record) for a build with two failing tasks."""
    import importlib
    import sys

    os.environ.setdefault("PLOOMBER_STATS_ENABLED", "false")
    from ploomber import DAG
    from ploomber.executors import Parallel, Serial
    from ploomber.products import File
    from ploomber.tasks import PythonCallable

    (folder / "executed_test_tasks.py").write_text(TASKS)
    sys.path.insert(0, str(folder))
    try:
        tasks = importlib.import_module("executed_test_tasks")
        dag = DAG(executor=Serial() if executor == "serial" else Parallel(processes=2))
        for name in ("raises", "nothing", "ok"):
            PythonCallable(getattr(tasks, name), File(folder / f"{name}.txt"), dag, name=name)
        dag.on_failure = tasks.on_failure
        with pytest.raises(Exception):  # noqa: PT011, B017 - ploomber's DAGBuildError
            dag.build(force=True, show_progress=False)
        return "\n".join(tasks.SEEN.values())
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("executed_test_tasks", None)


@pytest.fixture(scope="module", params=["serial", "parallel"])
def build_report(request, tmp_path_factory):
    # a long folder name: the banner's title is then wider than the terminal and ploomber draws it
    # with a single dash each side (what CI's deeper paths gave; 80 columns with no terminal)
    folder = tmp_path_factory.mktemp(f"{request.param}-{'x' * 90}")
    return folder, _build_report(folder, request.param)


def test_a_function_tasks_error_names_its_file_and_line(build_report, monkeypatch):
    from nbprod.record.executed import error_from_traceback

    folder, report = build_report
    monkeypatch.chdir(folder)  # where the build ran: the path is shown relative to it
    found = error_from_traceback(report, "raises")

    assert (found.ename, found.task) == ("ValueError", "raises")
    assert found.evalue == "bad value 1 (at executed_test_tasks.py:6, in raises)"  # line 6: the raise
    monkeypatch.chdir(folder.parent.parent)
    assert error_from_traceback(report, "raises").evalue.endswith(f"{folder.name}/executed_test_tasks.py:6, in raises)")
    assert found.sentence().startswith("task 'raises' failed: ValueError: bad value 1 (at ")


def test_a_product_never_written_is_recorded_with_ploombers_message_not_its_footer(build_report):
    from nbprod.record import recorder

    found = recorder._error_from_traceback(build_report[1], task="nothing")

    assert found.ename == "TaskBuildError"
    assert found.evalue.startswith("the task ran successfully but the product File(")
    assert "nothing.txt') is missing" in found.evalue
    assert "Need help" not in found.sentence() and "ValueError" not in found.sentence()


def test_each_failed_task_gets_its_own_error_from_the_one_report(build_report):
    from nbprod.record.executed import error_from_traceback

    _, report = build_report
    assert error_from_traceback(report, "raises").ename == "ValueError"
    assert error_from_traceback(report, "nothing").ename == "TaskBuildError"
    assert "bad value" in error_from_traceback(report, "raises").traceback
    assert "bad value" not in error_from_traceback(report, "nothing").traceback


def test_a_traceback_without_any_exception_line_keeps_its_last_real_line():
    from nbprod.record.executed import error_from_traceback

    found = error_from_traceback("=====\nsomething odd happened\nNeed help? https://ploomber.io/community", "t")

    assert (found.ename, found.evalue) == ("Error", "something odd happened")
