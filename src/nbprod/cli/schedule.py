"""``nbprod schedule cron|systemd|ls|rm``: the pipeline as a scheduled job on this machine."""

from __future__ import annotations

import click


@click.group()
def schedule() -> None:
    """Schedule the pipeline on this machine (cron, systemd timers)."""
