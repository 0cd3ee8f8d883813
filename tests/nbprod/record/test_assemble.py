"""record.assemble + store.parts: one run record from the attempts its tasks left.

Real stores (a folder, and memory://), fabricated one-task records: the rules of the
assembly (last attempt wins, a killed attempt, a task that never ran, the first error) and
the parts' write-once keys.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from nbprod import schema
from nbprod.errors import RecordExistsError, RunNotFoundError, StoreError
from nbprod.record.assemble import assemble
from nbprod.schema import ErrorInfo, RunRecord, TaskRecord, derived_run_id
from nbprod.store import Store, parts

RUN = "20261201T020000Z-abcdef"
PLAN = [{"name": "ingest", "kind": "notebook", "source": "notebooks/ingest.ipynb", "upstream": []},
        {"name": "train", "kind": "notebook", "source": "notebooks/train.ipynb", "upstream": ["ingest"]},
        {"name": "evaluate", "kind": "notebook", "source": "notebooks/evaluate.ipynb", "upstream": ["train"]}]
AIRFLOW = {"name": "airflow", "dag_id": "penguins", "run_id": "manual__x", "logical_date": "2026-12-01T02:00:00+00:00"}


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(str(tmp_path / "store"))


def part(store, task, attempt, *, status="succeeded", minute=0, error=None, started=True, host="worker-1"):
    start = f"2026-12-01T02:{minute:02d}:00.000Z"
    if started:
        parts.write_started(store, RUN, task, attempt, {"started_at": start, "host": host})
    if status is None:
        return
    failed = status == "failed"
    record = RunRecord(
        run_id=RUN, status=schema.FAILED if failed else schema.SUCCEEDED, started_at=start,
        ended_at=f"2026-12-01T02:{minute:02d}:30.000Z", host=host, git={"commit": "abc"},
        inputs=[{"name": f"{task}.csv", "path": f"data/{task}.csv", "sha256": "0" * 64}],
        tasks=[TaskRecord(name=task, kind="notebook", status=status, duration_s=30.0,
                          scraps={"accuracy": {"value": 0.9}} if task == "evaluate" else {},
                          error=error)],
        error=error, orchestrator=AIRFLOW)
    parts.write_record(store, record, task, attempt)


def test_every_task_succeeded_is_one_succeeded_run_in_pipeline_order(store):
    part(store, "evaluate", 1, minute=4)
    part(store, "ingest", 1, minute=0)
    part(store, "train", 1, minute=2)
    record = assemble(parts.read(store, RUN), PLAN, orchestrator=None)
    assert record.run_id == RUN and record.status == schema.SUCCEEDED
    assert [t.name for t in record.tasks] == ["ingest", "train", "evaluate"]
    assert record.started_at == "2026-12-01T02:00:00.000Z" and record.ended_at == "2026-12-01T02:04:30.000Z"
    assert record.duration_s == 270.0
    assert record.orchestrator == AIRFLOW  # from the parts when the assembler is not told
    assert record.metrics() == {"accuracy": 0.9}
    assert [len(t.attempts) for t in record.tasks] == [1, 1, 1]
    assert sorted(i["name"] for i in record.inputs) == ["evaluate.csv", "ingest.csv", "train.csv"]
    store.write_record(record)
    store.write_record(assemble(parts.read(store, RUN), PLAN, orchestrator=None))  # again: the same record
    assert store.record_of(RUN).summary()["orchestrator"] == "airflow"


def test_the_last_attempt_decides_and_every_attempt_is_listed(store):
    boom = ErrorInfo(task="train", ename="ValueError", evalue="C must be positive", cell_index=3)
    part(store, "ingest", 1)
    part(store, "train", 1, status="failed", error=boom, minute=1, host="worker-1")
    part(store, "train", 2, minute=2, host="worker-2")
    part(store, "evaluate", 1, minute=3)
    record = assemble(parts.read(store, RUN), PLAN, orchestrator=AIRFLOW)
    train = record.task("train")
    assert record.status == schema.SUCCEEDED and train.status == schema.TASK_SUCCEEDED and record.error is None
    assert [(a["attempt"], a["status"], a["host"]) for a in train.attempts] == [
        (1, "failed", "worker-1"), (2, "succeeded", "worker-2")]
    assert train.attempts[0]["error"] == "task 'train', cell 3 failed: ValueError: C must be positive"


def test_a_failed_task_fails_the_run_with_its_cell_and_what_came_after_never_ran(store):
    boom = ErrorInfo(task="train", ename="ValueError", evalue="C must be positive", cell_index=3)
    part(store, "ingest", 1)
    part(store, "train", 1, status="failed", error=boom, minute=1)
    record = assemble(parts.read(store, RUN), PLAN, orchestrator=AIRFLOW)
    assert record.status == schema.FAILED
    assert [t.status for t in record.tasks] == ["succeeded", "failed", "not_run"]
    assert record.error.sentence() == "task 'train', cell 3 failed: ValueError: C must be positive"
    assert record.task("evaluate").upstream == ["train"] and record.task("evaluate").attempts == []


def test_an_attempt_killed_outright_shows_and_is_not_taken_for_success(store):
    part(store, "ingest", 1)
    part(store, "train", 1, status=None, minute=1, host="worker-9")  # started, then SIGKILL: no record
    record = assemble(parts.read(store, RUN), PLAN, orchestrator=AIRFLOW)
    train = record.task("train")
    assert train.status == schema.TASK_INTERRUPTED and record.status == schema.FAILED
    assert "attempt 1 started on worker-9" in train.error.evalue and "killed" in train.error.evalue
    assert train.attempts == [{"attempt": 1, "started_at": "2026-12-01T02:01:00.000Z", "host": "worker-9",
                               "status": "interrupted", "ended_at": None, "duration_s": None,
                               "error": "never recorded its end (killed)"}]
    part(store, "train", 2, minute=2)  # Airflow retried it
    part(store, "evaluate", 1, minute=3)
    again = assemble(parts.read(store, RUN), PLAN, orchestrator=AIRFLOW)
    assert again.status == schema.SUCCEEDED
    assert [a["status"] for a in again.task("train").attempts] == ["interrupted", "succeeded"]


def test_a_run_with_no_attempt_is_refused(store):
    with pytest.raises(RunNotFoundError, match="no task attempt"):
        assemble(parts.read(store, RUN), PLAN, orchestrator=None)


def test_an_attempt_is_written_once(store):
    part(store, "ingest", 1)
    with pytest.raises(RecordExistsError, match="attempt 1 of task 'ingest'.*has started already"):
        parts.write_started(store, RUN, "ingest", 1, {"started_at": "later", "host": "other"})
    record = parts.read(store, RUN).tasks["ingest"][0].record
    parts.write_record(store, record, "ingest", 1)  # the same bytes again: fine (a resumed write)
    changed = RunRecord(**{**record.__dict__, "status": schema.FAILED})
    with pytest.raises(RecordExistsError, match="is recorded already"):
        parts.write_record(store, changed, "ingest", 1)


def test_a_corrupt_part_is_one_line(store):
    part(store, "ingest", 1)
    store.write_key(parts.key(RUN, "ingest", 1, "record"), b"{not json")
    with pytest.raises(StoreError, match="parts/.*/ingest/0001.record.json in store .* is corrupt"):
        parts.read(store, RUN)


def test_parts_are_not_runs(store):
    part(store, "ingest", 1)
    assert store.run_ids() == [] and store.recorded_ids() == []


def test_a_task_name_cannot_leave_its_folder(store):
    part(store, "../evil", 1)
    assert list(parts.read(store, RUN).tasks) == ["../evil"]
    assert all(k["key"].startswith(f"parts/{RUN}/") and "/../" not in k["key"] for k in store.list_keys("parts"))


def test_the_run_id_of_an_orchestrator_run_is_the_same_for_every_task_and_retry():
    moment = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)
    first = derived_run_id("airflow/penguins/scheduled__2026-12-01T02:00:00+00:00", moment)
    assert first == derived_run_id("airflow/penguins/scheduled__2026-12-01T02:00:00+00:00", moment)
    assert first != derived_run_id("airflow/penguins/manual__2026-12-01T02:00:00+00:00", moment)
    assert first.startswith("20261201T020000Z-") and schema.RUN_ID.fullmatch(first)


def test_a_refused_attempt_fails_its_task_saying_why(store):
    part(store, "ingest", 1)
    parts.write_refused(store, RUN, "train", 1, {"started_at": "2026-12-01T02:01:00.000Z", "host": "w",
                                                 "message": "task 'train' needs 'ingest' first: not up to date"})
    record = assemble(parts.read(store, RUN), PLAN, orchestrator=AIRFLOW)
    train = record.task("train")
    assert train.status == schema.TASK_FAILED and record.status == schema.FAILED
    assert "needs 'ingest' first" in record.error.evalue and record.error.task == "train"
    assert train.attempts[0]["status"] == "failed"


def test_tasks_that_ran_other_commits_are_not_passed_off_as_one(store):
    part(store, "ingest", 1)
    part(store, "train", 1, minute=1)
    other = parts.read(store, RUN).tasks["train"][0].record
    parts.write_record(store, RunRecord(**{**other.__dict__, "git": {"commit": "def", "dirty": False}}), "train", 2)
    part(store, "evaluate", 1, minute=3)
    record = assemble(parts.read(store, RUN), PLAN, orchestrator=AIRFLOW)
    assert record.git["consistent"] is False
    assert record.git["tasks"]["train"]["commit"] == "def" and record.git["tasks"]["ingest"]["commit"] == "abc"
    same = Store(str(store.url) + "-same")
    part(same, "ingest", 1)
    assert assemble(parts.read(same, RUN), PLAN, orchestrator=None).git == {"commit": "abc"}


def test_a_naive_orchestrator_time_is_utc_wherever_the_worker_is(monkeypatch):
    import time

    from nbprod.engine.onetask import run_id_for
    from nbprod.errors import ConfigError

    given = {"name": "x", "dag_id": "d", "run_id": "r", "run_after": "2026-01-01T00:00:00"}
    ids = set()
    for zone in ("UTC", "Asia/Tokyo", "America/New_York"):
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        ids.add(run_id_for(None, given))
    monkeypatch.delenv("TZ")
    time.tzset()
    assert len(ids) == 1 and ids.pop().startswith("20260101T000000Z-")
    with pytest.raises(ConfigError, match="not an ISO time"):
        run_id_for(None, {**given, "run_after": "garbage"})


def test_runs_show_says_whose_run_it_is_and_every_attempt(store):
    from nbprod.compare.views import record_text

    part(store, "ingest", 1)
    part(store, "train", 1, status=None, minute=1)
    part(store, "train", 2, minute=2)
    part(store, "evaluate", 1, minute=3)
    text = record_text(assemble(parts.read(store, RUN), PLAN, orchestrator=AIRFLOW))
    assert "run of    airflow dag penguins, run manual__x, logical date 2026-12-01T02:00:00+00:00" in text
    assert "1:interrupted 2:succeeded" in text
