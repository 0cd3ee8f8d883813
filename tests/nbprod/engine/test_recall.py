"""engine.recall: the render ``nbprod check`` keeps, reused only while nothing that shapes it
changed; a change to any of those inputs renders again, so the check is never stale.

Real projects in tmp_path (the reference project and small ones), real ploomber renders, the
real ``nbprod check`` in a subprocess where what matters is that ploomber is not imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import write_notebook

from nbprod.check.run import check
from nbprod.engine.inspect import inspect_pipeline
from nbprod.engine.recall import FILE, recalled

PIPELINE = """\
meta: {extract_upstream: false, extract_product: false}
on_render: nbprod.hooks.on_render
tasks:
  - {source: notebooks/load.ipynb, name: load, product: {nb: outputs/load.ipynb}, params: {factor: '{{factor}}'}}
  - {source: notebooks/fit.ipynb, name: fit, upstream: [load], product: {nb: outputs/fit.ipynb}}
"""

QUIET = {"PLOOMBER_STATS_ENABLED": "false", "PLOOMBER_VERSION_CHECK_DISABLED": "true"}


@pytest.fixture
def here(tmp_path, monkeypatch):
    for name, value in QUIET.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ENTRY_POINT", raising=False)
    monkeypatch.delenv("PLOOMBER_ENV_FILENAME", raising=False)
    monkeypatch.chdir(tmp_path)
    write_notebook(tmp_path / "notebooks/load.ipynb", "upstream = None\nproduct = None\nfactor = 2  # scale",
                   "x = factor * 2")
    write_notebook(tmp_path / "notebooks/fit.ipynb", "upstream = None\nproduct = None", "y = 1")
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    (tmp_path / "env.yaml").write_text("factor: 3\n")
    return tmp_path


def checked(**kw):
    return [p.text() for p in check(**kw).problems]


def test_a_check_keeps_its_render_and_the_next_one_gets_it_back(here):
    assert recalled(None) is None
    check()
    kept = recalled(None)
    assert kept == inspect_pipeline(here / "pipeline.yaml")
    assert [t.params for t in kept.tasks] == [{"factor": 3}, {}]
    assert json.loads((here / ".nbprod" / FILE).read_text())["key"]["cwd"] == str(here)
    assert (here / ".nbprod" / ".gitignore").read_text().strip().endswith("*")


def _edit_notebook(path: Path, change) -> None:
    nb = nbformat.read(path, as_version=4)
    change(nb)
    nbformat.write(nb, path)


def _parameters(nb, text):
    nb.cells[0].source = text


CHANGES = {
    "env.yaml": lambda d: (d / "env.yaml").write_text("factor: 4\n"),
    "another env file": lambda d: (d / "env.other.yaml").write_text("factor: 4\n"),
    "pipeline.yaml": lambda d: (d / "pipeline.yaml").write_text(PIPELINE.replace("outputs/fit", "outputs/fit2")),
    "a parameters cell": lambda d: _edit_notebook(d / "notebooks/load.ipynb",
                                                  lambda nb: _parameters(nb, "upstream = None\nfactor = 2")),
    "a kernelspec": lambda d: _edit_notebook(d / "notebooks/fit.ipynb",
                                             lambda nb: nb.metadata.kernelspec.update(name="julia-1.9")),
    "a removed source": lambda d: (d / "notebooks/fit.ipynb").unlink(),
    "a setup.py (ploomber's search)": lambda d: (d / "setup.py").write_text(""),
    "a setup.cfg above (ploomber's search)": lambda d: (d.parent / "setup.cfg").write_text(""),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_any_change_that_shapes_the_render_renders_again(here, change):
    check()
    assert recalled(None) is not None
    change(here)
    assert recalled(None) is None
    (here.parent / "setup.cfg").unlink(missing_ok=True)


@pytest.mark.parametrize("name, value", [("ENTRY_POINT", "pipeline.yaml"), ("PLOOMBER_ENV_FILENAME", "env.yaml")])
def test_the_variables_ploomber_reads_are_part_of_the_key(here, monkeypatch, name, value):
    check()
    monkeypatch.setenv(name, value)
    assert recalled(None) is None


def test_a_cell_that_is_not_the_parameters_cell_keeps_the_render_and_is_still_checked(here):
    check()
    _edit_notebook(here / "notebooks/load.ipynb", lambda nb: setattr(nb.cells[1], "source", "x = fctor * 2"))
    assert recalled(None) is not None
    [line] = checked()
    assert line.startswith("notebooks/load.ipynb: cell 1 ") and line.endswith("error: line 1: undefined name 'fctor'")


def test_a_kept_render_never_hides_a_new_problem(here):
    assert checked() == []
    (here / "env.yaml").write_text('factor: "2x"\n')
    assert any("factor" in line and "error" in line for line in checked())
    (here / "env.yaml").write_text("factor: 3\n")
    assert checked() == []
    (here / "pipeline.yaml").write_text(PIPELINE.replace("notebooks/fit.ipynb", "notebooks/gone.ipynb"))
    assert any("gone.ipynb does not exist" in line for line in checked())


@pytest.mark.parametrize("spec", [
    PIPELINE.replace("'{{factor}}'", "'{{now}}'"),  # differs from one check to the next
    PIPELINE.replace("'{{factor}}'", "'{{git}}'"),
    PIPELINE.replace("'{{factor}}'", "'{{env.HOME}}'"),
    PIPELINE.replace("'{{factor}}'", "'{{ (now) }}'"),  # what Jinja reads, not what a regex sees
    PIPELINE.replace("on_render: nbprod.hooks.on_render", "on_render: hooks.on_render"),  # the user's code
    PIPELINE.replace("product: {nb: outputs/fit.ipynb}}", "product: {nb: outputs/fit.ipynb}, on_finish: hooks.done}"),
    PIPELINE.replace("outputs/fit.ipynb", "outputs/load.ipynb"),  # renders its tasks, with a problem
], ids=["now", "git", "env var", "now in parentheses", "a user's pipeline hook", "a task hook", "a render problem"])
def test_a_render_that_files_alone_do_not_decide_is_not_kept(here, spec):
    (here / "hooks.py").write_text("def on_render():\n    pass\n\n\ndef done():\n    pass\n")
    (here / "pipeline.yaml").write_text(spec)
    check()
    assert recalled(None) is None
    assert not (here / ".nbprod" / FILE).exists()


def test_a_function_task_is_not_kept(here):
    (here / "functions.py").write_text("def make(product):\n    open(str(product), 'w').write('x')\n")
    (here / "pipeline.yaml").write_text(PIPELINE + "  - {source: functions.make, product: outputs/made.txt}\n")
    check()
    assert recalled(None) is None


def test_a_pipeline_found_from_a_subfolder_leaves_the_kept_render_alone(here, monkeypatch):
    check()
    monkeypatch.chdir(here / "notebooks")
    check()  # ploomber's search from here may find another spec next time: not kept
    assert recalled(None) is None
    monkeypatch.chdir(here)
    assert recalled(None) is not None
    check(entry_point=here / "pipeline.yaml")
    assert recalled(here / "pipeline.yaml") is not None


def test_an_env_file_in_the_working_folder_is_part_of_the_key(here, tmp_path_factory, monkeypatch):
    """ploomber prefers env.yaml in the working directory to the spec's: checking with -e from
    another folder, a new env.yaml there changes what the notebooks get."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    monkeypatch.chdir(elsewhere)
    spec = here / "pipeline.yaml"
    assert checked(entry_point=spec) == []
    assert recalled(spec) is not None
    (elsewhere / "env.yaml").write_text('factor: "2x"\n')
    assert recalled(spec) is None
    assert any("factor" in line and "error" in line for line in checked(entry_point=spec))


def test_a_torn_or_foreign_file_is_ignored(here):
    check()
    (here / ".nbprod" / FILE).write_text('{"key": ')
    assert recalled(None) is None
    assert checked() == []
    assert recalled(None) is not None


def test_the_second_check_of_the_reference_project_does_not_import_ploomber(reference_project):
    """The point of it all: ploomber's import is most of a check; a repeated check skips it."""
    probe = ("import sys; from nbprod.check.run import check; r = check(); "
             "print(len(r.problems), 'ploomber' in sys.modules, 'pandas' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", probe], cwd=reference_project, env=_clean_env(),
                           capture_output=True, text=True, timeout=300) for _ in range(2)]
    assert [r.stdout.split() for r in runs] == [["0", "True", "True"], ["0", "False", "False"]], runs


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBPROD_", "PLOOMBER_", "ENTRY_POINT"))}
    return {**env, **QUIET}
