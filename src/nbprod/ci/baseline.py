"""Which run a CI build is compared with: the one given, else the newest succeeded build
that is not a smoke run, a reproduction or a papermill run.

Why not simply ``latest~1``: in CI the previous run is most often another smoke build
(small parameters, a cell timeout), whose metrics say nothing about the model; a
failed or interrupted run has no trustworthy metrics either. The newest succeeded
full run is what a reviewer means by "did this change make the model worse". Runs
are chosen from their summaries (:func:`nbprod.compare.select.list_runs`), so only
the chosen one's record is read. A summary without a ``smoke`` key was recorded
before smoke builds existed: not a smoke run.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..compare.select import list_runs
from ..schema import SUCCEEDED, RunRecord


@dataclass(frozen=True)
class Baseline:
    """The run to compare with, or why there is none (``note``)."""

    record: RunRecord | None
    note: str | None = None


def pick_baseline(store, ref: str | None = None, *, exclude: str | None = None) -> Baseline:
    """``ref`` (a run id, prefix, ``latest~N``) when given: its record, or
    :class:`~nbprod.errors.RunNotFoundError` (exit 2). Else the newest succeeded non-smoke
    run other than ``exclude`` (the run being reported), or none with the reason."""
    if ref:
        return Baseline(store.record_of(ref))
    rows = list_runs(store, statuses=[SUCCEEDED], limit=None, with_specs=False).rows
    for row in rows:  # list_runs leaves smoke runs out
        if row.get("run_id") != exclude and _a_build(row):
            return Baseline(store.read_record(row["run_id"]))
    return Baseline(None, f"no succeeded pipeline build that is not a smoke run in {store.url}")


def _a_build(row) -> bool:
    """A build of the pipeline at its own commit: not a reproduction of an old run (built from
    that run's commit) and not one notebook run by papermill (none of the pipeline's metrics)."""
    command = [str(part) for part in row.get("command") or []]
    papermill = command[:1] == ["papermill"] or command[1:2] == ["run"]
    return not row.get("reproduces") and not papermill
