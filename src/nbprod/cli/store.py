"""``nbprod store verify | gc | reindex``: trust what is in the store, prune it, rebuild its index."""

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

    RUNS are run ids, prefixes, `latest` or `latest~N`; none means every run, and then
    every record must be listed too (`store reindex` lists one that is not). Corrupt
    objects are moved to quarantine/, so the next run that has those bytes stores them
    again. A corrupt record.json is named, skipped and counted. Exits 3 when anything
    is missing, corrupt, unreadable or not listed (or the store cannot be read).
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
    """List (or --delete) objects no run record references, older than --grace.

    A corrupt record.json is named and skipped; every object its bytes still name is
    kept. Exits 3 when the store cannot be read or written.
    """
    from ..durations import parse_duration
    from ..store import maintenance
    from ..store.spool import open_store
    from . import say

    seconds = parse_duration(grace, what="grace period")
    store_ = open_store(log=say)
    found = maintenance.garbage(store_, seconds)
    for reason in found.unreadable.values():
        say(f"nbprod: warning: {reason}; every object its bytes name is kept")
    for c in found.candidates:
        click.echo(f"{c['key']}\t{c['size']}\t{c['age_s'] / 86400:.1f}d\t{c['why']}")
    if found.quarantined:
        say(f"nbprod: {found.quarantined} corrupt object(s) kept in quarantine/ (not collected)")
    uploads = sum(1 for c in found.candidates if c.get("upload_id"))  # aborted, not deleted
    summary = (f"{len(found.candidates) - uploads} unreferenced object(s)"
               + (f" and {uploads} incomplete multipart upload(s)" if uploads else "")
               + f", {found.size / 1e6:.2f} MB, older than {grace}")
    if not delete:
        click.echo(f"nbprod: gc dry run: {summary} ({found.runs} runs reference {found.referenced}); --delete removes them")
        return
    freed = maintenance.collect(store_, found.candidates, log=say)
    click.echo(f"nbprod: gc deleted {summary}: {freed / 1e6:.2f} MB freed")


@store.command("reindex")
def store_reindex() -> None:
    """Rebuild the run index (summaries/, index/) from the run records.

    Lists every run with a readable record again (one whose summary was lost, say), and
    no longer lists runs without a record. Safe while builds are recording. Exits 3 when
    the store cannot be read or written.
    """
    from ..store import maintenance
    from ..store.spool import open_store
    from . import say

    done = maintenance.reindex(open_store(log=say), log=say)
    click.echo(f"nbprod: store {done.url} reindexed: {done.runs} runs listed ({done.added} added, "
               f"{done.dropped} without a record dropped, {len(done.unreadable)} unreadable record(s))")

