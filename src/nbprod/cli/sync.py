"""``nbprod push`` and ``nbprod pull``: runs between the local spool, the store and a folder."""

from __future__ import annotations

import click


@click.command()
def push() -> None:
    """Upload the runs kept in the local spool (NBPROD_SPOOL) to the store.

    Runs are spooled when a build finishes while the store is unreachable.
    """
    from ..store.spool import push_pending

    result = push_pending(log=click.echo)
    if not result.spooled:
        click.echo(f"nbprod: nothing spooled for {result.url}")
    else:
        click.echo(f"nbprod: pushed {len(result.pushed)} run(s) to {result.url}; "
                   f"{result.spooled - len(result.pushed)} were already there")
    for url, count in result.others:
        click.echo(f"nbprod: {count} run(s) spooled for another store: NBPROD_STORE={url} nbprod push", err=True)


@click.command()
@click.argument("run", default="latest")
@click.option("--to", "dest", type=click.Path(file_okay=False), help="Folder to download into [outputs/pulled/RUN_ID].")
def pull(run: str, dest: str | None) -> None:
    """Download a run's products and executed notebooks, verified by hash.

    RUN is a run id, a unique prefix of one, `latest` or `latest~N`.
    """
    from ..store.pull import pull_run
    from ..store.spool import open_store
    from . import say

    done = pull_run(open_store(log=say), run, dest, log=say)
    click.echo(f"nbprod: pulled run {done.run_id} into {done.dest}: {done.files} files, "
               f"{done.bytes / 1e6:.2f} MB, all verified")
