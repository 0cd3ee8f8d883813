"""nbprod export airflow, against real Apache Airflow 3 (its own venv, SQLite, `dags test`).

The reference project is exported with ``--clone``: every Airflow task runs in a fresh clone
of the project's git repository, with an empty outputs/, as a worker on another machine
would, so upstream products provably travel through the store only (moto's S3 server on
127.0.0.1). Each DAG run must be exactly one nbprod run.
"""

from __future__ import annotations

import os

import pytest
from exportkit import DAG_ID, export, kill_once, nbprod, record, runs, said


@pytest.fixture
def exported(reference_project, airflow, s3, monkeypatch):
    monkeypatch.setenv("NBPROD_STORE", "s3://nbprod-test/runs")
    monkeypatch.setenv("NBPROD_SPOOL", str(reference_project.parent / "spool"))
    done = export(reference_project, airflow.dags_folder)
    assert f"DAG {DAG_ID}: ingest, validate, train, evaluate, then nbprod_run" in done.stdout
    return reference_project


def test_the_exported_dags_import_only_airflow_and_have_no_import_errors(exported, airflow, tmp_path):
    nbprod("export", "airflow", "--dag-id", "penguins_pods", "--out", str(airflow.dags_folder),
           "--kubernetes", "registry.example.com/penguins:1", "--secret", "nbprod-store",
           "--store", "s3://nbprod-test/runs", cwd=exported)
    for name in ("penguins.py", "penguins_pods.py"):
        text = (airflow.dags_folder / name).read_text()
        imported = {line.split()[1].split(".")[0] for line in text.splitlines() if line.startswith(("import ", "from "))}
        assert imported <= {"__future__", "datetime", "airflow", "kubernetes"}, imported
        assert os.environ["AWS_SECRET_ACCESS_KEY"] not in text and os.environ["AWS_ACCESS_KEY_ID"] not in text
    assert airflow.list_import_errors() == []
    parsed = airflow.parse()
    assert parsed["import_errors"] == {}
    tasks = ["evaluate", "ingest", "nbprod_run", "train", "validate"]
    assert parsed["dags"][DAG_ID]["tasks"] == tasks and parsed["dags"]["penguins_pods"]["tasks"] == tasks


def test_a_dag_run_is_one_nbprod_run_each_task_in_a_fresh_clone_a_killed_attempt_retried(exported, airflow,
                                                                                          monkeypatch, tmp_path):
    monkeypatch.setenv("NBPROD_BIN", str(kill_once(tmp_path, "train", "nbprod-test/runs")))
    result = airflow.dags_test(DAG_ID, timeout=1800)
    assert result.state == "success", said(result.output)
    assert result.tasks["train"].try_number == 2
    [run] = runs(exported)
    got = record(exported, run["run_id"])
    assert got["status"] == "succeeded"
    assert [(t["name"], t["status"], [a["status"] for a in t["attempts"]]) for t in got["tasks"]] == [
        ("ingest", "succeeded", ["succeeded"]), ("validate", "succeeded", ["succeeded"]),
        ("train", "succeeded", ["interrupted", "succeeded"]), ("evaluate", "succeeded", ["succeeded"])]
    assert got["orchestrator"]["name"] == "airflow" and got["orchestrator"]["dag_id"] == DAG_ID
    assert got["orchestrator"]["run_id"] == result.run_id
    assert got["git"]["dirty"] is False  # every task ran in a clean clone of the commit
    assert run["metrics"]["accuracy"] > 0.9
    assert not (exported / "outputs" / "model").exists()  # nothing was built in the project itself


def test_a_failing_dag_run_is_a_failed_nbprod_run_naming_task_and_cell(exported, airflow):
    result = airflow.dags_test(DAG_ID, conf={"C": -1}, timeout=1800)
    assert result.state == "failed"
    assert result.tasks["train"].state == "failed" and result.tasks["evaluate"].state == "upstream_failed"
    assert result.tasks["nbprod_run"].state == "failed"  # it ran (all_done) and said the run failed
    [run] = runs(exported)
    got = record(exported, run["run_id"])
    assert got["status"] == "failed" and got["error"]["task"] == "train"
    assert got["error"]["cell_index"] is not None
    assert [t["status"] for t in got["tasks"]] == ["succeeded", "succeeded", "failed", "not_run"]
    assert got["tasks"][2]["params"]["C"] == -1  # the DAG param reached the notebook and the record
    assert len(got["tasks"][2]["attempts"]) == 2  # retried once by Airflow, failed both times
    found = nbprod("runs", "ls", "--all", "--json", "--param", "C=-1", cwd=exported).stdout
    assert run["run_id"] in found
