"""The ``nbprod`` command line (click; heavy modules imported only inside commands).

nbprod's own errors (:class:`~nbprod.exceptions.NbprodError`) print as one line
on stderr and exit 1; ``--debug`` or ``NBPROD_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import os
import sys

import click


def _debug_requested() -> bool:
    return os.environ.get("NBPROD_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors (or set NBPROD_DEBUG=1).")
@click.version_option(package_name="nbprod")
def cli(debug: bool) -> None:
    """nbprod: run notebooks as recorded, reproducible pipelines.

    The store is NBPROD_STORE (default: outputs/store).
    """
    if debug:
        os.environ["NBPROD_DEBUG"] = "1"


def _open_store():
    """The store of NBPROD_STORE, after pushing runs spooled while it was down.

    Every command that uses the store goes through here, so spooled runs go
    up at the next command. One ``stat`` when nothing is spooled; a push that
    fails only warns, and the command the user asked for still runs.
    """
    from .config import Settings
    from .store import Store

    settings = Settings.from_env()
    store = Store.from_settings(settings)
    if not os.path.isdir(settings.spool):
        return store
    from . import spool
    from .exceptions import StoreError

    waiting = spool.pending_for(settings, settings.store)
    if waiting is None:
        return store
    spooled, ids = waiting
    click.echo(f"nbprod: {len(ids)} run(s) spooled while {settings.store} was unavailable; pushing", err=True)
    try:
        spool.push(spooled, store, log=lambda line: click.echo(line, err=True))
    except StoreError as err:
        click.echo(f"nbprod: warning: spooled runs not pushed yet ({err}); `nbprod push` retries", err=True)
    return store


@cli.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("ploomber_args", nargs=-1, type=click.UNPROCESSED)
def build(ploomber_args: tuple[str, ...]) -> None:
    """Build a ploomber pipeline and record the run.

    Takes every `ploomber build` option (--force, --partially TASK,
    --entry-point PATH, --env--NAME VALUE, ...; see `nbprod build --help`).
    Works on any ploomber project, with or without nbprod hooks.
    """
    from . import hooks, pipeline
    from .exceptions import BuildFailedError, BuildInterruptedError

    held = _one_line_warnings()

    def flush_warnings():
        for line in held:
            click.echo(line, err=True)

    try:
        pipeline.build(list(ploomber_args))
        flush_warnings()
    except KeyboardInterrupt:
        flush_warnings()
        line = hooks.take_final_line()
        raise BuildInterruptedError(line or "build interrupted before anything was recorded") from None
    except SystemExit:
        raise
    except Exception as err:
        if _debug_requested():
            raise
        line = hooks.take_final_line()
        if line is None:  # nothing was recorded: the pipeline did not load or render
            raise pipeline.as_pipeline_error(err) from err
        flush_warnings()
        detail = str(err).strip()
        if detail:
            click.echo(detail, err=True)
        raise BuildFailedError(line) from None


def _one_line_warnings() -> list[str]:
    """Collect warnings as one line each, to print once the pipeline has loaded.

    ploomber's warnings span many lines (banners, source lines). A pipeline
    that fails to load must print exactly one line, its error, so warnings are
    held until we know the build ran.
    """
    import re
    import warnings

    held: list[str] = []

    def show(message, category, filename, lineno, file=None, line=None):
        text = re.sub(r"[=-]{5,}", " ", str(message))
        held.append(f"nbprod: warning: {' '.join(text.split())} ({category.__name__})")

    warnings.showwarning = show
    return held


@cli.group()
def runs() -> None:
    """List and inspect recorded runs."""


RUN_STATUSES = ("succeeded", "failed", "interrupted")  # records.RUN_STATUSES, not imported: --help stays instant


@runs.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (the run summaries).")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--all", "show_all", is_flag=True, help="List every run (ignores --limit).")
@click.option("--status", "statuses", multiple=True, metavar="STATUS",
              help="Only runs that succeeded, failed or were interrupted (repeatable).")
@click.option("--since", metavar="WHEN", help="Only runs started since a date (2026-11-01, 2026-11-01T14:30, UTC) or for an age (30m, 12h, 7d).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Only runs with this parameter value, parsed as YAML: seed=42, C=0.01, years=[2008] (repeatable).")
@click.option("--task", metavar="NAME", help="Only runs that executed task NAME (succeeded, failed or interrupted in that run).")
@click.option("--sort", "sort_by", default="started", show_default=True, metavar="METRIC",
              help="`started` (newest first) or a metric name: best first by its goal in nbprod.yaml "
                   "(undeclared: highest first); runs without it last.")
def runs_ls(as_json: bool, limit: int, show_all: bool, statuses: tuple[str, ...], since: str | None,
            params: tuple[str, ...], task: str | None, sort_by: str) -> None:
    """Recorded runs, newest first (filters combine: every one must match).

    The table has a column per headline metric of nbprod.yaml, as recorded by
    the newest run.
    """
    from . import views

    wanted = _run_statuses(statuses)
    since_at = views.parse_since(since) if since else None
    matches = [views.parse_param(p) for p in params]
    filtering = bool(wanted or since_at or matches or task)
    by_metric = sort_by != "started"

    store = _open_store()
    # filters and metric sorting need every summary (listed from packs: a few requests)
    rows = store.summaries(limit=None if (show_all or filtering or by_metric) else limit)
    specs = _newest_specs(store, rows) if rows and (by_metric or not as_json) else []
    rows = views.select_runs(rows, statuses=wanted, since=since_at, params=matches, task=task)
    if by_metric and rows:
        rows = views.sort_runs(rows, sort_by, _goal(specs, sort_by, rows))
    if not show_all:
        rows = rows[:limit]
    if as_json:
        click.echo(views.runs_json(rows))
        return
    from .metricspec import headline

    empty = "no runs match these filters (see `nbprod runs ls --help`)" if filtering else None
    click.echo(views.runs_table(rows, headline(specs), empty=empty))


def _run_statuses(given: tuple[str, ...]) -> list[str]:
    from .exceptions import ConfigError

    wanted = [s.strip().lower() for item in given for s in item.split(",") if s.strip()]
    for status in wanted:
        if status not in RUN_STATUSES:
            raise ConfigError(f"--status {status!r} is not a run status", hint="use succeeded, failed or interrupted")
    return wanted


def _newest_specs(store, rows):
    """The metric declarations recorded by the newest run: one record read, because
    summaries do not carry them. An unreadable record just means no headline columns."""
    from .exceptions import RunNotFoundError
    from .metricspec import from_dicts

    try:
        return from_dicts(store.read_record(rows[0]["run_id"]).metrics_spec)
    except RunNotFoundError:
        return []


def _goal(specs, metric: str, rows) -> str:
    """Which way `--sort METRIC` ranks: the declared goal, else highest first."""
    from .exceptions import ConfigError
    from .metricspec import by_name

    if not any(metric in (row.get("metrics") or {}) for row in rows):
        known = sorted({name for row in rows for name in (row.get("metrics") or {})})
        raise ConfigError(
            f"--sort {metric!r}: no listed run has that metric",
            hint=f"use `started` or one of: {', '.join(known)}" if known else "use `started`",
        )
    spec = by_name(specs).get(metric)
    return spec.goal if spec else "max"


@runs.command("show")
@click.argument("run", default="latest")
@click.option("--json", "as_json", is_flag=True, help="The whole record as JSON.")
def runs_show(run: str, as_json: bool) -> None:
    """One run: RUN is a run id, a unique prefix of one, `latest` or `latest~N`."""
    from . import views

    store = _open_store()
    record = store.read_record(store.resolve(run))
    click.echo(views.record_json(record) if as_json else views.record_text(record, store))


@runs.command("diff")
@click.argument("old", default="latest~1")
@click.argument("new", default="latest")
@click.option("--json", "as_json", is_flag=True, help="Stable JSON: the same two runs give the same bytes.")
def runs_diff(old: str, new: str, as_json: bool) -> None:
    """What changed from run OLD to run NEW: status, commit (and the files changed
    between the commits, when this folder's git repository has both), parameters,
    packages, input and product hashes, and every metric with its verdict.

    OLD and NEW are run ids, unique prefixes, `latest` or `latest~N` (the run N
    before the latest); by default `latest~1` and `latest`.
    """
    from . import diff as diffing

    store = _open_store()
    old_id, new_id = store.resolve(old), store.resolve(new)
    result = diffing.diff_records(store.read_record(old_id), store.read_record(new_id), repo=os.getcwd())
    click.echo(diffing.to_json(result) if as_json else diffing.render_text(result))


@cli.command()
def push() -> None:
    """Upload the runs kept in the local spool (NBPROD_SPOOL) to the store.

    Runs are spooled when a build finishes while the store is unreachable.
    """
    from . import spool
    from .config import Settings
    from .store import Store

    settings = Settings.from_env()
    waiting = spool.pending_for(settings, settings.store)
    others = [(url, ids) for url, _, ids in spool.spooled(settings) if url != settings.store]
    if waiting is None:
        click.echo(f"nbprod: nothing spooled for {settings.store}")
    else:
        spooled, ids = waiting
        pushed = spool.push(spooled, Store.from_settings(settings))
        click.echo(f"nbprod: pushed {len(pushed)} run(s) to {settings.store}; {len(ids) - len(pushed)} were already there")
    for url, ids in others:
        click.echo(f"nbprod: {len(ids)} run(s) spooled for another store: NBPROD_STORE={url} nbprod push", err=True)


@cli.command()
@click.argument("run", default="latest")
@click.option("--to", "dest", type=click.Path(file_okay=False), help="Folder to download into [outputs/pulled/RUN_ID].")
def pull(run: str, dest: str | None) -> None:
    """Download a run's products and executed notebooks, verified by hash.

    RUN is a run id, a unique prefix of one, `latest` or `latest~N`.
    """
    from pathlib import Path

    from . import pull as pulling

    store = _open_store()
    run_id = store.resolve(run)
    target = Path(dest) if dest else Path("outputs") / "pulled" / run_id
    done = pulling.pull(store, run_id, target, log=lambda line: click.echo(line, err=True))
    click.echo(
        f"nbprod: pulled run {run_id} into {target}: {done['files']} files, "
        f"{done['bytes'] / 1e6:.2f} MB, all verified"
    )


@cli.group()
def store() -> None:
    """Check and prune the store."""


@store.command("verify")
@click.argument("runs", nargs=-1)
@click.option("--no-hash", is_flag=True, help="Check presence and size only (no download).")
@click.option("--json", "as_json", is_flag=True)
def store_verify(runs: tuple[str, ...], no_hash: bool, as_json: bool) -> None:
    """Check that every object the runs reference exists with its recorded hash.

    RUNS are run ids, prefixes, `latest` or `latest~N`; none means every run. Exits 1 when
    anything is missing or corrupt.
    """
    import json

    from . import maintenance
    from .exceptions import IntegrityError

    store_ = _open_store()
    ids = [store_.resolve(r) for r in runs] if runs else None
    result = maintenance.verify(store_, ids, hashes=not no_hash, log=lambda line: click.echo(line, err=True))
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
    else:
        for p in result["problems"]:
            where = f"task '{p['task']}' " if p["task"] else ""
            click.echo(f"run {p['run_id']}: {where}{p['what']}: {p['key']}: {p['problem']}")
    checked = f"{result['runs']} runs, {result['objects']} objects ({result['bytes'] / 1e6:.2f} MB)"
    if result["problems"]:
        bad = len({p["key"] for p in result["problems"]})
        raise IntegrityError(
            f"store {store_.url}: {bad} of {result['objects']} objects missing or corrupt in {checked}",
            hint="re-run the runs named above to store them again",
            url=store_.url,
        )
    click.echo(f"nbprod: store {store_.url} verified: {checked}, all present with the recorded hash")


@store.command("gc")
@click.option("--grace", default="7d", show_default=True, help="Keep unreferenced objects younger than this (30m, 12h, 7d).")
@click.option("--delete", is_flag=True, help="Delete them (default: only list them).")
def store_gc(grace: str, delete: bool) -> None:
    """List (or --delete) objects no run record references, older than --grace."""
    from . import maintenance

    seconds = maintenance.parse_duration(grace)
    store_ = _open_store()
    found = maintenance.garbage(store_, seconds)
    candidates = found["candidates"]
    size = sum(c["size"] for c in candidates)
    for c in candidates:
        click.echo(f"{c['key']}\t{c['size']}\t{c['age_s'] / 86400:.1f}d\t{c['why']}")
    if found["quarantined"]:
        click.echo(f"nbprod: {found['quarantined']} corrupt object(s) kept in quarantine/ (not collected)", err=True)
    summary = f"{len(candidates)} unreferenced object(s), {size / 1e6:.2f} MB, older than {grace}"
    if not delete:
        click.echo(f"nbprod: gc dry run: {summary} ({found['runs']} runs reference {found['referenced']}); --delete removes them")
        return
    freed = maintenance.collect(store_, candidates, log=lambda line: click.echo(line, err=True))
    click.echo(f"nbprod: gc deleted {summary}: {freed / 1e6:.2f} MB freed")


@cli.command()
@click.option("--out", type=click.Path(file_okay=False), help="Local folder to write the site into [the store's site/ prefix].")
@click.option("--force", is_flag=True, help="Render every page again, not only those of new or changed runs.")
def report(out: str | None, force: bool) -> None:
    """Build (or bring up to date) the static HTML report of the store's runs:
    an index with trend charts, a page per run and per executed notebook, and
    a compare page for each run and its predecessor."""
    from .report import build_site

    # compare pages list the files changed between commits when run in the project's clone
    stats = build_site(_open_store(), out=out, force=force, log=lambda line: click.echo(line, err=True), repo=os.getcwd())
    shown = ", ".join(
        f"{key}={value:.2f}" if isinstance(value, float) else f"{key}={value}" for key, value in (stats or {}).items()
    )
    click.echo(f"nbprod: report: {shown}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, print nbprod errors as one line."""
    from .exceptions import BuildFailedError, BuildInterruptedError, NbprodError

    try:
        cli.main(args=argv, prog_name="nbprod", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("nbprod: aborted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        if _debug_requested() and not isinstance(err, click.UsageError):
            raise  # e.g. ploomber's errors, which are click exceptions too
        err.show()
        sys.exit(err.exit_code)
    except NbprodError as err:
        if _debug_requested():
            raise
        # a failed build's sentence already says what failed; other errors get "error:"
        prefix = "" if isinstance(err, (BuildFailedError, BuildInterruptedError)) else "error: "
        from .redact import redact_text  # errors may quote URLs or commands holding secrets

        click.echo(f"nbprod: {prefix}{redact_text(str(err))}", err=True)
        sys.exit(130 if isinstance(err, BuildInterruptedError) else 1)


if __name__ == "__main__":
    main()
