"""nbprod.record.recorder with fabricated task views: no ploomber, no kernel, milliseconds.

Every test builds :class:`TaskView` objects by hand (the engine's job in a real
build), writes the product files and executed notebooks they name with plain
``pathlib`` / ``nbformat``, and checks what :func:`build_record` /
:func:`record_run` put into a real folder store.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from scrapbook.api import _prepare_ipy_data_format, _prepare_ipy_display_format
from scrapbook.encoders import registry as scrap_encoders
from scrapbook.scraps import Scrap as SbScrap
from scrapbook.scraps import scrap_to_payload

from nbprod import redact, schema
from nbprod.record import provenance
from nbprod.record.recorder import build_record, record_run
from nbprod.record.session import Session
from nbprod.record.taskview import ABORTED, ERRORED, EXECUTED, PENDING, SKIPPED, TaskView
from nbprod.settings import Settings
from nbprod.store import Store
from nbprod.store import spool as spooling

SECRET = "tok-9f8e7d6c5b4a-SECRET"
# listing installed distributions costs ~0.3 s: once per process, not once per record
_PACKAGES = functools.cache(provenance.package_versions)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    """No secret from the outer environment (redaction off unless a test sets one),
    no NBPROD_* settings, provenance's package list computed once."""
    for name in list(os.environ):
        if redact.is_secret_name(name) or name.startswith("NBPROD_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(provenance, "package_versions", _PACKAGES)


# -- helpers ---------------------------------------------------------------------------


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def settings_for(tmp_path: Path, **kw) -> Settings:
    return Settings(store=str(tmp_path / "store"), spool=str(tmp_path / "spool"), **kw)


def new_session(root: Path, **kw) -> Session:
    kw.setdefault("argv", ["/usr/local/bin/ploomber", "build", "--force"])
    return Session(root=root, **kw)


def view(name: str, outcome: str = EXECUTED, *, kind: str = "function", params=None, upstream=None,
         products=None, notebook=None, source=None) -> TaskView:
    return TaskView(
        name=name, kind=kind, outcome=outcome, source=source, params=params or {},
        upstream=upstream or [], products={k: str(v) for k, v in (products or {}).items()},
        notebook=str(notebook) if notebook else None,
    )


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def glue(name: str, value, encoder: str | None = None):
    """The display_data output ``sb.glue(name, value)`` leaves in a notebook, built with
    scrapbook's own payload functions (only IPython's display call is skipped)."""
    encoder = encoder or scrap_encoders.determine_encoder_name(value)
    payload = scrap_to_payload(scrap_encoders.encode(SbScrap(name, value, encoder)))
    data, metadata = _prepare_ipy_data_format(name, payload, encoder)
    assert metadata == {"scrapbook": {"name": name, "data": True, "display": False}}
    assert list(data) == [f"application/scrapbook.scrap.{encoder}+json"]
    return new_output("display_data", data=data, metadata=metadata)


def glue_display(name: str, text: str):
    """``sb.glue(name, obj, display=True)`` for a value scrapbook cannot encode: display only."""
    data, metadata = _prepare_ipy_display_format(name, {"text/plain": text}, {})
    return new_output("display_data", data=data, metadata=metadata)


PAPERMILL = {"start_time": "2026-11-01T10:00:00.000000", "end_time": "2026-11-01T10:00:02.500000",
             "duration": 2.5, "exception": None}


def cell(source: str, *outputs, count: int | None = 1, tags=(), started: bool = True):
    c = new_code_cell(source, outputs=list(outputs), execution_count=count)
    if tags:
        c.metadata["tags"] = list(tags)
    if started:
        c.metadata["papermill"] = {"start_time": PAPERMILL["start_time"], "status": "completed"}
    return c


def write_notebook(path: Path, *cells, papermill: dict | None = PAPERMILL) -> Path:
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if papermill is not None:
        nb.metadata["papermill"] = dict(papermill)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def build(tmp_path: Path, views, status: str = schema.SUCCEEDED, session: Session | None = None, **kw):
    """(record, store) of ``views`` recorded into ``tmp_path/store``."""
    settings = kw.pop("settings", None) or settings_for(tmp_path)
    store = Store(settings.store)
    session = session or new_session(tmp_path)
    record = build_record(session, views, store, settings=settings, run_status=status, **kw)
    return record, store


def object_files(store_dir: Path) -> list[Path]:
    return sorted(p for p in (store_dir / "objects").rglob("*") if p.is_file())


# -- the run as a whole ---------------------------------------------------------------------


def test_record_describes_the_run(tmp_path):
    write(tmp_path / "pipeline.yaml", "tasks: []\n")
    spec = [{"name": "accuracy", "higher_is_better": True}]
    session = new_session(tmp_path, metrics_spec=spec)
    record, _ = build(tmp_path, [view("a", products={"p": write(tmp_path / "out/a.txt", "a")})], session=session)
    assert record.run_id == session.run_id and schema.RUN_ID.fullmatch(record.run_id)
    assert record.status == schema.SUCCEEDED
    assert record.command == ["ploomber", "build", "--force"]  # argv[0] by its name only
    assert record.started_at == schema.isoformat(session.started)
    assert schema.parse_time(record.ended_at) >= schema.parse_time(record.started_at)  # ms precision
    assert record.project["root"] == str(tmp_path) and record.project["name"] == tmp_path.name
    assert record.project["files"] == {"pipeline.yaml": {"sha256": sha(b"tasks: []\n"), "size": 10}}
    assert record.metrics_spec == spec
    assert record.interrupted_by is None and record.error is None
    assert record.python["version"] and record.packages.get("pytest")
    assert record.recording_s is not None and record.recording_s >= 0
    assert [t.name for t in record.tasks] == ["a"]


def test_record_is_not_written_by_build_record(tmp_path):
    record, store = build(tmp_path, [view("a", products={"p": write(tmp_path / "a.txt", "a")})])
    assert store.run_ids() == []  # blobs only: the caller writes the record last
    assert store.get_bytes(record.task("a").products[0]["sha256"]) == b"a"


# -- outcome -> task status --------------------------------------------------------------------


@pytest.mark.parametrize(
    "outcome, run_status, expected",
    [
        (EXECUTED, schema.SUCCEEDED, schema.TASK_SUCCEEDED),
        (SKIPPED, schema.SUCCEEDED, schema.TASK_SKIPPED),
        (ERRORED, schema.FAILED, schema.TASK_FAILED),
        (ABORTED, schema.FAILED, schema.TASK_ABORTED),
        (PENDING, schema.FAILED, schema.TASK_NOT_RUN),
    ],
)
def test_outcome_becomes_task_status(tmp_path, outcome, run_status, expected):
    record, _ = build(tmp_path, [view("t", outcome)], status=run_status)
    assert record.task("t").status == expected


def test_executed_task_the_engine_downloads_is_fetched(tmp_path):
    session = new_session(tmp_path, fetched={"get", "cached"})
    views = [
        view("get", EXECUTED, products={"p": write(tmp_path / "get.txt", "g")}),
        view("cached", SKIPPED),  # fetched only applies to tasks that "executed"
        view("run", EXECUTED),
    ]
    record, _ = build(tmp_path, views, session=session, elapsed={"get": 1.25, "run": 0.5})
    assert {t.name: t.status for t in record.tasks} == {
        "get": schema.TASK_FETCHED, "cached": schema.TASK_SKIPPED, "run": schema.TASK_SUCCEEDED,
    }
    assert record.task("get").duration_s == 1.25
    assert record.task("get").products[0]["partial"] is False


def test_pending_task_whose_product_changed_during_an_interrupted_run_is_interrupted(tmp_path):
    product = write(tmp_path / "half.csv", "a,b\n1,")
    session = new_session(tmp_path, started_clock=time.time() - 60, interrupted_by="SIGINT")
    record, store = build(tmp_path, [view("load", PENDING, products={"p": product})],
                          status=schema.INTERRUPTED, session=session)
    task = record.task("load")
    assert task.status == schema.TASK_INTERRUPTED
    assert task.products[0]["partial"] is True
    assert store.get_bytes(task.products[0]["sha256"]) == b"a,b\n1,"
    assert (task.error.task, task.error.ename, task.error.evalue) == ("load", "KeyboardInterrupt", "SIGINT")
    assert record.error == task.error
    assert record.interrupted_by == "SIGINT"


def test_pending_task_whose_notebook_changed_during_an_interrupted_run_is_interrupted(tmp_path):
    nb = write_notebook(tmp_path / "train.ipynb", cell("x = 1"))
    session = new_session(tmp_path, started_clock=time.time() - 60, interrupted_by="SIGTERM")
    record, _ = build(tmp_path, [view("train", PENDING, kind="notebook", notebook=nb)],
                      status=schema.INTERRUPTED, session=session)
    task = record.task("train")
    assert task.status == schema.TASK_INTERRUPTED
    assert task.notebook is not None
    assert task.error.ename == "KeyboardInterrupt" and task.error.evalue == "SIGTERM"


def test_pending_task_untouched_since_the_start_is_not_run(tmp_path):
    product = write(tmp_path / "old.csv", "old")
    notebook = write_notebook(tmp_path / "old.ipynb", cell("x = 1"))
    old = time.time() - 3600
    for path in (product, notebook):
        os.utime(path, (old, old))
    session = new_session(tmp_path, interrupted_by="SIGINT")
    record, store = build(tmp_path, [view("t", PENDING, kind="notebook", products={"p": product}, notebook=notebook)],
                          status=schema.INTERRUPTED, session=session)
    task = record.task("t")
    assert task.status == schema.TASK_NOT_RUN
    assert task.products == [] and task.notebook is None and task.error is None
    assert not (tmp_path / "store" / "objects").exists()


def test_pending_task_of_a_failed_run_is_not_run_even_when_touched(tmp_path):
    product = write(tmp_path / "p.csv", "new")
    session = new_session(tmp_path, started_clock=time.time() - 60)
    record, _ = build(tmp_path, [view("t", PENDING, products={"p": product})], status=schema.FAILED, session=session)
    assert record.task("t").status == schema.TASK_NOT_RUN


def test_aborted_task_stores_nothing(tmp_path):
    product = write(tmp_path / "stale.bin", b"stale bytes")
    record, store = build(tmp_path, [view("down", ABORTED, products={"p": product}, params={"n": 1}, upstream=["up"])],
                          status=schema.FAILED)
    task = record.task("down")
    assert task.products == [] and task.error is None and task.duration_s is None
    assert task.params == {"n": 1} and task.upstream == ["up"]
    assert not store.exists(store.object_key(sha(b"stale bytes")))


# -- products ------------------------------------------------------------------------------------


def test_products_are_stored_by_content(tmp_path):
    data = b"\x00\x01 model bytes \xff"
    product = write(tmp_path / "outputs" / "model.pkl", data)
    record, store = build(tmp_path, [view("train", products={"model": product}, source=str(tmp_path / "train.py"))])
    task = record.task("train")
    assert task.source == "train.py"  # relative to the project root
    assert task.products == [
        {"name": "model", "path": "outputs/model.pkl", "sha256": sha(data), "size": len(data), "partial": False}
    ]
    assert store.get_bytes(sha(data)) == data
    assert record.objects() == [{"sha256": sha(data), "size": len(data), "task": "train", "what": "product model"}]


def test_a_missing_product_is_left_out(tmp_path):
    record, _ = build(tmp_path, [view("t", products={"gone": tmp_path / "never-written.csv"})])
    assert record.task("t").products == []


def test_folder_product_is_expanded_into_its_files(tmp_path):
    folder = tmp_path / "outputs" / "model"
    write(folder / "weights.bin", b"w")
    write(folder / "sub" / "config.json", b"{}")
    (folder / "empty").mkdir()
    record, store = build(tmp_path, [view("train", products={"model": folder})])
    products = record.task("train").products
    assert [(p["name"], p["path"]) for p in products] == [
        ("model/sub/config.json", "outputs/model/sub/config.json"),
        ("model/weights.bin", "outputs/model/weights.bin"),
    ]
    assert [store.get_bytes(p["sha256"]) for p in products] == [b"{}", b"w"]


def test_products_of_failed_and_interrupted_tasks_are_partial(tmp_path):
    a = write(tmp_path / "a.csv", "a")
    b = write(tmp_path / "b.csv", "b")
    c = write(tmp_path / "c.csv", "c")
    session = new_session(tmp_path, started_clock=time.time() - 60, interrupted_by="SIGINT")
    views = [view("ok", EXECUTED, products={"p": a}), view("bad", ERRORED, products={"p": b}),
             view("cut", PENDING, products={"p": c})]
    record, _ = build(tmp_path, views, status=schema.INTERRUPTED, session=session)
    assert {t.name: t.products[0]["partial"] for t in record.tasks} == {"ok": False, "bad": True, "cut": True}


def test_identical_products_are_one_object(tmp_path):
    a = write(tmp_path / "a.txt", "same")
    b = write(tmp_path / "b" / "copy.txt", "same")
    record, _ = build(tmp_path, [view("a", products={"p": a}), view("b", products={"p": b})])
    assert record.task("a").products[0]["sha256"] == record.task("b").products[0]["sha256"] == sha(b"same")
    assert len(object_files(tmp_path / "store")) == 1
    assert len(record.objects()) == 1


def test_executed_notebook_that_is_a_product_is_stored_once(tmp_path, monkeypatch):
    nb = write_notebook(tmp_path / "outputs" / "report.ipynb", cell("1 + 1"))
    data = nb.read_bytes()
    calls = []
    original = Store.put_bytes
    monkeypatch.setattr(Store, "put_bytes", lambda self, blob: calls.append(blob) or original(self, blob))
    record, store = build(tmp_path, [view("report", kind="notebook", products={"nb": nb}, notebook=nb)])
    task = record.task("report")
    assert task.products[0]["sha256"] == sha(data)
    assert task.notebook == {"key": store.object_key(sha(data)), "sha256": sha(data), "size": len(data)}
    assert calls == []  # not uploaded a second time
    assert len(object_files(tmp_path / "store")) == 1
    assert record.notebooks() == [{**task.notebook, "task": "report"}]


def test_executed_notebook_beside_an_html_product_is_stored_too(tmp_path):
    html = write(tmp_path / "outputs" / "report.html", "<html>report</html>")
    nb = write_notebook(tmp_path / "outputs" / "report.ipynb", cell("1 + 1"))
    record, store = build(tmp_path, [view("report", ERRORED, kind="notebook", products={"nb": html}, notebook=nb)],
                          status=schema.FAILED)
    task = record.task("report")
    assert [p["name"] for p in task.products] == ["nb"]
    assert store.get_bytes(task.notebook["sha256"]) == nb.read_bytes()
    assert store.read_key(task.notebook["key"]) == nb.read_bytes()


def test_task_times_come_from_the_executed_notebook(tmp_path):
    nb = write_notebook(tmp_path / "train.ipynb", cell("x = 1"))
    record, _ = build(tmp_path, [view("train", kind="notebook", notebook=nb)], elapsed={"train": 99.0})
    task = record.task("train")
    assert (task.started_at, task.ended_at, task.duration_s) == (PAPERMILL["start_time"], PAPERMILL["end_time"], 2.5)


def test_durations_without_a_notebook(tmp_path):
    views = [view("fn", EXECUTED), view("cached", SKIPPED), view("bad", ERRORED)]
    record, _ = build(tmp_path, views, status=schema.FAILED, elapsed={"fn": 0.12345, "cached": 7.0, "bad": 3.0})
    assert record.task("fn").duration_s == 0.123
    assert record.task("cached").duration_s == 0.0  # up to date: took no time in this run
    assert record.task("bad").duration_s is None  # elapsed is only trusted for tasks that succeeded


# -- scraps ----------------------------------------------------------------------------------


def scrap_notebook(path: Path) -> Path:
    return write_notebook(
        path,
        new_markdown_cell("# metrics"),
        cell("sb.glue(...)", glue("count", 344), glue("accuracy", 0.9375), glue("species", "Adelie"),
             glue("flag", True), glue("config", {"seed": 1}), glue("long_list", list(range(50)))),
        cell("sb.glue('again', ...)", glue("again", 1), glue("fig", "text"), glue_display("plot", "<Figure>"), count=2),
        cell("sb.glue('again', 2)", glue("again", 2), count=3),
    )


def test_scraps_inline_and_as_artifacts(tmp_path):
    nb = scrap_notebook(tmp_path / "eval.ipynb")
    record, store = build(tmp_path, [view("eval", kind="notebook", notebook=nb)],
                          settings=settings_for(tmp_path, inline_max=64))
    scraps = record.task("eval").scraps
    assert scraps["count"] == {"value": 344, "encoder": "json"}
    assert scraps["accuracy"] == {"value": 0.9375, "encoder": "json"}
    assert scraps["species"] == {"value": "Adelie", "encoder": "text"}
    assert scraps["flag"] == {"value": True, "encoder": "json"}
    assert scraps["config"] == {"value": {"seed": 1}, "encoder": "json"}
    assert scraps["again"]["value"] == 2  # the last glue of a name wins
    assert scraps["plot"] == {"encoder": "display", "display_only": True}
    big = scraps["long_list"]
    assert "value" not in big and big["type"] == "list"
    assert json.loads(store.get_bytes(big["artifact"]["sha256"])) == list(range(50))
    assert big["artifact"]["size"] == len(json.dumps(list(range(50))))
    assert {"task": "eval", "what": "scrap long_list"}.items() <= record.objects()[0].items()
    # metrics: the numbers, not bools, strings or artifacts
    assert record.metrics() == {"count": 344, "accuracy": 0.9375, "again": 2}


@pytest.mark.parametrize("inline_max, inline", [("4096", True), ("100", False)])
def test_nbprod_inline_max_decides_what_stays_inline(tmp_path, inline_max, inline):
    nb = scrap_notebook(tmp_path / "eval.ipynb")  # long_list is 190 JSON bytes
    settings = Settings.from_env({"NBPROD_STORE": str(tmp_path / "store"), "NBPROD_SPOOL": str(tmp_path / "spool"),
                                  "NBPROD_INLINE_MAX": inline_max})
    record, store = build(tmp_path, [view("eval", kind="notebook", notebook=nb)], settings=settings)
    entry = record.task("eval").scraps["long_list"]
    assert ("value" in entry) is inline and ("artifact" in entry) is (not inline)
    assert record.task("eval").scraps["count"]["value"] == 344  # small scraps stay inline either way


def test_dataframe_scrap_is_an_artifact(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"species": ["Adelie", "Gentoo"], "count": [152, 124]})
    nb = write_notebook(tmp_path / "n.ipynb", cell("sb.glue('frame', df)", glue("frame", frame)))
    record, store = build(tmp_path, [view("n", kind="notebook", notebook=nb)])
    entry = record.task("n").scraps["frame"]
    assert entry["type"] == "dataframe" and entry["shape"] == [2, 2] and entry["encoder"] == "pandas"
    stored = json.loads(store.get_bytes(entry["artifact"]["sha256"]))
    assert stored["columns"] == ["species", "count"] and stored["data"] == [["Adelie", 152], ["Gentoo", 124]]


