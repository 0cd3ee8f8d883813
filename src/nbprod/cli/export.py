"""``nbprod export airflow|kubernetes``: the pipeline written out for another orchestrator."""

from __future__ import annotations

import click


@click.group()
def export() -> None:
    """Write the pipeline out for Airflow or Kubernetes."""
