"""nbprod's Python API: runs() as a DataFrame, run() with its files, diff(), upstream().

Against a real store folder and the S3 server on 127.0.0.1, with no CLI involved."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import nbprod
from nbprod.errors import ConfigError, NbprodError, PipelineError, RunNotFoundError
from nbprod.files import sha256_bytes
from nbprod.schema import RunRecord, TaskRecord, new_run_id
from nbprod.store import Store

BASE = datetime(2026, 11, 1, tzinfo=timezone.utc)
REPO = Path(__file__).resolve().parents[2]


def add_run(store: Store, work: Path, minute: int, *, C: float, accuracy: float, status: str = "succeeded",
            model: bytes = b"model", frame: pd.DataFrame | None = None) -> RunRecord:
    """A run stored the way the recorder stores one: products, a data-frame scrap, a notebook."""
    moment = BASE + timedelta(minutes=minute)
    run_id = new_run_id(moment)
    work.mkdir(parents=True, exist_ok=True)
    model_file = work / f"{run_id}.joblib"
    model_file.write_bytes(model)
    stored = store.put_file(model_file)
    folder = [store.put_bytes(b"a,b\n1,2\n"), store.put_bytes(b"x\n")]
    frame = frame if frame is not None else pd.DataFrame({"species": ["Adelie", "Gentoo"], "n": [3, 4]})
    table = store.put_bytes(frame.to_json(orient="split", date_format="iso").encode())
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nb_bytes = nbformat.writes(nb).encode()
    nb_stored = store.put_bytes(nb_bytes)
    record = RunRecord(
        run_id=run_id, status=status, started_at=moment.isoformat(), duration_s=2.0 + minute,
        git={"commit": f"{minute:040x}", "dirty": False},
        tasks=[
            TaskRecord(name="ingest", kind="notebook", status="succeeded", params={"years": [2008], "seed": 1}),
            TaskRecord(
                name="train", kind="notebook", status="succeeded" if status == "succeeded" else "failed",
                params={"C": C, "seed": 7},
                products=[
                    {"name": "model", "path": "outputs/model/model.joblib", "sha256": stored["sha256"],
                     "size": stored["size"], "partial": False},
                    {"name": "split/train.csv", "path": "outputs/split/train.csv", "sha256": folder[0]["sha256"],
                     "size": folder[0]["size"], "partial": False},
                    {"name": "split/sub/test.csv", "path": "outputs/split/sub/test.csv",
                     "sha256": folder[1]["sha256"], "size": folder[1]["size"], "partial": False},
                ],
                notebook={"key": nb_stored["key"], "sha256": nb_stored["sha256"], "size": nb_stored["size"]},
                scraps={
                    "accuracy": {"value": accuracy, "encoder": "json"},
                    "counts": {"encoder": "pandas", "type": "dataframe", "shape": list(frame.shape),
                               "artifact": {"sha256": table["sha256"], "size": table["size"]}},
                    "figure": {"encoder": "display", "display_only": True},
                },
            ),
        ],
        metrics_spec=[{"name": "accuracy", "goal": "max", "headline": True, "tolerance": 0.0}],
    )
    store.write_record(record)
    return record


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "s3":
        request.getfixturevalue("s3")
        return Store("s3://nbprod-test/api")
    return Store(str(tmp_path / "store"))


@pytest.fixture
def three(store, tmp_path):
    runs = [add_run(store, tmp_path / "work", 0, C=0.5, accuracy=0.90),
            add_run(store, tmp_path / "work", 1, C=1.0, accuracy=0.95),
            add_run(store, tmp_path / "work", 2, C=1.0, accuracy=0.80, status="failed")]
    return store, runs


def test_runs_is_a_frame_with_a_row_per_run_and_a_column_per_param_and_metric(three):
    store, made = three
    frame = nbprod.runs(store=store)
    assert list(frame["run_id"]) == [r.run_id for r in reversed(made)]  # newest first
    assert list(frame.columns[:9]) == list(nbprod.api.BASE_COLUMNS)
    assert {"train.C", "train.seed", "ingest.seed", "ingest.years", "accuracy"} <= set(frame.columns)
    assert str(frame["started"].dtype).startswith("datetime64") and frame["started"].dt.tz is not None
    assert frame.loc[frame.run_id == made[0].run_id, "train.C"].item() == 0.5
    assert frame.loc[frame.run_id == made[0].run_id, "ingest.years"].item() == "[2008]"
    assert frame["accuracy"].tolist() == [0.80, 0.95, 0.90]


def test_runs_filters_like_runs_ls(three):
    store, made = three
    assert nbprod.runs(status="succeeded", store=store)["run_id"].tolist() == [made[1].run_id, made[0].run_id]
    assert nbprod.runs(status=["failed"], store=store)["run_id"].tolist() == [made[2].run_id]
    assert nbprod.runs(params={"train.C": 1.0}, store=store)["run_id"].tolist() == [made[2].run_id, made[1].run_id]
    assert nbprod.runs(params={"train.C": 1}, status="succeeded", store=store)["run_id"].tolist() == [made[1].run_id]
    assert nbprod.runs(params={"ingest.seed": 7}, store=store).empty  # dotted: that task's parameter only
    assert len(nbprod.runs(params=["seed=1"], store=store)) == 3
    assert len(nbprod.runs(params={"ingest.years": [2008]}, store=store)) == 3  # lists compare as lists
    assert nbprod.runs(params=["train.C=1.0", "train.seed=7"], store=store)["run_id"].tolist() == [made[2].run_id, made[1].run_id]
    assert len(nbprod.runs(since=BASE.date(), store=store)) == 3  # a date: from the start of that day (UTC)
    assert nbprod.runs(since=BASE + timedelta(minutes=1), store=store)["run_id"].tolist() == [made[2].run_id, made[1].run_id]
    assert nbprod.runs(sort="accuracy", limit=1, store=store)["run_id"].tolist() == [made[1].run_id]
    assert nbprod.runs(task="train", limit=2, store=store)["run_id"].tolist() == [made[2].run_id, made[1].run_id]
    empty = nbprod.runs(status="interrupted", store=store)
    assert empty.empty and list(empty.columns) == list(nbprod.api.BASE_COLUMNS)


def test_runs_rejects_bad_filters_with_one_line_errors(three):
    store, _ = three
    with pytest.raises(ConfigError, match="is not a run status"):
        nbprod.runs(status="done", store=store)
    with pytest.raises(ConfigError, match="neither a date nor a duration"):
        nbprod.runs(since="yesterday", store=store)


def test_run_gives_record_params_metrics_and_decoded_scraps(three):
    store, made = three
    run = nbprod.run("latest~1", store=store)
    assert run.id == made[1].run_id and run.status == "succeeded"
    assert run.record.run_id == made[1].run_id and run.started == BASE + timedelta(minutes=1)
    assert run.params == {"ingest.years": [2008], "ingest.seed": 1, "train.C": 1.0, "train.seed": 7}
    assert run.metrics == {"accuracy": 0.95}
    scraps = run.scraps
    assert scraps["train"]["accuracy"] == 0.95 and scraps["train"]["figure"] is None
    pd.testing.assert_frame_equal(scraps["train"]["counts"],
                                  pd.DataFrame({"species": ["Adelie", "Gentoo"], "n": [3, 4]}))
    assert nbprod.run(made[0].run_id[:17], store=store).id == made[0].run_id


def test_run_notebook_is_an_nbformat_node_verified_by_hash(three):
    store, made = three
    nb = nbprod.run(store=store).notebook("train")
    assert nb.cells[0].source == "x = 1" and nb.nbformat == 4
    with pytest.raises(RunNotFoundError, match="no executed notebook"):
        nbprod.run(store=store).notebook("ingest")


def test_run_product_downloads_once_verified_and_cached_by_sha(store, tmp_path):
    made = add_run(store, tmp_path / "work", 0, C=1.0, accuracy=0.9, model=b"weights-v1")
    cache = tmp_path / "cache"
    path = nbprod.run(store=store).product("train", "model", cache=cache)
    assert path.read_bytes() == b"weights-v1" and path.name == "model.joblib"
    assert path.parent.name == sha256_bytes(b"weights-v1")
    before = path.stat().st_mtime_ns
    assert nbprod.run(store=store).product("train", "model", cache=cache) == path
    assert path.stat().st_mtime_ns == before  # already there with the right bytes: not downloaded again
    path.write_bytes(b"tampered!!")  # a corrupt cache entry is replaced, never returned
    assert nbprod.run(store=store).product("train", "model", cache=cache).read_bytes() == b"weights-v1"
    folder = nbprod.run(store=store).product("train", "split", cache=cache)
    assert (folder / "train.csv").read_bytes() == b"a,b\n1,2\n" and (folder / "sub" / "test.csv").read_bytes() == b"x\n"
    with pytest.raises(ConfigError, match="has no product 'weights'"):
        nbprod.run(store=store).product("train", "weights", cache=cache)
    with pytest.raises(ConfigError, match="has no task 'nope'"):
        nbprod.run(store=store).product("nope", "model", cache=cache)
    assert made.run_id in repr(nbprod.run(store=store))


def test_a_corrupt_stored_product_is_refused(store, tmp_path):
    from nbprod.errors import IntegrityError

    made = add_run(store, tmp_path / "work", 0, C=1.0, accuracy=0.9, model=b"weights-v1")
    key = Store.object_key(made.tasks[1].products[0]["sha256"])
    store.fs.pipe_file(store._path(key), b"weights-v2")  # same size, other bytes
    with pytest.raises(IntegrityError):
        nbprod.run(store=store).product("train", "model", cache=tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("model.joblib"))


def test_diff_is_the_structured_diff(three):
    store, made = three
    result = nbprod.diff("latest~2", "latest~1", store=store)
    assert result["old"] == made[0].run_id and result["new"] == made[1].run_id
    assert {"task": "train", "name": "C", "old": 0.5, "new": 1.0} in result["params"]
    (metric,) = [m for m in result["metrics"] if m["name"] == "accuracy"]
    assert metric["verdict"] == "improved"


def test_unknown_runs_are_one_line_errors(three):
    store, _ = three
    with pytest.raises(RunNotFoundError) as err:
        nbprod.run("19990101", store=store)
    assert "\n" not in str(err.value) and err.value.exit_code == 2


def test_the_api_reads_nbprod_store_from_the_environment(tmp_path, monkeypatch):
    store = Store(str(tmp_path / "env-store"))
    made = add_run(store, tmp_path / "work", 0, C=1.0, accuracy=0.9)
    monkeypatch.setenv("NBPROD_STORE", str(tmp_path / "env-store"))
    monkeypatch.setenv("NBPROD_SPOOL", str(tmp_path / "spool"))
    assert nbprod.run().id == made.run_id
    assert nbprod.runs()["run_id"].tolist() == [made.run_id]
    assert nbprod.runs(store=str(tmp_path / "env-store"))["run_id"].tolist() == [made.run_id]


def test_runs_of_summaries_recorded_before_per_task_params_use_plain_names(tmp_path):
    store = Store(str(tmp_path / "store"))
    made = add_run(store, tmp_path / "work", 0, C=0.5, accuracy=0.9)
    old = {k: v for k, v in made.summary().items() if k != "task_params"}  # as an older nbprod wrote it
    store.write_key(f"summaries/{made.run_id}.json", json.dumps(old).encode())
    frame = nbprod.runs(store=store)
    assert frame.loc[0, "C"] == 0.5 and "train.C" not in frame.columns
    assert len(nbprod.runs(params={"train.C": 0.5}, store=store)) == 1  # a dotted filter falls back to the name


def test_runs_reads_summaries_not_records(tmp_path, monkeypatch):
    """Listing is fast on 10,000 runs because it never reads a record (summary packs)."""
    store = Store(str(tmp_path / "store"))
    for minute in range(5):
        add_run(store, tmp_path / "work", minute, C=1.0, accuracy=0.9)
    read = []
    real = Store.read_record
    monkeypatch.setattr(Store, "read_record", lambda self, run_id: read.append(run_id) or real(self, run_id))
    monkeypatch.setattr(Store, "read_records", lambda self, ids: pytest.fail("runs() read records"))
    assert len(nbprod.runs(store=store)) == 5 and read == []
    assert len(nbprod.runs(store=store, sort="accuracy")) == 5
    assert len(read) == 1  # sorting by a metric reads its declared goal from the newest record only


# -- upstream ------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    for name in ("pipeline.yaml", "env.yaml"):
        shutil.copy(REPO / name, root / name)
    return root


def test_upstream_from_jupyterlab_resolves_the_pipeline_from_the_notebooks_folder(project, monkeypatch):
    monkeypatch.chdir(project / "notebooks")  # where JupyterLab starts a notebook's kernel
    for rel in ("outputs/data/penguins.parquet", "outputs/data/validation.json"):
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text("x")
    found = nbprod.upstream("train")
    assert found["ingest"]["data"] == str(project / "outputs/data/penguins.parquet")
    assert found["validate"]["report"] == str(project / "outputs/data/validation.json")
    assert set(found) == {"ingest", "validate"}


def test_upstream_names_every_missing_task_at_once(project, monkeypatch):
    from nbprod.engine.upstream import MissingUpstreamError

    monkeypatch.chdir(project / "notebooks")
    with pytest.raises(MissingUpstreamError) as err:
        nbprod.upstream("train")
    message = str(err.value)
    assert "task 'ingest': outputs/data/penguins.parquet" in message
    assert "task 'validate': outputs/data/validation.json" in message
    assert "ploomber build --partially train" in message and "\n" not in message
    assert err.value.missing.keys() == {"ingest", "validate"}
    assert isinstance(err.value, NbprodError)
    assert nbprod.upstream("ingest") == {}  # no upstream: nothing missing


def test_upstream_given_by_ploomber_is_returned_untouched_without_loading_anything(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no pipeline.yaml anywhere: loading would fail
    injected = {"ingest": {"data": "/abs/penguins.parquet"}}
    assert nbprod.upstream("train", injected) is injected


def test_upstream_outside_a_project_and_unknown_tasks_are_one_line_errors(project, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PipelineError, match="no pipeline.yaml in"):
        nbprod.upstream("train")
    monkeypatch.chdir(project)
    with pytest.raises(PipelineError, match="has no task 'trian'"):
        nbprod.upstream("trian")


def test_upstream_of_a_single_product_task_is_its_path_as_ploomber_injects_it(tmp_path, monkeypatch):
    root = tmp_path / "proj"
    root.mkdir()
    for name in ("a", "b"):
        nb = nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_code_cell("upstream = None\nproduct = None", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell("x = 1"),
        ])
        nbformat.write(nb, str(root / f"{name}.ipynb"))
    (root / "pipeline.yaml").write_text(
        "meta: {extract_upstream: false, extract_product: false}\n"
        "tasks:\n"
        "  - {source: a.ipynb, name: a, product: out/a.ipynb}\n"
        "  - {source: b.ipynb, name: b, product: out/b.ipynb, upstream: [a]}\n")
    monkeypatch.chdir(root)
    assert nbprod.upstream("b", check=False) == {"a": str(root / "out" / "a.ipynb")}
    from nbprod.engine.upstream import MissingUpstreamError

    with pytest.raises(MissingUpstreamError, match="task 'a': out/a.ipynb"):
        nbprod.upstream("b")
    (root / "out").mkdir()
    (root / "out" / "a.ipynb").write_text("{}")
    assert nbprod.upstream("b") == {"a": str(root / "out" / "a.ipynb")}
