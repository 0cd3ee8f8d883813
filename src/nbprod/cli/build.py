"""``nbprod build``: any ploomber project, built and recorded."""

from __future__ import annotations

import click


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.option("--tag", "tags", multiple=True, metavar="TAG",
              help="Label the run (repeatable): ci, pr-123, prod; `nbprod runs ls --tag` finds it.")
@click.option("--note", metavar="TEXT", help="A sentence kept with the run.")
@click.option("--smoke", is_flag=True,
              help="A CI smoke run: env.ci.yaml's parameters, every task forced, cell and build timeouts; "
                   "recorded as a smoke run (not listed by `runs ls` or the report unless asked).")
@click.option("--junit", metavar="PATH", help="Write JUnit XML there (one test case per task) for GitLab or Jenkins.")
@click.option("--baseline", metavar="RUN",
              help="The run the GitHub job summary compares with [the newest succeeded run that is not a smoke run].")
@click.option("--promote", is_flag=True,
              help="Once recorded, move production to the model versions this run registered whose gates "
                   "all passed (exit 4, production unchanged, when a gate says no).")
@click.argument("ploomber_args", nargs=-1, type=click.UNPROCESSED)
def build(ploomber_args: tuple[str, ...], tags: tuple[str, ...], note: str | None, smoke: bool,
          junit: str | None, baseline: str | None, promote: bool) -> None:
    """Build a ploomber pipeline and record the run.

    Takes every `ploomber build` option (--force, --partially TASK,
    --entry-point PATH, --env--NAME VALUE, ...; see `nbprod build --help`).
    Works on any ploomber project, with or without nbprod hooks.
    nbprod's own options: --tag TAG (repeatable), --note TEXT, --smoke,
    --junit PATH, --baseline RUN and --promote.
    """
    from ..engine.build import run_build
    from . import debug_requested, say

    run_build(list(ploomber_args), debug=debug_requested(), err=say, tags=tags, note=note, smoke=smoke,
              junit=junit, baseline=baseline, promote=promote)
