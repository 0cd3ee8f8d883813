"""nbprod check: the pipeline renders (no kernel), its kernels exist, env*.yaml and nbprod.yaml
are valid; which files a check reads by default."""

from __future__ import annotations

import pytest
from checkkit import notebook, params_cell, pipeline, task

from nbprod.check.run import check

PARAMS = "upstream = None\nproduct = None"


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ENTRY_POINT", raising=False)
    return tmp_path


def two_notebooks(folder, kernel: str = "python3"):
    for name in ("load", "fit"):
        notebook(folder / f"notebooks/{name}.ipynb", params_cell(PARAMS), "x = 1", kernel=kernel)


def spec_lines() -> list[str]:
    return [p.text() for p in check().problems if p.check in ("pipeline", "yaml")]


def test_default_files_are_the_spec_the_tasks_env_files_and_nbprod_yaml(here):
    two_notebooks(here)
    notebook(here / "scratch/elsewhere.ipynb", "x = 1")  # not a task: not checked by default
    pipeline(here, [task("load"), task("fit", upstream=["load"])], env={"seed": 1})
    (here / "env.ci.yaml").write_text("seed: 2\n")
    (here / "nbprod.yaml").write_text("metrics:\n  - {name: accuracy, goal: max}\n")
    result = check()
    assert result.files == ("pipeline.yaml", "notebooks/load.ipynb", "notebooks/fit.ipynb", "env.ci.yaml",
                            "env.yaml", "nbprod.yaml")
    assert result.problems == ()


@pytest.mark.parametrize("spec, expected", [
    ("tasks:\n  - source: notebooks/load.ipynb\n    product: out/load.ipynb\n    colour: red\n",
     "pipeline.yaml: line 4: error: unknown task key 'colour' (NotebookRunner takes no such option)"),
    ("tasks:\n  - source: notebooks/load.ipynb\n    product: out/load.ipynb\nexecutors: serial\n",
     "pipeline.yaml: line 4: error: unknown key 'executors' (valid: "),
    ("tasks:\n  - source: notebooks/load.ipynb\n    product: out/load.ipynb\n  - source: notebooks/gone.ipynb\n"
     "    product: out/gone.ipynb\n", "pipeline.yaml: line 4: error: source notebooks/gone.ipynb does not exist"),
    ("meta: {extract_upstream: false}\ntasks:\n  - {source: notebooks/load.ipynb, name: load, upstream: [fit], "
     "product: out/load.ipynb}\n  - {source: notebooks/fit.ipynb, name: fit, upstream: [load], "
     "product: out/fit.ipynb}\n", "pipeline.yaml: error: the tasks' upstream dependencies form a cycle ("),
    ("tasks:\n  - source: notebooks/load.ipynb\n    product: out/same.ipynb\n  - source: notebooks/fit.ipynb\n"
     "    product: out/same.ipynb\n",
     "pipeline.yaml: error: tasks 'load' and 'fit' write the same product out/same.ipynb"),
])
def test_a_pipeline_that_does_not_render_is_an_error(here, spec, expected):
    two_notebooks(here)
    (here / "pipeline.yaml").write_text(spec)
    result = check()
    lines = [p.text() for p in result.problems if p.check == "pipeline"]
    assert len(lines) == 1 and lines[0].startswith(expected), lines
    assert "notebooks/load.ipynb" in result.files  # the notebooks are still checked


def test_every_task_on_a_kernel_that_is_not_installed_is_named(here):
    two_notebooks(here, kernel="julia-0.1")
    pipeline(here, [task("load"), task("fit", upstream=["load"])])
    assert spec_lines() == [
        "notebooks/load.ipynb: error: kernelspec 'julia-0.1' (task 'load') is not installed on this machine "
        "(installed: python3): install it, or pick an installed kernel in the notebook",
        "notebooks/fit.ipynb: error: kernelspec 'julia-0.1' (task 'fit') is not installed on this machine "
        "(installed: python3): install it, or pick an installed kernel in the notebook",
    ]


def test_nbprod_yaml_is_validated_as_the_build_reads_it_with_its_line(here):
    two_notebooks(here)
    pipeline(here, [task("load")])
    (here / "nbprod.yaml").write_text("metrics:\n  - name: accuracy\n    direction: up\n")
    assert spec_lines() == ["nbprod.yaml: line 3: error: metrics entry 1 (accuracy) has unknown keys "
                            "['direction']: allowed: name, goal, headline, tolerance"]


@pytest.mark.parametrize("text, expected", [
    ("- 1\n- 2\n", "env.yaml: error: must be a mapping of parameter names to their defaults, not a list"),
    ("seed: [1\n", "env.yaml: line 2: error: not valid YAML: "),
])
def test_an_env_file_must_be_a_yaml_mapping(here, text, expected):
    notebook(here / "other.ipynb", "x = 1")
    (here / "env.yaml").write_text(text)
    (line,) = [p.text() for p in check(["env.yaml"]).problems]
    assert line.startswith(expected)
