"""nbprod.engine.dag: ploomber's refusals as nbprod lines (issue 11, sections 2 and 5).

A notebook ploomber cannot read, ploomber's multi-line messages (first line
the summary, the example indented below it), and what ploomber's argument
parser refuses (an unknown ``--env--NAME``, a folder without pipeline.yaml):
real ploomber loading real files, in this process; no kernel.
"""

from __future__ import annotations

import os
import pickle
import sys

import nbformat
import pytest

os.environ.setdefault("PLOOMBER_STATS_ENABLED", "false")
os.environ.setdefault("PLOOMBER_VERSION_CHECK_DISABLED", "true")

from ploomber.spec import DAGSpec  # noqa: E402

from nbprod import errors  # noqa: E402
from nbprod.engine import dag as engine_dag  # noqa: E402
from nbprod.engine.build import run_build  # noqa: E402
from nbprod.errors import ConfigError, DetailedPipelineError, PipelineError  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(autouse=True)
def _contained(monkeypatch, tmp_path):
    for name in [n for n in os.environ if n.startswith("NBPROD_") or n == "ENTRY_POINT"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("NBPROD_STORE", str(tmp_path / "store"))
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    monkeypatch.chdir(tmp_path)


def write_notebook(path, parameters="upstream = None\nproduct = None"):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell("print(1)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


def load_error(tmp_path, pipeline: str) -> BaseException:
    (tmp_path / "pipeline.yaml").write_text(pipeline)
    with pytest.raises(Exception) as caught:  # noqa: PT011 - whatever ploomber raises
        DAGSpec(str(tmp_path / "pipeline.yaml")).to_dag()
    return caught.value


# -- a notebook that is not notebook JSON -------------------------------------------------------


def test_a_truncated_notebook_is_named_and_said_not_to_be_notebook_json(tmp_path):
    path = write_notebook(tmp_path / "load.ipynb")
    path.write_bytes(path.read_bytes()[:300])  # as a full disk or a killed editor leaves it
    raw = load_error(tmp_path, "tasks:\n  - source: load.ipynb\n    product: out/load.ipynb\n")

    err = engine_dag.as_pipeline_error(raw)

    assert type(err) is PipelineError and err.exit_code == errors.USAGE
    assert err.message.startswith("load.ipynb is not valid notebook JSON ("), err.message
    assert "truncated" in err.message and "(char " not in err.message
    assert err.hint == "restore the file (from git or a backup) and run again"
    assert "\n" not in str(err)


# -- multi-line messages -------------------------------------------------------------------------


def test_a_missing_key_is_one_summary_line_with_ploombers_example_indented_below(tmp_path):
    write_notebook(tmp_path / "a.ipynb")
    raw = load_error(tmp_path, "tasks:\n  - source: a.ipynb\n")

    err = engine_dag.as_pipeline_error(raw)

    assert isinstance(err, DetailedPipelineError) and err.exit_code == errors.USAGE
    first, *below = str(err).splitlines()
    assert "Missing keys: 'product'. To fix it, add the missing key (example):" in first
    assert "source:" not in first
    assert below[:2] == ["  - source: a.ipynb", "    product:"]  # YAML keeps its own indentation
    assert all(line.startswith("    ") for line in below[2:]) and below[2:]
    # the one-line explanation (warnings, logs) keeps the summary only
    assert engine_dag.explain(raw) == err.message


def test_a_detailed_error_survives_pickling_with_its_detail():
    err = DetailedPipelineError("Missing keys: 'product'. Example:", detail=["- source: a", "  product: b"])

    again = pickle.loads(pickle.dumps(err))

    assert str(again) == str(err) == "Missing keys: 'product'. Example:\n  - source: a\n    product: b"


def test_a_message_without_an_example_stays_one_line_even_across_several_lines():
    err = engine_dag.as_pipeline_error(ValueError("while parsing a flow mapping\n  in line 2\nexpected '}'"))

    assert type(err) is PipelineError
    assert err.message == "while parsing a flow mapping in line 2 expected '}'"


# -- ploomber's argument parser ------------------------------------------------------------------


def test_an_unknown_env_parameter_is_one_error_naming_the_known_ones(tmp_path, capsys):
    write_notebook(tmp_path / "a.ipynb", "upstream = None\nproduct = None\nn = 1")
    (tmp_path / "pipeline.yaml").write_text(
        "tasks:\n  - source: a.ipynb\n    product: out/a.ipynb\n    params: {n: '{{n}}', m: '{{m}}'}\n")
    (tmp_path / "env.yaml").write_text("n: 3\nm: 4\n")

    with pytest.raises(ConfigError) as caught:
        engine_dag.build(["--env--nn", "5"])

    err = caught.value
    assert err.exit_code == errors.USAGE
    assert err.message == "unknown parameter --env--nn: the pipeline's parameters are --env--m, --env--n"
    assert "env.yaml" in err.hint
    assert "usage:" not in capsys.readouterr().err  # not ploomber's argparse usage


def test_an_env_parameter_given_to_a_pipeline_without_env_yaml(tmp_path):
    write_notebook(tmp_path / "a.ipynb")
    (tmp_path / "pipeline.yaml").write_text("tasks:\n  - source: a.ipynb\n    product: out/a.ipynb\n")

    with pytest.raises(ConfigError, match="declares no parameters"):
        engine_dag.build(["--env--n=5"])


def test_an_unknown_option_points_at_the_help(tmp_path):
    write_notebook(tmp_path / "a.ipynb")
    (tmp_path / "pipeline.yaml").write_text("tasks:\n  - source: a.ipynb\n    product: out/a.ipynb\n")

    with pytest.raises(ConfigError) as caught:
        run_build(["--bogus"])

    assert caught.value.message == "unknown option --bogus"
    assert "nbprod build --help" in caught.value.hint


def test_a_folder_without_pipeline_yaml_is_one_error_naming_the_file_and_the_folder(tmp_path, capsys):
    with pytest.raises(PipelineError) as caught:
        run_build([])

    err = caught.value
    assert err.exit_code == errors.USAGE
    assert err.message == f"no pipeline.yaml in {tmp_path} or a folder above it"
    assert "--entry-point" in err.hint
    assert "usage:" not in capsys.readouterr().err


def test_a_parameters_cell_without_upstream_names_the_task_and_the_fix(tmp_path):
    write_notebook(tmp_path / "fit.ipynb", "product = None\nn = 3")
    raw = load_error(tmp_path, "tasks:\n  - source: fit.ipynb\n    product: out/fit.ipynb\n")

    err = engine_dag.as_pipeline_error(raw)

    assert err.message == ("task 'fit': its parameters cell declares no `upstream` "
                           "(ploomber reads the task's dependencies from it)")
    assert err.hint.startswith("add `upstream = None` to that cell")


def test_a_task_name_given_to_nbprod_build_points_at_partially(tmp_path):
    write_notebook(tmp_path / "a.ipynb")
    (tmp_path / "pipeline.yaml").write_text("tasks:\n  - source: a.ipynb\n    product: out/a.ipynb\n")

    with pytest.raises(ConfigError) as caught:
        run_build(["a"])

    assert caught.value.message == "nbprod build takes no task name"
    assert "--partially TASK" in caught.value.hint
