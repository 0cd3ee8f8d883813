"""nbprod.record.outputs: a cell output larger than NBPROD_MAX_OUTPUT_MB is cut, marked and said.

Notebooks here are written with nbformat, outputs included (what papermill
writes after a cell printed); the cut is about the file, not about kernels.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from nbprod import redact, schema
from nbprod.record import outputs
from nbprod.record.recorder import build_record
from nbprod.record.session import Session
from nbprod.record.taskview import EXECUTED, TaskView
from nbprod.settings import Settings
from nbprod.store import Store

MB = 1024 * 1024


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    for name in list(os.environ):
        if redact.is_secret_name(name) or name.startswith("NBPROD_"):
            monkeypatch.delenv(name)


def loud_notebook(path: Path, mb: float = 3) -> Path:
    """Cell 1 printed ``mb`` MB to stdout and showed a 2 MB image; cell 2 printed one line."""
    text = ("x" * 1023 + "\n") * int(mb * 1024)
    nb = new_notebook(cells=[
        new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        new_code_cell("print(big)", outputs=[
            new_output("stream", name="stdout", text=text),
            new_output("display_data", data={"image/png": "A" * (2 * MB), "text/plain": "<Figure>"}),
        ]),
        new_code_cell("print('small')", outputs=[new_output("stream", name="stdout", text="small\n")]),
    ])
    nbformat.write(nb, str(path))
    return path


def record_notebook(tmp_path: Path, path: Path, task: str):
    """The store and the record of one executed notebook task, with NBPROD_MAX_OUTPUT_MB=1."""
    store = Store(str(tmp_path / "store"))
    view = TaskView(name=task, kind="notebook", outcome=EXECUTED, source=None, params={}, upstream=[],
                    products={"nb": str(path)}, notebook=str(path))
    settings = Settings(store=str(tmp_path / "store"), spool=str(tmp_path / "spool"), max_output_mb=1)
    return store, build_record(Session(root=tmp_path, argv=["nbprod", "build"]), [view], store,
                               settings=settings, run_status=schema.SUCCEEDED)


def test_an_output_over_the_limit_is_cut_with_a_marker(tmp_path):
    path = loud_notebook(tmp_path / "nb.ipynb")
    lines = outputs.bound(path, 1)
    assert lines == ["cell 1: stdout output of 3.0 MB cut to 1.0 MB (NBPROD_MAX_OUTPUT_MB)",
                     "cell 1: image/png output of 2.0 MB cut to 1.0 MB (NBPROD_MAX_OUTPUT_MB)"]
    assert path.stat().st_size < 1.2 * MB
    nb = nbformat.read(str(path), as_version=4)  # still a valid notebook
    stdout = nb.cells[1].outputs[0]["text"]
    assert stdout.startswith("x" * 1023) and "[nbprod: output cut at 1.0 MB of 3.0 MB" in stdout
    assert "image/png" not in nb.cells[1].outputs[1]["data"]
    assert nb.cells[1].outputs[1]["data"]["text/plain"] == "<Figure>"  # the text form stays
    assert nb.cells[2].outputs[0]["text"] == "small\n"


def test_a_notebook_under_the_limit_is_not_rewritten(tmp_path):
    path = loud_notebook(tmp_path / "nb.ipynb", mb=0.5)
    before = path.stat().st_mtime_ns, path.read_bytes()
    assert outputs.bound(path, 10) == []
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before


def test_the_recorded_notebook_is_the_cut_one_and_the_build_says_so(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    path = loud_notebook(tmp_path / "out" / "nb.ipynb")
    store, record = record_notebook(tmp_path, path, "report")
    err = capsys.readouterr().err
    assert "nbprod: task 'report', cell 1: stdout output of 3.0 MB cut to 1.0 MB (NBPROD_MAX_OUTPUT_MB)" in err
    task = record.task("report")
    assert task.notebook["size"] < 1.2 * MB
    assert task.notebook["sha256"] == task.products[0]["sha256"]  # local and stored: the same bytes
    stored = json.loads(store.read_key(task.notebook["key"]))
    assert "output cut at 1.0 MB" in "".join(stored["cells"][1]["outputs"][0]["text"])


def test_a_secret_across_the_cut_is_redacted_first_not_halved(tmp_path, monkeypatch):
    token = "tok_" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    monkeypatch.setenv("NBPROD_TEST_API_TOKEN", token)
    text = "x" * (MB - 20) + token + "\n" + "y" * MB
    path = tmp_path / "out" / "nb.ipynb"
    path.parent.mkdir()
    nbformat.write(new_notebook(cells=[new_code_cell("print(t)", outputs=[
        new_output("stream", name="stdout", text=text)])]), str(path))
    store, record = record_notebook(tmp_path, path, "t")
    stored = store.read_key(record.task("t").notebook["key"]).decode()
    assert token[:8] not in stored and token[:8] not in path.read_text()
    assert "[redacted:NBPROD_TE" in stored  # the placeholder (cut, harmlessly) where the token was
