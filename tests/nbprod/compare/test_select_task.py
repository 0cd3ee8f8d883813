"""`runs ls --task NAME`: the runs in which NAME executed, whatever its outcome; never a
run where it was skipped (up to date), fetched (downloaded from the store), aborted or not run."""

from __future__ import annotations

import pytest

from nbprod import schema
from nbprod.compare.select import ran, select_runs


def row(run_id: str, **tasks: str) -> dict:
    return {"run_id": run_id, "status": "succeeded", "tasks": tasks}


ROWS = [
    row("r-succeeded", train=schema.TASK_SUCCEEDED),
    row("r-failed", train=schema.TASK_FAILED),
    row("r-interrupted", train=schema.TASK_INTERRUPTED),
    row("r-fetched", train=schema.TASK_FETCHED),
    row("r-skipped", train=schema.TASK_SKIPPED),
    row("r-aborted", train=schema.TASK_ABORTED),
    row("r-not-run", train=schema.TASK_NOT_RUN),
    row("r-other", evaluate=schema.TASK_SUCCEEDED),
]


def test_task_filter_keeps_only_runs_where_the_task_executed():
    chosen = [r["run_id"] for r in select_runs(ROWS, task="train")]
    assert chosen == ["r-succeeded", "r-failed", "r-interrupted"]


@pytest.mark.parametrize("status", [schema.TASK_FETCHED, schema.TASK_SKIPPED, schema.TASK_ABORTED,
                                    schema.TASK_NOT_RUN])
def test_a_task_that_did_not_execute_is_not_counted_as_ran(status):
    assert ran(row("r", train=status, evaluate=schema.TASK_SUCCEEDED)) == 1