def test_metrics_first_task_wins_on_a_name_clash(tmp_path):
    a = write_notebook(tmp_path / "a.ipynb", cell("glue", glue("score", 1.5)))
    b = write_notebook(tmp_path / "b.ipynb", cell("glue", glue("score", 2.5), glue("loss", 0.25)))
    record, _ = build(tmp_path, [view("a", kind="notebook", notebook=a), view("b", kind="notebook", notebook=b)])
    assert record.metrics() == {"score": 1.5, "loss": 0.25}
    assert record.summary()["metrics"] == {"score": 1.5, "loss": 0.25}


def test_unreadable_scraps_do_not_stop_the_recording(tmp_path, capsys):
    bad = new_output("display_data", data={"application/scrapbook.scrap.json+json": {"name": "x", "data": 1}},
                     metadata={"scrapbook": {"name": "x", "data": True, "display": False}})  # no version
    nb = write_notebook(tmp_path / "n.ipynb", cell("glue", bad))
    record, _ = build(tmp_path, [view("n", kind="notebook", notebook=nb)])
    assert record.task("n").status == schema.TASK_SUCCEEDED
    assert record.task("n").notebook is not None
    assert record.task("n").scraps == {}
    assert "could not read scraps of" in capsys.readouterr().err


# -- inputs --------------------------------------------------------------------------------------


