"""``nbprod build``: any ploomber project, built and recorded."""

from __future__ import annotations

import click


@click.command(
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
    from ..engine.build import run_build
    from . import debug_requested, say

    run_build(list(ploomber_args), debug=debug_requested(), err=say)
