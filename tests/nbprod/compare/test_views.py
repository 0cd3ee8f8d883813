"""The terminal views of runs (nbprod.compare.views): runs ls's table and runs show, from
fabricated summaries and records (the store's JSON, no build)."""

from __future__ import annotations

from nbprod.compare.select import differing_params
from nbprod.compare.views import record_text, runs_table
from nbprod.schema import RunRecord, TaskRecord


def row(run_id, params, tasks=None, command=None):
    return {"run_id": run_id, "started_at": "2026-11-01T10:00:00.000Z", "status": "succeeded", "duration_s": 3.0,
            "tasks": tasks or {"a": "succeeded"}, "params": params, "metrics": {}, "commit": None,
            **({"command": command} if command is not None else {})}


def columns(table: str) -> list[str]:
    return table.splitlines()[0].split()


def test_ran_counts_every_executed_task():
    tasks = {"a": "succeeded", "b": "failed", "c": "interrupted", "d": "skipped", "e": "aborted",
             "f": "fetched", "g": "not_run"}
    table = runs_table([row("r1", {}, tasks)])
    assert " 3/7 " in table.splitlines()[2]


def test_a_column_per_parameter_that_differs_and_the_command():
    rows = [row("r3", {"C": 0.5, "seed": 42, "years": [2008]}, command=["nbprod", "build", "--env--C", "0.5"]),
            row("r2", {"C": 1.0, "seed": 42, "years": [2008]}, command=["nbprod", "build", "--note", "a b"]),
            row("r1", {"seed": 42, "years": [2007, 2008]})]  # older summary: no command
    assert differing_params(rows) == ["C", "years"]
    table = runs_table(rows)
    assert columns(table) == ["run", "started", "(UTC)", "status", "time", "ran", "commit", "metrics",
                              "C", "years", "command"]  # after the metrics, which keep their places
    lines = table.splitlines()
    assert lines[2].split()[8:10] == ["0.5", "[2008]"] and lines[4].split()[8:10] == ["-", "[2007,"]
    assert lines[2].rstrip().endswith("nbprod build --env--C 0.5")
    assert lines[3].rstrip().endswith("nbprod build --note 'a b'") and lines[4].rstrip().endswith("-")
    assert differing_params(rows[:1]) == [] and "seed" not in columns(runs_table(rows))
    assert differing_params([row("a", {"x": 1}), row("b", {"x": 1.0})]) == ["x"]  # 1 and 1.0 were given differently


def test_runs_show_aligns_its_product_table():
    record = RunRecord(run_id="r1", status="succeeded", started_at="t", tasks=[
        TaskRecord(name="ingest", kind="notebook", status="succeeded", products=[
            {"name": "data", "path": "outputs/data/penguins.parquet", "sha256": "a" * 64, "size": 12345, "partial": False}]),
        TaskRecord(name="train_a_long_name", kind="notebook", status="failed", products=[
            {"name": "model", "path": "outputs/m.joblib", "sha256": "b" * 64, "size": 7, "partial": True}]),
    ])
    text = record_text(record)
    lines = text.split("\nproducts\n", 1)[1].splitlines()
    header, rule, first, second = lines[:4]
    for column in ("path", "sha256"):
        at = header.index(column)
        assert first[at - 1] == " " and second[at - 1] == " " and first[at] != " " and second[at] != " "
    assert "outputs/data/penguins.parquet" in first and "12,345 B" in first and "partial" in second
    assert first.index("aaaaaaaa") == second.index("bbbbbbbb")


def test_runs_show_names_the_spec_files_and_each_tasks_code_hash():
    record = RunRecord(run_id="r1", status="succeeded", started_at="t",
                       project={"root": "/p", "files": {"pipeline.ci.yaml": {"sha256": "d" * 64, "role": "entry_point"},
                                                        "env.ci.yaml": {"sha256": "e" * 64, "role": "env"}}},
                       tasks=[TaskRecord(name="fit", kind="notebook", status="succeeded", source_sha256="c" * 64),
                              TaskRecord(name="old", kind="notebook", status="skipped")])
    text = record_text(record)
    assert "spec      pipeline.ci.yaml (sha256 dddddddddddd), env.ci.yaml (sha256 eeeeeeeeeeee)" in text
    fit = next(line for line in text.splitlines() if line.startswith("fit "))
    assert "cccccccccccc" in fit