def test_params_naming_existing_files_the_pipeline_did_not_make_are_inputs(tmp_path):
    raw = write(tmp_path / "data" / "raw.csv", "species\nAdelie\n")
    outside = write(tmp_path.parent / f"{tmp_path.name}-ext" / "lookup.json", "{}")
    made = write(tmp_path / "outputs" / "clean.csv", "clean")
    (tmp_path / "data" / "folder").mkdir()
    views = [
        view("clean", params={"raw": "data/raw.csv", "n": 3, "missing": "data/none.csv", "folder": "data/folder",
                              "text": "hello"},
             products={"p": made}),
        view("fit", params={"lookup": str(outside), "clean": str(made), "again": str(raw)}, upstream=["clean"]),
    ]
    record, store = build(tmp_path, views)
    assert record.inputs == [
        # one entry per file, in first-seen order, declared by the last param naming it
        {"name": "raw.csv", "path": "data/raw.csv", "sha256": sha(b"species\nAdelie\n"), "size": 15,
         "declared_by": "param fit.again", "stored": True},
        {"name": "lookup.json", "path": str(outside), "sha256": sha(b"{}"), "size": 2,
         "declared_by": "param fit.lookup", "stored": True},
    ]
    # inputs under 50 MB are kept by content (nbprod.yaml's `inputs:`), so `nbprod reproduce` can restore them
    assert store.get_bytes(sha(b"species\nAdelie\n")) == b"species\nAdelie\n"
    assert {"what": "input raw.csv", "task": None}.items() <= next(
        o for o in record.objects() if o["sha256"] == sha(b"species\nAdelie\n")).items()


