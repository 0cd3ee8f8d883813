"""The one call a finished build makes to tell the CI system about it.

Why one call: the engine should not know which CI it runs on. :func:`tell_ci` looks at
the environment: on GitHub Actions (``GITHUB_ACTIONS=true``) it writes the annotations
to the log and appends the job summary to ``$GITHUB_STEP_SUMMARY``; anywhere, when
asked (``--junit PATH``), the JUnit XML GitLab and Jenkins read.

Why it never raises for what it writes: it runs after the run is recorded, and the
build's own outcome (its exit code, its final line) must not be replaced by a report
that could not be written. A missing baseline, an unreachable store or a path that
cannot be written is a line on ``log`` and a note in the result instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ..errors import NbprodError
from ..schema import RunRecord
from .baseline import Baseline, pick_baseline
from .github import annotate, append_summary, job_summary
from .junit import write_junit
from .sources import repo_root


@dataclass(frozen=True)
class Told:
    """What :func:`tell_ci` wrote: the annotations' count, the files, the baseline used."""

    annotations: int = 0
    summary: Path | None = None
    junit: Path | None = None
    baseline: str | None = None
    notes: tuple[str, ...] = ()


def on_github(environ: Mapping[str, str] | None = None) -> bool:
    return (os.environ if environ is None else environ).get("GITHUB_ACTIONS") == "true"


def tell_ci(record: RunRecord, *, store=None, junit: str | os.PathLike | None = None, baseline: str | None = None,
            environ: Mapping[str, str] | None = None, stream: TextIO | None = None,
            log: Callable[[str], None] = print) -> Told:
    """Tell the CI system about the finished, recorded ``record``.

    ``store``: where the baseline is looked up (the store the run went to); ``baseline``: a
    run reference (``--baseline RUN``), default the newest succeeded non-smoke run;
    ``junit``: where to write JUnit XML (``--junit PATH``), none by default; ``stream``:
    where the workflow commands go (stdout, which GitHub reads); ``log``: warnings.
    """
    env = os.environ if environ is None else environ
    root = repo_root(record, env)
    notes: list[str] = []

    def attempt(what: str, write: Callable[[], object]) -> bool:
        try:
            write()
            return True
        except (OSError, NbprodError) as err:
            notes.append(f"could not write {what}: {err}")
            log(f"nbprod: warning: {notes[-1]}")
            return False

    written = Path(junit) if junit and attempt(f"JUnit XML to {junit}", lambda: write_junit(record, junit, root=root)) \
        else None
    if not on_github(env):
        return Told(junit=written, notes=tuple(notes))
    count = annotate(record, stream or sys.stdout, root=root)
    summary = Path(env["GITHUB_STEP_SUMMARY"]) if env.get("GITHUB_STEP_SUMMARY") else None
    chosen = Baseline(None, "no store to look it up in")
    if summary is not None and store is not None:
        try:
            chosen = pick_baseline(store, baseline, exclude=record.run_id)
        except NbprodError as err:  # a wrong --baseline, the store down: said in the summary
            chosen = Baseline(None, f"--baseline {baseline}: {err}" if baseline else str(err))
            log(f"nbprod: warning: no baseline for the job summary: {chosen.note}")
    if summary is not None and not attempt(
            f"the job summary to {summary}", lambda: append_summary(summary, job_summary(record, chosen.record,
                                                                                         note=chosen.note))):
        summary = None
    return Told(annotations=count, summary=summary, junit=written,
                baseline=chosen.record.run_id if chosen.record else None, notes=tuple(notes))
