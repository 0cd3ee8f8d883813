"""The exported reference DAG under a real scheduler (scheduler + dag-processor + api-server,
LocalExecutor, 127.0.0.1 only): scheduled every minute, its first scheduled run completes and
is recorded as one nbprod run; every process the test started is stopped."""

from __future__ import annotations

from exportkit import DAG_ID, export, record, runs


def test_a_scheduled_dag_run_is_recorded_as_one_nbprod_run(reference_project, airflow, s3, monkeypatch):
    monkeypatch.setenv("NBPROD_STORE", "s3://nbprod-test/runs")
    monkeypatch.setenv("NBPROD_SPOOL", str(reference_project.parent / "spool"))
    export(reference_project, airflow.dags_folder, "--schedule", "* * * * *", "--retries", "0")
    with airflow.services() as services:
        run = services.wait_for_run(DAG_ID, "scheduled", timeout=1500)
        started = services.pids()
    assert services.stopped and started
    assert run["state"] == "success", services.logs()
    [recorded] = runs(reference_project)
    got = record(reference_project, recorded["run_id"])
    assert got["status"] == "succeeded" and got["orchestrator"]["run_id"] == run["run_id"]
    assert run["run_id"].startswith("scheduled__")
    assert [t["status"] for t in got["tasks"]] == ["succeeded"] * 4