def test_inputs_are_only_hashed_when_nbprod_yaml_says_store_false_or_they_are_too_large(tmp_path):
    write(tmp_path / "data" / "raw.csv", "species\nAdelie\n")
    write(tmp_path / "data" / "big.csv", "x" * 2000)
    (tmp_path / "nbprod.yaml").write_text("inputs: {max_mb: 0.001}\n")
    record, store = build(tmp_path, [view("clean", params={"raw": "data/raw.csv", "big": "data/big.csv"})])
    kept = {i["name"]: (i["stored"], i.get("why")) for i in record.inputs}
    assert kept["raw.csv"] == (True, None)
    assert kept["big.csv"][0] is False and "over inputs.max_mb" in kept["big.csv"][1]
    (tmp_path / "nbprod.yaml").write_text("inputs: {store: false}\n")
    record, store = build(tmp_path, [view("clean", params={"raw": "data/raw.csv"})])
    assert record.inputs[0]["stored"] is False and "inputs.store is false" in record.inputs[0]["why"]


def test_a_file_inside_a_folder_product_is_not_an_input(tmp_path):
    folder = tmp_path / "outputs" / "models"
    write(folder / "m.bin", b"m")
    views = [view("train", products={"models": folder}),
             view("evaluate", params={"model_path": "outputs/models/m.bin"}, upstream=["train"])]
    record, _ = build(tmp_path, views)
    assert record.inputs == []


