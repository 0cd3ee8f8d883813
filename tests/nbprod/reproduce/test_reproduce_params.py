"""nbprod.engine.replay.recorded_params_win: every task gets the parameters its run recorded,
on an in-memory ploomber DAG of Python callables (no kernel), or one line says why not."""

from __future__ import annotations

import pytest

from nbprod.engine.replay import recorded_params_win
from nbprod.errors import NotReproducibleError


def fit(product, n, path, when=None):
    pass


@pytest.fixture
def dag(tmp_path):
    from ploomber import DAG
    from ploomber.products import File
    from ploomber.tasks import PythonCallable

    dag = DAG()
    PythonCallable(fit, File(tmp_path / "out.txt"), dag, name="fit",
                   params={"n": 7, "path": "/tmp/reproduction/project/data/x.csv"})
    return dag


MOVED = [("/home/ada/project", "/tmp/reproduction/project")]


def test_a_value_that_renders_otherwise_now_is_replaced_by_the_recorded_one(dag):
    said = []
    recorded_params_win(dag, {"fit": {"n": 2, "path": "/home/ada/project/data/x.csv"}}, MOVED, said.append)
    assert dict(dag["fit"].params) == {"n": 2, "path": "/tmp/reproduction/project/data/x.csv"}
    # the path under the original project is the same path under the reproduction's: not a difference
    assert said == ["nbprod: task 'fit', parameter 'n' renders as 7 here, recorded 2: the recorded value is used"]


def test_the_same_values_change_nothing(dag):
    said = []
    recorded_params_win(dag, {"fit": {"n": 7, "path": "/home/ada/project/data/x.csv"}}, MOVED, said.append)
    assert said == [] and dag["fit"].params["n"] == 7


@pytest.mark.parametrize("recorded, message", [
    ({"fit": {"n": 2}}, "task 'fit', parameter 'path': the pipeline passes it now, the run did not record it"),
    ({"fit": {"n": 7, "path": "/home/ada/project/data/x.csv", "seed": 1}},
     "task 'fit', parameter 'seed': recorded, but the pipeline no longer passes it"),
    ({"fit": {"n": "[redacted:API_TOKEN]", "path": "/home/ada/project/data/x.csv"}},
     "task 'fit', parameter 'n': its recorded value was redacted (it held a secret value), so it cannot be given again"),
    ({"fit": {"n": 7, "path": "/home/ada/project/data/x.csv"}, "gone": {}},
     "task 'gone' of the run is not in the pipeline at its commit"),
])
def test_what_cannot_be_given_again_is_refused_in_one_line_naming_task_and_parameter(dag, recorded, message):
    with pytest.raises(NotReproducibleError) as err:
        recorded_params_win(dag, recorded, MOVED, lambda line: None)
    assert message in str(err.value) and "\n" not in str(err.value) and err.value.exit_code == 2
    assert dag["fit"].params["n"] == 7  # refused before anything was changed


def test_an_object_the_record_holds_as_text_is_refused(dag):
    import datetime

    dag["fit"].params._setitem("when", datetime.date(2026, 1, 1))
    with pytest.raises(NotReproducibleError, match="parameter 'when': its value is an object \\(date\\)"):
        recorded_params_win(dag, {"fit": {"n": 7, "path": "/home/ada/project/data/x.csv", "when": "2025-01-01"}},
                            MOVED, lambda line: None)
