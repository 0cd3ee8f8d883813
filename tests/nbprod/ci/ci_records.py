"""Run records as a CI build leaves them: one that failed in a cell, its baseline, smoke runs."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import datetime, timedelta, timezone
from pathlib import Path

from nbprod.schema import ErrorInfo, RunRecord, TaskRecord, new_run_id

BASE = datetime(2026, 11, 1, tzinfo=timezone.utc)
SPEC = [{"name": "accuracy", "goal": "max", "headline": True, "tolerance": 0.0},
        {"name": "rows", "goal": "max", "headline": False, "tolerance": 0.0}]
CELL = "x = load()\nraise ValueError(f'{x}% of rows: bad')"
#: a traceback line that would be a workflow command if GitHub read it
INJECTED = "::add-mask::nothing-to-see"
TRACEBACK = ("---------------------------------------------------------------------------\n"
             "ValueError                                Traceback (most recent call last)\n"
             f"Cell In[4], line 2\n{INJECTED}\n::error::not from nbprod\nValueError: 100%, bad: value\n")


def run(hour: int, status: str = "succeeded", *, root: Path | None = None, accuracy: float = 0.9,
        evalue: str = "100%, bad: value") -> RunRecord:
    """Tasks ingest (succeeded), train (failed in cell 3 when ``status`` is failed), evaluate
    (aborted after a failure), and a skipped one; the project in ``root``."""
    moment = BASE + timedelta(hours=hour)
    failed = status == "failed"
    error = ErrorInfo(task="train", ename="ValueError", evalue=evalue, cell_index=3, execution_count=4,
                      cell_source=CELL, traceback=TRACEBACK) if failed else None
    tasks = [
        TaskRecord(name="ingest", kind="notebook", status="succeeded", source="notebooks/ingest.ipynb",
                   duration_s=1.25, scraps={"rows": {"value": 344}}),
        TaskRecord(name="train", kind="notebook", status="failed" if failed else "succeeded",
                   source="notebooks/train.ipynb", duration_s=2.5, error=error,
                   scraps={} if failed else {"accuracy": {"value": accuracy}}),
        TaskRecord(name="evaluate", kind="notebook", status="aborted" if failed else "succeeded",
                   source="notebooks/evaluate.ipynb"),
        TaskRecord(name="cached", kind="function", status="skipped", source="src/steps.py:12"),
    ]
    project = {"root": str(root), "name": root.name, "files": {}} if root else {}
    return RunRecord(run_id=new_run_id(moment), status=status, started_at=moment.isoformat(), duration_s=4.0,
                     project=project, git={"commit": "c" * 40, "dirty": False}, tasks=tasks, error=error,
                     metrics_spec=SPEC)


def store_smoke(store, record: RunRecord) -> RunRecord:
    """Store ``record`` as a smoke run (``nbprod build --smoke``): its summary says so."""
    if "smoke" in {f.name for f in fields(RunRecord)}:
        record.smoke = True
        store.write_record(record)
        return record
    store.write_record(record)  # a schema without smoke runs yet: the summary gets the key by hand
    summary = Path(store.url) / "summaries" / f"{record.run_id}.json"
    summary.write_text(json.dumps({**json.loads(summary.read_text()), "smoke": True}))
    return record
