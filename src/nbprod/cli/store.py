"""``nbprod store verify | gc``: trust what is in the store, and prune it."""

from __future__ import annotations

import click


@click.group()
def store() -> None:
    """Check and prune the store."""


@store.command("verify")
@click.argument("runs", nargs=-1)
@click.option("--no-hash", is_flag=True, help="Check presence and size only (no download).")
@click.option("--json", "as_json", is_flag=True)
def store_verify(runs: tuple[str, ...], no_hash: bool, as_json: bool) -> None:
    """Check that every object the runs reference exists with its recorded hash.

    RUNS are run ids, prefixes, `latest` or `latest~N`; none means every run. Exits 3 when
    anything is missing or corrupt.
    """
    import json

    from ..store import maintenance
    from ..store.spool import open_store
    from . import say

    result = maintenance.verify_runs(open_store(log=say), runs, hashes=not no_hash, log=say)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    else:
        for p in result.problems:
            where = f"task '{p['task']}' " if p["task"] else ""
            click.echo(f"run {p['run_id']}: {where}{p['what']}: {p['key']}: {p['problem']}")
    result.raise_for_problems()
    click.echo(f"nbprod: store {result.url} verified: {result.checked}, all present with the recorded hash")


@store.command("gc")
@click.option("--grace", default="7d", show_default=True, help="Keep unreferenced objects younger than this (30m, 12h, 7d).")
@click.option("--delete", is_flag=True, help="Delete them (default: only list them).")
def store_gc(grace: str, delete: bool) -> None:
    """List (or --delete) objects no run record references, older than --grace."""
    from ..durations import parse_duration
    from ..store import maintenance
    from ..store.spool import open_store
    from . import say

    seconds = parse_duration(grace, what="grace period")
    store_ = open_store(log=say)
    found = maintenance.garbage(store_, seconds)
    for c in found.candidates:
        click.echo(f"{c['key']}\t{c['size']}\t{c['age_s'] / 86400:.1f}d\t{c['why']}")
    if found.quarantined:
        say(f"nbprod: {found.quarantined} corrupt object(s) kept in quarantine/ (not collected)")
    summary = f"{len(found.candidates)} unreferenced object(s), {found.size / 1e6:.2f} MB, older than {grace}"
    if not delete:
        click.echo(f"nbprod: gc dry run: {summary} ({found.runs} runs reference {found.referenced}); --delete removes them")
        return
    freed = maintenance.collect(store_, found.candidates, log=say)
    click.echo(f"nbprod: gc deleted {summary}: {freed / 1e6:.2f} MB freed")