def test_notebooks_declare_inputs_in_an_nbprod_inputs_scrap(tmp_path):
    declared = {"penguins": {"path": "s3://data/penguins.csv", "sha256": "ab" * 32, "size": 10}, "other": "cd" * 32}
    nb = write_notebook(tmp_path / "load.ipynb", cell("glue", glue("nbprod_inputs", declared)))
    record, _ = build(tmp_path, [view("load", kind="notebook", notebook=nb)])
    assert sorted(record.inputs, key=lambda i: i["name"], reverse=True) == [
        {"name": "penguins", "path": "s3://data/penguins.csv", "sha256": "ab" * 32, "size": 10,
         "declared_by": "scrap load.nbprod_inputs", "stored": False, "why": "no local file path was declared"},
        {"name": "other", "path": None, "sha256": "cd" * 32, "size": None, "declared_by": "scrap load.nbprod_inputs",
         "stored": False, "why": "no local file path was declared"},
    ]


# -- errors ------------------------------------------------------------------------------------

TRACEBACK = """\
Traceback (most recent call last):
  File "/project/tasks.py", line 7, in fit
    raise ValueError("n must be positive")
\x1b[31mValueError\x1b[0m: n must be positive

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File ".../ploomber/tasks/abc.py", line 562, in _build
ploomber.exceptions.TaskBuildError: Error building task "fit"
ploomber.exceptions.DAGBuildError: Failed to build DAG DAG("pipeline")
"""


def test_error_of_a_task_without_a_notebook_comes_from_the_traceback(tmp_path):
    record, _ = build(tmp_path, [view("prep"), view("fit", ERRORED), view("report", ABORTED)],
                      status=schema.FAILED, traceback_text=TRACEBACK)
    error = record.task("fit").error
    assert (error.task, error.ename, error.evalue) == ("fit", "ValueError", "n must be positive")
    assert "\x1b" not in error.traceback and 'raise ValueError("n must be positive")' in error.traceback
    assert error.traceback.endswith('DAGBuildError: Failed to build DAG DAG("pipeline")')
    assert record.task("prep").error is None and record.task("report").error is None
    assert record.error == error
    assert record.error.sentence() == "task 'fit' failed: ValueError: n must be positive"


@pytest.mark.parametrize(
    "last_line, ename, evalue",
    [
        ("KeyError: 'bill_length_mm'", "KeyError", "'bill_length_mm'"),
        ("sqlalchemy.exc.OperationalError: no such table", "OperationalError", "no such table"),
        ("something odd happened", "Error", "something odd happened"),
    ],
)
def test_error_name_from_the_last_exception_line(tmp_path, last_line, ename, evalue):
    record, _ = build(tmp_path, [view("t", ERRORED)], status=schema.FAILED,
                      traceback_text=f"Traceback (most recent call last):\n  File 'x', line 1\n{last_line}\n")
    assert (record.error.ename, record.error.evalue) == (ename, evalue)


