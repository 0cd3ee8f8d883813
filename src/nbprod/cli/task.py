"""``nbprod task NAME``: one task of the pipeline, recorded as one attempt within a run;
``nbprod task --assemble``: the run's record, from its tasks' attempts."""

from __future__ import annotations

import json

import click


def _orchestrator(ctx, param, value: str | None):
    if not value:
        return None
    try:
        found = json.loads(value)
    except ValueError as err:
        raise click.BadParameter(f"not JSON ({err})") from None
    if not isinstance(found, dict):
        raise click.BadParameter("a JSON object is needed, e.g. '{\"name\": \"airflow\", \"dag_id\": ...}'")
    return found


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--run-id", envvar="NBPROD_RUN_ID", metavar="ID",
              help="The run this task is part of [derived from --orchestrator] (env NBPROD_RUN_ID).")
@click.option("--orchestrator", envvar="NBPROD_ORCHESTRATOR", metavar="JSON", callback=_orchestrator,
              help="The orchestrator's run, kept in the record: {name, dag_id, run_id, logical_date, run_after} "
                   "(env NBPROD_ORCHESTRATOR; the exported Airflow DAG sets it).")
@click.option("--attempt", envvar="NBPROD_ATTEMPT", type=click.IntRange(min=1), default=1, show_default=True,
              help="Which attempt of this task this is (Airflow's try_number; env NBPROD_ATTEMPT).")
@click.option("--assemble", is_flag=True,
              help="Instead of running a task: assemble the run's record from its tasks' attempts "
                   "(an orchestrator's last step, run whatever happened upstream).")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def task(args: tuple[str, ...], run_id: str | None, orchestrator: dict | None, attempt: int, assemble: bool) -> None:
    """Run task NAME of the pipeline as one attempt within a run, recorded in the store.

    Usage: nbprod task NAME [-e SPEC] [--env--NAME VALUE ...] [--run-id ID | --orchestrator JSON]
    [--attempt N]. Upstream products come from the store (a spec with the shared-products File
    client, e.g. pipeline.shared.yaml); an upstream task not up to date there is refused (exit 2).
    Exit 1 when the task failed. `nbprod task --assemble --run-id ID [-e SPEC]` then writes the
    run's record (exit 1 when the run failed): `nbprod runs ls` shows it as one run.
    """
    from ..engine import onetask
    from ..errors import BuildFailedError
    from . import debug_requested, say

    rest = list(args)
    run = onetask.run_id_for(run_id, orchestrator)
    if assemble:
        record = onetask.assemble_run(run_id=run, orchestrator=orchestrator, entry_point=_entry_point(rest))
        attempts = sum(len(t.attempts) for t in record.tasks)
        say(f"nbprod: run {record.run_id} {record.status}: assembled from {attempts} attempt(s) of "
            f"{len(record.tasks)} task(s); see `nbprod runs show {record.run_id}`")
        if record.status != "succeeded":
            raise BuildFailedError(f"run {record.run_id} {record.status}: "
                                   f"{record.error.sentence() if record.error else 'a task did not finish'}",
                                   run_id=record.run_id)
        return
    if not rest or rest[0].startswith("-"):
        raise click.UsageError("name the task first: nbprod task NAME [-e SPEC] [--env--NAME VALUE ...]")
    name, rest = rest[0], rest[1:]
    onetask.run_task(name, rest, run_id=run, attempt=attempt, orchestrator=orchestrator,
                     debug=debug_requested(), err=say)


def _entry_point(args: list[str]) -> str | None:
    for flag in ("-e", "--entry-point"):
        if flag in args and args.index(flag) + 1 < len(args):
            return args[args.index(flag) + 1]
    found = [a.split("=", 1)[1] for a in args if a.startswith("--entry-point=")]
    return found[0] if found else None
