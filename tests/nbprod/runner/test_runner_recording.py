"""nbprod.runner.recording: the one task a papermill run is recorded as (no kernel)."""

from __future__ import annotations

from pathlib import Path

import nbformat

from nbprod.record.taskview import ERRORED, EXECUTED
from nbprod.runner.recording import Recording, failed, plain, project_root, task_view


def test_the_task_view_is_the_notebook_run_by_papermill(tmp_path):
    view = task_view("ingest", str(tmp_path / "ingest.ipynb"), str(tmp_path / "out.ipynb"), {"years": 2008},
                     EXECUTED, str(tmp_path / "out.ipynb"))
    assert (view.name, view.kind, view.outcome, view.upstream) == ("ingest", "papermill", EXECUTED, [])
    assert view.source == str(tmp_path / "ingest.ipynb") and view.params == {"years": 2008}
    assert view.products == {"nb": str(tmp_path / "out.ipynb")} and view.notebook == str(tmp_path / "out.ipynb")


def test_a_recording_names_its_task_for_the_notebook_and_keeps_the_command(tmp_path, monkeypatch):
    (tmp_path / "nbprod.yaml").write_text("")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    recording = Recording("ingest.ipynb", "out.ipynb", {"years": 2008, "when": object()},
                          ["papermill", "ingest.ipynb", "out.ipynb"])
    (view,) = recording.describe()
    assert view.name == "ingest" and view.kind == "papermill" and view.params["years"] == 2008
    assert view.params["when"].startswith("<object object")  # not JSON: its repr
    assert recording.session.root == tmp_path and recording.session.argv[0] == "papermill"
    assert view.products == {"nb": str(tmp_path / "notebooks/out.ipynb")}


def test_stdout_or_a_url_is_no_local_product():
    assert Recording("in.ipynb", "-", {}, ["papermill"]).describe()[0].products == {}
    assert Recording("in.ipynb", "s3://b/o.ipynb", {}, ["papermill"]).describe()[0].products == {}


def test_project_root_is_the_nearest_folder_with_a_project_file(tmp_path, monkeypatch):
    (tmp_path / "a/b").mkdir(parents=True)
    (tmp_path / "a/pipeline.yaml").write_text("tasks: []\n")
    assert project_root(str(tmp_path / "a/b/nb.ipynb")) == tmp_path / "a"
    monkeypatch.chdir(tmp_path)
    assert project_root(str(tmp_path / "nb.ipynb")) == Path.cwd()


def test_failed_follows_papermills_rule():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("raise SystemExit(0)")
    cell.outputs = [nbformat.v4.new_output("error", ename="SystemExit", evalue="0", traceback=[])]
    nb.cells = [cell]
    assert not failed(nb)
    cell.outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="boom", traceback=[])]
    assert failed(nb)
    cell.outputs = []
    cell.metadata["papermill"] = {"exception": True}
    assert failed(nb)


def test_plain_keeps_json_values():
    assert plain({"a": [1, "x"], "b": None}) == {"a": [1, "x"], "b": None}


def test_errored_outcome_after_a_failure(tmp_path):
    recording = Recording(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"), {}, ["papermill"])
    recording.outcome = ERRORED
    assert recording.describe()[0].outcome == ERRORED
