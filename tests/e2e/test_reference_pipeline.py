"""The reference project end to end: real ploomber, papermill and kernels."""

from __future__ import annotations

import hashlib
import json
import subprocess
from importlib import resources
from pathlib import Path

import nbformat
import pytest
from conftest import git_init

pytestmark = pytest.mark.e2e


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def metrics_of(record: dict) -> dict:
    evaluate = next(t for t in record["tasks"] if t["name"] == "evaluate")
    return {k: v["value"] for k, v in evaluate["scraps"].items() if "value" in v}


def test_ploomber_build_records_incremental_and_deterministic(reference_project, shell_factory, store):
    commit = git_init(reference_project)
    sh = shell_factory(reference_project)

    sh("ploomber", "build")
    runs = sh.runs()
    assert len(runs) == 1
    record = sh.latest()
    assert record["status"] == "succeeded"
    assert record["schema"] == 1
    assert [t["name"] for t in record["tasks"]] == ["ingest", "validate", "train", "evaluate"]
    assert all(t["status"] == "succeeded" for t in record["tasks"])
    assert record["git"]["commit"] == commit and record["git"]["dirty"] is False
    assert record["project"]["files"]["pipeline.yaml"]["sha256"] == sha256(reference_project / "pipeline.yaml")
    assert record["project"]["files"]["env.yaml"]["sha256"] == sha256(reference_project / "env.yaml")
    assert record["packages"]["papermill"] and record["packages"]["ploomber"]
    assert record["python"]["version"].startswith("3.")
    assert record["user"] and record["host"]

    # parameters per task
    params = {t["name"]: t["params"] for t in record["tasks"]}
    assert params["ingest"] == {"years": [2007, 2008, 2009], "source": "palmerpenguins"}
    assert params["train"] == {"test_size": 0.25, "seed": 42, "C": 1.0}

    # input data hash: the CSV palmerpenguins ships
    csv = resources.files("palmerpenguins") / "data" / "penguins.csv"
    inputs = {i["name"]: i for i in record["inputs"]}
    assert inputs["penguins.csv"]["sha256"] == hashlib.sha256(csv.read_bytes()).hexdigest()

    # every product hashed, stored once by content, and the executed notebooks stored
    for task in record["tasks"]:
        assert task["duration_s"] > 0
        for product in task["products"]:
            local = reference_project / product["path"]
            assert product["sha256"] == sha256(local) and product["size"] == local.stat().st_size
            obj = store / "objects" / "sha256" / product["sha256"][:2] / product["sha256"][2:]
            assert obj.read_bytes() == local.read_bytes()
        nb_file = store / task["notebook"]["key"]
        assert hashlib.sha256(nb_file.read_bytes()).hexdigest() == task["notebook"]["sha256"]
        nbformat.validate(nbformat.read(str(nb_file), as_version=4))

    # metrics: numbers, sane
    metrics = metrics_of(record)
    assert isinstance(metrics["accuracy"], float) and metrics["accuracy"] > 0.9
    assert isinstance(metrics["f1_macro"], float) and metrics["f1_macro"] > 0.9
    assert set(metrics["recall_per_class"]) == {"Adelie", "Chinstrap", "Gentoo"}
    ingest = record["tasks"][0]["scraps"]
    assert ingest["rows"]["value"] == 344
    assert ingest["data_sha256"]["value"] == sha256(reference_project / "outputs/data/penguins.parquet")

    # incremental: nothing changed, nothing runs, nothing recorded
    again = sh("ploomber", "build")
    assert "nothing ran" in again.stdout
    assert len(sh.runs()) == 1

    # deterministic: a forced rebuild gives identical metrics and data
    sh("ploomber", "build", "--force")
    forced = sh.latest()
    assert forced["run_id"] != record["run_id"]
    assert metrics_of(forced) == metrics
    assert forced["tasks"][0]["scraps"]["data_sha256"] == ingest["data_sha256"]
    table = sh("nbprod", "runs", "ls").stdout
    assert forced["run_id"] in table and record["run_id"] in table
    assert table.index(forced["run_id"]) < table.index(record["run_id"])  # newest first


def test_invalid_data_is_rejected_before_training(reference_project, shell_factory):
    sh = shell_factory(reference_project)
    csv = (resources.files("palmerpenguins") / "data" / "penguins.csv").read_text().splitlines()
    header, rows = csv[0], csv[1:]
    bad = rows[:30]
    columns = header.split(",")
    cells = bad[3].split(",")
    cells[columns.index("body_mass_g")] = "-5"
    bad[3] = ",".join(cells)
    cells = bad[5].split(",")
    cells[columns.index("species")] = "Emperor"
    bad[5] = ",".join(cells)
    (reference_project / "bad.csv").write_text("\n".join([header, *bad]) + "\n")

    done = sh("ploomber", "build", "--env--source", "bad.csv", check=False)
    assert done.returncode != 0
    last = [l for l in done.stderr.splitlines() if l.strip()][-1]
    assert "task 'validate'" in last and "body_mass_g" in last and "species" in last, last

    record = sh.latest()
    assert record["status"] == "failed"
    statuses = {t["name"]: t["status"] for t in record["tasks"]}
    assert statuses == {"ingest": "succeeded", "validate": "failed", "train": "aborted", "evaluate": "aborted"}
    error = record["error"]
    assert error["task"] == "validate" and "InvalidDataError" in error["ename"]
    assert "[3]" in error["evalue"] and "[5]" in error["evalue"]
    validation = record["tasks"][1]["scraps"]["validation"]["value"]
    assert validation["valid"] is False
    # the bad CSV is recorded as an input, by parameter
    assert any(i["name"] == "bad.csv" and i["declared_by"] == "param ingest.source" for i in record["inputs"])
    assert not (reference_project / "outputs/model/model.joblib").exists()


def test_papermill_runs_a_notebook_with_parameters(reference_project, shell_factory, tmp_path):
    sh = shell_factory(reference_project)
    out = tmp_path / "ingest-2008.ipynb"
    sh("papermill", "notebooks/ingest.ipynb", str(out), "-p", "years", "2008")
    import scrapbook as sb

    scraps = sb.read_notebook(str(out)).scraps.data_dict
    assert scraps["years"] == [2008]
    assert scraps["rows"] == 114


def run_all(notebook: Path) -> None:
    """JupyterLab's Run All: the notebook's own defaults, kernel started in its folder."""
    from nbclient import NotebookClient

    nb = nbformat.read(str(notebook), as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(notebook.parent)}}).execute()


def test_jupyterlab_run_all_with_defaults(reference_project):
    from nbclient.exceptions import CellExecutionError

    notebooks = reference_project / "notebooks"
    with pytest.raises(CellExecutionError) as missing:
        run_all(notebooks / "train.ipynb")
    assert "upstream products of 'train' not found (task 'ingest': outputs/data/penguins.parquet; " \
        "task 'validate': outputs/data/validation.json): run them first: ploomber build --partially train" in str(missing.value)

    for name in ("ingest", "validate", "train", "evaluate"):
        run_all(notebooks / f"{name}.ipynb")
    metrics = json.loads((reference_project / "outputs/metrics/metrics.json").read_text())
    assert metrics["accuracy"] > 0.9
