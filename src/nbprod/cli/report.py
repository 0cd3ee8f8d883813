"""``nbprod report``: the static HTML report of the store's runs."""

from __future__ import annotations

import os

import click


@click.command()
@click.option("--out", type=click.Path(file_okay=False), help="Local folder to write the site into [the store's site/ prefix].")
@click.option("--force", is_flag=True, help="Render every page again, not only those of new or changed runs.")
@click.option("--smoke", is_flag=True, help="Give smoke runs (`nbprod build --smoke`) pages too; left out otherwise.")
def report(out: str | None, force: bool, smoke: bool) -> None:
    """Build (or bring up to date) the static HTML report of the store's runs:
    an index with trend charts, a page per run and per executed notebook, and
    a compare page for each run and its predecessor."""
    from ..report import build_site
    from ..store.spool import open_store
    from . import say

    # compare pages list the files changed between commits when run in the project's clone
    stats = build_site(open_store(log=say), out=out, force=force, log=say, repo=os.getcwd(), smoke=smoke)
    shown = ", ".join(
        f"{key}={value:.2f}" if isinstance(value, float) else f"{key}={value}" for key, value in (stats or {}).items()
    )
    click.echo(f"nbprod: report: {shown}")