def test_error_of_a_failed_notebook_is_its_failing_cell(tmp_path):
    error_output = new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                              traceback=["\x1b[31mZeroDivisionError\x1b[0m: division by zero"])
    nb = write_notebook(
        tmp_path / "train.ipynb",
        cell("x = 1", tags=["parameters"], count=1),
        cell("x = 2", tags=["injected-parameters"], count=2),
        new_markdown_cell("text"),
        cell("y = x / 0", error_output, count=3),
        cell("never = 1", count=None, started=False),
    )
    record, _ = build(tmp_path, [view("train", ERRORED, kind="notebook", notebook=nb)], status=schema.FAILED,
                      traceback_text=TRACEBACK)
    error = record.task("train").error
    assert (error.ename, error.evalue, error.cell_index, error.execution_count) == (
        "ZeroDivisionError", "division by zero", 2, 3)  # injected cell not counted, markdown counted
    assert error.cell_source == "y = x / 0"
    assert record.error.sentence() == "task 'train', cell 2 (In [3]) failed: ZeroDivisionError: division by zero"


def test_failed_run_without_a_failed_task_gets_the_build_traceback(tmp_path):
    record, _ = build(tmp_path, [view("a")], status=schema.FAILED, traceback_text="RuntimeError: on_finish hook broke")
    assert record.task("a").error is None
    assert (record.error.task, record.error.ename, record.error.evalue) == ("?", "RuntimeError", "on_finish hook broke")


def test_failed_task_without_notebook_or_traceback_has_no_error(tmp_path):
    record, _ = build(tmp_path, [view("a", ERRORED)], status=schema.FAILED)
    assert record.task("a").status == schema.TASK_FAILED
    assert record.task("a").error is None and record.error is None


# -- secrets ---------------------------------------------------------------------------------------


def test_a_secret_in_the_environment_reaches_nowhere_in_the_store(tmp_path, monkeypatch):
    monkeypatch.setenv("API_TOKEN", SECRET)
    report = write(tmp_path / "outputs" / "report.txt", f"connected with {SECRET}\n")
    nb = write_notebook(
        tmp_path / "outputs" / "load.ipynb",
        cell("print(token)", new_output("stream", name="stdout", text=f"token={SECRET}\n"),
             glue("token", SECRET), glue("blob", {"token": SECRET, "pad": "x" * 200})),
    )
    session = new_session(tmp_path, argv=["ploomber", "build", f"--env--token={SECRET}"])
    views = [
        view("load", kind="notebook", params={"token": SECRET}, products={"nb": nb, "report": report}, notebook=nb),
        view("fit", ERRORED, params={"url": f"https://user:{SECRET}@db/x"}),
    ]
    record, store = build(tmp_path, views, status=schema.FAILED, session=session,
                          settings=settings_for(tmp_path, inline_max=64),
                          traceback_text=f"ValueError: bad credentials {SECRET}")
    store.write_record(record)
    placeholder = "[redacted:API_TOKEN]"
    # everything arrived, redacted
    assert record.command[-1] == f"--env--token={placeholder}"
    assert record.task("load").params["token"] == placeholder
    assert record.task("fit").params["url"] == f"https://user:{placeholder}@db/x"
    assert record.task("load").scraps["token"]["value"] == placeholder
    assert record.error.evalue == f"bad credentials {placeholder}"
    blob = json.loads(store.get_bytes(record.task("load").scraps["blob"]["artifact"]["sha256"]))
    assert blob["token"] == placeholder
    # nowhere in the store, in any file
    files = [p for p in (tmp_path / "store").rglob("*") if p.is_file()]
    assert len(files) >= 6  # store.json, 3 objects, record, summary
    assert [p for p in files if SECRET.encode() in p.read_bytes()] == []
    # the local files were redacted in place: local, stored and recorded bytes are the same
    assert SECRET not in report.read_text() and placeholder in report.read_text()
    assert record.task("load").notebook["sha256"] == sha(nb.read_bytes())
    assert store.get_bytes(sha(report.read_bytes())) == report.read_bytes()


def test_a_text_product_that_cannot_be_rewritten_is_stored_redacted(tmp_path, monkeypatch):
    monkeypatch.setenv("DB_PASSWORD", SECRET)
    product = write(tmp_path / "out.csv", f"pw,{SECRET}\n")

    def read_only(path, data, mode=None):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(redact, "atomic_write", read_only)  # as for a file in a read-only folder
    record, store = build(tmp_path, [view("t", products={"p": product})])
    stored = store.get_bytes(record.task("t").products[0]["sha256"])
    assert stored == b"pw,[redacted:DB_PASSWORD]\n"
    assert SECRET in product.read_text()  # the local file still holds it: it could not be rewritten


def test_binary_products_are_stored_as_they_are_even_with_a_secret(tmp_path, monkeypatch):
    # documented (nbprod.redact): rewriting bytes inside a binary format would corrupt it
    monkeypatch.setenv("API_TOKEN", SECRET)
    data = b"\x80\x04pickle " + SECRET.encode()
    product = write(tmp_path / "model.pkl", data)
    record, store = build(tmp_path, [view("t", products={"p": product})])
    assert product.read_bytes() == data
    assert store.get_bytes(record.task("t").products[0]["sha256"]) == data


# -- record_run: the store, or the spool ------------------------------------------------------------


