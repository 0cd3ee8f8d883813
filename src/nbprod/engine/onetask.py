"""``nbprod task NAME``: one task of the pipeline as one attempt within a run, and the run
assembled from those attempts (``nbprod task --assemble``).

Why: an orchestrator (Airflow, a Kubernetes job per task, a shell loop) runs each task of a
run as its own process, wherever it likes, and retries it. Each such process is a build of
the task alone (``ploomber build --partially NAME``): its upstream tasks' products come from
the store through the shared-products File client (``pipeline.shared.yaml``), so a worker
needs no shared disk; an upstream task that is not up to date in the store (nor here) is
refused, never run again quietly on this worker. The build is recorded as a *part* of run
``run_id`` (:mod:`nbprod.store.parts`): started when it starts, recorded when it ends. The
run id is the orchestrator's: given (``--run-id``) or derived from the orchestrator's run
(``airflow/<dag_id>/<run_id>``, :func:`nbprod.schema.derived_run_id`), so every task and
every retry of one DAG run agree on it. The assembly rules are :mod:`nbprod.record.assemble`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from .. import schema
from ..errors import ConfigError, PipelineError

#: ploomber build options ``nbprod task`` sets itself
_OWN = ("--partially", "-p", "--skip-upstream", "-su", "--force", "-f")


def run_id_for(run_id: str | None, orchestrator: dict[str, Any] | None) -> str:
    """The run an attempt belongs to: ``run_id`` as given, else derived from the orchestrator's
    run (``name``, ``dag_id``, ``run_id`` and its time: ``run_after`` or ``logical_date``)."""
    if run_id:
        from ..store.index import check_run_id

        try:
            return check_run_id(run_id)
        except Exception:
            raise ConfigError(f"--run-id {run_id!r} is not a run id",
                              hint="use one nbprod made (20261201T020000Z-1a2b3c) or pass --orchestrator") from None
    orchestrator = orchestrator or {}
    missing = [k for k in ("name", "dag_id", "run_id") if not orchestrator.get(k)]
    when = _text(orchestrator.get("run_after")) or _text(orchestrator.get("logical_date"))
    try:
        moment = schema.parse_time(when)
    except ValueError:
        raise ConfigError(f"--orchestrator: run_after/logical_date {when!r} is not an ISO time",
                          hint="e.g. 2026-12-01T02:00:00+00:00") from None
    if missing or moment is None:
        raise ConfigError("nbprod task needs the run it is part of: --run-id ID, or --orchestrator with "
                          f"name, dag_id, run_id and run_after or logical_date (missing: "
                          f"{', '.join(missing) or 'run_after/logical_date'})",
                          hint="the exported Airflow DAG passes them; by hand, pass --run-id")
    key = f"{orchestrator['name']}/{orchestrator['dag_id']}/{orchestrator['run_id']}"
    return schema.derived_run_id(key, moment)


def run_task(name: str, argv: list[str], *, run_id: str, attempt: int = 1,
             orchestrator: dict[str, Any] | None = None, debug: bool = False,
             err: Callable[[str], None] = print) -> None:
    """Build task ``name`` alone (its upstream products from the store), recorded as attempt
    ``attempt`` of run ``run_id``. Raises as ``nbprod build`` does (BuildFailedError: exit 1)."""
    from .build import run_build

    own = sorted({a.split("=")[0] for a in argv if a.startswith("-") and not a.startswith("--env--")} & set(_OWN))
    if own:
        raise ConfigError(f"nbprod task sets {', '.join(own)} itself",
                          hint="pass only the pipeline's options: -e SPEC, --env--NAME VALUE")
    if attempt < 1:
        raise ConfigError(f"--attempt {attempt}: attempts count from 1", hint="pass Airflow's try_number")
    part = {"run_id": run_id, "task": name, "attempt": attempt, "orchestrator": orchestrator}
    run_build([*argv, "--partially", name], debug=debug, err=err, part=part)


def assemble_run(*, run_id: str, orchestrator: dict[str, Any] | None = None,
                 entry_point: str | None = None) -> schema.RunRecord:
    """Assemble run ``run_id`` from its tasks' attempts and store its record (written once;
    assembling again gives the same record). The record, whatever its status."""
    from ..record.assemble import assemble
    from ..settings import Settings
    from ..store import Store, parts
    from .entry import project_root

    root = project_root(entry_point)
    store = Store.from_settings(Settings.from_env(root=root))
    record = assemble(parts.read(store, run_id), _plan(entry_point, root), orchestrator=orchestrator)
    store.write_record(record)
    _register_models(store, root, record)
    return record


def _register_models(store, root: Path, record: schema.RunRecord) -> None:
    """An assembled run that succeeded registers its model versions, as a build does (its
    tasks' attempts registered none: an attempt is not a run). Never promotes: an
    orchestrator's run promotes with `nbprod models promote` after its gates."""
    import sys

    from ..models.runs import register_run
    from ..project import load

    def say(line: str) -> None:
        print(line, file=sys.stderr)

    try:
        register_run(store, load(root), record, say=say)
    except Exception as err:  # the run is recorded: a registry failure never unmakes it
        say(f"nbprod: warning: run {record.run_id}: model versions not registered: {err}")


def _plan(entry_point: str | None, root: Path) -> list[dict[str, Any]]:
    """The pipeline's tasks in order (name, kind, source, upstream), rendered without hooks."""
    from .inspect import find_entry_point, inspect_pipeline

    entry = Path(entry_point) if entry_point else find_entry_point(root)
    if entry is None:
        return []
    info = inspect_pipeline(entry)
    if info.problems:
        raise PipelineError(f"{entry}: {info.problems[0].message}", hint="fix the pipeline, then assemble again")
    described = {t.name: t for t in info.tasks}
    return [{"name": name, "kind": described[name].kind if name in described else "other",
             "source": os.path.relpath(described[name].source, info.root) if name in described else None,
             "upstream": list(upstream)} for name, upstream in info.graph.items()]


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "", "None") else None
