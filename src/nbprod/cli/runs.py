"""``nbprod runs ls | show | diff``: recorded runs, listed, shown and compared."""

from __future__ import annotations

import os

import click


@click.group()
def runs() -> None:
    """List and inspect recorded runs."""


@runs.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (the run summaries).")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--all", "show_all", is_flag=True, help="List every run (ignores --limit).")
@click.option("--status", "statuses", multiple=True, metavar="STATUS",
              help="Only runs that succeeded, failed or were interrupted (repeatable).")
@click.option("--since", metavar="WHEN", help="Only runs started since a date (2026-11-01, 2026-11-01T14:30, UTC) or for an age (30m, 12h, 7d).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Only runs with this parameter value, parsed as YAML: seed=42, C=0.01, years=[2008]; "
                   "train.C=0.01 matches task train's only (repeatable).")
@click.option("--task", metavar="NAME", help="Only runs that executed task NAME (succeeded, failed or interrupted in that run).")
@click.option("--tag", "tags", multiple=True, metavar="TAG",
              help="Only runs tagged TAG by `nbprod build --tag` (repeatable: every one).")
@click.option("--smoke", is_flag=True, help="List smoke runs (`nbprod build --smoke`) too; they are left out otherwise.")
@click.option("--sort", "sort_by", default="started", show_default=True, metavar="METRIC",
              help="`started` (newest first) or a metric name: best first by its goal in nbprod.yaml "
                   "(undeclared: highest first); runs without it last.")
def runs_ls(as_json: bool, limit: int, show_all: bool, statuses: tuple[str, ...], since: str | None,
            params: tuple[str, ...], task: str | None, tags: tuple[str, ...], smoke: bool, sort_by: str) -> None:
    """Recorded runs, newest first (filters combine: every one must match).

    The table has a column per headline metric of nbprod.yaml, as recorded by
    the newest run.
    """
    from ..compare import views
    from ..compare.select import list_runs
    from ..store.spool import open_store
    from . import say

    store = open_store(log=say)
    found = list_runs(store, statuses=statuses, since=since, params=params, task=task,
                      sort=sort_by, limit=None if show_all else limit, with_specs=not as_json, tags=tags,
                      smoke=smoke)
    if as_json:
        click.echo(views.runs_json(list(found.rows)))
        return
    empty = (f"no runs in {store.url} match these filters (see `nbprod runs ls --help`)" if found.filtered
             else f"no runs recorded yet in {store.url} (run `ploomber build` or `nbprod build`)")
    if found.smoke_hidden and not found.rows:
        empty = f"{empty}; {found.smoke_hidden} smoke runs are left out: `nbprod runs ls --smoke` lists them"
    click.echo(views.runs_table(list(found.rows), found.headline, empty=empty))


@runs.command("show")
@click.argument("run", default="latest")
@click.option("--json", "as_json", is_flag=True, help="The whole record as JSON.")
def runs_show(run: str, as_json: bool) -> None:
    """One run: RUN is a run id, a unique prefix of one, `latest` or `latest~N`."""
    from ..compare import views
    from ..store.spool import open_store
    from . import say

    store = open_store(log=say)
    record = store.record_of(run)
    if as_json:
        click.echo(views.record_json(record))
        return
    click.echo(views.record_text(record, store))
    from ..models.views import for_run, text_for_run

    registered = for_run(store, record.run_id)
    if registered:
        click.echo(text_for_run(registered))


@runs.command("diff")
@click.argument("old", default="latest~1")
@click.argument("new", default="latest")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default=None,
              help="text (the default), json (stable: the same two runs give the same bytes) or markdown "
                   "(tables for a pull-request comment).")
@click.option("--json", "as_json", is_flag=True, help="The same as --format json.")
@click.option("--fail-on", type=click.Choice(["regressed"]),
              help="Exit 4 after printing the diff when a headline metric of nbprod.yaml regressed "
                   "beyond its tolerance.")
def runs_diff(old: str, new: str, fmt: str | None, as_json: bool, fail_on: str | None) -> None:
    """What changed from run OLD to run NEW: status, commit (and the files changed
    between the commits, when this folder's git repository has both), parameters,
    packages, input and product hashes, and every metric with its verdict.

    OLD and NEW are run ids, unique prefixes, `latest` or `latest~N` (the run N
    before the latest); by default `latest~1` and `latest`.
    """
    from ..compare import diff as diffing
    from ..store.spool import open_store
    from . import say

    if as_json and fmt not in (None, "json"):
        raise click.UsageError(f"--json and --format {fmt} disagree: give one of them")
    fmt = "json" if as_json else fmt or "text"
    result = diffing.diff_runs(open_store(log=say), old, new, repo=os.getcwd())
    render = {"text": diffing.render_text, "json": diffing.to_json, "markdown": diffing.render_markdown}[fmt]
    click.echo(render(result))
    if fail_on == "regressed":
        from ..compare import gate

        gate.check(result)