def collect():
    lines = []
    return lines, lambda line, err=False: lines.append((line, err))


def test_record_run_writes_the_record_to_the_store(tmp_path):
    settings = settings_for(tmp_path)
    product = write(tmp_path / "a.txt", "a")
    lines, say = collect()
    record, where = record_run(new_session(tmp_path), [view("a", products={"p": product})], schema.SUCCEEDED,
                               settings=settings, say=say)
    store = Store(settings.store)
    assert where == store.url == settings.store
    assert store.run_ids() == [record.run_id]
    assert store.read_record(record.run_id).to_dict() == json.loads(json.dumps(record.to_dict()))
    assert store.get_bytes(sha(b"a")) == b"a"
    assert lines == []
    assert not Path(settings.spool).exists()


def _refusing_store(settings: Settings) -> None:
    """A store folder written by a newer nbprod: every write is a StoreError, deterministically."""
    write(Path(settings.store) / "store.json", json.dumps({"layout": 99}))


def test_record_run_spools_the_run_when_the_store_refuses_it(tmp_path):
    settings = settings_for(tmp_path)
    _refusing_store(settings)
    product = write(tmp_path / "a.txt", "payload")
    lines, say = collect()
    record, where = record_run(new_session(tmp_path), [view("a", products={"p": product})], schema.SUCCEEDED,
                               settings=settings, say=say)
    spool, ids = spooling.pending_for(settings, settings.store)
    assert where == f"the local spool {spool.url} (store {settings.store} unavailable)"
    assert ids == [record.run_id]
    assert spool.read_record(record.run_id).task("a").products[0]["sha256"] == sha(b"payload")
    assert spool.get_bytes(sha(b"payload")) == b"payload"
    assert not (Path(settings.store) / "runs").exists() and not (Path(settings.store) / "objects").exists()
    assert [err for _, err in lines] == [True, True]
    assert lines[0][0].startswith("nbprod: warning: ") and "layout 99" in lines[0][0]
    assert lines[1][0] == (f"nbprod: run {record.run_id} kept in the local spool {spool.url}: "
                           f"`nbprod push` uploads it to {settings.store} once the store is back")


def test_spooled_runs_are_pushed_after_the_next_run_reaches_the_store(tmp_path):
    settings = settings_for(tmp_path)
    _refusing_store(settings)
    first, _ = record_run(new_session(tmp_path), [view("a", products={"p": write(tmp_path / "a.txt", "1")})],
                          schema.SUCCEEDED, settings=settings, say=collect()[1])
    write(Path(settings.store) / "store.json", json.dumps({"layout": 1}))  # the store is back
    lines, say = collect()
    second, where = record_run(new_session(tmp_path), [view("a", products={"p": write(tmp_path / "a.txt", "2")})],
                               schema.SUCCEEDED, settings=settings, say=say)
    store = Store(settings.store)
    assert where == settings.store
    assert sorted(store.run_ids()) == sorted([first.run_id, second.run_id])
    assert store.get_bytes(sha(b"1")) == b"1"  # the spooled run's objects came along
    assert spooling.pending_for(settings, settings.store) is None
    assert lines[0] == (f"nbprod: pushing 1 spooled run(s) to {settings.store}", False)


