"""engine.inspect: a pipeline rendered without running it, as plain frozen dataclasses.

Real pipeline.yaml files and notebooks in tmp_path; ploomber loads and renders
them, no kernel starts, nbprod's hooks do not run, nothing is written.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import nbformat
import pytest
from conftest import write_notebook

from nbprod.engine.inspect import PipelineInfo, TaskInfo, find_entry_point, inspect_pipeline

TWO_TASKS = """\
meta: {extract_upstream: false, extract_product: false}
on_render: nbprod.hooks.on_render
tasks:
  - {source: notebooks/load.ipynb, name: load, product: {nb: outputs/load.ipynb}, params: {factor: '{{factor}}'}}
  - {source: notebooks/fit.ipynb, name: fit, upstream: [load], product: {nb: outputs/fit.ipynb}}
"""


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    monkeypatch.setenv("PLOOMBER_STATS_ENABLED", "false")
    monkeypatch.setenv("PLOOMBER_VERSION_CHECK_DISABLED", "true")
    monkeypatch.delenv("ENTRY_POINT", raising=False)


def two_tasks(folder: Path, kernel: str = "python3") -> Path:
    write_notebook(folder / "notebooks/load.ipynb", "upstream = None\nproduct = None\nfactor = 2", "x = factor * 2")
    fit = write_notebook(folder / "notebooks/fit.ipynb", "upstream = None\nproduct = None", "y = 1")
    nb = nbformat.read(fit, as_version=4)
    nb.metadata["kernelspec"]["name"] = kernel
    nbformat.write(nb, fit)
    (folder / "env.yaml").write_text("factor: 3\n")
    (folder / "pipeline.yaml").write_text(TWO_TASKS)
    return folder / "pipeline.yaml"


def test_a_pipeline_is_described_as_plain_frozen_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = two_tasks(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    info = inspect_pipeline(spec)
    assert isinstance(info, PipelineInfo) and info.problems == ()
    assert info.entry_point == spec.resolve() and info.root == tmp_path.resolve()
    assert info.env_file == (tmp_path / "env.yaml").resolve() and info.env == {"factor": 3}
    load, fit = info.tasks
    assert (load.name, load.kind, load.source) == ("load", "notebook", (tmp_path / "notebooks/load.ipynb").resolve())
    assert load.params == {"factor": 3}  # rendered from env.yaml, typed as YAML types it
    assert set(load.injected) == {"factor", "product"} and "upstream" in fit.injected
    assert load.products == ((tmp_path / "outputs/load.ipynb").resolve(),)
    assert load.kernelspec == "python3"
    with pytest.raises(dataclasses.FrozenInstanceError):
        load.name = "other"  # type: ignore[misc]
    # nothing written: no hook ran (no .nbprod/ lock), no notebook got a cell added
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_a_missing_kernel_does_not_stop_loading_it_is_returned(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    info = inspect_pipeline(two_tasks(tmp_path, kernel="no-such-kernel-here"))
    assert info.problems == ()
    assert [t.kernelspec for t in info.tasks] == ["python3", "no-such-kernel-here"]


def test_no_hook_runs_nbprods_on_render_would_refuse_this_pipeline(tmp_path, monkeypatch):
    """The check reports an undeclared parameter itself, by cell; nbprod's on_render hook (named in
    this pipeline.yaml) would end the render at the first one."""
    monkeypatch.chdir(tmp_path)
    spec = two_tasks(tmp_path)
    spec.write_text(spec.read_text().replace("params: {factor: '{{factor}}'}", "params: {factor: 1, typo: 2}"))
    info = inspect_pipeline(spec)
    assert info.problems == ()
    assert info.tasks[0].params == {"factor": 1, "typo": 2}


def test_a_notebook_without_parameters_cell_is_left_alone_and_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_notebook(tmp_path / "nb.ipynb", None, "x = 1")
    (tmp_path / "pipeline.yaml").write_text("tasks:\n  - source: nb.ipynb\n    product: out/nb.ipynb\n")
    before = (tmp_path / "nb.ipynb").read_bytes()
    info = inspect_pipeline(tmp_path / "pipeline.yaml")
    assert "nb.ipynb has no cell tagged `parameters`" in info.problems[0].message
    assert (tmp_path / "nb.ipynb").read_bytes() == before  # ploomber would have added one


@pytest.mark.parametrize("name, spec, message, line", [
    ("unknown top key", "tasks:\n  - source: a.ipynb\n    product: out/a.ipynb\ncolour: red\n",
     "unknown key 'colour' (valid: ", 4),
    ("unknown task key", "tasks:\n  - source: a.ipynb\n    product: out/a.ipynb\n    colour: red\n",
     "unknown task key 'colour'", 4),
    ("missing source", "tasks:\n  - source: a.ipynb\n    product: out/a.ipynb\n  - source: gone.ipynb\n"
     "    product: out/g.ipynb\n", "source gone.ipynb does not exist", 4),
    ("unknown upstream", "meta: {extract_upstream: false}\ntasks:\n  - source: a.ipynb\n    upstream: [nope]\n"
     "    product: out/a.ipynb\n", "task 'a' names upstream task 'nope', which the pipeline does not have", 4),
    ("cycle", "meta: {extract_upstream: false}\ntasks:\n  - {source: a.ipynb, name: a, upstream: [b], "
     "product: out/a.ipynb}\n  - {source: b.ipynb, name: b, upstream: [a], product: out/b.ipynb}\n",
     "the tasks' upstream dependencies form a cycle (", None),
    ("same product", "tasks:\n  - source: a.ipynb\n    product: out/a.ipynb\n  - source: b.ipynb\n"
     "    product: out/a.ipynb\n", "tasks 'a' and 'b' write the same product out/a.ipynb", None),
    ("not YAML", "tasks:\n  - source: a.ipynb\n   product: [\n", "not valid YAML: ", 3),
])
def test_why_a_pipeline_does_not_render_is_one_line_with_its_line(tmp_path, monkeypatch, name, spec, message, line):
    monkeypatch.chdir(tmp_path)
    for stem in ("a", "b"):
        write_notebook(tmp_path / f"{stem}.ipynb", "upstream = None\nproduct = None", "x = 1")
    (tmp_path / "pipeline.yaml").write_text(spec)
    (problem,) = inspect_pipeline(tmp_path / "pipeline.yaml").problems
    assert message in problem.message and "\n" not in problem.message
    assert problem.line == line
    if name == "cycle":
        assert problem.message.endswith(("(a -> b -> a)", "(b -> a -> b)"))


def test_the_entry_point_is_found_as_a_build_finds_it(tmp_path, monkeypatch):
    spec = two_tasks(tmp_path)
    (tmp_path / "notebooks").mkdir(exist_ok=True)
    monkeypatch.chdir(tmp_path / "notebooks")  # Jupyter's working directory: found upward
    assert find_entry_point() == spec.resolve()
    monkeypatch.chdir(tmp_path.parent)
    assert find_entry_point(tmp_path) == spec.resolve()
    (tmp_path / "pipeline.ci.yaml").write_text(spec.read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENTRY_POINT", "pipeline.ci.yaml")
    assert find_entry_point() == (tmp_path / "pipeline.ci.yaml").resolve()
    empty = tmp_path.parent / "empty"
    empty.mkdir()
    monkeypatch.delenv("ENTRY_POINT")
    monkeypatch.chdir(empty)
    assert find_entry_point() is None


def test_task_info_is_plain_data_not_ploomber_objects(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    info = inspect_pipeline(two_tasks(tmp_path))
    for item in (info, *info.tasks):
        for value in dataclasses.asdict(item).values():
            assert not type(value).__module__.startswith("ploomber"), value
    assert isinstance(info.tasks[0], TaskInfo)
