"""``nbprod task NAME``: one task of the pipeline, recorded as its part of a run."""

from __future__ import annotations

import click


@click.command()
@click.argument("name")
def task(name: str) -> None:
    """Run one task of the pipeline as part of a run (not yet built)."""
    raise click.UsageError("nbprod task is not built yet")