def test_record_run_spools_the_run_when_the_store_is_unreachable(tmp_path, monkeypatch, memory_fs):
    """A backend whose connection fails (what botocore raises for a closed S3 endpoint,
    translated by the store into StoreUnreachableError), without the seconds botocore's
    retries take against a real closed port."""
    from fsspec.implementations.memory import MemoryFileSystem

    def down(self, *args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(MemoryFileSystem, "pipe_file", down)
    settings = Settings(store="memory://nbprod-down", spool=str(tmp_path / "spool"), store_timeout=0.5)
    lines, say = collect()
    record, where = record_run(new_session(tmp_path), [view("a")], schema.FAILED, settings=settings, say=say,
                               traceback_text="ValueError: x")
    assert where.startswith("the local spool ") and where.endswith(" (store memory://nbprod-down unavailable)")
    assert lines[0][1] is True and lines[0][0].startswith("nbprod: warning: cannot reach the store memory://nbprod-down")
    spool, ids = spooling.pending_for(settings, settings.store)
    assert ids == [record.run_id]
    assert spool.read_record(record.run_id).status == schema.FAILED


# -- provenance that is true (issue 11 §3) -----------------------------------------------------


def test_a_notebook_records_its_kernel_and_the_build_warns_once(tmp_path, monkeypatch, capsys):
    """A kernel in another environment (a real kernelspec whose interpreter sees other
    packages) is recorded per task, with one warning line however often it is recorded."""
    site = tmp_path / "kernel-site"
    info = site / "kernel_only_pkg-2.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kernel-only-pkg\nVersion: 2.0\n")
    spec = tmp_path / "jupyter" / "kernels" / "otherenv"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [os.sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Other env", "language": "python", "env": {"PYTHONPATH": str(site)}}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    nb = write_notebook(tmp_path / "train.ipynb", cell("x = 1"))
    doc = nbformat.read(str(nb), as_version=4)
    doc.metadata["kernelspec"]["name"] = "otherenv"
    nbformat.write(doc, str(nb))
    mine = write_notebook(tmp_path / "report.ipynb", cell("y = 1"))  # kernelspec python3: nbprod's own
    spec_mine = tmp_path / "jupyter" / "kernels" / "python3"
    spec_mine.mkdir(parents=True)
    (spec_mine / "kernel.json").write_text(json.dumps({"argv": ["python", "-m", "ipykernel_launcher"],
                                                       "display_name": "Python 3", "language": "python"}))
    views = [view("train", kind="notebook", notebook=nb), view("report", kind="notebook", notebook=mine),
             view("html", kind="notebook", source=str(nb)),  # an HTML product: ploomber deleted the .ipynb
             view("old", SKIPPED, kind="notebook", notebook=nb)]  # did not run in this build
    session = new_session(tmp_path)
    record, _ = build(tmp_path, views, session=session)
    assert record.task("html").kernel["name"] == "otherenv" and record.task("old").kernel is None
    kernel = record.task("train").kernel
    assert kernel["name"] == "otherenv" and kernel["executable"] == os.path.abspath(os.sys.executable)
    assert kernel["packages"] == {"kernel-only-pkg": "2.0"} and kernel["same_env"] is False
    assert kernel["python"] == record.python["version"]
    assert record.task("report").kernel["same_env"] is True
    again, _ = build(tmp_path, views, session=session)  # recorded again (the spool after a store error)
    assert again.task("train").kernel == kernel
    warnings = [line for line in capsys.readouterr().err.splitlines() if "another environment" in line]
    assert len(warnings) == 1 and "kernel 'otherenv'" in warnings[0] and "task(s) train, html" in warnings[0]
    assert "report" not in warnings[0]
    assert schema.RunRecord.from_dict(json.loads(json.dumps(record.to_dict()))).task("train").kernel == kernel


def test_each_task_records_the_sha256_of_its_source_and_a_functions_text_is_stored(tmp_path):
    module = write(tmp_path / "tasks.py", "def get(product):\n    open(str(product), 'w').write('x')\n")
    nb = write_notebook(tmp_path / "fit.ipynb", cell("y = 2"))
    views = [view("get", source=f"{module}:1"), view("fit", kind="notebook", source=str(nb)),
             view("later", ABORTED, source=f"{module}:1")]
    record, store = build(tmp_path, views, status=schema.FAILED)
    text = "def get(product):\n    open(str(product), 'w').write('x')\n"
    get = record.task("get")
    assert get.source_sha256 == sha(text.encode())
    assert get.source_object["sha256"] == sha(text.encode()) and store.get_bytes(get.source_object["sha256"]) == text.encode()
    assert {"task": "get", "what": "source"}.items() <= {k: v for o in record.objects() for k, v in o.items()
                                                         if o["what"] == "source"}.items()
    assert record.task("fit").source_sha256 == sha(json.dumps(["y = 2"]).encode()) and record.task("fit").source_object is None
    assert record.task("later").source_sha256 == get.source_sha256  # aborted: the code it would have run
    older = {k: v for k, v in get.__dict__.items() if k not in ("source_sha256", "source_object", "kernel", "timing")}
    assert schema.RunRecord.from_dict({"run_id": "r", "status": "failed", "started_at": "t",
                                       "tasks": [{**older, "error": None}]}).task("get").source_sha256 is None


def test_the_spec_files_the_build_used_are_hashed_with_their_names(tmp_path):
    write(tmp_path / "pipeline.yaml", "tasks: []\n")
    write(tmp_path / "env.yaml", "n: 1\n")
    ci = write(tmp_path / "pipeline.ci.yaml", "tasks: [] # ci\n")
    env = write(tmp_path / "env.ci.yaml", "n: 2\n")
    session = new_session(tmp_path, spec_files={"entry_point": str(ci), "env": str(env)})
    record, _ = build(tmp_path, [view("a")], session=session)
    assert record.project["files"] == {
        "pipeline.ci.yaml": {"sha256": sha(b"tasks: [] # ci\n"), "size": 15, "role": "entry_point"},
        "env.ci.yaml": {"sha256": sha(b"n: 2\n"), "size": 5, "role": "env"},
    }


def test_a_succeeded_function_task_in_a_failed_run_keeps_its_timings(tmp_path):
    """ploomber passes its build report (the Elapsed column) to on_finish only: in a failed
    build the times of the function tasks that succeeded come from their product files."""
    session = new_session(tmp_path)
    start = session.started_clock
    first = write(tmp_path / "out" / "raw.csv", "x\n1\n")
    second = write(tmp_path / "out" / "clean.csv", "x\n1\n")
    os.utime(first, (start + 1.5, start + 1.5))
    os.utime(second, (start + 4.0, start + 4.0))
    views = [view("get", products={"p": first}), view("clean", products={"p": second}, upstream=["get"]),
             view("fit", ERRORED, upstream=["clean"])]
    record, _ = build(tmp_path, views, status=schema.FAILED, session=session, traceback_text="ValueError: boom")
    get, clean = record.task("get"), record.task("clean")
    assert (get.duration_s, get.timing) == (1.5, "products")
    assert (clean.duration_s, clean.timing) == (2.5, "products")  # from its upstream's last write
    assert schema.parse_time(clean.started_at) == schema.parse_time(get.ended_at)
    assert record.task("fit").duration_s is None
    timed, _ = build(tmp_path, views[:1], session=new_session(tmp_path), elapsed={"get": 0.25})
    assert (timed.task("get").duration_s, timed.task("get").timing) == (0.25, "ploomber")
