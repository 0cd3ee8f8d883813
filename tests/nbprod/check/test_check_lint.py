"""nbprod check: pyflakes on the code cells of a notebook, as one module, reported by cell and line."""

from __future__ import annotations

import pytest
from checkkit import cell, notebook, params_cell, pipeline, task

from nbprod.check.run import check


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ENTRY_POINT", raising=False)
    return tmp_path


def flakes(path: str = "nb.ipynb") -> list[str]:
    return [p.text() for p in check([path]).problems if p.check == "pyflakes"]


def test_an_undefined_name_is_an_error_and_an_unused_import_a_warning(here):
    notebook(here / "nb.ipynb",
             cell("# Fit", kind="markdown", id="title"),
             cell("import json\nimport os\n\nmodel = 1", id="load"),
             cell("score = modle + 1\nprint(json.dumps(score))", id="fit"))
    assert flakes() == [
        "nb.ipynb: cell 1 (id load): warning: line 2: 'os' imported but unused",
        "nb.ipynb: cell 2 (id fit): error: line 1: undefined name 'modle'",
    ]


def test_names_flow_from_cell_to_cell_and_magics_are_python(here):
    notebook(here / "nb.ipynb",
             "%matplotlib inline\nimport pandas as pd\nfiles = !ls",
             "%%time\nframe = pd.DataFrame({'n': files})",
             "%%bash\necho $undefined_in_bash",
             "display(frame)\nawait_me = get_ipython()\nframe")
    assert flakes() == []


def test_top_level_await_is_fine(here):
    notebook(here / "nb.ipynb", "import asyncio\nawait asyncio.sleep(0)")
    assert flakes() == []


def test_a_cell_that_does_not_parse_is_an_error_and_stops_pyflakes(here):
    notebook(here / "nb.ipynb", "import os", "x = (1,\ny = undefined_name", "z = 1")
    (problem,) = [p for p in check(["nb.ipynb"]).problems if p.check == "pyflakes"]
    assert problem.text().startswith("nb.ipynb: cell 1 (id c1): error: line 1: syntax error: ")


def test_what_papermill_injects_for_the_task_counts_as_defined(here):
    notebook(here / "notebooks/train.ipynb", params_cell("factor = 2  # how much"),
             cell("out = product['nb']\nx = factor * 2\nprint(upstream['load'])", id="use"))
    notebook(here / "notebooks/load.ipynb", params_cell("upstream = None\nproduct = None"), "y = 1")
    pipeline(here, [task("load"), task("train", upstream=["load"], params={"factor": 3})])
    assert flakes("notebooks/train.ipynb") == []
    # the same notebook outside the pipeline: product and upstream come from nowhere
    (here / "pipeline.yaml").unlink()
    assert flakes("notebooks/train.ipynb") == [
        "notebooks/train.ipynb: cell 1 (id use): error: line 1: undefined name 'product'",
        "notebooks/train.ipynb: cell 1 (id use): error: line 3: undefined name 'upstream'",
    ]


def test_a_script_task_is_checked_by_cell(here):
    (here / "notebooks").mkdir()
    (here / "notebooks/clean.py").write_text(
        '# %% tags=["parameters"]\nupstream = None\nproduct = None\n\n# %%\nimport os\nprint(undefined)\n')
    pipeline(here, [{"source": "notebooks/clean.py", "name": "clean", "product": {"nb": "outputs/clean.ipynb"}}])
    assert [p.text() for p in check().problems if p.check == "pyflakes"] == [
        "notebooks/clean.py: cell 1: warning: line 1: 'os' imported but unused",
        "notebooks/clean.py: cell 1: error: line 2: undefined name 'undefined'",
    ]
