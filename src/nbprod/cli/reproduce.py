"""``nbprod reproduce RUN``: a recorded run built again from its record, and the verdict."""

from __future__ import annotations

import click


@click.command()
@click.argument("run", default="latest")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (stable JSON).")
@click.option("--keep", is_flag=True, help="Leave the temporary worktree (and its staging store) for inspection.")
def reproduce(run: str, as_json: bool, keep: bool) -> None:
    """Build run RUN again: its commit in a temporary git worktree, its uncommitted
    changes and input files restored, every task with its recorded parameters; the new
    run is recorded in the same store (`reproduces: RUN`) and compared with RUN.

    RUN is a run id, a unique prefix of one, `latest` or `latest~N`. Verdict:
    identical, equivalent (differences only within declared tolerances or in
    notebooks' stderr) or different; exit 0, 0 or 5. The work tree and outputs/
    are never written.
    """
    from ..errors import ReproductionDiffersError
    from ..reproduce import views
    from ..reproduce.run import reproduce_run
    from . import say

    result = reproduce_run(run, keep=keep, say=say)
    click.echo(views.to_json(result) if as_json else views.to_text(result))
    if result.verdict == "different":
        raise ReproductionDiffersError(f"run {result.new_run_id} differs from run {result.run_id}",
                                       hint="the differences are listed above", run_id=result.run_id,
                                       reproduction=result.new_run_id)
